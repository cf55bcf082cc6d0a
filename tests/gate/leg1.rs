//! One first leg for the gate and sign-in, and what a stand-in Authsignal's odd answers
//! cannot make it do: send a browser off the pre-built UI's origins, or accept a
//! validation that names another user or action.

use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::{Extension, Router};
use axum_authsignal::step_up::{StepUp, StepUpConfig};
use axum_test::TestServer;
use http::Method;
use serde_json::{Value, json};

use crate::support::stand_in::{Answer, Rewrite};
use crate::support::*;

/// Where a stand-in Authsignal may try to send a browser; none is the pre-built UI's.
pub const FOREIGN_URLS: [&str; 8] = [
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/x",
    "https://evil.example/x",
    "http://evil.example/x",
    "https://mfa.authsignal.com.evil.example/x",
    "https://mfa.authsignal.com@evil.example/x",
    // Loopback, but not the emulator's origin.
    "http://127.0.0.1:1/x",
];

/// A rewrite of `track`'s `url` to whatever `url` holds (nothing while it is `None`).
pub fn track_url(url: &Arc<Mutex<Option<String>>>) -> Rewrite {
    let url = url.clone();
    Arc::new(move |answer, json| {
        if answer == Answer::Track
            && json.get("url").is_some()
            && let Some(url) = url.lock().unwrap().clone()
        {
            json["url"] = Value::String(url);
        }
    })
}

/// Finding 4: a `url` off the pre-built UI's origins is a 503 and a log line, never a
/// `Location`; for an API client it is left out of the challenge.
#[tokio::test]
async fn the_gate_sends_browsers_only_to_the_pre_built_ui() {
    let url = Arc::new(Mutex::new(None));
    let gate = setup().stand_in(track_url(&url)).start().await;
    // The control: the emulator's own UI URL is followed.
    let location = browser_submit(&gate, "alice", &[("amount", "5000")]).await;
    assert!(location.starts_with(gate.emulator.origin()), "{location}");
    for foreign in FOREIGN_URLS {
        *url.lock().unwrap() = Some(foreign.to_owned());
        let response = navigate(
            &gate,
            Method::POST,
            "/withdraw",
            "alice",
            None,
            Some("amount=5000"),
        )
        .await;
        assert_eq!(
            response.status_code(),
            503,
            "{foreign}: {}",
            response.text()
        );
        assert!(
            response.maybe_header("location").is_none(),
            "{foreign} became a Location"
        );
        assert!(!response.text().contains("evil.example"), "{foreign}");
        // An API client still gets its token, without the foreign URL.
        let problem = api_challenge(&gate, "/withdraw", "alice", &json!({"amount": 5000})).await;
        assert!(problem["token"].is_string(), "{problem}");
        assert!(
            !problem.to_string().contains(foreign),
            "{foreign} in {problem}"
        );
    }
    assert_eq!(gate.runs(), 0);
    assert!(
        log_text().contains("not on an allowed UI origin"),
        "the refusal is logged"
    );
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

/// Mutation 5 of the review: the standalone validator's only guard against an answer for
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
