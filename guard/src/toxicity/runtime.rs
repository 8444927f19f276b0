//! Finding and loading ONNX Runtime (`ort` with `load-dynamic`), once per process.
//!
//! The shared library is looked for, in order, at the path given in [`RuntimeConfig::library`],
//! at `$ORT_DYLIB_PATH`, and in Palisade's asset cache
//! (`${PALISADE_HOME:-${XDG_CACHE_HOME:-~/.cache}/palisade}/assets/onnxruntime/libonnxruntime.so.1.31.1`,
//! filled by `palisade fetch`). The first existing file is loaded; the environment built on it is
//! kept for the rest of the process and shared by every session.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use super::error::ToxicityError;

/// The file name of the ONNX Runtime library that `palisade fetch` puts in the cache.
pub const LIBRARY_FILE: &str = "libonnxruntime.so.1.31.1";
/// The environment variable naming the library (the convention of the `ort` crate).
pub const LIBRARY_ENV: &str = "ORT_DYLIB_PATH";

/// How the toxicity runtime loads ONNX Runtime and runs its sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Explicit path of `libonnxruntime.so`; searched before the environment and the cache.
    pub library: Option<PathBuf>,
    /// Threads ONNX Runtime may use inside one model run (intra-op); 1 keeps a request on one core.
    pub intra_threads: usize,
    /// The most windows run together in one batched model call.
    pub max_batch: usize,
    /// A folder holding `<model>.onnx` (+ `.vocab.json`, `.config.json`) that replaces the copies
    /// built into the binary.
    pub models_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            library: None,
            intra_threads: 1,
            max_batch: 32,
            models_dir: None,
        }
    }
}

/// Environment variable: intra-op threads per session (default 1).
pub const THREADS_ENV: &str = "PALISADE_ORT_THREADS";
/// Environment variable: most windows per batched model call (default 32).
pub const BATCH_ENV: &str = "PALISADE_TOXICITY_BATCH";
/// Environment variable: a folder of model files replacing the built-in copies.
pub const MODELS_ENV: &str = "PALISADE_TOXICITY_MODELS";

impl RuntimeConfig {
    /// The defaults, overridden by `PALISADE_ORT_THREADS`, `PALISADE_TOXICITY_BATCH` and
    /// `PALISADE_TOXICITY_MODELS` where set (unparsable numbers are ignored). The library is
    /// still found through `ORT_DYLIB_PATH` or the asset cache.
    pub fn from_env() -> Self {
        let num = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
        };
        let d = RuntimeConfig::default();
        RuntimeConfig {
            library: None,
            intra_threads: num(THREADS_ENV).unwrap_or(d.intra_threads),
            max_batch: num(BATCH_ENV).unwrap_or(d.max_batch),
            models_dir: std::env::var_os(MODELS_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// The asset cache's copy of the library, following the same rules as `palisade fetch`.
pub fn cached_library() -> Option<PathBuf> {
    let home = std::env::var_os("PALISADE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
                .map(|base| base.join("palisade"))
        })?;
    Some(home.join("assets").join("onnxruntime").join(LIBRARY_FILE))
}

/// The places searched for the library, in order: config, `$ORT_DYLIB_PATH`, the asset cache.
pub fn library_candidates(config: &RuntimeConfig) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = &config.library {
        out.push(p.clone());
    }
    if let Some(p) = std::env::var_os(LIBRARY_ENV).filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(p));
    }
    if let Some(p) = cached_library() {
        out.push(p);
    }
    out
}

/// The first candidate that exists, or [`ToxicityError::LibraryNotFound`] listing them all.
///
/// An explicitly configured path that does not exist is an error by itself: a typo there should
/// not silently fall back to another copy.
pub fn resolve_library(config: &RuntimeConfig) -> Result<PathBuf, ToxicityError> {
    if let Some(p) = &config.library {
        if !p.is_file() {
            return Err(ToxicityError::LibraryNotFound {
                searched: format!("{} (from the runtime config)", p.display()),
            });
        }
        return Ok(p.clone());
    }
    let candidates = library_candidates(config);
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| ToxicityError::LibraryNotFound {
            searched: if candidates.is_empty() {
                format!("no {LIBRARY_ENV}, no PALISADE_HOME or HOME")
            } else {
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
}

static ENVIRONMENT: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

/// The process-wide ONNX Runtime environment, loading the library on first use.
///
/// Returns the environment and the library it was loaded from. A failed load is not remembered,
/// so a later call (after `palisade fetch`, say) can succeed; once loaded, the library stays.
pub fn environment(config: &RuntimeConfig) -> Result<(Environment, PathBuf), ToxicityError> {
    let mut guard = ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((path, env)) = guard.as_ref() {
        return Ok((env.clone(), path.clone()));
    }
    let path = resolve_library(config)?;
    let load_err = |reason: String| ToxicityError::LibraryLoad {
        path: path.clone(),
        reason,
    };
    // A truncated library would crash the process inside dlopen (SIGBUS).
    super::elf::check_whole(&path).map_err(load_err)?;
    let env = ort::init_from(&path)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("palisade-toxicity")
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    *guard = Some((path.clone(), env.clone()));
    Ok((env, path))
}

/// Where a model's ONNX graph comes from.
#[derive(Debug, Clone, Copy)]
pub enum GraphSource<'a> {
    /// A file on disk.
    File(&'a Path),
    /// Bytes built into the binary.
    Embedded(&'a [u8]),
}

/// Creates one session for `model` with the configured intra-op threads and full graph
/// optimisation.
pub fn session(
    config: &RuntimeConfig,
    model: &str,
    source: GraphSource<'_>,
) -> Result<Session, ToxicityError> {
    let (env, _) = environment(config)?;
    let origin = match source {
        GraphSource::File(p) => p.display().to_string(),
        GraphSource::Embedded(_) => "the copy embedded in the binary".to_owned(),
    };
    let fail = |reason: String| ToxicityError::ModelLoad {
        model: model.to_owned(),
        origin: origin.clone(),
        reason,
    };
    let mut builder = Session::builder(&env)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_threads(config.intra_threads.max(1))
        .map_err(|e| fail(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| fail(e.to_string()))?;
    match source {
        GraphSource::File(p) => {
            if !p.is_file() {
                return Err(ToxicityError::ModelFile {
                    model: model.to_owned(),
                    what: "ONNX graph",
                    path: p.to_path_buf(),
                    reason: "no such file".to_owned(),
                });
            }
            builder.commit_from_file(p)
        }
        GraphSource::Embedded(bytes) => builder.commit_from_memory(bytes),
    }
    .map_err(|e| fail(e.to_string()))
}
