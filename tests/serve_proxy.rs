//! `palisade serve` in proxy mode against a scripted fake upstream on
//! loopback: guards on the request and on the stream, cancellation,
//! overload, limits, auth and hot reload.

mod serve_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use serve_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_and_streaming_pass_clean_text() {
    let upstream = fake_upstream(Script::new(&["Hello", ", wor", "ld!"])).await;
    let server = serve(proxy_wire(&upstream.base)).await;

    let response = post_json(
        &url(&server, "/v1/chat/completions"),
        &chat_body("Hi", false),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body = json_of(response).await;
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello, world!");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 7);
    assert_eq!(body["palisade"]["rules"], json!([]));

    let response = post_json(
        &url(&server, "/v1/chat/completions"),
        &chat_body("Hi", true),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let payloads = sse_payloads(&response.text().await.expect("body"));
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    let (text, last) = chat_stream_text(&payloads);
    assert_eq!(text, "Hello, world!");
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["object"], "chat.completion.chunk");
    // The model answered over the stream, so the upstream ran to its end.
    eventually("both upstream streams end", async || {
        upstream.completed.load(Ordering::SeqCst) == 2
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redaction_applies_inside_the_stream_and_to_the_request() {
    // The address arrives split across three events.
    let upstream = fake_upstream(Script::new(&[
        "Write to jane.d",
        "oe@exam",
        "ple.com today.",
    ]))
    .await;
    let server = serve(proxy_wire(&upstream.base)).await;
    let body = chat_body("My mail is bob.smith@example.org, reply there", true);
    let response = post_json(&url(&server, "/v1/chat/completions"), &body).await;
    let raw = response.text().await.expect("body");
    assert!(
        !raw.contains("jane.d") && !raw.contains("exam") && !raw.contains("doe@"),
        "{raw}"
    );
    let (text, last) = chat_stream_text(&sse_payloads(&raw));
    assert!(
        text.starts_with("Write to [EMAIL_") && text.ends_with("] today."),
        "{text}"
    );
    let rules = &last["palisade"]["rules"];
    assert!(
        rules
            .as_array()
            .expect("rules")
            .contains(&json!("out-email")),
        "{rules}"
    );
    assert!(
        rules
            .as_array()
            .expect("rules")
            .contains(&json!("redact-email")),
        "{rules}"
    );
    // The upstream only saw the placeholder.
    let seen = upstream.seen.lock().expect("lock")[0].to_string();
    assert!(
        !seen.contains("bob.smith") && seen.contains("[EMAIL_1]"),
        "{seen}"
    );
    assert_eq!(upstream.seen.lock().expect("lock")[0]["stream"], true);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_mid_stream_ends_with_content_filter_and_hangs_up() {
    let mut pieces = vec!["Sure. ", "The word is blue", "bird", " and more"];
    pieces.extend(std::iter::repeat_n(" filler", 40));
    let upstream = fake_upstream(Script::new(&pieces).slow(Duration::from_millis(10))).await;
    let server = serve(proxy_wire(&upstream.base)).await;

    let response = post_json(
        &url(&server, "/v1/chat/completions"),
        &chat_body("Tell me", true),
    )
    .await;
    let raw = response.text().await.expect("body");
    assert!(!raw.contains("bird") && !raw.contains("filler"), "{raw}");
    let payloads = sse_payloads(&raw);
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    let (text, last) = chat_stream_text(&payloads);
    assert!(text.starts_with("Sure. The word is "), "{text}");
    assert!(text.ends_with("That answer was withheld."), "{text}");
    assert_eq!(last["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(last["palisade"]["blocked_by"], "no-codeword");

    let response = post_json(
        &url(&server, "/v1/chat/completions"),
        &chat_body("Tell me", false),
    )
    .await;
    let body = json_of(response).await;
    assert_eq!(body["choices"][0]["finish_reason"], "content_filter");
    assert!(!body.to_string().contains("bluebird"));
    // Both upstream streams were cut, long before their 44 events.
    eventually("the upstream streams are cut", async || {
        upstream.cut.load(Ordering::SeqCst) == 2
    })
    .await;
    assert_eq!(upstream.completed.load(Ordering::SeqCst), 0);
    // Telemetry counted both refusals by rule id, and holds no text.
    let metrics = reqwest::get(url(&server, "/metrics"))
        .await
        .expect("metrics");
    let text = metrics.text().await.expect("text");
    let counted = |metric: &str, label: &str| {
        text.lines()
            .any(|l| l.starts_with(metric) && l.contains(label) && l.ends_with(" 2"))
    };
    assert!(
        counted("palisade_guard_refusals_total", "\"output\""),
        "{text}"
    );
    assert!(
        counted("palisade_guard_decisions", "\"no-codeword\""),
        "{text}"
    );
    assert!(
        text.contains("gen_ai_request_model=\"fake-model\""),
        "{text}"
    );
    assert!(
        !text.contains("bluebird") && !text.contains("Sure"),
        "{text}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_input_answers_as_the_configuration_chooses() {
    let upstream = fake_upstream(Script::new(&["never sent"])).await;
    let server = serve(proxy_wire(&upstream.base)).await;
    let body = chat_body("Let's discuss the forbidden topic", false);
    let answer = json_of(post_json(&url(&server, "/v1/chat/completions"), &body).await).await;
    assert_eq!(answer["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "I can't talk about that."
    );
    assert_eq!(answer["palisade"]["blocked_by"], "no-forbidden");
    server.shutdown().await;

    let mut wire = proxy_wire(&upstream.base);
    wire.blocked_input = Some("error".into());
    let server = serve(wire).await;
    let response = post_json(
        &url(&server, "/v1/chat/completions"),
        &chat_body("the forbidden topic", true),
    )
    .await;
    assert_eq!(response.status(), 400);
    let error = json_of(response).await;
    assert_eq!(error["error"]["code"], "content_filter");
    assert_eq!(error["error"]["message"], "I can't talk about that.");
    assert_eq!(error["error"]["palisade_rules"], json!(["no-forbidden"]));
    assert!(
        upstream.seen.lock().expect("lock").is_empty(),
        "the upstream never saw it"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_chooses_how_blocked_input_is_answered() {
    let upstream = fake_upstream(Script::new(&["never sent"])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    let base = std::fs::read_to_string(policy_path()).expect("test policy");
    // The policy asks for an error; the server's configuration says content_filter.
    std::fs::write(&policy, format!("input_block: error\n{base}")).expect("write");
    let mut wire = proxy_wire(&upstream.base);
    wire.policy = Some(policy.clone());
    wire.blocked_input = Some("content_filter".into());
    let server = serve(wire).await;
    let body = chat_body("Let's discuss the forbidden topic", false);
    let response = post_json(&url(&server, "/v1/chat/completions"), &body).await;
    assert_eq!(response.status(), 400, "the policy's choice wins");
    let error = json_of(response).await;
    assert_eq!(error["error"]["code"], "content_filter");

    // A reload to a policy that says nothing gives the choice back to the server.
    std::fs::write(&policy, &base).expect("write");
    server.reload_policy().await.expect("reloads");
    let answer = json_of(post_json(&url(&server, "/v1/chat/completions"), &body).await).await;
    assert_eq!(answer["choices"][0]["finish_reason"], "content_filter");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_cancels_the_upstream_stream() {
    let pieces = vec!["tick "; 200];
    let upstream = fake_upstream(Script::new(&pieces).slow(Duration::from_millis(20))).await;
    let server = serve(proxy_wire(&upstream.base)).await;
    let response = post_json(
        &url(&server, "/v1/chat/completions"),
        &chat_body("count", true),
    )
    .await;
    let mut response = response;
    let first = response
        .chunk()
        .await
        .expect("bytes")
        .expect("a first frame");
    assert!(String::from_utf8_lossy(&first).contains("tick"));
    drop(response);
    eventually("the upstream stream is cut", async || {
        upstream.cut.load(Ordering::SeqCst) == 1
    })
    .await;
    let metrics = reqwest::get(url(&server, "/metrics"))
        .await
        .expect("metrics");
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains("palisade_server_requests_running 0"),
        "{text}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after() {
    let pieces = vec!["slow "; 50];
    let upstream = fake_upstream(Script::new(&pieces).slow(Duration::from_millis(20))).await;
    let mut wire = proxy_wire(&upstream.base);
    wire.parallelism = Some(1);
    wire.queue_capacity = Some(0);
    let server = serve(wire).await;
    let busy = post_json(
        &url(&server, "/v1/chat/completions"),
        &chat_body("first", true),
    )
    .await;
    assert_eq!(busy.status(), 200);
    let refused = post_json(
        &url(&server, "/v1/chat/completions"),
        &chat_body("second", false),
    )
    .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(json_of(refused).await["error"]["code"], "overloaded");
    drop(busy);
    // The slot frees once the first client is gone.
    eventually("the slot frees", async || {
        let r = post_json(
            &url(&server, "/v1/completions"),
            &json!({"prompt": "x", "max_tokens": 1}),
        )
        .await;
        r.status() == 200
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_timeouts_and_bad_bodies_get_clear_errors() {
    let pieces = vec!["z"; 100];
    let upstream = fake_upstream(Script::new(&pieces).slow(Duration::from_millis(50))).await;
    let mut wire = proxy_wire(&upstream.base);
    wire.request_timeout_ms = Some(300);
    wire.max_body_bytes = Some(2048);
    let server = serve(wire).await;
    let endpoint = url(&server, "/v1/chat/completions");

    let timed_out = post_json(&endpoint, &chat_body("slow please", false)).await;
    assert_eq!(timed_out.status(), 504);
    assert_eq!(json_of(timed_out).await["error"]["code"], "timeout");

    let huge = chat_body(&"a".repeat(4096), false);
    let too_big = post_json(&endpoint, &huge).await;
    assert_eq!(too_big.status(), 413);
    assert!(
        json_of(too_big).await["error"]["message"]
            .as_str()
            .expect("message")
            .contains("2048")
    );

    let client = reqwest::Client::new();
    let malformed = client
        .post(&endpoint)
        .body("{\"messages\": [")
        .send()
        .await
        .expect("sent");
    assert_eq!(malformed.status(), 400);
    let message = json_of(malformed).await["error"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(message.contains("line 1 column"), "{message}");
    let empty = post_json(&endpoint, &json!({"messages": []})).await;
    assert_eq!(empty.status(), 400);
    let n = post_json(
        &endpoint,
        &json!({"messages": [{"role": "user", "content": "x"}], "n": 3}),
    )
    .await;
    assert_eq!(n.status(), 400);
    let missing = client
        .get(url(&server, "/v2/nothing"))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), 404);
    eventually("timed-out streams are cut", async || {
        upstream.cut.load(Ordering::SeqCst) == 1
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_auth_guards_everything_but_the_probes() {
    let upstream = fake_upstream(Script::new(&["ok"])).await;
    let mut wire = proxy_wire(&upstream.base);
    wire.api_key = Some("test-key-0123456789abcdef".into());
    let server = serve(wire).await;
    let client = reqwest::Client::new();
    let endpoint = url(&server, "/v1/chat/completions");
    let body = serde_json::to_vec(&chat_body("hi", false)).expect("json");

    let none = client
        .post(&endpoint)
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(none.status(), 401);
    assert_eq!(json_of(none).await["error"]["code"], "invalid_api_key");
    let wrong = client
        .post(&endpoint)
        .bearer_auth("test-key-0123456789abcdeX")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status(), 401);
    let right = client
        .post(&endpoint)
        .bearer_auth("test-key-0123456789abcdef")
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(right.status(), 200);
    for (path, status) in [
        ("/metrics", 401),
        ("/v1/models", 401),
        ("/healthz", 200),
        ("/readyz", 200),
    ] {
        let response = client.get(url(&server, path)).send().await.expect("sent");
        assert_eq!(response.status(), status, "{path}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_completions_probes_and_metrics() {
    let upstream = fake_upstream(Script::new(&["Once upon", " a time"])).await;
    let server = serve(proxy_wire(&upstream.base)).await;
    let models = json_of(
        reqwest::get(url(&server, "/v1/models"))
            .await
            .expect("models"),
    )
    .await;
    assert_eq!(models["data"][0]["id"], "fake-model");

    let prompt = json!({"model": "fake-model", "prompt": "Tell a story", "max_tokens": 5});
    let whole = json_of(post_json(&url(&server, "/v1/completions"), &prompt).await).await;
    assert_eq!(whole["object"], "text_completion");
    assert_eq!(whole["choices"][0]["text"], "Once upon a time");
    let mut streamed = prompt.clone();
    streamed["stream"] = json!(true);
    let raw = post_json(&url(&server, "/v1/completions"), &streamed)
        .await
        .text()
        .await
        .expect("body");
    let (text, last) = chat_stream_text(&sse_payloads(&raw));
    assert_eq!(text, "Once upon a time");
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        upstream.seen.lock().expect("lock")[0]["prompt"],
        "Tell a story"
    );

    let ready = json_of(reqwest::get(url(&server, "/readyz")).await.expect("readyz")).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["policy"]["name"], "serve-test");
    let metrics = reqwest::get(url(&server, "/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("palisade_server_requests_waiting 0"),
        "{metrics}"
    );
    assert!(metrics.contains("palisade_"), "{metrics}");
    assert!(
        !metrics.contains("story") && !metrics.contains("upon"),
        "no text in metrics"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_file_changes_reload_and_a_bad_policy_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    write_keyword_policy(&policy, "apple");
    let upstream = fake_upstream(Script::new(&["apple ", "banana"])).await;
    let mut wire = proxy_wire(&upstream.base);
    wire.policy = Some(policy.clone());
    wire.reload_poll_ms = Some(50);
    let server = serve(wire).await;
    let endpoint = url(&server, "/v1/chat/completions");
    let blocked_by = async || {
        let body = json_of(post_json(&endpoint, &chat_body("fruit?", false)).await).await;
        body["palisade"]["blocked_by"].as_str().map(str::to_string)
    };
    assert_eq!(blocked_by().await.as_deref(), Some("no-apple"));

    write_keyword_policy(&policy, "banana");
    let ready =
        async || json_of(reqwest::get(url(&server, "/readyz")).await.expect("readyz")).await;
    eventually("the new policy is loaded", async || {
        ready().await["policy_reloads"] == 1
    })
    .await;
    assert_eq!(blocked_by().await.as_deref(), Some("no-banana"));

    std::fs::write(
        &policy,
        "version: \"1\"\nname: broken\noutput:\n  - id: x\n    type: nonsense\n",
    )
    .expect("write");
    eventually("the bad policy is rejected", async || {
        ready().await["policy_reload_failures"] == 1
    })
    .await;
    assert_eq!(
        blocked_by().await.as_deref(),
        Some("no-banana"),
        "the old policy keeps serving"
    );
    assert_eq!(ready().await["policy"]["name"], "live");
    let explicit = server.reload_policy().await.expect_err("still invalid");
    assert!(explicit.to_string().contains("policy.yaml"), "{explicit}");
    server.shutdown().await;
}
