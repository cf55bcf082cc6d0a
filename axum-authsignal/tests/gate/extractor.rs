//! The `StepUp` extractor on its own: with a `StepUpValidator`, without anything, and as
//! an `Option`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::routing::post;
use axum::{Extension, Router};
use axum_authsignal::StepUp;
use axum_test::TestServer;
use serde_json::{Value, json};

use crate::support::*;

async fn guarded(State(runs): State<Arc<AtomicUsize>>, step_up: StepUp) -> String {
    runs.fetch_add(1, Ordering::SeqCst);
    format!("{} passed {}", step_up.user_id(), step_up.action())
}

async fn optional(step_up: Option<StepUp>) -> String {
    match step_up {
        Some(proof) => format!("verified {}", proof.user_id()),
        None => "no step-up".to_owned(),
    }
}

#[tokio::test]
async fn without_a_layer_the_extractor_refuses_and_names_the_layer() {
    let runs = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/guarded", post(guarded))
        .with_state(runs.clone());
    let server = TestServer::new(app);
    let response = server.post("/guarded").await;
    assert_eq!(response.status_code(), 500);
    let problem: Value = response.json();
    assert!(
        problem["detail"].as_str().unwrap().contains("StepUpLayer"),
        "{problem}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_standalone_validator_checks_user_action_and_once() {
    // The challenge is issued by a gated route of the harness; the standalone route
    // validates the token itself.
    let gate = start(|layer| layer).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let validator = gate.config.validator("withdraw");
    let app = Router::new()
        .route("/guarded", post(guarded))
        .layer(Extension(validator))
        .with_state(runs.clone());
    let server = TestServer::new(app);

    let no_token = server
        .post("/guarded")
        .add_header(USER_HEADER, "alice")
        .await;
    assert_eq!(no_token.status_code(), 401);
    assert_eq!(no_token.json::<Value>()["code"], "step_up_required");

    let (_, token) = api_token(&gate, "/withdraw", "alice", &json!({ "amount": 5000 })).await;
    let stolen = server
        .post("/guarded")
        .add_header(USER_HEADER, "mallory")
        .add_header("x-authsignal-token", &token)
        .await;
    assert_eq!(stolen.status_code(), 403);

    let first = server
        .post("/guarded")
        .add_header(USER_HEADER, "alice")
        .add_header("x-authsignal-token", &token)
        .await;
    assert_eq!(first.status_code(), 200, "{}", first.text());
    assert_eq!(first.text(), "alice passed withdraw");
    let replay = server
        .post("/guarded")
        .add_header(USER_HEADER, "alice")
        .add_header("x-authsignal-token", &token)
        .await;
    assert_eq!(replay.status_code(), 403);

    let malformed = server
        .post("/guarded")
        .add_header(USER_HEADER, "alice")
        .add_header("x-authsignal-token", "not a token")
        .await;
    assert_eq!(malformed.status_code(), 400);
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // A token for another action does not pass a validator for this one.
    let (_, payee) = api_token(&gate, "/payee", "alice", &json!({})).await;
    let other_action = server
        .post("/guarded")
        .add_header(USER_HEADER, "alice")
        .add_header("x-authsignal-token", &payee)
        .await;
    assert_eq!(other_action.status_code(), 403);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn option_step_up_is_none_without_a_token_and_checks_a_given_one() {
    let gate = start(|layer| layer).await;
    let validator = gate.config.validator("withdraw");
    let app = Router::new()
        .route("/optional", post(optional))
        .layer(Extension(validator));
    let server = TestServer::new(app);
    assert_eq!(server.post("/optional").await.text(), "no step-up");
    let bare = TestServer::new(Router::new().route("/optional", post(optional)));
    assert_eq!(bare.post("/optional").await.text(), "no step-up");

    let (_, token) = api_token(&gate, "/withdraw", "alice", &json!({ "amount": 5000 })).await;
    let passed = server
        .post("/optional")
        .add_header(USER_HEADER, "alice")
        .add_header("x-authsignal-token", &token)
        .await;
    assert_eq!(passed.text(), "verified alice");
    let bad = server
        .post("/optional")
        .add_header(USER_HEADER, "alice")
        .add_header("x-authsignal-token", "a.b.c")
        .await;
    assert_eq!(
        bad.status_code(),
        403,
        "a token that is given must be valid"
    );
}
