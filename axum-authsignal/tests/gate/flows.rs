//! Both legs of the flow, end to end, for API clients and for browsers.

use authsignal_emulator::ActionConfig;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn a_small_amount_is_allowed_without_a_challenge() {
    let gate = start(|layer| layer).await;
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": 50 }))
        .await;
    assert_eq!(response.status_code(), 200);
    let body: Value = response.json();
    assert_eq!(body["user"], "alice");
    assert_eq!(body["challenged"], false);
    assert!(
        body["idempotencyKey"]
            .as_str()
            .is_some_and(|key| !key.is_empty())
    );
    assert_eq!(gate.runs(), 1);
}

#[tokio::test]
async fn api_client_is_challenged_then_retries_with_the_token() {
    let gate = start(|layer| layer).await;
    let body = json!({ "amount": 5000, "to": "NZ-123" });
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .add_header("accept", "application/json")
        .json(&body)
        .await;
    assert_eq!(response.status_code(), StatusCode::UNAUTHORIZED);
    assert!(
        response
            .header("www-authenticate")
            .to_str()
            .unwrap()
            .contains("error=\"insufficient_user_authentication\"")
    );
    assert_eq!(response.header("content-type"), "application/problem+json");
    assert_eq!(response.header("cache-control"), "no-store");
    assert!(response.header("vary").to_str().unwrap().contains("Accept"));
    let problem: Value = response.json();
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["action"], "withdraw");
    assert_eq!(problem["tokenHeader"], "x-authsignal-token");
    assert!(problem["expiresAt"].as_u64().unwrap() > 1_700_000_000);
    let key = problem["idempotencyKey"].as_str().unwrap().to_owned();
    assert_eq!(gate.runs(), 0, "the handler must not run on a challenge");

    let track_token = problem["token"].as_str().unwrap().to_owned();
    let token = pass_totp(&gate, "alice", &track_token).await;
    let response = api_retry(&gate, "alice", &token, &body).await;
    assert_eq!(response.status_code(), 200, "{}", response.text());
    let passed: Value = response.json();
    assert_eq!(passed["challenged"], true);
    assert_eq!(passed["verificationMethod"], "AUTHENTICATOR_APP");
    assert_eq!(passed["idempotencyKey"], key.as_str());
    assert_eq!(
        passed["tokenHeaderSeen"], false,
        "the handler must not see the token"
    );
    assert_eq!(gate.runs(), 1);
    assert_logs_clean(&[&token, &track_token]);
}

#[tokio::test]
async fn browser_form_is_resumed_after_the_prebuilt_ui_without_resubmitting() {
    let gate = start(|layer| layer).await;
    let location = browser_submit(&gate, "alice", &[("amount", "2500"), ("to", "NZ-9")]).await;
    assert!(
        location.starts_with(&format!("{}/ui/challenge?", gate.emulator.origin())),
        "{location}"
    );
    assert_eq!(gate.runs(), 0);

    let back = complete_ui(&gate, &location).await;
    assert!(
        back.starts_with(&format!("{}/withdraw?", gate.origin)),
        "{back}"
    );
    // The browser follows the redirect with a GET, is sent on to the clean URL, and the
    // resume page there posts back: the gate runs the stashed POST.
    let response = follow_back(&gate, &back, "alice").await;
    assert_eq!(response.status_code(), 200, "{}", response.text());
    let passed: Value = response.json();
    assert_eq!(passed["method"], "POST");
    assert_eq!(passed["body"], "amount=2500&to=NZ-9");
    assert_eq!(passed["contentType"], "application/x-www-form-urlencoded");
    assert_eq!(passed["challenged"], true);
    // The handler sees no token anywhere.
    assert_eq!(passed["uri"], "/withdraw");
    assert_eq!(passed["originalUri"], "/withdraw");
    assert_eq!(gate.runs(), 1);

    // Coming back to the token's URL again is refused (a small HTML page, no-referrer)...
    let again = navigate(
        &gate,
        Method::GET,
        &local_path(&gate.origin, &back),
        "alice",
        None,
        None,
    )
    .await;
    assert_eq!(again.status_code(), 403);
    assert!(
        again
            .header("content-type")
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(again.header("referrer-policy"), "no-referrer");
    // ...and a refresh of the resumed POST goes to the clean GET without running anything.
    let (_, token) = back.split_once("token=").unwrap();
    let id_form = format!("authsignal-resume={}", "A".repeat(22));
    let refreshed = navigate(
        &gate,
        Method::POST,
        "/withdraw",
        "alice",
        None,
        Some(&id_form),
    )
    .await;
    assert_eq!(refreshed.status_code(), 303);
    assert_eq!(
        refreshed.header("location").to_str().unwrap(),
        format!("{}/withdraw", gate.origin)
    );
    // A token sent to the POST URL is malformed: only the UI's GET carries one there.
    let repost = gate
        .server
        .post(&format!("/withdraw?token={token}"))
        .add_header(USER_HEADER, "alice")
        .await;
    assert_eq!(repost.status_code(), 400);
    assert_eq!(repost.header("referrer-policy"), "no-referrer");
    assert_eq!(gate.runs(), 1);
    assert_logs_clean(&[token]);
}

#[tokio::test]
async fn a_request_without_a_user_is_401_and_calls_nothing() {
    let gate = start(|layer| layer).await;
    gate.emulator.clear_calls();
    let response = gate
        .server
        .post("/withdraw")
        .json(&json!({ "amount": 5000 }))
        .await;
    assert_eq!(response.status_code(), 401);
    let problem: Value = response.json();
    assert_eq!(problem["code"], "user_required");
    assert!(gate.emulator.calls().is_empty());
    assert_eq!(gate.runs(), 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_calls_nothing() {
    let gate = start(|layer| layer.body_limit(1024)).await;
    gate.emulator.clear_calls();
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": 5, "memo": "x".repeat(2048) }))
        .await;
    assert_eq!(response.status_code(), 413);
    assert_eq!(response.json::<Value>()["code"], "body_too_large");
    assert!(gate.emulator.calls().is_empty());
    assert_eq!(gate.runs(), 0);
}

#[tokio::test]
async fn block_is_403_and_review_is_configurable() {
    let gate = start(|layer| layer).await;
    gate.emulator.set_action("withdraw", ActionConfig::block());
    let blocked = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": 5 }))
        .await;
    assert_eq!(blocked.status_code(), 403);
    assert_eq!(blocked.json::<Value>()["code"], "action_blocked");

    gate.emulator.set_action("withdraw", ActionConfig::review());
    let held = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": 5 }))
        .await;
    assert_eq!(held.status_code(), 403);
    assert_eq!(held.json::<Value>()["code"], "action_in_review");
    assert_eq!(gate.runs(), 0);

    let gate = start(|layer| layer.on_review(StatusCode::ACCEPTED)).await;
    gate.emulator.set_action("withdraw", ActionConfig::review());
    let accepted = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": 5 }))
        .await;
    assert_eq!(accepted.status_code(), 202);
    assert!(accepted.json::<Value>()["idempotencyKey"].is_string());
    assert_eq!(gate.runs(), 0, "a review never runs the handler");
}

#[tokio::test]
async fn the_amount_is_read_from_json_and_from_forms() {
    let gate = start(|layer| layer).await;
    api_challenge(&gate, "/withdraw", "alice", &json!({ "amount": 1000.5 })).await;
    let form = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .form(&[("amount", "1000.5")])
        .await;
    assert_eq!(
        form.status_code(),
        401,
        "a form amount over the threshold is challenged"
    );
    let small = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .form(&[("amount", "999")])
        .await;
    assert_eq!(small.status_code(), 200);
}
