//! The model files: the copies built into the binary, or a folder that replaces them.
//!
//! Each model `NAME` is `NAME.onnx`, plus `NAME.vocab.json` and `NAME.config.json` for the Keras
//! model, as written by `tools/convert_toxicity.py` into `models/toxicity/`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::error::ToxicityError;

/// The Keras Jigsaw BiLSTM (6 labels, word ids in, probabilities out).
pub const JIGSAW_BILSTM: &str = "jigsaw-bilstm";
/// The TF-IDF + linear SVM profanity model (strings in).
pub const PROFANITY_SVM: &str = "profanity-svm";
/// Every model this build knows.
pub const KNOWN_MODELS: [&str; 2] = [JIGSAW_BILSTM, PROFANITY_SVM];

macro_rules! model_file {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/toxicity/",
            $name
        ))
    };
}

fn embedded(file: &str) -> Option<&'static [u8]> {
    Some(match file {
        "jigsaw-bilstm.onnx" => model_file!("jigsaw-bilstm.onnx"),
        "jigsaw-bilstm.vocab.json" => model_file!("jigsaw-bilstm.vocab.json"),
        "jigsaw-bilstm.config.json" => model_file!("jigsaw-bilstm.config.json"),
        "profanity-svm.onnx" => model_file!("profanity-svm.onnx"),
        _ => return None,
    })
}

/// Where a model's files are read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelSource {
    /// The copies built into the binary.
    Embedded,
    /// A folder holding `NAME.onnx` and its companions.
    Dir(PathBuf),
}

impl ModelSource {
    /// `Dir(dir)` when a folder is given, else `Embedded`.
    pub fn from_dir(dir: Option<&Path>) -> Self {
        dir.map_or(ModelSource::Embedded, |d| ModelSource::Dir(d.to_path_buf()))
    }

    /// The path of `file` in the folder, or `None` for embedded models.
    pub fn path(&self, file: &str) -> Option<PathBuf> {
        match self {
            ModelSource::Embedded => None,
            ModelSource::Dir(d) => Some(d.join(file)),
        }
    }

    /// Reads one companion file (`what` names it in errors).
    pub fn read(
        &self,
        model: &str,
        file: &str,
        what: &'static str,
    ) -> Result<Cow<'static, [u8]>, ToxicityError> {
        match self {
            ModelSource::Embedded => {
                embedded(file)
                    .map(Cow::Borrowed)
                    .ok_or_else(|| ToxicityError::ModelFile {
                        model: model.to_owned(),
                        what,
                        path: PathBuf::from(format!("(embedded) {file}")),
                        reason: "not built into this binary".to_owned(),
                    })
            }
            ModelSource::Dir(d) => {
                let path = d.join(file);
                std::fs::read(&path)
                    .map(Cow::Owned)
                    .map_err(|e| ToxicityError::ModelFile {
                        model: model.to_owned(),
                        what,
                        path,
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// The embedded ONNX bytes of `model`, if it is built in and the source is `Embedded`.
    pub fn embedded_graph(&self, model: &str) -> Option<&'static [u8]> {
        match self {
            ModelSource::Embedded => embedded(&format!("{model}.onnx")),
            ModelSource::Dir(_) => None,
        }
    }
}

/// Checks that `name` is a known model.
pub fn check_known(name: &str) -> Result<(), ToxicityError> {
    if KNOWN_MODELS.contains(&name) {
        Ok(())
    } else {
        Err(ToxicityError::UnknownModel {
            name: name.to_owned(),
            known: KNOWN_MODELS.join(", "),
        })
    }
}
