//! [`StepUpService`]: the service a [`StepUpLayer`](super::StepUpLayer) wraps a route in,
//! and its [`ResponseFuture`]. The decisions themselves are in the `flow` module.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use http::Request;
use tower::Service;
use tracing::Instrument;
use tracing::field::Empty;

use super::flow;
use super::route::Route;

/// The service [`StepUpLayer`](super::StepUpLayer) wraps a route in.
#[derive(Clone)]
pub struct StepUpService<S> {
    inner: S,
    route: Route,
}

impl<S> StepUpService<S> {
    pub(crate) fn new(inner: S, route: Route) -> Self {
        Self { inner, route }
    }
}

impl<S> std::fmt::Debug for StepUpService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUpService")
            .field("action", self.route.settings().action())
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
        let route = self.route.clone();
        let span = tracing::info_span!(
            "step_up",
            action = %route.settings().action(),
            user = Empty,
            outcome = Empty,
            idempotency_key = Empty,
            authsignal_ms = Empty,
        );
        ResponseFuture {
            future: Box::pin(
                async move { Ok(flow::decide(ready, route, request).await) }.instrument(span),
            ),
        }
    }
}
