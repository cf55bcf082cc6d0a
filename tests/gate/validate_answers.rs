//! What Authsignal's `validateChallenge` answer must say for a token to open the gate, with
//! a proxy in front of the emulator that rewrites that answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use axum_authsignal::emulator::EmulatorHandle;
use axum_authsignal::step_up::{StepUp, StepUpConfig};
use serde_json::{Value, json};

use crate::support::*;

/// Forwards every request to the emulator; while `names_two_actions` is set, a
/// `validateChallenge` answer also carries `actionCode: "changePayee"` beside its `action`.
#[derive(Clone)]
struct Rewriter {
    emulator: String,
    http: reqwest::Client,
    names_two_actions: Arc<AtomicBool>,
}

async fn forward(State(proxy): State<Rewriter>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = proxy
        .http
        .request(parts.method.clone(), format!("{}{path}", proxy.emulator));
    for (name, value) in &parts.headers {
        if name != http::header::HOST {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.body(body).send().await.unwrap();
    let status = answer.status();
    let mut bytes = answer.bytes().await.unwrap();
    if parts.uri.path() == "/v1/validate" && proxy.names_two_actions.load(Ordering::SeqCst) {
        let mut value: Value = serde_json::from_slice(&bytes).unwrap();
        value["actionCode"] = json!("changePayee");
        bytes = Bytes::from(serde_json::to_vec(&value).unwrap());
    }
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(bytes.into())
        .unwrap()
}

async fn start_rewriter(emulator: &EmulatorHandle) -> (String, Arc<AtomicBool>) {
    let names_two_actions = Arc::new(AtomicBool::new(false));
    let proxy = Rewriter {
        emulator: emulator.origin().to_owned(),
        http: reqwest::Client::new(),
        names_two_actions: names_two_actions.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, names_two_actions)
}

/// `action` says the token is for this gate's action, `actionCode` names another: the
/// answer does not say the token is for this action, and the token is refused like
/// another action's (403), the handler not run.
#[tokio::test]
async fn a_validate_answer_whose_action_and_action_code_disagree_is_refused() {
    let emulator = emulator().await;
    let (proxy, names_two_actions) = start_rewriter(&emulator).await;
    let client = emulator
        .client_builder()
        .base_url(format!("{proxy}/v1"))
        .build()
        .unwrap();
    let config = StepUpConfig::builder(client)
        .user_id(user_from_header)
        .build();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let app = Router::new().route(
        "/withdraw",
        post(move |proof: StepUp| async move {
            counted.fetch_add(1, Ordering::SeqCst);
            proof.action().to_owned()
        })
        .layer(config.gate("withdraw").custom_from_body(["amount"])),
    );
    let server = axum_test::TestServer::new(app);
    let http = reqwest::Client::new();
    let body = json!({ "amount": THRESHOLD * 5.0 });

    let attempt = |rewrite: bool| {
        let (server, http, body, emulator) = (&server, &http, &body, &emulator);
        names_two_actions.store(rewrite, Ordering::SeqCst);
        async move {
            let challenged = server
                .post("/withdraw")
                .add_header(USER_HEADER, "alice")
                .add_header("accept", "application/json")
                .json(body)
                .await;
            assert_eq!(challenged.status_code(), 401, "{}", challenged.text());
            let track_token = remember(challenged.json::<Value>()["token"].as_str().unwrap());
            let token = pass_totp_at(emulator, http, "alice", &track_token).await;
            server
                .post("/withdraw")
                .add_header(USER_HEADER, "alice")
                .add_header("x-authsignal-token", &token)
                .json(body)
                .await
        }
    };

    // Through the proxy, an answer that names the action once opens the gate.
    let passed = attempt(false).await;
    assert_eq!(passed.status_code(), 200, "{}", passed.text());
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let refused = attempt(true).await;
    assert_eq!(refused.status_code(), 403, "{}", refused.text());
    assert_eq!(
        refused.json::<Value>()["code"],
        "step_up_failed",
        "the refusal every returned token shares"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler did not run");
}
