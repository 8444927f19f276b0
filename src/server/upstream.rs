//! The HTTP client for an upstream OpenAI-compatible server.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use palisade_guard::Guard;

use super::error::ApiError;

/// Time to open a connection to the upstream.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time limit of the readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Most bytes of an upstream error body read to find its message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The endpoint a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/chat/completions`.
    Chat,
    /// `/completions`.
    Completion,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat/completions",
            Endpoint::Completion => "completions",
        }
    }
}

/// An upstream and the guard in front of it.
pub(crate) struct Upstream {
    client: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
    guard: RwLock<Arc<Guard>>,
}

impl Upstream {
    pub fn new(
        base_url: String,
        api_key: Option<String>,
        guard: Guard,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        Ok(Self {
            client,
            base_url,
            api_key,
            guard: RwLock::new(Arc::new(guard)),
        })
    }

    /// The guard for a new request.
    pub fn guard(&self) -> Arc<Guard> {
        match self.guard.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the guard; requests in flight keep theirs.
    pub fn install(&self, guard: Guard) {
        let mut slot = match self.guard.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(guard);
    }

    /// The upstream's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends a streaming request; a non-2xx answer becomes an [`ApiError`].
    pub async fn send(
        &self,
        endpoint: Endpoint,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}/{}", self.base_url, endpoint.path());
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::internal(e.to_string()))?;
        let mut request = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .body(bytes);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| {
            ApiError::upstream(format!(
                "the upstream at {} did not answer: {e}",
                self.base_url
            ))
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(upstream_status(response).await)
    }

    /// The upstream's `/models` answer, passed through.
    pub async fn models(&self) -> Result<(StatusCode, Vec<u8>), ApiError> {
        let mut request = self.client.get(format!("{}/models", self.base_url));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .timeout(PROBE_TIMEOUT * 5)
            .send()
            .await
            .map_err(|e| {
                ApiError::upstream(format!(
                    "the upstream at {} did not answer: {e}",
                    self.base_url
                ))
            })?;
        let status =
            StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let body = response
            .bytes()
            .await
            .map_err(|e| ApiError::upstream(format!("reading the upstream's model list: {e}")))?;
        Ok((status, body.to_vec()))
    }

    /// The model ids the upstream lists (at most `limit`); empty when it
    /// does not answer.
    pub async fn model_ids(&self, limit: usize) -> Vec<String> {
        let Ok((status, body)) = self.models().await else {
            return Vec::new();
        };
        let listed: serde_json::Value = match status.is_success() {
            true => serde_json::from_slice(&body).unwrap_or_default(),
            false => serde_json::Value::Null,
        };
        listed["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .take(limit)
            .collect()
    }

    /// Whether the upstream answers `/models` quickly.
    pub async fn is_ready(&self) -> bool {
        let mut request = self.client.get(format!("{}/models", self.base_url));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        matches!(request.timeout(PROBE_TIMEOUT).send().await, Ok(r) if r.status().is_success())
    }
}

/// An upstream error answer: its status when it is the client's fault (4xx), else 502.
async fn upstream_status(mut response: reqwest::Response) -> ApiError {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| "no error message".to_string());
    let mut error = ApiError::upstream(format!("the upstream answered {status}: {message}"));
    if (400..500).contains(&status)
        && let Ok(code) = StatusCode::from_u16(status)
    {
        error.status = code;
    }
    error
}
