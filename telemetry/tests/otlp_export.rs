//! Metrics reach a real OTLP receiver over gRPC and HTTP with the registry's
//! names, units, buckets and allowlisted attributes.

mod common;

use std::time::Duration;

use common::*;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, Metric, metric};
use palisade_telemetry::attrs::AttrKey;
use palisade_telemetry::config::{PrometheusConfig, Protocol, StaticAttributes, Temporality};
use palisade_telemetry::registry::{self, MetricId, MetricKind, spec};
use palisade_telemetry::{OtelSink, PrivacyMode, TelemetryConfig, TelemetrySink};

fn config(protocol: Protocol, endpoint: String) -> TelemetryConfig {
    TelemetryConfig {
        metrics: Some(export_config(protocol, endpoint)),
        prometheus: PrometheusConfig {
            enabled: false,
            listen: None,
        },
        attributes: StaticAttributes {
            provider_name: "palisade".into(),
            app_id: Some("notes".into()),
            device_class: Some("laptop".into()),
        },
        ..TelemetryConfig::default()
    }
}

fn start(cfg: TelemetryConfig) -> std::sync::Arc<OtelSink> {
    let sink = OtelSink::start(cfg).expect("sink starts");
    sink.register_policy(&policy()).expect("policy");
    sink.register_model(MODEL).expect("model");
    sink
}

/// Every received metric is in the registry, with its unit, its buckets and
/// only its allowlisted attribute keys.
fn assert_conforms(metrics: &[Metric]) {
    let allowlist: Vec<&str> = AttrKey::ALL.iter().map(|k| k.name()).collect();
    for m in metrics {
        let s = registry::by_name(&m.name)
            .unwrap_or_else(|| panic!("{} is not in the registry", m.name));
        assert_eq!(m.unit, s.unit, "{}", m.name);
        assert_eq!(m.description, s.description, "{}", m.name);
        let kind_ok = match (&m.data, s.kind) {
            (Some(metric::Data::Histogram(_)), MetricKind::Histogram) => true,
            (Some(metric::Data::Sum(sum)), MetricKind::Counter) => sum.is_monotonic,
            (Some(metric::Data::Sum(sum)), MetricKind::UpDownCounter) => !sum.is_monotonic,
            (Some(metric::Data::Gauge(_)), MetricKind::Gauge) => true,
            // Observable counters are sums too.
            _ => false,
        };
        assert!(kind_ok, "{} has the wrong kind", m.name);
        let allowed: Vec<&str> = s.attributes.iter().map(|k| k.name()).collect();
        for (attrs, _, _, bounds) in histogram_points(m) {
            assert_eq!(bounds, s.buckets, "{} buckets", m.name);
            for k in keys(&attrs) {
                assert!(allowed.contains(&k.as_str()), "{} carries {k}", m.name);
                assert!(allowlist.contains(&k.as_str()));
            }
        }
        for (attrs, _) in number_points(m) {
            for k in keys(&attrs) {
                assert!(allowed.contains(&k.as_str()), "{} carries {k}", m.name);
            }
        }
    }
}

fn hist_total(
    m: &Metric,
    filter: impl Fn(&[opentelemetry_proto::tonic::common::v1::KeyValue]) -> bool,
) -> (u64, f64) {
    histogram_points(m)
        .into_iter()
        .filter(|(a, ..)| filter(a))
        .fold((0, 0.0), |(c, s), (_, count, sum, _)| (c + count, s + sum))
}

fn number_total(
    m: &Metric,
    filter: impl Fn(&[opentelemetry_proto::tonic::common::v1::KeyValue]) -> bool,
) -> f64 {
    number_points(m)
        .into_iter()
        .filter(|(a, _)| filter(a))
        .map(|(_, v)| v)
        .sum()
}

fn any(_: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> bool {
    true
}

fn name(id: MetricId) -> &'static str {
    spec(id).name
}

