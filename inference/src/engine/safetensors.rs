//! Loading a Hugging Face checkpoint directory (safetensors) into an [`Engine`].

use std::path::Path;

use tokenizers::Tokenizer;

use super::{Engine, LoadOptions, stop_tokens};
use crate::chat::{ChatTemplate, detect_family_for};
use crate::error::LoadError;
use crate::models::CausalLm;
use crate::models::hf_checkpoint::{
    SUPPORTED_SAFETENSORS_ARCHITECTURES, config_token_ids, model_type, read_config_json,
};
use crate::models::llama_safetensors::{SafetensorsLlama, read_config};
use crate::models::{gemma2_safetensors, gemma3_safetensors, phi3_safetensors, qwen2_safetensors};
use crate::threads;
use crate::tokenizer::{SpecialIds, TokenizerSource};

/// A special-token entry of tokenizer_config.json: `"<s>"` or `{"content": "<s>", ...}`.
fn token_string(value: Option<&serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("content")?.as_str().map(str::to_string),
        _ => None,
    }
}

/// `chat_template` of tokenizer_config.json: a string, or a list of `{name, template}` (the
/// one named `default` is used, else the first).
fn chat_template_source(config: &serde_json::Value) -> Option<String> {
    match config.get("chat_template")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => {
            let template = |item: &serde_json::Value| {
                item.get("template")
                    .and_then(|t| t.as_str())
                    .map(str::to_string)
            };
            items
                .iter()
                .find(|i| i.get("name").and_then(|n| n.as_str()) == Some("default"))
                .and_then(template)
                .or_else(|| items.first().and_then(template))
        }
        _ => None,
    }
}

impl Engine {
    /// Loads a Hugging Face checkpoint directory of a supported family (`model_type` `llama`,
    /// `qwen2`, `phi3`, `gemma2` or `gemma3_text` in `config.json`, else from
    /// `architectures`; see [`SUPPORTED_SAFETENSORS_ARCHITECTURES`]): `config.json`,
    /// `model.safetensors` (or shards with `model.safetensors.index.json`), `tokenizer.json`,
    /// and optionally `tokenizer_config.json` (chat template, BOS/EOS strings,
    /// `add_bos_token`). F32, F16 and BF16 weights are converted to f32.
    pub fn load_safetensors(dir: &Path, opts: &LoadOptions) -> Result<Engine, LoadError> {
        let threads = threads::configure(opts.threads)?;
        let device = opts.device.open()?;
        // Fail early (before reading weights) on a missing, invalid or unsupported config.json.
        let config = read_config_json(dir)?;
        let architecture = model_type(&config);
        if !SUPPORTED_SAFETENSORS_ARCHITECTURES.contains(&architecture.as_str()) {
            return Err(LoadError::UnsupportedArchitecture {
                path: dir.join("config.json"),
                architecture,
                supported: SUPPORTED_SAFETENSORS_ARCHITECTURES.join(", "),
            });
        }
        if architecture == "llama" {
            read_config(dir)?;
        }
        let tokenizer_path = dir.join("tokenizer.json");
        if !tokenizer_path.is_file() {
            return Err(LoadError::ModelNotFound {
                path: tokenizer_path,
            });
        }
        let tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| LoadError::Tokenizer {
                source_desc: tokenizer_path.display().to_string(),
                reason: e.to_string(),
                fix: "replace tokenizer.json with the checkpoint's original file".to_string(),
            })?;
        let tokenizer_config_path = dir.join("tokenizer_config.json");
        let tokenizer_config: serde_json::Value =
            match std::fs::read_to_string(&tokenizer_config_path) {
                Ok(text) => serde_json::from_str(&text).map_err(|e| LoadError::Tokenizer {
                    source_desc: tokenizer_config_path.display().to_string(),
                    reason: e.to_string(),
                    fix: "fix or remove tokenizer_config.json".to_string(),
                })?,
                Err(_) => serde_json::Value::Null,
            };
        let bos_text = token_string(tokenizer_config.get("bos_token"));
        let eos_text = token_string(tokenizer_config.get("eos_token"));
        let model: Box<dyn CausalLm> = match architecture.as_str() {
            "qwen2" => Box::new(qwen2_safetensors::load(dir, &device)?),
            "phi3" => Box::new(phi3_safetensors::load(dir, &device)?),
            "gemma2" => Box::new(gemma2_safetensors::load(dir, &device)?),
            "gemma3" | "gemma3_text" => Box::new(gemma3_safetensors::load(dir, &device)?),
            _ => Box::new(SafetensorsLlama::load(dir, &device)?),
        };
        let config_eos = config_token_ids(&config, "eos_token_id");
        let specials = SpecialIds {
            bos: config_token_ids(&config, "bos_token_id")
                .first()
                .copied()
                .or_else(|| bos_text.as_deref().and_then(|t| tokenizer.token_to_id(t))),
            eos: config_eos
                .first()
                .copied()
                .or_else(|| eos_text.as_deref().and_then(|t| tokenizer.token_to_id(t))),
            pad: None,
            add_bos: tokenizer_config
                .get("add_bos_token")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
        };
        let token_text = |id: Option<u32>| id.and_then(|id| tokenizer.id_to_token(id));
        let bos = bos_text
            .or_else(|| token_text(specials.bos))
            .unwrap_or_default();
        let eos = eos_text
            .or_else(|| token_text(specials.eos))
            .unwrap_or_default();
        let family = detect_family_for(&tokenizer, &architecture);
        let template = match chat_template_source(&tokenizer_config) {
            Some(source) => ChatTemplate::new(&source, true, bos, eos),
            None => ChatTemplate::fallback(family, bos, eos),
        }
        .map_err(|e| LoadError::ChatTemplate {
            path: tokenizer_config_path.clone(),
            reason: format!("{e:#}"),
        })?;
        let mut stop = stop_tokens(&tokenizer, &specials, family);
        for id in config_eos {
            if !stop.contains(&id) {
                stop.push(id);
            }
        }
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".to_string());
        let context_length = model.context_length();
        Ok(Engine {
            model,
            tokenizer,
            stop_tokens: stop,
            context_length,
            name,
            path: dir.to_path_buf(),
            specials,
            template,
            tokenizer_source: TokenizerSource::File(tokenizer_path),
            threads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_config_shapes() {
        let v: serde_json::Value = serde_json::json!({
            "bos_token": {"content": "<s>", "lstrip": false},
            "eos_token": "</s>",
            "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]
        });
        assert_eq!(token_string(v.get("bos_token")).as_deref(), Some("<s>"));
        assert_eq!(token_string(v.get("eos_token")).as_deref(), Some("</s>"));
        assert_eq!(chat_template_source(&v).as_deref(), Some("D"));
        let v = serde_json::json!({"chat_template": "X"});
        assert_eq!(chat_template_source(&v).as_deref(), Some("X"));
        assert_eq!(chat_template_source(&serde_json::Value::Null), None);
    }
}
