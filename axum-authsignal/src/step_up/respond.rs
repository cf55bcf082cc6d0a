//! Turning a [`GateAnswer`] into a response: the app's own, through its hook, or the
//! defaults: RFC 9457 problem documents for API clients, small HTML pages for browser
//! navigations, a 303 to the pre-built UI for a challenged navigation.
//!
//! Every answer, the app's own included, leaves here with `Cache-Control: no-store` (a
//! challenge or a refusal must not be replayed by a cache) and `Vary` on the headers that
//! chose between HTML and JSON; a refusal also travels in the response's extensions, so
//! that outer layers can see it.

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, VARY, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

use super::answer::{Challenge, GateAnswer, HeldReview, Refusal};
use super::negotiate::{self, ClientKind};
use super::page;
use super::settings::RespondFn;

/// Who is asking, as far as the answer's form goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Audience {
    /// A browser navigation: it can follow a redirect and should see HTML.
    pub(crate) navigation: bool,
    /// htmx: it follows `HX-Redirect` but swaps the response in place.
    pub(crate) htmx: bool,
}

impl Audience {
    pub(crate) fn of(kind: ClientKind, headers: &HeaderMap) -> Self {
        Self {
            navigation: kind.is_browser(headers),
            htmx: headers.contains_key("hx-request"),
        }
    }

    fn kind(self) -> ClientKind {
        if self.navigation {
            ClientKind::Browser
        } else {
            ClientKind::Api
        }
    }
}

/// How a challenge is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChallengeForm {
    /// 303 to the pre-built UI.
    Redirect,
    /// 401 with `HX-Redirect` to the pre-built UI.
    Htmx,
    /// 401 with the token, for the client's own UI.
    Token,
}

/// Answers with the app's hook, else the defaults.
#[derive(Clone, Default)]
pub(crate) struct Responder {
    hook: Option<RespondFn>,
}

impl Responder {
    pub(crate) fn new(hook: Option<RespondFn>) -> Self {
        Self { hook }
    }

    pub(crate) fn refuse(&self, refusal: Refusal, audience: Audience) -> Response {
        let mut response = self.render(
            &GateAnswer::Refusal(refusal.clone()),
            ChallengeForm::Token,
            audience,
        );
        response.extensions_mut().insert(refusal);
        response
    }

    pub(crate) fn challenge(
        &self,
        challenge: Challenge,
        form: ChallengeForm,
        audience: Audience,
    ) -> Response {
        self.render(&GateAnswer::Challenge(challenge), form, audience)
    }

    /// The answer for a request held for a review.
    pub(crate) fn held(&self, held: HeldReview, audience: Audience) -> Response {
        self.render(&GateAnswer::Review(held), ChallengeForm::Token, audience)
    }

    fn render(&self, answer: &GateAnswer, form: ChallengeForm, audience: Audience) -> Response {
        let mut response = self.hook(answer, audience).unwrap_or_else(|| match answer {
            GateAnswer::Challenge(challenge) => default_challenge(challenge, form, audience),
            GateAnswer::Review(held) => default_held(held, audience),
            GateAnswer::Refusal(refusal) => default_refusal(refusal, audience),
        });
        no_store(&mut response);
        response
    }

    fn hook(&self, answer: &GateAnswer, audience: Audience) -> Option<Response> {
        self.hook
            .as_ref()
            .and_then(|hook| hook(answer, audience.kind()))
    }
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

/// Marks a gate answer as uncacheable and varying with the negotiation headers.
pub(crate) fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(VARY, HeaderValue::from_static(negotiate::VARY));
}

fn default_refusal(refusal: &Refusal, audience: Audience) -> Response {
    let mut response = if audience.navigation {
        let title = refusal
            .status()
            .canonical_reason()
            .unwrap_or("Request refused");
        page::message(refusal.status(), title, &refusal.detail())
    } else {
        let mut problem = Problem::of(refusal);
        match refusal {
            Refusal::BodyTooLarge { limit } => problem = problem.with("limit", *limit),
            Refusal::InReview {
                idempotency_key, ..
            } => problem = problem.with("idempotencyKey", idempotency_key.as_str()),
            _ => {}
        }
        problem.into_response()
    };
    if let Some(after) = refusal.retry_after() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(after.as_secs().max(1)));
    }
    response
}