#[test]
fn grpc_export_carries_registry_names_units_buckets_and_attributes() {
    let receiver = Receiver::start();
    let sink = start(config(Protocol::Grpc, receiver.grpc_url()));
    sink.record_request(&completed());
    sink.record_request(&completed());
    sink.record_request(&blocked());
    assert!(sink.flush(Duration::from_secs(10)), "flush exported");
    assert!(receiver.wait_for(Duration::from_secs(10), |r| !r.is_empty()));
    let metrics = receiver.metrics();
    assert_conforms(&metrics);

    let op = latest(&metrics, name(MetricId::ClientOperationDuration)).expect("operation duration");
    assert_eq!(hist_total(op, any).0, 3);
    for (attrs, ..) in histogram_points(op) {
        assert_eq!(attr(&attrs, "gen_ai.operation.name"), Some("chat"));
        assert_eq!(attr(&attrs, "gen_ai.provider.name"), Some("palisade"));
        assert_eq!(attr(&attrs, "gen_ai.request.model"), Some(MODEL));
        assert_eq!(attr(&attrs, "palisade.app.id"), Some("notes"));
        assert_eq!(attr(&attrs, "palisade.device.class"), Some("laptop"));
        assert_eq!(attr(&attrs, "error.type"), None);
    }
    let (count, sum) = hist_total(op, any);
    assert!((sum - (0.85 * 2.0 + 0.0002)).abs() < 1e-9, "{count} {sum}");

    let usage = latest(&metrics, name(MetricId::ClientTokenUsage)).expect("token usage");
    let input = hist_total(usage, |a| attr(a, "gen_ai.token.type") == Some("input"));
    let output = hist_total(usage, |a| attr(a, "gen_ai.token.type") == Some("output"));
    assert_eq!(
        input,
        (2, 56.0),
        "the refused request never reached the model"
    );
    assert_eq!(output, (2, 22.0));

    let ttft = latest(&metrics, name(MetricId::ServerTimeToFirstToken)).expect("ttft");
    assert_eq!(hist_total(ttft, any), (2, 0.6));
    let tpot = latest(&metrics, name(MetricId::ServerTimePerOutputToken)).expect("tpot");
    let (n, s) = hist_total(tpot, any);
    assert_eq!(n, 2);
    assert!(
        (s - 2.0 * 0.05).abs() < 1e-9,
        "500 ms over 10 tokens after the first: {s}"
    );

    let decisions = latest(&metrics, name(MetricId::GuardDecisions)).expect("decisions");
    let redactions = number_total(decisions, |a| {
        attr(a, "palisade.rule.id") == Some("no-email")
            && attr(a, "palisade.finding.kind") == Some("pii.email")
            && attr(a, "palisade.guard.action") == Some("redact")
            && attr(a, "palisade.guard.direction") == Some("input")
    });
    assert_eq!(redactions, 4.0, "two hits in each completed request");
    let blocks = number_total(decisions, |a| {
        attr(a, "palisade.guard.action") == Some("block")
    });
    assert_eq!(blocks, 1.0);
    let refusals = latest(&metrics, name(MetricId::GuardRefusals)).expect("refusals");
    assert_eq!(
        number_total(refusals, |a| attr(a, "palisade.guard.direction")
            == Some("input")),
        1.0
    );

    let guard = latest(&metrics, name(MetricId::GuardDuration)).expect("guard duration");
    assert_eq!(
        hist_total(guard, |a| attr(a, "palisade.guard.detector")
            == Some("_all"))
        .0,
        3
    );
    assert_eq!(
        hist_total(guard, |a| attr(a, "palisade.guard.detector")
            == Some("classifier"))
        .0,
        3
    );
    let errors = latest(&metrics, name(MetricId::ClassifierErrors)).expect("classifier errors");
    assert_eq!(number_total(errors, any), 3.0);

    let holdback = latest(&metrics, name(MetricId::StreamHoldback)).expect("holdback");
    assert_eq!(hist_total(holdback, any), (2, 34.0));
    for id in [
        MetricId::SignalMeanLogprob,
        MetricId::SignalMeanEntropy,
        MetricId::SignalMaxEntropy,
        MetricId::SignalLowConfidence,
        MetricId::SignalRepetition,
        MetricId::SignalUngroundedNumbers,
        MetricId::SignalMinLogprob,
        MetricId::SignalLowConfidenceRun,
        MetricId::SignalUngroundedDates,
        MetricId::SignalUngroundedEntities,
        MetricId::SignalContextSimilarity,
        MetricId::SignalSampleConsistency,
        MetricId::HallucinationRisk,
    ] {
        let m = latest(&metrics, name(id)).unwrap_or_else(|| panic!("{}", name(id)));
        assert_eq!(hist_total(m, any).0, 2, "{}", name(id));
    }

    let info = latest(&metrics, name(MetricId::PolicyInfo)).expect("policy info");
    let points = number_points(info);
    assert_eq!(points.len(), 1);
    assert_eq!(attr(&points[0].0, "palisade.policy.name"), Some("default"));
    assert_eq!(
        attr(&points[0].0, "palisade.policy.hash"),
        Some(POLICY_HASH)
    );
    let devices =
        latest(&metrics, name(MetricId::DeviceCount)).expect("device count in aggregate mode");
    let points = number_points(devices);
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].1, 1.0);
    assert_eq!(
        keys(&points[0].0),
        [
            "gen_ai.request.model",
            "palisade.app.id",
            "palisade.device.class",
            "palisade.policy.hash"
        ]
    );
    for id in [
        MetricId::ExporterQueued,
        MetricId::ExporterBatchesDropped,
        MetricId::ExporterRetries,
    ] {
        assert!(latest(&metrics, name(id)).is_some(), "{}", name(id));
    }
    assert!(
        metrics.iter().all(|m| !m.name.starts_with("palisade.dp.")),
        "no dp metrics in aggregate mode"
    );
    assert!(
        receiver
            .state
            .headers
            .lock()
            .expect("lock")
            .iter()
            .any(|(k, v)| k == "x-tenant" && v == "acme"),
        "configured headers are sent"
    );
    assert_eq!(sink.health().records_dropped, 0);
}

