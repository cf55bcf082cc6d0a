//! Sends are limited per user and channel, as Authsignal documents (SMS 6, email 12 per
//! 10 minutes; WhatsApp assumed as SMS), on the client API, the Server API's `challenge`
//! and the pre-built UI: past the limit, 429 `too_many_requests` and nothing sent.

use std::time::Duration;

use authsignal::types::{ChallengeRequest, EnrollVerifiedAuthenticatorRequest, VerificationMethod};
use authsignal_emulator::{ActionConfig, EmulatorConfig, EmulatorHandle};
use serde_json::json;

use crate::emulator_util::{builder, client_post, no_retry_client, start, t0, track};

async fn enroll(emulator: &EmulatorHandle, user: &str, method: VerificationMethod, phone: &str) {
    emulator
        .client()
        .enroll_verified_authenticator(
            user,
            &EnrollVerifiedAuthenticatorRequest {
                phone_number: Some(phone.into()),
                ..EnrollVerifiedAuthenticatorRequest::new(method)
            },
        )
        .await
        .unwrap();
}

async fn token(emulator: &EmulatorHandle, user: &str) -> String {
    track(emulator, user, "withdraw", None)
        .await
        .token
        .unwrap()
        .into_string()
}

/// Sends by `path` with `token` until refused; how many went, and the refusal.
async fn sends_until_refused(
    emulator: &EmulatorHandle,
    token: &str,
    path: &str,
) -> (usize, u16, serde_json::Value) {
    for sent in 0..50 {
        let (status, body) = client_post(emulator, token, path, None).await;
        if status != 200 {
            return (sent, status, body);
        }
    }
    panic!("never refused");
}

#[tokio::test]
async fn sms_and_whatsapp_take_six_sends_per_ten_minutes_per_user() {
    let emulator = start().await;
    enroll(&emulator, "u1", VerificationMethod::Sms, "+64270000001").await;
    enroll(
        &emulator,
        "u1",
        VerificationMethod::Whatsapp,
        "+64270000001",
    )
    .await;
    enroll(&emulator, "u2", VerificationMethod::Sms, "+64270000002").await;
    let first = token(&emulator, "u1").await;

    let (sent, status, body) = sends_until_refused(&emulator, &first, "/challenge/sms").await;
    assert_eq!((sent, status), (6, 429), "{body}");
    assert_eq!(body["errorCode"], "too_many_requests");
    assert_eq!(emulator.outbox().len(), 6, "the refused one was not sent");
    // A new action of the same user is still the same user.
    let second = token(&emulator, "u1").await;
    assert_eq!(
        client_post(&emulator, &second, "/challenge/sms", None)
            .await
            .0,
        429
    );
    // Another channel and another user have limits of their own.
    let (sent, status, _) = sends_until_refused(&emulator, &first, "/challenge/whatsapp").await;
    assert_eq!((sent, status), (6, 429));
    let other = token(&emulator, "u2").await;
    assert_eq!(
        client_post(&emulator, &other, "/challenge/sms", None)
            .await
            .0,
        200
    );

    // The window slides: ten minutes after the first sends, there is room again.
    emulator.advance(Duration::from_secs(599));
    // (A new token: the first, as long-lived as the window, is about to expire.)
    let first = token(&emulator, "u1").await;
    assert_eq!(
        client_post(&emulator, &first, "/challenge/sms", None)
            .await
            .0,
        429
    );
    emulator.advance(Duration::from_secs(1));
    assert_eq!(
        client_post(&emulator, &first, "/challenge/sms", None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn email_codes_and_links_take_twelve_each() {
    let emulator = builder()
        .action(
            "withdraw",
            ActionConfig::challenge().prompt_enrollment(true),
        )
        .start()
        .await
        .unwrap();
    emulator.set_time(t0());
    let token = token(&emulator, "u1").await;
    for (path, method) in [
        ("/user-authenticators/email-otp", "EMAIL_OTP"),
        ("/user-authenticators/email-magic-link", "EMAIL_MAGIC_LINK"),
    ] {
        let mut sent = 0;
        let (status, body) = loop {
            let (status, body) = client_post(
                &emulator,
                &token,
                path,
                Some(json!({"email": "u1@example.com"})),
            )
            .await;
            if status != 200 {
                break (status, body);
            }
            sent += 1;
        };
        assert_eq!((sent, status), (12, 429), "{method}: {body}");
        assert!(body["errorDescription"].as_str().unwrap().contains(method));
    }
}

#[tokio::test]
async fn the_server_apis_challenge_is_limited_by_user_else_by_address() {
    let emulator = start().await;
    let client = no_retry_client(&emulator);
    let by_address = ChallengeRequest {
        verification_method: Some(VerificationMethod::Sms),
        phone_number: Some("+64270000003".into()),
        ..ChallengeRequest::default()
    };
    for _ in 0..6 {
        client.challenge(&by_address).await.unwrap();
    }
    let refused = client.challenge(&by_address).await.unwrap_err();
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(refused.code(), Some("too_many_requests"));
    // Another number is another address.
    client
        .challenge(&ChallengeRequest {
            phone_number: Some("+64270000004".into()),
            ..by_address.clone()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn limits_are_configurable() {
    let config =
        EmulatorConfig::from_json(r#"{"sendLimits": {"sms": {"sends": 2, "windowSeconds": 60}}}"#)
            .unwrap();
    let emulator = builder()
        .config(config)
        .action("withdraw", ActionConfig::challenge())
        .start()
        .await
        .unwrap();
    emulator.set_time(t0());
    enroll(&emulator, "u1", VerificationMethod::Sms, "+64270000005").await;
    let token = token(&emulator, "u1").await;
    let (sent, status, _) = sends_until_refused(&emulator, &token, "/challenge/sms").await;
    assert_eq!((sent, status), (2, 429));
    emulator.advance(Duration::from_secs(60));
    assert_eq!(
        client_post(&emulator, &token, "/challenge/sms", None)
            .await
            .0,
        200
    );
    // A typo in the limits is refused, not ignored.
    assert!(
        EmulatorConfig::from_json(r#"{"sendLimits": {"smss": {"sends": 1, "windowSeconds": 1}}}"#)
            .is_err()
    );
}

#[tokio::test]
async fn the_prebuilt_uis_send_button_is_limited_too() {
    let emulator = start().await;
    enroll(&emulator, "u1", VerificationMethod::Sms, "+64270000006").await;
    let token = token(&emulator, "u1").await;
    let http = reqwest::Client::new();
    let send = || {
        http.post(format!("{}/ui/challenge/send", emulator.origin()))
            .form(&[("token", token.as_str()), ("method", "SMS")])
            .send()
    };
    for _ in 0..6 {
        assert_eq!(send().await.unwrap().status(), 200);
    }
    let refused = send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.text().await.unwrap().contains(r#"id="error""#));
    assert_eq!(emulator.outbox().len(), 6);
}
