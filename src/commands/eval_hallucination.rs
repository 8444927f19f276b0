//! `palisade eval hallucination`: AUROC of the hallucination signals on HaluEval, by teacher
//! forcing both answers of each row through the local model.

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use palisade::assets::{self, AssetCache, AssetSpec, EmbedderChoice};
use palisade::hallucination::consistency::MAX_SAMPLES;
use palisade::hallucination::eval::{
    HallucinationReport, LabelledAnswer, ScoredAnswer, evaluate, score_row,
};
use palisade::hallucination::halueval::{HaluEvalRow, HaluEvalTask, read_rows};
use palisade::hallucination::{Features, RiskModel, SampledMode, Signs};
use palisade::inference::SentenceEmbedder;
use palisade::inference::{Engine, LoadOptions};

/// Arguments of `palisade eval hallucination`.
#[derive(Debug, Args)]
pub struct HallucinationEvalArgs {
    /// The HaluEval task: `qa` (with knowledge), `dialogue` or `summarization`.
    #[arg(long, default_value = "qa")]
    pub task: HaluEvalTask,
    /// The task's JSONL file; default: the pinned asset in the cache (`palisade fetch`; the
    /// dialogue and summarization files with `palisade fetch --only halueval-dialogue` etc.).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Rows to skip at the start of the file.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Rows to score (each gives a right and a hallucinated answer). Even rows fit the combined
    /// score, odd rows measure it.
    #[arg(long, default_value_t = 200)]
    pub rows: usize,
    /// GGUF model file; default: SmolLM2-135M-Instruct from the asset cache.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Compute threads for the model (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write every scored answer (token ids, log-probabilities, entropies) to this JSONL file,
    /// line by line, so that a later run can reuse them with `--scores`.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Read scored answers from a `--dump` file instead of running the model.
    #[arg(long, value_name = "FILE", conflicts_with = "dump")]
    pub scores: Option<PathBuf>,
    /// Save the fitted risk model (JSON) here, e.g. models/hallucination_risk.json.
    #[arg(long, value_name = "FILE")]
    pub save_model: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 when the combined AUROC is below this.
    #[arg(long, value_name = "AUC")]
    pub min_auc: Option<f64>,
    /// Sentence embedder of the context-similarity and sample-consistency signals: `default`
    /// (all-MiniLM-L6-v2 from the asset cache), `off`, or a folder with config.json,
    /// model.safetensors and tokenizer.json.
    #[arg(long, value_name = "default|off|DIR", default_value = "default")]
    pub embedder: EmbedderChoice,
    /// The sampled mode: sample this many answers per row (temperature 0.7, at most 48 tokens
    /// each) and measure each answer's consistency with them. 0 (default) turns it off.
    #[arg(long, value_name = "K", default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=MAX_SAMPLES as i64))]
    pub consistency_samples: u16,
    /// Fit the combination with weights of any sign. By default each weight keeps its
    /// signal's risk direction (or is 0), so that a quirk of the data cannot turn a signal's
    /// meaning around in the saved model.
    #[arg(long)]
    pub free_signs: bool,
}

fn task_asset(task: HaluEvalTask) -> &'static AssetSpec {
    match task {
        HaluEvalTask::Qa => &assets::HALUEVAL_QA,
        HaluEvalTask::Dialogue => &assets::HALUEVAL_DIALOGUE,
        HaluEvalTask::Summarization => &assets::HALUEVAL_SUMMARIZATION,
    }
}

