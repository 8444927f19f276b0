//! Local differential privacy: de-biased fleet estimates land within their
//! stated error, the budget ledger stops reports and survives restarts, and a
//! `dp` sink exports only private reports and the parameters to de-bias them.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::*;
use palisade_telemetry::config::{DpConfig, PrometheusConfig, Protocol};
use palisade_telemetry::privacy::{
    BudgetLedger, DpParams, DpReporter, debias_noisy_sum, debias_randomized_response,
};
use palisade_telemetry::registry::{MetricId, spec};
use palisade_telemetry::{OtelSink, PrivacyMode, TelemetryConfig, TelemetrySink};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DEVICES: usize = 10_000;
const REQUESTS_PER_DEVICE: usize = 6;

struct Fleet {
    reports: f64,
    refused_reported: f64,
    flagged_reported: f64,
    noisy_tokens: f64,
    true_refused: f64,
    true_flagged: f64,
    true_tokens: f64,
    suppressed: usize,
}

/// Each device makes six requests in one day; the budget pays for as many as
/// `epsilon_per_day / epsilon_per_report` of them.
fn simulate(params: DpParams, per_day: f64, seed: u64) -> Fleet {
    let now = UNIX_EPOCH + Duration::from_secs(20_000 * 86_400);
    let mut world = StdRng::seed_from_u64(seed);
    let mut f = Fleet {
        reports: 0.0,
        refused_reported: 0.0,
        flagged_reported: 0.0,
        noisy_tokens: 0.0,
        true_refused: 0.0,
        true_flagged: 0.0,
        true_tokens: 0.0,
        suppressed: 0,
    };
    for device in 0..DEVICES {
        let ledger = BudgetLedger::in_memory(per_day, now);
        let mut reporter = DpReporter::with_rng(
            params,
            ledger,
            StdRng::seed_from_u64(seed ^ (device as u64 + 1)),
        );
        // Devices differ: some refuse a lot, most rarely.
        let refusal_rate = if device % 10 == 0 { 0.6 } else { 0.1 };
        for _ in 0..REQUESTS_PER_DEVICE {
            let refused = world.random_bool(refusal_rate);
            let flagged = refused || world.random_bool(0.2);
            let tokens = world.random_range(0..400u64);
            match reporter
                .report(refused, flagged, tokens, now)
                .expect("in-memory ledger")
            {
                Some(r) => {
                    f.reports += 1.0;
                    f.refused_reported += f64::from(u8::from(r.refused));
                    f.flagged_reported += f64::from(u8::from(r.flagged));
                    f.noisy_tokens += r.output_tokens as f64;
                    f.true_refused += f64::from(u8::from(refused));
                    f.true_flagged += f64::from(u8::from(flagged));
                    f.true_tokens += tokens.min(u64::from(params.tokens.clip())) as f64;
                }
                None => f.suppressed += 1,
            }
        }
    }
    f
}

fn check(label: &str, estimate: f64, std_error: f64, truth: f64) {
    let z = (estimate - truth) / std_error;
    eprintln!(
        "{label}: truth {truth}, estimate {estimate:.1}, standard error {std_error:.1}, z {z:.2}"
    );
    assert!(
        z.abs() <= 3.0,
        "{label}: estimate {estimate:.1} is {z:.2} standard errors ({std_error:.1}) from the truth {truth}"
    );
}

