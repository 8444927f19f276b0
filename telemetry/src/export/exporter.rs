//! The metric exporter the SDK's periodic reader calls: OTLP through
//! `opentelemetry-otlp`, with bounded retries, health counters and the
//! spool. It runs on the reader's thread, never on an inference thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry_otlp::{MetricExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality as SdkTemporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use prost::Message;

use super::health::Health;
use super::replay::{Replayer, metadata};
use super::spool::Spool;
use crate::config::{ExportConfig, Protocol, Temporality};

/// Spooled batches replayed after each successful live export, at most.
const REPLAY_PER_EXPORT: usize = 16;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The SDK temporality for ours.
pub(crate) fn sdk_temporality(t: Temporality) -> SdkTemporality {
    match t {
        Temporality::Cumulative => SdkTemporality::Cumulative,
        Temporality::Delta => SdkTemporality::Delta,
    }
}

/// Builds the `opentelemetry-otlp` metric exporter for `cfg`, with its own
/// retries off (ours are counted). gRPC is built inside `runtime`.
pub(crate) fn otlp_metric_exporter(
    cfg: &ExportConfig,
    runtime: Option<&tokio::runtime::Handle>,
) -> Result<MetricExporter, String> {
    let temporality = sdk_temporality(cfg.temporality);
    let built = match cfg.protocol {
        Protocol::Grpc => {
            let rt = runtime.ok_or("gRPC export needs the telemetry runtime")?;
            let _entered = rt.enter();
            MetricExporter::builder()
                .with_tonic()
                .with_endpoint(cfg.endpoint.clone())
                .with_timeout(cfg.timeout)
                .with_metadata(metadata(&cfg.headers))
                .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
                .with_temporality(temporality)
                .build()
        }
        Protocol::HttpProtobuf => MetricExporter::builder()
            .with_http()
            .with_endpoint(cfg.endpoint.clone())
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_timeout(cfg.timeout)
            .with_headers(cfg.headers.iter().cloned().collect())
            .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
            .with_temporality(temporality)
            .build(),
    };
    built.map_err(|e| e.to_string())
}

/// Bounded retries, then the spool (or a counted drop).
pub(crate) struct ResilientExporter {
    inner: MetricExporter,
    runtime: Option<tokio::runtime::Handle>,
    max_retries: u32,
    backoff: Duration,
    temporality: SdkTemporality,
    spool: Option<Arc<Spool>>,
    replay: Option<Replayer>,
    health: Arc<Health>,
    shutting_down: Arc<AtomicBool>,
}

impl std::fmt::Debug for ResilientExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResilientExporter")
            .field("max_retries", &self.max_retries)
            .field("spool", &self.spool.is_some())
            .finish()
    }
}

impl ResilientExporter {
    /// Wraps `inner` with the retry, spool and replay settings of `cfg`.
    pub(crate) fn new(
        inner: MetricExporter,
        cfg: &ExportConfig,
        runtime: Option<tokio::runtime::Handle>,
        spool: Option<Arc<Spool>>,
        health: Arc<Health>,
        shutting_down: Arc<AtomicBool>,
    ) -> Result<Self, String> {
        let replay = match &spool {
            Some(_) => Some(Replayer::new(cfg, runtime.as_ref())?),
            None => None,
        };
        Ok(Self {
            inner,
            runtime,
            max_retries: cfg.max_retries,
            backoff: cfg.retry_backoff,
            temporality: sdk_temporality(cfg.temporality),
            spool,
            replay,
            health,
            shutting_down,
        })
    }

    async fn attempt(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        match &self.runtime {
            // The tonic channel lives on the telemetry runtime.
            Some(rt) => rt.block_on(self.inner.export(metrics)),
            None => self.inner.export(metrics).await,
        }
    }

    fn replay_spool(&self) {
        let (Some(spool), Some(replay)) = (&self.spool, &self.replay) else {
            return;
        };
        for _ in 0..REPLAY_PER_EXPORT {
            let Some(batch) = spool.oldest() else { return };
            if replay.is_corrupt(&batch.bytes) {
                spool.remove(&batch);
                Health::add(&self.health.batches_dropped, 1);
                continue;
            }
            match replay.send(&batch.bytes) {
                Ok(()) => {
                    spool.remove(&batch);
                    Health::add(&self.health.batches_exported, 1);
                }
                Err(_) => {
                    Health::add(&self.health.export_failures, 1);
                    return;
                }
            }
        }
    }

    fn give_up(&self, metrics: &ResourceMetrics) {
        match &self.spool {
            Some(spool) => {
                let bytes = ExportMetricsServiceRequest::from(metrics).encode_to_vec();
                spool.push(&bytes);
            }
            None => Health::add(&self.health.batches_dropped, 1),
        }
    }
}

impl PushMetricExporter for ResilientExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let mut delay = self.backoff;
        let mut last = OTelSdkError::InternalFailure("no attempt".to_owned());
        for attempt in 0..=self.max_retries {
            if attempt > 0 {
                if self.shutting_down.load(Ordering::Relaxed) {
                    break;
                }
                Health::add(&self.health.retries, 1);
                std::thread::sleep(delay);
                delay = (delay * 2).min(MAX_BACKOFF);
            }
            match self.attempt(metrics).await {
                Ok(()) => {
                    Health::add(&self.health.batches_exported, 1);
                    self.replay_spool();
                    return Ok(());
                }
                Err(e) => {
                    Health::add(&self.health.export_failures, 1);
                    last = e;
                }
            }
        }
        self.give_up(metrics);
        Err(last)
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> SdkTemporality {
        self.temporality
    }
}
