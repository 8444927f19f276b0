//! `palisade chat --device` and `palisade serve --device`: a GPU this build was not compiled for
//! is a clear error before anything is loaded, an unknown device a usage error.

use std::process::Command;

fn palisade(args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        // Nothing may be fetched or read from a real cache.
        .env("PALISADE_HOME", dir.path())
        .env_remove("PALISADE_DEVICE")
        .env_remove("PALISADE_MODEL")
        .output()
        .expect("run palisade");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(not(feature = "cuda"))]
#[test]
fn chat_on_cuda_without_the_feature_says_how_to_get_it() {
    let (code, err) = palisade(&["chat", "--device", "cuda", "-p", "hi"]);
    assert_ne!(code, 0);
    assert_ne!(code, 2, "not a usage error: {err}");
    assert!(err.contains("cannot run the model on cuda:0"), "{err}");
    assert!(err.contains("cargo feature `cuda` is off"), "{err}");
    assert!(err.contains("--features cuda"), "{err}");
    // Refused before the (absent) default model is looked for.
    assert!(!err.contains("palisade fetch"), "{err}");
}

#[cfg(not(feature = "metal"))]
#[test]
fn chat_on_metal_without_the_feature_says_how_to_get_it() {
    let (code, err) = palisade(&["chat", "--device", "metal:1", "-p", "hi"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("metal:1") && err.contains("--features metal"),
        "{err}"
    );
}

#[test]
fn unknown_devices_are_usage_errors() {
    for command in ["chat", "serve"] {
        let (code, err) = palisade(&[command, "--device", "bogus"]);
        assert_eq!(code, 2, "{command}: {err}");
        assert!(err.contains("bogus"), "{err}");
        assert!(err.contains("cuda:N"), "{err}");
    }
}

#[cfg(not(feature = "cuda"))]
#[test]
fn serve_on_cuda_without_the_feature_fails_to_start() {
    let (code, err) = palisade(&["serve", "--device", "cuda:1", "--listen", "127.0.0.1:0"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cuda:1") && err.contains("--features cuda"),
        "{err}"
    );
}
