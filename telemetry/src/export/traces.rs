//! Trace export: `opentelemetry-otlp` behind an exporter that keeps only
//! Palisade's span names and allowlisted attributes, and drops every event,
//! link and status message.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use opentelemetry::trace::Status;
use opentelemetry::{KeyValue, Value};
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as SdkSpanExporter, SpanLinks};

use super::replay::metadata;
use crate::allowlist::Allowlist;
use crate::attrs::OTHER;
use crate::config::{ExportConfig, Protocol};
use crate::record::Outcome;
use crate::trace::{SPAN_ATTRIBUTES, SPAN_NAMES};

const OUTCOMES: [Outcome; 6] = [
    Outcome::Completed,
    Outcome::Length,
    Outcome::BlockedInput,
    Outcome::BlockedOutput,
    Outcome::Cancelled,
    Outcome::Error,
];
const STAGES: [&str; 4] = ["input_guard", "prefill", "decode", "output_guard"];

/// Builds the OTLP span exporter for `cfg` (gRPC inside `runtime`).
pub(crate) fn otlp_span_exporter(
    cfg: &ExportConfig,
    runtime: Option<&tokio::runtime::Handle>,
) -> Result<SpanExporter, String> {
    let built = match cfg.protocol {
        Protocol::Grpc => {
            let rt = runtime.ok_or("gRPC export needs the telemetry runtime")?;
            let _entered = rt.enter();
            SpanExporter::builder()
                .with_tonic()
                .with_endpoint(cfg.endpoint.clone())
                .with_timeout(cfg.timeout)
                .with_metadata(metadata(&cfg.headers))
                .build()
        }
        Protocol::HttpProtobuf => SpanExporter::builder()
            .with_http()
            .with_endpoint(cfg.endpoint.clone())
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_timeout(cfg.timeout)
            .with_headers(cfg.headers.iter().cloned().collect())
            .build(),
    };
    built.map_err(|e| e.to_string())
}

/// Keeps only what [`crate::trace`] documents.
pub(crate) struct ScrubbingSpanExporter<E> {
    pub(crate) inner: E,
    pub(crate) runtime: Option<tokio::runtime::Handle>,
    pub(crate) allow: Arc<RwLock<Arc<Allowlist>>>,
}

impl<E> std::fmt::Debug for ScrubbingSpanExporter<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScrubbingSpanExporter")
    }
}

fn scrub_value(key: &str, value: &Value, allow: &Allowlist) -> Option<Value> {
    let text = match value {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    match key {
        "busy_ns" | "idle_ns" => matches!(value, Value::I64(_)).then(|| value.clone()),
        "gen_ai.operation.name" => (text? == "chat").then(|| value.clone()),
        "gen_ai.request.model" => Some(if allow.models.contains(text?) {
            value.clone()
        } else {
            Value::from(OTHER)
        }),
        "palisade.outcome" => {
            let text = text?;
            OUTCOMES
                .iter()
                .any(|o| o.as_str() == text)
                .then(|| value.clone())
        }
        "palisade.stage" => STAGES.contains(&text?).then(|| value.clone()),
        "palisade.rule_ids" => {
            let ids: Vec<&str> = text?
                .split(',')
                .map(|id| if allow.rules.contains(id) { id } else { OTHER })
                .collect();
            Some(Value::from(ids.join(",")))
        }
        _ => None,
    }
}

/// Removes everything from `span` that is not a documented name or a
/// documented attribute with an allowed value.
pub(crate) fn scrub(span: &mut SpanData, allow: &Allowlist) {
    if !SPAN_NAMES.contains(&span.name.as_ref()) {
        span.name = Cow::Borrowed("palisade.span");
    }
    let attributes = std::mem::take(&mut span.attributes);
    span.attributes = attributes
        .into_iter()
        .filter(|kv| SPAN_ATTRIBUTES.contains(&kv.key.as_str()))
        .filter_map(|kv| {
            let value = scrub_value(kv.key.as_str(), &kv.value, allow)?;
            Some(KeyValue::new(kv.key, value))
        })
        .collect();
    span.events = SpanEvents::default();
    span.links = SpanLinks::default();
    if let Status::Error { .. } = span.status {
        span.status = Status::error("");
    }
}

impl<E: SdkSpanExporter> SdkSpanExporter for ScrubbingSpanExporter<E> {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        {
            let allow = match self.allow.read() {
                Ok(a) => Arc::clone(&a),
                Err(poisoned) => Arc::clone(&poisoned.into_inner()),
            };
            for span in &mut batch {
                scrub(span, &allow);
            }
        }
        match &self.runtime {
            Some(rt) => rt.block_on(self.inner.export(batch)),
            None => self.inner.export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
