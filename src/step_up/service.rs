//! [`StepUpService`]: the gate itself, both legs of the flow.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use http::request::Parts;
use http::{HeaderValue, Method, Request};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tower::{Service, ServiceExt};
use tracing::Instrument;
use tracing::field::Empty;

use super::layer::{CHALLENGE_TTL, GateConfig};
use super::proof::{StepUp, StepUpOutcome};
use super::respond::{self, Problem};
use super::token::{self, FoundToken};
use super::verify::{self, Rejected, Validated};
use crate::client::types::{TrackAttributes, TrackResponse, UserActionState};
use crate::store::{PendingChallenge, RecordKey, RecordKind, StashedRequest};

/// The service [`StepUpLayer`](super::StepUpLayer) wraps a route in.
#[derive(Clone)]
pub struct StepUpService<S> {
    inner: S,
    config: Arc<GateConfig>,
}

impl<S> StepUpService<S> {
    pub(crate) fn new(inner: S, config: Arc<GateConfig>) -> Self {
        Self { inner, config }
    }
}

impl<S> std::fmt::Debug for StepUpService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUpService")
            .field("action", &self.config.action)
            .finish_non_exhaustive()
    }
}

/// The future of [`StepUpService`]: the gate's decision, then the handler if it may run.
pub struct ResponseFuture {
    future: Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>,
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl<S> Service<Request<Body>> for StepUpService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was polled ready is the one that must be called.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let gate = Gate {
            inner: ready,
            config: self.config.clone(),
        };
        let span = tracing::info_span!(
            "step_up",
            action = %self.config.action,
            user = Empty,
            outcome = Empty,
            idempotency_key = Empty,
            authsignal_ms = Empty,
        );
        ResponseFuture {
            future: Box::pin(async move { Ok(gate.decide(request).await) }.instrument(span)),
        }
    }
}

/// One request's passage through the gate.
struct Gate<S> {
    inner: S,
    config: Arc<GateConfig>,
}

/// Records the outcome on the request's span; the reason, if any, goes to the log only.
fn outcome(outcome: &'static str, reason: Option<&str>) {
    tracing::Span::current().record("outcome", outcome);
    match reason {
        Some(reason) => tracing::warn!(outcome, reason, "step-up refused"),
        None => tracing::debug!(outcome, "step-up decided"),
    }
}

