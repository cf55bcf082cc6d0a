//! `/validate` answers exactly as the SDK fixtures show, never consumes a token, and
//! reads expiry from the emulator's clock.

use std::time::Duration;

use authsignal::types::{UserActionState, ValidateChallengeRequest};
use authsignal_emulator::{Emulator, TOKEN_LIFETIME};
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::emulator_util::{client_verify_totp, raw, start, track};

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn fixture(name: &str) -> Value {
    let text = include_str!("../../../authsignal/tests/fixtures/sdk-wire-fixtures.json");
    let all: Value = serde_json::from_str(text).unwrap();
    all[name]["response_body"].clone()
}

async fn validate(emulator: &authsignal_emulator::EmulatorHandle, body: Value) -> Value {
    let (status, answer) = raw(emulator, Method::POST, "/validate", Some(&body.to_string())).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// A tracked and completed challenge: (track token, token from the client API, key).
async fn completed(
    emulator: &authsignal_emulator::EmulatorHandle,
    user: &str,
) -> (String, String, String) {
    emulator.enroll_totp(user);
    let tracked = track(emulator, user, "withdraw", None).await;
    let track_token = tracked.token.unwrap().into_string();
    let code = emulator.totp_code(user).unwrap();
    let (_, verified) = client_verify_totp(emulator, &track_token, &code).await;
    let token = verified["accessToken"].as_str().unwrap().to_owned();
    (track_token, token, tracked.idempotency_key)
}

#[tokio::test]
async fn success_has_the_fixture_shape() {
    let emulator = start().await;
    let (_, token, key) = completed(&emulator, "legitimate_user_id").await;
    let answer = validate(
        &emulator,
        json!({"userId": "legitimate_user_id", "token": token}),
    )
    .await;
    // The live shape, as the Python SDK's tests record it: `actionCode` beside `action`
    // (the Java and .NET SDKs read only `actionCode`).
    assert_eq!(
        keys(&answer),
        keys(&fixture(
            "validate_success_no_userId_with_deprecated_actionCode"
        ))
    );
    assert_eq!(answer["isValid"], true);
    assert_eq!(answer["state"], "CHALLENGE_SUCCEEDED");
    assert_eq!(answer["userId"], "legitimate_user_id");
    assert_eq!(answer["action"], "withdraw");
    assert_eq!(answer["actionCode"], "withdraw");
    assert_eq!(answer["idempotencyKey"], key.as_str());
    assert_eq!(answer["verificationMethod"], "AUTHENTICATOR_APP");
    // RFC 3339 with milliseconds, from the emulator's clock.
    assert_eq!(answer["stateUpdatedAt"], "2024-06-01T12:00:10.000Z");
}

#[tokio::test]
async fn mismatches_answer_the_fixture_errors() {
    let emulator = start().await;
    let (_, token, _) = completed(&emulator, "legitimate_user_id").await;
    let spoofed = validate(
        &emulator,
        json!({"userId": "spoofed_user_id", "token": token}),
    )
    .await;
    assert_eq!(spoofed, fixture("validate_userId_mismatch"));
    let other_action = validate(
        &emulator,
        json!({"userId": "legitimate_user_id", "token": token, "action": "invalid_action"}),
    )
    .await;
    assert_eq!(other_action, fixture("validate_action_mismatch"));
}

#[tokio::test]
async fn a_challenge_not_yet_completed_is_not_valid() {
    let emulator = start().await;
    emulator.enroll_totp("123:test");
    let tracked = track(&emulator, "123:test", "withdraw", None).await;
    let answer = validate(&emulator, json!({"token": tracked.token.unwrap()})).await;
    let shape = fixture("validate_challenge_required_not_yet_completed");
    let mut expected = keys(&shape);
    expected.push("actionCode");
    expected.sort_unstable();
    assert_eq!(keys(&answer), expected);
    assert_eq!(answer["isValid"], false);
    assert_eq!(answer["state"], "CHALLENGE_REQUIRED");
    assert_eq!(answer["userId"], "123:test");
    assert_eq!(answer["action"], "withdraw");
    assert_eq!(answer["actionCode"], "withdraw");
    assert_eq!(answer["idempotencyKey"], tracked.idempotency_key.as_str());
}

#[tokio::test]
async fn tokens_carry_the_default_scope_unless_the_track_asks_for_another() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let claims = |token: &str| -> Value {
        let payload = token.split('.').nth(1).expect("a JWT");
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        serde_json::from_slice(&engine.decode(payload).unwrap()).unwrap()
    };
    let plain = track(&emulator, "u1", "withdraw", None).await;
    assert_eq!(
        claims(plain.token.unwrap().as_str())["scope"],
        "read:authenticators"
    );
    let scoped = emulator
        .client()
        .track(
            "u1",
            "withdraw",
            authsignal::types::TrackAttributes {
                scope: Some("add:authenticators".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        claims(scoped.token.unwrap().as_str())["scope"],
        "add:authenticators"
    );
}

#[tokio::test]
async fn get_action_answers_an_output() {
    let emulator = start().await;
    let tracked = track(&emulator, "u1", "withdraw", None).await;
    let (status, body) = raw(
        &emulator,
        Method::GET,
        &format!("/users/u1/actions/withdraw/{}", tracked.idempotency_key),
        None,
    )
    .await;
    assert_eq!(status, 200);
    // The Python SDK's live test asserts that `output` is there.
    assert!(body["output"].is_object(), "{body}");
}

#[tokio::test]
async fn validate_does_not_consume_the_token() {
    let emulator = start().await;
    let (track_token, token, _) = completed(&emulator, "u1").await;
    let client = emulator.client();
    let request = ValidateChallengeRequest {
        token: token.into(),
        user_id: Some("u1".into()),
        action: Some("withdraw".into()),
    };
    for _ in 0..3 {
        let answer = client.validate_challenge(&request).await.unwrap();
        assert!(answer.is_valid);
        assert_eq!(answer.state, Some(UserActionState::ChallengeSucceeded));
    }
    // The token names the action, so the track token reports the success as well.
    let by_track_token = client
        .validate_challenge(&ValidateChallengeRequest {
            token: track_token.into(),
            ..request.clone()
        })
        .await
        .unwrap();
    assert!(by_track_token.is_valid);
    assert_eq!(emulator.call_count("validateChallenge"), 4);
}

#[tokio::test]
async fn tokens_expire_by_the_emulator_clock() {
    let emulator = start().await;
    let (_, token, _) = completed(&emulator, "u1").await;
    emulator.advance(TOKEN_LIFETIME - Duration::from_secs(1));
    let still = validate(&emulator, json!({"token": token})).await;
    assert_eq!(still["isValid"], true);
    emulator.advance(Duration::from_secs(1));
    let expired = validate(&emulator, json!({"token": token})).await;
    assert_eq!(
        expired,
        json!({"isValid": false, "error": "Token has expired."})
    );
}

#[tokio::test]
async fn malformed_and_foreign_tokens_are_invalid() {
    let emulator = start().await;
    let (_, token, _) = completed(&emulator, "u1").await;
    let invalid = json!({"isValid": false, "error": "Token is invalid."});

    // Signed with another secret: another tenant's emulator.
    let other = Emulator::builder()
        .secret("another-tenant")
        .start()
        .await
        .unwrap();
    let foreign = track(&other, "u1", "withdraw", None).await.token.unwrap();

    // Our own token with its claims changed.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&engine.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = "admin".into();
    claims["other"]["userId"] = "admin".into();
    parts[1] = engine.encode(claims.to_string());
    let tampered = parts.join(".");

    // An unsigned token claiming alg "none".
    let none = format!(
        "{}.{}.",
        engine.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );

    for bad in [
        "".to_owned(),
        "not-a-token".to_owned(),
        "eyJhbGciOiJIUzI1NiJ9.test-token".to_owned(),
        foreign.into_string(),
        tampered,
        none,
    ] {
        assert_eq!(
            validate(&emulator, json!({"token": bad})).await,
            invalid,
            "{bad}"
        );
    }
    // A body without a token is a bad request, not an answer about a token.
    let (status, body) = raw(&emulator, Method::POST, "/validate", Some("{}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["errorCode"], "invalid_request");
}

#[tokio::test]
async fn a_deleted_users_token_no_longer_validates() {
    let emulator = start().await;
    let (_, token, _) = completed(&emulator, "u1").await;
    emulator.client().delete_user("u1").await.unwrap();
    let answer = validate(&emulator, json!({"token": token})).await;
    assert_eq!(
        answer,
        json!({"isValid": false, "error": "Token is invalid."})
    );
}
