//! [`ReplayGuard`]: the event ids already handled, each kept while a request carrying it
//! could still verify.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::WebhookVerifier;

/// Remembers the webhook events already handled, so that a captured request replayed
/// within the tolerance window (or a delivery Authsignal retries) is handled once.
///
/// A signature only says who sent a request, not that it is new: the same request verifies
/// again for as long as its timestamp is within the verifier's tolerance. An event's id is
/// unique, so the app drops a request whose event id it has already handled.
/// [`first_delivery`](Self::first_delivery) records the id and says whether it is new, in
/// one step, so that two copies racing each other cannot both pass.
///
/// Each id is kept until the last signature seen with it stops verifying: its timestamp
/// plus the tolerance (Authsignal may sign up to the tolerance ahead of this server's
/// clock, so that can be up to twice the tolerance from now). Older ids are dropped as
/// new ones arrive: memory is bounded by the authentic deliveries of that window, and only
/// the holder of the secret can make more. Ids are kept in this process; an app with
/// several instances keeps them in a shared store instead (a Redis `SET key NX PX`, with
/// the same expiry, does the same thing).
///
/// Made with [`WebhookVerifier::replay_guard`], which gives it the verifier's tolerance.
/// Cheap to clone: the clones share the ids.
///
/// ```
/// use std::time::{SystemTime, UNIX_EPOCH};
/// use authsignal::webhook::{WebhookEvent, WebhookVerifier, signature_header};
///
/// let webhooks = WebhookVerifier::new("your-webhook-secret");
/// let replays = webhooks.replay_guard();
///
/// // Handles an event the first time it arrives; `false` for a repeat.
/// let handle = |header: &str, body: &[u8]| -> bool {
///     let checked = webhooks.check_header(header.as_bytes(), SystemTime::now()).unwrap();
///     let event: WebhookEvent = webhooks.verify_body(&checked, body).unwrap();
///     if !replays.first_delivery(&event.id, checked.signed_at()) {
///         return false; // Handled already: answer 200 so that Authsignal stops retrying.
///     }
///     // ... handle the event once ...
///     true
/// };
///
/// let body = br#"{"version":1,"type":"email.created","id":"evt-1","source":"https://authsignal.com",
///     "time":"2025-02-20T01:51:56.070Z","tenantId":"tenant-1","data":{}}"#;
/// let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
/// let header = signature_header("your-webhook-secret", now, body);
/// assert!(handle(&header, body));
/// assert!(!handle(&header, body), "the same delivery again");
/// ```
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    /// How long a signature verifies after its timestamp; `None`: forever.
    tolerance: Option<Duration>,
    /// Each id handled, with when it may be forgotten (`None`: never).
    seen: Arc<Mutex<HashMap<String, Option<SystemTime>>>>,
}

impl WebhookVerifier {
    /// A [`ReplayGuard`] that keeps each event id for as long as this verifier accepts a
    /// request carrying it. Without a tolerance
    /// ([`without_tolerance`](Self::without_tolerance), for tests), a request verifies
    /// forever, and the guard keeps every id until it is [forgotten](ReplayGuard::forget).
    pub fn replay_guard(&self) -> ReplayGuard {
        ReplayGuard {
            tolerance: self.tolerance,
            seen: Arc::default(),
        }
    }
}

impl ReplayGuard {
    /// Whether `event_id` is delivered for the first time, recording it either way:
    /// `true` the first time, `false` for every copy after it until the id expires.
    /// `signed_at` is when the request carrying it was signed
    /// ([`SignatureHeader::signed_at`](super::SignatureHeader::signed_at)).
    #[must_use]
    pub fn first_delivery(&self, event_id: &str, signed_at: SystemTime) -> bool {
        self.first_delivery_at(event_id, signed_at, SystemTime::now())
    }

