//! The gate's decisions, one request at a time: which leg the request is on. The passage
//! every leg shares is in `gate`; leg 1 is in `track`, the API client's return in `retry`,
//! the browser's return in `browser`, the return of a request held for a review in
//! `review`.

mod browser;
mod gate;
mod retry;
mod review;
mod track;

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, REFERRER_POLICY};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, Request};
use tower::Service;

use self::gate::{Caller, Gate};
use super::answer::Refusal;
use super::held;
use super::respond::Audience;
use super::resume;
use super::route::Route;
use super::settings::REVIEW_HEADER;
use super::token::{self, FoundToken};

/// Decides what becomes of `request` on `route`, whose handler is `inner`: run it (with the
/// proof), or answer in its place.
pub(crate) async fn decide<S>(inner: S, route: Route, request: Request<Body>) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let (parts, body) = request.into_parts();
    // The token in a URL must not leak through a Referer from whatever page answers it.
    let token_in_url = token::in_query(&parts.uri);
    let mut response = decide_parts(Gate::new(inner, route), parts, body).await;
    if token_in_url {
        response
            .headers_mut()
            .insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
    response
}

async fn decide_parts<S>(gate: Gate<S>, mut parts: Parts, body: Body) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let route = gate.route().clone();
    let settings = route.settings();
    let config = route.config();
    let audience = Audience::of(settings.client_kind(), &parts.headers);
    let found = match token::find(&parts, config.token_header()) {
        Ok(found) => found,
        Err(_) => {
            route.outcome("token_malformed", Some("the token is malformed"));
            return route.refuse(Refusal::MalformedToken, audience);
        }
    };
    // The resume cookies are read only where a resume can happen: on a route of a
    // gate with a redirect origin, and with no token.
    let origin = config.redirect_origin();
    let resume_ids = match origin {
        Some(origin) if found.is_none() => resume::from_cookies(&parts.headers, origin, || {
            resume::tag(
                settings.action().as_str(),
                &token::path_and_query_without_token(&parts.uri),
            )
        }),
        _ => Vec::new(),
    };
    let resuming_get = parts.method == Method::GET && !resume_ids.is_empty();
    // A held review's comeback, on a route that holds them: an API client's key in the
    // review header, or a browser's waiting page with its cookie (read as the resume
    // cookies are).
    let holds_reviews = settings.review_hold().is_some() && found.is_none();
    // Only a method the route gates can have been held.
    let review_key = if holds_reviews && settings.gates(&parts.method) {
        let header = HeaderName::from_static(REVIEW_HEADER);
        match held::from_header(&parts.headers, &header) {
            Ok(key) => key,
            Err(()) => {
                route.outcome("review_id_malformed", Some("the review id is malformed"));
                return route.refuse(Refusal::MalformedReviewId, audience);
            }
        }
    } else {
        None
    };
    let review_ids = match origin {
        Some(origin)
            if holds_reviews
                && review_key.is_none()
                && !resuming_get
                && parts.method == Method::GET
                && held::any_cookie(&parts.headers) =>
        {
            let here = token::path_and_query_without_token(&parts.uri);
            let tag = resume::tag(settings.action().as_str(), &here);
            held::from_cookies(&parts.headers, origin, &tag)
        }
        _ => Vec::new(),
    };
    let checking_review = !review_ids.is_empty();
    if found.is_none() && !resuming_get && !checking_review && !settings.gates(&parts.method) {
        route.outcome("not_gated", None);
        return gate.call_inner(Request::from_parts(parts, body)).await;
    }
    let Some(user_id) = config.user().find(&mut parts).await else {
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
        Some(FoundToken::Query(token)) => browser::browser_return(gate, parts, caller, token).await,
        Some(FoundToken::Header(token)) => {
            let body = match read_body(&route, &parts, body, audience).await {
                Ok(body) => body,
                Err(response) => return response,
            };
            retry::api_return(gate, parts, body, caller, token).await
        }
        None if resuming_get => browser::resume_get(gate, parts, caller, resume_ids).await,
        None if checking_review => review::browser_check(gate, parts, caller, review_ids).await,
        None if review_key.is_some() => {
            let body = match read_body(&route, &parts, body, audience).await {
                Ok(body) => body,
                Err(response) => return response,
            };
            let key = review_key.unwrap_or_default();
            review::api_return(gate, parts, body, caller, key).await
        }
        None => {
            let body = match read_body(&route, &parts, body, audience).await {
                Ok(body) => body,
                Err(response) => return response,
            };
            if parts.method == Method::POST
                && let Some(id) = resume::from_form(&parts.headers, &body)
            {
                return browser::resume_post(gate, parts, caller, id, resume_ids).await;
            }
            track::track(gate, parts, body, caller).await
        }
    }
}

/// Reads the body up to the route's limit: 413 past it, 400 if it cannot be read.
async fn read_body(
    route: &Route,
    parts: &Parts,
    body: Body,
    audience: Audience,
) -> Result<Bytes, Response> {
    let limit = route.settings().body_limit();
    let too_large = || {
        route.outcome("bad_body", None);
        route.refuse(Refusal::BodyTooLarge { limit }, audience)
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
            let over_limit =
                std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |err| {
                    err.source()
                })
                .any(|err| err.is::<http_body_util::LengthLimitError>());
            if over_limit {
                Err(too_large())
            } else {
                route.outcome("bad_body", None);
                Err(route.refuse(Refusal::UnreadableBody, audience))
            }
        }
    }
}
