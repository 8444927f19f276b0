//! OpenAI request bodies, as far as Palisade reads them, and every check made on a body before
//! any work ([`check_body`]). Unknown fields are accepted and ignored, as OpenAI-compatible
//! servers do (clients send many).
//!
//! This file uses serde, serde_json and thiserror only, no other module of the crate, so that the
//! `http_body` fuzz target (`fuzz/fuzz_targets/http_body.rs`) compiles exactly this code.

use serde::Deserialize;
use serde_json::Value;

/// The largest `max_tokens` (or `max_completion_tokens`) a request may ask for: far above any
/// context window Palisade runs, low enough that a typo such as `10^12` is refused before any
/// work instead of being taken as "until the context is full" or passed upstream.
pub(crate) const MAX_TOKENS_LIMIT: usize = 1 << 20;

/// Why a request body was refused: the server answers 400 with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct WireError {
    /// The offending parameter, when there is one.
    pub param: Option<&'static str>,
    /// What is wrong, naming fields and types, never quoting the body.
    pub message: String,
}

impl WireError {
    fn new(param: Option<&'static str>, message: impl Into<String>) -> Self {
        WireError {
            param,
            message: message.into(),
        }
    }
}

/// A message's role, as Palisade understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireRole {
    /// `system` or `developer`.
    System,
    /// `user`.
    User,
    /// `assistant`.
    Assistant,
}

/// Which endpoint a body was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions`.
    Completion,
}

/// A body that passed every check.
#[derive(Debug)]
pub(crate) struct CheckedBody {
    /// The model asked for.
    pub model: Option<String>,
    /// The conversation with checked roles and text; `None` for a chat body whose messages go to
    /// an upstream as sent (it may know more roles).
    pub messages: Option<Vec<(WireRole, String)>>,
    /// The sampling fields.
    pub sampling: SamplingWire,
    /// The whole body as JSON, for an upstream.
    pub raw: Value,
}

/// Parses and checks a request body for `kind`. `read_messages` asks for the conversation of a
/// chat body (roles limited to system, developer, user and assistant; only text parts).
pub(crate) fn check_body(
    kind: BodyKind,
    body: &[u8],
    read_messages: bool,
) -> Result<CheckedBody, WireError> {
    let (model, messages, sampling) = match kind {
        BodyKind::Chat => {
            let request: ChatCompletionRequest = parse_body(body)?;
            let messages = if read_messages {
                Some(request.conversation()?)
            } else if request.messages.is_empty() {
                return Err(empty_messages());
            } else {
                None
            };
            (request.model, messages, request.sampling)
        }
        BodyKind::Completion => {
            let request: CompletionRequest = parse_body(body)?;
            let prompt = request.prompt.single()?.to_owned();
            (
                request.model,
                Some(vec![(WireRole::User, prompt)]),
                request.sampling,
            )
        }
    };
    sampling.check()?;
    Ok(CheckedBody {
        model,
        messages,
        sampling,
        raw: parse_body(body)?,
    })
}

fn empty_messages() -> WireError {
    WireError::new(
        Some("messages"),
        "messages is empty: send at least one user message",
    )
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatCompletionRequest {
    pub model: Option<String>,
    pub messages: Vec<MessageWire>,
    #[serde(flatten)]
    pub sampling: SamplingWire,
}

/// `POST /v1/completions`.
#[derive(Debug, Deserialize)]
pub(crate) struct CompletionRequest {
    pub model: Option<String>,
    pub prompt: PromptWire,
    #[serde(flatten)]
    pub sampling: SamplingWire,
}

/// The fields both endpoints share.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SamplingWire {
    #[serde(default)]
    pub stream: bool,
    /// Any JSON number, so that a negative, fractional or huge value is refused by
    /// [`SamplingWire::check`] naming the field, not by the parser (which cannot, behind
    /// `flatten`).
    pub max_tokens: Option<f64>,
    /// Like `max_tokens`; wins over it.
    pub max_completion_tokens: Option<f64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<u64>,
    pub stop: Option<StopWire>,
    pub n: Option<u32>,
}

/// `stop`: one string or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum StopWire {
    One(String),
    Many(Vec<String>),
}

/// `prompt`: one string or a list holding one string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum PromptWire {
    One(String),
    Many(Vec<String>),
}

