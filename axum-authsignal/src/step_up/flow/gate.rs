//! [`Gate`]: one request's passage through the gate once its user is known, and what every
//! leg shares on the way: running the handler with the proof, taking the challenge a token
//! answers, and the path the browser used.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::response::Response;
use bytes::Bytes;
use http::Request;
use http::request::Parts;
use tower::{Service, ServiceExt};

use crate::step_up::answer::Refusal;
use crate::step_up::proof::{Proof, StepUpOutcome};
use crate::step_up::respond::Audience;
use crate::step_up::route::Route;
use crate::step_up::token;
use crate::step_up::verify::{self, Validated};
use crate::store::{PendingChallenge, RecordKind};
use authsignal::types::CustomData;

/// One request's passage through the gate: the route's handler and the route. The legs
/// take it by value and end by running the handler or answering in its place.
pub(super) struct Gate<S> {
    inner: S,
    route: Route,
}

/// What the gate knows of a request once its user is found.
pub(super) struct Caller {
    pub(super) user_id: String,
    pub(super) audience: Audience,
}

impl<S> Gate<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    pub(super) fn new(inner: S, route: Route) -> Self {
        Self { inner, route }
    }

    /// The route; a leg clones it to use across an `.await`, since the gate's future holds
    /// the inner service, which need not be `Sync`.
    pub(super) fn route(&self) -> &Route {
        &self.route
    }

    /// Runs the handler on `request` as it is.
    pub(super) async fn call_inner(self, request: Request<Body>) -> Response {
        match self.inner.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// Runs the handler with the proof, which carries the `custom` values judged; the
    /// token is gone from everything it sees.
    pub(super) async fn run(
        self,
        mut parts: Parts,
        body: Bytes,
        user_id: &str,
        outcome: StepUpOutcome,
        custom: Option<CustomData>,
    ) -> Response {
        parts.headers.remove(self.route.config().token_header());
        // No flow runs the handler at a URL with a token: a `?token=` is the browser's
        // return (a 303 to the clean URL) on a GET, malformed on anything else.
        debug_assert!(!token::in_query(&parts.uri), "the handler at a token URL");
        let action = self.route.settings().action().clone();
        let proof = Proof::new(action, user_id, outcome).with_custom(custom);
        parts.extensions.insert(proof);
        self.call_inner(Request::from_parts(parts, Body::from(body)))
            .await
    }

    /// Runs the handler on a request that passed a challenge, or whose review a reviewer
    /// approved. Its `custom` values are computed again, by the route's same function,
    /// from the request the token (or the hold) is bound to (the API client's retry, or
    /// the browser's stashed request): the values `track` sent for it, since the binding
    /// holds every part of the request they are read from.
    pub(super) async fn run_verified(
        self,
        parts: Parts,
        body: Bytes,
        caller: Caller,
        outcome: StepUpOutcome,
    ) -> Response {
        let custom = match self.route.settings().custom(&parts, &body) {
            Ok(custom) => custom,
            // Only a `custom` function that reads more than the binding holds (a header)
            // can refuse here what it let through on the first leg.
            Err(refusal) => {
                self.route.outcome("bad_body", None);
                return self.route.refuse(refusal, caller.audience);
            }
        };
        let ran = match outcome {
            StepUpOutcome::Reviewed(_) => "approved",
            _ => "verified",
        };
        self.route.outcome(ran, None);
        let user_id = caller.user_id;
        self.run(parts, body, &user_id, outcome, custom).await
    }
}

/// Asks Authsignal about a returned token (valid, succeeded, this user's, this route's
/// action's), then takes the challenge it answers: once only.
pub(super) async fn take_challenge(
    route: &Route,
    token: &str,
    caller: &Caller,
) -> Result<(Validated, PendingChallenge), Response> {
    let action = route.settings().action().as_str();
    let validated = verify::validate(route.config(), token, Some(&caller.user_id), action)
        .await
        .map_err(|refusal| route.refuse(refusal, caller.audience))?;
    match take(
        route,
        RecordKind::Challenge,
        &validated.idempotency_key,
        caller,
    )
    .await?
    {
        Some(record) => Ok((validated, record)),
        None => {
            route.outcome(
                "refused",
                Some("no pending challenge: replayed, expired or not issued here"),
            );
            Err(route.refuse(Refusal::VerificationFailed, caller.audience))
        }
    }
}

/// [`Route::take_record`] for the gate's caller, its refusal answered.
pub(super) async fn take(
    route: &Route,
    kind: RecordKind,
    id: &str,
    caller: &Caller,
) -> Result<Option<PendingChallenge>, Response> {
    route
        .take_record(kind, id, &caller.user_id)
        .await
        .map_err(|refusal| route.refuse(refusal, caller.audience))
}

/// The path the browser used, before any `Router::nest` stripped a prefix, without a token.
pub(super) fn public_path(parts: &Parts) -> String {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    token::path_and_query_without_token(uri)
}

/// An absolute URL on the configured origin for a path the browser sent. Never a relative
/// one: `//evil.example` (or `/\evil.example`, to browsers) would name another host,
/// while after the origin it is only a path.
pub(super) fn on_origin(origin: &str, path: &str) -> String {
    if path.starts_with('/') {
        format!("{origin}{path}")
    } else {
        format!("{origin}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::on_origin;

    #[test]
    fn paths_stay_on_the_origin() {
        for path in ["//evil.example/x", "/\\evil.example", "/\\/evil", "x", "/x"] {
            let url = on_origin("https://app.example", path);
            let parsed = reqwest::Url::parse(&url).unwrap();
            assert_eq!(parsed.host_str(), Some("app.example"), "{path} -> {url}");
        }
    }
}
