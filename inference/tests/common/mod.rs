//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod gemma;
pub mod tiny;

use std::path::PathBuf;

/// Asset directory name and file of the default chat model.
pub const MODEL_DIR: &str = "smollm2-135m-instruct";
/// File name of the default chat model.
pub const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// `${PALISADE_HOME:-~/.cache/palisade}`.
pub fn palisade_home() -> PathBuf {
    match std::env::var_os("PALISADE_HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home),
        _ => {
            let home =
                std::env::var_os("HOME").expect("HOME is not set and PALISADE_HOME is not set");
            PathBuf::from(home).join(".cache").join("palisade")
        }
    }
}

/// Path of the SmolLM2 GGUF in the asset cache. Panics (fails the test) with instructions
/// when it is absent: these tests must not silently skip.
pub fn smollm2_path() -> PathBuf {
    let path = palisade_home()
        .join("assets")
        .join(MODEL_DIR)
        .join(MODEL_FILE);
    assert!(
        path.is_file(),
        "the test model is missing: {}\n  fix: run `palisade fetch` (it downloads the model \
         assets into $PALISADE_HOME/assets, default ~/.cache/palisade/assets), then rerun",
        path.display()
    );
    path
}
