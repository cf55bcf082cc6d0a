//! Fault injection: making one operation slow, failing, garbled or cut off, on purpose.
//!
//! A test arms a [`Fault`] for an operation (named as the client names it: `track`,
//! `validateChallenge`, `getUser`, ..., or [`ANY_OPERATION`]) with
//! [`inject_fault`](super::EmulatorHandle::inject_fault). Each request takes the first armed
//! fault of its operation (else a wildcard one), which then counts down; an exhausted fault
//! disappears. A fault armed [`randomly`](Fault::randomly) hits each request by chance
//! instead, and stays until cleared (a load test's "30 % of calls fail"). How each kind is
//! produced:
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
//! | [`bad_token_rejected`](Fault::bad_token_rejected) | for a bad or expired token, 400 `invalid_request` instead of 200 `isValid: false` | routed, a bad-token answer replaced |
//!
//! [`Fault::catalogue`] lists one fault of every kind under a stable name, for tests that
//! must hold a behaviour for each (e.g. "every fault fails closed").
//!
//! [`Fault::bad_token_rejected`] explains the two shapes of a bad token's answer.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Body;
use axum::response::IntoResponse as _;
use axum::response::Response;
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use serde::{Deserialize, Serialize};

use super::error::HttpError;
use super::state::validation_errors;

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
    /// A `/validate` answer about a bad or expired token (200, `isValid: false`) replaced
    /// by 400 `invalid_request`; every other answer left as it is.
    BadTokenRejected,
}

/// How many requests a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Repeat {
    /// The next `n` requests.
    Times(u32),
    /// Every request, until cleared.
    Always,
    /// Each request with this chance, in percent (1 to 100), drawn anew for each, until
    /// cleared. A request it misses is treated as if the operation had no fault armed:
    /// faults queued behind it never apply, and a [wildcard](ANY_OPERATION) fault may
    /// still hit it.
    Randomly {
        /// The chance of each request, 1 to 100.
        percent: u8,
    },
}

