//! Models from the Hugging Face Hub (cargo feature `hub`), for users with internet access.
//!
//! A model is named `hf:OWNER/NAME[@REVISION][/FILE.gguf]`: with a file, that GGUF file; without,
//! a safetensors checkpoint (`config.json`, `tokenizer.json`, the weights and, when present,
//! `tokenizer_config.json`). Files land in the Hub's own cache (`HF_HOME`, by default
//! `~/.cache/huggingface`) and the returned path loads with [`Engine::load`](crate::Engine::load).
//! `HF_ENDPOINT` points at a mirror and `HF_TOKEN` (or the cached login) opens gated models.
//!
//! Nothing else in Palisade needs the network: `make demo` and every test run from local files.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::{ApiBuilder, ApiRepo};
use hf_hub::{Repo, RepoType};

/// The prefix that marks a Hub model name.
pub const HUB_PREFIX: &str = "hf:";

/// A model on the Hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubModel {
    /// `OWNER/NAME`.
    pub repo: String,
    /// Branch, tag or commit; `main` when absent.
    pub revision: Option<String>,
    /// A GGUF file of the repository; `None` means a safetensors checkpoint.
    pub file: Option<String>,
}

/// Why a Hub model could not be named or fetched.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The name does not have the `hf:OWNER/NAME[@REVISION][/FILE.gguf]` shape.
    #[error("`{spec}` is not a Hub model name: write hf:OWNER/NAME[@REVISION][/FILE.gguf]")]
    BadName {
        /// The name given.
        spec: String,
    },
    /// The Hub client could not start (its cache folder, say).
    #[error("could not start the Hugging Face Hub client: {message}")]
    Client {
        /// What the client said.
        message: String,
    },
    /// A file could not be downloaded.
    #[error(
        "downloading `{file}` from {repo} on the Hugging Face Hub: {message} (HF_ENDPOINT sets \
         a mirror and HF_TOKEN opens gated models; without network, pass a local path instead)"
    )]
    Download {
        /// `OWNER/NAME`.
        repo: String,
        /// The file within the repository.
        file: String,
        /// What the client said.
        message: String,
    },
    /// The sharded checkpoint's index could not be read.
    #[error("reading the weight index {path}: {message}")]
    Index {
        /// The downloaded index.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

impl HubModel {
    /// Whether `spec` names a Hub model (starts with [`HUB_PREFIX`]).
    pub fn is_hub_name(spec: &str) -> bool {
        spec.starts_with(HUB_PREFIX)
    }

    /// Parses `hf:OWNER/NAME[@REVISION][/FILE.gguf]`.
    pub fn parse(spec: &str) -> Result<HubModel, HubError> {
        let bad = || HubError::BadName {
            spec: spec.to_owned(),
        };
        let rest = spec.strip_prefix(HUB_PREFIX).ok_or_else(bad)?;
        let mut parts = rest.splitn(3, '/');
        let owner = parts.next().filter(|p| !p.is_empty()).ok_or_else(bad)?;
        let name_rev = parts.next().filter(|p| !p.is_empty()).ok_or_else(bad)?;
        let file = parts.next().map(str::to_owned);
        if file
            .as_deref()
            .is_some_and(|f| f.is_empty() || !f.ends_with(".gguf"))
        {
            return Err(bad());
        }
        let (name, revision) = match name_rev.split_once('@') {
            Some((n, r)) if !n.is_empty() && !r.is_empty() => (n, Some(r.to_owned())),
            Some(_) => return Err(bad()),
            None => (name_rev, None),
        };
        Ok(HubModel {
            repo: format!("{owner}/{name}"),
            revision,
            file,
        })
    }

    /// Downloads what the model needs (or finds it in the cache) and returns the GGUF file or
    /// the checkpoint folder.
    pub fn fetch(&self) -> Result<PathBuf, HubError> {
        self.fetch_with(ApiBuilder::from_env())
    }

    fn fetch_with(&self, builder: ApiBuilder) -> Result<PathBuf, HubError> {
        let api = builder
            .with_progress(false)
            .build()
            .map_err(|e| HubError::Client {
                message: e.to_string(),
            })?;
        let revision = self.revision.clone().unwrap_or_else(|| "main".to_owned());
        let repo = api.repo(Repo::with_revision(
            self.repo.clone(),
            RepoType::Model,
            revision,
        ));
        if let Some(file) = &self.file {
            return self.get(&repo, file);
        }
        let config = self.get(&repo, "config.json")?;
        self.get(&repo, "tokenizer.json")?;
        // Optional: the chat template usually lives here.
        let _ = repo.get("tokenizer_config.json");
        match self.get(&repo, "model.safetensors") {
            Ok(_) => {}
            Err(single) => {
                let Ok(index) = repo.get("model.safetensors.index.json") else {
                    return Err(single);
                };
                for shard in shards(&index)? {
                    self.get(&repo, &shard)?;
                }
            }
        }
        Ok(config
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf))
    }

    fn get(&self, repo: &ApiRepo, file: &str) -> Result<PathBuf, HubError> {
        repo.get(file).map_err(|e| HubError::Download {
            repo: self.repo.clone(),
            file: file.to_owned(),
            message: e.to_string(),
        })
    }
}

