//! `palisade chat`: the guarded chat, one-shot or interactive.

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use palisade::assets::{AssetCache, EmbedderChoice};
use palisade::guard::Policy;
use palisade::guard::scan::finding_json;
use palisade::inference::{
    ChatMessage, CpuRepack, DeviceChoice, Engine, GenerationParams, LoadOptions, Role,
};
use palisade::observability::{install_trace_layer, read_telemetry_config, start_telemetry};
use palisade::{
    ChatEvent, ChatRequest, ChatSummary, Finish, GuardEvent, HallucinationChecks, Palisade,
};
use serde_json::json;

use super::lines::{Line, read_line};

/// A short system prompt: SmolLM2's own default ("You are a helpful AI
/// assistant named SmolLM, trained by Hugging Face") derails the 135M model on
/// simple questions.
const DEFAULT_SYSTEM: &str = "You are a helpful assistant.";

/// Arguments of `palisade chat`.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// Ask one question and exit; without it, chat interactively on stdin.
    #[arg(short, long)]
    prompt: Option<String>,
    /// The system message placed before the conversation (an empty string
    /// leaves it to the model's chat template, which may add its own).
    #[arg(long, default_value = DEFAULT_SYSTEM)]
    system: String,
    /// Policy file; default: the embedded `policies/default.yaml`.
    #[arg(long, value_name = "FILE", env = "PALISADE_POLICY")]
    policy: Option<PathBuf>,
    /// GGUF model file or Hugging Face folder (config.json, *.safetensors,
    /// tokenizer.json), or hf:OWNER/NAME[@REVISION][/FILE.gguf] from the Hugging Face Hub
    /// (builds with the `hub` feature); default: SmolLM2-135M-Instruct from the asset cache.
    #[arg(long, value_name = "PATH", env = "PALISADE_MODEL")]
    model: Option<PathBuf>,
    /// Most tokens to generate per answer.
    #[arg(long, default_value_t = 256)]
    max_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.2)]
    temperature: f64,
    /// Nucleus sampling: keep the smallest set of tokens with this much probability.
    #[arg(long)]
    top_p: Option<f64>,
    /// Keep only the k most likely tokens.
    #[arg(long)]
    top_k: Option<usize>,
    /// Penalty on recently seen tokens (1 is off; above 1 discourages loops).
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    /// Random seed: the same seed gives the same answer.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Longest line read from standard input; a longer one is refused with an error, without
    /// being held in memory.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    max_line_bytes: usize,
    /// Compute threads for the model (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Where the model runs: cpu, cuda[:N] or metal[:N] (GPUs need a build
    /// with `--features cuda` or `--features metal`).
    #[arg(
        long,
        value_name = "DEVICE",
        default_value = "cpu",
        env = "PALISADE_DEVICE"
    )]
    device: DeviceChoice,
    /// Requantize GGUF tensors that lack fast CPU kernels (Q4_1, Q5_0, Q5_1) at load: off
    /// (default), q8_0 (near lossless, faster) or q4_0 (fastest, changes the answers a little).
    #[arg(
        long,
        value_name = "off|q8_0|q4_0",
        default_value = "off",
        env = "PALISADE_CPU_REPACK"
    )]
    cpu_repack: CpuRepack,
    /// Print events as JSON lines on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Telemetry configuration (YAML, the keys of docs/telemetry.md); without
    /// it, the standard `OTEL_*` variables decide whether metrics and traces
    /// are exported.
    #[arg(long, value_name = "FILE", env = "PALISADE_TELEMETRY")]
    telemetry: Option<PathBuf>,
    /// Sentence embedder for the hallucination signals' context similarity: `off` (default),
    /// `default` (all-MiniLM-L6-v2 from the asset cache) or a folder with config.json,
    /// model.safetensors and tokenizer.json.
    #[arg(
        long,
        value_name = "off|default|DIR",
        default_value = "off",
        env = "PALISADE_EMBEDDER"
    )]
    embedder: EmbedderChoice,
    /// The sampled mode: sample this many more answers per answer and measure the answer's
    /// consistency with them (needs --embedder; each sample costs one more generation).
    #[arg(long, value_name = "K", default_value_t = 0)]
    consistency_samples: usize,
}

/// How long the last export may take when the command exits.
const TELEMETRY_SHUTDOWN: Duration = Duration::from_secs(5);

