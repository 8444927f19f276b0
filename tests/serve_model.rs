//! `palisade serve` with the real in-process model (SmolLM2-135M, greedy,
//! few tokens), and the same server used as the upstream of a proxy-mode one.
//!
//! Needs the default model in the asset cache (`cargo run -- fetch`).

mod serve_support;

use serde_json::{Value, json};
use serve_support::*;

use palisade::server::ServerWire;

fn question(stream: bool) -> Value {
    json!({
        "model": "ignored",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 12,
        "temperature": 0,
        "seed": 7,
        "stream": stream,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_answers_and_palisade_can_be_its_own_upstream() {
    let server = serve(ServerWire {
        listen: Some("127.0.0.1:0".into()),
        policy: Some(policy_path()),
        reload_poll_ms: Some(0),
        ..ServerWire::default()
    })
    .await;
    let endpoint = url(&server, "/v1/chat/completions");

    let whole = json_of(post_json(&endpoint, &question(false)).await).await;
    let answer = whole["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .to_string();
    assert!(!answer.is_empty(), "{whole}");
    assert!(answer.contains("Paris"), "{answer}");
    let finish = whole["choices"][0]["finish_reason"]
        .as_str()
        .expect("finish");
    assert!(finish == "stop" || finish == "length", "{finish}");
    assert!(whole["usage"]["prompt_tokens"].as_u64().expect("usage") > 0);
    assert!(whole["usage"]["completion_tokens"].as_u64().expect("usage") <= 12);

    let raw = post_json(&endpoint, &question(true))
        .await
        .text()
        .await
        .expect("body");
    let (streamed, last) = chat_stream_text(&sse_payloads(&raw));
    assert_eq!(
        streamed, answer,
        "greedy decoding gives the same text streamed"
    );
    assert_eq!(last["choices"][0]["finish_reason"], finish);

    let models = json_of(
        reqwest::get(url(&server, "/v1/models"))
            .await
            .expect("models"),
    )
    .await;
    let model = models["data"][0]["id"].as_str().expect("id").to_string();
    assert_eq!(whole["model"], model.as_str());

    let blocked =
        json_of(post_json(&endpoint, &chat_body("the forbidden topic", false)).await).await;
    assert_eq!(blocked["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(
        blocked["usage"]["completion_tokens"], 0,
        "the model did not run"
    );

    // Palisade in proxy mode in front of Palisade: same guarded text.
    let proxy = serve(proxy_wire(&format!("http://{}/v1", server.local_addr()))).await;
    let raw = post_json(&url(&proxy, "/v1/chat/completions"), &question(true))
        .await
        .text()
        .await
        .expect("body");
    let (proxied, last) = chat_stream_text(&sse_payloads(&raw));
    assert_eq!(proxied, answer);
    assert_eq!(last["choices"][0]["finish_reason"], finish);
    let via_proxy = json_of(
        reqwest::get(url(&proxy, "/v1/models"))
            .await
            .expect("models"),
    )
    .await;
    assert_eq!(via_proxy["data"][0]["id"], model.as_str());
    let completion =
        json!({"prompt": "What is the capital of France?", "max_tokens": 12, "temperature": 0});
    let text = json_of(post_json(&url(&proxy, "/v1/completions"), &completion).await).await;
    assert_eq!(
        text["choices"][0]["text"],
        answer.as_str(),
        "a completion is one user turn"
    );
    proxy.shutdown().await;
    server.shutdown().await;
}
