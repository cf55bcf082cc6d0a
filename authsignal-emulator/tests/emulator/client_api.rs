//! The client API custom UIs call with a track token: TOTP enrollment and verification.

use authsignal::types::{
    TrackAttributes, UserActionState, ValidateChallengeRequest, VerificationMethod,
};
use authsignal_emulator::{ActionConfig, EmulatorHandle, MAX_ATTEMPTS, TOKEN_LIFETIME};

use crate::emulator_util::{
    builder, client_enroll_totp, client_verify_totp, failure_after, start, t0, track, wrong_code,
};

#[tokio::test]
async fn wrong_codes_count_until_the_challenge_fails() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let tracked = track(&emulator, "u1", "withdraw", None).await;
    let token = tracked.token.unwrap().into_string();
    let wrong = wrong_code(&emulator, "u1");
    for attempt in 1..=MAX_ATTEMPTS {
        let (status, answer) = client_verify_totp(&emulator, &token, &wrong).await;
        assert_eq!(status, 200);
        assert_eq!(answer["isVerified"], false);
        assert!(answer.get("accessToken").is_none());
        assert_eq!(
            answer["failureReason"],
            failure_after(attempt),
            "attempt {attempt}"
        );
    }
    assert_eq!(
        emulator.action_state("u1", "withdraw", &tracked.idempotency_key),
        Some(UserActionState::ChallengeFailed)
    );
    let (_, right) =
        client_verify_totp(&emulator, &token, &emulator.totp_code("u1").unwrap()).await;
    assert_eq!(right["isVerified"], false, "the right code is too late");
    let validated = emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: token.into(),
            ..ValidateChallengeRequest::default()
        })
        .await
        .unwrap();
    assert!(!validated.is_valid);
    assert_eq!(validated.state, Some(UserActionState::ChallengeFailed));
}

#[tokio::test]
async fn an_unenrolled_user_enrolls_and_verifies_with_the_track_token() {
    let emulator = builder()
        .action("signIn", ActionConfig::challenge().prompt_enrollment(true))
        .start()
        .await
        .unwrap();
    emulator.set_time(t0());
    let tracked = track(&emulator, "u1", "signIn", None).await;
    let token = tracked.token.unwrap().into_string();
    let (status, enrollment) = client_enroll_totp(&emulator, &token).await;
    assert_eq!(status, 200, "{enrollment}");
    assert_eq!(enrollment["userId"], "u1");
    let secret = enrollment["secret"].as_str().unwrap();
    let uri = enrollment["uri"].as_str().unwrap();
    assert!(uri.contains(&format!("secret={secret}&")), "{uri}");
    assert!(enrollment["userAuthenticatorId"].is_string());
    // Nothing is enrolled until a code proves the app was set up.
    assert!(!emulator.client().get_user("u1").await.unwrap().is_enrolled);

    let (status, verified) =
        client_verify_totp(&emulator, &token, &emulator.totp_code("u1").unwrap()).await;
    assert_eq!(
        (status, &verified["isVerified"]),
        (200, &serde_json::Value::Bool(true))
    );
    // The SDK's `userAuthenticator`: "only present when successfully verifying an
    // authenticator during enrollment".
    assert_eq!(
        verified["userAuthenticator"]["userAuthenticatorId"],
        enrollment["userAuthenticatorId"]
    );
    assert_eq!(
        verified["userAuthenticator"]["verificationMethod"],
        "AUTHENTICATOR_APP"
    );
    let user = emulator.client().get_user("u1").await.unwrap();
    assert!(user.is_enrolled);
    assert_eq!(
        user.default_verification_method,
        Some(VerificationMethod::AuthenticatorApp)
    );
    let authenticators = emulator.client().get_authenticators("u1").await.unwrap();
    assert_eq!(
        authenticators[0].user_authenticator_id,
        enrollment["userAuthenticatorId"].as_str().unwrap()
    );
    let validated = emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: verified["accessToken"].as_str().unwrap().into(),
            user_id: Some("u1".into()),
            action: Some("signIn".into()),
        })
        .await
        .unwrap();
    assert!(validated.is_valid);

    // The next challenge with the same app enrolls nothing.
    let again = track(&emulator, "u1", "signIn", None).await.token.unwrap();
    let (_, verified) = client_verify_totp(
        &emulator,
        again.as_str(),
        &emulator.totp_code("u1").unwrap(),
    )
    .await;
    assert_eq!(verified["isVerified"], true);
    assert!(verified.get("userAuthenticator").is_none(), "{verified}");
}

