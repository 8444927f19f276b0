//! `palisade scan`: checks JSONL records with a policy, in parallel, in input order.
//!
//! Input: one `{"id": ..., "text": "..."}` object per line (other fields are ignored). Output: one
//! line per input line, same order:
//! `{"id", "verdict", "findings": [{"rule", "kind", "action", "start", "end", "score"}], "text"}`,
//! with `text` only when something was redacted; offsets are bytes of the original text. A line
//! that cannot be read yields `{"line": N, "error": "..."}` in its place; the exit status is then 2.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use palisade::guard::scan::{ScanLine, scan_line};
use palisade::guard::{Direction, Policy};
use rayon::prelude::*;

use super::lines::{Line, read_line};

/// A batch stops growing once its lines hold this many bytes, so memory stays bounded whatever
/// the line lengths (4096 lines of 16 MiB would be 64 GiB).
const BATCH_BYTES: usize = 64 << 20;

/// Which side of the model the records are on.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DirectionArg {
    /// Prompts sent to the model.
    Input,
    /// Model answers.
    Output,
}

impl From<DirectionArg> for Direction {
    fn from(d: DirectionArg) -> Direction {
        match d {
            DirectionArg::Input => Direction::Input,
            DirectionArg::Output => Direction::Output,
        }
    }
}

/// Arguments of `palisade scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Policy file; default: the embedded `policies/default.yaml`.
    #[arg(long, value_name = "FILE", env = "PALISADE_POLICY")]
    pub policy: Option<PathBuf>,
    /// Apply the policy's `input` or `output` rules.
    #[arg(long, value_enum, default_value = "input")]
    pub direction: DirectionArg,
    /// JSONL file to read; `-` or nothing for standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Records checked in parallel per batch (bounds memory).
    #[arg(long, default_value_t = 4096, hide = true)]
    pub batch: usize,
    /// Longest input line accepted; a longer one is answered with an error in
    /// its place, without being held in memory.
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES")]
    pub max_line_bytes: usize,
}

/// Loads `path`, or the embedded default policy.
pub fn load_policy(path: Option<&PathBuf>) -> anyhow::Result<Policy> {
    Ok(match path {
        Some(p) => Policy::from_file(p)?,
        None => Policy::from_yaml_str(
            palisade::DEFAULT_POLICY_YAML,
            palisade::DEFAULT_POLICY_ORIGIN,
        )?,
    })
}

fn too_long(number: usize, len: usize, max: usize) -> ScanLine {
    ScanLine::error(
        number,
        format!(
            "line is {len} bytes, over the limit of {max} (raise it with --max-line-bytes, or split the record)"
        ),
    )
}

/// Runs `palisade scan`.
pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let policy = load_policy(args.policy.as_ref())?;
    let guard = palisade::build_guard(policy)?;
    let direction = Direction::from(args.direction);
    let reader: Box<dyn Read> = match &args.file {
        Some(p) if p.as_os_str() != "-" => {
            Box::new(File::open(p).with_context(|| format!("cannot open {}", p.display()))?)
        }
        _ => Box::new(std::io::stdin().lock()),
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 16, stdout);
    let batch = args.batch.max(1);
    let mut lines: Vec<Line> = Vec::with_capacity(batch);
    let mut number = 0usize;
    let mut failed = false;
    loop {
        lines.clear();
        let mut held = 0usize;
        while lines.len() < batch && held < BATCH_BYTES {
            match read_line(&mut reader, args.max_line_bytes)? {
                Some(line) => {
                    held += line.held_bytes();
                    lines.push(line);
                }
                None => break,
            }
        }
        if lines.is_empty() {
            break;
        }
        let first = number + 1;
        number += lines.len();
        let results: Vec<_> = lines
            .par_iter()
            .enumerate()
            .map(|(i, line)| match line {
                Line::Read(bytes) => scan_line(&guard, direction, first + i, bytes),
                Line::TooLong(len) => too_long(first + i, *len, args.max_line_bytes),
            })
            .collect();
        for result in results {
            failed |= !result.ok;
            out.write_all(result.json.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