    /// [`first_delivery`](Self::first_delivery) as if the time were `now`, for
    /// deterministic tests.
    #[must_use]
    pub fn first_delivery_at(
        &self,
        event_id: &str,
        signed_at: SystemTime,
        now: SystemTime,
    ) -> bool {
        // The instant a request signed at `signed_at` stops verifying; `None`: never. The
        // verifier compares whole seconds, so it accepts until a second after `signed_at +
        // tolerance`.
        let expires = self
            .tolerance
            .and_then(|tolerance| signed_at.checked_add(tolerance + Duration::from_secs(1)));
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, until| until.is_none_or(|until| until > now));
        match seen.get_mut(event_id) {
            Some(until) => {
                // Another copy, perhaps signed later: keep the id until that one expires too.
                *until = later(*until, expires);
                false
            }
            None => {
                seen.insert(event_id.to_owned(), expires);
                true
            }
        }
    }

    /// Forgets `event_id`, e.g. when handling it failed and Authsignal's retry should be
    /// handled after all.
    pub fn forget(&self, event_id: &str) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(event_id);
    }

    /// How many ids are kept, expired ones included until the next
    /// [`first_delivery`](Self::first_delivery) drops them.
    #[must_use]
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no id is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The later of two expiries, `None` (never) being the latest.
fn later(a: Option<SystemTime>, b: Option<SystemTime>) -> Option<SystemTime> {
    Some(a?.max(b?))
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn guard() -> ReplayGuard {
        WebhookVerifier::new("secret")
            .with_tolerance(Duration::from_secs(300))
            .replay_guard()
    }

    #[test]
    fn an_id_passes_once_while_its_signature_verifies() {
        let guard = guard();
        assert!(guard.first_delivery_at("evt-1", at(1000), at(1000)));
        assert!(!guard.first_delivery_at("evt-1", at(1000), at(1000)));
        assert!(!guard.first_delivery_at("evt-1", at(1000), at(1300)));
        assert!(guard.first_delivery_at("evt-2", at(1000), at(1300)));
        // Clones share the ids.
        assert!(!guard.clone().first_delivery_at("evt-2", at(1000), at(1300)));
    }

    #[test]
    fn ids_are_kept_until_the_signature_expires_and_no_longer() {
        let guard = guard();
        // Signed ahead of this clock (within the tolerance): it verifies until 1601.
        assert!(guard.first_delivery_at("evt-future", at(1300), at(1000)));
        // Signed now: it verifies until 1301.
        assert!(guard.first_delivery_at("evt-now", at(1000), at(1000)));
        assert!(!guard.first_delivery_at("evt-now", at(1000), at(1300)));
        assert!(!guard.first_delivery_at("evt-future", at(1300), at(1600)));
        assert_eq!(
            guard.len(),
            1,
            "evt-now is dropped once it no longer verifies"
        );
        assert!(guard.first_delivery_at("evt-late", at(1601), at(1601)));
        assert_eq!(guard.len(), 1, "so is evt-future");
    }

    #[test]
    fn a_copy_signed_later_keeps_the_id_until_it_expires_too() {
        let guard = guard();
        assert!(guard.first_delivery_at("evt-1", at(1000), at(1000)));
        // A retry of the same event, signed later: dropped, and remembered until 1501.
        assert!(!guard.first_delivery_at("evt-1", at(1200), at(1200)));
        assert!(!guard.first_delivery_at("evt-1", at(1200), at(1500)));
        assert!(guard.first_delivery_at("evt-1", at(1501), at(1501)));
    }

    /// The guard's window is the verifier's: whenever a captured request still verifies,
    /// its id is still kept, and once it no longer does, the id is gone.
    #[test]
    fn an_id_is_kept_exactly_while_its_request_verifies() {
        let verifier = WebhookVerifier::new("secret").with_tolerance(Duration::from_secs(300));
        let body = r#"{"id":"evt-1"}"#;
        let signed = 1_000_000;
        let header = super::super::signature_header("secret", signed, body);
        for offset_ms in (-301_000_i64..=302_000).step_by(250) {
            let now = if offset_ms < 0 {
                at(signed) - Duration::from_millis(offset_ms.unsigned_abs())
            } else {
                at(signed) + Duration::from_millis(offset_ms.unsigned_abs())
            };
            // Handled when it first arrived, as early as the verifier allows.
            let guard = verifier.replay_guard();
            assert!(guard.first_delivery_at("evt-1", at(signed), at(signed - 300)));
            let verifies = verifier.verify_at(&header, body, now).is_ok();
            let dropped = !guard.first_delivery_at("evt-1", at(signed), now);
            if offset_ms >= 0 {
                assert_eq!(dropped, verifies, "{offset_ms} ms after signing");
            } else {
                assert!(!verifies || dropped, "{offset_ms} ms after signing");
            }
        }
    }

    #[test]
    fn a_forgotten_id_passes_again() {
        let guard = guard();
        assert!(guard.first_delivery_at("evt-1", at(1000), at(1000)));
        guard.forget("evt-1");
        assert!(guard.is_empty());
        assert!(guard.first_delivery_at("evt-1", at(1000), at(1001)));
    }

    #[test]
    fn without_a_tolerance_ids_are_kept_until_forgotten() {
        let guard = WebhookVerifier::new("secret")
            .without_tolerance()
            .replay_guard();
        assert!(guard.first_delivery_at("evt-1", at(1000), at(1000)));
        assert!(!guard.first_delivery_at("evt-1", at(1000), at(u32::MAX.into())));
    }
}
