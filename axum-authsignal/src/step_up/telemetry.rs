//! What the gate tells operators: a span per request (fields filled as it goes), a log
//! line per refusal with its reason, and, with the `metrics` feature, counters and
//! histograms through the `metrics` facade (whatever recorder the app installs):
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `authsignal_step_up_total` | counter | `action`, `outcome` |
//! | `authsignal_request_duration_seconds` | histogram | `operation` (`track`, `validateChallenge`, `getAction`) |
//! | `authsignal_pending_challenges` | gauge | (where the store can tell) |
//!
//! A route that holds reviews counts its reviews by `outcome`: `held` (a request kept for
//! its reviewer), `still_in_review` (a client back before the decision), `approved` (the
//! handler ran after the approval), `denied` (a held request ended by a denial, another
//! state, or an action Authsignal does not know); a comeback that finds nothing held is
//! `refused`.

use tokio::time::Instant;

use crate::store::PendingChallengeStore;

/// Records the outcome of a request on its span and counts it; the reason, if any, goes
/// to the log only (never to a response).
pub(crate) fn outcome(action: &str, outcome: &'static str, reason: Option<&str>) {
    tracing::Span::current().record("outcome", outcome);
    match reason {
        Some(reason) => tracing::warn!(outcome, reason, "step-up refused"),
        None => tracing::debug!(outcome, "step-up decided"),
    }
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "authsignal_step_up_total",
        "action" => action.to_owned(),
        "outcome" => outcome,
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = action;
}

/// Records how long a call to Authsignal took, on the span and in the histogram.
pub(crate) fn authsignal_call(operation: &'static str, started: Instant) {
    let elapsed = started.elapsed();
    let millis = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    tracing::Span::current().record("authsignal_ms", millis);
    #[cfg(feature = "metrics")]
    metrics::histogram!("authsignal_request_duration_seconds", "operation" => operation)
        .record(elapsed.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = operation;
}

/// Sets the gauge of pending challenges, where the store can tell cheaply.
pub(crate) fn pending(store: &dyn PendingChallengeStore) {
    #[cfg(feature = "metrics")]
    if let Some(pending) = store.pending_challenges() {
        metrics::gauge!("authsignal_pending_challenges").set(pending as f64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = store;
}
