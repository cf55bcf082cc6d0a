//! The gate's decisions, one request at a time: which leg the request is on, and the
//! checks every leg shares. Leg 1 is in `track`, the API client's return in `retry`, the
//! browser's return in `browser`.

mod browser;
mod retry;
mod track;

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::response::Response;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, REFERRER_POLICY};
use http::request::Parts;
use http::{HeaderValue, Method, Request};
use tower::{Service, ServiceExt};

use super::answer::Refusal;
use super::layer::Route;
use super::proof::{Proof, StepUpOutcome};
use super::respond::Audience;
use super::token::{self, FoundToken};
use super::verify::Validated;
use super::{config::Shared, resume, telemetry};
use crate::store::{PendingChallenge, RecordKey, RecordKind, StoreError};

/// One request's passage through the gate.
pub(crate) struct Gate<S> {
    inner: S,
    route: Arc<Route>,
}

/// What the gate knows of a request once its user is found.
struct Caller {
    user_id: String,
    audience: Audience,
}

impl<S> Gate<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    pub(crate) fn new(inner: S, route: Arc<Route>) -> Self {
        Self { inner, route }
    }

    pub(crate) async fn decide(self, request: Request<Body>) -> Response {
        let (parts, body) = request.into_parts();
        // The token in a URL must not leak through a Referer from whatever page answers it.
        let token_in_url = token::in_query(&parts.uri);
        let mut response = self.decide_parts(parts, body).await;
        if token_in_url {
            response
                .headers_mut()
                .insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        }
        response
    }

    async fn decide_parts(self, mut parts: Parts, body: Body) -> Response {
        let route = self.route.clone();
        let audience = Audience::of(route.client_kind(), &parts.headers);
        let found = match token::find(&parts, &route.shared().token_header) {
            Ok(found) => found,
            Err(_) => {
                route.outcome("token_malformed", Some("the token is malformed"));
                return route.refuse(Refusal::MalformedToken, audience);
            }
        };
        let resume_id = (found.is_none() && parts.method == Method::GET)
            .then(|| {
                let here = token::path_and_query_without_token(&parts.uri);
                resume::from_cookie(&parts.headers, &route.resume_tag(&here))
            })
            .flatten();
        if found.is_none() && resume_id.is_none() && !route.gates(&parts.method) {
            route.outcome("not_gated", None);
            return self.call_inner(Request::from_parts(parts, body)).await;
        }
        let Some(user_id) = route.shared().user.find(&mut parts).await else {
            route.outcome("no_user", None);
            return route.refuse(Refusal::NoUser, audience);
        };
        tracing::Span::current().record("user", user_id.as_str());
        let caller = Caller { user_id, audience };
        match (found, resume_id) {
            (Some(FoundToken::Query(token)), _) => self.browser_return(parts, caller, token).await,
            (Some(FoundToken::Header(token)), _) => {
                let body = match route.read_body(&parts, body, audience).await {
                    Ok(body) => body,
                    Err(response) => return response,
                };
                self.api_return(parts, body, caller, token).await
            }
            (None, Some(id)) => self.resume_get(parts, caller, id).await,
            (None, None) => {
                let body = match route.read_body(&parts, body, audience).await {
                    Ok(body) => body,
                    Err(response) => return response,
                };
                if parts.method == Method::POST
                    && let Some(id) = resume::from_form(&parts.headers, &body)
                {
                    return self.resume_post(parts, caller, id).await;
                }
                self.track(parts, body, caller).await
            }
        }
    }

    async fn call_inner(self, request: Request<Body>) -> Response {
        match self.inner.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// Runs the handler with the proof; the token is gone from everything it sees.
    async fn run(
        self,
        mut parts: Parts,
        body: Bytes,
        user_id: &str,
        outcome: StepUpOutcome,
    ) -> Response {
        parts.headers.remove(&self.route.shared().token_header);
        // No flow runs the handler at a URL with a token: a `?token=` is the browser's
        // return (a 303 to the clean URL) on a GET, malformed on anything else.
        debug_assert!(!token::in_query(&parts.uri), "the handler at a token URL");
        parts
            .extensions
            .insert(Proof::new(self.route.action.clone(), user_id, outcome));
        self.call_inner(Request::from_parts(parts, Body::from(body)))
            .await
    }
}

