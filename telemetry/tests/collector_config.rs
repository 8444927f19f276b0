//! The OpenTelemetry Collector configurations in `collector-config/`: every
//! component a pipeline names is defined (and every defined one is used), and
//! the agent's redaction allowlists are exactly Palisade's attribute keys, so
//! the configs cannot drift from the telemetry registry.

use std::collections::BTreeSet;
use std::path::Path;

use palisade_telemetry::attrs::AttrKey;
use palisade_telemetry::trace::SPAN_ATTRIBUTES;
use serde_json::Value;

const KINDS: [&str; 3] = ["receivers", "processors", "exporters"];

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../collector-config")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or("<not a string>").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Structural problems of a collector configuration, one line each.
fn problems(cfg: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let pipelines = cfg["service"]["pipelines"].as_object();
    let Some(pipelines) = pipelines.filter(|p| !p.is_empty()) else {
        return vec!["service.pipelines is missing or empty".to_owned()];
    };
    for kind in KINDS {
        let defined = names(&cfg[kind]);
        let mut used = BTreeSet::new();
        for (pipeline, p) in pipelines {
            let named = list(&p[kind]);
            if named.is_empty() && kind != "processors" {
                out.push(format!("pipeline {pipeline} has no {kind}"));
            }
            for name in named {
                if !defined.contains(&name) {
                    out.push(format!(
                        "pipeline {pipeline} uses {kind} `{name}`, which is not defined"
                    ));
                }
                used.insert(name);
            }
        }
        for name in defined.difference(&used) {
            out.push(format!(
                "{kind} `{name}` is defined but no pipeline uses it"
            ));
        }
    }
    for (pipeline, p) in pipelines {
        let processors = list(&p["processors"]);
        if processors.first().map(String::as_str) != Some("memory_limiter") {
            out.push(format!(
                "pipeline {pipeline}: memory_limiter must come first"
            ));
        }
        if processors.last().map(String::as_str) != Some("batch") {
            out.push(format!("pipeline {pipeline}: batch must come last"));
        }
    }
    let extensions = names(&cfg["extensions"]);
    for name in list(&cfg["service"]["extensions"]) {
        if !extensions.contains(&name) {
            out.push(format!(
                "service uses extension `{name}`, which is not defined"
            ));
        }
    }
    out
}

fn assert_sound(file: &str, cfg: &Value) {
    let found = problems(cfg);
    assert!(
        found.is_empty(),
        "collector-config/{file}:\n{}",
        found.join("\n")
    );
}

/// The allowed keys of the redaction processor `name`, checked fail closed.
fn allowlist(cfg: &Value, name: &str) -> BTreeSet<String> {
    let p = &cfg["processors"][name];
    assert_eq!(
        p["allow_all_keys"],
        Value::Bool(false),
        "{name} must fail closed"
    );
    let keys = list(&p["allowed_keys"]);
    let set: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(set.len(), keys.len(), "{name} lists a key twice");
    set
}

#[test]
fn the_agent_redacts_to_exactly_palisades_attribute_keys() {
    let agent = load("agent.yaml");
    assert_sound("agent.yaml", &agent);
    let metric_keys: BTreeSet<String> = AttrKey::ALL.iter().map(|k| k.name().to_owned()).collect();
    assert_eq!(allowlist(&agent, "redaction/metrics"), metric_keys);
    let span_keys: BTreeSet<String> = SPAN_ATTRIBUTES.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(allowlist(&agent, "redaction/traces"), span_keys);
    for (signal, redaction) in [
        ("metrics", "redaction/metrics"),
        ("traces", "redaction/traces"),
    ] {
        let p = &agent["service"]["pipelines"][signal];
        assert!(
            list(&p["processors"]).iter().any(|n| n == redaction),
            "the agent's {signal} pipeline must run {redaction}"
        );
        assert_eq!(list(&p["exporters"]), ["otlp/gateway"]);
    }
}

#[test]
fn the_gateway_accumulates_deltas_and_exports_with_suffixes() {
    let gateway = load("gateway.yaml");
    assert_sound("gateway.yaml", &gateway);
    let metrics = &gateway["service"]["pipelines"]["metrics"];
    assert!(list(&metrics["processors"]).contains(&"deltatocumulative".to_owned()));
    let exporters = list(&metrics["exporters"]);
    for name in ["prometheus", "prometheusremotewrite"] {
        assert!(exporters.contains(&name.to_owned()), "{name}");
        // The dashboards use the suffixed names (`_seconds`, `_total`).
        assert_eq!(
            gateway["exporters"][name]["add_metric_suffixes"],
            Value::Bool(true),
            "{name}"
        );
    }
}

#[test]
fn the_check_finds_undefined_and_unused_components() {
    let mut agent = load("agent.yaml");
    agent["service"]["pipelines"]["metrics"]["exporters"] =
        serde_json::json!(["otlp/nowhere", "otlp/gateway"]);
    agent["processors"]["attributes/unused"] = serde_json::json!({});
    let found = problems(&agent);
    assert!(
        found
            .iter()
            .any(|p| p.contains("`otlp/nowhere`, which is not defined")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("`attributes/unused` is defined but no pipeline")),
        "{found:?}"
    );
}