/// The shard files a `model.safetensors.index.json` names, each once, in order.
fn shards(index: &Path) -> Result<Vec<String>, HubError> {
    let err = |message: String| HubError::Index {
        path: index.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(index).map_err(|e| err(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    let map = value
        .get("weight_map")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| err("no `weight_map` object".to_owned()))?;
    let mut files: Vec<String> = Vec::new();
    for v in map.values() {
        let f = v
            .as_str()
            .ok_or_else(|| err("a `weight_map` value is not a file name".to_owned()))?;
        if !files.iter().any(|x| x == f) {
            files.push(f.to_owned());
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_bad_names_say_how_to_write_them() {
        let m = HubModel::parse("hf:HuggingFaceTB/SmolLM2-135M-Instruct").expect("parses");
        assert_eq!(m.repo, "HuggingFaceTB/SmolLM2-135M-Instruct");
        assert_eq!((m.revision, m.file), (None, None));
        let m = HubModel::parse("hf:owner/name@v1.0/sub/model.Q4_1.gguf").expect("parses");
        assert_eq!(m.repo, "owner/name");
        assert_eq!(m.revision.as_deref(), Some("v1.0"));
        assert_eq!(m.file.as_deref(), Some("sub/model.Q4_1.gguf"));
        for bad in [
            "owner/name",
            "hf:owner",
            "hf:/name",
            "hf:owner/",
            "hf:owner/name@",
            "hf:owner/name/weights.bin",
        ] {
            let e = HubModel::parse(bad).expect_err(bad).to_string();
            assert!(e.contains("hf:OWNER/NAME"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_unreachable_file_names_the_repository_the_file_and_the_way_out() {
        // A stand-in Hub that has nothing: every request gets 404.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = [0u8; 4096];
                let _ = std::io::Read::read(&mut stream, &mut buf);
                let _ = std::io::Write::write_all(
                    &mut stream,
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        let cache = tempfile::tempdir().expect("tempdir");
        let builder = ApiBuilder::new()
            .with_endpoint(format!("http://{addr}"))
            .with_cache_dir(cache.path().to_path_buf());
        let model = HubModel::parse("hf:someone/missing/model.gguf").expect("parses");
        let e = model.fetch_with(builder).expect_err("nothing to fetch");
        assert!(matches!(e, HubError::Download { .. }), "{e:?}");
        let text = e.to_string();
        for part in [
            "someone/missing",
            "`model.gguf`",
            "HF_ENDPOINT",
            "local path",
        ] {
            assert!(text.contains(part), "{part} missing from: {text}");
        }
    }

    #[test]
    fn shards_are_listed_once_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = dir.path().join("model.safetensors.index.json");
        std::fs::write(
            &index,
            r#"{"weight_map": {"a": "m-1.safetensors", "b": "m-2.safetensors", "c": "m-1.safetensors"}}"#,
        )
        .expect("write");
        assert_eq!(
            shards(&index).expect("reads"),
            ["m-1.safetensors", "m-2.safetensors"]
        );
        std::fs::write(&index, r#"{"metadata": {}}"#).expect("write");
        let e = shards(&index).expect_err("no map").to_string();
        assert!(e.contains("weight_map"), "{e}");
    }
}
