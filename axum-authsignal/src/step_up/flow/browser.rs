//! Leg 2 for browsers: back from the pre-built UI with `?token=`, then on the clean URL
//! with the resume cookie, then (for a challenged form) the resume page's post. See the
//! `resume` module for why it takes these steps.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use tower::Service;

use super::gate::{Caller, Gate, on_origin, public_path, take, take_challenge};
use super::track::track;
use crate::step_up::answer::Refusal;
use crate::step_up::page;
use crate::step_up::proof::{ReviewedAction, StepUpOutcome};
use crate::step_up::respond::no_store;
use crate::step_up::resume::{self, RESUME_TTL};
use crate::step_up::route::Route;
use crate::step_up::token;
use crate::step_up::verify::Validated;
use crate::store::{PendingChallenge, RecordKey, RecordKind, Verification};
use authsignal::types::{
    ActionDetails, UserActionState, ValidateChallengeResponse, VerificationMethod,
};

/// `GET /path?token=…`, from the pre-built UI: validate, take the challenge, keep the
/// request under a fresh resume id, and send the browser to the clean URL with it.
pub(super) async fn browser_return<S>(
    gate: Gate<S>,
    parts: Parts,
    caller: Caller,
    token: String,
) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let route = gate.route().clone();
    let audience = caller.audience;
    let (validated, mut record) = match take_challenge(&route, &token, &caller).await {
        Ok(taken) => taken,
        Err(response) => return response,
    };
    let here = token::path_and_query_without_token(&parts.uri);
    let origin = route.config().redirect_origin();
    let (Some(origin), true, true) = (
        origin,
        record.stashed().is_some(),
        record.path_and_query() == here,
    ) else {
        route.outcome(
            "refused",
            Some("the token came back to another route or to an API challenge"),
        );
        return route.refuse(Refusal::VerificationFailed, audience);
    };
    record = record.into_resume(kept_verification(&validated));
    let resumed = to_resume(&route, &parts, &caller, origin, record).await;
    if resumed.status() == StatusCode::SEE_OTHER {
        route.outcome("returned", None);
    }
    resumed
}

/// Hands a browser's request, its challenge completed or its review approved (`record`,
/// a resume record), to the resume: kept under a fresh resume id, and the browser sent to
/// the clean URL with that id in the resume cookie. A challenged `GET` then runs there, a
/// form is posted again by the gate's page.
pub(super) async fn to_resume(
    route: &Route,
    parts: &Parts,
    caller: &Caller,
    origin: &str,
    record: PendingChallenge,
) -> Response {
    let audience = caller.audience;
    let Some(id) = resume::new_id() else {
        route.outcome("unavailable", Some("no randomness for a resume id"));
        return route.unavailable(audience);
    };
    let resume_key = RecordKey::new(RecordKind::Resume, caller.user_id.as_str(), id.as_str());
    if let Err(err) = route
        .config()
        .store()
        .put(&resume_key, record, RESUME_TTL)
        .await
    {
        return route.store_failed(&err, audience);
    }
    let here = token::path_and_query_without_token(&parts.uri);
    let tag = resume::tag(route.settings().action().as_str(), &here);
    let mut response = see_other(&on_origin(origin, &public_path(parts)));
    if let Some(cookie) = resume::set_cookie(origin, &id, &tag) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// The clean `GET` after the return, with the resume cookies for this route (each is
/// tried, in the order sent): a challenged `GET` runs now; a challenged form gets the
/// page that posts it, and the cookie stays until that post.
pub(super) async fn resume_get<S>(
    gate: Gate<S>,
    parts: Parts,
    caller: Caller,
    ids: Vec<String>,
) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let route = gate.route().clone();
    let audience = caller.audience;
    let Some(origin) = route.config().redirect_origin() else {
        route.outcome("refused", Some("a resume cookie without a redirect origin"));
        return route.refuse(Refusal::VerificationFailed, audience);
    };
    let mut found = None;
    for id in ids {
        match take(&route, RecordKind::Resume, &id, &caller).await {
            Ok(Some(record)) => {
                found = Some((id, record));
                break;
            }
            Ok(None) => {}
            Err(response) => return with_cookies_cleared(response, origin),
        }
    }
    let response = match found {
        // Spent or expired (a second tab, a stale or planted cookie): an ordinary
        // request. The cookies stay: clearing works by name, and would also clear a
        // cookie of another resume that is still waiting (another route's, or one a
        // second tab just set).
        None if route.settings().gates(&parts.method) => {
            return track(gate, parts, Bytes::new(), caller).await;
        }
        None => {
            route.outcome("not_gated", None);
            return gate
                .call_inner(Request::from_parts(parts, Body::empty()))
                .await;
        }
        Some((_, record)) if !is_resumable_here(&record, &parts) => {
            route.outcome("refused", Some("the resume cookie names another request"));
            route.refuse(Refusal::VerificationFailed, audience)
        }
        Some((_, record)) if *record.method() == Method::GET => {
            run_stashed(gate, parts, record, caller).await
        }
        Some((id, record)) => {
            // Waits for the page's post, under the same id, which needs the cookie
            // too: it stays in the browser until then.
            let key = RecordKey::new(RecordKind::Resume, caller.user_id.as_str(), id.as_str());
            if let Err(err) = route.config().store().put(&key, record, RESUME_TTL).await {
                return with_cookies_cleared(route.store_failed(&err, audience), origin);
            }
            route.outcome("resuming", None);
            let mut page = page::resume(&on_origin(origin, &public_path(&parts)), &id);
            no_store(&mut page);
            return page;
        }
    };
    with_cookies_cleared(response, origin)
}

