//! The one error type of the client.
//!
//! No variant carries the secret key, an `Authorization` header or a token: bodies are kept
//! only as short excerpts with token-like values redacted (see [`excerpt`]), and transport
//! errors are stripped of their URL.

use std::time::Duration;

use http::StatusCode;

/// The result of a client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call to the Server API failed.
///
/// ```
/// # async fn run(client: axum_authsignal::Authsignal) {
/// use axum_authsignal::Error;
/// match client.get_user("user-1").await {
///     Ok(user) => println!("enrolled: {}", user.is_enrolled),
///     Err(Error::Api(api)) if api.status == 404 => println!("no such user"),
///     Err(err) if err.is_transient() => println!("try again later: {err}"),
///     Err(err) => println!("failed: {err}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Authsignal answered with a non-2xx status.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The call did not finish within its time budget (per attempt or overall).
    #[error("{operation}: Authsignal did not answer within {elapsed:?}")]
    Timeout {
        /// The operation, e.g. `"track"`.
        operation: &'static str,
        /// How long the call had run.
        elapsed: Duration,
    },
    /// No connection could be made, or it broke before an answer arrived.
    #[error("{operation}: could not reach Authsignal: {source}")]
    Connection {
        /// The operation, e.g. `"track"`.
        operation: &'static str,
        /// The transport error (its URL removed).
        #[source]
        source: reqwest::Error,
    },
    /// Authsignal answered 2xx with a body that is not the expected JSON.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The client is misconfigured; raised by the builder, before any request.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An argument cannot be sent as given (e.g. a user id of `..`); nothing was sent.
    #[error("{operation}: invalid argument: {reason}")]
    InvalidArgument {
        /// The operation, e.g. `"getUser"`.
        operation: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Error {
    /// The HTTP status Authsignal answered with, for [`Error::Api`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) => Some(api.status),
            _ => None,
        }
    }

    /// The API's error code (`errorCode`, or else `error`), for [`Error::Api`].
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.code.as_deref(),
            _ => None,
        }
    }

    /// Whether the same call might succeed later: timeouts, connection failures, 429 and 5xx.
    /// Configuration, argument, decoding and other 4xx errors will not go away by waiting.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Connection { .. } => true,
            Error::Api(api) => {
                api.status == StatusCode::TOO_MANY_REQUESTS || api.status.is_server_error()
            }
            _ => false,
        }
    }
}

/// A non-2xx answer from the Server API.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The operation, e.g. `"track"`.
    pub operation: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
    /// `errorCode`, or else `error`, from the body (e.g. `unauthorized`, `invalid_request`).
    pub code: Option<String>,
    /// `errorDescription` from the body, or a short excerpt of a body that is not JSON.
    pub description: Option<String>,
    /// How long a 429 or 503 asked the client to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl std::error::Error for ApiError {}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: Authsignal answered {}", self.operation, self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(description) = &self.description {
            write!(f, ": {description}")?;
        }
        if self.status == StatusCode::UNAUTHORIZED {
            f.write_str(
                " (check that the secret key and the region's base URL are correctly configured)",
            )?;
        }
        Ok(())
    }
}

/// A 2xx answer whose body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: undecodable answer ({status}): {reason}; body starts: {excerpt:?}")]
#[non_exhaustive]
pub struct DecodeError {
    /// The operation, e.g. `"track"`.
    pub operation: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
    /// What was wrong, e.g. ``missing field `state` ``.
    pub reason: String,
    /// The start of the body, with token-like values redacted.
    pub excerpt: String,
}

/// A client that cannot be built as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No secret key, or an empty one.
    #[error("the Authsignal secret key is missing or empty (set AUTHSIGNAL_SECRET_KEY)")]
    MissingSecret,
    /// The secret key cannot go into an HTTP header (control characters).
    #[error("the Authsignal secret key contains characters that cannot be sent")]
    InvalidSecret,
    /// The base URL is not an absolute http(s) URL.
    #[error("the Authsignal base URL is invalid: {0}")]
    InvalidBaseUrl(String),
    /// A timeout or retry setting is out of range.
    #[error("invalid client setting: {0}")]
    InvalidSetting(&'static str),
    /// The HTTP client could not be created (e.g. no TLS backend).
    #[error("the HTTP client could not be created: {0}")]
    HttpClient(String),
}

/// A short excerpt of a body for an error message, safe to log.
///
/// Bodies can hold tokens (a `track` answer carries one), so JSON string values under
/// token-like keys and anything shaped like a JWT are replaced by `[redacted]`, and the
/// excerpt is cut to [`EXCERPT_CHARS`] characters.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut json) => {
            redact_json(&mut json);
            json.to_string()
        }
        Err(_) => redact_jwts(&String::from_utf8_lossy(body)),
    };
    let mut cut: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT_CHARS)
        .collect();
    if text.chars().count() > EXCERPT_CHARS {
        cut.push('…');
    }
    cut
}

/// How many characters of a body an error keeps.
pub(crate) const EXCERPT_CHARS: usize = 160;

fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if value.is_string() && is_sensitive_key(key) {
                    *value = serde_json::Value::String("[redacted]".into());
                } else {
                    redact_json(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::String(text) => *text = redact_jwts(text),
        _ => {}
    }
}

fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("token") || key.contains("secret") || key.contains("password")
}

/// Replaces every run that looks like a JWT (`eyJ…` with two dots) by `[redacted]`.
pub(crate) fn redact_jwts(text: &str) -> String {
    let is_jwt_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        let run_len = rest[start..]
            .find(|c: char| !is_jwt_char(c))
            .unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        out.push_str(&rest[..start]);
        if run.matches('.').count() >= 2 {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        rest = &rest[start + run_len..];
    }
    out.push_str(rest);
    out
}

/// Replaces every double-quoted run of a decoder message by `"…"`: serde names fields in
/// backticks but quotes the offending *values*, which may be tokens.
pub(crate) fn scrub_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (index, part) in message.split('"').enumerate() {
        if index % 2 == 0 {
            out.push_str(part);
        } else {
            out.push_str("\"…\"");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_redacts_tokens_in_json_and_text() {
        let body = br#"{"state":"WEIRD","token":"abc.def.ghi","nested":{"accessToken":"x"},"note":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"}"#;
        let cut = excerpt(body);
        assert!(!cut.contains("abc.def.ghi"), "{cut}");
        assert!(!cut.contains("eyJhbGci"), "{cut}");
        assert!(cut.contains("WEIRD"));
        let text = excerpt(b"<html>token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln here</html>");
        assert_eq!(text, "<html>token [redacted] here</html>");
    }

    #[test]
    fn decoder_messages_lose_their_quoted_values() {
        let message =
            r#"invalid type: string "secret-token", expected a boolean at line 1 column 9"#;
        assert_eq!(
            scrub_quoted(message),
            r#"invalid type: string "…", expected a boolean at line 1 column 9"#
        );
        assert_eq!(
            scrub_quoted("missing field `state`"),
            "missing field `state`"
        );
    }

    #[test]
    fn excerpt_is_short_and_single_line() {
        let body = "x\n".repeat(1000);
        let cut = excerpt(body.as_bytes());
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(!cut.contains('\n'));
    }

    #[test]
    fn unauthorized_says_to_check_key_and_region() {
        let err = ApiError {
            operation: "track",
            status: StatusCode::UNAUTHORIZED,
            code: Some("unauthorized".into()),
            description: None,
            retry_after: None,
        };
        let text = err.to_string();
        assert!(
            text.contains("secret key") && text.contains("region"),
            "{text}"
        );
    }
}