/// The checks every leg shares, on the route alone: the gate's future holds the inner
/// service, which need not be `Sync`, so nothing borrows the gate across an `.await`.
impl Route {
    pub(super) fn shared(&self) -> &Shared {
        &self.config.shared
    }

    /// Records this request's outcome (span, log, metrics).
    pub(super) fn outcome(&self, outcome: &'static str, reason: Option<&str>) {
        telemetry::outcome(self.action.as_str(), outcome, reason);
    }

    fn refuse(&self, refusal: Refusal, audience: Audience) -> Response {
        self.shared().responder.refuse(refusal, audience)
    }

    fn unavailable(&self, audience: Audience) -> Response {
        let retry_after = self.shared().retry_after;
        self.refuse(Refusal::Unavailable { retry_after }, audience)
    }

    /// Reads the body up to the route's limit: 413 past it, 400 if it cannot be read.
    async fn read_body(
        &self,
        parts: &Parts,
        body: Body,
        audience: Audience,
    ) -> Result<Bytes, Response> {
        let limit = self.body_limit();
        let too_large = || {
            self.outcome("bad_body", None);
            self.refuse(Refusal::BodyTooLarge { limit }, audience)
        };
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(too_large());
        }
        match axum::body::to_bytes(body, limit).await {
            Ok(body) => Ok(body),
            Err(err) => {
                let over_limit = std::iter::successors(
                    Some(&err as &(dyn std::error::Error + 'static)),
                    |err| err.source(),
                )
                .any(|err| err.is::<http_body_util::LengthLimitError>());
                if over_limit {
                    Err(too_large())
                } else {
                    self.outcome("bad_body", None);
                    Err(self.refuse(Refusal::UnreadableBody, audience))
                }
            }
        }
    }

    /// Asks Authsignal about a returned token (valid, succeeded, this user's, this
    /// action's), then takes the challenge it answers: once only.
    async fn take_challenge(
        &self,
        token: &str,
        caller: &Caller,
    ) -> Result<(Validated, PendingChallenge), Response> {
        let validated = self
            .shared()
            .validate(token, Some(&caller.user_id), self.action.as_str())
            .await
            .map_err(|refusal| self.refuse(refusal, caller.audience))?;
        let key = RecordKey::new(
            RecordKind::Challenge,
            caller.user_id.as_str(),
            validated.idempotency_key.as_str(),
        );
        let record = self.take(&key, caller).await?;
        Ok((validated, record))
    }

    /// Takes the record under `key`: once only, and only this route's action's.
    async fn take(&self, key: &RecordKey, caller: &Caller) -> Result<PendingChallenge, Response> {
        tracing::Span::current().record("idempotency_key", key.idempotency_key.as_str());
        let taken = self.shared().store.take(key).await;
        telemetry::pending(&*self.shared().store);
        match taken {
            Ok(Some(record))
                if record.user_id == key.user_id && record.action == self.action.as_str() =>
            {
                Ok(record)
            }
            Ok(Some(_)) => {
                self.outcome("refused", Some("the record is another user's or action's"));
                Err(self.refuse(Refusal::VerificationFailed, caller.audience))
            }
            Ok(None) => {
                self.outcome(
                    "refused",
                    Some("no pending challenge: replayed, expired or not issued here"),
                );
                Err(self.refuse(Refusal::VerificationFailed, caller.audience))
            }
            Err(err) => Err(self.store_failed(&err, caller.audience)),
        }
    }

    /// The answer to a store that refused or failed: 429 for a user at their bound (their
    /// records of every kind count, so a resume can be refused too), else 503. Either way
    /// nothing runs.
    fn store_failed(&self, err: &StoreError, audience: Audience) -> Response {
        if let StoreError::UserLimit { retry_after } = err {
            self.outcome(
                "too_many_challenges",
                Some("the user's step-up records fill their bound"),
            );
            return self.refuse(Refusal::too_many_challenges(*retry_after), audience);
        }
        self.outcome("unavailable", Some(&err.to_string()));
        self.unavailable(audience)
    }
}

/// The path the browser used, before any `Router::nest` stripped a prefix, without a token.
fn public_path(parts: &Parts) -> String {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    token::path_and_query_without_token(uri)
}

/// An absolute URL on the configured origin for a path the browser sent. Never a relative
/// one: `//evil.example` (or `/\evil.example`, to browsers) would name another host,
/// while after the origin it is only a path.
fn on_origin(origin: &str, path: &str) -> String {
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
