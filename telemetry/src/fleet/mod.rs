//! The fleet side of telemetry: Grafana dashboards generated from the metric
//! registry, the PromQL they are built from, a fleet simulation that serves
//! many devices' Prometheus text through the real recording path, and a
//! static HTML report of the dashboards evaluated through Prometheus's API.

pub mod dashboard;
pub mod panels;
pub mod promql;
pub mod query;
pub mod report;

pub use dashboard::{DEFAULT_K, Dashboard, Panel, PanelKind, Target};
pub use panels::dashboards;
pub mod sim;
pub mod svg;
pub mod truth;
pub mod workload;

pub use query::{GrafanaVars, PrometheusApi, QueryError, Series};
pub use report::{DashboardResult, PanelResult, evaluate, render_html};
pub use sim::{FleetSim, SimConfig, SimError};
pub use truth::{DeviceTruth, GroundTruth, VisibleTotals};
