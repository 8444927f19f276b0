//! [`OtelSink`]: the registry's instruments, fed through a bounded queue and
//! exported over OTLP, as Prometheus text, or both.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{
    Instrument, ManualReader, PeriodicReader, SdkMeterProvider, Stream,
    Temporality as SdkTemporality,
};
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::allowlist::{Allowlist, PolicyInfo, RegisterError};
use crate::config::{PrivacyMode, TelemetryConfig};
use crate::export::HealthSnapshot;
use crate::export::exporter::{ResilientExporter, otlp_metric_exporter};
use crate::export::health::Health;
use crate::export::spool::Spool;
use crate::export::traces::{ScrubbingSpanExporter, otlp_span_exporter};
use crate::instruments::{Instruments, Observed};
use crate::privacy::{BudgetLedger, DpParams, DpReporter, LedgerError};
use crate::prometheus::{SharedReader, render};
use crate::record::RequestRecord;
use crate::recorder::Recorder;
use crate::registry;
use crate::sample::Sample;
use crate::sink::TelemetrySink;
use crate::worker::{self, Queue};

/// Why a sink could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("building the OTLP {signal} exporter: {message}")]
    Exporter {
        /// `metrics` or `traces`.
        signal: &'static str,
        /// The cause.
        message: String,
    },
    /// The spool directory could not be opened.
    #[error("opening the telemetry spool {path}: {source}")]
    Spool {
        /// The spool directory.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The privacy budget ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A thread or the export runtime could not be started.
    #[error("starting telemetry threads: {0}")]
    Thread(std::io::Error),
    /// An identifier could not be registered.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// Prometheus text was asked for but `prometheus.enabled` is false.
    #[error("the Prometheus exposition is disabled (telemetry.prometheus.enabled: false)")]
    PrometheusDisabled,
    /// Collecting metrics for the Prometheus exposition failed.
    #[error("collecting metrics: {0}")]
    Collect(String),
}

/// The production [`TelemetrySink`]: see the crate documentation.
pub struct OtelSink {
    queue: Arc<Queue>,
    allow: Arc<RwLock<Arc<Allowlist>>>,
    health: Arc<Health>,
    worker: Mutex<Option<JoinHandle<()>>>,
    meter_provider: SdkMeterProvider,
    prometheus: Option<Arc<ManualReader>>,
    tracer_provider: Option<SdkTracerProvider>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    shutting_down: Arc<AtomicBool>,
    config: TelemetryConfig,
    listen_addr: OnceLock<SocketAddr>,
}

impl std::fmt::Debug for OtelSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelSink")
            .field("privacy", &self.config.privacy)
            .field("health", &self.health.snapshot())
            .finish()
    }
}

fn resource() -> Resource {
    // Deliberately empty of detectors: no host name, no OTEL_RESOURCE_ATTRIBUTES.
    Resource::builder_empty()
        .with_service_name("palisade")
        .with_attributes([
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("telemetry.sdk.name", "opentelemetry"),
            KeyValue::new("telemetry.sdk.language", "rust"),
        ])
        .build()
}

/// The runtime, for gRPC exporters only: the blocking HTTP client must not
/// run inside it.
fn grpc_only(
    cfg: &crate::config::ExportConfig,
    rt: &Option<tokio::runtime::Handle>,
) -> Option<tokio::runtime::Handle> {
    (cfg.protocol == crate::config::Protocol::Grpc)
        .then(|| rt.clone())
        .flatten()
}

fn cardinality_view(i: &Instrument) -> Option<Stream> {
    let spec = registry::by_name(i.name())?;
    Stream::builder()
        .with_cardinality_limit(spec.cardinality_limit)
        .build()
        .ok()
}

impl OtelSink {
    /// Starts a sink: the worker thread, the OTLP exporters (if configured),
    /// the Prometheus reader (if enabled) and its listener (if configured).
    /// Register the loaded policy and model before the first request (see
    /// [`OtelSink::register_policy`], [`OtelSink::register_model`]).
    pub fn start(config: TelemetryConfig) -> Result<Arc<Self>, TelemetryError> {
        // Built on a fresh thread: the blocking HTTP client and the gRPC
        // runtime must not be created inside a caller's Tokio runtime.
        let handle = std::thread::Builder::new()
            .name("palisade-telemetry-init".to_owned())
            .spawn(move || Self::build(config))
            .map_err(TelemetryError::Thread)?;
        let sink = handle.join().map_err(|_| {
            TelemetryError::Thread(std::io::Error::other("telemetry initialisation panicked"))
        })??;
        let sink = Arc::new(sink);
        if let Some(addr) = sink.config.prometheus.listen {
            let bound = crate::listener::spawn(addr, Arc::downgrade(&sink))
                .map_err(TelemetryError::Thread)?;
            let _ = sink.listen_addr.set(bound);
        }
        Ok(sink)
    }

