//! When a failed attempt is repeated, and after how long.
//!
//! Repeating a request is only safe when the server cannot act on it twice. So:
//! - a request that never left (the connection could not be opened) is retried for every
//!   operation;
//! - reads (`GET`) and `track` (which always carries an idempotency key) are also retried
//!   after a lost connection, a timed-out attempt, a 5xx or a 429;
//! - nothing is retried after any other 4xx, and no retry starts past the call's deadline.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// Whether an operation may be sent twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeatable {
    /// Reads, and writes the server de-duplicates (`track` with its idempotency key).
    Yes,
    /// Writes that could take effect twice: retried only if they were never sent.
    OnlyIfNotSent,
}

/// How an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The connection could not be opened: the server saw nothing.
    NotSent,
    /// The request may have reached the server, but no complete answer came back.
    Lost,
    /// The server answered with this status.
    Status(StatusCode, Option<Duration>),
}

/// When and how calls are retried. The default makes at most three attempts.
///
/// ```
/// use std::time::Duration;
/// use authsignal::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_retries(3)
///     .backoff(Duration::from_millis(100), Duration::from_secs(1))
///     .max_retry_after(Duration::from_secs(2));
/// assert_eq!(RetryPolicy::disabled().max_retries_value(), 0);
/// # let _ = policy;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Two retries; back-off from 200 ms doubling up to 2 s, with jitter; `Retry-After`
    /// honoured up to 5 s.
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// One attempt per call, never a retry.
    pub fn disabled() -> Self {
        Self::default().max_retries(0)
    }

    /// How many times a call may be repeated after its first attempt.
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The configured number of retries.
    pub fn max_retries_value(&self) -> u32 {
        self.max_retries
    }

    /// The pause before the first retry, doubling on each further one up to `max`.
    /// Each pause is drawn at random from its upper half, so that clients that failed
    /// together do not retry together.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The longest `Retry-After` that is waited out; a longer one ends the call with the
    /// 429 (or 503), its `retry_after` set, for the caller to decide.
    #[must_use]
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The pause before retry number `retry` (0-based) after `failure`, or `None` when the
    /// failure must not be retried.
    pub(crate) fn pause_before_retry(
        &self,
        repeatable: Repeatable,
        retry: u32,
        failure: Failure,
    ) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let may_repeat = repeatable == Repeatable::Yes;
        match failure {
            Failure::NotSent => Some(self.backoff_pause(retry)),
            Failure::Lost if may_repeat => Some(self.backoff_pause(retry)),
            Failure::Status(status, retry_after)
                if may_repeat
                    && (status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()) =>
            {
                match retry_after {
                    Some(wait) if wait > self.max_retry_after => None,
                    Some(wait) => Some(wait),
                    None => Some(self.backoff_pause(retry)),
                }
            }
            _ => None,
        }
    }

    fn backoff_pause(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_backoff);
        let half = ceiling / 2;
        half + ceiling.mul_f64(fastrand::f64()) / 2
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_HUNDRED: Failure = Failure::Status(StatusCode::INTERNAL_SERVER_ERROR, None);

    #[test]
    fn reads_and_track_retry_on_5xx_429_and_lost_connections() {
        let policy = RetryPolicy::default();
        for failure in [
            FIVE_HUNDRED,
            Failure::Status(StatusCode::TOO_MANY_REQUESTS, None),
            Failure::Lost,
            Failure::NotSent,
        ] {
            assert!(
                policy
                    .pause_before_retry(Repeatable::Yes, 0, failure)
                    .is_some()
            );
        }
    }

    #[test]
    fn unsafe_writes_retry_only_when_nothing_was_sent() {
        let policy = RetryPolicy::default();
        let only = Repeatable::OnlyIfNotSent;
        assert!(
            policy
                .pause_before_retry(only, 0, Failure::NotSent)
                .is_some()
        );
        assert!(policy.pause_before_retry(only, 0, Failure::Lost).is_none());
        assert!(policy.pause_before_retry(only, 0, FIVE_HUNDRED).is_none());
    }

    #[test]
    fn other_4xx_never_retry() {
        let policy = RetryPolicy::default();
        for status in [400, 401, 403, 404, 409, 422] {
            let failure = Failure::Status(StatusCode::from_u16(status).unwrap(), None);
            assert!(
                policy
                    .pause_before_retry(Repeatable::Yes, 0, failure)
                    .is_none()
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy::default().max_retry_after(Duration::from_secs(3));
        let wait = |secs| {
            let failure = Failure::Status(
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(secs)),
            );
            policy.pause_before_retry(Repeatable::Yes, 0, failure)
        };
        assert_eq!(wait(2), Some(Duration::from_secs(2)));
        assert_eq!(wait(4), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_within_bounds() {
        let policy = RetryPolicy::default()
            .max_retries(10)
            .backoff(Duration::from_millis(100), Duration::from_millis(350));
        for (retry, ceiling_ms) in [(0, 100), (1, 200), (2, 350), (5, 350)] {
            for _ in 0..50 {
                let pause = policy
                    .pause_before_retry(Repeatable::Yes, retry, Failure::Lost)
                    .unwrap();
                let ceiling = Duration::from_millis(ceiling_ms);
                assert!(
                    pause >= ceiling / 2 && pause <= ceiling,
                    "{retry}: {pause:?}"
                );
            }
        }
    }

    #[test]
    fn the_retry_budget_is_respected() {
        let policy = RetryPolicy::default().max_retries(2);
        assert!(
            policy
                .pause_before_retry(Repeatable::Yes, 1, Failure::Lost)
                .is_some()
        );
        assert!(
            policy
                .pause_before_retry(Repeatable::Yes, 2, Failure::Lost)
                .is_none()
        );
        assert!(
            RetryPolicy::disabled()
                .pause_before_retry(Repeatable::Yes, 0, Failure::NotSent)
                .is_none()
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(30);
        headers.insert(
            http::header::RETRY_AFTER,
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let parsed = retry_after(&headers).unwrap();
        assert!(parsed > Duration::from_secs(25) && parsed <= Duration::from_secs(30));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