impl<S> Gate<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    async fn decide(self, request: Request<Body>) -> Response {
        let (parts, body) = request.into_parts();
        let found = match token::find(&parts, &self.config.token_header) {
            Ok(found) => found,
            Err(_) => {
                outcome("token_malformed", Some("the token is malformed"));
                return respond::malformed_token().into_response();
            }
        };
        let ungated = found.is_none()
            && self
                .config
                .methods
                .as_ref()
                .is_some_and(|methods| !methods.contains(&parts.method));
        if ungated {
            outcome("not_gated", None);
            return self.call_inner(Request::from_parts(parts, body)).await;
        }
        let Some(user_id) = (self.config.user_id)(&parts) else {
            outcome("no_user", None);
            return respond::no_user().into_response();
        };
        tracing::Span::current().record("user", user_id.as_str());
        let body = match read_body(&parts, body, self.config.body_limit).await {
            Ok(body) => body,
            Err(problem) => {
                outcome("bad_body", None);
                return problem.into_response();
            }
        };
        match found {
            None => self.track(parts, body, user_id).await,
            Some(FoundToken::Header(token)) => self.api_return(parts, body, user_id, token).await,
            Some(FoundToken::Query(token)) => self.browser_return(parts, user_id, token).await,
            Some(FoundToken::Resume(token)) => self.resume(parts, user_id, token).await,
        }
    }

    /// Leg 1: ask Authsignal what to do with this request.
    async fn track(self, parts: Parts, body: Bytes, user_id: String) -> Response {
        let config = &self.config;
        let attributes = TrackAttributes {
            idempotency_key: Some(uuid::Uuid::new_v4().to_string()),
            redirect_url: config
                .redirect_origin
                .as_ref()
                .map(|origin| format!("{origin}{}", public_path(&parts))),
            ip_address: (config.ip_address)(&parts),
            user_agent: config
                .user_agent
                .then(|| header_text(&parts, USER_AGENT.as_str()))
                .flatten(),
            device_id: config.device_id.as_ref().and_then(|find| find(&parts)),
            custom: config
                .custom
                .as_ref()
                .and_then(|compute| compute(&parts, &body)),
            ..TrackAttributes::default()
        };
        let started = Instant::now();
        let tracked = config
            .client
            .track(&user_id, &config.action, attributes)
            .await;
        record_latency(started);
        let tracked = match tracked {
            Ok(tracked) => tracked,
            Err(err) if config.fail_open => {
                config.failed_open.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, "Authsignal failed; this route fails open");
                outcome("failed_open", None);
                let proof = StepUp::new(&config.action, &user_id, StepUpOutcome::FailedOpen);
                return self.run(parts, body, proof).await;
            }
            Err(err) => {
                outcome("unavailable", Some(&err.to_string()));
                return respond::unavailable(config.retry_after).into_response();
            }
        };
        tracing::Span::current().record("idempotency_key", tracked.idempotency_key.as_str());
        match tracked.state {
            UserActionState::Allow => {
                outcome("allowed", None);
                let proof = StepUp::new(&config.action, &user_id, StepUpOutcome::Allowed(tracked));
                self.run(parts, body, proof).await
            }
            UserActionState::ChallengeRequired => {
                self.challenge(parts, body, user_id, tracked).await
            }
            UserActionState::Block => {
                outcome("blocked", None);
                respond::blocked(config.on_block).into_response()
            }
            UserActionState::ReviewRequired => {
                outcome("in_review", None);
                respond::in_review(config.on_review)
                    .with("idempotencyKey", tracked.idempotency_key)
                    .into_response()
            }
            other => {
                outcome("unavailable", Some(&format!("unexpected state {other}")));
                respond::unavailable(config.retry_after).into_response()
            }
        }
    }

    /// Leg 1, `CHALLENGE_REQUIRED`: remember the request, then send the browser to the
    /// pre-built UI or give the API client its token.
    async fn challenge(
        self,
        parts: Parts,
        body: Bytes,
        user_id: String,
        tracked: TrackResponse,
    ) -> Response {
        let config = &self.config;
        let htmx = parts.headers.contains_key("hx-request");
        // A request can be resumed after the UI only if the UI can send the user back, and
        // only as a GET or a form POST: that is all a browser can be made to send.
        let resumable = config.redirect_origin.is_some()
            && (htmx || config.client_kind.is_browser(&parts.headers))
            && matches!(parts.method, Method::GET | Method::POST);
        let navigation = resumable && !htmx;
        let url = tracked.url.as_deref().filter(|url| is_http_url(url));
        if (navigation && url.is_none()) || (!navigation && tracked.token.is_none()) {
            outcome(
                "unavailable",
                Some("the challenge answer lacks its url or token"),
            );
            return respond::unavailable(config.retry_after).into_response();
        }
        let record = PendingChallenge {
            user_id,
            action: config.action.clone(),
            method: parts.method.clone(),
            path_and_query: token::path_and_query_without_token(&parts.uri),
            media_type: None,
            content_encoding: None,
            body_sha256: Sha256::digest(&body).into(),
            stashed: resumable.then(|| StashedRequest {
                content_type: header_text(&parts, CONTENT_TYPE.as_str()),
                // A copy: the body read from the connection can share hyper's 8 KiB read
                // buffer, which the store would otherwise keep alive for ten minutes
                // (benches/RESULTS.md measured 8 KiB held per 1 KiB body).
                body: Bytes::copy_from_slice(&body),
            }),
        };
        let key = RecordKey::new(
            RecordKind::Challenge,
            record.user_id.clone(),
            tracked.idempotency_key.clone(),
        );
        if let Err(err) = config.store.put(&key, record, CHALLENGE_TTL).await {
            outcome("unavailable", Some(&err.to_string()));
            return respond::unavailable(config.retry_after).into_response();
        }
        outcome("challenged", None);
        if navigation {
            if let Some(response) = url.and_then(respond::redirect) {
                return response;
            }
        }
        let expires_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |now| (now + CHALLENGE_TTL).as_secs());
        let mut problem = Problem::new(
            http::StatusCode::UNAUTHORIZED,
            "step_up_required",
            "Complete the challenge, then send this request again with the token.",
        )
        .with("action", config.action.clone())
        .with("idempotencyKey", tracked.idempotency_key.clone())
        .with("expiresAt", expires_at)
        .with("tokenHeader", config.token_header.as_str());
        if let Some(token) = &tracked.token {
            problem = problem.with("token", token.as_str());
        }
        if let Some(url) = url {
            problem = problem.with("url", url);
        }
        respond::challenge(problem, url.filter(|_| htmx && resumable))
    }

    /// Leg 2 for API clients: the retried request must be the challenged one.
    async fn api_return(
        self,
        parts: Parts,
        body: Bytes,
        user_id: String,
        token: String,
    ) -> Response {
        let validated = match self.config.validate(&token, &user_id).await {
            Ok(validated) => validated,
            Err(response) => return response,
        };
        let key = RecordKey::new(RecordKind::Challenge, &user_id, &validated.idempotency_key);
        let record = match self.config.take(&key).await {
            Ok(record) => record,
            Err(response) => return response,
        };
        let same_request = record.method == parts.method
            && record.path_and_query == token::path_and_query_without_token(&parts.uri)
            && record.body_sha256 == <[u8; 32]>::from(Sha256::digest(&body));
        if !same_request {
            outcome(
                "refused",
                Some("the retried request differs from the challenged one"),
            );
            return respond::verification_failed().into_response();
        }
        outcome("verified", None);
        let proof = StepUp::new(
            &self.config.action,
            &user_id,
            StepUpOutcome::Verified(validated.response),
        );
        self.run(parts, body, proof).await
    }

    /// Leg 2 for browsers back from the UI (a GET with `?token=`). A challenged GET runs
    /// now; a challenged POST cannot be re-sent by a redirect, so the browser gets a page
    /// that posts back at once (the [resume](Self::resume) leg) and the stash waits for it.
    async fn browser_return(self, parts: Parts, user_id: String, token: String) -> Response {
        let validated = match self.config.validate(&token, &user_id).await {
            Ok(validated) => validated,
            Err(response) => return response,
        };
        let key = RecordKey::new(RecordKind::Challenge, &user_id, &validated.idempotency_key);
        let record = match self.config.take(&key).await {
            Ok(record) => record,
            Err(response) => return response,
        };
        let here = token::path_and_query_without_token(&parts.uri);
        if record.stashed.is_none() || record.path_and_query != here {
            outcome(
                "refused",
                Some("the token came back to another route or to an API challenge"),
            );
            return respond::verification_failed().into_response();
        }
        if record.method == parts.method {
            return self.run_stashed(parts, record, validated).await;
        }
        let config = &self.config;
        let key = RecordKey {
            kind: RecordKind::Resume,
            ..key
        };
        if let Err(err) = config.store.put(&key, record, RESUME_TTL).await {
            outcome("unavailable", Some(&err.to_string()));
            return respond::unavailable(config.retry_after).into_response();
        }
        outcome("resuming", None);
        let path = public_path(&parts);
        let separator = if path.contains('?') { '&' } else { '?' };
        respond::resume_page(&format!("{path}{separator}token={token}"))
    }

    /// Leg 2, last step for a challenged browser POST: the resume page posted back with the
    /// token, and the stashed request runs as it was first sent.
    async fn resume(self, parts: Parts, user_id: String, token: String) -> Response {
        let validated = match self.config.validate(&token, &user_id).await {
            Ok(validated) => validated,
            Err(response) => return response,
        };
        let key = RecordKey::new(RecordKind::Resume, &user_id, &validated.idempotency_key);
        let record = match self.config.take(&key).await {
            Ok(record) => record,
            Err(response) => return response,
        };
        if record.method != parts.method
            || record.path_and_query != token::path_and_query_without_token(&parts.uri)
        {
            outcome("refused", Some("the resume came to another route"));
            return respond::verification_failed().into_response();
        }
        self.run_stashed(parts, record, validated).await
    }

    /// Runs the handler on a stashed browser request, as it was first sent.
    async fn run_stashed(
        self,
        mut parts: Parts,
        record: PendingChallenge,
        validated: Validated,
    ) -> Response {
        let (Some(stashed), Ok(uri)) = (record.stashed, record.path_and_query.parse()) else {
            outcome("refused", Some("nothing stashed to resume"));
            return respond::verification_failed().into_response();
        };
        parts.method = record.method;
        parts.uri = uri;
        parts.headers.remove(CONTENT_LENGTH);
        parts.headers.remove(CONTENT_TYPE);
        if let Some(value) = stashed
            .content_type
            .and_then(|value| HeaderValue::try_from(value).ok())
        {
            parts.headers.insert(CONTENT_TYPE, value);
        }
        outcome("verified", None);
        let proof = StepUp::new(
            &self.config.action,
            &record.user_id,
            StepUpOutcome::Verified(validated.response),
        );
        self.run(parts, stashed.body, proof).await
    }

    async fn call_inner(self, request: Request<Body>) -> Response {
        match self.inner.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// Runs the handler with the proof, the token removed from what it sees.
    async fn run(self, mut parts: Parts, body: Bytes, proof: StepUp) -> Response {
        parts.headers.remove(&self.config.token_header);
        parts.extensions.insert(proof);
        self.call_inner(Request::from_parts(parts, Body::from(body)))
            .await
    }
}

