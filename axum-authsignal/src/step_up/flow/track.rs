//! Leg 1: no token. Ask Authsignal what to do with this request; on a challenge, remember
//! the request and answer the challenge.
//!
//! [`Route::leg1`] is the one copy of that decision: the gate runs it on every request
//! without a token, and [`SignIn::start`](crate::step_up::SignIn::start) on the user it
//! has just checked the password of. Both get the same states, bounds, expiry, unenrolled
//! policy, pre-built UI check and metrics.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{Method, Request};
use tokio::time::Instant;
use tower::Service;

use super::{Caller, Gate, on_origin, public_path};
use crate::step_up::answer::{Challenge, Refusal};
use crate::step_up::binding::RequestBinding;
use crate::step_up::config::{CHALLENGE_TTL, Unenrolled};
use crate::step_up::layer::Route;
use crate::step_up::proof::StepUpOutcome;
use crate::step_up::respond::{Audience, ChallengeForm};
use crate::step_up::telemetry;
use crate::store::{PendingChallenge, RecordKey, RecordKind, StashedRequest, StoreError};
use authsignal::types::{TrackAttributes, TrackResponse, UserActionState};

/// The longest path and query the gate keeps (and sends as the `redirectUrl`).
const MAX_PATH_AND_QUERY: usize = 4096;

/// The media types an HTML form submits, which a browser can be made to send again.
fn is_form_enctype(media_type: Option<&str>) -> bool {
    matches!(
        media_type,
        Some("application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain")
    )
}

/// A request leg 1 asks Authsignal about.
pub(crate) struct Asked {
    /// Who is asking, as far as the answer's form goes.
    pub(crate) audience: Audience,
    /// What is kept if Authsignal asks for a challenge: what the returned token is bound
    /// to, the user among it (the user tracked).
    pub(crate) record: PendingChallenge,
    /// Whether a browser sent to the pre-built UI comes back somewhere that finishes the
    /// request (the gate's resume, sign-in's callback). Without it, or for a client that
    /// is no browser, the challenge is answered with its token, for the client's own UI.
    pub(crate) returns_from_ui: bool,
}

/// What leg 1 decided.
pub(crate) enum Decision {
    /// Run the handler (or sign the user in) with this outcome.
    Run(StepUpOutcome),
    /// A challenge was issued and its record kept: answer `response`.
    Challenged {
        response: Response,
        idempotency_key: String,
    },
    /// Answer `response`, a refusal; nothing runs.
    Refused(Response),
}

impl Route {
    /// Tracks the action for `asked` with `attributes` (the context, the `redirectUrl`, the
    /// `custom` values), then decides: run, challenge (the record kept, within the user's
    /// bound), or refuse. Every outcome is counted.
    pub(crate) async fn leg1(&self, attributes: TrackAttributes, asked: Asked) -> Decision {
        let audience = asked.audience;
        let shared = self.shared();
        let started = Instant::now();
        let tracked = shared
            .client
            .track(asked.record.user_id(), self.action.as_str(), attributes)
            .await;
        telemetry::authsignal_call("track", started);
        let tracked = match tracked {
            Ok(tracked) => tracked,
            // Only an outage opens a fail-open route: a 4xx (a revoked key, a bad
            // argument) or an unreadable answer is no reason to skip the check.
            Err(err) if self.fail_open && err.is_transient() => {
                shared.failed_open.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, "Authsignal is unavailable; this route fails open");
                self.outcome("failed_open", None);
                return Decision::Run(StepUpOutcome::FailedOpen);
            }
            Err(err) => {
                self.outcome("unavailable", Some(&err.to_string()));
                return Decision::Refused(self.unavailable(audience));
            }
        };
        tracing::Span::current().record("idempotency_key", tracked.idempotency_key.as_str());
        match tracked.state {
            UserActionState::Allow if !tracked.is_enrolled => match self.unenrolled() {
                Unenrolled::FollowAuthsignal => self.allow(tracked),
                Unenrolled::Refuse => {
                    self.outcome("not_enrolled", None);
                    Decision::Refused(self.refuse(Refusal::NotEnrolled, audience))
                }
                Unenrolled::Enrol => self.challenge(asked, tracked, true).await,
            },
            UserActionState::Allow => self.allow(tracked),
            UserActionState::ChallengeRequired => self.challenge(asked, tracked, false).await,
            UserActionState::Block => {
                self.outcome("blocked", None);
                let status = self.on_block;
                Decision::Refused(self.refuse(Refusal::Blocked { status }, audience))
            }
            UserActionState::ReviewRequired => {
                self.outcome("in_review", None);
                let refusal = Refusal::InReview {
                    status: self.on_review,
                    idempotency_key: tracked.idempotency_key,
                };
                Decision::Refused(self.refuse(refusal, audience))
            }
            other => {
                self.outcome("unavailable", Some(&format!("unexpected state {other}")));
                Decision::Refused(self.unavailable(audience))
            }
        }
    }

    fn allow(&self, tracked: TrackResponse) -> Decision {
        self.outcome("allowed", None);
        Decision::Run(StepUpOutcome::Allowed(tracked))
    }

    /// `CHALLENGE_REQUIRED` (or an enrolment): keep the record, then send the browser to
    /// the pre-built UI or give the client its token.
    async fn challenge(&self, asked: Asked, tracked: TrackResponse, enrolment: bool) -> Decision {
        let Asked {
            audience,
            record,
            returns_from_ui,
        } = asked;
        let shared = self.shared();
        // Only a browser follows a redirect; anything else gets the token.
        let browser = audience.navigation || audience.htmx;
        let form = match (returns_from_ui && browser, audience.htmx) {
            (false, _) => ChallengeForm::Token,
            (true, true) => ChallengeForm::Htmx,
            (true, false) => ChallengeForm::Redirect,
        };
        // Authsignal's answer decides where a browser goes next: only to the pre-built UI.
        let url = match tracked.url {
            Some(url) if shared.ui_origins.allows(&url) => Some(url),
            Some(_) => {
                tracing::warn!(
                    "the pre-built UI URL Authsignal answered is not on an allowed UI origin"
                );
                None
            }
            None => None,
        };
        let answerable = match form {
            ChallengeForm::Token => tracked.token.is_some(),
            ChallengeForm::Redirect | ChallengeForm::Htmx => url.is_some(),
        };
        if !answerable {
            self.outcome(
                "unavailable",
                Some("the challenge answer lacks an allowed url, or its token"),
            );
            return Decision::Refused(self.unavailable(audience));
        }
        let key = RecordKey::new(
            RecordKind::Challenge,
            record.user_id(),
            tracked.idempotency_key.as_str(),
        );
        let stored = shared.store.put(&key, record, CHALLENGE_TTL).await;
        telemetry::pending(&*shared.store);
        match stored {
            Ok(()) => {}
            Err(StoreError::TooLarge) => {
                self.outcome("bad_body", Some("the request is too large to keep"));
                let limit = self.body_limit();
                return Decision::Refused(self.refuse(Refusal::BodyTooLarge { limit }, audience));
            }
            // Over the user's bound (429), or the store full or failing (503).
            Err(err) => return Decision::Refused(self.store_failed(&err, audience)),
        }
        self.outcome(if enrolment { "enrolment" } else { "challenged" }, None);
        let expires_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |now| (now + CHALLENGE_TTL).as_secs());
        let challenge = Challenge {
            action: self.action.as_str().to_owned(),
            idempotency_key: tracked.idempotency_key.clone(),
            token: tracked.token,
            url,
            expires_at,
            enrolment,
            token_header: shared.token_header.as_str().to_owned(),
        };
        Decision::Challenged {
            response: shared.responder.challenge(challenge, form, audience),
            idempotency_key: tracked.idempotency_key,
        }
    }
}