/// The resume page's post: the stashed form runs as it was first sent, if the browser
/// still holds the resume cookie of this very id (it does not once the user signed
/// out). A post whose record is spent (the page refreshed after it ran) goes to the
/// clean `GET`. Once its record is taken the resume is over: its cookie is cleared.
pub(super) async fn resume_post<S>(
    gate: Gate<S>,
    parts: Parts,
    caller: Caller,
    id: String,
    cookie_ids: Vec<String>,
) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let route = gate.route().clone();
    let audience = caller.audience;
    let origin = route.config().redirect_origin().unwrap_or_default();
    let response = match take(&route, RecordKind::Resume, &id, &caller).await {
        Err(response) => response,
        // Spent (the page refreshed after it ran, or posted from a second tab): to the
        // clean `GET`. The cookies stay, as in `resume_get`: the browser's cookie may
        // be another resume's, still waiting.
        Ok(None) => {
            route.outcome("already_resumed", None);
            return see_other(&on_origin(origin, &public_path(&parts)));
        }
        Ok(Some(_)) if !cookie_ids.contains(&id) => {
            route.outcome(
                "refused",
                Some("the resume post lacks its cookie: signed out, or another browser"),
            );
            route.refuse(Refusal::VerificationFailed, audience)
        }
        Ok(Some(record))
            if *record.method() == Method::POST && is_resumable_here(&record, &parts) =>
        {
            run_stashed(gate, parts, record, caller).await
        }
        Ok(Some(_)) => {
            route.outcome("refused", Some("the resume names another request"));
            route.refuse(Refusal::VerificationFailed, audience)
        }
    };
    with_cookies_cleared(response, origin)
}

/// Whether a resume record (taken as this route's action's) holds a completed browser
/// challenge of this very path and query.
pub(super) fn is_resumable_here(record: &PendingChallenge, parts: &Parts) -> bool {
    record.stashed().is_some()
        && record.verified().is_some()
        && record.path_and_query() == token::path_and_query_without_token(&parts.uri)
}

