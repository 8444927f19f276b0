//! Policy hot reload: on request (SIGHUP in `palisade serve`) and when the
//! policy file's content changes. A policy that fails to load or compile is
//! rejected with a logged error; the previous one keeps serving.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use palisade_guard::{Guard, Policy};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::AppState;
use super::log::info;

/// The identity of a loaded policy (no rule content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedPolicy {
    /// The policy's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its content hash.
    pub hash: String,
    /// How it wants blocked inputs answered (`input_block:`), if it says.
    pub input_block: Option<palisade_guard::policy::InputBlockResponse>,
}

impl LoadedPolicy {
    pub(crate) fn of(policy: &Policy) -> Self {
        Self {
            name: policy.name().to_string(),
            version: policy.version().to_string(),
            hash: policy.hash().to_string(),
            input_block: policy.input_block_response(),
        }
    }
}

/// Why a policy was not (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The server runs the embedded default policy: there is no file to reload.
    #[error(
        "no policy file is configured (the embedded default policy cannot be reloaded); start with --policy FILE"
    )]
    NoFile,
    /// The file could not be read.
    #[error("reading the policy {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The policy is invalid (the message has file, line and column).
    #[error(transparent)]
    Policy(#[from] palisade_guard::PolicyError),
    /// The policy's rules do not compile.
    #[error(transparent)]
    Build(#[from] palisade_guard::GuardBuildError),
    /// The loading thread failed.
    #[error("the policy loader stopped unexpectedly")]
    Worker,
}

/// The policy file, what is loaded from it, and reload counters.
pub(crate) struct PolicyState {
    path: Option<PathBuf>,
    current: RwLock<LoadedPolicy>,
    serial: tokio::sync::Mutex<()>,
    reloads: AtomicU64,
    failures: AtomicU64,
}

impl PolicyState {
    pub fn new(path: Option<PathBuf>, loaded: LoadedPolicy) -> Self {
        Self {
            path,
            current: RwLock::new(loaded),
            serial: tokio::sync::Mutex::new(()),
            reloads: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    pub fn current(&self) -> LoadedPolicy {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// Loads the policy at `path`, or the embedded default.
pub(crate) fn load_policy(path: Option<&Path>) -> Result<Policy, ReloadError> {
    Ok(match path {
        Some(path) => Policy::from_file(path)?,
        None => Policy::from_yaml_str(crate::DEFAULT_POLICY_YAML, crate::DEFAULT_POLICY_ORIGIN)?,
    })
}

fn digest(path: &Path) -> Result<[u8; 32], ReloadError> {
    let bytes = std::fs::read(path).map_err(|source| ReloadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Sha256::digest(&bytes).into())
}

impl AppState {
    /// Loads and compiles the policy file again and swaps it in. Requests
    /// in flight finish with the policy they started with.
    pub(crate) async fn reload_policy(&self) -> Result<LoadedPolicy, ReloadError> {
        let path = self.policy.path.clone().ok_or(ReloadError::NoFile)?;
        let _one_at_a_time = self.policy.serial.lock().await;
        let compiled = tokio::task::spawn_blocking(move || {
            let policy = load_policy(Some(&path))?;
            let loaded = LoadedPolicy::of(&policy);
            let guard: Guard = crate::build_guard(policy)?;
            let info = crate::observability::policy_info(&guard);
            Ok::<_, ReloadError>((guard, loaded, info))
        })
        .await
        .map_err(|_| ReloadError::Worker)
        .and_then(|r| r);
        let (guard, loaded, telemetry_info) = match compiled {
            Ok(compiled) => compiled,
            Err(err) => {
                self.policy.failures.fetch_add(1, Ordering::Relaxed);
                info(format_args!(
                    "policy reload rejected, still serving {} ({}): {err}",
                    self.policy.current().name,
                    short(&self.policy.current().hash)
                ));
                return Err(err);
            }
        };
        if let Err(err) = self.telemetry.register_policy(&telemetry_info) {
            info(format_args!(
                "telemetry does not know the new policy's ids: {err}"
            ));
        }
        self.generator.install(guard);
        match self.policy.current.write() {
            Ok(mut c) => *c = loaded.clone(),
            Err(poisoned) => *poisoned.into_inner() = loaded.clone(),
        }
        self.policy.reloads.fetch_add(1, Ordering::Relaxed);
        info(format_args!(
            "policy reloaded: {} v{} ({})",
            loaded.name,
            loaded.version,
            short(&loaded.hash)
        ));
        Ok(loaded)
    }
}

fn short(hash: &str) -> &str {
    &hash[..12.min(hash.len())]
}

/// Checks the policy file every `every` and reloads it when its content changed.
pub(crate) async fn watch_file(
    state: Arc<AppState>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let Some(path) = state.policy.path().map(Path::to_path_buf) else {
        return;
    };
    let mut seen = digest(&path).ok();
    let mut read_error_logged = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        match digest(&path) {
            Ok(now) if Some(now) != seen => {
                seen = Some(now);
                read_error_logged = false;
                // Errors are logged and counted by reload_policy.
                let _ = state.reload_policy().await;
            }
            Ok(_) => {}
            Err(err) if !read_error_logged => {
                // Deleted or unreadable: counted and logged once until the
                // file is back; the loaded policy keeps serving.
                read_error_logged = true;
                seen = None;
                state.policy.failures.fetch_add(1, Ordering::Relaxed);
                info(format_args!(
                    "policy reload failed: {err}; still serving {} ({})",
                    state.policy.current().name,
                    short(&state.policy.current().hash)
                ));
            }
            Err(_) => {}
        }
    }
}