impl<S> Gate<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    /// Leg 1 for a gated request: its `custom` values and binding, then [`Route::leg1`].
    pub(super) async fn track(self, parts: Parts, body: Bytes, caller: Caller) -> Response {
        let route = self.route.clone();
        let audience = caller.audience;
        if public_path(&parts).len() > MAX_PATH_AND_QUERY {
            route.outcome("refused", Some("the path and query are too long to keep"));
            return route.refuse(Refusal::UriTooLong, audience);
        }
        let custom = match route.custom(&parts, &body) {
            Ok(custom) => custom,
            Err(refusal) => {
                route.outcome("bad_body", None);
                return route.refuse(refusal, audience);
            }
        };
        let shared = route.shared();
        let mut attributes = shared.track_attributes(&parts);
        attributes.redirect_url = shared
            .redirect_origin
            .as_ref()
            .map(|origin| on_origin(origin, &public_path(&parts)));
        attributes.custom = custom.clone();
        let binding = RequestBinding::of(&parts, &body);
        // A request can be resumed after the UI only if the UI can send the user back, and
        // only as a GET or a form POST: that is all a browser can be made to send. Nothing
        // else is stashed.
        let replayable = parts.method == Method::GET
            || (parts.method == Method::POST && is_form_enctype(binding.media_type.as_deref()));
        let resumable = shared.redirect_origin.is_some()
            && (audience.navigation || audience.htmx)
            && replayable;
        let stashed = resumable.then(|| {
            let content_type = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            // A copy: the body read from the connection can share hyper's 8 KiB read
            // buffer, which the store would otherwise keep alive for ten minutes
            // (benches/RESULTS.md measured 8 KiB held per 1 KiB body). A GET has no body
            // to replay.
            let body = if parts.method == Method::GET {
                Bytes::new()
            } else {
                Bytes::copy_from_slice(&body)
            };
            StashedRequest::new(body, content_type)
        });
        let user_id = caller.user_id;
        let asked = Asked {
            audience,
            record: binding.into_record(&user_id, route.action.as_str(), stashed),
            returns_from_ui: resumable,
        };
        match route.leg1(attributes, asked).await {
            // ALLOW or fail-open: the proof carries the `custom` values sent (or that would
            // have been), which the rules judged.
            Decision::Run(outcome) => self.run(parts, body, &user_id, outcome, custom).await,
            Decision::Challenged { response, .. } | Decision::Refused(response) => response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_form_can_send_is_replayable() {
        for media in [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "text/plain",
        ] {
            assert!(is_form_enctype(Some(media)), "{media}");
        }
        for media in [None, Some("application/json"), Some("application/xml")] {
            assert!(!is_form_enctype(media), "{media:?}");
        }
    }
}
