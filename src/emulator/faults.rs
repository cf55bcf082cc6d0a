//! Fault injection: making one operation slow, failing, garbled or cut off, on purpose.
//!
//! A test arms a [`Fault`] for an operation (named as the client names it: `track`,
//! `validateChallenge`, `getUser`, ..., or [`ANY_OPERATION`]) with
//! [`inject_fault`](super::EmulatorHandle::inject_fault). Each request takes the first armed
//! fault of its operation (else a wildcard one), which then counts down; an exhausted fault
//! disappears. How each kind is produced:
//!
//! | kind | what the client sees | how |
//! |---|---|---|
//! | [`latency`](Fault::latency) | a slow but normal answer | sleep (real time), then route |
//! | [`status`](Fault::status) | that status, JSON error body | answered before routing |
//! | [`too_many_requests`](Fault::too_many_requests) | 429 with `Retry-After` | answered before routing |
//! | [`connection_reset`](Fault::connection_reset) | the connection closes, no answer | the connection's service returns an error, on which hyper drops the socket |
//! | [`malformed_json`](Fault::malformed_json) | 200, a body that is not JSON | answered before routing |
//! | [`truncated_json`](Fault::truncated_json) | 200, the real body cut in half | routed (the operation takes effect), body cut |
//! | [`slow_body`](Fault::slow_body) | headers at once, the body after a delay | routed, body streamed after a sleep |
//! | [`unknown_state`](Fault::unknown_state) | `"state": "SOMETHING_NEW"` | routed, `state` rewritten in the answer |

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};

/// The operation name that arms a fault for every operation.
pub const ANY_OPERATION: &str = "*";

/// The largest answer body a body-rewriting fault reads.
const MAX_REWRITTEN_BODY: usize = 1024 * 1024;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// The answer comes this much later (real time, to trip client timeouts).
    Latency(Duration),
    /// The answer is this status with a JSON error body, and `Retry-After` if set.
    Status {
        /// The status.
        status: StatusCode,
        /// The `Retry-After` header, in whole seconds.
        retry_after: Option<Duration>,
    },
    /// The connection is closed without an answer.
    ConnectionReset,
    /// 200 with a body that is not JSON.
    MalformedJson,
    /// 200 with the real answer cut off halfway.
    TruncatedJson,
    /// The real answer's headers at once, its body after this delay.
    SlowBody(Duration),
    /// The real answer with its `state` replaced by this value.
    UnknownState(String),
}

/// How many requests a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Repeat {
    /// The next `n` requests.
    Times(u32),
    /// Every request, until cleared.
    Always,
}

/// A fault to inject: a kind and a count (once, unless told otherwise).
///
/// ```
/// use std::time::Duration;
/// use axum_authsignal::emulator::{Fault, FaultKind, Repeat};
/// use http::StatusCode;
///
/// let fault = Fault::status(StatusCode::SERVICE_UNAVAILABLE).times(2);
/// assert_eq!(fault.repeat(), Repeat::Times(2));
/// assert_eq!(Fault::connection_reset().always().repeat(), Repeat::Always);
/// assert!(matches!(Fault::latency(Duration::from_secs(3)).kind(), FaultKind::Latency(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    kind: FaultKind,
    repeat: Repeat,
}

impl Fault {
    /// A fault of `kind` that hits the next request only.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            repeat: Repeat::Times(1),
        }
    }

    /// Answers `delay` later (real time).
    pub fn latency(delay: Duration) -> Self {
        Self::new(FaultKind::Latency(delay))
    }

    /// Answers `status` (e.g. 500, 502, 503) with a JSON error body.
    pub fn status(status: StatusCode) -> Self {
        Self::new(FaultKind::Status {
            status,
            retry_after: None,
        })
    }

    /// Answers 429 `too_many_requests` with `Retry-After` (whole seconds).
    pub fn too_many_requests(retry_after: Duration) -> Self {
        Self::new(FaultKind::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(retry_after),
        })
    }

    /// Closes the connection without answering.
    pub fn connection_reset() -> Self {
        Self::new(FaultKind::ConnectionReset)
    }

    /// Answers 200 with a body that is not JSON.
    pub fn malformed_json() -> Self {
        Self::new(FaultKind::MalformedJson)
    }

    /// Answers 200 with the real body cut off halfway (the operation does take effect).
    pub fn truncated_json() -> Self {
        Self::new(FaultKind::TruncatedJson)
    }

    /// Sends the real answer's headers at once and its body `delay` later.
    pub fn slow_body(delay: Duration) -> Self {
        Self::new(FaultKind::SlowBody(delay))
    }

    /// Answers `"state": "SOMETHING_NEW"` (for `track`, `validateChallenge`, `getAction`, ...).
    pub fn unknown_state() -> Self {
        Self::new(FaultKind::UnknownState("SOMETHING_NEW".into()))
    }

    /// Hits the next `n` requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.repeat = Repeat::Times(n);
        self
    }

    /// Hits the next request only (the default).
    #[must_use]
    pub fn once(self) -> Self {
        self.times(1)
    }

    /// Hits every request until cleared.
    #[must_use]
    pub fn always(mut self) -> Self {
        self.repeat = Repeat::Always;
        self
    }

    /// What goes wrong.
    pub fn kind(&self) -> &FaultKind {
        &self.kind
    }

    /// How many requests it hits.
    pub fn repeat(&self) -> Repeat {
        self.repeat
    }
}

/// The armed faults, by operation.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    armed: Vec<(String, VecDeque<Fault>)>,
}