/// A fault to inject: a kind and a count (once, unless told otherwise).
///
/// ```
/// use std::time::Duration;
/// use authsignal_emulator::{Fault, FaultKind, Repeat};
/// use http::StatusCode;
///
/// let fault = Fault::status(StatusCode::SERVICE_UNAVAILABLE).times(2);
/// assert_eq!(fault.repeat(), Repeat::Times(2));
/// assert_eq!(Fault::connection_reset().always().repeat(), Repeat::Always);
/// assert!(matches!(Fault::latency(Duration::from_secs(3)).kind(), FaultKind::Latency(_)));
/// // About 30 % of the requests answer 503, until cleared.
/// let flaky = Fault::status(StatusCode::SERVICE_UNAVAILABLE).randomly(30);
/// assert_eq!(flaky.repeat(), Repeat::Randomly { percent: 30 });
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

    /// For `validateChallenge`: a bad or expired token is answered 400 `invalid_request`
    /// instead of 200 `isValid: false`; good tokens, and user or action mismatches, answer
    /// as ever.
    ///
    /// For a malformed, forged or expired token the emulator answers 200
    /// `{"isValid": false, "error": "Token is invalid."}` (or `"Token has expired."`);
    /// what the live API answers for such a token is not documented, and a client must
    /// survive both that and an error status. This fault gives the other shape: 400 with
    /// the body every Server API error has (documented in Authsignal's server SDK error
    /// handling: `error`, `errorCode`, `errorDescription`), code `invalid_request` ("an
    /// invalid parameter or input"), the 200's `error` text as the description. The status
    /// is assumed, the body shape documented.
    pub fn bad_token_rejected() -> Self {
        Self::new(FaultKind::BadTokenRejected)
    }

    /// One fault of every kind the emulator can inject, each under a stable, descriptive
    /// name, each hitting one request (chain [`always`](Self::always) for more):
    ///
    /// | name | fault |
    /// |---|---|
    /// | `timeout` | [`latency`](Self::latency) of 15 s, past the client's default 10 s deadline |
    /// | `500`, `502`, `503` | [`status`](Self::status) |
    /// | `429` | [`too_many_requests`](Self::too_many_requests), `Retry-After: 1` |
    /// | `reset` | [`connection_reset`](Self::connection_reset) |
    /// | `malformed JSON` | [`malformed_json`](Self::malformed_json) |
    /// | `truncated JSON` | [`truncated_json`](Self::truncated_json) |
    /// | `slow body` | [`slow_body`](Self::slow_body) of 15 s |
    /// | `unknown state` | [`unknown_state`](Self::unknown_state) |
    /// | `bad token 400` | [`bad_token_rejected`](Self::bad_token_rejected) |
    ///
    /// A test suite can hold a table of expected outcomes by these names and check that it
    /// covers the whole catalogue, so that a fault kind added later cannot go untested:
    ///
    /// ```
    /// use authsignal_emulator::Fault;
    ///
    /// let expected = [
    ///     "timeout", "500", "502", "503", "429", "reset", "malformed JSON",
    ///     "truncated JSON", "slow body", "unknown state", "bad token 400",
    /// ];
    /// let names: Vec<&str> = Fault::catalogue().iter().map(|(name, _)| *name).collect();
    /// assert_eq!(names, expected);
    /// ```
    pub fn catalogue() -> Vec<(&'static str, Fault)> {
        let long = Duration::from_secs(15);
        vec![
            ("timeout", Self::latency(long)),
            ("500", Self::status(StatusCode::INTERNAL_SERVER_ERROR)),
            ("502", Self::status(StatusCode::BAD_GATEWAY)),
            ("503", Self::status(StatusCode::SERVICE_UNAVAILABLE)),
            ("429", Self::too_many_requests(Duration::from_secs(1))),
            ("reset", Self::connection_reset()),
            ("malformed JSON", Self::malformed_json()),
            ("truncated JSON", Self::truncated_json()),
            ("slow body", Self::slow_body(long)),
            ("unknown state", Self::unknown_state()),
            ("bad token 400", Self::bad_token_rejected()),
        ]
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

    /// Hits each request with a chance of `percent` in 100 (drawn for each request), until
    /// cleared; above 100 counts as 100, and 0 arms nothing. See [`Repeat::Randomly`] for
    /// what a request it misses meets.
    #[must_use]
    pub fn randomly(mut self, percent: u8) -> Self {
        self.repeat = match percent {
            0 => Repeat::Times(0),
            percent => Repeat::Randomly {
                percent: percent.min(100),
            },
        };
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

/// A fault as a configuration file or the emulator's HTTP route names it: an operation
/// (or `"*"`), a fault by its [catalogue](Fault::catalogue) name or `"status"`, the
/// values that name takes, and how many requests it hits: once by default, `"times": n`,
/// `"always": true`, or each request by chance, `"percent": 1..=100` (until cleared, see
/// [`Repeat::Randomly`]); at most one of the three.
///
/// | `fault` | takes | default |
/// |---|---|---|
/// | `timeout` | `millis` (the delay) | 15000 |
/// | `slow body` | `millis` (before the body) | 15000 |
/// | `500`, `502`, `503` | | |
/// | `status` | `status` (400 to 599) | required |
/// | `429` | `retryAfterSeconds` | 1 |
/// | `reset`, `malformed JSON`, `truncated JSON`, `bad token 400` | | |
/// | `unknown state` | `state` | `SOMETHING_NEW` |
///
/// ```
/// use authsignal_emulator::{Fault, FaultSpec};
/// use http::StatusCode;
///
/// let spec: FaultSpec = serde_json::from_str(
///     r#"{"operation": "track", "fault": "status", "status": 503, "times": 2}"#,
/// ).unwrap();
/// assert_eq!(spec.to_fault().unwrap(), Fault::status(StatusCode::SERVICE_UNAVAILABLE).times(2));
/// let spec: FaultSpec = serde_json::from_str(
///     r#"{"operation": "*", "fault": "reset", "always": true}"#,
/// ).unwrap();
/// assert_eq!(spec.to_fault().unwrap(), Fault::connection_reset().always());
/// let spec: FaultSpec = serde_json::from_str(
///     r#"{"operation": "track", "fault": "500", "percent": 30}"#,
/// ).unwrap();
/// assert_eq!(spec.to_fault().unwrap(), Fault::status(StatusCode::INTERNAL_SERVER_ERROR).randomly(30));
/// let typo: FaultSpec = serde_json::from_str(r#"{"operation": "track", "fault": "5O3"}"#).unwrap();
/// assert!(typo.to_fault().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct FaultSpec {
    /// The operation, as the client names it (`track`, `validateChallenge`, ...), or `"*"`.
    pub operation: String,
    /// The fault's catalogue name, or `status`.
    pub fault: String,
    /// The status of a `status` fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The delay of `timeout` and `slow body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
    /// The `Retry-After` of `429`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// The state `unknown state` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// How many requests it hits (1 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Every request until cleared (instead of `times`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub always: bool,
    /// Each request with this chance, 1 to 100, until cleared (instead of `times` or
    /// `always`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
}

impl FaultSpec {
    /// The fault this names, or why it names none.
    pub fn to_fault(&self) -> Result<Fault, String> {
        let unused = |what: &str, value: bool| {
            if value {
                Err(format!("fault {:?} takes no {what}", self.fault))
            } else {
                Ok(())
            }
        };
        let millis = |default: u64| Duration::from_millis(self.millis.unwrap_or(default));
        let named = self.fault.as_str();
        if !matches!(named, "timeout" | "slow body") {
            unused("millis", self.millis.is_some())?;
        }
        if named != "status" {
            unused("status", self.status.is_some())?;
        }
        if named != "429" {
            unused("retryAfterSeconds", self.retry_after_seconds.is_some())?;
        }
        if named != "unknown state" {
            unused("state", self.state.is_some())?;
        }
        let fault = match named {
            "timeout" => Fault::latency(millis(15_000)),
            "slow body" => Fault::slow_body(millis(15_000)),
            "status" => {
                let status = self
                    .status
                    .and_then(|status| StatusCode::from_u16(status).ok())
                    .filter(|status| status.is_client_error() || status.is_server_error())
                    .ok_or("fault \"status\" needs a status from 400 to 599")?;
                Fault::status(status)
            }
            "429" => {
                Fault::too_many_requests(Duration::from_secs(self.retry_after_seconds.unwrap_or(1)))
            }
            "unknown state" => match &self.state {
                Some(state) => Fault::new(FaultKind::UnknownState(state.clone())),
                None => Fault::unknown_state(),
            },
            other => Fault::catalogue()
                .into_iter()
                .find(|(name, _)| *name == other)
                .map(|(_, fault)| fault)
                .ok_or_else(|| {
                    let names: Vec<&str> =
                        Fault::catalogue().iter().map(|(name, _)| *name).collect();
                    format!(
                        "unknown fault {other:?}: one of {}, or \"status\"",
                        names.join(", ")
                    )
                })?,
        };
        if self.operation.trim().is_empty() {
            return Err("a fault needs an operation (or \"*\")".into());
        }
        match (self.always, self.times, self.percent) {
            (_, _, Some(percent)) if !(1..=100).contains(&percent) => {
                Err("\"percent\" is a chance from 1 to 100".into())
            }
            (true, None, None) => Ok(fault.always()),
            (false, times, None) => Ok(fault.times(times.unwrap_or(1))),
            (false, None, Some(percent)) => Ok(fault.randomly(percent)),
            _ => Err("a fault is \"always\", \"times\" or \"percent\", only one of them".into()),
        }
    }
}

/// Operations no fault or latency reaches, even a wildcard one: the emulator's own
/// controls, so that a test can always clear what it armed.
pub(crate) const CONTROL_OPERATIONS: [&str; 7] = [
    "emulatorOutbox",
    "emulatorFaults",
    "emulatorLatency",
    "emulatorEnrollPush",
    "emulatorPendingPushes",
    "emulatorAnswerPush",
    "emulatorReviews",
];

/// The armed faults, by operation.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    armed: Vec<(String, VecDeque<Fault>)>,
    /// Draws for [`Repeat::Randomly`]: a fault's chance is no secret, so a fast,
    /// predictable generator will do (seeded in tests).
    dice: fastrand::Rng,
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
        if CONTROL_OPERATIONS.contains(&operation) {
            return None;
        }
        let kind = self.take_for(operation);
        kind.or_else(|| self.take_for(ANY_OPERATION))
    }

    fn take_for(&mut self, operation: &str) -> Option<FaultKind> {
        let (_, queue) = self.armed.iter_mut().find(|(name, _)| name == operation)?;
        let front = queue.front_mut()?;
        match &mut front.repeat {
            Repeat::Always => {}
            Repeat::Randomly { percent } => {
                if self.dice.u8(0..100) >= *percent {
                    return None;
                }
            }
            Repeat::Times(left) => {
                *left -= 1;
                if *left == 0 {
                    let kind = front.kind.clone();
                    queue.pop_front();
                    self.armed.retain(|(_, queue)| !queue.is_empty());
                    return Some(kind);
                }
            }
        }
        Some(front.kind.clone())
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
        FaultKind::TruncatedJson
        | FaultKind::SlowBody(_)
        | FaultKind::UnknownState(_)
        | FaultKind::BadTokenRejected => Ok(None),
    }
}

