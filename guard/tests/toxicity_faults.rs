//! Model files that go bad on disk (`PALISADE_TOXICITY_MODELS` / the runtime's
//! `models_dir`): truncated, emptied or corrupted graphs are load-time errors
//! that name the file, never a crash, and a policy using them does not build
//! (nothing starts, or a reload is rejected, with a broken detector).
//! `toxicity_models.rs` covers a missing graph, a non-ONNX file and a wrong
//! interface; `toxicity_no_library.rs` the library itself.
//!
//! Needs ONNX Runtime: `palisade fetch` (run by `make test`) or `ORT_DYLIB_PATH`.
#![cfg(feature = "onnx")]
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use palisade_guard::toxicity::{
    self, JIGSAW_BILSTM, ModelSource, PROFANITY_SVM, RuntimeConfig, ToxicityError, load_model,
    load_uncached,
};
use palisade_guard::{Guard, Policy};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/toxicity")
}

/// A models folder holding the real files, with `graph` as `name`'s ONNX graph.
fn folder_with_graph(name: &str, graph: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(models()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.path().join(format!("{name}.onnx")), graph).unwrap();
    dir
}

fn load_from(name: &str, dir: &Path) -> Result<(), ToxicityError> {
    let source = ModelSource::Dir(dir.to_path_buf());
    load_uncached(name, &source, &RuntimeConfig::default()).map(drop)
}

/// The library must load for the errors below to be about the model.
fn library_loads() {
    load_model(JIGSAW_BILSTM, &RuntimeConfig::default())
        .unwrap_or_else(|e| panic!("cannot load the BiLSTM (run `palisade fetch`?): {e}"));
}

#[test]
fn truncated_empty_and_bit_flipped_graphs_are_load_errors() {
    library_loads();
    for name in [JIGSAW_BILSTM, PROFANITY_SVM] {
        let good = std::fs::read(models().join(format!("{name}.onnx"))).unwrap();
        let mut flipped = good.clone();
        // Clobber the protobuf framing near the start: the graph cannot parse.
        for b in flipped.iter_mut().take(64) {
            *b = 0xff;
        }
        let cases: [(&str, &[u8]); 5] = [
            ("empty", &[]),
            ("first 100 bytes", &good[..100]),
            ("first half", &good[..good.len() / 2]),
            ("last byte missing", &good[..good.len() - 1]),
            ("header overwritten", &flipped),
        ];
        for (what, graph) in cases {
            let dir = folder_with_graph(name, graph);
            let err = load_from(name, dir.path()).expect_err(what);
            assert_eq!(err.kind(), "model", "{name}, {what}: {err}");
            let message = err.to_string();
            assert!(message.contains(name), "{name}, {what}: {message}");
            assert!(
                message.contains("corrupt") || message.contains("cannot read"),
                "{name}, {what}: {message}"
            );
        }
        // The same folder with the good graph loads: the faults are the files'.
        let dir = folder_with_graph(name, &good);
        load_from(name, dir.path()).unwrap();
    }
}

#[test]
fn a_policy_with_a_truncated_model_does_not_build() {
    library_loads();
    let good = std::fs::read(models().join("jigsaw-bilstm.onnx")).unwrap();
    let dir = folder_with_graph(JIGSAW_BILSTM, &good[..good.len() / 3]);
    let config = RuntimeConfig {
        models_dir: Some(dir.path().to_path_buf()),
        ..RuntimeConfig::default()
    };
    let yaml = "version: '1'\nname: t\noutput:\n  - {id: tox, type: toxicity, action: block, on_error: allow}\n";
    let policy = Policy::from_yaml_str(yaml, "inline").unwrap();
    let err = toxicity::register_with(Guard::builder(policy), config)
        .build()
        .unwrap_err()
        .to_string();
    // `on_error: allow` is about run-time failures: a model that cannot be
    // loaded is never silently skipped.
    assert!(err.contains("tox") && err.contains("corrupt"), "{err}");
}
