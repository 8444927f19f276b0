use super::otlp::{parse_headers, percent_decode, with_signal_path};
use super::wire::{DpWire, OtlpWire, SpoolWire};
use super::*;

fn wire_yaml_like() -> TelemetryWire {
    TelemetryWire::default()
}

#[test]
fn defaults_are_aggregate_without_export() {
    let cfg =
        TelemetryConfig::from_wire_with_env(&wire_yaml_like(), &MapEnv::new()).expect("valid");
    assert_eq!(cfg, TelemetryConfig::default());
    assert_eq!(cfg.privacy, PrivacyMode::Aggregate);
    assert!(cfg.metrics.is_none() && cfg.traces.is_none());
}

#[test]
fn env_endpoint_turns_export_on_with_spec_defaults() {
    let env = MapEnv::new().with("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/");
    let cfg = TelemetryConfig::from_wire_with_env(&TelemetryWire::default(), &env).expect("valid");
    let m = cfg.metrics.expect("metrics on");
    assert_eq!(m.protocol, Protocol::HttpProtobuf);
    assert_eq!(m.endpoint, "http://collector:4318/v1/metrics");
    assert_eq!(m.interval, std::time::Duration::from_secs(60));
    assert_eq!(m.temporality, Temporality::Cumulative);
    let t = cfg.traces.expect("traces on");
    assert_eq!(t.endpoint, "http://collector:4318/v1/traces");
}

#[test]
fn env_fills_what_config_leaves_unset_and_config_wins() {
    let env = MapEnv::new()
        .with("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")
        .with("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://env:4317")
        .with(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20abc,x-team=ml",
        )
        .with("OTEL_METRIC_EXPORT_INTERVAL", "5000")
        .with("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta");
    let wire = TelemetryWire {
        otlp: Some(OtlpWire {
            endpoint: Some("http://config:4317".into()),
            headers: Some(
                [
                    ("X-Team".to_owned(), "cfg".to_owned()),
                    ("x-keep".to_owned(), "1".to_owned()),
                ]
                .into(),
            ),
            ..OtlpWire::default()
        }),
        ..TelemetryWire::default()
    };
    let m = TelemetryConfig::from_wire_with_env(&wire, &env)
        .expect("valid")
        .metrics
        .expect("on");
    assert_eq!(m.protocol, Protocol::Grpc);
    assert_eq!(m.endpoint, "http://config:4317");
    assert_eq!(m.interval, std::time::Duration::from_millis(5000));
    assert_eq!(m.temporality, Temporality::Delta);
    let mut headers = m.headers.clone();
    headers.sort();
    assert_eq!(
        headers,
        vec![
            ("authorization".to_owned(), "Bearer abc".to_owned()),
            ("x-keep".to_owned(), "1".to_owned()),
            ("x-team".to_owned(), "ml".to_owned()),
        ]
    );
}

