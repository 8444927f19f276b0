//! `palisade fleet-sim`: runs N simulated devices through the real telemetry
//! sinks, serves each one's Prometheus text on its own port, and prints the
//! ground truth the fleet dashboards must show.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use palisade_telemetry::fleet::{DEFAULT_K, FleetSim, SimConfig};

/// Arguments of `palisade fleet-sim`.
#[derive(Debug, clap::Args)]
pub struct FleetSimArgs {
    /// Number of simulated devices (laptop, desktop, phone in turn; phones use `dp` mode).
    #[arg(long, default_value_t = 24)]
    pub devices: usize,
    /// Requests each device makes.
    #[arg(long, default_value_t = 30)]
    pub requests: usize,
    /// Milliseconds between rounds (one request per device each round).
    #[arg(long, default_value_t = 250)]
    pub round_interval_ms: u64,
    /// Seed of the simulated traffic.
    #[arg(long, default_value_t = 8)]
    pub seed: u64,
    /// Address the devices' `/metrics` listeners bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen_ip: IpAddr,
    /// Privacy budget one `dp` report spends (the daily budget is 10).
    #[arg(long, default_value_t = 5.0)]
    pub dp_epsilon_per_report: f64,
    /// Empty directory for the `dp` budget ledgers (default: a fresh temporary one).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Write the scrape targets here as a Prometheus `file_sd` JSON file.
    #[arg(long)]
    pub targets_out: Option<PathBuf>,
    /// Write the ground truth (per device) here as JSON.
    #[arg(long)]
    pub truth_out: Option<PathBuf>,
    /// Minimum devices per group for the printed dashboard totals.
    #[arg(long, default_value_t = DEFAULT_K as usize)]
    pub k: usize,
    /// Seconds to wait after starting the listeners before the traffic (time to start Prometheus).
    #[arg(long, default_value_t = 0)]
    pub delay_s: u64,
    /// Seconds to keep serving metrics after the traffic.
    #[arg(long, default_value_t = 600)]
    pub serve_s: u64,
}

fn write(path: &PathBuf, value: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Runs `palisade fleet-sim`.
pub fn run(args: FleetSimArgs) -> anyhow::Result<ExitCode> {
    let temporary = args.state_dir.is_none();
    let state_dir = args.state_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("palisade-fleet-sim-{}", std::process::id()))
    });
    let config = SimConfig {
        requests_per_device: args.requests,
        round_interval: Duration::from_millis(args.round_interval_ms),
        seed: args.seed,
        bind: args.listen_ip,
        dp_epsilon_per_report: args.dp_epsilon_per_report,
        ..SimConfig::new(args.devices, state_dir.clone())
    };
    anyhow::ensure!(
        config.dp_epsilon_per_report > 0.0
            && config.dp_epsilon_per_report <= config.dp_epsilon_per_day,
        "--dp-epsilon-per-report must be greater than 0 and at most {}",
        config.dp_epsilon_per_day
    );
    let mut sim = FleetSim::start(config)?;
    let targets = sim.targets();
    println!("{} devices serving /metrics:", targets.len());
    for t in &targets {
        println!("  http://{t}/metrics");
    }
    if let Some(path) = &args.targets_out {
        write(
            path,
            &serde_json::json!([{"targets": targets, "labels": {"job": "palisade-devices"}}]),
        )?;
        println!("scrape targets written to {}", path.display());
    }
    std::thread::sleep(Duration::from_secs(args.delay_s));
    println!(
        "recording {} requests per device, {} ms apart...",
        args.requests, args.round_interval_ms
    );
    let truth = sim.run()?;
    if temporary {
        let _ = std::fs::remove_dir_all(&state_dir);
    }
    if let Some(path) = &args.truth_out {
        write(path, &serde_json::to_value(&truth)?)?;
        println!("ground truth written to {}", path.display());
    }
    for (label, t) in [
        ("all devices", truth.all()),
        ("shown", truth.visible(args.k)),
    ] {
        println!(
            "{label} (k = {}): {} devices; exact devices: {} requests, {} refusals; \
             dp devices: {} reports, {} truly refused (rate {:.4})",
            t.k,
            t.devices,
            t.requests,
            t.refusals,
            t.dp_reports,
            t.dp_true_refusals,
            t.dp_true_refusal_rate()
        );
    }
    println!("serving for {} s (Ctrl-C to stop)", args.serve_s);
    std::thread::sleep(Duration::from_secs(args.serve_s));
    Ok(ExitCode::SUCCESS)
}
