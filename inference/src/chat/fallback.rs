//! Built-in chat templates for models whose file carries no `tokenizer.chat_template`.
//!
//! The family is detected from the turn markers present in the vocabulary, which is more
//! reliable than `general.architecture` (SmolLM2 and Llama 3 are both `llama` but use ChatML
//! and the Llama 3 header format respectively).

use tokenizers::Tokenizer;

/// Chat formats with a built-in template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateFamily {
    /// `<|im_start|>role\n...<|im_end|>` (SmolLM, Qwen2, many others). The default.
    ChatMl,
    /// Llama 3: `<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>`.
    Llama3,
    /// Phi-3: `<|role|>\n...<|end|>`.
    Phi3,
    /// Gemma: `<start_of_turn>role\n...<end_of_turn>` (assistant is called `model`).
    Gemma,
}

const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const LLAMA3: &str = "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + (message['content'] | trim) + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

const PHI3: &str = "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

const GEMMA: &str = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = 'user' %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + (message['content'] | trim) + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";

impl TemplateFamily {
    /// The Jinja source of the built-in template.
    pub fn template(self) -> &'static str {
        match self {
            TemplateFamily::ChatMl => CHATML,
            TemplateFamily::Llama3 => LLAMA3,
            TemplateFamily::Phi3 => PHI3,
            TemplateFamily::Gemma => GEMMA,
        }
    }

    /// Token strings that end an assistant turn in this format.
    pub fn end_of_turn_tokens(self) -> &'static [&'static str] {
        match self {
            TemplateFamily::ChatMl => &["<|im_end|>"],
            TemplateFamily::Llama3 => &["<|eot_id|>"],
            TemplateFamily::Phi3 => &["<|end|>"],
            TemplateFamily::Gemma => &["<end_of_turn>"],
        }
    }
}

/// Picks the chat format from the turn markers in the tokenizer's vocabulary (ChatML when none
/// is recognised).
pub fn detect_family(tokenizer: &Tokenizer) -> TemplateFamily {
    family_from_vocabulary(tokenizer).unwrap_or(TemplateFamily::ChatMl)
}

/// Picks the chat format from the vocabulary's turn markers; when none is recognised, from the
/// model architecture (`general.architecture` or Hugging Face `model_type`); ChatML otherwise.
pub fn detect_family_for(tokenizer: &Tokenizer, architecture: &str) -> TemplateFamily {
    family_from_vocabulary(tokenizer)
        .or_else(|| family_for_architecture(architecture))
        .unwrap_or(TemplateFamily::ChatMl)
}

/// The chat format models of an architecture are trained with, when it is fixed by the family
/// (Llama fine-tunes use several formats, so `llama` has none).
pub fn family_for_architecture(architecture: &str) -> Option<TemplateFamily> {
    match architecture {
        "qwen2" | "qwen3" => Some(TemplateFamily::ChatMl),
        "phi3" => Some(TemplateFamily::Phi3),
        "gemma" | "gemma2" | "gemma3" | "gemma3_text" => Some(TemplateFamily::Gemma),
        _ => None,
    }
}

fn family_from_vocabulary(tokenizer: &Tokenizer) -> Option<TemplateFamily> {
    let has = |t: &str| tokenizer.token_to_id(t).is_some();
    if has("<|im_start|>") && has("<|im_end|>") {
        Some(TemplateFamily::ChatMl)
    } else if has("<|start_header_id|>") && has("<|eot_id|>") {
        Some(TemplateFamily::Llama3)
    } else if has("<start_of_turn>") && has("<end_of_turn>") {
        Some(TemplateFamily::Gemma)
    } else if has("<|assistant|>") && has("<|end|>") {
        Some(TemplateFamily::Phi3)
    } else {
        None
    }
}
