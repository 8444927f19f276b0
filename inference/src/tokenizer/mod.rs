//! Tokenizer loading: a `tokenizer.json` next to the model wins; otherwise the tokenizer is
//! rebuilt from the GGUF metadata (see [`gguf`]).

pub mod bytes;
pub mod gguf;
pub mod spm;

use std::path::{Path, PathBuf};

use tokenizers::Tokenizer;

use crate::error::LoadError;
use crate::gguf_meta::{GgufMeta, open_gguf};
pub use gguf::{SpecialIds, tokenizer_from_gguf};

/// Where a loaded tokenizer came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSource {
    /// A `tokenizer.json` file next to the model.
    File(PathBuf),
    /// Rebuilt from the model's GGUF metadata.
    GgufMetadata,
}

/// The `tokenizer.json` that would override the GGUF metadata for `model_path`.
pub fn sidecar_tokenizer_path(model_path: &Path) -> PathBuf {
    model_path.with_file_name("tokenizer.json")
}

/// Loads the tokenizer for the GGUF model at `meta.path()`.
pub fn load_for_gguf(
    meta: &GgufMeta<'_>,
) -> Result<(Tokenizer, SpecialIds, TokenizerSource), LoadError> {
    let sidecar = sidecar_tokenizer_path(meta.path());
    if sidecar.is_file() {
        let tokenizer = Tokenizer::from_file(&sidecar).map_err(|e| LoadError::Tokenizer {
            source_desc: sidecar.display().to_string(),
            reason: e.to_string(),
            fix: "remove or replace the invalid tokenizer.json; without it the tokenizer is \
                  rebuilt from the GGUF metadata"
                .to_string(),
        })?;
        let specials = SpecialIds::from_meta(meta)?;
        return Ok((tokenizer, specials, TokenizerSource::File(sidecar)));
    }
    let (tokenizer, specials) = tokenizer_from_gguf(meta)?;
    Ok((tokenizer, specials, TokenizerSource::GgufMetadata))
}

/// Loads only the tokenizer of the GGUF file at `path` (reads the header and metadata, not the
/// weights); a `tokenizer.json` next to the file wins, as in [`load_for_gguf`].
pub fn load_gguf_tokenizer(
    path: &Path,
) -> Result<(Tokenizer, SpecialIds, TokenizerSource), LoadError> {
    let (_file, content) = open_gguf(path)?;
    load_for_gguf(&GgufMeta::new(path, &content.metadata))
}
