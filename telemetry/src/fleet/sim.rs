//! A simulated fleet: each device is a real [`OtelSink`] (aggregate or `dp`
//! mode) with its own `/metrics` listener, fed request records through the
//! real recording path. Prometheus scrapes the devices like any target.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::truth::{DeviceTruth, GroundTruth};
use super::workload::{APP_ID, Profile, policies, request};
use crate::config::{DpConfig, PrometheusConfig, StaticAttributes};
use crate::privacy::{BudgetLedger, Spend};
use crate::{OtelSink, PrivacyMode, TelemetryConfig, TelemetryError, TelemetrySink};

/// How to run a simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Number of devices.
    pub devices: usize,
    /// Requests each device makes.
    pub requests_per_device: usize,
    /// Time between two rounds of requests (one per device).
    pub round_interval: Duration,
    /// Seed of the traffic (differential-privacy noise comes from the OS).
    pub seed: u64,
    /// An empty or absent directory for the `dp` devices' budget ledgers.
    pub state_dir: PathBuf,
    /// The address the devices' listeners bind (port chosen by the system).
    pub bind: IpAddr,
    /// The daily privacy budget of `dp` devices.
    pub dp_epsilon_per_day: f64,
    /// What one `dp` report spends.
    pub dp_epsilon_per_report: f64,
}

impl SimConfig {
    /// `devices` devices, 30 requests each, 250 ms apart, on 127.0.0.1,
    /// `dp` devices with ε = 10 a day and 5 per report (two reports each).
    pub fn new(devices: usize, state_dir: PathBuf) -> Self {
        Self {
            devices,
            requests_per_device: 30,
            round_interval: Duration::from_millis(250),
            seed: 8,
            state_dir,
            bind: IpAddr::from([127, 0, 0, 1]),
            dp_epsilon_per_day: 10.0,
            dp_epsilon_per_report: 5.0,
        }
    }
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No devices were asked for.
    #[error("a fleet needs at least one device (--devices)")]
    NoDevices,
    /// The state directory holds a previous run's ledgers.
    #[error(
        "{path} is not empty: pass a fresh state directory, a used budget ledger would suppress reports"
    )]
    StateDirNotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// The state directory could not be created or read.
    #[error("preparing {path}: {source}")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A device's sink could not start or register its policy.
    #[error("device {index}: {source}")]
    Device {
        /// The device.
        index: usize,
        /// The cause.
        source: TelemetryError,
    },
    /// A device recorded a different number of private reports than its
    /// budget allows (the UTC day changed during the run).
    #[error(
        "device {index}: {suppressed} reports suppressed, expected {expected}; the UTC day may have changed, run again"
    )]
    BudgetMismatch {
        /// The device.
        index: usize,
        /// Suppressed reports counted by the sink.
        suppressed: u64,
        /// Suppressed reports expected.
        expected: u64,
    },
}

struct Device {
    profile: Profile,
    policy_hash: String,
    sink: Arc<OtelSink>,
    truth: DeviceTruth,
    rng: StdRng,
}

/// A running fleet. Devices serve their metrics until it is dropped.
pub struct FleetSim {
    devices: Vec<Device>,
    config: SimConfig,
    dp_reports_allowed: u64,
}

/// How many reports a fresh ledger grants per day (the sink's arithmetic).
fn reports_per_day(per_day: f64, per_report: f64) -> u64 {
    let mut ledger = BudgetLedger::in_memory(per_day, SystemTime::now());
    let mut granted = 0;
    while granted < 10_000 {
        match ledger.try_spend(per_report, SystemTime::now()) {
            Ok(Spend::Granted) => granted += 1,
            _ => break,
        }
    }
    granted
}

