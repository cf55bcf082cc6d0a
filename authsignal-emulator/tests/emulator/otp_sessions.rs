//! One-time codes through the outbox (expiry and attempt limit on the emulator clock), and
//! sessions.

use std::time::Duration;

use authsignal::types::{
    ChallengeRequest, ClaimChallengeRequest, CreateSessionRequest, GetChallengeRequest,
    RefreshSessionRequest, TrackAttributes, UserActionState, ValidateChallengeRequest,
    ValidateSessionRequest, VerificationFailureReason, VerificationMethod, VerifyRequest,
};
use authsignal_emulator::{CODE_LIFETIME, MAX_ATTEMPTS, SESSION_LIFETIME};

use crate::emulator_util::{client_verify_totp, start};

fn sms_to(phone: &str) -> ChallengeRequest {
    ChallengeRequest {
        verification_method: Some(VerificationMethod::Sms),
        phone_number: Some(phone.into()),
        ..ChallengeRequest::default()
    }
}

fn other_code(code: &str) -> String {
    if code == "000000" {
        "999999".into()
    } else {
        "000000".into()
    }
}

#[tokio::test]
async fn codes_go_to_the_outbox_and_verify_once() {
    let emulator = start().await;
    let client = emulator.client();
    let challenge = client.challenge(&sms_to("+64270000000")).await.unwrap();
    let outbox = emulator.outbox();
    assert_eq!(outbox.len(), 1);
    let message = &outbox[0];
    assert_eq!(message.to, "+64270000000");
    assert_eq!(message.verification_method, VerificationMethod::Sms);
    assert_eq!(message.challenge_id, challenge.challenge_id);
    assert_eq!(message.code.len(), 6);
    assert!(message.code.bytes().all(|b| b.is_ascii_digit()));
    assert!(
        !format!("{message:?}").contains(&message.code),
        "codes stay out of Debug"
    );
    let expires_at = challenge.expires_at.unwrap().as_u64().unwrap();
    let sent_at = message
        .sent_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(expires_at - sent_at, CODE_LIFETIME.as_secs());

    let verify = |code: String| VerifyRequest {
        challenge_id: challenge.challenge_id.clone(),
        verification_code: code,
    };
    let ok = client.verify(&verify(message.code.clone())).await.unwrap();
    assert!(ok.is_verified);
    assert_eq!(ok.phone_number.as_deref(), Some("+64270000000"));
    assert_eq!(ok.verification_method, Some(VerificationMethod::Sms));
    let replay = client.verify(&verify(message.code.clone())).await.unwrap();
    assert!(!replay.is_verified, "a code verifies once");

    // An unknown challenge is a bad request.
    let unknown = client
        .verify(&VerifyRequest {
            challenge_id: "nope".into(),
            verification_code: "123456".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("invalid_request"));
}

#[tokio::test]
async fn codes_expire_by_the_emulator_clock() {
    let emulator = start().await;
    let client = emulator.client();
    let challenge = client
        .challenge(&ChallengeRequest {
            verification_method: Some(VerificationMethod::EmailOtp),
            email: Some("a@example.com".into()),
            ..ChallengeRequest::default()
        })
        .await
        .unwrap();
    let code = emulator.last_code_sent_to("a@example.com").unwrap();
    let pending = client
        .get_challenge(&GetChallengeRequest {
            verification_method: Some(VerificationMethod::EmailOtp),
            ..GetChallengeRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(
        pending.challenge_id.as_deref(),
        Some(challenge.challenge_id.as_str())
    );
    emulator.advance(CODE_LIFETIME);
    let late = client
        .verify(&VerifyRequest {
            challenge_id: challenge.challenge_id.clone(),
            verification_code: code,
        })
        .await
        .unwrap();
    assert!(!late.is_verified);
    assert_eq!(
        late.failure_reason,
        Some(VerificationFailureReason::CodeInvalidOrExpired)
    );
    let none = client
        .get_challenge(&GetChallengeRequest {
            challenge_id: Some(challenge.challenge_id),
            ..GetChallengeRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(
        none.challenge_id, None,
        "an expired challenge is not pending"
    );
}

#[tokio::test]
async fn the_attempt_limit_fails_the_challenge_and_its_action() {
    let emulator = start().await;
    let client = emulator.client();
    emulator.enroll_totp("u1");
    let tracked = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    let challenge = client
        .challenge(&ChallengeRequest {
            user_id: Some("u1".into()),
            action: Some("withdraw".into()),
            idempotency_key: Some(tracked.idempotency_key.clone()),
            ..sms_to("+15550000")
        })
        .await
        .unwrap();
    assert_eq!(
        challenge.idempotency_key.as_deref(),
        Some(tracked.idempotency_key.as_str())
    );
    let code = emulator.last_code_sent_to("+15550000").unwrap();
    let verify = |code: String| VerifyRequest {
        challenge_id: challenge.challenge_id.clone(),
        verification_code: code,
    };
    for attempt in 1..=MAX_ATTEMPTS {
        let answer = client.verify(&verify(other_code(&code))).await.unwrap();
        let expected = if attempt < MAX_ATTEMPTS {
            VerificationFailureReason::CodeInvalidOrExpired
        } else {
            VerificationFailureReason::MaxAttemptsExceeded
        };
        assert_eq!(answer.failure_reason, Some(expected), "attempt {attempt}");
    }
    let right = client.verify(&verify(code)).await.unwrap();
    assert!(!right.is_verified);
    assert_eq!(
        right.failure_reason,
        Some(VerificationFailureReason::MaxAttemptsExceeded)
    );
    assert_eq!(
        emulator.action_state("u1", "withdraw", &tracked.idempotency_key),
        Some(UserActionState::ChallengeFailed)
    );
}

#[tokio::test]
async fn a_code_tied_to_a_tracked_action_completes_it() {
    let emulator = start().await;
    let client = emulator.client();
    emulator.enroll_totp("u1");
    let tracked = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    let challenge = client
        .challenge(&ChallengeRequest {
            user_id: Some("u1".into()),
            action: Some("withdraw".into()),
            idempotency_key: Some(tracked.idempotency_key.clone()),
            ..sms_to("+15550001")
        })
        .await
        .unwrap();
    let code = emulator.last_code_sent_to("+15550001").unwrap();
    client
        .verify(&VerifyRequest {
            challenge_id: challenge.challenge_id,
            verification_code: code,
        })
        .await
        .unwrap();
    let validated = client
        .validate_challenge(&ValidateChallengeRequest {
            token: tracked.token.unwrap(),
            user_id: Some("u1".into()),
            action: Some("withdraw".into()),
        })
        .await
        .unwrap();
    assert!(validated.is_valid);
    assert_eq!(validated.verification_method, Some(VerificationMethod::Sms));
}

#[tokio::test]
async fn claims_need_a_verified_challenge_and_the_right_user() {
    let emulator = start().await;
    let client = emulator.client();
    let challenge = client
        .challenge(&ChallengeRequest {
            user_id: Some("u1".into()),
            action: Some("signIn".into()),
            ..sms_to("+15550002")
        })
        .await
        .unwrap();
    let claim = |user: &str, skip: Option<bool>| ClaimChallengeRequest {
        challenge_id: challenge.challenge_id.clone(),
        user_id: user.into(),
        skip_verification_check: skip,
    };
    let unverified = client
        .claim_challenge(&claim("u1", None))
        .await
        .unwrap_err();
    assert_eq!(unverified.code(), Some("invalid_request"));
    let code = emulator.last_code_sent_to("+15550002").unwrap();
    client
        .verify(&VerifyRequest {
            challenge_id: challenge.challenge_id.clone(),
            verification_code: code,
        })
        .await
        .unwrap();
    let stolen = client
        .claim_challenge(&claim("u2", None))
        .await
        .unwrap_err();
    assert_eq!(stolen.status().map(|s| s.as_u16()), Some(400));
    let claimed = client.claim_challenge(&claim("u1", None)).await.unwrap();
    assert_eq!(claimed.verification_method, Some(VerificationMethod::Sms));
    let validated = client
        .validate_challenge(&ValidateChallengeRequest {
            token: claimed.token,
            user_id: Some("u1".into()),
            action: Some("signIn".into()),
        })
        .await
        .unwrap();
    assert!(validated.is_valid);
}

#[tokio::test]
async fn sessions_need_a_succeeded_challenge_and_expire() {
    let emulator = start().await;
    let client = emulator.client();
    emulator.enroll_totp("u1");
    let tracked = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    let track_token = tracked.token.unwrap();
    let not_yet = client
        .create_session(&CreateSessionRequest {
            client_id: "web".into(),
            token: track_token.clone(),
            action: None,
        })
        .await
        .unwrap_err();
    assert_eq!(not_yet.code(), Some("invalid_credential"));

    let code = emulator.totp_code("u1").unwrap();
    let (_, verified) = client_verify_totp(&emulator, track_token.as_str(), &code).await;
    let token = verified["accessToken"].as_str().unwrap();
    let wrong_action = client
        .create_session(&CreateSessionRequest {
            client_id: "web".into(),
            token: token.into(),
            action: Some("payment".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong_action.code(), Some("invalid_credential"));
    let session = client
        .create_session(&CreateSessionRequest {
            client_id: "web".into(),
            token: token.into(),
            action: Some("withdraw".into()),
        })
        .await
        .unwrap();
    let validate = |client_ids: Option<Vec<String>>| ValidateSessionRequest {
        access_token: session.access_token.clone(),
        client_ids,
    };
    let valid = client.validate_session(&validate(None)).await.unwrap();
    assert_eq!(
        valid.expires_at as u64,
        emulator
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + SESSION_LIFETIME.as_secs()
    );
    assert_eq!(
        valid.verification_method,
        Some(VerificationMethod::AuthenticatorApp)
    );
    assert!(
        client
            .validate_session(&validate(Some(vec!["mobile".into()])))
            .await
            .is_err()
    );

    emulator.advance(SESSION_LIFETIME + Duration::from_secs(1));
    let expired = client.validate_session(&validate(None)).await.unwrap_err();
    assert_eq!(expired.code(), Some("invalid_credential"));
    // The refresh token outlives the access token and rotates.
    let refreshed = client
        .refresh_session(&RefreshSessionRequest {
            refresh_token: session.refresh_token.clone(),
        })
        .await
        .unwrap();
    assert!(
        client
            .validate_session(&ValidateSessionRequest {
                access_token: refreshed.access_token,
                client_ids: Some(vec!["web".into()]),
            })
            .await
            .is_ok()
    );
}

/// `GET /v1/emulator/outbox{query}` with `secret` as Basic auth: status and JSON body.
async fn outbox_over_http(
    emulator: &authsignal_emulator::EmulatorHandle,
    query: &str,
    secret: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request =
        reqwest::Client::new().get(format!("{}/emulator/outbox{query}", emulator.api_url()));
    if let Some(secret) = secret {
        request = request.basic_auth(secret, Some(""));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_outbox_route_answers_the_sent_codes_to_the_secret_only() {
    let emulator = start().await;
    let client = emulator.client();
    let (status, empty) = outbox_over_http(&emulator, "", Some(emulator.secret())).await;
    assert_eq!((status, empty), (200, serde_json::json!([])));

    let sms = client.challenge(&sms_to("+64270000000")).await.unwrap();
    let email = client
        .challenge(&ChallengeRequest {
            verification_method: Some(VerificationMethod::EmailOtp),
            email: Some("a+b@example.com".into()),
            user_id: Some("u1".into()),
            action: Some("signIn".into()),
            ..ChallengeRequest::default()
        })
        .await
        .unwrap();

    let (status, all) = outbox_over_http(&emulator, "", Some(emulator.secret())).await;
    assert_eq!(status, 200);
    let all = all.as_array().expect("a JSON array").clone();
    assert_eq!(all.len(), 2, "oldest first: {all:?}");
    assert_eq!(all[0]["challengeId"], sms.challenge_id.as_str());
    assert_eq!(all[0]["verificationMethod"], "SMS");
    assert_eq!(all[0]["to"], "+64270000000");
    assert!(all[0].get("userId").is_none(), "left out when not named");
    assert_eq!(all[0]["sentAt"], "2024-06-01T12:00:10.000Z");
    let mail = &all[1];
    assert_eq!(mail["challengeId"], email.challenge_id.as_str());
    assert_eq!(mail["verificationMethod"], "EMAIL_OTP");
    assert_eq!(mail["to"], "a+b@example.com");
    assert_eq!(mail["userId"], "u1");
    assert_eq!(mail["action"], "signIn");
    // The same codes as the Rust outbox.
    let codes: Vec<String> = emulator.outbox().into_iter().map(|m| m.code).collect();
    assert_eq!(all[0]["code"], codes[0].as_str());
    assert_eq!(all[1]["code"], codes[1].as_str());

    // `to` filters (percent-encoded, as a `+` in a query string would be a space).
    let (status, to_mail) = outbox_over_http(
        &emulator,
        "?to=a%2Bb%40example.com",
        Some(emulator.secret()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(to_mail, serde_json::json!([mail]));
    let (_, nobody) = outbox_over_http(
        &emulator,
        "?to=nobody%40example.com",
        Some(emulator.secret()),
    )
    .await;
    assert_eq!(nobody, serde_json::json!([]));

    // The code read over HTTP verifies the challenge.
    let verified = client
        .verify(&VerifyRequest {
            challenge_id: email.challenge_id.clone(),
            verification_code: mail["code"].as_str().unwrap().to_owned(),
        })
        .await
        .unwrap();
    assert!(verified.is_verified);

    // Codes are credentials: only the tenant secret reads them.
    for secret in [Some("not-the-secret"), None] {
        let (status, body) = outbox_over_http(&emulator, "", secret).await;
        assert_eq!(status, 401, "{secret:?}");
        assert_eq!(body["error"], "unauthorized");
        assert!(body.get("code").is_none() && !body.is_array());
    }
    assert_eq!(emulator.call_count("emulatorOutbox"), 6);
}