/// The checks of leg 2, on the configuration alone (so that the gate's future stays
/// `Send` without asking the inner service to be `Sync`).
impl GateConfig {
    async fn validate(&self, token: &str, user_id: &str) -> Result<Validated, Response> {
        let started = Instant::now();
        let result = verify::validate(&self.client, token, Some(user_id), &self.action).await;
        record_latency(started);
        result.map_err(|rejected| match rejected {
            Rejected::Unavailable(reason) => {
                outcome("unavailable", Some(&reason));
                respond::unavailable(self.retry_after).into_response()
            }
            Rejected::Invalid(reason) => {
                outcome("refused", Some(reason));
                respond::verification_failed().into_response()
            }
        })
    }

    /// Takes the pending record of a validated token: once only, and only for the user and
    /// action it was issued to.
    async fn take(&self, key: &RecordKey) -> Result<PendingChallenge, Response> {
        tracing::Span::current().record("idempotency_key", key.idempotency_key.as_str());
        match self.store.take(key).await {
            Ok(Some(record)) if record.user_id == key.user_id && record.action == self.action => {
                Ok(record)
            }
            Ok(Some(_)) => {
                outcome(
                    "refused",
                    Some("the pending challenge is another user's or action's"),
                );
                Err(respond::verification_failed().into_response())
            }
            Ok(None) => {
                outcome(
                    "refused",
                    Some("no pending challenge: replayed, expired or not issued here"),
                );
                Err(respond::verification_failed().into_response())
            }
            Err(err) => {
                outcome("unavailable", Some(&err.to_string()));
                Err(respond::unavailable(self.retry_after).into_response())
            }
        }
    }
}

/// How long the resume page has to post back: it does so at once.
const RESUME_TTL: std::time::Duration = std::time::Duration::from_secs(120);

/// Reads the body up to `limit` bytes: 413 past it, 400 if it cannot be read.
async fn read_body(parts: &Parts, body: Body, limit: usize) -> Result<Bytes, Problem> {
    let declared = header_text(parts, CONTENT_LENGTH.as_str()).and_then(|n| n.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(respond::body_too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        let over_limit =
            std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |err| {
                err.source()
            })
            .any(|err| err.is::<http_body_util::LengthLimitError>());
        if over_limit {
            respond::body_too_large(limit)
        } else {
            respond::unreadable_body()
        }
    })
}

/// The path the browser used, before any `Router::nest` stripped a prefix.
fn public_path(parts: &Parts) -> String {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    token::path_and_query_without_token(uri)
}

fn header_text(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

fn is_http_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
}

fn record_latency(started: Instant) {
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::Span::current().record("authsignal_ms", millis);
}
