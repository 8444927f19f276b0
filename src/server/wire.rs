//! OpenAI request bodies, as far as Palisade reads them. Unknown fields are
//! accepted and ignored, as OpenAI-compatible servers do (clients send many).

use serde::Deserialize;

use palisade_inference::{ChatMessage, GenerationParams, Role};

use super::error::ApiError;

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
    pub max_tokens: Option<usize>,
    pub max_completion_tokens: Option<usize>,
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
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|err| {
        ApiError::bad_request(
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
        Category::Syntax => "malformed JSON".into(),
        Category::Eof => "the JSON ends early".into(),
        Category::Io => "the body could not be read".into(),
        // Data errors name fields and expected types, never values.
        Category::Data => err
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or("")
            .to_string(),
    }
}

impl MessageWire {
    /// The role, or a 400 naming the message.
    pub fn role(&self, index: usize) -> Result<Role, ApiError> {
        match self.role.as_str() {
            "system" | "developer" => Ok(Role::System),
            "user" => Ok(Role::User),
            "assistant" => Ok(Role::Assistant),
            other => Err(ApiError::bad_request(
                Some("messages"),
                format!(
                    "messages[{index}].role {other:?} is not supported: use system, developer, user or assistant"
                ),
            )),
        }
    }

    /// The text content (text parts joined), or a 400.
    pub fn text(&self, index: usize) -> Result<String, ApiError> {
        match &self.content {
            None => Ok(String::new()),
            Some(ContentWire::Text(text)) => Ok(text.clone()),
            Some(ContentWire::Parts(parts)) => {
                let mut text = String::new();
                for part in parts {
                    match (part.kind.as_str(), &part.text) {
                        ("text", Some(t)) => text.push_str(t),
                        (kind, _) => {
                            return Err(ApiError::bad_request(
                                Some("messages"),
                                format!(
                                    "messages[{index}] has a {kind:?} part: only text parts are supported"
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
    /// The conversation for the in-process model.
    pub fn chat_messages(&self) -> Result<Vec<ChatMessage>, ApiError> {
        if self.messages.is_empty() {
            return Err(ApiError::bad_request(
                Some("messages"),
                "messages is empty: send at least one user message",
            ));
        }
        self.messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                Ok(ChatMessage {
                    role: m.role(i)?,
                    content: m.text(i)?,
                })
            })
            .collect()
    }
}

impl PromptWire {
    /// The single prompt, or a 400.
    pub fn single(&self) -> Result<&str, ApiError> {
        match self {
            PromptWire::One(p) => Ok(p),
            PromptWire::Many(list) if list.len() == 1 => Ok(&list[0]),
            PromptWire::Many(_) => Err(ApiError::bad_request(
                Some("prompt"),
                "prompt must be one string (batches are not supported)",
            )),
        }
    }
}

impl SamplingWire {
    /// Rejects what Palisade does not do.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.n.is_some_and(|n| n != 1) {
            return Err(ApiError::bad_request(Some("n"), "n must be 1"));
        }
        Ok(())
    }

    /// Generation settings for the in-process model.
    pub fn params(&self, default_max_tokens: usize) -> Result<GenerationParams, ApiError> {
        self.check()?;
        let mut params = GenerationParams {
            max_tokens: self
                .max_completion_tokens
                .or(self.max_tokens)
                .unwrap_or(default_max_tokens),
            ..GenerationParams::default()
        };
        if let Some(t) = self.temperature {
            params.temperature = t;
        }
        if self.top_p.is_some() {
            params.top_p = self.top_p;
        }
        if let Some(seed) = self.seed {
            params.seed = seed;
        }
        params.stop = match &self.stop {
            None => Vec::new(),
            Some(StopWire::One(s)) => vec![s.clone()],
            Some(StopWire::Many(list)) => list.clone(),
        };
        params.stop.retain(|s| !s.is_empty());
        params
            .validate()
            .map_err(|err| ApiError::bad_request(None, err.to_string()))?;
        Ok(params)
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
        let request: ChatCompletionRequest = parse_body(body).expect("valid");
        let messages = request.chat_messages().expect("messages");
        assert_eq!(messages[1].content, "hi there");
        let params = request.sampling.params(256).expect("params");
        assert_eq!((params.max_tokens, params.stop.len()), (5, 1));
        assert!(request.sampling.stream);

        let err = parse_body::<ChatCompletionRequest>(b"{\"messages\": [").expect_err("bad");
        assert!(err.message.contains("line 1"), "{}", err.message);
        let tool: ChatCompletionRequest =
            parse_body(br#"{"messages":[{"role":"tool","content":"x"}]}"#).expect("parses");
        assert!(tool.chat_messages().is_err());
        let n: ChatCompletionRequest =
            parse_body(br#"{"messages":[{"role":"user","content":"x"}],"n":2}"#).expect("parses");
        assert!(n.sampling.params(8).is_err());
    }
}
