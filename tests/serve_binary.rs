//! The `palisade serve` binary: SIGHUP reloads the policy (a bad one is
//! rejected and logged), SIGTERM drains the requests in flight.

#[path = "serve_support/child.rs"]
mod serve_child;
mod serve_support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use serve_child::ServeChild;
use serve_support::*;

/// `palisade serve --upstream UPSTREAM --policy POLICY`, reloading on SIGHUP only.
fn start(upstream: &str, policy: &Path) -> ServeChild {
    let policy = policy.to_str().expect("a UTF-8 path");
    ServeChild::start(
        env!("CARGO_BIN_EXE_palisade"),
        &[
            "--upstream",
            upstream,
            "--policy",
            policy,
            "--reload-poll-ms",
            "0",
            "--shutdown-grace-ms",
            "10000",
        ],
    )
}

async fn ready(serve: &ServeChild) -> Value {
    json_of(reqwest::get(serve.url("/readyz")).await.expect("readyz")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_keeps_the_old_policy_when_the_new_one_is_bad() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    write_keyword_policy(&policy, "apple");
    let upstream = fake_upstream(Script::new(&["apple ", "banana"])).await;
    let serve = start(&upstream.base, &policy);
    let blocked_by = async || {
        let answer = post_json(
            &serve.url("/v1/chat/completions"),
            &chat_body("fruit", false),
        )
        .await;
        json_of(answer).await["palisade"]["blocked_by"].clone()
    };
    assert_eq!(blocked_by().await, "no-apple");

    write_keyword_policy(&policy, "banana");
    serve.signal("HUP");
    eventually("SIGHUP reloads", async || {
        ready(&serve).await["policy_reloads"] == 1
    })
    .await;
    assert_eq!(blocked_by().await, "no-banana");

    std::fs::write(&policy, "version: \"1\"\nname: [broken\n").expect("write");
    serve.signal("HUP");
    eventually("the bad policy is rejected", async || {
        ready(&serve).await["policy_reload_failures"] == 1
    })
    .await;
    assert_eq!(blocked_by().await, "no-banana");
    let log = serve.log().join("\n");
    assert!(
        log.contains("policy reload rejected") && log.contains("policy.yaml"),
        "{log}"
    );
    assert!(
        !log.contains("fruit"),
        "request text is never logged: {log}"
    );
    serve.signal("TERM");
    assert_eq!(serve.exit_code().await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_stream_in_flight_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    write_keyword_policy(&policy, "apple");
    let pieces = vec!["step "; 20];
    let upstream = fake_upstream(Script::new(&pieces).slow(Duration::from_millis(40))).await;
    let serve = start(&upstream.base, &policy);
    let mut response = post_json(&serve.url("/v1/chat/completions"), &chat_body("go", true)).await;
    let mut raw = String::from_utf8_lossy(&response.chunk().await.expect("read").expect("a frame"))
        .into_owned();
    serve.signal("TERM");
    while let Some(bytes) = response.chunk().await.expect("the stream continues") {
        raw.push_str(&String::from_utf8_lossy(&bytes));
    }
    let (text, last) = chat_stream_text(&sse_payloads(&raw));
    assert_eq!(text, "step ".repeat(20));
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    let addr = serve.addr;
    assert_eq!(serve.exit_code().await, Some(0));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer listening"
    );
}
