//! Sending one call: attempts, the time budget, retries, and turning answers into results.

use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::Authsignal;
use super::error::{ApiError, DecodeError, Error};
use super::retry::{Failure, Repeatable, retry_after};
use crate::safe_text::{EXCERPT_CHARS, excerpt, log_safe, scrub_quoted};

/// How many characters of an error code an error keeps: known codes are short.
const CODE_CHARS: usize = 64;

/// The most of an answer's body that is read; a larger 2xx body is a decoding error.
pub(crate) const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// One call to the API, ready to be attempted as often as its retry rules allow.
pub(crate) struct Call {
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    pub(crate) url: reqwest::Url,
    pub(crate) body: Option<Bytes>,
    pub(crate) repeatable: Repeatable,
}

/// What one attempt brought back.
struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Bytes,
    over_limit: bool,
}

impl Authsignal {
    /// Runs `call` within the deadline, retrying as the policy allows, and decodes a 2xx
    /// answer into `T`.
    pub(crate) async fn send<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        let started = Instant::now();
        let deadline = started + self.inner.deadline;
        let mut retries = 0;
        loop {
            // A turn among the calls in flight, where they are bounded: held for the
            // attempt, given back before any pause.
            let turn = match &self.inner.slots {
                Some(slots) => match tokio::time::timeout_at(deadline, slots.acquire()).await {
                    Ok(Ok(turn)) => Some(turn),
                    // Timed out, or closed (never: the client owns the semaphore).
                    _ => {
                        return Err(Error::Timeout {
                            operation: call.operation,
                            elapsed: started.elapsed(),
                        });
                    }
                },
                None => None,
            };
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .min(self.inner.attempt_timeout);
            let attempt = tokio::time::timeout(budget, self.attempt(&call)).await;
            drop(turn);
            let (failure, error) = match attempt {
                Ok(Ok(answer)) if answer.status.is_success() => {
                    tracing::debug!(operation = call.operation, status = %answer.status, retries, "authsignal call succeeded");
                    return decode(call.operation, &answer);
                }
                Ok(Ok(answer)) => {
                    let api = api_error(call.operation, &answer);
                    (
                        Failure::Status(api.status, api.retry_after),
                        Error::Api(api),
                    )
                }
                Ok(Err(err)) => {
                    let failure = if err.is_connect() {
                        Failure::NotSent
                    } else {
                        Failure::Lost
                    };
                    let source = err.without_url();
                    (
                        failure,
                        Error::Connection {
                            operation: call.operation,
                            source,
                        },
                    )
                }
                Err(_elapsed) => (
                    Failure::Lost,
                    Error::Timeout {
                        operation: call.operation,
                        elapsed: started.elapsed(),
                    },
                ),
            };
            let pause = self
                .inner
                .retry
                .pause_before_retry(call.repeatable, retries, failure)
                .filter(|pause| Instant::now() + *pause < deadline);
            let Some(pause) = pause else {
                tracing::debug!(operation = call.operation, retries, error = %error, "authsignal call failed");
                return Err(error);
            };
            tracing::debug!(operation = call.operation, retries, ?pause, error = %error, "retrying authsignal call");
            tokio::time::sleep(pause).await;
            retries += 1;
        }
    }

    async fn attempt(&self, call: &Call) -> Result<Answer, reqwest::Error> {
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, self.inner.authorization.clone())
            .header("X-Authsignal-Version", env!("CARGO_PKG_VERSION"));
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let mut response = request.send().await?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let mut body = Vec::new();
        let mut over_limit = false;
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                over_limit = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            retry_after,
            body: body.into(),
            over_limit,
        })
    }
}

/// Decodes a 2xx body. The body is parsed whatever its `Content-Type` says (the API has
/// sent JSON as `text/plain`); an empty body reads as `null`, which suits operations that
/// answer with nothing.
fn decode<T: DeserializeOwned>(operation: &'static str, answer: &Answer) -> Result<T, Error> {
    let decode_error = |reason: String| {
        Error::Decode(DecodeError {
            operation,
            status: answer.status,
            reason,
            excerpt: excerpt(&answer.body),
        })
    };
    if answer.over_limit {
        return Err(decode_error(format!(
            "the body is larger than {MAX_RESPONSE_BYTES} bytes"
        )));
    }
    let body: &[u8] = if answer.body.trim_ascii().is_empty() {
        b"null"
    } else {
        &answer.body
    };
    serde_json::from_slice(body).map_err(|err| decode_error(scrub_quoted(&err.to_string())))
}

/// The error body: `{"error", "errorCode", "errorDescription"}`, any of them missing, or
/// something that is not JSON at all.
fn api_error(operation: &'static str, answer: &Answer) -> ApiError {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ErrorBody {
        error: Option<String>,
        error_code: Option<String>,
        error_description: Option<String>,
        message: Option<String>,
    }
    // Both come from outside and end up in logs: redacted, on one line, and bounded.
    let (code, description) = match serde_json::from_slice::<ErrorBody>(&answer.body) {
        Ok(body) => (
            body.error_code
                .or(body.error)
                .map(|code| log_safe(&code, CODE_CHARS)),
            body.error_description
                .or(body.message)
                .map(|text| log_safe(&text, EXCERPT_CHARS)),
        ),
        Err(_) if answer.body.trim_ascii().is_empty() => (None, None),
        Err(_) => (None, Some(excerpt(&answer.body))),
    };
    ApiError {
        operation,
        status: answer.status,
        code,
        description,
        retry_after: answer.retry_after,
    }
}
