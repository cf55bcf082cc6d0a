//! The comeback of a request held for a review: an API client's, with the idempotency key
//! in the review header and the same request; a browser's, from its waiting page with the
//! review cookie. Authsignal is asked first (`getAction`, for the caller, the route's
//! action and that key), and decides:
//!
//! - still `REVIEW_REQUIRED`: `202` again, nothing written;
//! - `REVIEW_SUCCEEDED`: the held record is taken (atomic: once, across instances) and the
//!   request runs (an API client's now; a browser's through the resume, as after a
//!   challenge); no record (spent, expired, another request): the one 403;
//! - denied, another state, or an action Authsignal does not know: the held record is
//!   taken, so that it ends, and the one 403;
//! - `getAction` failing (a timeout, a 5xx, a 429, an answer it cannot read): `503` with
//!   `Retry-After`, nothing taken. `fail_open` never applies.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::Request;
use http::header::SET_COOKIE;
use http::request::Parts;
use tokio::time::Instant;
use tower::Service;

use super::browser::{is_resumable_here, to_resume};
use super::gate::{Caller, Gate, on_origin, public_path, take};
use crate::step_up::answer::{HeldReview, Refusal};
use crate::step_up::binding::RequestBinding;
use crate::step_up::held;
use crate::step_up::proof::{ReviewedAction, StepUpOutcome};
use crate::step_up::route::Route;
use crate::step_up::settings::{REVIEW_HEADER, REVIEW_RETRY_AFTER};
use crate::step_up::{resume, telemetry, token};
use crate::store::{PendingChallenge, RecordKind, Verification};
use authsignal::types::{ActionDetails, UserActionState};

/// What Authsignal says of an action held here.
enum Review {
    /// Still waiting for its reviewer.
    Pending,
    /// Approved.
    Approved(ActionDetails),
    /// Denied, in another state, or unknown to Authsignal: it never runs.
    Refused(&'static str),
}

/// Asks `getAction` about `idempotency_key` for the caller and the route's action. `Err`
/// is the 503 of a failing call: the held record stays.
async fn ask(route: &Route, caller: &Caller, idempotency_key: &str) -> Result<Review, Response> {
    let started = Instant::now();
    let asked = route
        .config()
        .client()
        .get_action(
            &caller.user_id,
            route.settings().action().as_str(),
            idempotency_key,
        )
        .await;
    telemetry::authsignal_call("getAction", started);
    match asked {
        Ok(details) => Ok(match details.state {
            UserActionState::ReviewRequired => Review::Pending,
            UserActionState::ReviewSucceeded => Review::Approved(details),
            UserActionState::ReviewFailed => Review::Refused("the reviewer denied the action"),
            _ => Review::Refused("the action is in no review state"),
        }),
        // Not this user's action of this route's action code, or gone.
        Err(authsignal::Error::Api(api)) if api.status == http::StatusCode::NOT_FOUND => {
            Ok(Review::Refused("Authsignal does not know the action"))
        }
        // An outage, a revoked key, an unreadable answer: nothing is decided, nothing runs,
        // and the request stays held for the next try. Never fail-open.
        Err(err) => {
            route.outcome("unavailable", Some(&err.to_string()));
            Err(route.unavailable(caller.audience))
        }
    }
}

/// The `202` for a request still in review, on a later visit.
fn still_held(route: &Route, caller: &Caller, key: &str, check_url: Option<String>) -> Response {
    route.outcome("still_in_review", None);
    let held = HeldReview {
        action: route.settings().action().as_str().to_owned(),
        idempotency_key: key.to_owned(),
        review_header: REVIEW_HEADER.to_owned(),
        expires_at: None,
        retry_after: REVIEW_RETRY_AFTER,
        check_url,
    };
    route.responder().held(held, caller.audience)
}

/// Takes the held record `record_id` of the caller, so that a refused review ends with its
/// record, and answers the one 403 (or the store's refusal, if it fails). Counted as
/// denied when it ended a held request; a comeback that finds none (ended already, or
/// another request) is an ordinary refusal.
async fn end(route: &Route, caller: &Caller, record_id: &str, reason: &'static str) -> Response {
    match take(route, RecordKind::Review, record_id, caller).await {
        Err(response) => return response,
        Ok(Some(_)) => route.outcome("denied", Some(reason)),
        Ok(None) => route.outcome("refused", Some("no held request to end")),
    }
    route.refuse(Refusal::VerificationFailed, caller.audience)
}

/// Takes the held record `record_id` of the caller, once approved: `Err` is the one 403
/// when there is none (spent, expired, or held for another request), or the store's
/// refusal.
async fn take_approved(
    route: &Route,
    caller: &Caller,
    record_id: &str,
) -> Result<PendingChallenge, Response> {
    match take(route, RecordKind::Review, record_id, caller).await? {
        Some(record) => Ok(record),
        None => {
            route.outcome(
                "refused",
                Some("no held request: run, expired, or held for another request"),
            );
            Err(route.refuse(Refusal::VerificationFailed, caller.audience))
        }
    }
}

/// An API client back with the same request and the idempotency key of its action in
/// review: runs the handler once, if Authsignal reports that action approved and this very
/// request is held for it.
pub(super) async fn api_return<S>(
    gate: Gate<S>,
    parts: Parts,
    body: Bytes,
    caller: Caller,
    idempotency_key: String,
) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let route = gate.route().clone();
    tracing::Span::current().record("idempotency_key", idempotency_key.as_str());
    let binding = RequestBinding::of(&parts, &body);
    // The record this very request would be held under: another request's id differs.
    let shape = binding.into_record(&caller.user_id, route.settings().action().as_str(), None);
    let record_id = held::record_id(&idempotency_key, &shape);
    let details = match ask(&route, &caller, &idempotency_key).await {
        Ok(Review::Pending) => return still_held(&route, &caller, &idempotency_key, None),
        Ok(Review::Refused(reason)) => return end(&route, &caller, &record_id, reason).await,
        Ok(Review::Approved(details)) => details,
        Err(response) => return response,
    };
    let record = match take_approved(&route, &caller, &record_id).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    // The key holds the digest of the request's bound parts; the record is checked too,
    // so that nothing but this request runs even if a store misfiled it.
    if !RequestBinding::of(&parts, &body).matches(&record) {
        route.outcome("refused", Some("the held record is for another request"));
        return route.refuse(Refusal::VerificationFailed, caller.audience);
    }
    let outcome = StepUpOutcome::Reviewed(ReviewedAction::new(idempotency_key, details));
    gate.run_verified(parts, body, caller, outcome).await
}

