//! What Authsignal's `validateChallenge` answer must say for a token to open the gate or
//! the standalone validator, shown with a stand-in Authsignal that rewrites the answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::{Extension, Router};
use axum_authsignal::{StepUp, StepUpConfig};
use axum_test::TestServer;
use serde_json::{Value, json};

use crate::support::stand_in::Answer;
use crate::support::*;

/// `action` says the token is for this gate's action, `actionCode` names another: the
/// answer does not say the token is for this action, and the token is refused like
/// another action's (403), the handler not run.
#[tokio::test]
async fn a_validate_answer_whose_action_and_action_code_disagree_is_refused() {
    let names_two_actions = Arc::new(AtomicBool::new(false));
    let rewrite = names_two_actions.clone();
    let gate = setup()
        .stand_in(Arc::new(move |answer, json| {
            if answer == Answer::Validate && rewrite.load(Ordering::SeqCst) {
                json["actionCode"] = json!("changePayee");
            }
        }))
        .start()
        .await;
    let body = json!({ "amount": THRESHOLD * 5.0 });

    // Through the stand-in, an answer that names the action once opens the gate.
    let (_, token) = api_token(&gate, "/withdraw", "alice", &body).await;
    let passed = api_retry(&gate, "alice", &token, &body).await;
    assert_eq!(passed.status_code(), 200, "{}", passed.text());
    assert_eq!(gate.runs(), 1);

    let (_, token) = api_token(&gate, "/withdraw", "alice", &body).await;
    names_two_actions.store(true, Ordering::SeqCst);
    let refused = api_retry(&gate, "alice", &token, &body).await;
    assert_eq!(refused.status_code(), 403, "{}", refused.text());
    assert_eq!(
        refused.json::<Value>()["code"],
        "step_up_failed",
        "the refusal every returned token shares"
    );
    assert_eq!(gate.runs(), 1, "the handler did not run");
}

/// A validator route on the harness's configuration, for `changePayee` tokens.
fn validator_app(config: &StepUpConfig) -> TestServer {
    TestServer::new(
        Router::new()
            .route(
                "/payee-direct",
                post(|proof: StepUp| async move { proof.user_id().to_owned() }),
            )
            .layer(Extension(config.validator("changePayee"))),
    )
}

/// The standalone validator's only guard against an answer for
/// another user or action is its own check of the answer (no pending record is keyed by
/// what Authsignal answers). A stand-in that rewrites the validation shows the check holds.
#[tokio::test]
async fn the_validator_refuses_a_validation_naming_another_user_or_action() {
    let rewrite: Arc<Mutex<Option<(&'static str, &'static str)>>> = Arc::new(Mutex::new(None));
    let hook = rewrite.clone();
    let gate = setup()
        .stand_in(Arc::new(move |answer, json| {
            if answer == Answer::Validate
                && let Some((field, value)) = *hook.lock().unwrap()
            {
                json[field] = Value::String(value.to_owned());
                if field == "action" {
                    json["actionCode"] = Value::String(value.to_owned());
                }
            }
        }))
        .start()
        .await;
    let validator = validator_app(&gate.config);
    let token_for = |user: &'static str| {
        let gate = &gate;
        async move {
            let (_, token) = api_token(gate, "/payee", user, &json!({})).await;
            token
        }
    };
    for (field, value) in [("userId", "mallory"), ("action", "withdraw")] {
        let token = token_for("alice").await;
        *rewrite.lock().unwrap() = Some((field, value));
        let refused = validator
            .post("/payee-direct")
            .add_header(USER_HEADER, "alice")
            .add_header("x-authsignal-token", &token)
            .await;
        assert_eq!(refused.status_code(), 403, "{field}={value}");
        *rewrite.lock().unwrap() = None;
    }
    // The control: the same kind of token, answered as it is, passes.
    let token = token_for("alice").await;
    let passed = validator
        .post("/payee-direct")
        .add_header(USER_HEADER, "alice")
        .add_header("x-authsignal-token", &token)
        .await;
    assert_eq!(passed.status_code(), 200, "{}", passed.text());
    assert_eq!(passed.text(), "alice");
}
