//! Bearer-token authentication, compared in constant time.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::ConfigError;
use super::error::ApiError;

/// Shortest API key accepted.
pub const MIN_API_KEY_BYTES: usize = 16;

/// A bearer token. Only its SHA-256 digest is kept, so comparing takes the
/// same time whatever the presented token's length or content.
#[derive(Clone)]
pub struct ApiKey {
    digest: [u8; 32],
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

impl ApiKey {
    /// Accepts keys of at least [`MIN_API_KEY_BYTES`] bytes.
    pub fn new(key: &str) -> Result<Self, ConfigError> {
        if key.len() < MIN_API_KEY_BYTES {
            return Err(ConfigError::Invalid {
                key: "api_key",
                problem: format!("the key has {} bytes", key.len()),
                fix: "use at least 16 random bytes, e.g. `openssl rand -hex 24`",
            });
        }
        Ok(Self {
            digest: Sha256::digest(key.as_bytes()).into(),
        })
    }

    /// Whether `presented` is this key (constant time).
    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.ct_eq(&digest).into()
    }
}

/// Paths that answer without a token (probes).
fn is_open(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Middleware: requests without the right `Authorization: Bearer` token get 401.
pub(crate) async fn require_bearer(
    State(key): State<Option<ApiKey>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(key) = key else {
        return next.run(request).await;
    };
    if is_open(request.uri().path()) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if key.matches(token.trim()) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_key() {
        let key = ApiKey::new("0123456789abcdef-secret").expect("valid");
        assert!(key.matches("0123456789abcdef-secret"));
        assert!(!key.matches("0123456789abcdef-secreT"));
        assert!(!key.matches(""));
        assert!(ApiKey::new("short").is_err());
        assert_eq!(format!("{key:?}"), "ApiKey(..)");
    }
}
