//! Leg 1: no token. Ask Authsignal what to do with this request; on a challenge, remember
//! the request and answer the challenge.

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
use crate::client::types::{CustomData, TrackResponse, UserActionState};
use crate::step_up::answer::{Challenge, Refusal};
use crate::step_up::binding::RequestBinding;
use crate::step_up::config::{CHALLENGE_TTL, Unenrolled};
use crate::step_up::proof::StepUpOutcome;
use crate::step_up::respond::ChallengeForm;
use crate::step_up::telemetry;
use crate::store::{RecordKey, RecordKind, StashedRequest, StoreError};

/// The longest path and query the gate keeps (and sends as the `redirectUrl`).
const MAX_PATH_AND_QUERY: usize = 4096;

/// The media types an HTML form submits, which a browser can be made to send again.
fn is_form_enctype(media_type: Option<&str>) -> bool {
    matches!(
        media_type,
        Some("application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain")
    )
}

impl<S> Gate<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
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
        let started = Instant::now();
        let tracked = shared
            .client
            .track(&caller.user_id, route.action.as_str(), attributes)
            .await;
        telemetry::authsignal_call("track", started);
        let tracked = match tracked {
            Ok(tracked) => tracked,
            // Only an outage opens a fail-open route: a 4xx (a revoked key, a bad
            // argument) or an unreadable answer is no reason to skip the check.
            Err(err) if route.fail_open && err.is_transient() => {
                shared.failed_open.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, "Authsignal is unavailable; this route fails open");
                route.outcome("failed_open", None);
                let user_id = caller.user_id;
                return self
                    .run(parts, body, &user_id, StepUpOutcome::FailedOpen, custom)
                    .await;
            }
            Err(err) => {
                route.outcome("unavailable", Some(&err.to_string()));
                return route.unavailable(audience);
            }
        };
        tracing::Span::current().record("idempotency_key", tracked.idempotency_key.as_str());
        match tracked.state {
            UserActionState::Allow if !tracked.is_enrolled => match route.unenrolled() {
                Unenrolled::FollowAuthsignal => {
                    self.allow(parts, body, caller, tracked, custom).await
                }
                Unenrolled::Refuse => {
                    route.outcome("not_enrolled", None);
                    route.refuse(Refusal::NotEnrolled, audience)
                }
                Unenrolled::Enrol => self.challenge(parts, body, caller, tracked, true).await,
            },
            UserActionState::Allow => self.allow(parts, body, caller, tracked, custom).await,
            UserActionState::ChallengeRequired => {
                self.challenge(parts, body, caller, tracked, false).await
            }
            UserActionState::Block => {
                route.outcome("blocked", None);
                let status = route.on_block;
                route.refuse(Refusal::Blocked { status }, audience)
            }
            UserActionState::ReviewRequired => {
                route.outcome("in_review", None);
                let refusal = Refusal::InReview {
                    status: route.on_review,
                    idempotency_key: tracked.idempotency_key,
                };
                route.refuse(refusal, audience)
            }
            other => {
                route.outcome("unavailable", Some(&format!("unexpected state {other}")));
                route.unavailable(audience)
            }
        }
    }

    /// `ALLOW`: the handler runs with the `custom` values sent, which the rules judged.
    async fn allow(
        self,
        parts: Parts,
        body: Bytes,
        caller: Caller,
        tracked: TrackResponse,
        custom: Option<CustomData>,
    ) -> Response {
        self.route.outcome("allowed", None);
        let user_id = caller.user_id;
        let outcome = StepUpOutcome::Allowed(tracked);
        self.run(parts, body, &user_id, outcome, custom).await
    }

    /// `CHALLENGE_REQUIRED` (or an enrolment): remember the request, then send the browser
    /// to the pre-built UI or give the API client its token.
    async fn challenge(
        self,
        parts: Parts,
        body: Bytes,
        caller: Caller,
        tracked: TrackResponse,
        enrolment: bool,
    ) -> Response {
        let route = self.route.clone();
        let audience = caller.audience;
        let shared = route.shared();
        let binding = RequestBinding::of(&parts, &body);
        // A request can be resumed after the UI only if the UI can send the user back, and
        // only as a GET or a form POST: that is all a browser can be made to send. Nothing
        // else is stashed.
        let replayable = parts.method == Method::GET
            || (parts.method == Method::POST && is_form_enctype(binding.media_type.as_deref()));
        let resumable = shared.redirect_origin.is_some()
            && (audience.navigation || audience.htmx)
            && replayable;
        let form = match (resumable, audience.htmx) {
            (false, _) => ChallengeForm::Token,
            (true, true) => ChallengeForm::Htmx,
            (true, false) => ChallengeForm::Redirect,
        };
        let url = tracked.url.filter(|url| is_http_url(url));
        let answerable = match form {
            ChallengeForm::Token => tracked.token.is_some(),
            ChallengeForm::Redirect | ChallengeForm::Htmx => url.is_some(),
        };
        if !answerable {
            route.outcome(
                "unavailable",
                Some("the challenge answer lacks its url or token"),
            );
            return route.unavailable(audience);
        }
        let stashed = resumable.then(|| StashedRequest {
            content_type: parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            // A copy: the body read from the connection can share hyper's 8 KiB read
            // buffer, which the store would otherwise keep alive for ten minutes
            // (benches/RESULTS.md measured 8 KiB held per 1 KiB body). A GET has no body
            // to replay.
            body: if parts.method == Method::GET {
                Bytes::new()
            } else {
                Bytes::copy_from_slice(&body)
            },
        });
        let action = route.action.as_str();
        let record = binding.into_record(&caller.user_id, action, stashed);
        let key = RecordKey::new(
            RecordKind::Challenge,
            caller.user_id.as_str(),
            tracked.idempotency_key.as_str(),
        );
        let stored = shared.store.put(&key, record, CHALLENGE_TTL).await;
        telemetry::pending(&*shared.store);
        match stored {
            Ok(()) => {}
            Err(StoreError::UserLimit { retry_after }) => {
                route.outcome(
                    "too_many_challenges",
                    Some("the user's pending challenges fill their bound"),
                );
                let retry_after = retry_after.max(std::time::Duration::from_secs(1));
                return route.refuse(Refusal::TooManyChallenges { retry_after }, audience);
            }
            Err(StoreError::TooLarge) => {
                route.outcome("bad_body", Some("the request is too large to keep"));
                let limit = route.body_limit();
                return route.refuse(Refusal::BodyTooLarge { limit }, audience);
            }
            Err(err) => return route.store_failed(&err, audience),
        }
        route.outcome(if enrolment { "enrolment" } else { "challenged" }, None);
        let expires_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |now| (now + CHALLENGE_TTL).as_secs());
        let challenge = Challenge {
            action: action.to_owned(),
            idempotency_key: tracked.idempotency_key,
            token: tracked.token,
            url,
            expires_at,
            enrolment,
            token_header: shared.token_header.as_str().to_owned(),
        };
        shared.responder.challenge(challenge, form, audience)
    }
}

fn is_http_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
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