#[test]
fn fleet_estimates_from_10000_devices_are_within_the_stated_error() {
    for (epsilon_per_report, seed) in [(0.25, 11), (3.0, 12)] {
        let params = DpParams::new(epsilon_per_report, 256);
        let per_day = if epsilon_per_report < 1.0 { 1.0 } else { 9.0 };
        let f = simulate(params, per_day, seed);
        eprintln!(
            "epsilon per report {epsilon_per_report}: {} reports, truth probability {:.4}",
            f.reports,
            params.bits.truth_probability()
        );
        let allowed = (per_day / epsilon_per_report).round() as usize;
        assert_eq!(
            f.reports as usize,
            DEVICES * allowed.min(REQUESTS_PER_DEVICE),
            "the budget caps reports"
        );
        assert_eq!(
            f.suppressed,
            DEVICES * REQUESTS_PER_DEVICE - f.reports as usize
        );

        let p = params.bits.truth_probability();
        let refused = debias_randomized_response(f.refused_reported, f.reports, p);
        check("refused", refused.value, refused.std_error, f.true_refused);
        let flagged = debias_randomized_response(f.flagged_reported, f.reports, p);
        check("flagged", flagged.value, flagged.std_error, f.true_flagged);
        let tokens = debias_noisy_sum(f.noisy_tokens, f.reports, params.tokens.scale());
        check(
            "output tokens",
            tokens.value,
            tokens.std_error,
            f.true_tokens,
        );
        // The raw reported counts are far from the truth: de-biasing matters.
        if epsilon_per_report < 1.0 {
            assert!((f.refused_reported - f.true_refused).abs() > 3.0 * refused.std_error);
        }
    }
}

fn dp_config(dir: &std::path::Path, endpoint: String) -> TelemetryConfig {
    TelemetryConfig {
        privacy: PrivacyMode::Dp,
        dp: Some(DpConfig {
            epsilon_per_day: 1.0,
            epsilon_per_report: 0.25,
            output_token_clip: 256,
            ledger_path: dir.join("ledger.json"),
        }),
        metrics: Some(export_config(Protocol::Grpc, endpoint)),
        prometheus: PrometheusConfig {
            enabled: true,
            listen: None,
        },
        ..TelemetryConfig::default()
    }
}

#[test]
fn a_dp_sink_exports_only_private_reports_within_budget_across_restarts() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = OtelSink::start(dp_config(dir.path(), receiver.grpc_url())).expect("starts");
    sink.register_policy(&policy()).expect("policy");
    sink.register_model(MODEL).expect("model");
    for _ in 0..5 {
        sink.record_request(&completed());
        sink.record_request(&blocked());
    }
    assert!(sink.flush(Duration::from_secs(10)));
    assert_eq!(
        sink.health().dp_suppressed,
        6,
        "1.0 / 0.25 = 4 reports a day"
    );

    let metrics = receiver.metrics();
    for m in &metrics {
        let s = palisade_telemetry::registry::by_name(&m.name).expect("registered");
        assert_ne!(
            s.exposure,
            palisade_telemetry::registry::Exposure::Exact,
            "{} leaks exact data in dp mode",
            m.name
        );
    }
    let value = |id: MetricId| {
        let m = latest(&metrics, spec(id).name).unwrap_or_else(|| panic!("{}", spec(id).name));
        number_points(m).iter().map(|(_, v)| v).sum::<f64>()
    };
    assert_eq!(value(MetricId::DpReports), 4.0);
    let p = DpParams::new(0.25, 256).bits.truth_probability();
    assert!((value(MetricId::DpTruthProbability) - p).abs() < 1e-12);
    assert!((value(MetricId::DpOutputTokensNoiseScale) - 256.0 / (0.25 / 3.0)).abs() < 1e-6);
    assert_eq!(value(MetricId::DpOutputTokensClip), 256.0);
    assert!((value(MetricId::DpEpsilonSpent) - 1.0).abs() < 1e-9);
    assert_eq!(value(MetricId::DeviceCount), 1.0);
    let refused = value(MetricId::DpRefused);
    assert!((0.0..=4.0).contains(&refused));
    let text = sink.prometheus_text().expect("text");
    assert!(
        text.lines()
            .all(|l| !l.starts_with("gen_ai_") && !l.starts_with("palisade_guard_")),
        "no exact metric in the Prometheus text either"
    );
    drop(sink);

    // A restart on the same day does not refill the budget.
    let again = OtelSink::start(dp_config(dir.path(), receiver.grpc_url())).expect("starts");
    again.register_policy(&policy()).expect("policy");
    again.register_model(MODEL).expect("model");
    again.record_request(&completed());
    assert!(again.flush(Duration::from_secs(10)));
    assert_eq!(again.health().dp_suppressed, 1);
    let ledger = std::fs::read_to_string(dir.path().join("ledger.json")).expect("ledger");
    assert!(ledger.contains("\"spent\":1"), "{ledger}");
}
