//! The profanity SVM: raw strings in (TF-IDF inside the graph), one probability out.
//!
//! The graph (skl2onnx: StringNormalizer -> Tokenizer -> TfIdfVectorizer -> calibrated linear
//! SVMs) takes any length, but TF-IDF is length-normalised, so one rude word in a long text fades
//! away. Texts longer than [`WINDOW_WORDS`] white-space separated words are therefore scored in
//! overlapping word windows, like the BiLSTM; shorter texts go in whole, exactly as scikit-learn
//! sees them.

use std::sync::Arc;

use ort::session::Session;
use ort::value::{Tensor, TensorElementType};

use super::assets::ModelSource;
use super::batch::Combiner;
use super::bilstm::check_outlet;
use super::error::ToxicityError;
use super::runtime::{GraphSource, RuntimeConfig, session};
use super::window::{combine_windows, windows};
use super::{TextScores, ToxicityModel};

/// Words per window for long texts.
pub const WINDOW_WORDS: usize = 64;
const INPUT: &str = "text";
const OUTPUT: &str = "probabilities";

/// A loaded profanity SVM with one shared session.
#[derive(Debug)]
pub struct SvmModel {
    name: String,
    labels: Vec<Arc<str>>,
    combiner: Combiner<Session, String, f32>,
}

impl SvmModel {
    /// Loads the model `name` from `source`, checks its interface and runs it once.
    pub fn load(
        name: &str,
        source: &ModelSource,
        config: &RuntimeConfig,
    ) -> Result<Self, ToxicityError> {
        let path = source.path(&format!("{name}.onnx"));
        let graph = match (&path, source.embedded_graph(name)) {
            (Some(p), _) => GraphSource::File(p),
            (None, Some(bytes)) => GraphSource::Embedded(bytes),
            (None, None) => {
                return Err(ToxicityError::ModelFile {
                    model: name.to_owned(),
                    what: "ONNX graph",
                    path: format!("(embedded) {name}.onnx").into(),
                    reason: "not built into this binary".to_owned(),
                });
            }
        };
        let session = session(config, name, graph)?;
        check_outlet(
            name,
            session.inputs(),
            "input",
            INPUT,
            TensorElementType::String,
            &[None, Some(1)],
        )?;
        check_outlet(
            name,
            session.outputs(),
            "output",
            OUTPUT,
            TensorElementType::Float32,
            &[None, Some(2)],
        )?;
        let model = SvmModel {
            name: name.to_owned(),
            labels: vec![Arc::from("profanity")],
            combiner: Combiner::new(session, config.max_batch, run_rows),
        };
        model.score_texts(&["hello"])?;
        Ok(model)
    }
}

fn run_rows(session: &mut Session, rows: &[String]) -> Result<Vec<f32>, String> {
    let tensor = Tensor::from_string_array(([rows.len(), 1], rows)).map_err(|e| e.to_string())?;
    let outputs = session
        .run(ort::inputs![INPUT => tensor])
        .map_err(|e| e.to_string())?;
    let value = outputs
        .get(OUTPUT)
        .ok_or_else(|| format!("no output `{OUTPUT}`"))?;
    let (_, data) = value
        .try_extract_tensor::<f32>()
        .map_err(|e| e.to_string())?;
    if data.len() != rows.len() * 2 {
        return Err(format!(
            "output has {} values, expected {}",
            data.len(),
            rows.len() * 2
        ));
    }
    Ok(data.chunks(2).map(|p| p[1]).collect())
}

/// Byte spans of the white-space separated words of `text`.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

impl ToxicityModel for SvmModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn labels(&self) -> &[Arc<str>] {
        &self.labels
    }

    fn window_tokens(&self) -> usize {
        WINDOW_WORDS
    }

    fn score_texts(&self, texts: &[&str]) -> Result<Vec<TextScores>, ToxicityError> {
        let mut rows = Vec::new();
        let mut plan = Vec::with_capacity(texts.len());
        for text in texts {
            let words = word_spans(text);
            let mut spans = Vec::new();
            if words.len() <= WINDOW_WORDS {
                rows.push((*text).to_owned());
                spans.push((0, text.len()));
            } else {
                for w in windows(words.len(), WINDOW_WORDS, WINDOW_WORDS / 2) {
                    let (start, end) = (words[w.tokens.start].0, words[w.tokens.end - 1].1);
                    rows.push(text[start..end].to_owned());
                    spans.push((start, end));
                }
            }
            plan.push(spans);
        }
        let results = self
            .combiner
            .submit(rows)
            .map_err(|reason| ToxicityError::Run {
                model: self.name.clone(),
                reason,
            })?;
        Ok(combine_windows(
            plan,
            results.into_iter().map(|p| vec![p]),
            1,
        ))
    }
}
