//! Which model file or folder to load: a local path, a Hugging Face Hub name (cargo feature
//! `hub`), or the default model from the asset cache.

use std::path::{Path, PathBuf};

use palisade_inference::embedding::{EmbedderFiles, EmbedderLoadError, SentenceEmbedder};

use super::{
    AssetCache, MINILM_CONFIG, MINILM_TOKENIZER, MINILM_WEIGHTS, MissingAsset,
    SMOLLM2_135M_INSTRUCT,
};

/// Why the model to load could not be found.
#[derive(Debug, thiserror::Error)]
pub enum ModelSourceError {
    /// The default model is not in the asset cache.
    #[error(transparent)]
    Missing(#[from] MissingAsset),
    /// A Hub model could not be fetched.
    #[cfg(feature = "hub")]
    #[error(transparent)]
    Hub(#[from] palisade_inference::hub::HubError),
    /// A Hub model was named in a build without the `hub` feature.
    #[error(
        "`{name}` names a model on the Hugging Face Hub, but this build has no `hub` feature: \
         rebuild with `cargo build --release --features hub`, or download the files and pass \
         their local path"
    )]
    HubDisabled {
        /// The name given.
        name: String,
    },
}

/// The model to load: `given` (a local path, or `hf:OWNER/NAME[@REVISION][/FILE.gguf]`,
/// downloaded into the Hub's cache), or the default model from the asset cache.
pub fn resolve_model(given: Option<&Path>) -> Result<PathBuf, ModelSourceError> {
    let Some(path) = given else {
        return Ok(AssetCache::from_env().require(&SMOLLM2_135M_INSTRUCT)?);
    };
    match path.to_str().filter(|s| s.starts_with("hf:")) {
        Some(name) => fetch_from_hub(name),
        None => Ok(path.to_path_buf()),
    }
}

#[cfg(feature = "hub")]
fn fetch_from_hub(name: &str) -> Result<PathBuf, ModelSourceError> {
    use palisade_inference::hub::HubModel;
    Ok(HubModel::parse(name)?.fetch()?)
}

#[cfg(not(feature = "hub"))]
fn fetch_from_hub(name: &str) -> Result<PathBuf, ModelSourceError> {
    Err(ModelSourceError::HubDisabled {
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedder_choices_parse_and_an_empty_one_says_what_is_expected() {
        assert_eq!("off".parse(), Ok(EmbedderChoice::Off));
        assert_eq!("default".parse(), Ok(EmbedderChoice::Default));
        assert_eq!(
            "models/minilm".parse(),
            Ok(EmbedderChoice::Folder(PathBuf::from("models/minilm")))
        );
        let err = "".parse::<EmbedderChoice>().expect_err("empty");
        assert!(err.contains("`default`, `off` or a model folder"), "{err}");
    }

    #[test]
    fn local_paths_pass_through() {
        let p = Path::new("/models/x.gguf");
        assert_eq!(resolve_model(Some(p)).expect("local"), p);
    }

    #[cfg(not(feature = "hub"))]
    #[test]
    fn a_hub_name_without_the_feature_says_how_to_get_it() {
        let e = resolve_model(Some(Path::new("hf:owner/name/m.gguf")))
            .expect_err("no hub feature")
            .to_string();
        assert!(e.contains("--features hub"), "{e}");
        assert!(e.contains("hf:owner/name/m.gguf"), "{e}");
    }
}

/// Which sentence embedder the hallucination checks use (`--embedder`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbedderChoice {
    /// None: the embedding signals are not measured.
    Off,
    /// all-MiniLM-L6-v2 from the asset cache (`palisade fetch`).
    Default,
    /// A folder with `config.json`, `model.safetensors` and `tokenizer.json`.
    Folder(PathBuf),
}

impl std::str::FromStr for EmbedderChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" => Err("empty; expected `default`, `off` or a model folder".to_owned()),
            "off" => Ok(EmbedderChoice::Off),
            "default" => Ok(EmbedderChoice::Default),
            path => Ok(EmbedderChoice::Folder(PathBuf::from(path))),
        }
    }
}

/// Why the chosen embedder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedderError {
    /// The default embedder is not in the asset cache.
    #[error(transparent)]
    Missing(#[from] MissingAsset),
    /// The files are there but do not load.
    #[error(transparent)]
    Load(#[from] EmbedderLoadError),
}

impl EmbedderChoice {
    /// The model's files, or `None` when off.
    pub fn files(&self, cache: &AssetCache) -> Result<Option<EmbedderFiles>, MissingAsset> {
        Ok(match self {
            EmbedderChoice::Off => None,
            EmbedderChoice::Default => Some(EmbedderFiles {
                config: cache.require(&MINILM_CONFIG)?,
                weights: cache.require(&MINILM_WEIGHTS)?,
                tokenizer: cache.require(&MINILM_TOKENIZER)?,
            }),
            EmbedderChoice::Folder(dir) => Some(EmbedderFiles::in_folder(dir)),
        })
    }

    /// The loaded embedder (on the CPU), or `None` when off.
    pub fn load(&self, cache: &AssetCache) -> Result<Option<SentenceEmbedder>, EmbedderError> {
        match self.files(cache)? {
            Some(files) => Ok(Some(SentenceEmbedder::load_cpu(&files)?)),
            None => Ok(None),
        }
    }
}