/// Runs `palisade chat`.
pub fn run(args: ChatArgs) -> anyhow::Result<ExitCode> {
    // A GPU this build cannot use is refused before the policy and the model are read.
    args.device.open()?;
    let policy = match &args.policy {
        Some(path) => Policy::from_file(path)?,
        None => Policy::from_yaml_str(
            palisade::DEFAULT_POLICY_YAML,
            palisade::DEFAULT_POLICY_ORIGIN,
        )?,
    };
    let model = palisade::assets::resolve_model(args.model.as_deref())?;
    let spinner = spinner(&format!("loading {}", model.display()), args.json);
    let options = LoadOptions {
        threads: args.threads,
        device: args.device,
        cpu_repack: args.cpu_repack,
    };
    let checks = HallucinationChecks::load(
        &args.embedder,
        args.consistency_samples,
        &AssetCache::from_env(),
    )?;
    let guard = palisade::build_guard(policy)?;
    let telemetry = read_telemetry_config(args.telemetry.as_deref())?;
    let sink = start_telemetry(telemetry, &guard)?;
    install_trace_layer(&sink);
    let engine = Engine::load(&model, &options)
        .with_context(|| format!("loading the model {}", model.display()))?;
    sink.register_model(engine.model_name())?;
    let palisade = Palisade::new(engine, guard, sink.clone()).with_hallucination_checks(checks);
    spinner.finish_and_clear();
    if let (Some(addr), false) = (sink.prometheus_addr(), args.json) {
        eprintln!("metrics on http://{addr}/metrics");
    }
    let result = converse(&palisade, &args);
    sink.shutdown(TELEMETRY_SHUTDOWN);
    result
}

/// Prints the banner and runs the one-shot or interactive chat.
fn converse(palisade: &Palisade, args: &ChatArgs) -> anyhow::Result<ExitCode> {
    if !args.json {
        let policy = palisade.guard().policy();
        eprintln!(
            "model {} | policy {} v{} ({})",
            palisade.model_name(),
            policy.name(),
            policy.version(),
            &policy.hash()[..12.min(policy.hash().len())]
        );
    }
    let params = GenerationParams {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        top_k: args.top_k,
        seed: args.seed,
        repetition_penalty: args.repetition_penalty,
        ..GenerationParams::default()
    };
    let mut history = Vec::new();
    if !args.system.is_empty() {
        history.push(ChatMessage {
            role: Role::System,
            content: args.system.clone(),
        });
    }
    match &args.prompt {
        Some(prompt) => {
            history.push(user(prompt));
            let summary = ask(palisade, &history, &params, args.json)?;
            Ok(match summary.finish {
                Finish::BlockedInput { .. } | Finish::BlockedOutput { .. } => ExitCode::from(3),
                _ => ExitCode::SUCCESS,
            })
        }
        None => interactive(palisade, history, &params, args),
    }
}

