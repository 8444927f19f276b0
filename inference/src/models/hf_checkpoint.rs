//! Files of a Hugging Face checkpoint directory, shared by the safetensors families:
//! `config.json`, and `model.safetensors` or the shards of `model.safetensors.index.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::error::LoadError;

/// Safetensors `model_type`s this crate can run (`config.json`).
pub const SUPPORTED_SAFETENSORS_ARCHITECTURES: &[&str] =
    &["llama", "qwen2", "phi3", "gemma2", "gemma3_text", "gemma3"];

/// A [`LoadError::Weights`] for a file of the checkpoint.
pub fn weights_error(path: &Path, reason: impl Into<String>) -> LoadError {
    LoadError::Weights {
        path: path.to_path_buf(),
        reason: reason.into(),
        fix: "the directory must hold a Hugging Face checkpoint of a supported family: \
              config.json and model.safetensors (or shards listed in \
              model.safetensors.index.json)"
            .to_string(),
    }
}

/// The path and text of `dir/config.json`.
pub fn read_config_text(dir: &Path) -> Result<(PathBuf, String), LoadError> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            LoadError::ModelNotFound { path: path.clone() }
        } else {
            LoadError::Io {
                path: path.clone(),
                source,
            }
        }
    })?;
    Ok((path, text))
}

/// `dir/config.json` as JSON.
pub fn read_config_json(dir: &Path) -> Result<serde_json::Value, LoadError> {
    let (path, text) = read_config_text(dir)?;
    serde_json::from_str(&text).map_err(|e| weights_error(&path, format!("config.json: {e}")))
}

/// The architecture of a checkpoint: `model_type`, else derived from `architectures[0]`
/// (`Qwen2ForCausalLM` -> `qwen2`); `llama` when neither is present.
pub fn model_type(config: &serde_json::Value) -> String {
    if let Some(t) = config.get("model_type").and_then(|t| t.as_str()) {
        return t.to_string();
    }
    config
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(|a| a.as_str())
        .map(|a| a.trim_end_matches("ForCausalLM").to_ascii_lowercase())
        .unwrap_or_else(|| "llama".to_string())
}

/// Token ids of a `config.json` entry such as `eos_token_id` (a number or a list).
pub fn config_token_ids(config: &serde_json::Value, key: &str) -> Vec<u32> {
    let id = |v: &serde_json::Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
    match config.get(key) {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(id).collect(),
        Some(v) => id(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// The safetensors files of the checkpoint in `dir` (one file, or the shards of an index).
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    let text = std::fs::read_to_string(&index).map_err(|_| LoadError::ModelNotFound {
        path: single.clone(),
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| weights_error(&index, format!("index: {e}")))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| weights_error(&index, "index has no `weight_map` object"))?;
    let mut files: Vec<PathBuf> = map
        .values()
        .filter_map(|v| v.as_str())
        .map(|f| dir.join(f))
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// Every tensor of the checkpoint in `dir`, loaded onto `device`.
pub fn load_tensors(dir: &Path, device: &Device) -> Result<HashMap<String, Tensor>, LoadError> {
    let mut tensors = HashMap::new();
    for file in weight_files(dir)? {
        let part = candle_core::safetensors::load(&file, device)
            .map_err(|e| weights_error(&file, e.to_string()))?;
        tensors.extend(part);
    }
    Ok(tensors)
}