/// A browser's waiting page back, with the review cookies of this route (each tried, in
/// the order sent): still in review, the waiting page again; approved, the held request
/// goes to the resume (as after a challenge); refused, the refusal page. The cookie goes
/// once the review is over.
pub(super) async fn browser_check<S>(
    gate: Gate<S>,
    parts: Parts,
    caller: Caller,
    record_ids: Vec<String>,
) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let route = gate.route().clone();
    let Some(origin) = route.config().redirect_origin() else {
        route.outcome("refused", Some("a review cookie without a redirect origin"));
        return route.refuse(Refusal::VerificationFailed, caller.audience);
    };
    let here = token::path_and_query_without_token(&parts.uri);
    let tag = resume::tag(route.settings().action().as_str(), &here);
    let check_url = on_origin(origin, &public_path(&parts));
    let mut refusal = None;
    for record_id in record_ids {
        let key = held::idempotency_key_of(&record_id).to_owned();
        let response = match ask(&route, &caller, &key).await {
            Ok(Review::Pending) => {
                return still_held(&route, &caller, &key, Some(check_url));
            }
            Ok(Review::Refused(reason)) => {
                refusal = Some(end(&route, &caller, &record_id, reason).await);
                continue;
            }
            Ok(Review::Approved(_)) => match take_approved(&route, &caller, &record_id).await {
                Ok(record) => {
                    let record = record.into_resume(Verification::reviewed(key));
                    if is_resumable_here(&record, &parts) {
                        // Counted as approved when it runs, at the resume.
                        route.outcome("returned", None);
                        to_resume(&route, &parts, &caller, origin, record).await
                    } else {
                        route.outcome("refused", Some("the held record is for another request"));
                        route.refuse(Refusal::VerificationFailed, caller.audience)
                    }
                }
                Err(response) => response,
            },
            Err(response) => return response,
        };
        return with_review_cookie_cleared(response, origin, &tag);
    }
    let response = refusal.unwrap_or_else(|| {
        route.outcome("refused", Some("no review cookie names a held request"));
        route.refuse(Refusal::VerificationFailed, caller.audience)
    });
    with_review_cookie_cleared(response, origin, &tag)
}

fn with_review_cookie_cleared(mut response: Response, origin: &str, tag: &str) -> Response {
    if let Some(cookie) = held::clear_cookie(origin, tag) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}
