//! Rebuilds a Hugging Face `tokenizers::Tokenizer` from a GGUF file's `tokenizer.ggml.*`
//! metadata (GGUF files ship no tokenizer.json).
//!
//! Supported: `tokenizer.ggml.model = "gpt2"` (byte-level BPE) and `"llama"` (SentencePiece
//! BPE with byte fallback, see [`super::spm`]). The byte-level pre-tokenizer follows
//! `tokenizer.ggml.pre` the way llama.cpp (`llama-vocab.cpp`) does:
//!
//! | `pre` | split |
//! |---|---|
//! | `smollm`, `starcoder`, `refact`, `command-r`, `codeshell`, `exaone`, `minerva` | every digit isolated, then the GPT-2 regex |
//! | `llama3`, `llama-bpe`, `llama-v3`, `falcon3`, `dbrx`, `smaug-bpe`, `pixtral`, ... | Llama 3 regex |
//! | `qwen2`, `deepseek-r1-qwen`, `megrez` | Qwen2 regex |
//! | anything else (`default`, `gpt2`, absent) | the GPT-2 regex |
//!
//! Tokens whose `token_type` is 3 (control) become added *special* tokens (matched whole,
//! removed by `decode(.., skip_special_tokens = true)`); type 4 (user-defined) become plain
//! added tokens. The BOS/EOS/padding tokens are always treated as special.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use super::spm::{SpmOptions, sentencepiece_bpe};
use crate::error::LoadError;
use crate::gguf_meta::GgufMeta;

/// GGUF `token_type` value of a control (special) token.
const TOKEN_TYPE_CONTROL: i64 = 3;
/// GGUF `token_type` value of a user-defined added token.
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Special-token ids recorded in the GGUF metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialIds {
    /// `tokenizer.ggml.bos_token_id`.
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos: Option<u32>,
    /// `tokenizer.ggml.padding_token_id`.
    pub pad: Option<u32>,
    /// `tokenizer.ggml.add_bos_token` (when absent: true for SentencePiece, false for
    /// byte-level BPE, as in llama.cpp).
    pub add_bos: bool,
}

impl SpecialIds {
    /// Reads the special ids from GGUF metadata.
    pub fn from_meta(meta: &GgufMeta<'_>) -> Result<Self, LoadError> {
        Ok(Self {
            bos: meta.opt_u32("tokenizer.ggml.bos_token_id")?,
            eos: meta.opt_u32("tokenizer.ggml.eos_token_id")?,
            pad: meta.opt_u32("tokenizer.ggml.padding_token_id")?,
            // llama.cpp's default: SentencePiece vocabularies add BOS, byte-level BPE does not.
            add_bos: match meta.opt_bool("tokenizer.ggml.add_bos_token")? {
                Some(add) => add,
                None => meta.opt_str("tokenizer.ggml.model")? == Some("llama"),
            },
        })
    }
}

fn tokenizer_error(meta: &GgufMeta<'_>, reason: impl Into<String>) -> LoadError {
    LoadError::Tokenizer {
        source_desc: format!("the GGUF metadata of {}", meta.path().display()),
        reason: reason.into(),
        fix: "place the model's original tokenizer.json next to the .gguf file; it is used \
              instead of the metadata"
            .to_string(),
    }
}

/// Refuses a per-token array (`what`) whose length is not the vocabulary's.
fn check_per_token<T>(
    meta: &GgufMeta<'_>,
    what: &str,
    values: Option<&[T]>,
    tokens: usize,
) -> Result<(), LoadError> {
    match values {
        Some(v) if v.len() != tokens => Err(tokenizer_error(
            meta,
            format!("{} {what} for {tokens} tokens", v.len()),
        )),
        _ => Ok(()),
    }
}

/// Builds the pre-tokenizer that llama.cpp uses for `tokenizer.ggml.pre = pre`.
pub fn pre_tokenizer_for(pre: Option<&str>) -> Result<PreTokenizerWrapper, String> {
    let split = |regex: &str| -> Result<PreTokenizerWrapper, String> {
        let split = Split::new(
            SplitPattern::Regex(regex.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| format!("split regex does not compile: {e}"))?;
        Ok(Sequence::new(vec![
            split.into(),
            ByteLevel::new(false, true, false).into(),
        ])
        .into())
    };
    match pre.unwrap_or("default") {
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva" => {
            Ok(Sequence::new(vec![
                Digits::new(true).into(),
                ByteLevel::new(false, true, true).into(),
            ])
            .into())
        }
        "llama3" | "llama-bpe" | "llama-v3" | "falcon3" | "falcon-h1" | "pixtral" | "dbrx"
        | "smaug-bpe" | "midm-2.0" | "lfm2" => split(LLAMA3_SPLIT),
        "qwen2" | "deepseek-r1-qwen" | "megrez" => split(QWEN2_SPLIT),
        _ => Ok(ByteLevel::new(false, true, true).into()),
    }
}

