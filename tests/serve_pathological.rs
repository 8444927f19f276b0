//! Pathological request bodies against `palisade serve` in proxy mode (a scripted fake upstream,
//! no model): 10 MB bodies over and under the body limit, invalid UTF-8, 100,000 nested arrays
//! and huge or negative token counts. Each gets a typed JSON error (or, for a 10 MB prompt under
//! the limit, the policy's verdict) in bounded time, and the server keeps serving.

mod serve_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serve_support::*;

const TEN_MB: usize = 10 << 20;

async fn post_raw(url: &str, body: Vec<u8>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("status {status}: the answer is not JSON ({e})"));
    (status, value)
}

fn message(answer: &Value) -> &str {
    answer["error"]["message"]
        .as_str()
        .expect("an error message")
}

/// Sends `body` over a raw connection while reading the answer at the same time: a server that
/// answers 413 early stops reading, so a client that only reads after writing all of it would see
/// a broken pipe instead of the answer. Returns the status and the JSON body.
async fn post_streaming(addr: std::net::SocketAddr, path: &str, body: Vec<u8>) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let writer = tokio::spawn(async move {
        // The server may stop reading (and close) once it has answered: errors are expected.
        if write.write_all(head.as_bytes()).await.is_ok() {
            let _ = write.write_all(&body).await;
        }
    });
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    writer.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let json = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let json = json.find('{').map_or("", |i| &json[i..]);
    let json = &json[..json.rfind('}').map_or(0, |i| i + 1)];
    let value = serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    (status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_megabyte_bodies_are_refused_with_413() {
    let upstream = fake_upstream(Script::new(&["ok"])).await;
    let server = serve(proxy_wire(&upstream.base)).await;
    let big = "a".repeat(TEN_MB);
    for (path, body) in [
        ("/v1/chat/completions", chat_body(&big, false)),
        ("/v1/completions", json!({"prompt": big})),
    ] {
        let started = Instant::now();
        let bytes = serde_json::to_vec(&body).expect("json");
        let (status, answer) = post_streaming(server.local_addr(), path, bytes).await;
        assert_eq!(status, 413, "{path}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error");
        assert!(message(&answer).contains("max_body_bytes"), "{answer}");
        println!("{path}: 10 MB body -> 413 in {:?}", started.elapsed());
    }
    assert_eq!(
        upstream.seen.lock().expect("lock").len(),
        0,
        "nothing reached the upstream"
    );
    let (status, _) = post_raw(
        &url(&server, "/v1/chat/completions"),
        serde_json::to_vec(&chat_body("still there?", false)).expect("json"),
    )
    .await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_megabyte_prompt_under_the_limit_is_judged_in_bounded_time() {
    let upstream = fake_upstream(Script::new(&["ok"])).await;
    let mut wire = proxy_wire(&upstream.base);
    wire.max_body_bytes = Some(16 << 20);
    // The shipped default policy blocks input over 32 KiB, after scanning all of it.
    wire.policy =
        Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/default.yaml"));
    let server = serve(wire).await;
    let prompt = "Tell me about the weather in Paris. ".repeat(TEN_MB / 36);
    let started = Instant::now();
    let (status, answer) = post_raw(
        &url(&server, "/v1/chat/completions"),
        serde_json::to_vec(&chat_body(&prompt, false)).expect("json"),
    )
    .await;
    let took = started.elapsed();
    println!("10 MB prompt under a 16 MiB limit: status {status} in {took:?}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let text = answer.to_string();
    assert!(
        text.contains("input-length"),
        "blocked by the length rule: {text}"
    );
    assert_eq!(
        upstream.seen.lock().expect("lock").len(),
        0,
        "nothing reached the upstream"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_deep_nesting_and_token_counts_get_typed_400s() {
    let upstream = fake_upstream(Script::new(&["ok"])).await;
    let server = serve(proxy_wire(&upstream.base)).await;
    let chat = url(&server, "/v1/chat/completions");
    let completions = url(&server, "/v1/completions");
    let deep = format!(r#"{{"prompt":"x","extra":{}}}"#, "[".repeat(100_000));
    let deep_messages = format!(r#"{{"messages":{}}}"#, "[".repeat(100_000));
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "utf-8 in a string",
            &chat,
            b"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}".to_vec(),
            "not a valid request",
        ),
        (
            "utf-8 outside strings",
            &completions,
            b"{\"prompt\":\"x\"\xc3\x28}".to_vec(),
            "not a valid request",
        ),
        (
            "lone surrogate escape",
            &completions,
            br#"{"prompt":"\ud800"}"#.to_vec(),
            "not a valid request",
        ),
        (
            "100k nested arrays",
            &completions,
            deep.into_bytes(),
            "nested too deeply",
        ),
        (
            "100k nested messages",
            &chat,
            deep_messages.into_bytes(),
            "expected a string",
        ),
        (
            "max_tokens 10^12",
            &completions,
            br#"{"prompt":"x","max_tokens":1000000000000}"#.to_vec(),
            "between 1 and",
        ),
        (
            "max_tokens 2^64",
            &chat,
            br#"{"messages":[{"role":"user","content":"x"}],"max_tokens":18446744073709551616}"#
                .to_vec(),
            "max_tokens",
        ),
        (
            "negative max_tokens",
            &chat,
            br#"{"messages":[{"role":"user","content":"x"}],"max_tokens":-1}"#.to_vec(),
            "max_tokens",
        ),
        (
            "zero max_completion_tokens",
            &chat,
            br#"{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":0}"#.to_vec(),
            "between 1 and",
        ),
    ];
    for (what, endpoint, body, expected) in cases {
        let (status, answer) = post_raw(endpoint, body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error", "{what}");
        assert!(message(&answer).contains(expected), "{what}: {answer}");
    }
    assert_eq!(
        upstream.seen.lock().expect("lock").len(),
        0,
        "nothing reached the upstream"
    );
    let (status, _) = post_raw(
        &completions,
        br#"{"prompt":"fine","max_tokens":4}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "the server still serves");
    server.shutdown().await;
}