/// Runs `palisade eval hallucination`.
pub fn run(args: HallucinationEvalArgs) -> anyhow::Result<ExitCode> {
    let cache = AssetCache::from_env();
    let data = match &args.data {
        Some(path) => path.clone(),
        None => cache.require(task_asset(args.task))?,
    };
    let rows = read_rows(&data, args.task, args.offset, args.rows)?;
    anyhow::ensure!(
        !rows.is_empty(),
        "{} has no rows after offset {}",
        data.display(),
        args.offset
    );
    let started = Instant::now();
    let scored = match &args.scores {
        Some(path) => read_scores(path)?,
        None => score_all(&args, &cache, &rows)?,
    };
    let seconds = started.elapsed().as_secs_f64();
    let embedder = args.embedder.load(&cache)?;
    let answers = label(&scored, &rows, args.offset, embedder.as_ref())?;
    let signs = if args.free_signs {
        Signs::Free
    } else {
        Signs::Constrained
    };
    let trained_on = format!(
        "HaluEval {} rows {}..{} (even rows), {}, {}",
        args.task.as_str(),
        args.offset,
        args.offset + rows.len(),
        data.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        match signs {
            Signs::Constrained => "weights held to their risk directions",
            Signs::Free => "free weight signs",
        }
    );
    let report = evaluate(&answers, &trained_on, signs);
    if let (Some(path), Some(model)) = (&args.save_model, &report.model) {
        let json = serde_json::to_string_pretty(model)? + "\n";
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        // Reload it, so that a file the runtime would reject is never left behind silently.
        RiskModel::from_json(&std::fs::read_to_string(path)?, &path.display().to_string())?;
        eprintln!("saved the fitted risk model to {}", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let tokens: usize = scored.iter().map(|s| s.tokens.len()).sum();
        print!(
            "{}",
            render(&report, args.task, answers.len(), tokens, seconds)
        );
    }
    Ok(super::eval::auc_gate(args.min_auc, report.combined))
}

fn score_all(
    args: &HallucinationEvalArgs,
    cache: &AssetCache,
    rows: &[HaluEvalRow],
) -> anyhow::Result<Vec<ScoredAnswer>> {
    let model = match &args.model {
        Some(path) => path.clone(),
        None => cache.require(&assets::SMOLLM2_135M_INSTRUCT)?,
    };
    let mut engine = Engine::load_gguf(
        &model,
        &LoadOptions {
            threads: args.threads,
            ..LoadOptions::default()
        },
    )
    .with_context(|| format!("loading {}", model.display()))?;
    let mut dump = match &args.dump {
        Some(path) => Some(BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let sampled = SampledMode::with_samples(usize::from(args.consistency_samples));
    let started = Instant::now();
    let mut scored = Vec::with_capacity(rows.len() * 2);
    for (i, row) in rows.iter().enumerate() {
        let index = args.offset + i;
        let pair = score_row(&mut engine, row, index, &sampled)
            .with_context(|| format!("scoring row {index}"))?;
        if let Some(out) = dump.as_mut() {
            for answer in &pair {
                serde_json::to_writer(&mut *out, answer)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        scored.extend(pair);
        if (i + 1) % 10 == 0 || i + 1 == rows.len() {
            eprintln!(
                "scored {}/{} rows in {:.0} s",
                i + 1,
                rows.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(scored)
}

fn read_scores(path: &Path) -> anyhow::Result<Vec<ScoredAnswer>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let answer: ScoredAnswer = serde_json::from_str(&line).with_context(|| {
            format!(
                "{}:{}: not a scored answer; fix: pass a file written by --dump",
                path.display(),
                i + 1
            )
        })?;
        out.push(answer);
    }
    Ok(out)
}

/// Joins scored answers with their rows' texts; answers of rows outside the window are skipped.
fn label(
    scored: &[ScoredAnswer],
    rows: &[HaluEvalRow],
    offset: usize,
    embedder: Option<&SentenceEmbedder>,
) -> anyhow::Result<Vec<LabelledAnswer>> {
    let mut out = Vec::with_capacity(scored.len());
    for s in scored {
        let Some(row) = s.row.checked_sub(offset).and_then(|i| rows.get(i)) else {
            continue;
        };
        let text = if s.hallucinated {
            &row.hallucinated
        } else {
            &row.right
        };
        out.push(LabelledAnswer {
            row: s.row,
            hallucinated: s.hallucinated,
            features: Features::from(
                &s.signals(text, &row.context, embedder)
                    .with_context(|| format!("embedding the answers of row {}", s.row))?,
            ),
            tokens: s.tokens.len(),
        });
    }
    anyhow::ensure!(
        !out.is_empty(),
        "no scored answer falls in rows {offset}..{}; fix: use the --offset and --rows of the run \
         that wrote the --scores file",
        offset + rows.len()
    );
    Ok(out)
}

fn fmt_auc(a: Option<f64>) -> String {
    a.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"))
}

/// The report as a Markdown table.
pub fn render(
    r: &HallucinationReport,
    task: HaluEvalTask,
    answers: usize,
    tokens: usize,
    seconds: f64,
) -> String {
    let mut out = format!(
        "HaluEval {}: {answers} answers ({} rows fit the combination, {} held out); {tokens} \
         answer tokens scored in {seconds:.1} s\n\n| signal | AUROC (held-out) |\n|---|---|\n",
        task.as_str(),
        r.train_rows,
        r.test_rows
    );
    let held_out = r.signals.first().map_or(0, |s| s.answers);
    for s in &r.signals {
        let auc = match s.answers {
            0 => "not measured".to_owned(),
            n if n < held_out => format!("{} ({n} answers)", fmt_auc(s.auroc)),
            _ => fmt_auc(s.auroc),
        };
        out.push_str(&format!("| {} | {auc} |\n", s.signal));
    }
    out.push_str(&format!(
        "| length in tokens (baseline) | {} |\n| **combined risk** | **{}** |\n\n",
        fmt_auc(r.length_baseline),
        fmt_auc(r.combined)
    ));
    out.push_str(&format!(
        "calibration of the combined risk on held-out rows: Brier {}, ECE (10 bins) {}; weight \
         signs {}\n",
        fmt_auc(r.brier),
        fmt_auc(r.calibration_error),
        if r.signs_constrained {
            "held to the risk directions"
        } else {
            "free"
        }
    ));
    if let Some(model) = &r.model {
        let weights: BTreeMap<&str, String> = model
            .features
            .iter()
            .zip(&model.weights)
            .map(|(f, w)| (f.as_str(), format!("{w:+.3}")))
            .collect();
        out.push_str(&format!("standardized weights: {weights:?}\n"));
    }
    out
}
