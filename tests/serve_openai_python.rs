//! The official `openai` Python package (from PyPI) against `palisade serve`
//! in proxy mode: chat and completions, streaming, blocks, auth.
//!
//! Needs the venv that `tools/ci/openai-venv.sh` installs (`make test` runs it).

mod serve_support;

use std::path::PathBuf;

use serve_support::*;

fn venv_python() -> PathBuf {
    let home = std::env::var_os("PALISADE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/palisade")
        });
    let python = home.join("venv-test/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run tools/ci/openai-venv.sh (make test does)",
        python.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_client_works() {
    let python = venv_python();
    let key = Some("test-key-0123456789abcdef".to_string());
    let clean = fake_upstream(Script::new(&["Hello", ", wor", "ld!"])).await;
    let mut wire = proxy_wire(&clean.base);
    wire.api_key = key.clone();
    let clean_server = serve(wire).await;
    let blocking = fake_upstream(Script::new(&["the blue", "bird sings", " on"])).await;
    let mut wire = proxy_wire(&blocking.base);
    wire.api_key = key;
    let blocking_server = serve(wire).await;

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/serve_openai_client.py");
    let (clean_url, blocking_url) = (url(&clean_server, "/v1"), url(&blocking_server, "/v1"));
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg(clean_url)
            .arg(blocking_url)
            .output()
    })
    .await
    .expect("join")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("openai-client-ok"), "{stdout}");
    clean_server.shutdown().await;
    blocking_server.shutdown().await;
}