    fn build(config: TelemetryConfig) -> Result<Self, TelemetryError> {
        let health = Arc::new(Health::default());
        let allow = Arc::new(RwLock::new(Arc::new(Allowlist::default())));
        let shutting_down = Arc::new(AtomicBool::new(false));
        let needs_runtime = [&config.metrics, &config.traces].iter().any(|c| {
            c.as_ref()
                .is_some_and(|c| c.protocol == crate::config::Protocol::Grpc)
        });
        let runtime = if needs_runtime {
            Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("palisade-telemetry-io")
                    .enable_all()
                    .build()
                    .map_err(TelemetryError::Thread)?,
            )
        } else {
            None
        };
        let rt = runtime.as_ref().map(|r| r.handle().clone());

        let mut builder = SdkMeterProvider::builder()
            .with_resource(resource())
            .with_view(cardinality_view);
        if let Some(cfg) = &config.metrics {
            let metric_err = |message: String| TelemetryError::Exporter {
                signal: "metrics",
                message,
            };
            let inner = otlp_metric_exporter(cfg, rt.as_ref()).map_err(metric_err)?;
            let spool = match &cfg.spool {
                Some(s) => Some(Arc::new(
                    Spool::open(
                        &s.dir,
                        s.max_bytes,
                        cfg.temporality == crate::config::Temporality::Cumulative,
                        health.clone(),
                    )
                    .map_err(|source| TelemetryError::Spool {
                        path: s.dir.clone(),
                        source,
                    })?,
                )),
                None => None,
            };
            let exporter = ResilientExporter::new(
                inner,
                cfg,
                grpc_only(cfg, &rt),
                spool,
                health.clone(),
                shutting_down.clone(),
            )
            .map_err(metric_err)?;
            builder = builder.with_reader(
                PeriodicReader::builder(exporter)
                    .with_interval(cfg.interval)
                    .build(),
            );
        }
        let prometheus = config.prometheus.enabled.then(|| {
            Arc::new(
                ManualReader::builder()
                    .with_temporality(SdkTemporality::Cumulative)
                    .build(),
            )
        });
        if let Some(reader) = &prometheus {
            builder = builder.with_reader(SharedReader(reader.clone()));
        }
        let meter_provider = builder.build();
        let meter = meter_provider.meter_with_scope(
            InstrumentationScope::builder("palisade-telemetry")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );

        let reporter = match &config.dp {
            Some(dp) if config.privacy == PrivacyMode::Dp => {
                let ledger =
                    BudgetLedger::open(&dp.ledger_path, dp.epsilon_per_day, SystemTime::now())?;
                Some(DpReporter::new(
                    DpParams::new(dp.epsilon_per_report, dp.output_token_clip),
                    ledger,
                ))
            }
            _ => None,
        };
        let statics = Arc::new(config.attributes.clone());
        let groups = Arc::new(Mutex::new(Vec::new()));
        let observed = Observed {
            allow: allow.clone(),
            statics: statics.clone(),
            health: health.clone(),
            groups: groups.clone(),
        };
        let instruments = Instruments::new(&meter, config.privacy, &observed, reporter);
        let recorder = Recorder {
            instruments,
            provider: Value::from(statics.provider_name.clone()),
            device_class: statics.device_class.clone().map(Value::from),
            app_id: statics.app_id.clone().map(Value::from),
            health: health.clone(),
            groups,
            series: crate::bound::Series::default(),
        };

        let tracer_provider = match &config.traces {
            Some(cfg) => {
                let inner = otlp_span_exporter(cfg, rt.as_ref()).map_err(|message| {
                    TelemetryError::Exporter {
                        signal: "traces",
                        message,
                    }
                })?;
                let exporter = ScrubbingSpanExporter {
                    inner,
                    runtime: grpc_only(cfg, &rt),
                    allow: allow.clone(),
                };
                Some(
                    SdkTracerProvider::builder()
                        .with_resource(resource())
                        .with_batch_exporter(exporter)
                        .build(),
                )
            }
            None => None,
        };

