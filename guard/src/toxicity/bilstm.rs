//! The Jigsaw BiLSTM: Keras word ids in fixed windows, six sigmoid scores out.

use std::sync::Arc;

use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};

use super::assets::ModelSource;
use super::batch::Combiner;
use super::error::ToxicityError;
use super::keras_tokenizer::{KerasConfig, KerasTokenizer, read_config};
use super::runtime::{GraphSource, RuntimeConfig, session};
use super::window::{combine_windows, pre_pad, windows};
use super::{TextScores, ToxicityModel};

/// A loaded BiLSTM classifier: tokenizer, window settings and one shared session.
#[derive(Debug)]
pub struct BilstmModel {
    name: String,
    labels: Vec<Arc<str>>,
    tokenizer: KerasTokenizer,
    maxlen: usize,
    stride: usize,
    pad_id: i64,
    combiner: Combiner<Session, Vec<i64>, Vec<f32>>,
}

fn tensor_dims(t: &ValueType) -> Option<(TensorElementType, Vec<i64>)> {
    match t {
        ValueType::Tensor { ty, shape, .. } => Some((*ty, shape.to_vec())),
        _ => None,
    }
}

/// Checks one input or output: name present, element type and the fixed dimensions.
pub(crate) fn check_outlet(
    model: &str,
    outlets: &[ort::value::Outlet],
    which: &str,
    name: &str,
    ty: TensorElementType,
    dims: &[Option<i64>],
) -> Result<(), ToxicityError> {
    let expected = format!(
        "{which} `{name}` of {ty:?} [{}]",
        dims.iter()
            .map(|d| d.map_or("batch".to_owned(), |v| v.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let names: Vec<&str> = outlets.iter().map(|o| o.name()).collect();
    let Some(outlet) = outlets.iter().find(|o| o.name() == name) else {
        return Err(ToxicityError::Interface {
            model: model.to_owned(),
            detail: format!("no {which} named `{name}` (it has {names:?})"),
            expected,
        });
    };
    let ok = tensor_dims(outlet.dtype()).is_some_and(|(t, shape)| {
        t == ty
            && shape.len() == dims.len()
            && shape
                .iter()
                .zip(dims)
                .all(|(&s, d)| d.is_none_or(|v| v == s))
    });
    if ok {
        Ok(())
    } else {
        Err(ToxicityError::Interface {
            model: model.to_owned(),
            detail: format!("{which} `{name}` is {}", outlet.dtype()),
            expected,
        })
    }
}

impl BilstmModel {
    /// Loads the model `name` from `source`, checks its interface and runs it once.
    pub fn load(
        name: &str,
        source: &ModelSource,
        config: &RuntimeConfig,
    ) -> Result<Self, ToxicityError> {
        let (config_file, vocab_file) =
            (format!("{name}.config.json"), format!("{name}.vocab.json"));
        let file_err = |file: &str, what: &'static str, reason: String| ToxicityError::ModelFile {
            model: name.to_owned(),
            what,
            path: source
                .path(file)
                .unwrap_or_else(|| format!("(embedded) {file}").into()),
            reason,
        };
        let cfg_bytes = source.read(name, &config_file, "config")?;
        let cfg: KerasConfig =
            read_config(&cfg_bytes).map_err(|e| file_err(&config_file, "config", e))?;
        let vocab_bytes = source.read(name, &vocab_file, "vocabulary")?;
        let vocab = KerasTokenizer::read_vocab(&vocab_bytes)
            .map_err(|e| file_err(&vocab_file, "vocabulary", e))?;
        let tokenizer =
            KerasTokenizer::new(&cfg, vocab).map_err(|e| file_err(&config_file, "config", e))?;

        let graph_file = format!("{name}.onnx");
        let graph_path = source.path(&graph_file);
        let graph = match (&graph_path, source.embedded_graph(name)) {
            (Some(p), _) => GraphSource::File(p),
            (None, Some(bytes)) => GraphSource::Embedded(bytes),
            (None, None) => {
                let reason = "not built into this binary".to_owned();
                return Err(file_err(&graph_file, "ONNX graph", reason));
            }
        };
        let session = session(config, name, graph)?;
        let n_labels = cfg.labels.len() as i64;
        check_outlet(
            name,
            session.inputs(),
            "input",
            &cfg.input_name,
            TensorElementType::Int64,
            &[None, Some(cfg.maxlen as i64)],
        )?;
        check_outlet(
            name,
            session.outputs(),
            "output",
            &cfg.output_name,
            TensorElementType::Float32,
            &[None, Some(n_labels)],
        )?;
        let (input, output, maxlen) = (cfg.input_name.clone(), cfg.output_name.clone(), cfg.maxlen);
        let combiner = Combiner::new(session, config.max_batch, move |s, rows| {
            run_rows(s, rows, &input, &output, maxlen, n_labels as usize)
        });
        let model = BilstmModel {
            name: name.to_owned(),
            labels: cfg.labels.iter().map(|l| Arc::from(l.as_str())).collect(),
            tokenizer,
            maxlen: cfg.maxlen,
            stride: (cfg.maxlen / 2).max(1),
            pad_id: cfg.pad_id,
            combiner,
        };
        // One run now, so that a model that loads but cannot run fails at policy load.
        model.score_texts(&[""])?;
        Ok(model)
    }

    /// The tokenizer (for tests and tools).
    pub fn tokenizer(&self) -> &KerasTokenizer {
        &self.tokenizer
    }
}

fn run_rows(
    session: &mut Session,
    rows: &[Vec<i64>],
    input: &str,
    output: &str,
    maxlen: usize,
    n_labels: usize,
) -> Result<Vec<Vec<f32>>, String> {
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    let tensor = Tensor::from_array(([rows.len(), maxlen], flat)).map_err(|e| e.to_string())?;
    let outputs = session
        .run(ort::inputs![input => tensor])
        .map_err(|e| e.to_string())?;
    let value = outputs
        .get(output)
        .ok_or_else(|| format!("no output `{output}`"))?;
    let (_, data) = value
        .try_extract_tensor::<f32>()
        .map_err(|e| e.to_string())?;
    if data.len() != rows.len() * n_labels {
        return Err(format!(
            "output has {} values, expected {}",
            data.len(),
            rows.len() * n_labels
        ));
    }
    Ok(data.chunks(n_labels).map(<[f32]>::to_vec).collect())
}

impl ToxicityModel for BilstmModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn labels(&self) -> &[Arc<str>] {
        &self.labels
    }

    fn window_tokens(&self) -> usize {
        self.maxlen
    }

    fn score_texts(&self, texts: &[&str]) -> Result<Vec<TextScores>, ToxicityError> {
        let mut rows = Vec::new();
        let mut plan = Vec::with_capacity(texts.len());
        for text in texts {
            let tokens = self.tokenizer.tokenize(text);
            let ids: Vec<i64> = tokens.iter().map(|t| t.id).collect();
            let mut spans = Vec::new();
            for w in windows(ids.len(), self.maxlen, self.stride) {
                let mut row = Vec::with_capacity(self.maxlen);
                pre_pad(&ids[w.tokens.clone()], self.maxlen, self.pad_id, &mut row);
                rows.push(row);
                let span = match (
                    tokens.get(w.tokens.start),
                    w.tokens.end.checked_sub(1).and_then(|e| tokens.get(e)),
                ) {
                    (Some(a), Some(b)) if !w.tokens.is_empty() => (a.start, b.end),
                    _ => (0, 0),
                };
                spans.push(span);
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
        Ok(combine_windows(plan, results, self.labels.len()))
    }
}
