//! The fleet dashboards against a real Prometheus: a simulated fleet serves
//! each device's Prometheus text through the real recording path, Debian's
//! `prometheus` (installed by `tools/ci/install-prometheus.sh`) scrapes it,
//! and every PromQL expression of every panel of every committed dashboard is
//! evaluated the way Grafana would run it. Each must return data, and the
//! totals must match what the simulation generated. The same panels are then
//! rendered as the static fleet report and screenshot in headless Chromium
//! (installed by `tools/ci/install-chromium.sh`).

mod prom;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use palisade_telemetry::fleet::panels::{
    DEVICES_TOTAL, DP_REFUSAL_RATE, DP_REFUSAL_RATE_ERROR, REFUSALS_TOTAL, REQUESTS_TOTAL,
};
use palisade_telemetry::fleet::promql::referenced_series;
use palisade_telemetry::fleet::{
    FleetSim, GrafanaVars, SimConfig, dashboards, evaluate, render_html,
};
use palisade_telemetry::privacy::DpParams;
use prom::{Prometheus, on_path};
use serde_json::Value;

const DEVICES: usize = 48;
const K: usize = 3;
const SCRAPE_INTERVAL_S: u64 = 1;
/// The `dp` devices' daily budget: eight reports of the default ε = 5 each, 250 ms apart, so
/// their counters rise across several scrapes. With the default two reports, both could land
/// between two scrapes: Prometheus never saw the counters rise and the de-biased rates had no
/// data (seen once on a cold CI run).
const DP_EPSILON_PER_DAY: f64 = 40.0;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn committed_dashboards() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("dashboards/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read dashboard");
            let json = serde_json::from_str(&text).expect("dashboard JSON");
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                json,
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 4, "four dashboards");
    out
}