        let queue = Arc::new(Queue::new(config.queue_capacity));
        let worker = worker::spawn(queue.clone(), allow.clone(), recorder)
            .map_err(TelemetryError::Thread)?;
        Ok(Self {
            queue,
            allow,
            health,
            worker: Mutex::new(Some(worker)),
            meter_provider,
            prometheus,
            tracer_provider,
            runtime: Mutex::new(runtime),
            shutting_down,
            config,
            listen_addr: OnceLock::new(),
        })
    }

    /// The configuration the sink runs with.
    pub fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    fn update_allowlist(
        &self,
        f: impl FnOnce(&mut Allowlist) -> Result<(), RegisterError>,
    ) -> Result<(), RegisterError> {
        let mut guard = match self.allow.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next = Allowlist::clone(&guard);
        f(&mut next)?;
        *guard = Arc::new(next);
        Ok(())
    }

    /// Registers a loaded policy: its hash, rule ids, finding kinds and
    /// detector names become attribute values; `palisade.policy.info` reports it.
    pub fn register_policy(&self, policy: &PolicyInfo) -> Result<(), TelemetryError> {
        Ok(self.update_allowlist(|a| a.add_policy(policy))?)
    }

    /// Registers a loaded model's name as a `gen_ai.request.model` value.
    pub fn register_model(&self, name: &str) -> Result<(), TelemetryError> {
        Ok(self.update_allowlist(|a| a.add_model(name))?)
    }

    /// The address the built-in `/metrics` listener is bound to, if any.
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.listen_addr.get().copied()
    }

    /// Exporter health counters.
    pub fn health(&self) -> HealthSnapshot {
        self.health.snapshot()
    }

    /// Records everything queued into the instruments, without exporting.
    /// Waits at most `timeout`; returns whether the queue was drained.
    pub fn drain(&self, timeout: Duration) -> bool {
        self.queue.flush(timeout)
    }

    /// Records everything queued, then exports once (OTLP readers). Waits at
    /// most `timeout` for the queue; the export itself is bounded by the
    /// exporter's timeout and retries.
    pub fn flush(&self, timeout: Duration) -> bool {
        let drained = self.drain(timeout);
        let exported = self.meter_provider.force_flush().is_ok();
        if let Some(tp) = &self.tracer_provider {
            let _ = tp.force_flush();
        }
        drained && exported
    }

    /// The Prometheus text exposition (format 0.0.4) of the current,
    /// cumulative values. Records what is queued first (waiting at most 1 s).
    pub fn prometheus_text(&self) -> Result<String, TelemetryError> {
        let reader = self
            .prometheus
            .as_ref()
            .ok_or(TelemetryError::PrometheusDisabled)?;
        self.queue.flush(Duration::from_secs(1));
        render(reader).map_err(TelemetryError::Collect)
    }

    /// The `tracing` layer that exports Palisade's spans (see
    /// [`crate::trace`]) over OTLP, or `None` when traces are not configured.
    /// Install it in the application's subscriber.
    pub fn tracing_layer<S>(&self) -> Option<Box<dyn tracing_subscriber::Layer<S> + Send + Sync>>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        let provider = self.tracer_provider.as_ref()?;
        Some(crate::trace_layer::layer(provider))
    }

    /// Stops the worker and exports what is left, bounded by `timeout` per
    /// stage and without retries. Later records are dropped and counted.
    pub fn shutdown(&self, timeout: Duration) {
        if self.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        self.queue.stop();
        let worker = match self.worker.lock() {
            Ok(mut w) => w.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(w) = worker {
            let _ = w.join();
        }
        let _ = self.meter_provider.shutdown_with_timeout(timeout);
        if let Some(tp) = &self.tracer_provider {
            let _ = tp.shutdown_with_timeout(timeout);
        }
        let runtime = match self.runtime.lock() {
            Ok(mut r) => r.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(rt) = runtime {
            rt.shutdown_background();
        }
    }
}

impl TelemetrySink for OtelSink {
    #[inline]
    fn record_request(&self, record: &RequestRecord) {
        let sample = {
            let allow = match self.allow.read() {
                Ok(a) => a,
                Err(poisoned) => poisoned.into_inner(),
            };
            Sample::from_record(record, &allow)
        };
        if self.shutting_down.load(Ordering::Relaxed) || !self.queue.push(sample) {
            Health::add(&self.health.records_dropped, 1);
        }
    }
}

impl Drop for OtelSink {
    fn drop(&mut self) {
        self.shutdown(Duration::from_secs(2));
    }
}
