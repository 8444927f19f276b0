//! Sends spooled, already-encoded OTLP metric requests.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use prost::Message;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::config::{ExportConfig, Protocol};

/// A client for replaying spooled batches over the configured protocol.
pub(crate) enum Replayer {
    /// OTLP/gRPC, on the telemetry runtime.
    Grpc {
        client: Box<MetricsServiceClient<Channel>>,
        runtime: tokio::runtime::Handle,
        metadata: MetadataMap,
        timeout: Duration,
    },
    /// OTLP/HTTP protobuf, blocking.
    Http {
        client: reqwest::blocking::Client,
        url: String,
        headers: Vec<(String, String)>,
    },
}

impl std::fmt::Debug for Replayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Replayer::Grpc { .. } => "Replayer::Grpc",
            Replayer::Http { .. } => "Replayer::Http",
        })
    }
}

/// The gRPC metadata for `headers` (invalid ones are skipped, as the OTLP
/// exporter does).
pub(crate) fn metadata(headers: &[(String, String)]) -> MetadataMap {
    let mut map = MetadataMap::new();
    for (k, v) in headers {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(k.as_bytes()),
            MetadataValue::try_from(v.as_str()),
        ) {
            map.insert(key, value);
        }
    }
    map
}

impl Replayer {
    /// A replayer for `cfg`; gRPC needs the telemetry runtime.
    pub(crate) fn new(
        cfg: &ExportConfig,
        runtime: Option<&tokio::runtime::Handle>,
    ) -> Result<Self, String> {
        match (cfg.protocol, runtime) {
            (Protocol::Grpc, Some(rt)) => {
                let _entered = rt.enter();
                let channel = Endpoint::from_shared(cfg.endpoint.clone())
                    .map_err(|e| format!("invalid endpoint `{}`: {e}", cfg.endpoint))?
                    .timeout(cfg.timeout)
                    .connect_timeout(cfg.timeout)
                    .connect_lazy();
                Ok(Replayer::Grpc {
                    client: Box::new(MetricsServiceClient::new(channel)),
                    runtime: rt.clone(),
                    metadata: metadata(&cfg.headers),
                    timeout: cfg.timeout,
                })
            }
            (Protocol::Grpc, None) => Err("gRPC replay needs the telemetry runtime".to_owned()),
            (Protocol::HttpProtobuf, _) => {
                let timeout = cfg.timeout;
                // reqwest's blocking client must not be built inside a Tokio runtime.
                let client = std::thread::spawn(move || {
                    reqwest::blocking::Client::builder()
                        .timeout(timeout)
                        .build()
                })
                .join()
                .map_err(|_| "building the HTTP client panicked".to_owned())?
                .map_err(|e| format!("building the HTTP client: {e}"))?;
                Ok(Replayer::Http {
                    client,
                    url: cfg.endpoint.clone(),
                    headers: cfg.headers.clone(),
                })
            }
        }
    }

    /// Sends one encoded `ExportMetricsServiceRequest`.
    pub(crate) fn send(&self, body: &[u8]) -> Result<(), String> {
        match self {
            Replayer::Grpc {
                client,
                runtime,
                metadata,
                timeout,
            } => {
                let request = ExportMetricsServiceRequest::decode(body)
                    .map_err(|e| format!("corrupt spool file: {e}"))?;
                let mut req = tonic::Request::new(request);
                *req.metadata_mut() = metadata.clone();
                let mut client = MetricsServiceClient::clone(client);
                runtime
                    .block_on(async { tokio::time::timeout(*timeout, client.export(req)).await })
                    .map_err(|_| "timed out".to_owned())?
                    .map(|_| ())
                    .map_err(|status| {
                        format!("gRPC status {:?}: {}", status.code(), status.message())
                    })
            }
            Replayer::Http {
                client,
                url,
                headers,
            } => {
                let mut req = client
                    .post(url)
                    .header("content-type", "application/x-protobuf")
                    .body(body.to_vec());
                for (k, v) in headers {
                    req = req.header(k.as_str(), v.as_str());
                }
                let resp = req.send().map_err(|e| format!("HTTP: {e}"))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("HTTP status {}", resp.status()))
                }
            }
        }
    }

    /// Whether a spool file is corrupt beyond replay (gRPC needs to decode it).
    pub(crate) fn is_corrupt(&self, body: &[u8]) -> bool {
        ExportMetricsServiceRequest::decode(body).is_err()
    }
}
