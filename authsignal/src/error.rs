//! The one error type of the client.
//!
//! No variant carries the secret key, an `Authorization` header or a token: bodies are kept
//! only as short excerpts with token-like values redacted (see `safe_text::excerpt`), and transport
//! errors are stripped of their URL.

use std::time::Duration;

use http::StatusCode;

/// The result of a client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call to the Server API failed.
///
/// ```
/// # async fn run(client: authsignal::Authsignal) {
/// use authsignal::Error;
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
    /// Authsignal answered 2xx with a body that contradicts itself, e.g. a
    /// `validateChallenge` answer whose `action` and `actionCode` name different actions.
    /// Neither value is used: which one was meant cannot be told.
    #[error("{operation}: contradictory answer: {reason}")]
    Contradictory {
        /// The operation, e.g. `"validateChallenge"`.
        operation: &'static str,
        /// What contradicts what.
        reason: &'static str,
    },
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

#[cfg(test)]
mod tests {
    use super::*;

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
