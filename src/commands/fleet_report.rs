//! `palisade fleet-report`: evaluates every panel of the fleet dashboards
//! against a Prometheus and writes one static HTML page of charts, for users
//! without Grafana.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use palisade_telemetry::fleet::{
    DEFAULT_K, GrafanaVars, PrometheusApi, dashboards, evaluate, render_html,
};

/// Arguments of `palisade fleet-report`.
#[derive(Debug, clap::Args)]
pub struct FleetReportArgs {
    /// Base URL of the Prometheus (or Mimir/Thanos query) HTTP API.
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    pub prometheus: String,
    /// Where to write the HTML report.
    #[arg(long, default_value = "fleet-report.html")]
    pub out: PathBuf,
    /// Minimum devices per group; smaller groups are hidden.
    #[arg(long, default_value_t = DEFAULT_K as usize)]
    pub k: usize,
    /// The time range the report covers, ending now.
    #[arg(long, default_value_t = 3600)]
    pub range_s: u64,
    /// Seconds between points of the charts.
    #[arg(long, default_value_t = 60)]
    pub step_s: u64,
    /// The scrape interval of the data, for `$__rate_interval`.
    #[arg(long, default_value_t = 15)]
    pub scrape_interval_s: u64,
}

/// Runs `palisade fleet-report`.
pub fn run(args: FleetReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.range_s > 0 && args.step_s > 0 && args.scrape_interval_s > 0,
        "--range-s, --step-s and --scrape-interval-s must be at least 1"
    );
    let api = PrometheusApi::new(&args.prometheus, Duration::from_secs(30))?;
    api.get("/api/v1/status/buildinfo").with_context(|| {
        format!(
            "no Prometheus HTTP API at {} (set --prometheus)",
            args.prometheus
        )
    })?;
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs_f64();
    let vars = GrafanaVars {
        k: args.k,
        range_s: args.range_s,
        scrape_interval_s: args.scrape_interval_s,
        step_s: args.step_s,
    };
    let results = evaluate(&api, &dashboards(), &vars, end - args.range_s as f64, end);
    let (mut panels, mut empty, mut failed) = (0, 0, 0);
    for p in results.iter().flat_map(|d| d.panels.iter()) {
        panels += 1;
        empty += usize::from(!p.has_data());
        failed += usize::from(!p.errors.is_empty());
        for e in &p.errors {
            eprintln!("{}: {e}", p.title);
        }
    }
    std::fs::write(&args.out, render_html(&results, &vars, &args.prometheus))
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{}: {panels} panels, {empty} without data, {failed} with failed queries",
        args.out.display()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
