//! Faults under `palisade serve` (the binary, proxy mode, scripted fake
//! upstream): the policy file deleted while serving, telemetry files on a
//! full disk with the collector down, and a truncated model in the asset
//! cache. Nothing crashes, every request is answered, failures are counted
//! and logged.

#[path = "serve_support/child.rs"]
mod serve_child;
mod serve_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use serve_child::ServeChild;
use serve_support::*;

const EXE: &str = env!("CARGO_BIN_EXE_palisade");

async fn get_json(url: &str) -> Value {
    json_of(reqwest::get(url).await.expect("GET")).await
}

async fn metrics_text(server: &ServeChild) -> String {
    let response = reqwest::get(server.url("/metrics")).await.expect("GET");
    response.text().await.expect("text")
}

/// The rule that blocked a chat (the fake upstream answers with fruit).
async fn blocked_by(server: &ServeChild) -> Option<String> {
    let response = post_json(
        &server.url("/v1/chat/completions"),
        &chat_body("fruit?", false),
    )
    .await;
    assert_eq!(response.status(), 200, "every request is answered");
    let body = json_of(response).await;
    body["palisade"]["blocked_by"].as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_policy_file_keeps_the_old_policy_until_it_is_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    write_keyword_policy(&policy, "apple");
    let upstream = fake_upstream(Script::new(&["apple ", "banana"])).await;
    let mut args = vec![
        "--upstream",
        upstream.base.as_str(),
        "--reload-poll-ms",
        "50",
    ];
    let policy_arg = policy.to_str().expect("utf-8 path");
    args.extend(["--policy", policy_arg]);
    let server = ServeChild::start(EXE, &args);
    assert_eq!(blocked_by(&server).await.as_deref(), Some("no-apple"));

    std::fs::remove_file(&policy).expect("delete the policy");
    let ready = server.url("/readyz");
    eventually("the missing file is noticed", async || {
        get_json(&ready).await["policy_reload_failures"] == 1
    })
    .await;
    assert!(
        server.logged(&["policy reload failed", "policy.yaml", "still serving live"]),
        "{:?}",
        server.log()
    );
    assert_eq!(blocked_by(&server).await.as_deref(), Some("no-apple"));
    // Noticed once, not at every poll.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get_json(&ready).await["policy_reload_failures"], 1);

    // SIGHUP while the file is gone: rejected and logged, still serving.
    server.signal("HUP");
    eventually("the SIGHUP reload is rejected", async || {
        get_json(&ready).await["policy_reload_failures"] == 2
    })
    .await;
    assert!(server.logged(&["policy reload rejected", "still serving live"]));
    assert_eq!(blocked_by(&server).await.as_deref(), Some("no-apple"));
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("palisade_server_policy_reload_failures_total 2"),
        "{metrics}"
    );

    // Back, with a new rule: picked up by the poll.
    write_keyword_policy(&policy, "banana");
    eventually("the recreated policy is loaded", async || {
        get_json(&ready).await["policy_reloads"] == 1
    })
    .await;
    assert_eq!(blocked_by(&server).await.as_deref(), Some("no-banana"));
    assert!(server.logged(&["policy reloaded: live"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_on_a_full_disk_with_the_collector_down_costs_no_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Every write of the DP budget ledger goes to the always-full device.
    let ledger = dir.path().join("ledger.json");
    std::os::unix::fs::symlink("/dev/full", dir.path().join("ledger.json.tmp")).expect("link");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let collector = format!("http://{}/v1/metrics", closed.local_addr().expect("addr"));
    drop(closed);
    let config = dir.path().join("telemetry.yaml");
    std::fs::write(
        &config,
        format!(
            "privacy: dp\ndp: {{ledger_path: {}}}\notlp:\n  enabled: true\n  protocol: http/protobuf\n  endpoint: {collector}\n  interval_ms: 100\n  timeout_ms: 500\n  max_retries: 1\n  retry_backoff_ms: 10\n  temporality: delta\n",
            ledger.display(),
        ),
    )
    .expect("write config");
    let upstream = fake_upstream(Script::new(&["apple ", "banana"])).await;
    let server = ServeChild::start(
        EXE,
        &[
            "--upstream",
            upstream.base.as_str(),
            "--policy",
            policy_path().to_str().expect("utf-8"),
            "--telemetry",
            config.to_str().expect("utf-8"),
        ],
    );
    for _ in 0..30 {
        let response = post_json(&server.url("/v1/chat/completions"), &chat_body("Hi", true)).await;
        assert_eq!(response.status(), 200);
        let body = response.text().await.expect("body");
        assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    }
    // Exports keep failing in the background; requests were never held up.
    eventually("the exporter counts its failures", async || {
        metrics_text(&server)
            .await
            .lines()
            .any(|l| l.starts_with("palisade_exporter_retries") && !l.ends_with(" 0"))
    })
    .await;
    assert!(
        !ledger.exists(),
        "no budget was granted, nothing was reported"
    );
    assert_eq!(upstream.seen.lock().expect("lock").len(), 30);
}

#[test]
fn a_truncated_model_in_the_cache_is_refused_at_start_with_a_fix() {
    let home = tempfile::tempdir().expect("tempdir");
    let model = home
        .path()
        .join("assets/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    std::fs::create_dir_all(model.parent().expect("dir")).expect("mkdir");
    std::fs::write(&model, b"GGUF\x03\x00\x00\x00 cut short").expect("write");
    let out = Command::new(EXE)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PALISADE_HOME", home.path())
        .env_remove("PALISADE_CONFIG")
        .env_remove("PALISADE_UPSTREAM")
        .env_remove("PALISADE_MODEL")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(!out.status.success(), "a partial model never serves");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("palisade fetch") && stderr.contains("smollm2"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
