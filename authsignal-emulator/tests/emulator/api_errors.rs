//! Authentication and bad input: a clear 4xx with `error`, `errorCode` and
//! `errorDescription`, never a 500; users and authenticators at their edges.

use authsignal::types::{EnrollVerifiedAuthenticatorRequest, VerificationMethod};
use authsignal_emulator::Emulator;
use reqwest::Method;
use serde_json::{Value, json};

use crate::emulator_util::{raw, start};

const UNAUTHORIZED: &str = "The request is unauthorized. Check that your API key and region base URL are correctly configured.";

fn assert_error_body(body: &Value, code: &str) {
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(body["errorDescription"].is_string(), "{body}");
}

#[tokio::test]
async fn every_server_route_wants_the_secret() {
    let emulator = start().await;
    let http = reqwest::Client::new();
    let routes = [
        (Method::GET, "/users/u1"),
        (Method::GET, "/users?email=a%40b.c"),
        (Method::PATCH, "/users/u1"),
        (Method::DELETE, "/users/u1"),
        (Method::GET, "/users/u1/authenticators"),
        (Method::POST, "/users/u1/authenticators"),
        (Method::DELETE, "/users/u1/authenticators/a1"),
        (Method::POST, "/users/u1/actions/withdraw"),
        (Method::POST, "/validate"),
        (Method::POST, "/claim"),
        (Method::GET, "/users/u1/actions/withdraw/k"),
        (Method::GET, "/users/u1/actions"),
        (Method::PATCH, "/users/u1/actions/withdraw/k"),
        (Method::POST, "/challenge"),
        (Method::POST, "/verify"),
        (Method::GET, "/challenges"),
        (Method::POST, "/sessions"),
        (Method::POST, "/sessions/validate"),
        (Method::POST, "/sessions/refresh"),
        (Method::POST, "/sessions/revoke"),
        (Method::POST, "/sessions/user/revoke"),
        (Method::POST, "/users/authenticators"),
        (Method::GET, "/users/u1/devices"),
        (Method::PATCH, "/users/u1/devices/d1"),
        (Method::POST, "/users/u1/devices/d1/invalidate"),
    ];
    for (method, path) in routes {
        let url = format!("{}{path}", emulator.api_url());
        for request in [
            http.request(method.clone(), &url),
            http.request(method.clone(), &url)
                .basic_auth("wrong-secret", Some("")),
            http.request(method.clone(), &url)
                .bearer_auth(emulator.secret()),
        ] {
            let response = request.json(&json!({})).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 401, "{method} {path}");
            let body: Value = response.json().await.unwrap();
            assert_error_body(&body, "unauthorized");
            assert_eq!(body["errorDescription"], UNAUTHORIZED);
        }
    }
    assert_eq!(emulator.calls().len(), 25 * 3, "every attempt is recorded");
}