/// One chat message. `content` is a string or a list of parts.
#[derive(Debug, Deserialize)]
pub(crate) struct MessageWire {
    pub role: String,
    #[serde(default)]
    pub content: Option<ContentWire>,
}

/// Message content.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ContentWire {
    Text(String),
    Parts(Vec<PartWire>),
}

/// A content part; only `text` parts are supported.
#[derive(Debug, Deserialize)]
pub(crate) struct PartWire {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

/// Parses a JSON body, naming line and column on error.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    serde_json::from_slice(body).map_err(|err| {
        WireError::new(
            None,
            format!(
                "the request body is not a valid request: {} at line {} column {}",
                describe(&err),
                err.line(),
                err.column()
            ),
        )
    })
}

/// serde_json's message without any quoted input.
fn describe(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax if err.to_string().starts_with("recursion limit exceeded") => {
            "the JSON is nested too deeply (at most 128 levels)".into()
        }
        Category::Syntax => "malformed JSON".into(),
        Category::Eof => "the JSON ends early".into(),
        Category::Io => "the body could not be read".into(),
        // Data errors name fields and expected types; values they quote are cut out.
        Category::Data => unquote(err.to_string().split(" at line ").next().unwrap_or("")),
    }
}

/// Replaces every double-quoted part of a serde message (a value from the body, such as
/// `invalid type: string "..."`) with `"…"`.
fn unquote(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '"' {
            out.push('…');
            while let Some(q) = chars.next() {
                match q {
                    '\\' => {
                        chars.next();
                    }
                    '"' => {
                        out.push('"');
                        break;
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

impl MessageWire {
    /// The role, or an error naming the message.
    pub fn role(&self, index: usize) -> Result<WireRole, WireError> {
        match self.role.as_str() {
            "system" | "developer" => Ok(WireRole::System),
            "user" => Ok(WireRole::User),
            "assistant" => Ok(WireRole::Assistant),
            // The role is not quoted: errors never repeat the body.
            _ => Err(WireError::new(
                Some("messages"),
                format!(
                    "messages[{index}].role is not supported: use system, developer, user or assistant (other roles, such as tool, need an upstream)"
                ),
            )),
        }
    }

    /// The text content (text parts joined), or an error.
    pub fn text(&self, index: usize) -> Result<String, WireError> {
        match &self.content {
            None => Ok(String::new()),
            Some(ContentWire::Text(text)) => Ok(text.clone()),
            Some(ContentWire::Parts(parts)) => {
                let mut text = String::new();
                for part in parts {
                    match (part.kind.as_str(), &part.text) {
                        ("text", Some(t)) => text.push_str(t),
                        _ => {
                            return Err(WireError::new(
                                Some("messages"),
                                format!(
                                    "messages[{index}] has a part of another type than text: only text parts are supported"
                                ),
                            ));
                        }
                    }
                }
                Ok(text)
            }
        }
    }
}

impl ChatCompletionRequest {
    /// The conversation: every message's role and text.
    pub fn conversation(&self) -> Result<Vec<(WireRole, String)>, WireError> {
        if self.messages.is_empty() {
            return Err(empty_messages());
        }
        self.messages
            .iter()
            .enumerate()
            .map(|(i, m)| Ok((m.role(i)?, m.text(i)?)))
            .collect()
    }
}

impl PromptWire {
    /// The single prompt, or an error.
    pub fn single(&self) -> Result<&str, WireError> {
        match self {
            PromptWire::One(p) => Ok(p),
            PromptWire::Many(list) if list.len() == 1 => Ok(&list[0]),
            PromptWire::Many(_) => Err(WireError::new(
                Some("prompt"),
                "prompt must be one string (batches are not supported)",
            )),
        }
    }
}

impl SamplingWire {
    /// Rejects what Palisade does not do.
    pub fn check(&self) -> Result<(), WireError> {
        if self.n.is_some_and(|n| n != 1) {
            return Err(WireError::new(Some("n"), "n must be 1"));
        }
        let asked = [
            ("max_completion_tokens", self.max_completion_tokens),
            ("max_tokens", self.max_tokens),
        ];
        for (name, value) in asked {
            if let Some(m) = value
                && !(m.fract() == 0.0 && (1.0..=MAX_TOKENS_LIMIT as f64).contains(&m))
            {
                return Err(WireError::new(
                    Some(name),
                    format!(
                        "{name} is {m}: it must be a whole number between 1 and {MAX_TOKENS_LIMIT}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The token limit asked for (`max_completion_tokens`, else `max_tokens`); a whole number in
    /// range once [`SamplingWire::check`] passed.
    pub fn token_limit(&self) -> Option<usize> {
        self.max_completion_tokens
            .or(self.max_tokens)
            .map(|m| m.clamp(0.0, MAX_TOKENS_LIMIT as f64) as usize)
    }

    /// The stop strings, empty ones dropped (they would match at once).
    pub fn stop_list(&self) -> Vec<String> {
        let mut stop = match &self.stop {
            None => Vec::new(),
            Some(StopWire::One(s)) => vec![s.clone()],
            Some(StopWire::Many(list)) => list.clone(),
        };
        stop.retain(|s| !s.is_empty());
        stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openai_shapes_and_rejects_what_is_unsupported() {
        let body = br#"{"model":"m","messages":[{"role":"system","content":"be brief"},
            {"role":"user","content":[{"type":"text","text":"hi "},{"type":"text","text":"there"}]}],
            "stream":true,"max_tokens":5,"stop":"\n","user":"ignored","stream_options":{"include_usage":true}}"#;
        let checked = check_body(BodyKind::Chat, body, true).expect("valid");
        let messages = checked.messages.expect("messages");
        assert_eq!(messages[1], (WireRole::User, "hi there".to_owned()));
        assert_eq!(checked.sampling.token_limit(), Some(5));
        assert_eq!(checked.sampling.stop_list().len(), 1);
        assert!(checked.sampling.stream);
        assert_eq!(checked.raw["user"], "ignored");

        let err = parse_body::<ChatCompletionRequest>(b"{\"messages\": [").expect_err("bad");
        assert!(err.message.contains("line 1"), "{}", err.message);
        let tool = br#"{"messages":[{"role":"tool","content":"x"}]}"#;
        let err = check_body(BodyKind::Chat, tool, true).expect_err("tool");
        assert!(err.message.contains("messages[0].role") && !err.message.contains("\"tool\""));
        assert!(check_body(BodyKind::Chat, tool, false).is_ok());
        let n = br#"{"messages":[{"role":"user","content":"x"}],"n":2}"#;
        assert_eq!(
            check_body(BodyKind::Chat, n, false).expect_err("n").param,
            Some("n")
        );
        let batch = br#"{"prompt":["a","b"]}"#;
        assert!(check_body(BodyKind::Completion, batch, false).is_err());
    }

    #[test]
    fn huge_token_counts_and_deep_nesting_are_refused() {
        for (body, param) in [
            (r#"{"prompt":"x","max_tokens":1000000000000}"#, "max_tokens"),
            (
                r#"{"prompt":"x","max_completion_tokens":0}"#,
                "max_completion_tokens",
            ),
        ] {
            let err = check_body(BodyKind::Completion, body.as_bytes(), false).expect_err(body);
            assert_eq!(err.param, Some(param), "{err}");
            assert!(err.message.contains("1048576"), "{err}");
        }
        let typed = check_body(
            BodyKind::Completion,
            br#"{"prompt":"x","max_tokens":"my secret"}"#,
            false,
        );
        let typed = typed.expect_err("a string");
        assert!(
            typed.message.contains("invalid type") && !typed.message.contains("secret"),
            "{typed}"
        );
        let negative = check_body(
            BodyKind::Completion,
            br#"{"prompt":"x","max_tokens":-5}"#,
            false,
        );
        assert!(
            negative
                .expect_err("negative")
                .message
                .contains("max_tokens")
        );
        let deep = format!(r#"{{"prompt":"x","extra":{}}}"#, "[".repeat(100_000));
        let err = check_body(BodyKind::Completion, deep.as_bytes(), false).expect_err("deep");
        assert!(err.message.contains("nested too deeply"), "{err}");
        let not_utf8 = b"{\"prompt\":\"\xff\xfe\"}";
        let err = check_body(BodyKind::Completion, not_utf8, false).expect_err("utf-8");
        assert!(err.message.contains("line 1"), "{err}");
    }
}
