//! Errors: the API's error body, odd bodies (text/plain JSON, empty, HTML), undecodable
//! and oversized 2xx bodies, and configuration errors from the builder.

use std::time::Duration;

use crate::common::{Reply, TestServer};
use authsignal::types::*;
use authsignal::*;
use serde_json::{Value, json};

const FIXTURES: &str = include_str!("../fixtures/sdk-wire-fixtures.json");

fn fixture(name: &str) -> Value {
    let all: Value = serde_json::from_str(FIXTURES).unwrap();
    all.get(name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .clone()
}

/// The error of a `validateChallenge` (a POST: never retried) answered by `reply`.
async fn validate_error(reply: Reply) -> Error {
    let server = TestServer::fixed(reply).await;
    let err = server
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: "token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(server.count(), 1);
    err
}

fn api(err: &Error) -> &ApiError {
    match err {
        Error::Api(api) => api,
        other => panic!("expected Error::Api, got {other:?}"),
    }
}

#[tokio::test]
async fn the_code_is_error_code_else_error_and_the_description_error_description() {
    for (body, code, description) in [
        (
            json!({"error": "invalid_request", "errorCode": "AUTHENTICATOR_NOT_FOUND", "errorDescription": "No such authenticator."}),
            Some("AUTHENTICATOR_NOT_FOUND"),
            Some("No such authenticator."),
        ),
        (
            json!({"error": "invalid_request", "errorDescription": "Bad input."}),
            Some("invalid_request"),
            Some("Bad input."),
        ),
        (
            json!({"errorCode": "invalid_credential"}),
            Some("invalid_credential"),
            None,
        ),
        (json!({}), None, None),
        (
            json!({"error": "x", "unknownField": [1, 2, 3]}),
            Some("x"),
            None,
        ),
    ] {
        let err = validate_error(Reply::json(400, body.clone())).await;
        let api = api(&err);
        assert_eq!(api.status, 400, "{body}");
        assert_eq!(api.operation, "validateChallenge");
        assert_eq!(api.code.as_deref(), code, "{body}");
        assert_eq!(err.code(), code, "{body}");
        assert_eq!(api.description.as_deref(), description, "{body}");
        let text = err.to_string();
        assert!(text.contains("400"), "{text}");
        if let Some(code) = code {
            assert!(text.contains(code), "{text}");
        }
        if let Some(description) = description {
            assert!(text.contains(description), "{text}");
        }
    }
}

#[tokio::test]
async fn unauthorized_says_to_check_the_key_and_the_region() {
    let live = fixture("error_401_unauthorized_live_text");
    let err = validate_error(Reply::json(
        401,
        json!({
            "error": live["errorCode"],
            "errorCode": live["errorCode"],
            "errorDescription": live["errorDescription"],
        }),
    ))
    .await;
    assert_eq!(err.code(), Some("unauthorized"));
    let text = err.to_string();
    assert!(text.contains("secret key"), "{text}");
    assert!(text.contains("region"), "{text}");
    assert!(
        text.contains(live["errorDescription"].as_str().unwrap()),
        "{text}"
    );
    // Even without a body.
    let err = validate_error(Reply::empty(401)).await;
    let text = err.to_string();
    assert!(
        text.contains("secret key") && text.contains("region"),
        "{text}"
    );
    // Other statuses do not say so.
    let err = validate_error(Reply::json(403, json!({"error": "forbidden"}))).await;
    assert!(!err.to_string().contains("region"), "{err}");
}

#[tokio::test]
async fn json_error_bodies_served_as_text_plain_decode() {
    let case = fixture("error_401_mock_text_plain");
    let content_type = case["response_headers"]["Content-Type"].as_str().unwrap();
    assert_eq!(content_type, "text/plain");
    let server = TestServer::fixed(
        Reply::raw(401, case["response_body"].to_string()).header("content-type", content_type),
    )
    .await;
    let err = server
        .client()
        .track("123", "signIn", TrackAttributes::default())
        .await
        .unwrap_err();
    let api = api(&err);
    assert_eq!(api.status, 401);
    assert_eq!(api.code.as_deref(), Some("unauthorized"));
    assert_eq!(api.description.as_deref(), Some("Session expired"));
    assert_eq!(server.count(), 1, "401 is not retried");
}

#[tokio::test]
async fn an_empty_400_body_is_an_api_error_without_a_code() {
    let case = fixture("error_400_empty_body");
    assert_eq!(case["response_body"], Value::Null);
    let server = TestServer::fixed(Reply::empty(400)).await;
    let err = server
        .client()
        .track("123", "signIn", TrackAttributes::default())
        .await
        .unwrap_err();
    let api = api(&err);
    assert_eq!(api.status, 400);
    assert_eq!(api.code, None);
    assert_eq!(api.description, None);
    assert_eq!(api.retry_after, None);
    assert!(err.to_string().contains("400"), "{err}");
}

#[tokio::test]
async fn an_html_502_is_an_api_error_with_a_short_excerpt() {
    let page = format!(
        "<html><head><title>502 Bad Gateway</title></head>\n<body>{}</body></html>",
        "upstream failure ".repeat(500)
    );
    let err = validate_error(
        Reply::raw(502, page.clone()).header("content-type", "text/html; charset=utf-8"),
    )
    .await;
    let api = api(&err);
    assert_eq!(api.status, 502);
    assert_eq!(api.code, None);
    let description = api.description.as_deref().expect("an excerpt");
    assert!(
        description.starts_with("<html><head><title>502 Bad Gateway"),
        "{description}"
    );
    assert!(
        description.chars().count() <= 200,
        "excerpt of {} chars",
        description.chars().count()
    );
    assert!(!description.contains('\n'));
    assert!(err.to_string().chars().count() < 400, "{err}");
    assert!(err.is_transient());
}

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJhY3Rpb25Db2RlIjoic2lnbkluIn0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU";

#[tokio::test]
async fn an_unexpected_2xx_body_is_a_decode_error_without_the_token() {
    // A track answer with a token but no `state`.
    let server = TestServer::fixed(Reply::json(
        200,
        json!({
            "idempotencyKey": "5924a649-b5d3-4baf-a4ab-4b812dde97a0",
            "token": JWT,
            "url": format!("https://example.authsignal.com/?token={JWT}"),
            "isEnrolled": true,
        }),
    ))
    .await;
    let err = server
        .client()
        .track("user-1", "signIn", TrackAttributes::default())
        .await
        .unwrap_err();
    let Error::Decode(decode) = &err else {
        panic!("expected Error::Decode, got {err:?}")
    };
    assert_eq!(decode.operation, "track");
    assert_eq!(decode.status, 200);
    assert!(decode.reason.contains("state"), "{}", decode.reason);
    assert!(!decode.excerpt.is_empty());
    assert!(decode.excerpt.chars().count() <= 200, "{}", decode.excerpt);
    assert_eq!(server.count(), 1, "a decode error is not retried");
    let signature = JWT.rsplit('.').next().unwrap();
    for (what, text) in [
        ("Display", err.to_string()),
        ("Debug", format!("{err:?}")),
        ("excerpt", decode.excerpt.clone()),
    ] {
        assert!(!text.contains(JWT), "{what} leaks the token: {text}");
        assert!(!text.contains(signature), "{what} leaks the token: {text}");
        assert!(
            !text.contains("eyJzdWIi"),
            "{what} leaks the claims: {text}"
        );
    }

    // A wrongly typed value: the value itself (which may be a token) is not quoted.
    let server = TestServer::fixed(Reply::json(200, json!({"isValid": JWT}))).await;
    let err = server
        .client()
        .validate_challenge(&ValidateChallengeRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert!(!err.to_string().contains(signature), "{err}");
    assert!(!format!("{err:?}").contains(signature), "{err:?}");

    // Not JSON at all.
    let server = TestServer::fixed(Reply::raw(200, format!("ok {JWT}\n"))).await;
    let err = server.client().get_user("user-1").await.unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert!(!err.to_string().contains(signature), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_validate_answer_whose_action_code_names_another_action_is_contradictory() {
    let answer = |action_code: &str| {
        Reply::json(
            200,
            json!({
                "isValid": true,
                "state": "CHALLENGE_SUCCEEDED",
                "userId": "user-1",
                "action": "withdraw",
                "actionCode": action_code,
                "idempotencyKey": "key-1",
            }),
        )
    };
    let validate = |reply| async move {
        TestServer::fixed(reply)
            .await
            .client()
            .validate_challenge(&ValidateChallengeRequest {
                token: "token".into(),
                action: Some("withdraw".into()),
                ..Default::default()
            })
            .await
    };
    let err = validate(answer("changePayee")).await.unwrap_err();
    let Error::Contradictory { operation, reason } = &err else {
        panic!("expected Error::Contradictory, got {err:?}")
    };
    assert_eq!(*operation, "validateChallenge");
    assert_eq!(*reason, "`action` and `actionCode` name different actions");
    assert_eq!(
        err.to_string(),
        "validateChallenge: contradictory answer: `action` and `actionCode` name different actions"
    );
    assert!(!err.is_transient(), "asking again gets the same answer");
    // The same names agreeing decode as one action.
    let agreed = validate(answer("withdraw")).await.unwrap();
    assert_eq!(agreed.action.as_deref(), Some("withdraw"));
}

#[tokio::test]
async fn an_oversized_2xx_body_is_a_decode_error() {
    // Valid JSON, but larger than 1 MiB.
    let big = "x".repeat(1024 * 1024 + 16);
    let server = TestServer::fixed(Reply::json(
        200,
        json!({"isEnrolled": true, "displayName": big}),
    ))
    .await;
    let err = server.client().get_user("user-1").await.unwrap_err();
    let Error::Decode(decode) = &err else {
        panic!("expected Error::Decode, got {err:?}")
    };
    assert_eq!(decode.status, 200);
    assert!(decode.excerpt.chars().count() <= 200);
    assert!(err.to_string().len() < 1000);
    // Just under the limit is fine.
    let fits = "x".repeat(1024 * 1024 - 100);
    let server = TestServer::fixed(Reply::json(
        200,
        json!({"isEnrolled": true, "displayName": fits}),
    ))
    .await;
    let user = server.client().get_user("user-1").await.unwrap();
    assert_eq!(user.display_name.map(|name| name.len()), Some(fits.len()));
}

#[tokio::test]
async fn empty_2xx_bodies_suit_operations_that_answer_with_nothing() {
    let server = TestServer::fixed(Reply::empty(200)).await;
    let client = server.client();
    client.delete_user("u").await.unwrap();
    client.delete_authenticator("u", "a").await.unwrap();
    client
        .revoke_session(&RevokeSessionRequest {
            access_token: "t".into(),
        })
        .await
        .unwrap();
    // But an operation that needs a body cannot decode nothing.
    let err = client.get_user("u").await.unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
}

#[test]
fn config_errors_come_from_the_builder() {
    let missing = Authsignal::builder().build().unwrap_err();
    assert_eq!(missing, ConfigError::MissingSecret);
    assert!(missing.to_string().contains("AUTHSIGNAL_SECRET_KEY"));
    for blank in ["", " ", "\t  "] {
        assert_eq!(
            Authsignal::builder().secret_key(blank).build().unwrap_err(),
            ConfigError::MissingSecret,
            "{blank:?}"
        );
    }
    assert!(matches!(
        Authsignal::new(""),
        Err(Error::Config(ConfigError::MissingSecret))
    ));
    assert_eq!(
        Authsignal::builder()
            .secret_key("sk\nx")
            .build()
            .unwrap_err(),
        ConfigError::InvalidSecret
    );
    let with_key = || Authsignal::builder().secret_key("sk_test");
    for url in [
        "not a url",
        "ftp://api.authsignal.com/v1",
        "https://user:pw@api.authsignal.com/v1",
        "https://user@api.authsignal.com/v1",
        "https://api.authsignal.com/v1?x=1",
        "https://api.authsignal.com/v1#f",
        "/v1",
    ] {
        assert!(
            matches!(
                with_key().base_url(url).build(),
                Err(ConfigError::InvalidBaseUrl(_))
            ),
            "{url}"
        );
    }
    for builder in [
        with_key().connect_timeout(Duration::ZERO),
        with_key().attempt_timeout(Duration::ZERO),
        with_key().deadline(Duration::ZERO),
    ] {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, ConfigError::InvalidSetting(_)), "{err:?}");
        assert!(!Error::from(err).is_transient());
    }
    // Good settings build, and the base URL loses its trailing slash.
    let client = with_key()
        .base_url("http://127.0.0.1:8787/v1/")
        .build()
        .unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:8787/v1");
    let err: Error = ConfigError::MissingSecret.into();
    assert!(!err.is_transient());
    assert_eq!(err.status(), None);
}
