//! Leg 1 for a gated request: its `custom` values and binding, what is kept for a browser
//! to come back to, then [`leg1::decide`].

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::request::Parts;
use http::{Method, Request};
use tower::Service;

use super::gate::{Caller, Gate, on_origin, public_path};
use crate::step_up::answer::Refusal;
use crate::step_up::binding::RequestBinding;
use crate::step_up::leg1::{self, Asked, Decision};
use crate::step_up::{held, resume, token};
use crate::store::StashedRequest;

/// The longest path and query the gate keeps (and sends as the `redirectUrl`).
const MAX_PATH_AND_QUERY: usize = 4096;

/// The media types an HTML form submits, which a browser can be made to send again.
fn is_form_enctype(media_type: Option<&str>) -> bool {
    matches!(
        media_type,
        Some("application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain")
    )
}

/// Leg 1 for a gated request: its `custom` values and binding, then [`leg1::decide`].
pub(super) async fn track<S>(gate: Gate<S>, parts: Parts, body: Bytes, caller: Caller) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let route = gate.route().clone();
    let audience = caller.audience;
    if public_path(&parts).len() > MAX_PATH_AND_QUERY {
        route.outcome("refused", Some("the path and query are too long to keep"));
        return route.refuse(Refusal::UriTooLong, audience);
    }
    let custom = match route.settings().custom(&parts, &body) {
        Ok(custom) => custom,
        Err(refusal) => {
            route.outcome("bad_body", None);
            return route.refuse(refusal, audience);
        }
    };
    let config = route.config();
    let mut attributes = leg1::attributes(config, &parts);
    attributes.redirect_url = config
        .redirect_origin()
        .map(|origin| on_origin(origin, &public_path(&parts)));
    attributes.custom = custom.clone();
    let binding = RequestBinding::of(&parts, &body);
    // A request can be resumed after the UI only if the UI can send the user back, and
    // only as a GET or a form POST: that is all a browser can be made to send. Nothing
    // else is stashed.
    let replayable = parts.method == Method::GET
        || (parts.method == Method::POST && is_form_enctype(binding.media_type.as_deref()));
    let resumable =
        config.redirect_origin().is_some() && (audience.navigation || audience.htmx) && replayable;
    let stashed = resumable.then(|| {
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        // A copy: the body read from the connection can share hyper's 8 KiB read
        // buffer, which the store would otherwise keep alive for ten minutes
        // (benches/RESULTS.md measured 8 KiB held per 1 KiB body). A GET has no body
        // to replay.
        let body = if parts.method == Method::GET {
            Bytes::new()
        } else {
            Bytes::copy_from_slice(&body)
        };
        StashedRequest::new(body, content_type)
    });
    let user_id = caller.user_id;
    let origin = config.redirect_origin().filter(|_| resumable);
    let asked = Asked {
        audience,
        record: binding.into_record(&user_id, route.settings().action().as_str(), stashed),
        returns_from_ui: resumable,
        check_url: origin.map(|origin| on_origin(origin, &public_path(&parts))),
    };
    match leg1::decide(&route, attributes, asked).await {
        // ALLOW or fail-open: the proof carries the `custom` values sent (or that would
        // have been), which the rules judged.
        Decision::Run(outcome) => gate.run(parts, body, &user_id, outcome, custom).await,
        // A browser's waiting page comes back with the held record's id in a cookie.
        Decision::Held {
            mut response,
            record_id,
            hold,
        } => {
            if let Some(origin) = origin {
                let tag = resume::tag(
                    route.settings().action().as_str(),
                    &token::path_and_query_without_token(&parts.uri),
                );
                if let Some(cookie) = held::set_cookie(origin, &tag, &record_id, hold) {
                    response.headers_mut().append(SET_COOKIE, cookie);
                }
            }
            response
        }
        Decision::Challenged { response, .. } | Decision::Refused(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_form_can_send_is_replayable() {
        for media in [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "text/plain",
        ] {
            assert!(is_form_enctype(Some(media)), "{media}");
        }
        for media in [None, Some("application/json"), Some("application/xml")] {
            assert!(!is_form_enctype(media), "{media:?}");
        }
    }
}
