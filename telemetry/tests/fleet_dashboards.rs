//! `dashboards/*.json` are generated from the metric registry and cannot
//! drift from it. Regenerate with
//! `PALISADE_BLESS=1 cargo test -p palisade-telemetry --test fleet_dashboards`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use palisade_telemetry::fleet::panels::QUALITY_PREFIXES;
use palisade_telemetry::fleet::promql::{Part, referenced_series, series};
use palisade_telemetry::fleet::{PanelKind, dashboards};
use palisade_telemetry::registry::{MetricKind, REGISTRY};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

#[test]
fn committed_dashboards_match_the_generated_ones() {
    let bless = std::env::var_os("PALISADE_BLESS").is_some();
    let mut expected = BTreeSet::new();
    for d in dashboards() {
        let path = dir().join(d.file_name());
        expected.insert(d.file_name());
        let want = d.render();
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            if bless {
                std::fs::create_dir_all(dir()).expect("create dashboards/");
                std::fs::write(&path, want).expect("write dashboard");
                continue;
            }
            panic!(
                "{} is stale; run `PALISADE_BLESS=1 cargo test -p palisade-telemetry --test fleet_dashboards`",
                path.display()
            );
        }
    }
    let committed: BTreeSet<String> = std::fs::read_dir(dir())
        .expect("dashboards/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(
        committed, expected,
        "dashboards/ holds exactly the generated files"
    );
}

/// Every series name the registry can produce, as the collector names it.
fn known_series() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in REGISTRY {
        let parts: &[Part] = match s.kind {
            MetricKind::Histogram => &[Part::Bucket, Part::Count, Part::Sum],
            _ => &[Part::Value],
        };
        for p in parts {
            out.insert(series(s.id, *p));
        }
    }
    out
}

#[test]
fn every_query_uses_registry_names_hides_small_groups_and_every_metric_is_shown() {
    let known = known_series();
    let mut used = BTreeSet::new();
    for d in dashboards() {
        let mut titles = BTreeSet::new();
        for p in &d.panels {
            assert!(
                titles.insert(p.title.clone()),
                "{}: duplicate panel {}",
                d.uid,
                p.title
            );
            assert!(!p.targets.is_empty(), "{}: {} has no query", d.uid, p.title);
            for t in &p.targets {
                assert!(
                    t.expr.contains("$k"),
                    "{} / {}: no k filter in {}",
                    d.uid,
                    p.title,
                    t.expr
                );
                for name in referenced_series(&t.expr) {
                    assert!(
                        known.contains(&name),
                        "{} / {}: unknown metric {name}",
                        d.uid,
                        p.title
                    );
                    used.insert(name);
                }
            }
        }
    }
    for s in REGISTRY {
        let base = series(s.id, Part::Value);
        let shown = used.iter().any(|u| u.starts_with(&base));
        assert!(
            shown,
            "no dashboard panel shows {}: add one in telemetry/src/fleet/panels.rs",
            s.name
        );
    }
}

#[test]
fn every_quality_histogram_gets_a_distribution_panel() {
    let quality = dashboards()
        .into_iter()
        .find(|d| d.uid == "palisade-quality")
        .expect("quality dashboard");
    for s in REGISTRY
        .iter()
        .filter(|s| QUALITY_PREFIXES.iter().any(|p| s.name.starts_with(p)))
    {
        if s.kind == MetricKind::Histogram {
            let title = format!("{} distribution", s.name);
            let panel = quality.panels.iter().find(|p| p.title == title);
            assert_eq!(panel.map(|p| p.kind), Some(PanelKind::Heatmap), "{title}");
        }
    }
}