/// The routed answer, changed as the fault says.
pub(crate) async fn rewrite(kind: &FaultKind, answer: Response) -> Response {
    let (mut parts, body) = answer.into_parts();
    let bytes = match kind {
        FaultKind::TruncatedJson
        | FaultKind::SlowBody(_)
        | FaultKind::UnknownState(_)
        | FaultKind::BadTokenRejected => {
            match axum::body::to_bytes(body, MAX_REWRITTEN_BODY).await {
                Ok(bytes) => bytes,
                Err(_) => return status_answer(StatusCode::INTERNAL_SERVER_ERROR, None),
            }
        }
        _ => return Response::from_parts(parts, body),
    };
    if *kind == FaultKind::BadTokenRejected {
        return match bad_token_error(&bytes) {
            Some(description) => HttpError::invalid_request(description).into_response(),
            None => Response::from_parts(parts, Body::from(bytes)),
        };
    }
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

/// The `error` of a `/validate` answer about a bad token (malformed, forged, foreign or
/// expired), if `body` is one; `None` for every other answer, which the fault leaves be.
fn bad_token_error(body: &[u8]) -> Option<String> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    if answer.get("isValid")?.as_bool()? {
        return None;
    }
    let error = answer.get("error")?.as_str()?;
    [validation_errors::INVALID, validation_errors::EXPIRED]
        .contains(&error)
        .then(|| error.to_owned())
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

    /// Faults whose dice are seeded: the counts below are the same on every run.
    fn seeded() -> Faults {
        Faults {
            dice: fastrand::Rng::with_seed(7),
            ..Faults::default()
        }
    }

    #[test]
    fn a_random_fault_hits_about_its_share_and_stays_until_cleared() {
        let mut faults = seeded();
        faults.arm("track", Fault::status(StatusCode::BAD_GATEWAY).randomly(30));
        let draws = 20_000;
        let hits = (0..draws)
            .filter(|_| faults.take("track").is_some())
            .count();
        // 30 % of 20 000 is 6000, with a standard deviation of about 65.
        assert!((5_700..=6_300).contains(&hits), "{hits} hits");
        // Other operations are not hit, and the fault never counts down.
        assert_eq!(faults.take("getUser"), None);
        assert!((0..100).any(|_| faults.take("track").is_some()));
        faults.clear(Some("track"));
        assert!((0..1000).all(|_| faults.take("track").is_none()));
    }

    #[test]
    fn a_request_a_random_fault_misses_meets_the_wildcard_and_nothing_queued_behind() {
        let mut faults = seeded();
        faults.arm("track", Fault::malformed_json().randomly(50));
        faults.arm("track", Fault::truncated_json().always());
        faults.arm(ANY_OPERATION, Fault::connection_reset().always());
        let mut seen = std::collections::HashMap::new();
        for _ in 0..2_000 {
            let kind = faults
                .take("track")
                .expect("the wildcard catches every miss");
            *seen.entry(format!("{kind:?}")).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        for kind in ["MalformedJson", "ConnectionReset"] {
            let count = seen[kind];
            assert!((850..=1_150).contains(&count), "{kind}: {count} of 2000");
        }
    }

    #[test]
    fn random_chances_are_bounded_and_zero_arms_nothing() {
        let mut faults = seeded();
        faults.arm("track", Fault::malformed_json().randomly(0));
        assert_eq!(faults.take("track"), None);
        let certain = Fault::malformed_json().randomly(250);
        assert_eq!(certain.repeat(), Repeat::Randomly { percent: 100 });
        faults.arm("track", certain);
        assert!((0..1000).all(|_| faults.take("track").is_some()));
    }

    #[test]
    fn a_spec_takes_a_percent_alone_and_from_1_to_100() {
        let spec = |json: &str| serde_json::from_str::<FaultSpec>(json).unwrap().to_fault();
        assert_eq!(
            spec(r#"{"operation": "track", "fault": "reset", "percent": 100}"#),
            Ok(Fault::connection_reset().randomly(100))
        );
        for bad in [
            r#"{"operation": "track", "fault": "reset", "percent": 0}"#,
            r#"{"operation": "track", "fault": "reset", "percent": 101}"#,
            r#"{"operation": "track", "fault": "reset", "percent": 30, "times": 2}"#,
            r#"{"operation": "track", "fault": "reset", "percent": 30, "always": true}"#,
            r#"{"operation": "track", "fault": "reset", "times": 2, "always": true}"#,
        ] {
            assert!(spec(bad).is_err(), "{bad}");
        }
    }

    /// Each kind's place in the catalogue check. The match has no wildcard, so a new kind
    /// does not compile until it is given a place here, and then the test below fails
    /// until the catalogue has one of it.
    fn place(kind: &FaultKind) -> usize {
        match kind {
            FaultKind::Latency(_) => 0,
            FaultKind::Status { .. } => 1,
            FaultKind::ConnectionReset => 2,
            FaultKind::MalformedJson => 3,
            FaultKind::TruncatedJson => 4,
            FaultKind::SlowBody(_) => 5,
            FaultKind::UnknownState(_) => 6,
            FaultKind::BadTokenRejected => 7,
        }
    }
    const KINDS: usize = 8;

    #[test]
    fn the_catalogue_has_every_kind_under_unique_names() {
        let catalogue = Fault::catalogue();
        let mut seen = [false; KINDS];
        for (_, fault) in &catalogue {
            seen[place(fault.kind())] = true;
        }
        assert_eq!(seen, [true; KINDS], "a kind is missing from the catalogue");
        let mut names: Vec<&str> = catalogue.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), catalogue.len(), "names repeat");
    }

    #[test]
    fn only_bad_token_answers_are_rejected() {
        let bad = br#"{"isValid":false,"error":"Token is invalid."}"#;
        assert_eq!(bad_token_error(bad).as_deref(), Some("Token is invalid."));
        let expired = br#"{"isValid":false,"error":"Token has expired."}"#;
        assert!(bad_token_error(expired).is_some());
        for other in [
            &br#"{"isValid":false,"error":"User is invalid."}"#[..],
            br#"{"isValid":false,"state":"CHALLENGE_REQUIRED"}"#,
            br#"{"isValid":true,"state":"CHALLENGE_SUCCEEDED"}"#,
            br#"not json"#,
        ] {
            assert_eq!(bad_token_error(other), None);
        }
    }
}
