//! A round-robin load balancer: a small HTTP reverse proxy on a port of its own that sends
//! each request to the next backend in turn, and notes which backend answered what.
//!
//! It forwards the method, the path and query, the headers (but `Host` and the hop-by-hop
//! ones) and the body as they came, and answers with the backend's status, headers (every
//! `Set-Cookie` included) and body, redirects untouched: the app's `Location`s already
//! name this origin, the one the apps are configured with. A backend that cannot be
//! reached is a 502.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, StatusCode};

/// The largest body the proxy forwards, either way.
const BODY_LIMIT: usize = 1024 * 1024;

/// One request through the proxy: which backend answered it (0 for the first), and the
/// answer as `METHOD path -> status`, a token shown as `token=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub backend: usize,
    pub answer: String,
}

/// The running proxy.
pub struct Proxy {
    origin: String,
    hops: Arc<Mutex<Vec<Hop>>>,
}

#[derive(Clone)]
struct Balancer {
    backends: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    hops: Arc<Mutex<Vec<Hop>>>,
    http: reqwest::Client,
}

impl Proxy {
    /// Serves `listener`, balancing over the `backends` (origins such as
    /// `http://127.0.0.1:4001`), the first request going to the first.
    pub fn serve(listener: std::net::TcpListener, backends: Vec<String>) -> Proxy {
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let hops = Arc::new(Mutex::new(Vec::new()));
        let balancer = Balancer {
            backends: Arc::new(backends),
            next: Arc::new(AtomicUsize::new(0)),
            hops: hops.clone(),
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        let app = Router::new().fallback(forward).with_state(balancer);
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Proxy { origin, hops }
    }

    /// `http://127.0.0.1:<port>`: the origin the apps behind it are configured with.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The requests forwarded so far, in order, leaving none.
    pub fn take_hops(&self) -> Vec<Hop> {
        std::mem::take(&mut *self.hops.lock().unwrap())
    }
}

async fn forward(State(balancer): State<Balancer>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    // Browsers ask for it on their own, between the steps of a flow: answered here, it
    // takes no backend's turn, so that the flow's own requests alternate.
    if path == "/favicon.ico" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let backend = balancer.next.fetch_add(1, Ordering::SeqCst) % balancer.backends.len();
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let upstream = balancer
        .http
        .request(
            parts.method.clone(),
            format!("{}{path}", balancer.backends[backend]),
        )
        .headers(end_to_end(&parts.headers))
        .body(body)
        .send()
        .await;
    let response = match upstream {
        Ok(upstream) => {
            let status = upstream.status();
            let headers = end_to_end(upstream.headers());
            match upstream.bytes().await {
                Ok(body) => {
                    let mut response = Response::new(Body::from(body));
                    *response.status_mut() = status;
                    *response.headers_mut() = headers;
                    response
                }
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    };
    let shown = match path.split_once('?') {
        Some((route, query)) if query.contains("token=") => format!("{route}?token=…"),
        _ => path,
    };
    balancer.hops.lock().unwrap().push(Hop {
        backend,
        answer: format!("{} {shown} -> {}", parts.method, response.status().as_u16()),
    });
    response
}

/// The headers that go on past a proxy: not `Host` (the client sets the backend's), not
/// `Content-Length` (set again for the body sent), not the hop-by-hop ones.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    const HOP_BY_HOP: [&str; 4] = ["keep-alive", "proxy-connection", "te", "trailer"];
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let hop_by_hop = [HOST, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING, UPGRADE]
            .contains(name)
            || HOP_BY_HOP.contains(&name.as_str());
        if !hop_by_hop {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}
