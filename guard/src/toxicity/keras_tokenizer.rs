//! A word tokenizer that reproduces Keras' legacy `Tokenizer.texts_to_sequences` exactly.
//!
//! Keras (`keras.src.legacy.preprocessing.text`) lower-cases the whole text with Python's
//! `str.lower`, replaces every character of `filters` with `split` (a single space), splits on
//! that one character (not on other white space: `\r` or a no-break space stay inside words),
//! drops empty pieces, and keeps the words whose index is below `num_words` (the rest become the
//! OOV id when `oov_token` is set, else vanish). This module does the same and also records, for
//! each kept word, its byte span in the original text, so that a toxic window can be reported
//! where it is.
//!
//! Rust's `str::to_lowercase` and Python's `str.lower` both apply Unicode's default case mapping
//! with the context-dependent final sigma; the text is lowered as a whole for that reason.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

/// The preprocessing settings stored next to the model (`<model>.config.json`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct KerasConfig {
    /// Model name.
    pub model: String,
    /// Output labels, in column order.
    pub labels: Vec<String>,
    /// Name of the int64 `[batch, maxlen]` input.
    pub input_name: String,
    /// Name of the float `[batch, labels]` output.
    pub output_name: String,
    /// Window length in tokens.
    pub maxlen: usize,
    /// `pre`: padding goes before the ids (the only layout this runtime builds).
    pub padding: String,
    /// Id used for padding.
    pub pad_id: i64,
    /// Words with an index at or above this are out of vocabulary.
    pub num_words: i64,
    /// Whether text is lower-cased first.
    pub lower: bool,
    /// Characters replaced by `split`.
    pub filters: String,
    /// The split character (Keras' `split`, a one-character string).
    pub split: String,
    /// The OOV word, if the tokenizer had one.
    pub oov_token: Option<String>,
}

/// One kept word: its vocabulary id and byte span in the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// Vocabulary id (1-based, below `num_words`).
    pub id: i64,
    /// Byte offset of the word's first character.
    pub start: usize,
    /// Byte offset one past the word's last character.
    pub end: usize,
}

/// The Keras word tokenizer with its vocabulary.
#[derive(Debug, Clone)]
pub struct KerasTokenizer {
    vocab: HashMap<String, i64>,
    filters: Vec<char>,
    split: char,
    lower: bool,
    num_words: i64,
    oov_id: Option<i64>,
}

impl KerasTokenizer {
    /// Builds the tokenizer from a config and a `word -> id` vocabulary.
    pub fn new(config: &KerasConfig, vocab: HashMap<String, i64>) -> Result<Self, String> {
        let mut split_chars = config.split.chars();
        let split = match (split_chars.next(), split_chars.next()) {
            (Some(c), None) => c,
            _ => {
                return Err(format!(
                    "`split` must be one character, got {:?}",
                    config.split
                ));
            }
        };
        if config.padding != "pre" {
            return Err(format!(
                "padding {:?} is not supported (only \"pre\")",
                config.padding
            ));
        }
        let oov_id = match &config.oov_token {
            Some(w) => Some(
                *vocab
                    .get(w)
                    .ok_or_else(|| format!("oov_token {w:?} is not in the vocabulary"))?,
            ),
            None => None,
        };
        Ok(KerasTokenizer {
            vocab,
            filters: config.filters.chars().collect(),
            split,
            lower: config.lower,
            num_words: config.num_words,
            oov_id,
        })
    }

    /// Reads `<dir>/<model>.vocab.json` style files: a JSON object `{"word": id, ...}`.
    pub fn read_vocab(bytes: &[u8]) -> Result<HashMap<String, i64>, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON object of word ids: {e}"))
    }

    /// Reads a vocabulary file.
    pub fn read_vocab_file(path: &Path) -> Result<HashMap<String, i64>, String> {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        Self::read_vocab(&bytes)
    }

    /// Number of vocabulary entries.
    pub fn vocab_len(&self) -> usize {
        self.vocab.len()
    }

    fn is_separator(&self, c: char) -> bool {
        c == self.split || self.filters.contains(&c)
    }

    fn id_of(&self, word: &str) -> Option<i64> {
        match self.vocab.get(word) {
            Some(&i) if self.num_words <= 0 || i < self.num_words => Some(i),
            _ => self.oov_id,
        }
    }

    /// The ids Keras would produce for `text`, with each word's byte span in `text`.
    pub fn tokenize(&self, text: &str) -> Vec<Token> {
        let lowered;
        // Lower-cased characters of the whole text, consumed in step with the original ones.
        let mut lower_chars = if self.lower {
            lowered = text.to_lowercase();
            Some(lowered.chars())
        } else {
            None
        };
        let mut out = Vec::new();
        let mut word = String::new();
        let mut word_start = 0;
        for (i, c) in text.char_indices() {
            let piece_len = if self.lower {
                c.to_lowercase().count()
            } else {
                1
            };
            // Separators are ASCII and their own lower case, so they line up in both strings.
            if self.is_separator(c) {
                if let Some(it) = lower_chars.as_mut() {
                    it.next();
                }
                self.flush(&mut word, word_start, i, &mut out);
                continue;
            }
            if word.is_empty() {
                word_start = i;
            }
            match lower_chars.as_mut() {
                Some(it) => word.extend(it.by_ref().take(piece_len)),
                None => word.push(c),
            }
        }
        self.flush(&mut word, word_start, text.len(), &mut out);
        out
    }

    fn flush(&self, word: &mut String, start: usize, end: usize, out: &mut Vec<Token>) {
        if word.is_empty() {
            return;
        }
        if let Some(id) = self.id_of(word) {
            out.push(Token { id, start, end });
        }
        word.clear();
    }
}

/// Loads `config.json` bytes.
pub fn read_config(bytes: &[u8]) -> Result<KerasConfig, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not a Keras tokenizer config: {e}"))
}