/// Builds the tokenizer described by the `tokenizer.ggml.*` metadata of a GGUF file.
pub fn tokenizer_from_gguf(meta: &GgufMeta<'_>) -> Result<(Tokenizer, SpecialIds), LoadError> {
    let model = meta.str("tokenizer.ggml.model")?;
    let tokens = meta.str_array("tokenizer.ggml.tokens")?;
    let token_types = meta.opt_int_array("tokenizer.ggml.token_type")?;
    check_per_token(meta, "token types", token_types.as_deref(), tokens.len())?;
    let specials = SpecialIds::from_meta(meta)?;
    let mut tokenizer = match model {
        "gpt2" => byte_level_bpe(meta, &tokens)?,
        "llama" => sentencepiece(meta, &tokens)?,
        other => {
            return Err(tokenizer_error(
                meta,
                format!(
                    "tokenizer.ggml.model = `{other}` cannot be rebuilt from GGUF metadata \
                     (supported: `gpt2` byte-level BPE, `llama` SentencePiece)"
                ),
            ));
        }
    };
    add_vocabulary_tokens(
        meta,
        &mut tokenizer,
        &tokens,
        token_types.as_deref(),
        &specials,
    )?;
    Ok((tokenizer, specials))
}

/// The SentencePiece tokenizer of a `tokenizer.ggml.model = "llama"` vocabulary.
fn sentencepiece(meta: &GgufMeta<'_>, tokens: &[&str]) -> Result<Tokenizer, LoadError> {
    let scores = meta.opt_f32_array("tokenizer.ggml.scores")?;
    check_per_token(meta, "scores", scores.as_deref(), tokens.len())?;
    let unk = match meta.opt_u32("tokenizer.ggml.unknown_token_id")? {
        Some(id) => tokens.get(id as usize).copied(),
        None => tokens.iter().copied().find(|t| *t == "<unk>"),
    };
    let options = SpmOptions {
        scores: scores.as_deref(),
        unk,
        add_space_prefix: meta
            .opt_bool("tokenizer.ggml.add_space_prefix")?
            .unwrap_or(true),
    };
    sentencepiece_bpe(tokens, options).map_err(|e| tokenizer_error(meta, e))
}

/// The byte-level BPE tokenizer of a `tokenizer.ggml.model = "gpt2"` vocabulary.
fn byte_level_bpe(meta: &GgufMeta<'_>, tokens: &[&str]) -> Result<Tokenizer, LoadError> {
    let merges = meta.str_array("tokenizer.ggml.merges")?;
    let mut vocab = Vocab::with_capacity(tokens.len());
    for (id, token) in tokens.iter().enumerate() {
        let id = u32::try_from(id).map_err(|_| tokenizer_error(meta, "vocabulary too large"))?;
        // Keep the first id when a token string repeats (llama.cpp does the same).
        vocab.entry((*token).to_string()).or_insert(id);
    }
    let merges = merges
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| tokenizer_error(meta, format!("merge `{m}` has no space")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| tokenizer_error(meta, format!("BPE model: {e}")))?;

    let mut tokenizer = Tokenizer::new(bpe);
    let pre = meta.opt_str("tokenizer.ggml.pre")?;
    let pre_tokenizer = pre_tokenizer_for(pre).map_err(|e| tokenizer_error(meta, e))?;
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    Ok(tokenizer)
}

/// Adds the control tokens (and BOS/EOS/padding) as special tokens and the user-defined ones
/// as plain added tokens.
fn add_vocabulary_tokens(
    meta: &GgufMeta<'_>,
    tokenizer: &mut Tokenizer,
    tokens: &[&str],
    token_types: Option<&[i64]>,
    specials: &SpecialIds,
) -> Result<(), LoadError> {
    let mut special = Vec::new();
    let mut user_defined = Vec::new();
    let forced: Vec<u32> = [specials.bos, specials.eos, specials.pad]
        .into_iter()
        .flatten()
        .collect();
    for (id, token) in tokens.iter().enumerate() {
        let ty = token_types.and_then(|t| t.get(id).copied());
        let forced_special = u32::try_from(id).is_ok_and(|id| forced.contains(&id));
        if ty == Some(TOKEN_TYPE_CONTROL) || forced_special {
            special.push(AddedToken::from(*token, true).normalized(false));
        } else if ty == Some(TOKEN_TYPE_USER_DEFINED) {
            user_defined.push(AddedToken::from(*token, false).normalized(false));
        }
    }
    tokenizer
        .add_special_tokens(special)
        .map_err(|e| tokenizer_error(meta, format!("adding special tokens: {e}")))?;
    tokenizer
        .add_tokens(user_defined)
        .map_err(|e| tokenizer_error(meta, format!("adding user-defined tokens: {e}")))?;
    Ok(())
}