#[tokio::test]
async fn bad_json_and_missing_fields_are_400_invalid_request() {
    let emulator = start().await;
    for (method, path, body) in [
        (Method::POST, "/users/u1/actions/withdraw", "{not json"),
        (
            Method::POST,
            "/users/u1/actions/withdraw",
            r#"{"custom": "not an object"}"#,
        ),
        (Method::POST, "/validate", r#"{"userId": "u1"}"#),
        (Method::POST, "/validate", "[]"),
        (Method::POST, "/verify", r#"{"challengeId": "c"}"#),
        (Method::POST, "/claim", r#"{"challengeId": "c"}"#),
        (Method::POST, "/sessions", r#"{"clientId": "web"}"#),
        (Method::POST, "/sessions/validate", "{}"),
        (Method::POST, "/sessions/user/revoke", "{}"),
        (Method::PATCH, "/users/u1/actions/withdraw/k", "{}"),
        (Method::POST, "/users/u1/authenticators", "{}"),
        (
            Method::POST,
            "/users/u1/authenticators",
            r#"{"verificationMethod": "SMS"}"#,
        ),
        (
            Method::POST,
            "/users/u1/authenticators",
            r#"{"verificationMethod": "EMAIL_OTP"}"#,
        ),
        (
            Method::POST,
            "/users/u1/authenticators",
            r#"{"verificationMethod": "PASSKEY"}"#,
        ),
        (Method::POST, "/challenge", "{}"),
        (
            Method::POST,
            "/challenge",
            r#"{"verificationMethod": "SMS"}"#,
        ),
        (Method::PATCH, "/users/u1", r#"{"emailVerified": "yes"}"#),
        (Method::GET, "/users", ""),
        (Method::GET, "/users?email=a%40b.c&limit=many", ""),
    ] {
        let (status, answer) = raw(
            &emulator,
            method.clone(),
            path,
            (!body.is_empty()).then_some(body),
        )
        .await;
        assert_eq!(status, 400, "{method} {path} {body}: {answer}");
        assert_error_body(&answer, "invalid_request");
    }
}

#[tokio::test]
async fn decoder_errors_do_not_echo_values() {
    let emulator = start().await;
    let (status, answer) = raw(
        &emulator,
        Method::POST,
        "/validate",
        Some(r#"{"token": 42, "userId": "eyJsecret"}"#),
    )
    .await;
    assert_eq!(status, 400);
    assert!(!answer.to_string().contains("eyJsecret"), "{answer}");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let emulator = start().await;
    let (status, answer) = raw(&emulator, Method::GET, "/nothing/here", None).await;
    assert_eq!(status, 404);
    assert_error_body(&answer, "not_found");
    let (status, answer) = raw(&emulator, Method::PUT, "/validate", Some("{}")).await;
    assert_eq!(status, 405);
    assert_error_body(&answer, "method_not_allowed");
}

#[tokio::test]
async fn unknown_users_and_authenticators() {
    let emulator = start().await;
    let (status, user) = raw(&emulator, Method::GET, "/users/123%3Atest", None).await;
    assert_eq!(status, 200);
    assert_eq!(user["isEnrolled"], false);
    let client = emulator.client();
    assert!(
        client
            .get_authenticators("nobody")
            .await
            .unwrap()
            .is_empty()
    );
    let err = client
        .delete_authenticator("nobody", "a1")
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(err.code(), Some("AUTHENTICATOR_NOT_FOUND"));
    let (status, deleted) = raw(&emulator, Method::DELETE, "/users/nobody", None).await;
    assert_eq!((status, deleted), (200, json!({"success": true})));
}

#[tokio::test]
async fn enrolling_an_authenticator_marks_the_contact_verified_and_gives_recovery_codes() {
    let emulator = start().await;
    let client = emulator.client();
    let first = client
        .enroll_verified_authenticator(
            "u1",
            &EnrollVerifiedAuthenticatorRequest {
                email: Some("u1@example.com".into()),
                ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::EmailOtp)
            },
        )
        .await
        .unwrap();
    assert_eq!(first.recovery_codes.as_ref().map(Vec::len), Some(10));
    assert_eq!(first.authenticator.user_id.as_deref(), Some("u1"));
    let user = client.get_user("u1").await.unwrap();
    assert!(user.email_verified);
    assert_eq!(
        user.default_verification_method,
        Some(VerificationMethod::EmailOtp)
    );
    // The legacy request shape still enrolls.
    let (status, legacy) = raw(
        &emulator,
        Method::POST,
        "/users/u1/authenticators",
        Some(r#"{"oobChannel": "SMS", "phoneNumber": "+64270000000"}"#),
    )
    .await;
    assert_eq!(status, 200, "{legacy}");
    assert_eq!(legacy["authenticator"]["verificationMethod"], "SMS");
    assert!(
        legacy.get("recoveryCodes").is_none(),
        "only the first enrollment gets codes"
    );
}

#[tokio::test]
async fn query_users_pages_by_user_id() {
    let emulator = start().await;
    let client = emulator.client();
    for id in ["c", "a", "b"] {
        client
            .update_user(
                id,
                &authsignal::types::UpdateUserRequest {
                    email: Some("same@example.com".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let page = |after: Option<&str>| authsignal::types::QueryUsersRequest {
        email: Some("same@example.com".into()),
        limit: Some(2),
        last_evaluated_user_id: after.map(str::to_owned),
        ..Default::default()
    };
    let first = client.query_users(&page(None)).await.unwrap();
    let ids: Vec<_> = first.users.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(first.last_evaluated_user_id.as_deref(), Some("b"));
    let second = client.query_users(&page(Some("b"))).await.unwrap();
    assert_eq!(second.users.len(), 1);
    assert_eq!(second.last_evaluated_user_id, None);
}

#[tokio::test]
async fn the_handle_keeps_the_secret_out_of_debug() {
    let emulator = Emulator::builder()
        .secret("very-secret-value")
        .start()
        .await
        .unwrap();
    assert!(!format!("{emulator:?}").contains("very-secret-value"));
    assert!(!format!("{:?}", emulator.client()).contains("very-secret-value"));
    let enrollment = emulator.enroll_totp("u1");
    assert!(!format!("{enrollment:?}").contains(&enrollment.secret));
    assert!(emulator.api_url().starts_with("http://127.0.0.1:"));
    assert!(emulator.api_url().ends_with("/v1"));
    for bad in ["", "a:b", "line\nbreak"] {
        let err = Emulator::builder().secret(bad).start().await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
    }
    emulator.shutdown().await;
    assert!(
        emulator.client().get_user("u1").await.is_err(),
        "no longer listening"
    );
}
