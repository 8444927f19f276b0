//! The `palisade` command line.
#![forbid(unsafe_code)]

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Guardrails and private telemetry for local language models.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Chat with the local model through the guards (one-shot with --prompt).
    Chat(commands::chat::ChatArgs),
    /// Download the pinned assets (default model, ONNX Runtime) into the cache.
    Fetch(commands::fetch::FetchArgs),
    /// Measure a detector on a labelled data set.
    Eval(commands::eval::EvalArgs),
    /// Check JSONL records ({"id", "text"} per line) against a policy.
    Scan(commands::scan::ScanArgs),
    /// Validate a policy file or run its inline tests.
    Policy(commands::policy::PolicyArgs),
    /// Simulate a fleet of devices serving Prometheus metrics, and print the ground truth.
    FleetSim(commands::fleet_sim::FleetSimArgs),
    /// Render the fleet dashboards from a Prometheus into one static HTML page.
    FleetReport(commands::fleet_report::FleetReportArgs),
    /// Serve the OpenAI API (chat, completions, SSE) with guards, in-process or as a proxy.
    Serve(commands::serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Chat(args) => commands::chat::run(args),
        Command::Fetch(args) => commands::fetch::run(args),
        Command::Scan(args) => commands::scan::run(args),
        Command::Policy(args) => commands::policy::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::FleetSim(args) => commands::fleet_sim::run(args),
        Command::FleetReport(args) => commands::fleet_report::run(args),
        Command::Serve(args) => commands::serve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
