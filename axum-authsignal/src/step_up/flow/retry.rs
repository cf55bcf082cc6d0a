//! Leg 2 for API clients: the challenged request sent again, with the token in a header.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::Request;
use http::request::Parts;
use tower::Service;

use super::gate::{Caller, Gate, take_challenge};
use crate::step_up::answer::Refusal;
use crate::step_up::binding::RequestBinding;
use crate::step_up::proof::StepUpOutcome;

/// Runs the handler only if the token validates for this user and action, its challenge
/// is still pending (taken now: once), and this request is the challenged one in every
/// bound part.
pub(super) async fn api_return<S>(
    gate: Gate<S>,
    parts: Parts,
    body: Bytes,
    caller: Caller,
    token: String,
) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let route = gate.route().clone();
    let (validated, record) = match take_challenge(&route, &token, &caller).await {
        Ok(taken) => taken,
        Err(response) => return response,
    };
    if !RequestBinding::of(&parts, &body).matches(&record) {
        route.outcome(
            "refused",
            Some("the retried request differs from the challenged one"),
        );
        return route.refuse(Refusal::VerificationFailed, caller.audience);
    }
    gate.run_verified(
        parts,
        body,
        caller,
        StepUpOutcome::Verified(validated.response),
    )
    .await
}
