//! `palisade eval toxicity FILE`: measure a toxicity model on a labelled JSONL set.
//! `palisade eval hallucination`: see [`super::eval_hallucination`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use palisade_guard::toxicity::eval::{EvalReport, evaluate, read_jsonl};
use palisade_guard::toxicity::{RuntimeConfig, default_thresholds, load_model};

/// Arguments of `palisade eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// What to evaluate.
    #[command(subcommand)]
    pub target: EvalTarget,
}

/// The evaluations available.
#[derive(Debug, Subcommand)]
pub enum EvalTarget {
    /// ROC-AUC and precision/recall of a toxicity classifier on a labelled JSONL file
    /// (`{"text": ..., "label": 0|1, "source": ...}` per line, e.g. testdata/toxicity/eval.jsonl).
    Toxicity(ToxicityEvalArgs),
    /// AUROC of the hallucination signals and the combined risk score on HaluEval, scoring
    /// each row's right and hallucinated answer by teacher forcing.
    Hallucination(super::eval_hallucination::HallucinationEvalArgs),
}

/// Arguments of `palisade eval toxicity`.
#[derive(Debug, Args)]
pub struct ToxicityEvalArgs {
    /// The labelled JSONL file.
    pub file: PathBuf,
    /// The model: `jigsaw-bilstm` or `profanity-svm`.
    #[arg(long, default_value = "jigsaw-bilstm")]
    pub model: String,
    /// A per-label threshold `LABEL=SCORE` (repeatable); a text is flagged when any label reaches
    /// its threshold. Default: the model's defaults (as in the default policy).
    #[arg(long = "threshold", value_name = "LABEL=SCORE", value_parser = parse_threshold)]
    pub thresholds: Vec<(String, f32)>,
    /// Path of libonnxruntime.so (else $ORT_DYLIB_PATH, else the asset cache).
    #[arg(long)]
    pub ort_library: Option<PathBuf>,
    /// A folder with the model files, replacing the built-in copies.
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Texts scored per model call.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 when the ROC-AUC over all labels is below this.
    #[arg(long, value_name = "AUC")]
    pub min_auc: Option<f64>,
}

fn parse_threshold(s: &str) -> Result<(String, f32), String> {
    let (label, score) = s
        .split_once('=')
        .ok_or_else(|| format!("expected LABEL=SCORE, got `{s}`"))?;
    let score: f32 = score
        .trim()
        .parse()
        .map_err(|e| format!("`{score}` is not a number: {e}"))?;
    if !(0.0..=1.0).contains(&score) {
        return Err(format!("threshold {score} is outside 0..=1"));
    }
    Ok((label.trim().to_owned(), score))
}

/// Runs `palisade eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let args = match args.target {
        EvalTarget::Toxicity(args) => args,
        EvalTarget::Hallucination(args) => return super::eval_hallucination::run(args),
    };
    let samples = read_jsonl(&args.file)?;
    anyhow::ensure!(
        !samples.is_empty(),
        "{} holds no samples",
        args.file.display()
    );
    let config = RuntimeConfig {
        library: args.ort_library.clone(),
        intra_threads: args.threads,
        max_batch: args.batch.max(1) * 4,
        models_dir: args.models_dir.clone(),
    };
    let model = load_model(&args.model, &config).context("loading the toxicity model")?;
    let thresholds = if args.thresholds.is_empty() {
        default_thresholds(&args.model)
    } else {
        args.thresholds.clone()
    };
    let report = evaluate(&model, &samples, &thresholds, args.batch)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(auc_gate(args.min_auc, report.auc_any_label))
}

/// Failure when a minimum AUROC was asked for and `auc` is below it (or undefined).
pub fn auc_gate(min_auc: Option<f64>, auc: Option<f64>) -> ExitCode {
    if min_auc.is_some_and(|min| auc.is_none_or(|auc| auc < min)) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn fmt_auc(a: Option<f64>) -> String {
    a.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.4}"))
}

/// The report as Markdown tables.
pub fn render(r: &EvalReport) -> String {
    let mut out = format!(
        "model {}: {} texts ({} toxic), scored in {:.2} s\n\n| label | ROC-AUC |\n|---|---|\n",
        r.model, r.samples, r.positives, r.seconds
    );
    for (label, auc) in &r.auc_per_label {
        out.push_str(&format!("| {label} | {} |\n", fmt_auc(*auc)));
    }
    out.push_str(&format!(
        "| any (max over labels) | {} |\n\n",
        fmt_auc(r.auc_any_label)
    ));
    let t: Vec<String> = r
        .thresholds
        .iter()
        .map(|(l, v)| format!("{l} >= {v}"))
        .collect();
    let c = &r.at_thresholds;
    out.push_str(&format!(
        "at thresholds {}: precision {:.3}, recall {:.3}, F1 {:.3} (tp {}, fp {}, fn {}, tn {})\n\n",
        t.join(", "),
        c.precision(),
        c.recall(),
        c.f1(),
        c.tp,
        c.fp,
        c.fn_,
        c.tn
    ));
    out.push_str("| source | texts | flagged |\n|---|---|---|\n");
    for (source, (n, flagged)) in &r.per_source {
        out.push_str(&format!(
            "| {source} | {n} | {flagged} ({:.1}%) |\n",
            100.0 * *flagged as f64 / *n as f64
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_and_validate() {
        assert_eq!(parse_threshold("toxic=0.8"), Ok(("toxic".to_owned(), 0.8)));
        assert!(parse_threshold("toxic").is_err());
        assert!(parse_threshold("toxic=1.5").is_err());
        assert!(parse_threshold("toxic=high").is_err());
    }
}