#[test]
fn export_can_be_switched_off() {
    let env = MapEnv::new().with("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
    let off = TelemetryWire {
        otlp: Some(OtlpWire {
            enabled: Some(false),
            ..OtlpWire::default()
        }),
        ..TelemetryWire::default()
    };
    assert!(
        TelemetryConfig::from_wire_with_env(&off, &env)
            .expect("valid")
            .metrics
            .is_none()
    );
    let none = env.clone().with("OTEL_METRICS_EXPORTER", "none");
    assert!(
        TelemetryConfig::from_wire_with_env(&TelemetryWire::default(), &none)
            .expect("valid")
            .metrics
            .is_none()
    );
    let disabled = env.with("OTEL_SDK_DISABLED", "true");
    assert!(
        TelemetryConfig::from_wire_with_env(&TelemetryWire::default(), &disabled)
            .expect("valid")
            .metrics
            .is_none()
    );
}

#[test]
fn dp_needs_a_ledger_and_a_sane_budget() {
    let mut wire = TelemetryWire {
        privacy: Some("dp".into()),
        ..TelemetryWire::default()
    };
    let err = TelemetryConfig::from_wire_with_env(&wire, &MapEnv::new()).expect_err("no ledger");
    assert!(err.to_string().contains("dp.ledger_path"), "{err}");
    wire.dp = Some(DpWire {
        ledger_path: Some("/tmp/l.json".into()),
        ..DpWire::default()
    });
    let dp = TelemetryConfig::from_wire_with_env(&wire, &MapEnv::new())
        .expect("valid")
        .dp
        .expect("dp");
    assert_eq!(
        (
            dp.epsilon_per_day,
            dp.epsilon_per_report,
            dp.output_token_clip
        ),
        (1.0, 0.25, 256)
    );
    for (day, report) in [
        (0.0, None),
        (11.0, None),
        (f64::NAN, None),
        (1.0, Some(2.0)),
        (1.0, Some(0.0)),
    ] {
        wire.dp = Some(DpWire {
            epsilon_per_day: Some(day),
            epsilon_per_report: report,
            ledger_path: Some("/tmp/l.json".into()),
            ..DpWire::default()
        });
        assert!(
            TelemetryConfig::from_wire_with_env(&wire, &MapEnv::new()).is_err(),
            "{day} {report:?}"
        );
    }
    let stray = TelemetryWire {
        dp: Some(DpWire::default()),
        ..TelemetryWire::default()
    };
    assert!(TelemetryConfig::from_wire_with_env(&stray, &MapEnv::new()).is_err());
}

#[test]
fn rejects_bad_values_with_the_field_name() {
    let cases: Vec<(TelemetryWire, &str)> = vec![
        (
            TelemetryWire {
                privacy: Some("none".into()),
                ..Default::default()
            },
            "telemetry.privacy",
        ),
        (
            TelemetryWire {
                queue_capacity: Some(0),
                ..Default::default()
            },
            "queue_capacity",
        ),
        (
            TelemetryWire {
                otlp: Some(OtlpWire {
                    protocol: Some("http/json".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "otlp.protocol",
        ),
        (
            TelemetryWire {
                otlp: Some(OtlpWire {
                    endpoint: Some("collector:4317".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "otlp.endpoint",
        ),
        (
            TelemetryWire {
                otlp: Some(OtlpWire {
                    max_retries: Some(50),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "otlp.max_retries",
        ),
        (
            TelemetryWire {
                otlp: Some(OtlpWire {
                    spool: Some(SpoolWire {
                        dir: "/tmp/s".into(),
                        max_bytes: Some(10),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "otlp.spool.max_bytes",
        ),
        (
            TelemetryWire {
                attributes: Some(wire::AttributesWire {
                    app_id: Some("my app".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "app id",
        ),
        (
            TelemetryWire {
                prometheus: Some(wire::PrometheusWire {
                    enabled: None,
                    listen: Some("localhost".into()),
                }),
                ..Default::default()
            },
            "prometheus.listen",
        ),
    ];
    for (wire, field) in cases {
        let err = TelemetryConfig::from_wire_with_env(&wire, &MapEnv::new()).expect_err(field);
        assert!(err.to_string().contains(field), "{err} should name {field}");
    }
    let env = MapEnv::new()
        .with("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")
        .with("OTEL_METRIC_EXPORT_INTERVAL", "soon");
    let err =
        TelemetryConfig::from_wire_with_env(&TelemetryWire::default(), &env).expect_err("bad env");
    assert!(
        err.to_string().starts_with("OTEL_METRIC_EXPORT_INTERVAL"),
        "{err}"
    );
}

#[test]
fn unknown_fields_are_rejected_by_serde() {
    let err = serde_json::from_str::<TelemetryWire>(r#"{"privacy":"dp","epsilon":1}"#)
        .expect_err("unknown");
    assert!(err.to_string().contains("unknown field `epsilon`"), "{err}");
    let ok: TelemetryWire = serde_json::from_str(
        r#"{"otlp":{"endpoint":"http://c:4317","protocol":"grpc","interval_ms":1000}}"#,
    )
    .expect("known fields");
    assert_eq!(ok.otlp.and_then(|o| o.interval_ms), Some(1000));
}

#[test]
fn helpers_follow_the_otlp_exporter_spec() {
    assert_eq!(percent_decode("a%20b%2Cc%zz%"), "a b,c%zz%");
    assert_eq!(
        parse_headers("A=1, b = x%3Dy ,bad,=v"),
        vec![("a".into(), "1".into()), ("b".into(), "x=y".into())]
    );
    assert_eq!(
        with_signal_path("http://h:4318", Signal::Metrics),
        "http://h:4318/v1/metrics"
    );
    assert_eq!(
        with_signal_path("http://h:4318/", Signal::Traces),
        "http://h:4318/v1/traces"
    );
    assert_eq!(
        with_signal_path("http://h/custom/path", Signal::Metrics),
        "http://h/custom/path"
    );
}
