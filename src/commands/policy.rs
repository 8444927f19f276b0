//! `palisade policy`: validate a policy file, run its inline tests, print the schema.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use palisade::guard::testing::run_inline_tests;
use palisade::guard::{Direction, Guard, Policy};

/// Arguments of `palisade policy`.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// `palisade policy` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy (syntax, options, patterns, includes) and print a summary.
    Check {
        /// The policy file.
        file: PathBuf,
    },
    /// Run the policy's inline `tests:` and report failures like a test runner.
    Test {
        /// The policy file.
        file: PathBuf,
    },
    /// Print the JSON Schema of policy files.
    Schema,
}

fn load(file: &Path) -> anyhow::Result<(Policy, Guard)> {
    let policy = Policy::from_file(file)?;
    let guard = palisade::build_guard(policy.clone())?;
    Ok((policy, guard))
}

fn check(file: &Path) -> anyhow::Result<ExitCode> {
    let (policy, _) = load(file)?;
    println!("{}: ok", file.display());
    println!("name:    {}", policy.name());
    println!("version: {}", policy.version());
    println!("hash:    {}", policy.hash());
    for direction in [Direction::Input, Direction::Output] {
        let rules = policy.rules(direction);
        println!("{direction} rules ({}):", rules.len());
        for r in rules {
            println!(
                "  {:<28} {:<10} {:<7}{}",
                r.id,
                r.detector.type_name(),
                r.action.as_str(),
                if r.enabled { "" } else { " (disabled)" }
            );
        }
    }
    println!("inline tests: {}", policy.tests().len());
    Ok(ExitCode::SUCCESS)
}

fn test(file: &Path) -> anyhow::Result<ExitCode> {
    let (policy, guard) = load(file)?;
    let outcomes = run_inline_tests(&guard);
    println!("\nrunning {} tests from {}", outcomes.len(), file.display());
    let mut failures = Vec::new();
    for o in &outcomes {
        let status = if o.passed() { "ok" } else { "FAILED" };
        println!("test {} ({}) ... {status}", o.name, o.direction);
        if !o.passed() {
            failures.push(o);
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:");
        for o in &failures {
            println!(
                "    {}:{}:{}: {}: {}",
                o.location.file,
                o.location.line,
                o.location.column,
                o.name,
                o.explain()
            );
            println!("        output text: {:?}", o.output_text);
        }
    }
    let passed = outcomes.len() - failures.len();
    println!(
        "\ntest result: {}. {passed} passed; {} failed (policy {} {})",
        if failures.is_empty() { "ok" } else { "FAILED" },
        failures.len(),
        policy.name(),
        policy.version()
    );
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs `palisade policy`.
pub fn run(args: PolicyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PolicyCommand::Check { file } => check(&file),
        PolicyCommand::Test { file } => test(&file),
        PolicyCommand::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&palisade::guard::policy::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