/// Runs the handler on a stashed browser request, as it was first sent: its method,
/// its body and the headers that describe that body. None of the resume request's own
/// body headers (its form's type and length, an encoding, a transfer coding) reach the
/// handler beside the stashed body.
async fn run_stashed<S>(
    gate: Gate<S>,
    mut parts: Parts,
    record: PendingChallenge,
    caller: Caller,
) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let route = gate.route().clone();
    let (Some(stashed), Some(verified)) = (record.stashed(), record.verified()) else {
        route.outcome("refused", Some("nothing stashed to resume"));
        return route.refuse(Refusal::VerificationFailed, caller.audience);
    };
    let outcome = if verified.is_review() {
        let approved = ActionDetails::new(UserActionState::ReviewSucceeded);
        StepUpOutcome::Reviewed(ReviewedAction::new(verified.idempotency_key(), approved))
    } else {
        StepUpOutcome::Verified(validation_of(&record, verified))
    };
    parts.method = record.method().clone();
    remove_body_headers(&mut parts.headers);
    let stashed_headers = [
        (CONTENT_TYPE, stashed.content_type().map(str::to_owned)),
        (
            CONTENT_ENCODING,
            record.content_encoding().map(str::to_owned),
        ),
        (
            CONTENT_LENGTH,
            (parts.method != Method::GET).then(|| stashed.body().len().to_string()),
        ),
    ];
    for (name, value) in stashed_headers {
        if let Some(value) = value.and_then(|value| HeaderValue::try_from(value).ok()) {
            parts.headers.insert(name, value);
        }
    }
    // The record was taken as the caller's own: the proof names the caller.
    let body = stashed.body().clone();
    gate.run_verified(parts, body, caller, outcome).await
}

/// Removes every header that describes a request's body: `Content-*`, the transfer
/// coding, the trailers announced after it and a digest of it.
fn remove_body_headers(headers: &mut HeaderMap) {
    let describing: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name.starts_with("content-")
                || matches!(name, "transfer-encoding" | "trailer" | "digest")
        })
        .cloned()
        .collect();
    for name in describing {
        headers.remove(name);
    }
}

/// `response`, with the resume cookie cleared under both its names.
pub(super) fn with_cookies_cleared(mut response: Response, origin: &str) -> Response {
    resume::clear_cookies(origin).append_to(response.headers_mut());
    response
}

/// 303 to `location` on the app's origin, never cached.
pub(super) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    no_store(&mut response);
    response
}

/// What a resume record keeps of Authsignal's validation of the returned token: the parts
/// of the handler's proof that the record itself does not hold.
fn kept_verification(validated: &Validated) -> Verification {
    let kept = Verification::new(validated.idempotency_key.as_str());
    match &validated.response.verification_method {
        Some(method) => kept.with_verification_method(method.as_str()),
        None => kept,
    }
}

/// The validation the handler's proof reports for a resumed request. The record was kept
/// only for a valid token whose challenge succeeded, for the record's user and action;
/// what else Authsignal answered then (when the state was reached, a Veriff session) is
/// not kept.
fn validation_of(record: &PendingChallenge, verified: &Verification) -> ValidateChallengeResponse {
    let mut validation = ValidateChallengeResponse::default();
    validation.is_valid = true;
    validation.state = Some(UserActionState::ChallengeSucceeded);
    validation.user_id = Some(record.user_id().to_owned());
    validation.action = Some(record.action().to_owned());
    validation.idempotency_key = Some(verified.idempotency_key().to_owned());
    validation.verification_method = verified.verification_method().map(VerificationMethod::from);
    validation
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    /// What the handler's proof reports after a resume is what Authsignal answered at the
    /// return, through the record's stored bytes, for every part the proof reads.
    #[test]
    fn a_resumed_proof_reports_the_validation_through_the_stored_record() {
        for method in [Some("AUTHENTICATOR_APP"), Some("SOMETHING_NEW"), None] {
            let mut response = ValidateChallengeResponse::default();
            response.is_valid = true;
            response.state = Some(UserActionState::ChallengeSucceeded);
            response.user_id = Some("alice".into());
            response.action = Some("withdraw".into());
            response.idempotency_key = Some("key-1".into());
            response.verification_method = method.map(VerificationMethod::from);
            let validated = Validated {
                response: response.clone(),
                user_id: "alice".into(),
                idempotency_key: "key-1".into(),
            };
            let record = PendingChallenge::challenge("alice", "withdraw", Method::POST, "/w")
                .into_resume(kept_verification(&validated));
            let stored = PendingChallenge::decode(&record.encode().unwrap()).unwrap();
            let verified = stored.verified().expect("a resume record");
            assert_eq!(validation_of(&stored, verified), response, "{method:?}");
        }
    }
}