fn prepare(dir: &PathBuf) -> Result<(), SimError> {
    let io = |source| SimError::StateDir {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    if std::fs::read_dir(dir).map_err(io)?.next().is_some() {
        return Err(SimError::StateDirNotEmpty { path: dir.clone() });
    }
    Ok(())
}

impl FleetSim {
    /// Starts every device's sink and listener; no request is recorded yet.
    pub fn start(config: SimConfig) -> Result<Self, SimError> {
        if config.devices == 0 {
            return Err(SimError::NoDevices);
        }
        prepare(&config.state_dir)?;
        let policies = policies();
        let mut devices = Vec::with_capacity(config.devices);
        for index in 0..config.devices {
            let profile = Profile::of(index);
            let policy = &policies[profile.policy];
            let device_err = |source| SimError::Device { index, source };
            let dp = profile.dp().then(|| DpConfig {
                epsilon_per_day: config.dp_epsilon_per_day,
                epsilon_per_report: config.dp_epsilon_per_report,
                output_token_clip: 256,
                ledger_path: config.state_dir.join(format!("device-{index}-ledger.json")),
            });
            let telemetry = TelemetryConfig {
                privacy: if dp.is_some() {
                    PrivacyMode::Dp
                } else {
                    PrivacyMode::Aggregate
                },
                dp,
                prometheus: PrometheusConfig {
                    enabled: true,
                    listen: Some(SocketAddr::new(config.bind, 0)),
                },
                attributes: StaticAttributes {
                    provider_name: "palisade".to_owned(),
                    app_id: Some(APP_ID.to_owned()),
                    device_class: Some(profile.device_class.to_owned()),
                },
                ..TelemetryConfig::default()
            };
            let sink = OtelSink::start(telemetry).map_err(device_err)?;
            sink.register_policy(policy).map_err(device_err)?;
            sink.register_model(profile.model).map_err(device_err)?;
            let addr = sink
                .prometheus_addr()
                .unwrap_or(SocketAddr::new(config.bind, 0));
            devices.push(Device {
                truth: DeviceTruth {
                    index,
                    device_class: profile.device_class.to_owned(),
                    model: profile.model.to_owned(),
                    policy_hash: policy.hash.clone(),
                    privacy: if profile.dp() { "dp" } else { "aggregate" }.to_owned(),
                    metrics_url: format!("http://{addr}/metrics"),
                    requests: 0,
                    refusals: 0,
                    dp_reports: 0,
                    dp_true_refusals: 0,
                },
                policy_hash: policy.hash.clone(),
                profile,
                sink,
                rng: StdRng::seed_from_u64(config.seed.wrapping_mul(1_000_003) ^ index as u64),
            });
        }
        let dp_reports_allowed =
            reports_per_day(config.dp_epsilon_per_day, config.dp_epsilon_per_report);
        Ok(Self {
            devices,
            config,
            dp_reports_allowed,
        })
    }

    /// The `host:port` of every device's listener, in fleet order.
    pub fn targets(&self) -> Vec<String> {
        self.devices
            .iter()
            .map(|d| {
                d.truth
                    .metrics_url
                    .trim_start_matches("http://")
                    .trim_end_matches("/metrics")
                    .to_owned()
            })
            .collect()
    }

    /// Records one request per device.
    fn round(&mut self) {
        for d in &mut self.devices {
            let record = request(&d.profile, &d.policy_hash, &mut d.rng);
            let refused = record.outcome.is_refusal();
            d.sink.record_request(&record);
            d.truth.requests += 1;
            d.truth.refusals += u64::from(refused);
            if d.profile.dp() && d.truth.dp_reports < self.dp_reports_allowed {
                d.truth.dp_reports += 1;
                d.truth.dp_true_refusals += u64::from(refused);
            }
        }
    }

    /// Runs every round, `round_interval` apart, then waits until every
    /// device has recorded everything and checks the `dp` budgets.
    pub fn run(&mut self) -> Result<GroundTruth, SimError> {
        for r in 0..self.config.requests_per_device {
            if r > 0 {
                std::thread::sleep(self.config.round_interval);
            }
            self.round();
        }
        for d in &self.devices {
            d.sink.drain(Duration::from_secs(5));
            if d.profile.dp() {
                let expected = d.truth.requests - d.truth.dp_reports;
                let suppressed = d.sink.health().dp_suppressed;
                if suppressed != expected {
                    return Err(SimError::BudgetMismatch {
                        index: d.truth.index,
                        suppressed,
                        expected,
                    });
                }
            }
        }
        Ok(self.truth())
    }

    /// What has been generated so far.
    pub fn truth(&self) -> GroundTruth {
        GroundTruth {
            devices: self.devices.iter().map(|d| d.truth.clone()).collect(),
        }
    }
}
