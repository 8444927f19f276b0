//! Any bytes as the body of `POST /v1/chat/completions` and `POST /v1/completions`, through the
//! server's own parsing and checks: `src/server/wire.rs`, compiled here as is (it depends on
//! serde, serde_json and thiserror only). Every body is accepted or refused with a typed error,
//! never a panic; an accepted body is valid UTF-8 JSON within the limits; an error never quotes a
//! string of the body (error messages may reach logs).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/server/wire.rs"]
#[allow(dead_code)]
mod wire;

use wire::{BodyKind, MAX_TOKENS_LIMIT, check_body};

/// Every string (keys and values) of a JSON value.
fn strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k);
            strings(x, out);
        }),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(data).ok();
    for kind in [BodyKind::Chat, BodyKind::Completion] {
        for read_messages in [false, true] {
            match check_body(kind, data, read_messages) {
                Ok(body) => {
                    assert!(std::str::from_utf8(data).is_ok(), "accepted a body that is not UTF-8");
                    assert!(body.raw.is_object());
                    for m in [body.sampling.max_tokens, body.sampling.max_completion_tokens] {
                        assert!(m.is_none_or(|m| m.fract() == 0.0 && (1.0..=MAX_TOKENS_LIMIT as f64).contains(&m)));
                    }
                    assert!(body.sampling.token_limit().is_none_or(|m| (1..=MAX_TOKENS_LIMIT).contains(&m)));
                    if kind == BodyKind::Completion || read_messages {
                        assert!(body.messages.is_some_and(|m| !m.is_empty()));
                    }
                }
                Err(err) => {
                    assert!(!err.message.is_empty());
                    let mut all = Vec::new();
                    if let Some(v) = &parsed {
                        strings(v, &mut all);
                    }
                    for s in all.into_iter().filter(|s| s.len() >= 3) {
                        let quoted = format!("{s:?}");
                        assert!(!err.message.contains(&quoted), "the error quotes the body: {}", err.message);
                    }
                }
            }
        }
    }
});
