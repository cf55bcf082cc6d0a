//! Serving: the accept loop, and what happens to each request before and after routing
//! (recording the call, injecting a fault).
//!
//! The loop is our own rather than `axum::serve` because a connection-reset fault must
//! close a connection without answering, and `axum::serve` only takes services that
//! cannot fail. Here each connection is served by hyper with a service that may return an
//! error, and hyper drops the connection on one.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::Service;

use super::calls::{self, RecordedCall};
use super::error::HttpError;
use super::faults::{self, ConnectionReset};
use super::state::Shared;
use super::{api, ui};

/// Every route: the API, the pre-built UI, and JSON answers for unknown routes and methods.
pub(crate) fn app(shared: Arc<Shared>) -> Router {
    api::router(shared.clone())
        .merge(ui::router(shared))
        .fallback(|| async { HttpError::not_found("There is no such route.") })
        .method_not_allowed_fallback(|| async { HttpError::method_not_allowed() })
}

/// Resolves when shutdown is asked for. A dropped sender (every handle gone) is not a
/// request to stop: the server then runs as long as its runtime.
pub(crate) async fn stopped(mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Accepts connections until shutdown.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    app: Router,
    shutdown: watch::Receiver<bool>,
) {
    let stop = stopped(shutdown.clone());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    // Counted as open until its task ends, however it ends.
                    let open = shared.connections.accepted();
                    let serving = connection(stream, shared.clone(), app.clone(), shutdown.clone());
                    tokio::spawn(async move {
                        serving.await;
                        drop(open);
                    });
                }
                // Out of file descriptors and the like: wait a moment instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
        }
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    app: Router,
    shutdown: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        handle(shared.clone(), app.clone(), request)
    });
    // The timer arms hyper's header-read timeout, so a client that never finishes its
    // headers cannot hold a connection open forever.
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        // An error here is a client gone away or an injected reset: nothing to do.
        _ = connection.as_mut() => {}
        () = stopped(shutdown) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// One request: recorded, delayed by its operation's latency, faulted if a fault is armed
/// for its operation, routed.
async fn handle(
    shared: Arc<Shared>,
    mut app: Router,
    request: Request<Incoming>,
) -> Result<Response, ConnectionReset> {
    let operation = calls::operation(request.method(), request.uri().path());
    shared.record_call(RecordedCall {
        operation,
        method: request.method().clone(),
        path: request.uri().path().to_owned(),
        webhook: None,
    });
    if let Some(delay) = shared.latency_of(operation) {
        tokio::time::sleep(delay).await;
    }
    let fault = shared.take_fault(operation);
    if let Some(kind) = &fault
        && let Some(answer) = faults::before_routing(kind).await?
    {
        return Ok(answer);
    }
    // A `Router` is always ready, and its error type is `Infallible`.
    let answer: Result<Response, Infallible> = app.call(request.map(Body::new)).await;
    let answer = answer
        .unwrap_or_else(|never| match never {})
        .into_response();
    Ok(match &fault {
        Some(kind) => faults::rewrite(kind, answer).await,
        None => answer,
    })
}
