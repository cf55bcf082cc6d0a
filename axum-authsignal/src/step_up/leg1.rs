//! Leg 1: a request without a token. Ask Authsignal what to do with it (`track`), then
//! run, challenge (the request's record kept, within the user's bound) or refuse.
//!
//! [`decide`] is the one copy of that decision: the gate runs it on every gated request
//! without a token, and [`SignIn::start`](super::SignIn::start) on the user it has just
//! checked the password of. Both get the same context ([`attributes`]), states, bounds,
//! expiry, unenrolled policy, pre-built UI check and metrics.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::Response;
use http::header::USER_AGENT;
use http::request::Parts;
use tokio::time::Instant;

use super::answer::{Challenge, HeldReview, Refusal};
use super::held;
use super::proof::StepUpOutcome;
use super::respond::{Audience, ChallengeForm};
use super::route::Route;
use super::settings::{
    CHALLENGE_TTL, ConfigSettings, REVIEW_HEADER, REVIEW_RETRY_AFTER, Unenrolled,
};
use super::telemetry;
use crate::store::{PendingChallenge, RecordKey, RecordKind, StoreError};
use authsignal::types::{TrackAttributes, TrackResponse, UserActionState};

/// The context of a `track` for this request: a fresh idempotency key, the client's IP
/// address, user agent and device id as configured.
pub(crate) fn attributes(config: &ConfigSettings, parts: &Parts) -> TrackAttributes {
    let ip_address = match config.ip_address() {
        Some(find) => find(parts),
        None => config.client_ip().of(parts).map(|ip| ip.to_string()),
    };
    TrackAttributes {
        idempotency_key: Some(uuid::Uuid::new_v4().to_string()),
        ip_address,
        user_agent: config
            .user_agent()
            .then(|| {
                parts
                    .headers
                    .get(USER_AGENT)?
                    .to_str()
                    .ok()
                    .map(str::to_owned)
            })
            .flatten(),
        device_id: config.device_id().and_then(|find| find(parts)),
        ..TrackAttributes::default()
    }
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
    /// Where a browser whose request is held for a review checks back: the request's own
    /// URL on the app's origin, for a request the gate can resume; `None` otherwise.
    pub(crate) check_url: Option<String>,
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
    /// The request is held for a review, its record kept under `record_id` for `hold`:
    /// answer `response` (a `202`).
    Held {
        response: Response,
        record_id: String,
        hold: Duration,
    },
    /// Answer `response`, a refusal; nothing runs.
    Refused(Response),
}

/// Tracks the action of `route` for `asked` with `attributes` (the context, the
/// `redirectUrl`, the `custom` values), then decides: run, challenge (the record kept,
/// within the user's bound), or refuse. Every outcome is counted.
pub(crate) async fn decide(route: &Route, attributes: TrackAttributes, asked: Asked) -> Decision {
    let audience = asked.audience;
    let settings = route.settings();
    let config = route.config();
    let started = Instant::now();
    let tracked = config
        .client()
        .track(
            asked.record.user_id(),
            settings.action().as_str(),
            attributes,
        )
        .await;
    telemetry::authsignal_call("track", started);
    let tracked = match tracked {
        Ok(tracked) => tracked,
        // Only an outage opens a fail-open route: a 4xx (a revoked key, a bad
        // argument) or an unreadable answer is no reason to skip the check.
        Err(err) if settings.fail_open() && err.is_transient() => {
            config.count_failed_open();
            tracing::warn!(error = %err, "Authsignal is unavailable; this route fails open");
            route.outcome("failed_open", None);
            return Decision::Run(StepUpOutcome::FailedOpen);
        }
        Err(err) => {
            route.outcome("unavailable", Some(&err.to_string()));
            return Decision::Refused(route.unavailable(audience));
        }
    };
    tracing::Span::current().record("idempotency_key", tracked.idempotency_key.as_str());
    match tracked.state {
        UserActionState::Allow if !tracked.is_enrolled => match settings.unenrolled() {
            Unenrolled::FollowAuthsignal => allow(route, tracked),
            Unenrolled::Refuse => {
                route.outcome("not_enrolled", None);
                Decision::Refused(route.refuse(Refusal::NotEnrolled, audience))
            }
            Unenrolled::Enrol => challenge(route, asked, tracked, true).await,
        },
        UserActionState::Allow => allow(route, tracked),
        UserActionState::ChallengeRequired => challenge(route, asked, tracked, false).await,
        UserActionState::Block => {
            route.outcome("blocked", None);
            let status = settings.on_block();
            Decision::Refused(route.refuse(Refusal::Blocked { status }, audience))
        }
        UserActionState::ReviewRequired => match settings.review_hold() {
            Some(time) => hold(route, asked, tracked, time).await,
            None => {
                route.outcome("in_review", None);
                let refusal = Refusal::InReview {
                    status: settings.on_review(),
                    idempotency_key: tracked.idempotency_key,
                };
                Decision::Refused(route.refuse(refusal, audience))
            }
        },
        other => {
            route.outcome("unavailable", Some(&format!("unexpected state {other}")));
            Decision::Refused(route.unavailable(audience))
        }
    }
}

