//! Incremental detokenization that never releases an incomplete UTF-8 character.
//!
//! Byte-level BPE tokens can end in the middle of a multi-byte character (an emoji is often
//! split over several tokens); decoding such a prefix yields U+FFFD. The decoder keeps a small
//! window of ids (`prefix_offset..`), decodes it with and without the newest token, and emits
//! the difference only when it does not end in U+FFFD — the technique of Hugging Face's
//! text-generation-inference. Decoding a window (not single tokens) also keeps decoders that
//! strip a leading space (SentencePiece `Metaspace`) correct.

use tokenizers::Tokenizer;

/// Streams text deltas for a growing list of generated token ids.
#[derive(Debug, Clone, Default)]
pub struct IncrementalDecoder {
    ids: Vec<u32>,
    prefix_offset: usize,
    read_offset: usize,
    skip_special_tokens: bool,
}

impl IncrementalDecoder {
    /// A decoder; with `skip_special_tokens`, special tokens produce no text.
    pub fn new(skip_special_tokens: bool) -> Self {
        Self {
            skip_special_tokens,
            ..Self::default()
        }
    }

    fn decode(&self, tokenizer: &Tokenizer, ids: &[u32]) -> Result<String, String> {
        tokenizer
            .decode(ids, self.skip_special_tokens)
            .map_err(|e| e.to_string())
    }

    /// Adds `id` and returns the text it completes (possibly empty).
    pub fn push(&mut self, tokenizer: &Tokenizer, id: u32) -> Result<String, String> {
        self.ids.push(id);
        let prefix = self.decode(tokenizer, &self.ids[self.prefix_offset..self.read_offset])?;
        let full = self.decode(tokenizer, &self.ids[self.prefix_offset..])?;
        if full.len() > prefix.len() && !full.ends_with('\u{FFFD}') && full.starts_with(&prefix) {
            let delta = full[prefix.len()..].to_string();
            self.prefix_offset = self.read_offset;
            self.read_offset = self.ids.len();
            Ok(delta)
        } else {
            Ok(String::new())
        }
    }

    /// Returns whatever text is still held back (an incomplete character decodes to U+FFFD)
    /// and empties the window. After `flush`, the concatenation of all returned deltas equals
    /// `tokenizer.decode(all ids)`.
    pub fn flush(&mut self, tokenizer: &Tokenizer) -> Result<String, String> {
        if self.read_offset == self.ids.len() {
            return Ok(String::new());
        }
        let prefix = self.decode(tokenizer, &self.ids[self.prefix_offset..self.read_offset])?;
        let full = self.decode(tokenizer, &self.ids[self.prefix_offset..])?;
        self.prefix_offset = self.read_offset;
        self.read_offset = self.ids.len();
        Ok(full.get(prefix.len()..).unwrap_or_default().to_string())
    }

    /// All ids pushed so far.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }
}