/// The first target's expression of the panel titled `title`.
fn panel_expr(dashboards: &[(String, Value)], title: &str) -> String {
    for (_, d) in dashboards {
        for p in d["panels"].as_array().into_iter().flatten() {
            if p["title"] == title {
                return p["targets"][0]["expr"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            }
        }
    }
    panic!("no panel titled {title}")
}

#[test]
fn every_dashboard_query_returns_data_matching_the_simulated_fleet() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut sim = FleetSim::start(SimConfig {
        requests_per_device: 24,
        dp_epsilon_per_day: DP_EPSILON_PER_DAY,
        ..SimConfig::new(DEVICES, state.path().join("ledgers"))
    })
    .expect("fleet starts");
    let prometheus = Prometheus::start(&sim.targets(), SCRAPE_INTERVAL_S);
    prometheus.wait_for_targets(DEVICES, Duration::from_secs(30));

    let start = unix_now() - 1.0;
    let truth = sim.run().expect("simulation");
    // Two more scrapes see the final values.
    std::thread::sleep(Duration::from_secs(3 * SCRAPE_INTERVAL_S));
    let end = unix_now();
    let visible = truth.visible(K);
    let all = truth.all();
    eprintln!("ground truth, k = {K}: {visible:?}; all devices: {all:?}");
    assert!(
        visible.devices < DEVICES,
        "the fleet has groups smaller than k"
    );
    assert!(
        visible.refusals < all.refusals,
        "hidden groups had refusals"
    );
    assert!(visible.dp_reports > 0 && visible.requests > 0);

    // The scraped names are the collector's translation of the registry's.
    let scraped = prometheus.api.metric_names().expect("metric names");
    let dashboards = committed_dashboards();
    let vars = GrafanaVars {
        k: K,
        range_s: (end - start).ceil() as u64,
        scrape_interval_s: SCRAPE_INTERVAL_S,
        step_s: 1,
    };
    let mut failures = Vec::new();
    let mut evaluated = 0;
    for (file, d) in &dashboards {
        for p in d["panels"].as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = vars.substitute(t["expr"].as_str().unwrap_or_default());
                for name in referenced_series(&expr) {
                    if !scraped.contains(&name) {
                        failures.push(format!("{file} / {}: {name} was never scraped", p["title"]));
                    }
                }
                let instant = t["instant"] == Value::Bool(true);
                let result = if instant {
                    prometheus.api.instant(&expr, end)
                } else {
                    prometheus.api.range(&expr, start, end, vars.step_s)
                };
                evaluated += 1;
                match result {
                    Ok(series) if series.iter().any(|s| s.has_data()) => {}
                    Ok(_) => failures.push(format!("{file} / {}: no data from {expr}", p["title"])),
                    Err(e) => failures.push(format!("{file} / {}: {e}", p["title"])),
                }
            }
        }
    }
    eprintln!("evaluated {evaluated} dashboard queries");
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let value = |title: &str, k: usize| {
        let expr = GrafanaVars { k, ..vars }.substitute(&panel_expr(&dashboards, title));
        let series = prometheus
            .api
            .instant(&expr, end)
            .unwrap_or_else(|e| panic!("{title}: {e}"));
        assert_eq!(series.len(), 1, "{title}: one value");
        series[0].points[0].1
    };
    assert_eq!(value(DEVICES_TOTAL, K), visible.devices as f64);
    assert_eq!(value(REQUESTS_TOTAL, K), visible.requests as f64);
    assert_eq!(value(REFUSALS_TOTAL, K), visible.refusals as f64);
    assert_eq!(
        value(REFUSALS_TOTAL, 1),
        all.refusals as f64,
        "k = 1 shows every group"
    );

    let p = DpParams::new(
        SimConfig::new(1, state.path().into()).dp_epsilon_per_report,
        256,
    )
    .bits
    .truth_probability();
    let n = visible.dp_reports as f64;
    let stated = value(DP_REFUSAL_RATE_ERROR, K);
    let expected_error = (n * p * (1.0 - p)).sqrt() / (2.0 * p - 1.0) / n;
    assert!(
        (stated - expected_error).abs() < 1e-9 * expected_error,
        "{stated} vs {expected_error}"
    );
    let estimate = value(DP_REFUSAL_RATE, K);
    let true_rate = visible.dp_true_refusal_rate();
    eprintln!(
        "dp refusal rate: truth {true_rate:.4}, estimate {estimate:.4}, stated error {stated:.4} ({} reports)",
        visible.dp_reports
    );
    // Four standard errors: a correct estimator fails this about once in 16,000 runs.
    assert!(
        (estimate - true_rate).abs() <= 4.0 * stated,
        "de-biased rate {estimate:.4} is more than 4 standard errors ({stated:.4}) from the truth {true_rate:.4}"
    );

    report_and_screenshot(&prometheus, &vars, start, end);
}

/// The static fleet report of the same panels: every panel has data, and
/// headless Chromium renders it to a PNG kept under the test's target dir.
fn report_and_screenshot(prometheus: &Prometheus, vars: &GrafanaVars, start: f64, end: f64) {
    let results = evaluate(&prometheus.api, &dashboards(), vars, start, end);
    for d in &results {
        for p in &d.panels {
            assert!(
                p.errors.is_empty(),
                "{} / {}: {:?}",
                d.title,
                p.title,
                p.errors
            );
            assert!(
                p.has_data(),
                "{} / {}: no data in the report",
                d.title,
                p.title
            );
        }
    }
    let html = render_html(&results, vars, &prometheus.url);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fleet-report");
    std::fs::create_dir_all(&dir).expect("report dir");
    let html_path = dir.join("report.html");
    let png_path = dir.join("report.png");
    std::fs::write(&html_path, html).expect("write report");
    let _ = std::fs::remove_file(&png_path);
    let profile = tempfile::tempdir().expect("chromium profile");
    let out = std::process::Command::new(on_path("chromium", "tools/ci/install-chromium.sh"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg("--window-size=1220,6400")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("file://{}", html_path.display()))
        .output()
        .expect("run chromium");
    let png = std::fs::read(&png_path).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}); chromium said: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 50_000,
        "a {} byte screenshot is too small to show the charts",
        png.len()
    );
    eprintln!(
        "fleet report: {} (screenshot {}, {} bytes)",
        html_path.display(),
        png_path.display(),
        png.len()
    );
}
