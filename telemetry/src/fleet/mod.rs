//! The fleet side of telemetry: Grafana dashboards generated from the metric
//! registry, the PromQL they are built from, and a fleet simulation that
//! serves many devices' Prometheus text through the real recording path.

pub mod dashboard;
pub mod panels;
pub mod promql;

pub use dashboard::{DEFAULT_K, Dashboard, Panel, PanelKind, Target};
pub use panels::dashboards;
pub mod sim;
pub mod truth;
pub mod workload;

pub use sim::{FleetSim, SimConfig, SimError};
pub use truth::{DeviceTruth, GroundTruth, VisibleTotals};
