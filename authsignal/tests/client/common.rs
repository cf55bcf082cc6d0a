//! Shared helpers of the client's integration tests: a local server that records every
//! request and answers as told, raw TCP servers that misbehave, and clients pointed at them.
//!
//! Each test binary uses only some of these, so each declares `mod common;` with
//! `#[allow(dead_code)]`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authsignal::{Authsignal, AuthsignalBuilder, RetryPolicy};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The secret key of the test clients.
pub const TEST_SECRET: &str = "sk_test_0123456789abcdef";

/// `Basic base64("<secret>:")`.
pub fn basic_auth(secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{secret}:"))
    )
}

/// The default retry policy (2 retries) with millisecond back-offs, so tests stay fast.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5))
}

/// A builder pointed at `base_url` with the test secret and fast back-offs.
pub fn builder_for(base_url: &str) -> AuthsignalBuilder {
    Authsignal::builder()
        .secret_key(TEST_SECRET)
        .base_url(base_url)
        .retry_policy(fast_retry())
}

/// A client pointed at `base_url` with the test secret and fast back-offs.
pub fn client_for(base_url: &str) -> Authsignal {
    builder_for(base_url).build().expect("test client builds")
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: Method,
    /// The raw (still percent-encoded) path and query, e.g. `/v1/users/a%2Fb?x=1`.
    pub path_and_query: String,
    /// Every header.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
}

impl Recorded {
    /// A header as text (`None` when absent).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("header is text"))
    }

    /// The body parsed as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "request body is not JSON ({err}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long to wait before answering.
    pub delay: Option<Duration>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            delay: None,
        }
    }

    /// An answer with the given body and no `Content-Type`.
    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: None,
        }
    }

    /// An answer with no body at all.
    pub fn empty(status: u16) -> Self {
        Self::raw(status, Vec::new())
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Answers only after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Never answers (within any test's lifetime).
    pub fn never() -> Self {
        Self::empty(200).delayed(Duration::from_secs(3600))
    }
}

type Responder = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

struct ServerState {
    requests: Mutex<Vec<Recorded>>,
    responder: Box<Responder>,
}

/// A local HTTP server on 127.0.0.1 that records every request and answers with what its
/// responder returns for it (given the request and its 0-based index).
pub struct TestServer {
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    state: Arc<ServerState>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Starts a server whose answer depends on the request and its index.
    pub async fn start(
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let state = Arc::new(ServerState {
            requests: Mutex::new(Vec::new()),
            responder: Box::new(responder),
        });
        let app = Router::new().fallback({
            let state = state.clone();
            move |method: Method, OriginalUri(uri): OriginalUri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { record_and_answer(&state, method, uri, headers, body).await }
            }
        });
        let (base_url, task) = serve(app).await;
        Self {
            base_url,
            state,
            task,
        }
    }

    /// Starts a server that always answers `reply`.
    pub async fn fixed(reply: Reply) -> Self {
        Self::start(move |_, _| reply.clone()).await
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// How many requests were received.
    pub fn count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    /// The only request received (panics unless there was exactly one).
    pub fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "expected exactly one request");
        requests.into_iter().next().unwrap()
    }

    /// A builder pointed at this server, with the test secret and fast back-offs.
    pub fn builder(&self) -> AuthsignalBuilder {
        builder_for(&self.base_url)
    }

    /// A client pointed at this server, with the test secret and fast back-offs.
    pub fn client(&self) -> Authsignal {
        client_for(&self.base_url)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record_and_answer(
    state: &ServerState,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = Recorded {
        method,
        path_and_query: uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| uri.path().to_owned()),
        headers,
        body,
    };
    let reply = {
        let mut requests = state.requests.lock().unwrap();
        let index = requests.len();
        requests.push(recorded.clone());
        (state.responder)(&recorded, index)
    };
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::from(reply.body)).unwrap()
}

/// Serves `app` on 127.0.0.1 (a free port) and returns its `/v1` base URL.
pub async fn serve(app: Router) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/v1"), task)
}

/// A base URL on a local port where nothing listens: connecting is refused.
pub async fn refused_base_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

/// A raw TCP server that reads each request in full and then resets the connection
/// without answering.
pub struct ResetServer {
    pub base_url: String,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl ResetServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let connections = connections.clone();
            async move {
                loop {
                    let Ok((mut socket, _)) = listener.accept().await else {
                        continue;
                    };
                    connections.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        read_request(&mut socket).await;
                        // Reset (RST) rather than close politely.
                        let _ = socket.set_zero_linger();
                        drop(socket);
                    });
                }
            }
        });
        Self {
            base_url: format!("http://{addr}/v1"),
            connections,
            task,
        }
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for ResetServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP/1.1 request: its head and a `Content-Length` body.
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(head_end) = find(&buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|value| value.trim().parse::<usize>().unwrap())
                .unwrap_or(0);
            if buffer.len() >= head_end + 4 + length {
                return;
            }
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
