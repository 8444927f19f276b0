//! Palisade's telemetry: aggregate numbers about requests, never their text.
//!
//! The pipeline hands each finished request to a [`TelemetrySink`] as a
//! [`RequestRecord`]. A record holds only counts, durations, the model name, the
//! policy hash and the rule ids of the loaded policy: there is no field that
//! could carry a prompt or a response, so no sink can leak one.
//!
//! [`OtelSink`] is the production sink. It reduces each record to a
//! fixed-size sample on the calling thread (no allocation, no system call),
//! queues it in a bounded queue (drops are counted), and a worker thread
//! records it into the instruments of the closed [`registry`]. From there
//! the metrics leave as OTLP (gRPC or HTTP, through `opentelemetry-otlp`)
//! and/or as Prometheus text, in one of three [`PrivacyMode`]s.
//!
//! ```no_run
//! use std::sync::Arc;
//! use palisade_telemetry::{OtelSink, PolicyInfo, TelemetryConfig, TelemetrySink, TelemetryWire};
//!
//! let wire: TelemetryWire = serde_json::from_str(r#"{"privacy": "aggregate"}"#)?;
//! let config = TelemetryConfig::from_wire(&wire)?; // + OTEL_* variables
//! let sink = OtelSink::start(config)?;
//! sink.register_policy(&PolicyInfo {
//!     name: "default".into(),
//!     hash: "9f2c...".into(),
//!     rule_ids: vec!["no-email".into()],
//!     finding_kinds: vec!["pii.email".into()],
//!     detectors: vec!["pii".into()],
//! })?;
//! sink.register_model("SmolLM2-135M-Instruct")?;
//! let for_pipeline: Arc<dyn TelemetrySink> = sink.clone();
//! # let _ = for_pipeline;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod allowlist;
pub mod attrs;
mod bound;
pub mod config;
mod export;
pub mod fleet;
mod instruments;
mod listener;
mod otel_sink;
pub mod privacy;
mod prometheus;
mod record;
mod recorder;
pub mod registry;
mod sample;
mod signals;
mod sink;
pub mod trace;
mod trace_layer;
mod worker;

pub use allowlist::{PolicyInfo, RegisterError};
pub use config::{ConfigError, PrivacyMode, TelemetryConfig, TelemetryWire};
pub use export::HealthSnapshot;
pub use otel_sink::{OtelSink, TelemetryError};
pub use prometheus::prometheus_name;
pub use record::{DetectorReport, Direction, Outcome, RequestRecord, RuleAction, RuleHit};
pub use signals::{LOW_CONFIDENCE_PROBABILITY, SignalAccumulator, SignalSummary};
pub use sink::{AggregateSink, AggregateSnapshot, NoopSink, TelemetrySink};
