//! The `threads` load option, and what it really controls.
//!
//! candle 0.11.1 (read in `candle-core/src/utils.rs`) runs CPU work on three process-wide
//! pools, each sized once, the first time it is used, from environment variables:
//!
//! * the *barrier pool* that runs the quantized matmuls (nearly all of a GGUF model's time):
//!   `CANDLE_NUM_THREADS`, else `RAYON_NUM_THREADS`, else the number of physical cores;
//! * rayon's global pool and candle's own rayon pool (elementwise ops, f32 matmuls through
//!   `gemm`, which also re-reads `RAYON_NUM_THREADS` on every call): `RAYON_NUM_THREADS`,
//!   else the number of physical cores.
//!
//! None of them can be resized later and candle offers no API to size them. So
//! `LoadOptions::threads = Some(n)` sets both variables to `n` before the first model is loaded
//! in the process; it is process-wide and first-wins. A later load asking for a different
//! count fails with [`LoadError::ThreadsAlreadySet`] instead of being silently ignored.
//! `None` keeps the environment (or candle's default) and fixes that count.
//!
//! Limitation: if something else in the process ran candle CPU code before the first
//! `Engine::load_gguf`, its pools already exist and setting the variables has no effect.

use std::sync::Mutex;

use crate::error::LoadError;

/// The thread count fixed by the first model load of this process.
static IN_FORCE: Mutex<Option<usize>> = Mutex::new(None);

fn env_threads(var: &str) -> Option<usize> {
    std::env::var(var)
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
}

/// The thread count candle's quantized kernels will use given the current environment.
fn effective_from_env() -> usize {
    env_threads("CANDLE_NUM_THREADS").unwrap_or_else(candle_core::utils::get_num_threads)
}

/// Applies `requested` (see the module docs) and returns the thread count in force.
pub fn configure(requested: Option<usize>) -> Result<usize, LoadError> {
    if requested == Some(0) {
        return Err(LoadError::ZeroThreads);
    }
    let mut in_force = IN_FORCE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(current) = *in_force {
        return match requested {
            Some(n) if n != current => Err(LoadError::ThreadsAlreadySet {
                requested: n,
                in_force: current,
            }),
            _ => Ok(current),
        };
    }
    let effective = match requested {
        Some(n) => {
            set_thread_env(n);
            n
        }
        None => effective_from_env(),
    };
    *in_force = Some(effective);
    Ok(effective)
}

/// The thread count fixed by the first model load, if any happened.
pub fn threads_in_force() -> Option<usize> {
    *IN_FORCE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[allow(unsafe_code)]
fn set_thread_env(n: usize) {
    let value = n.to_string();
    // SAFETY: `set_var` is unsound only when another thread reads or writes the environment
    // through libc at the same moment (Rust's own `std::env` calls are serialised by a lock).
    // This runs once per process, under `IN_FORCE`'s lock, before candle creates its pools;
    // the remaining risk is foreign code calling `getenv` concurrently, which this crate
    // does not do. candle offers no other way to size its pools.
    unsafe {
        std::env::set_var("CANDLE_NUM_THREADS", &value);
        std::env::set_var("RAYON_NUM_THREADS", &value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_load_fixes_the_count_and_conflicts_are_errors() {
        assert!(matches!(configure(Some(0)), Err(LoadError::ZeroThreads)));
        let in_force = configure(None).expect("first configuration");
        assert!(in_force >= 1);
        assert_eq!(threads_in_force(), Some(in_force));
        assert_eq!(configure(None).expect("same"), in_force);
        assert_eq!(configure(Some(in_force)).expect("same"), in_force);
        match configure(Some(in_force + 1)) {
            Err(LoadError::ThreadsAlreadySet {
                requested,
                in_force: current,
            }) => {
                assert_eq!((requested, current), (in_force + 1, in_force));
            }
            other => panic!("expected ThreadsAlreadySet, got {other:?}"),
        }
    }
}