/// `202`: a browser the gate can resume waits on a page that checks back; anything else
/// gets a problem document naming the header to come back with.
fn default_held(held: &HeldReview, audience: Audience) -> Response {
    let mut response = match (&held.check_url, audience.navigation) {
        (Some(check_url), true) => page::waiting(check_url, held.retry_after),
        _ => {
            let mut problem = Problem::new(
                StatusCode::ACCEPTED,
                "action_in_review",
                format!(
                    "This action is held for a manual review. Send this request again with \
                     the idempotencyKey in the {} header: it runs once a reviewer approves it.",
                    held.review_header
                ),
            )
            .with("action", held.action.as_str())
            .with("idempotencyKey", held.idempotency_key.as_str())
            .with("reviewHeader", held.review_header.as_str());
            if let Some(expires_at) = held.expires_at {
                problem = problem.with("expiresAt", expires_at);
            }
            problem.into_response()
        }
    };
    response.headers_mut().insert(
        RETRY_AFTER,
        HeaderValue::from(held.retry_after.as_secs().max(1)),
    );
    response
}

fn default_challenge(challenge: &Challenge, form: ChallengeForm, audience: Audience) -> Response {
    let url = challenge.url.as_deref();
    if form == ChallengeForm::Redirect
        && let Some(location) = url.and_then(|url| HeaderValue::try_from(url).ok())
    {
        let mut response = StatusCode::SEE_OTHER.into_response();
        response.headers_mut().insert(LOCATION, location);
        return response;
    }
    let mut response = if audience.navigation && form != ChallengeForm::Htmx {
        // A navigation the pre-built UI cannot bring back (no redirect origin is
        // configured, or the request cannot be replayed by a browser).
        page::message(
            StatusCode::UNAUTHORIZED,
            "Verification required",
            "This action needs a step-up verification that cannot be started from this page.",
        )
    } else {
        let detail = if challenge.enrolment {
            "Add an authenticator with the token, then send this request again with the \
             token that comes back."
        } else {
            "Complete the challenge, then send this request again with the token."
        };
        let code = if challenge.enrolment {
            "enrolment_required"
        } else {
            "step_up_required"
        };
        let mut problem = Problem::new(StatusCode::UNAUTHORIZED, code, detail.to_owned())
            .with("action", challenge.action.as_str())
            .with("idempotencyKey", challenge.idempotency_key.as_str())
            .with("expiresAt", challenge.expires_at)
            .with("tokenHeader", challenge.token_header.as_str());
        if let Some(token) = &challenge.token {
            problem = problem.with("token", token.as_str());
        }
        if let Some(url) = url {
            problem = problem.with("url", url);
        }
        problem.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer error=\"insufficient_user_authentication\", \
             error_description=\"A step-up authentication is required\"",
        ),
    );
    // htmx follows HX-Redirect whatever the status, so an htmx form lands on the UI.
    if form == ChallengeForm::Htmx
        && let Some(url) = url.and_then(|url| HeaderValue::try_from(url).ok())
    {
        headers.insert("hx-redirect", url);
    }
    response
}

/// A problem document: `status`, a short `code` for programs, a `detail` for people, and
/// any extra members.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
    extra: Map<String, Value>,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, code: &'static str, detail: String) -> Self {
        Self {
            status,
            code,
            detail,
            extra: Map::new(),
        }
    }

    pub(crate) fn of(refusal: &Refusal) -> Self {
        Self::new(refusal.status(), refusal.code(), refusal.detail())
    }

    pub(crate) fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(name.to_owned(), value.into());
        self
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        if let Value::Object(map) = &mut body {
            map.extend(self.extra.clone());
        }
        body
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
