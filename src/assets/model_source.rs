//! Which model file or folder to load: a local path, a Hugging Face Hub name (cargo feature
//! `hub`), or the default model from the asset cache.

use std::path::{Path, PathBuf};

use super::{AssetCache, MissingAsset, SMOLLM2_135M_INSTRUCT};

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
