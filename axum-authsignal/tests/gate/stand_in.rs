//! A stand-in Authsignal: forwards every call to the emulator and lets a test rewrite the
//! JSON answers of `track` and `validateChallenge` on the way back, to show what the gate
//! does with an answer the emulator would never give (a foreign UI URL, another user's
//! validation).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use serde_json::Value;

/// Which answer a rewrite is looking at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Track,
    Validate,
    Other,
}

/// Changes an answer in place.
pub type Rewrite = Arc<dyn Fn(Answer, &mut Value) + Send + Sync>;

#[derive(Clone)]
struct StandIn {
    upstream: String,
    http: reqwest::Client,
    rewrite: Rewrite,
}

/// Starts a stand-in in front of `upstream` (the emulator's origin); returns its origin.
pub async fn start(upstream: &str, rewrite: Rewrite) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let state = StandIn {
        upstream: upstream.to_owned(),
        http: reqwest::Client::new(),
        rewrite,
    };
    let app = Router::new().fallback(forward).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

async fn forward(State(stand_in): State<StandIn>, parts: Parts, body: Bytes) -> Response {
    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let answer = if path == "/v1/validate" {
        Answer::Validate
    } else if parts.method == http::Method::POST && path.contains("/actions/") {
        Answer::Track
    } else {
        Answer::Other
    };
    let mut request = stand_in
        .http
        .request(parts.method.clone(), format!("{}{path}", stand_in.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let upstream = request.send().await.expect("the emulator answers");
    let status = upstream.status();
    let bytes = upstream.bytes().await.expect("the emulator's body");
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut json) => {
            (stand_in.rewrite)(answer, &mut json);
            (status, axum::Json(json)).into_response()
        }
        Err(_) => (status, bytes).into_response(),
    }
}