fn interactive(
    palisade: &Palisade,
    mut history: Vec<ChatMessage>,
    params: &GenerationParams,
    args: &ChatArgs,
) -> anyhow::Result<ExitCode> {
    let json = args.json;
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty && !json {
        eprintln!("type a message; /reset clears the conversation, /exit or Ctrl-D quits");
    }
    let mut reader = stdin.lock();
    let (mut number, mut refused) = (0usize, false);
    loop {
        if tty && !json {
            eprint!("> ");
            std::io::stderr().flush().ok();
        }
        let Some(line) =
            read_line(&mut reader, args.max_line_bytes).context("reading standard input")?
        else {
            break;
        };
        number += 1;
        let line = match line {
            Line::Read(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(err) => {
                    refused = true;
                    let at = err.utf8_error().valid_up_to();
                    refuse(
                        json,
                        number,
                        format!("not UTF-8 text (invalid byte at offset {at})"),
                    );
                    continue;
                }
            },
            Line::TooLong(len) => {
                refused = true;
                let max = args.max_line_bytes;
                refuse(
                    json,
                    number,
                    format!(
                        "{len} bytes, over the limit of {max} (raise it with --max-line-bytes)"
                    ),
                );
                continue;
            }
        };
        let line = line.trim();
        match line {
            "" => continue,
            "/exit" | "/quit" => break,
            "/reset" => {
                history.retain(|m| m.role == Role::System);
                continue;
            }
            _ => {}
        }
        history.push(user(line));
        let mut answer = String::new();
        let summary = ask_collecting(palisade, &history, params, json, &mut answer)?;
        match summary.finish {
            // A refused turn is not part of the conversation.
            Finish::BlockedInput { .. } | Finish::BlockedOutput { .. } => {
                history.pop();
            }
            _ => history.push(ChatMessage {
                role: Role::Assistant,
                content: answer,
            }),
        }
    }
    Ok(if refused {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reports an input line that was skipped: a JSON `error` event with `--json`, else on stderr.
fn refuse(json: bool, number: usize, why: String) {
    let message = format!("input line {number} skipped: {why}");
    if json {
        println!(
            "{}",
            json!({"type": "error", "line": number, "message": message})
        );
    } else {
        eprintln!("{message}");
    }
}

fn ask(
    palisade: &Palisade,
    history: &[ChatMessage],
    params: &GenerationParams,
    json: bool,
) -> anyhow::Result<ChatSummary> {
    ask_collecting(palisade, history, params, json, &mut String::new())
}

/// Runs one turn, printing as it streams; the released answer goes to `answer`.
fn ask_collecting(
    palisade: &Palisade,
    history: &[ChatMessage],
    params: &GenerationParams,
    json: bool,
    answer: &mut String,
) -> anyhow::Result<ChatSummary> {
    let request = ChatRequest {
        messages: history.to_vec(),
        params: params.clone(),
    };
    let mut stdout = std::io::stdout().lock();
    let mut print = |event: ChatEvent| {
        let written = if json {
            writeln!(stdout, "{}", event_json(&event))
        } else {
            print_event(&mut stdout, &event)
        };
        if let ChatEvent::Delta(text) = &event {
            answer.push_str(text);
        }
        // A closed stdout (e.g. `| head`) stops the generation.
        match written.and_then(|()| stdout.flush()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    };
    Ok(palisade.chat_with(request, &mut print)?)
}

fn print_event(out: &mut impl Write, event: &ChatEvent) -> std::io::Result<()> {
    match event {
        ChatEvent::Delta(text) => write!(out, "{text}"),
        ChatEvent::Guard(decision) => {
            out.flush()?;
            eprintln!("[guard] {decision}");
            Ok(())
        }
        ChatEvent::Done(summary) => {
            if let Finish::BlockedInput { message, .. } | Finish::BlockedOutput { message, .. } =
                &summary.finish
            {
                write!(out, "\n[refused] {message}")?;
            }
            writeln!(out)?;
            out.flush()?;
            eprintln!("[summary] {summary}");
            Ok(())
        }
    }
}

/// One event as a JSON object: rule ids, kinds, offsets and numbers; text only
/// in deltas, which already passed the output guard.
fn event_json(event: &ChatEvent) -> serde_json::Value {
    match event {
        ChatEvent::Delta(text) => json!({"type": "delta", "text": text}),
        ChatEvent::Guard(decision) => guard_json(decision),
        ChatEvent::Done(summary) => {
            let (rule, message) = match &summary.finish {
                Finish::BlockedInput { rule_id, message }
                | Finish::BlockedOutput { rule_id, message } => {
                    (Some(rule_id.as_str()), Some(message.as_str()))
                }
                _ => (None, None),
            };
            json!({
                "type": "done",
                "finish": summary.finish.as_str(),
                "rule": rule,
                "message": message,
                "prompt_tokens": summary.usage.prompt_tokens,
                "completion_tokens": summary.usage.completion_tokens,
                "time_to_first_token_ms": summary.time_to_first_token.map(ms),
                "decode_ms": ms(summary.decode),
                "total_ms": ms(summary.total),
                "guard_us": summary.guard.as_secs_f64() * 1e6,
                "decode_tokens_per_second": summary.decode_tokens_per_second(),
                "input_verdict": summary.input_verdict.as_str(),
                "output_verdict": summary.output_verdict.as_str(),
                "findings": summary.findings,
                "hallucination_risk": summary.hallucination_risk,
            })
        }
    }
}

fn guard_json(decision: &GuardEvent) -> serde_json::Value {
    let findings: Vec<_> = decision.findings.iter().map(finding_json).collect();
    json!({
        "type": "guard",
        "direction": decision.direction.as_str(),
        "verdict": decision.verdict.as_str(),
        "findings": findings,
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn user(content: &str) -> ChatMessage {
    ChatMessage {
        role: Role::User,
        content: content.to_string(),
    }
}

fn spinner(message: &str, hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
