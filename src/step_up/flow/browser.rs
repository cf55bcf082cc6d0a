//! Leg 2 for browsers: back from the pre-built UI with `?token=`, then on the clean URL
//! with the resume cookie, then (for a challenged form) the resume page's post. See the
//! `resume` module for why it takes these steps.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::request::Parts;
use http::{HeaderValue, Method, Request, StatusCode};
use tower::Service;

use super::{Caller, Gate, on_origin, public_path};
use crate::step_up::answer::Refusal;
use crate::step_up::page;
use crate::step_up::proof::StepUpOutcome;
use crate::step_up::respond::{Audience, no_store};
use crate::step_up::resume::{self, RESUME_TTL};
use crate::step_up::token;
use crate::store::{PendingChallenge, RecordKey, RecordKind};

impl<S> Gate<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    /// `GET /path?token=…`, from the pre-built UI: validate, take the challenge, keep the
    /// request under a fresh resume id, and send the browser to the clean URL with it.
    pub(super) async fn browser_return(
        self,
        parts: Parts,
        caller: Caller,
        token: String,
    ) -> Response {
        let route = self.route.clone();
        let audience = caller.audience;
        let (validated, mut record) = match route.take_challenge(&token, &caller).await {
            Ok(taken) => taken,
            Err(response) => return response,
        };
        let here = token::path_and_query_without_token(&parts.uri);
        let origin = route.shared().redirect_origin.clone();
        let (Some(origin), true, true) = (
            origin,
            record.stashed.is_some(),
            record.path_and_query == here,
        ) else {
            route.outcome(
                "refused",
                Some("the token came back to another route or to an API challenge"),
            );
            return route.refuse(Refusal::VerificationFailed, audience);
        };
        let Some(id) = resume::new_id() else {
            route.outcome("unavailable", Some("no randomness for a resume id"));
            return route.unavailable(audience);
        };
        record.verified = Some(Box::new(validated.response));
        let resume_key = RecordKey::new(RecordKind::Resume, caller.user_id.as_str(), id.as_str());
        if let Err(err) = route
            .shared()
            .store
            .put(&resume_key, record, RESUME_TTL)
            .await
        {
            return route.store_failed(&err, audience);
        }
        route.outcome("returned", None);
        let tag = route.resume_tag(&here);
        let mut response = see_other(&on_origin(&origin, &public_path(&parts)));
        if let Some(cookie) = resume::set_cookie(&origin, &id, &tag) {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        response
    }

    /// The clean `GET` after the return, with the resume cookie: a challenged `GET` runs
    /// now; a challenged form gets the page that posts it.
    pub(super) async fn resume_get(self, parts: Parts, caller: Caller, id: String) -> Response {
        let route = self.route.clone();
        let audience = caller.audience;
        let Some(origin) = route.shared().redirect_origin.clone() else {
            route.outcome("refused", Some("a resume cookie without a redirect origin"));
            return route.refuse(Refusal::VerificationFailed, audience);
        };
        let key = RecordKey::new(RecordKind::Resume, caller.user_id.as_str(), id.as_str());
        let record = match route.shared().store.take(&key).await {
            Ok(record) => record,
            Err(err) => return route.store_failed(&err, audience),
        };
        let mut response = match record {
            // Spent or expired (a second tab, a stale cookie): an ordinary request.
            None if route.gates(&parts.method) => self.track(parts, Bytes::new(), caller).await,
            None => {
                route.outcome("not_gated", None);
                self.call_inner(Request::from_parts(parts, Body::empty()))
                    .await
            }
            Some(record) if !self.is_resumable_here(&record, &parts) => {
                route.outcome("refused", Some("the resume cookie names another request"));
                route.refuse(Refusal::VerificationFailed, audience)
            }
            Some(record) if record.method == Method::GET => {
                self.run_stashed(parts, record, audience).await
            }
            Some(record) => {
                // Waits for the page's post, under the same id.
                if let Err(err) = route.shared().store.put(&key, record, RESUME_TTL).await {
                    return route.store_failed(&err, audience);
                }
                route.outcome("resuming", None);
                let mut page = page::resume(&on_origin(&origin, &public_path(&parts)), &id);
                no_store(&mut page);
                page
            }
        };
        response
            .headers_mut()
            .append(SET_COOKIE, resume::clear_cookie(&origin));
        response
    }

    /// The resume page's post: the stashed form runs as it was first sent. A post whose
    /// record is spent (the page refreshed after it ran) goes to the clean `GET`.
    pub(super) async fn resume_post(self, parts: Parts, caller: Caller, id: String) -> Response {
        let route = self.route.clone();
        let audience = caller.audience;
        let key = RecordKey::new(RecordKind::Resume, caller.user_id.as_str(), id.as_str());
        let record = match route.shared().store.take(&key).await {
            Ok(record) => record,
            Err(err) => return route.store_failed(&err, audience),
        };
        match record {
            None => {
                route.outcome("already_resumed", None);
                let origin = route.shared().redirect_origin.clone().unwrap_or_default();
                see_other(&on_origin(&origin, &public_path(&parts)))
            }
            Some(record)
                if record.method == Method::POST && self.is_resumable_here(&record, &parts) =>
            {
                self.run_stashed(parts, record, audience).await
            }
            Some(_) => {
                route.outcome("refused", Some("the resume names another request"));
                route.refuse(Refusal::VerificationFailed, audience)
            }
        }
    }

    fn is_resumable_here(&self, record: &PendingChallenge, parts: &Parts) -> bool {
        record.action == self.route.action.as_str()
            && record.stashed.is_some()
            && record.verified.is_some()
            && record.path_and_query == token::path_and_query_without_token(&parts.uri)
    }

    /// Runs the handler on a stashed browser request, as it was first sent.
    async fn run_stashed(
        self,
        mut parts: Parts,
        record: PendingChallenge,
        audience: Audience,
    ) -> Response {
        let route = self.route.clone();
        let (Some(stashed), Some(verified)) = (record.stashed, record.verified) else {
            route.outcome("refused", Some("nothing stashed to resume"));
            return route.refuse(Refusal::VerificationFailed, audience);
        };
        parts.method = record.method;
        parts.headers.remove(CONTENT_LENGTH);
        parts.headers.remove(CONTENT_TYPE);
        if let Some(value) = stashed
            .content_type
            .and_then(|value| HeaderValue::try_from(value).ok())
        {
            parts.headers.insert(CONTENT_TYPE, value);
        }
        let caller = Caller {
            user_id: record.user_id,
            audience,
        };
        self.run_verified(
            parts,
            stashed.body,
            caller,
            StepUpOutcome::Verified(*verified),
        )
        .await
    }
}

/// 303 to `location` on the app's origin, never cached.
fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    no_store(&mut response);
    response
}
