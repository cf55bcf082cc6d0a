//! The gate's decisions, one request at a time: which leg the request is on, and the
//! checks every leg shares. Leg 1 is in `track`, the API client's return in `retry`, the
//! browser's return in `browser`.

mod browser;
mod retry;
mod track;

pub(crate) use track::{Asked, Decision};

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
use authsignal::types::CustomData;

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
        // The resume cookies are read only where a resume can happen: on a route of a
        // gate with a redirect origin, and with no token.
        let origin = route.shared().redirect_origin.as_deref();
        let resume_ids = match origin {
            Some(origin) if found.is_none() => resume::from_cookies(&parts.headers, origin, || {
                route.resume_tag(&token::path_and_query_without_token(&parts.uri))
            }),
            _ => Vec::new(),
        };
        let resuming_get = parts.method == Method::GET && !resume_ids.is_empty();
        if found.is_none() && !resuming_get && !route.gates(&parts.method) {
            route.outcome("not_gated", None);
            return self.call_inner(Request::from_parts(parts, body)).await;
        }
        let Some(user_id) = route.shared().user.find(&mut parts).await else {
            route.outcome("no_user", None);
            let mut response = route.refuse(Refusal::NoUser, audience);
            // Signed out (or never signed in) with a resume pending: it goes with the
            // session.
            if let Some(origin) = origin
                && resume::any_cookie(&parts.headers)
            {
                resume::clear_cookies(origin).append_to(response.headers_mut());
            }
            return response;
        };
        tracing::Span::current().record("user", user_id.as_str());
        let caller = Caller { user_id, audience };
        match found {
            Some(FoundToken::Query(token)) => self.browser_return(parts, caller, token).await,
            Some(FoundToken::Header(token)) => {
                let body = match route.read_body(&parts, body, audience).await {
                    Ok(body) => body,
                    Err(response) => return response,
                };
                self.api_return(parts, body, caller, token).await
            }
            None if resuming_get => self.resume_get(parts, caller, resume_ids).await,
            None => {
                let body = match route.read_body(&parts, body, audience).await {
                    Ok(body) => body,
                    Err(response) => return response,
                };
                if parts.method == Method::POST
                    && let Some(id) = resume::from_form(&parts.headers, &body)
                {
                    return self.resume_post(parts, caller, id, resume_ids).await;
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

    /// Runs the handler with the proof, which carries the `custom` values judged; the
    /// token is gone from everything it sees.
    async fn run(
        self,
        mut parts: Parts,
        body: Bytes,
        user_id: &str,
        outcome: StepUpOutcome,
        custom: Option<CustomData>,
    ) -> Response {
        parts.headers.remove(&self.route.shared().token_header);
        // No flow runs the handler at a URL with a token: a `?token=` is the browser's
        // return (a 303 to the clean URL) on a GET, malformed on anything else.
        debug_assert!(!token::in_query(&parts.uri), "the handler at a token URL");
        let proof = Proof::new(self.route.action.clone(), user_id, outcome).with_custom(custom);
        parts.extensions.insert(proof);
        self.call_inner(Request::from_parts(parts, Body::from(body)))
            .await
    }

    /// Runs the handler on a request that passed a challenge. Its `custom` values are
    /// computed again, by the route's same function, from the request the token is bound
    /// to (the API client's retry, or the browser's stashed request): the values `track`
    /// sent for it, since the binding holds every part of the request they are read from.
    async fn run_verified(
        self,
        parts: Parts,
        body: Bytes,
        caller: Caller,
        outcome: StepUpOutcome,
    ) -> Response {
        let custom = match self.route.custom(&parts, &body) {
            Ok(custom) => custom,
            // Only a `custom` function that reads more than the binding holds (a header)
            // can refuse here what it let through on the first leg.
            Err(refusal) => {
                self.route.outcome("bad_body", None);
                return self.route.refuse(refusal, caller.audience);
            }
        };
        self.route.outcome("verified", None);
        let user_id = caller.user_id;
        self.run(parts, body, &user_id, outcome, custom).await
    }
}

/// The checks every leg shares, on the route alone: the gate's future holds the inner
/// service, which need not be `Sync`, so nothing borrows the gate across an `.await`.
impl Route {
    pub(crate) fn shared(&self) -> &Shared {
        &self.config.shared
    }

    /// Records this request's outcome (span, log, metrics).
    pub(crate) fn outcome(&self, outcome: &'static str, reason: Option<&str>) {
        telemetry::outcome(self.action.as_str(), outcome, reason);
    }

    pub(crate) fn refuse(&self, refusal: Refusal, audience: Audience) -> Response {
        self.shared().responder.refuse(refusal, audience)
    }

    pub(crate) fn unavailable(&self, audience: Audience) -> Response {
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
        match self
            .take(RecordKind::Challenge, &validated.idempotency_key, caller)
            .await?
        {
            Some(record) => Ok((validated, record)),
            None => {
                self.outcome(
                    "refused",
                    Some("no pending challenge: replayed, expired or not issued here"),
                );
                Err(self.refuse(Refusal::VerificationFailed, caller.audience))
            }
        }
    }

    /// The one way a record of any kind is taken, by the gate and by sign-in: the user's
    /// own (the key names them), once only, and only if the record says it is that user's
    /// and this route's action's. A store is not trusted to have kept records apart: a
    /// record rewritten in a shared store, or a key built without the user, opens nothing.
    ///
    /// `Ok(None)` when there is no such record (spent, expired, never issued); the caller
    /// decides what that means. `Err` is the refusal, its reason logged: another user's or
    /// action's record, or the store failing.
    pub(crate) async fn take_record(
        &self,
        kind: RecordKind,
        id: &str,
        user_id: &str,
    ) -> Result<Option<PendingChallenge>, Refusal> {
        // A resume id is a capability, kept out of the log; an idempotency key is not.
        if kind == RecordKind::Challenge {
            tracing::Span::current().record("idempotency_key", id);
        }
        let key = RecordKey::new(kind, user_id, id);
        let taken = self.shared().store.take(&key).await;
        telemetry::pending(&*self.shared().store);
        match taken {
            Ok(Some(record))
                if record.user_id() == user_id && record.action() == self.action.as_str() =>
            {
                Ok(Some(record))
            }
            Ok(Some(_)) => {
                self.outcome("refused", Some("the record is another user's or action's"));
                Err(Refusal::VerificationFailed)
            }
            Ok(None) => Ok(None),
            Err(err) => Err(self.store_refusal(&err)),
        }
    }

    /// [`take_record`](Self::take_record) for the gate's caller, its refusal answered.
    async fn take(
        &self,
        kind: RecordKind,
        id: &str,
        caller: &Caller,
    ) -> Result<Option<PendingChallenge>, Response> {
        self.take_record(kind, id, &caller.user_id)
            .await
            .map_err(|refusal| self.refuse(refusal, caller.audience))
    }

    /// The refusal for a store that refused or failed: 429 for a user at their bound
    /// (their records of every kind count, so a resume can be refused too), else 503.
    /// Either way nothing runs. The outcome is recorded.
    pub(crate) fn store_refusal(&self, err: &StoreError) -> Refusal {
        if let StoreError::UserLimit { retry_after } = err {
            self.outcome(
                "too_many_challenges",
                Some("the user's step-up records fill their bound"),
            );
            return Refusal::too_many_challenges(*retry_after);
        }
        self.outcome("unavailable", Some(&err.to_string()));
        Refusal::Unavailable {
            retry_after: self.shared().retry_after,
        }
    }

    /// [`store_refusal`](Self::store_refusal), answered.
    pub(crate) fn store_failed(&self, err: &StoreError, audience: Audience) -> Response {
        self.refuse(self.store_refusal(err), audience)
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
