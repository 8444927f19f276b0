//! Export: OTLP metrics (gRPC or HTTP) with retries, health and a spool;
//! OTLP traces with attribute scrubbing.

pub(crate) mod exporter;
pub(crate) mod health;
pub(crate) mod replay;
pub(crate) mod spool;
pub(crate) mod traces;

pub use health::HealthSnapshot;