impl Faults {
    pub(crate) fn arm(&mut self, operation: &str, fault: Fault) {
        if fault.repeat == Repeat::Times(0) {
            return;
        }
        match self.armed.iter_mut().find(|(name, _)| name == operation) {
            Some((_, queue)) => queue.push_back(fault),
            None => self
                .armed
                .push((operation.to_owned(), VecDeque::from([fault]))),
        }
    }

    /// Clears the faults of `operation` (all of them for `None`).
    pub(crate) fn clear(&mut self, operation: Option<&str>) {
        match operation {
            Some(operation) => self.armed.retain(|(name, _)| name != operation),
            None => self.armed.clear(),
        }
    }

    /// The fault this request of `operation` meets, counted down.
    pub(crate) fn take(&mut self, operation: &str) -> Option<FaultKind> {
        let kind = self.take_for(operation);
        kind.or_else(|| self.take_for(ANY_OPERATION))
    }

    fn take_for(&mut self, operation: &str) -> Option<FaultKind> {
        let (_, queue) = self.armed.iter_mut().find(|(name, _)| name == operation)?;
        let front = queue.front_mut()?;
        let kind = front.kind.clone();
        if let Repeat::Times(left) = &mut front.repeat {
            *left -= 1;
            if *left == 0 {
                queue.pop_front();
            }
        }
        self.armed.retain(|(_, queue)| !queue.is_empty());
        Some(kind)
    }
}

/// The answer of a fault that replaces the operation, if it does: `Err` when the
/// connection must be dropped, `Ok(Some(..))` for an answer made up here, `Ok(None)` when
/// the request must still be routed (and [`rewrite`] applied to its answer).
pub(crate) async fn before_routing(kind: &FaultKind) -> Result<Option<Response>, ConnectionReset> {
    match kind {
        FaultKind::Latency(delay) => {
            tokio::time::sleep(*delay).await;
            Ok(None)
        }
        FaultKind::Status {
            status,
            retry_after,
        } => Ok(Some(status_answer(*status, *retry_after))),
        FaultKind::ConnectionReset => Err(ConnectionReset),
        FaultKind::MalformedJson => Ok(Some(json_answer(
            StatusCode::OK,
            Body::from(r#"{"state": ALLOW, "idempotencyKey": }"#),
        ))),
        FaultKind::TruncatedJson | FaultKind::SlowBody(_) | FaultKind::UnknownState(_) => Ok(None),
    }
}

/// The routed answer, changed as the fault says.
pub(crate) async fn rewrite(kind: &FaultKind, answer: Response) -> Response {
    let (mut parts, body) = answer.into_parts();
    let bytes = match kind {
        FaultKind::TruncatedJson | FaultKind::SlowBody(_) | FaultKind::UnknownState(_) => {
            match axum::body::to_bytes(body, MAX_REWRITTEN_BODY).await {
                Ok(bytes) => bytes,
                Err(_) => return status_answer(StatusCode::INTERNAL_SERVER_ERROR, None),
            }
        }
        _ => return Response::from_parts(parts, body),
    };
    parts.headers.remove(CONTENT_LENGTH);
    let body = match kind {
        FaultKind::TruncatedJson => Body::from(bytes.slice(..bytes.len() / 2)),
        FaultKind::SlowBody(delay) => {
            let delay = *delay;
            // Headers go out when the answer is returned; the body's only chunk waits.
            Body::from_stream(futures_util::stream::once(async move {
                tokio::time::sleep(delay).await;
                Ok::<_, std::convert::Infallible>(bytes)
            }))
        }
        FaultKind::UnknownState(state) => {
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(serde_json::Value::Object(mut object)) if object.contains_key("state") => {
                    object.insert("state".into(), state.clone().into());
                    Body::from(serde_json::Value::Object(object).to_string())
                }
                _ => Body::from(bytes),
            }
        }
        _ => Body::from(bytes),
    };
    Response::from_parts(parts, body)
}

/// The connection must be dropped without an answer.
#[derive(Debug)]
pub(crate) struct ConnectionReset;

impl std::fmt::Display for ConnectionReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected fault: connection reset")
    }
}

impl std::error::Error for ConnectionReset {}

fn status_answer(status: StatusCode, retry_after: Option<Duration>) -> Response {
    let code = match status {
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests".to_owned(),
        other => other
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
            .replace(' ', "_"),
    };
    let body = serde_json::json!({
        "error": code,
        "errorCode": code,
        "errorDescription": format!("Injected fault: {status}."),
    });
    let mut answer = json_answer(status, Body::from(body.to_string()));
    if let Some(wait) = retry_after {
        answer
            .headers_mut()
            .insert(RETRY_AFTER, http::HeaderValue::from(wait.as_secs()));
    }
    answer
}

fn json_answer(status: StatusCode, body: Body) -> Response {
    let mut answer = Response::new(body);
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_count_down_and_fall_back_to_the_wildcard() {
        let mut faults = Faults::default();
        faults.arm("track", Fault::malformed_json().times(2));
        faults.arm(ANY_OPERATION, Fault::connection_reset().always());
        assert_eq!(faults.take("track"), Some(FaultKind::MalformedJson));
        assert_eq!(faults.take("track"), Some(FaultKind::MalformedJson));
        assert_eq!(faults.take("track"), Some(FaultKind::ConnectionReset));
        assert_eq!(faults.take("getUser"), Some(FaultKind::ConnectionReset));
        faults.clear(Some(ANY_OPERATION));
        assert_eq!(faults.take("getUser"), None);
        faults.arm("getUser", Fault::truncated_json().times(0));
        assert_eq!(faults.take("getUser"), None);
    }
}