/// `REVIEW_REQUIRED` on a route that holds reviews: keep the request's record (bound as a
/// challenge's is, under the action's key and the request's digest, within the user's
/// bound) for the route's hold, and answer `202`.
async fn hold(route: &Route, asked: Asked, tracked: TrackResponse, hold: Duration) -> Decision {
    let Asked {
        audience,
        record,
        check_url,
        ..
    } = asked;
    let record_id = held::record_id(&tracked.idempotency_key, &record);
    let key = RecordKey::new(RecordKind::Review, record.user_id(), record_id.as_str());
    if let Err(refused) = keep(route, &key, record, hold, audience).await {
        return refused;
    }
    route.outcome("held", None);
    let expires_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| (now + hold).as_secs());
    let held = HeldReview {
        action: route.settings().action().as_str().to_owned(),
        idempotency_key: tracked.idempotency_key,
        review_header: REVIEW_HEADER.to_owned(),
        expires_at: Some(expires_at),
        retry_after: REVIEW_RETRY_AFTER,
        check_url,
    };
    Decision::Held {
        response: route.responder().held(held, audience),
        record_id,
        hold,
    }
}

/// Keeps `record` under `key` for `ttl`: a refusal answers a record too large to keep
/// (413), a user at their bound (429), or a store full or failing (503).
async fn keep(
    route: &Route,
    key: &RecordKey,
    record: PendingChallenge,
    ttl: Duration,
    audience: Audience,
) -> Result<(), Decision> {
    let store = route.config().store();
    let stored = store.put(key, record, ttl).await;
    telemetry::pending(&**store);
    match stored {
        Ok(()) => Ok(()),
        Err(StoreError::TooLarge) => {
            route.outcome("bad_body", Some("the request is too large to keep"));
            let limit = route.settings().body_limit();
            Err(Decision::Refused(
                route.refuse(Refusal::BodyTooLarge { limit }, audience),
            ))
        }
        // Over the user's bound (429), or the store full or failing (503).
        Err(err) => Err(Decision::Refused(route.store_failed(&err, audience))),
    }
}

fn allow(route: &Route, tracked: TrackResponse) -> Decision {
    route.outcome("allowed", None);
    Decision::Run(StepUpOutcome::Allowed(tracked))
}

/// `CHALLENGE_REQUIRED` (or an enrolment): keep the record, then send the browser to
/// the pre-built UI or give the client its token.
async fn challenge(
    route: &Route,
    asked: Asked,
    tracked: TrackResponse,
    enrolment: bool,
) -> Decision {
    let Asked {
        audience,
        record,
        returns_from_ui,
        ..
    } = asked;
    let config = route.config();
    // Only a browser follows a redirect; anything else gets the token.
    let browser = audience.navigation || audience.htmx;
    let form = match (returns_from_ui && browser, audience.htmx) {
        (false, _) => ChallengeForm::Token,
        (true, true) => ChallengeForm::Htmx,
        (true, false) => ChallengeForm::Redirect,
    };
    // Authsignal's answer decides where a browser goes next: only to the pre-built UI.
    let url = match tracked.url {
        Some(url) if config.ui_origins().allows(&url) => Some(url),
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
        route.outcome(
            "unavailable",
            Some("the challenge answer lacks an allowed url, or its token"),
        );
        return Decision::Refused(route.unavailable(audience));
    }
    let key = RecordKey::new(
        RecordKind::Challenge,
        record.user_id(),
        tracked.idempotency_key.as_str(),
    );
    if let Err(refused) = keep(route, &key, record, CHALLENGE_TTL, audience).await {
        return refused;
    }
    route.outcome(if enrolment { "enrolment" } else { "challenged" }, None);
    let expires_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| (now + CHALLENGE_TTL).as_secs());
    let challenge = Challenge {
        action: route.settings().action().as_str().to_owned(),
        idempotency_key: tracked.idempotency_key.clone(),
        token: tracked.token,
        url,
        expires_at,
        enrolment,
        token_header: config.token_header().as_str().to_owned(),
    };
    Decision::Challenged {
        response: route.responder().challenge(challenge, form, audience),
        idempotency_key: tracked.idempotency_key,
    }
}