#[test]
fn http_export_with_delta_temporality() {
    let receiver = Receiver::start();
    let mut cfg = config(
        Protocol::HttpProtobuf,
        format!("{}/v1/metrics", receiver.http_url()),
    );
    cfg.privacy = PrivacyMode::Off;
    if let Some(m) = cfg.metrics.as_mut() {
        m.temporality = Temporality::Delta;
    }
    let sink = start(cfg);
    sink.record_request(&completed());
    assert!(sink.flush(Duration::from_secs(10)));
    sink.record_request(&completed());
    sink.record_request(&completed());
    assert!(sink.flush(Duration::from_secs(10)));
    assert!(receiver.wait_for(Duration::from_secs(10), |r| r.len() >= 2));

    let requests = receiver.state.metrics.lock().expect("lock").clone();
    let per_export: Vec<u64> = requests
        .iter()
        .filter_map(|r| {
            latest(
                &all_metrics(std::slice::from_ref(r)),
                name(MetricId::ClientOperationDuration),
            )
            .cloned()
        })
        .map(|m| {
            if let Some(metric::Data::Histogram(h)) = &m.data {
                assert_eq!(
                    h.aggregation_temporality,
                    AggregationTemporality::Delta as i32
                );
            }
            hist_total(&m, any).0
        })
        .collect();
    assert_eq!(
        per_export,
        vec![1, 2],
        "delta: each export holds only its own requests"
    );
    let metrics = receiver.metrics();
    assert_conforms(&metrics);
    assert!(
        latest(&metrics, name(MetricId::DeviceCount)).is_none(),
        "no device count when privacy is off"
    );
    assert!(
        receiver
            .state
            .headers
            .lock()
            .expect("lock")
            .iter()
            .any(|(k, v)| k == "x-tenant" && v == "acme")
    );
}

#[test]
fn unregistered_identifiers_and_overflowing_series_are_bounded() {
    let receiver = Receiver::start();
    let sink = start(config(Protocol::Grpc, receiver.grpc_url()));
    let mut odd = completed();
    odd.model = "some-other-model".into();
    odd.rule_hits[0].rule_id = "not-in-policy".into();
    sink.record_request(&odd);
    assert!(sink.flush(Duration::from_secs(10)));
    let metrics = receiver.metrics();
    let op = latest(&metrics, name(MetricId::ClientOperationDuration)).expect("op");
    assert!(
        histogram_points(op)
            .iter()
            .all(|(a, ..)| attr(a, "gen_ai.request.model") == Some("_other"))
    );
    let decisions = latest(&metrics, name(MetricId::GuardDecisions)).expect("decisions");
    assert_eq!(
        number_total(decisions, |a| attr(a, "palisade.rule.id") == Some("_other")),
        1.0
    );
    assert_eq!(
        number_total(decisions, |a| attr(a, "palisade.rule.id")
            == Some("no-email")),
        1.0
    );

    // 15 more models x 8 policies = 120 attribute sets for a 64-series instrument.
    for m in 0..15 {
        sink.register_model(&format!("model-{m}")).expect("model");
    }
    for p in 0..8 {
        let mut info = policy();
        info.hash = format!("hash{p}");
        sink.register_policy(&info).expect("policy");
    }
    for m in 0..15 {
        for p in 0..8 {
            let mut r = completed();
            r.model = format!("model-{m}");
            r.policy_hash = format!("hash{p}");
            sink.record_request(&r);
        }
    }
    assert!(sink.flush(Duration::from_secs(10)));
    let metrics = receiver.metrics();
    let op = latest(&metrics, name(MetricId::ClientOperationDuration)).expect("op");
    let points = histogram_points(op);
    let limit = spec(MetricId::ClientOperationDuration).cardinality_limit;
    assert_eq!(
        points.len(),
        limit + 1,
        "the limit, plus one overflow series"
    );
    let overflow: u64 = points
        .iter()
        .filter(|(a, ..)| a.iter().any(|kv| kv.key == "otel.metric.overflow"))
        .map(|(_, c, ..)| c)
        .sum();
    assert!(
        overflow > 0,
        "extra attribute sets land in the overflow series"
    );
    assert_eq!(
        points.iter().map(|(_, c, ..)| c).sum::<u64>(),
        121,
        "nothing is lost"
    );
}
