//! Load-time errors when ONNX Runtime itself is missing or broken. Runs in its own process (its
//! own test binary), because once a good library is loaded it stays loaded.
#![cfg(feature = "onnx")]
#![allow(clippy::unwrap_used)]

use palisade_guard::toxicity::{JIGSAW_BILSTM, RuntimeConfig, ToxicityError, load_model};

#[test]
fn missing_and_broken_libraries_are_reported_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let missing = RuntimeConfig {
        library: Some(dir.path().join("libonnxruntime.so.1.31.1")),
        ..RuntimeConfig::default()
    };
    let err = load_model(JIGSAW_BILSTM, &missing).unwrap_err();
    assert!(
        matches!(err, ToxicityError::LibraryNotFound { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("palisade fetch"), "{err}");
    assert_eq!(err.kind(), "library");

    let garbage = dir.path().join("libgarbage.so");
    std::fs::write(&garbage, b"this is not a shared library").unwrap();
    let broken = RuntimeConfig {
        library: Some(garbage.clone()),
        ..RuntimeConfig::default()
    };
    let err = load_model(JIGSAW_BILSTM, &broken).unwrap_err();
    match &err {
        ToxicityError::LibraryLoad { path, .. } => assert_eq!(path, &garbage),
        other => panic!("expected LibraryLoad, got {other}"),
    }
}

#[test]
fn a_policy_with_a_toxicity_rule_fails_to_build_without_the_library() {
    use palisade_guard::{Guard, Policy};

    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        library: Some(dir.path().join("missing.so")),
        ..RuntimeConfig::default()
    };
    let yaml = "version: '1'\nname: t\ninput:\n  - {id: tox, type: toxicity, action: block}\n";
    let policy = Policy::from_yaml_str(yaml, "inline").unwrap();
    let err = palisade_guard::toxicity::register_with(Guard::builder(policy), config)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tox") && err.contains("ONNX Runtime library not found"),
        "{err}"
    );
}

/// A copy of the real library cut short (a partial download or a full disk), or
/// an ELF-looking stub when no library is installed here.
fn truncated_library(dir: &std::path::Path) -> std::path::PathBuf {
    let real = palisade_guard::toxicity::runtime::library_candidates(&RuntimeConfig::default())
        .into_iter()
        .find(|p| p.is_file());
    let bytes = match real {
        Some(path) => {
            let bytes = std::fs::read(path).unwrap();
            bytes[..bytes.len() / 2].to_vec()
        }
        None => {
            let mut stub = b"\x7fELF\x02\x01\x01".to_vec();
            stub.resize(4096, 0);
            stub
        }
    };
    let path = dir.join("libonnxruntime.so.1.31.1");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn truncated_and_foreign_libraries_are_load_errors_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = truncated_library(dir.path());
    let config = RuntimeConfig {
        library: Some(truncated.clone()),
        ..RuntimeConfig::default()
    };
    for _ in 0..2 {
        // A failed load is not remembered: the second try fails the same way.
        let err = load_model(JIGSAW_BILSTM, &config).unwrap_err();
        match &err {
            ToxicityError::LibraryLoad { path, .. } => assert_eq!(path, &truncated),
            other => panic!("expected LibraryLoad, got {other}"),
        }
        assert!(err.to_string().contains("palisade fetch"), "{err}");
    }

    // A real shared library that is not ONNX Runtime (no `OrtGetApiBase`).
    let foreign = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
        "/lib64/libm.so.6",
    ]
    .into_iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.is_file());
    if let Some(libm) = foreign {
        let config = RuntimeConfig {
            library: Some(libm.clone()),
            ..RuntimeConfig::default()
        };
        let err = load_model(JIGSAW_BILSTM, &config).unwrap_err();
        assert!(
            matches!(&err, ToxicityError::LibraryLoad { path, reason }
                if path == &libm && reason.contains("OrtGetApiBase")),
            "{err}"
        );
    }
}
