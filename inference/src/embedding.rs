//! Sentence embeddings with a BERT encoder (all-MiniLM-L6-v2 and its kin):
//! WordPiece tokens, the encoder, mean pooling over the real tokens, and L2
//! normalisation, as sentence-transformers computes them. Cosine similarity
//! of two embeddings is then their dot product.
//!
//! The hallucination grounding checks use it to ask whether each sentence of
//! an answer is supported by some sentence of its context.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// The files of a sentence-embedding model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedderFiles {
    /// The BERT `config.json`.
    pub config: PathBuf,
    /// The weights, `model.safetensors`.
    pub weights: PathBuf,
    /// The WordPiece `tokenizer.json`.
    pub tokenizer: PathBuf,
}

impl EmbedderFiles {
    /// The three files in one Hugging Face style folder.
    pub fn in_folder(dir: &Path) -> Self {
        Self {
            config: dir.join("config.json"),
            weights: dir.join("model.safetensors"),
            tokenizer: dir.join("tokenizer.json"),
        }
    }
}

/// The longest input, in tokens, an embedding is computed on; longer texts
/// are truncated (sentence-transformers' `max_seq_length` for MiniLM).
pub const MAX_EMBED_TOKENS: usize = 256;

/// Why an embedding model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedderLoadError {
    /// A file is missing or unreadable.
    #[error("cannot read {path}: {source}\n  fix: {fix}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
        /// How to fix it.
        fix: &'static str,
    },
    /// A file was read but is not what a BERT embedder needs.
    #[error("{path}: {reason}\n  fix: {fix}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// How to fix it.
        fix: &'static str,
    },
}

const FILES_FIX: &str = "point at a sentence-transformers BERT model (config.json, \
     model.safetensors, tokenizer.json), or run `palisade fetch` for the default all-MiniLM-L6-v2";

/// Why texts could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The tokenizer failed on a text.
    #[error("tokenizing a text for embedding failed: {reason}")]
    Tokenize {
        /// What the tokenizer reported.
        reason: String,
    },
    /// The encoder failed.
    #[error("the embedding model failed: {reason}")]
    Model {
        /// What Candle reported.
        reason: String,
    },
}

impl From<candle_core::Error> for EmbedError {
    fn from(e: candle_core::Error) -> Self {
        EmbedError::Model {
            reason: e.to_string(),
        }
    }
}

/// A loaded sentence-embedding model.
pub struct SentenceEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dimension: usize,
}

impl std::fmt::Debug for SentenceEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEmbedder")
            .field("dimension", &self.dimension)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> EmbedderLoadError + '_ {
    move |source| EmbedderLoadError::Io {
        path: path.to_path_buf(),
        source,
        fix: FILES_FIX,
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedderLoadError> {
    std::fs::read(path).map_err(io_error(path))
}

fn invalid(path: &Path, reason: impl ToString) -> EmbedderLoadError {
    EmbedderLoadError::Invalid {
        path: path.to_path_buf(),
        reason: reason.to_string(),
        fix: FILES_FIX,
    }
}

impl SentenceEmbedder {
    /// Loads the model from `files` onto `device` (F32).
    pub fn load(files: &EmbedderFiles, device: &Device) -> Result<Self, EmbedderLoadError> {
        let config: Config = serde_json::from_slice(&read(&files.config)?)
            .map_err(|e| invalid(&files.config, format!("not a BERT config: {e}")))?;
        let mut tokenizer = Tokenizer::from_bytes(read(&files.tokenizer)?)
            .map_err(|e| invalid(&files.tokenizer, format!("not a tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_EMBED_TOKENS.min(config.max_position_embeddings),
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| invalid(&files.tokenizer, e))?;
        // Opening (not reading) the weights turns a missing or unreadable file into an I/O
        // error naming it; candle then reads them once.
        std::fs::File::open(&files.weights).map_err(io_error(&files.weights))?;
        let tensors = candle_core::safetensors::load(&files.weights, device)
            .map_err(|e| invalid(&files.weights, e))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let model = BertModel::load(vb, &config).map_err(|e| {
            invalid(
                &files.weights,
                format!("not the weights of {:?}: {e}", files.config),
            )
        })?;
        Ok(Self {
            model,
            tokenizer,
            device: device.clone(),
            dimension: config.hidden_size,
        })
    }

    /// Loads the model from `files` onto the CPU: the embedder is small, and
    /// runs once per answer.
    pub fn load_cpu(files: &EmbedderFiles) -> Result<Self, EmbedderLoadError> {
        Self::load(files, &Device::Cpu)
    }

    /// The length of every embedding.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The unit-length embedding of each text, in order. Texts are encoded in
    /// one padded batch; an empty text embeds its special tokens only.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Tokenize {
                reason: e.to_string(),
            })?;
        let width = encodings.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let rows = encodings.len();
        let mut ids = vec![0u32; rows * width];
        let mut mask = vec![0u32; rows * width];
        for (r, encoding) in encodings.iter().enumerate() {
            for (c, (&id, &m)) in encoding
                .get_ids()
                .iter()
                .zip(encoding.get_attention_mask())
                .enumerate()
            {
                ids[r * width + c] = id;
                mask[r * width + c] = m;
            }
        }
        let ids = Tensor::from_vec(ids, (rows, width), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, width), &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens, then unit length.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1.0, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let unit = mean.broadcast_div(&norms)?;
        Ok(unit.to_vec2::<f32>()?)
    }
}

/// The cosine similarity of two unit-length embeddings (their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = SentenceEmbedder::load(&EmbedderFiles::in_folder(dir.path()), &Device::Cpu)
            .expect_err("empty folder");
        let text = err.to_string();
        assert!(text.contains("config.json"), "{text}");
        assert!(text.contains("palisade fetch"), "{text}");
    }

    #[test]
    fn a_config_that_is_not_bert_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("config.json"),
            br#"{"model_type": "llama"}"#,
        )
        .expect("write");
        let err = SentenceEmbedder::load(&EmbedderFiles::in_folder(dir.path()), &Device::Cpu)
            .expect_err("not bert");
        assert!(err.to_string().contains("not a BERT config"), "{err}");
    }

    #[test]
    fn cosine_of_unit_vectors() {
        assert!((cosine(&[0.6, 0.8], &[0.6, 0.8]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
    }
}