#[tokio::test]
async fn an_enrolled_user_needs_the_add_authenticators_scope() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let plain = track(&emulator, "u1", "withdraw", None)
        .await
        .token
        .unwrap();
    let (status, body) = client_enroll_totp(&emulator, plain.as_str()).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["errorDescription"]
            .as_str()
            .unwrap()
            .contains("add:authenticators")
    );

    let scoped = emulator
        .client()
        .track(
            "u1",
            "withdraw",
            TrackAttributes {
                scope: Some("add:authenticators".into()),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap()
        .token
        .unwrap();
    let (status, _) = client_enroll_totp(&emulator, scoped.as_str()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_client_api_takes_a_good_bearer_token_not_the_secret() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let token = track(&emulator, "u1", "withdraw", None)
        .await
        .token
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/client/verify/totp", emulator.api_url());
    let with_secret = http
        .post(&url)
        .basic_auth(emulator.secret(), Some(""))
        .json(&serde_json::json!({"verificationCode": "123456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_secret.status().as_u16(), 401);
    let body: serde_json::Value = with_secret.json().await.unwrap();
    assert_eq!(body["errorCode"], "unauthorized");

    let (status, _) = client_verify_totp(&emulator, "junk", "123456").await;
    assert_eq!(status, 401);
    let missing = http
        .post(&url)
        .bearer_auth(token.as_str())
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status().as_u16(),
        400,
        "verificationCode is required"
    );

    emulator.advance(TOKEN_LIFETIME);
    let (status, body) = client_verify_totp(&emulator, token.as_str(), "123456").await;
    assert_eq!(status, 401, "an expired token");
    // The code the Web SDK calls its `onTokenExpired` on.
    assert_eq!(body["errorCode"], "expired_token", "{body}");
    assert_eq!(body["error"], "expired_token", "{body}");
}

#[tokio::test]
async fn a_user_without_an_app_cannot_verify_a_code() {
    let emulator = start().await;
    // Enrolled by SMS only: challenged, but with no app to type a code from.
    emulator
        .client()
        .enroll_verified_authenticator(
            "u1",
            &authsignal::types::EnrollVerifiedAuthenticatorRequest {
                phone_number: Some("+15550000".into()),
                ..authsignal::types::EnrollVerifiedAuthenticatorRequest::new(
                    VerificationMethod::Sms,
                )
            },
        )
        .await
        .unwrap();
    let token = track(&emulator, "u1", "withdraw", None)
        .await
        .token
        .unwrap();
    let (status, body) = client_verify_totp(&emulator, token.as_str(), "123456").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "invalid_request");
}

/// The preflight a browser sends before the Web SDK's `fetch` (a `POST` with
/// `Authorization` and `Content-Type: application/json` is not a simple request).
async fn preflight(emulator: &EmulatorHandle, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}{path}", emulator.api_url()),
        )
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
}

#[tokio::test]
async fn a_browser_on_another_origin_may_call_the_client_api() {
    let emulator = start().await;
    for path in [
        "/client/verify/totp",
        "/client/user-authenticators/totp",
        "/client/user-authenticators/email-otp",
        "/client/challenge/sms",
        "/client/verify/sms",
    ] {
        let answer = preflight(&emulator, path).await;
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        assert_eq!(header(&answer, "access-control-allow-origin"), Some("*"));
        let methods = header(&answer, "access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains("POST"), "{path}: {methods}");
        let allowed = header(&answer, "access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            allowed.contains("authorization") && allowed.contains("content-type"),
            "{path}: {allowed}"
        );
        assert_eq!(header(&answer, "access-control-max-age"), Some("600"));
        // The credential is the Bearer token, never a cookie.
        assert_eq!(header(&answer, "access-control-allow-credentials"), None);
    }

    // The actual requests, answered or refused, are readable from any origin.
    let http = reqwest::Client::new();
    let url = format!("{}/client/verify/totp", emulator.api_url());
    emulator.enroll_totp("u1");
    let token = track(&emulator, "u1", "withdraw", None)
        .await
        .token
        .unwrap();
    for (bearer, status) in [(token.as_str(), 200), ("junk", 401)] {
        let answer = http
            .post(&url)
            .header("origin", "http://localhost:3000")
            .header("content-type", "application/json")
            .bearer_auth(bearer)
            .body(r#"{"verificationCode":"000000"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status);
        assert_eq!(header(&answer, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&answer, "access-control-allow-credentials"), None);
    }
    // A client route the emulator lacks is a JSON 404 a page can read.
    let missing = http
        .post(format!(
            "{}/client/verify/no-such-method",
            emulator.api_url()
        ))
        .header("origin", "http://localhost:3000")
        .bearer_auth(token.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    assert_eq!(header(&missing, "access-control-allow-origin"), Some("*"));
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["errorCode"], "not_found");

    // The Server API is not for browsers.
    let server = preflight(&emulator, "/validate").await;
    assert_eq!(header(&server, "access-control-allow-origin"), None);
    let server = http
        .post(format!("{}/validate", emulator.api_url()))
        .header("origin", "http://localhost:3000")
        .basic_auth(emulator.secret(), Some(""))
        .json(&serde_json::json!({"token": "junk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&server, "access-control-allow-origin"), None);
}
