//! The client API's email and SMS one-time codes, called as the Web SDK calls them
//! (`email.enroll/challenge/verify`, `sms.enroll/challenge/verify`): codes go to the
//! outbox, an enrolled user adds one only with `add:authenticators` (or with the token of a
//! verification just made), wrong codes count, and the token of a right one validates.

use std::time::Duration;

use authsignal::types::{
    EnrollVerifiedAuthenticatorRequest, UserActionState, ValidateChallengeRequest,
    VerificationMethod,
};
use authsignal_emulator::{ActionConfig, CODE_LIFETIME, EmulatorHandle, MAX_ATTEMPTS};
use serde_json::{Value, json};

use crate::emulator_util::{builder, client_post, failure_after, start, t0, track};

const EMAIL: &str = "jane@example.com";
const PHONE: &str = "+64270000000";

/// An emulator whose `signIn` challenges everyone, enrolled or not (so that a user with
/// no authenticator gets a token to enroll with).
async fn prompting() -> EmulatorHandle {
    let emulator = builder()
        .action("signIn", ActionConfig::challenge().prompt_enrollment(true))
        .start()
        .await
        .unwrap();
    emulator.set_time(t0());
    emulator
}

async fn track_token(emulator: &EmulatorHandle, user: &str, action: &str) -> (String, String) {
    let tracked = track(emulator, user, action, None).await;
    (
        tracked.token.unwrap().into_string(),
        tracked.idempotency_key,
    )
}

async fn verify(emulator: &EmulatorHandle, token: &str, path: &str, code: &str) -> Value {
    let (status, body) = client_post(
        emulator,
        token,
        path,
        Some(json!({ "verificationCode": code })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn validates(emulator: &EmulatorHandle, token: &str, user: &str, action: &str) -> bool {
    let validated = emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: token.into(),
            user_id: Some(user.into()),
            action: Some(action.into()),
        })
        .await
        .unwrap();
    validated.is_valid && validated.state == Some(UserActionState::ChallengeSucceeded)
}

/// `email.enroll({email: EMAIL})`; the code it sent.
async fn enroll_email(emulator: &EmulatorHandle, token: &str) -> String {
    let (status, body) = client_post(
        emulator,
        token,
        "/user-authenticators/email-otp",
        Some(json!({ "email": EMAIL })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    emulator.last_code_sent_to(EMAIL).expect("a code was sent")
}

/// A 6-digit code other than `code`.
fn other_than(code: &str) -> String {
    if code == "000000" { "000001" } else { "000000" }.to_owned()
}

#[tokio::test]
async fn an_unenrolled_user_enrolls_an_email_with_a_code_from_the_outbox() {
    let emulator = prompting().await;
    let (token, key) = track_token(&emulator, "u1", "signIn").await;

    let (status, enrolled) = client_post(
        &emulator,
        &token,
        "/user-authenticators/email-otp",
        Some(json!({ "email": EMAIL })),
    )
    .await;
    assert_eq!(status, 200, "{enrolled}");
    assert_eq!(enrolled["userId"], "u1");
    let authenticator_id = enrolled["userAuthenticatorId"].as_str().unwrap().to_owned();
    let sent = emulator.outbox();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].to.as_str(), &sent[0].verification_method),
        (EMAIL, &VerificationMethod::EmailOtp)
    );
    assert_eq!(sent[0].user_id.as_deref(), Some("u1"));
    assert_eq!(sent[0].action.as_deref(), Some("signIn"));
    // Nothing is enrolled until the code comes back.
    assert!(!emulator.client().get_user("u1").await.unwrap().is_enrolled);

    let code = sent[0].code.clone();
    let wrong = verify(&emulator, &token, "/verify/email-otp", &other_than(&code)).await;
    assert_eq!(wrong["isVerified"], false);
    assert_eq!(wrong["failureReason"], "CODE_INVALID_OR_EXPIRED");
    assert!(wrong.get("accessToken").is_none());

    let right = verify(&emulator, &token, "/verify/email-otp", &code).await;
    assert_eq!(right["isVerified"], true, "{right}");
    assert!(right.get("failureReason").is_none());
    let authenticator = &right["userAuthenticator"];
    assert_eq!(
        authenticator["userAuthenticatorId"],
        authenticator_id.as_str()
    );
    assert_eq!(authenticator["verificationMethod"], "EMAIL_OTP");
    assert_eq!(authenticator["email"], EMAIL);
    let access = right["accessToken"].as_str().unwrap();
    assert!(validates(&emulator, access, "u1", "signIn").await);
    assert_eq!(
        emulator.action_state("u1", "signIn", &key),
        Some(UserActionState::ChallengeSucceeded)
    );
    let user = emulator.client().get_user("u1").await.unwrap();
    assert!(user.is_enrolled && user.email_verified);
    assert_eq!(user.email.as_deref(), Some(EMAIL));
    assert_eq!(
        user.default_verification_method,
        Some(VerificationMethod::EmailOtp)
    );

    // A code is good once.
    let again = verify(&emulator, &token, "/verify/email-otp", &code).await;
    assert_eq!(again["isVerified"], false);
}

#[tokio::test]
async fn an_enrolled_user_adds_a_method_only_after_proving_one() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let (plain, _) = track_token(&emulator, "u1", "withdraw").await;

    // The track token of an enrolled user cannot add a phone: no proof of a factor yet.
    for (path, body) in [
        ("/user-authenticators/sms", json!({ "phoneNumber": PHONE })),
        ("/user-authenticators/email-otp", json!({ "email": EMAIL })),
    ] {
        let (status, refused) = client_post(&emulator, &plain, path, Some(body)).await;
        assert_eq!(status, 403, "{path}: {refused}");
        assert!(
            refused["errorDescription"]
                .as_str()
                .unwrap()
                .contains("add:authenticators")
        );
    }
    assert!(emulator.outbox().is_empty(), "no code went anywhere");

    // The authenticator app's code proves a factor; its token may add one.
    let proved = verify(
        &emulator,
        &plain,
        "/verify/totp",
        &emulator.totp_code("u1").unwrap(),
    )
    .await;
    assert_eq!(proved["isVerified"], true);
    assert!(
        proved.get("userAuthenticator").is_none(),
        "nothing enrolled"
    );
    let access = proved["accessToken"].as_str().unwrap().to_owned();
    let (status, body) = client_post(
        &emulator,
        &access,
        "/user-authenticators/sms",
        Some(json!({ "phoneNumber": PHONE })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let code = emulator.last_code_sent_to(PHONE).unwrap();
    let added = verify(&emulator, &access, "/verify/sms", &code).await;
    assert_eq!(added["isVerified"], true, "{added}");
    assert_eq!(added["userAuthenticator"]["verificationMethod"], "SMS");
    assert_eq!(added["userAuthenticator"]["phoneNumber"], PHONE);
    assert!(
        validates(
            &emulator,
            added["accessToken"].as_str().unwrap(),
            "u1",
            "withdraw"
        )
        .await
    );
    let methods = emulator
        .client()
        .get_user("u1")
        .await
        .unwrap()
        .enrolled_verification_methods
        .unwrap();
    assert!(methods.contains(&VerificationMethod::Sms), "{methods:?}");
    // The app stays the default: it was there first.
    assert_eq!(
        emulator
            .client()
            .get_user("u1")
            .await
            .unwrap()
            .default_verification_method,
        Some(VerificationMethod::AuthenticatorApp)
    );
}

#[tokio::test]
async fn an_enrolled_phone_is_challenged_and_a_resend_replaces_the_code() {
    let emulator = start().await;
    emulator
        .client()
        .enroll_verified_authenticator(
            "u1",
            &EnrollVerifiedAuthenticatorRequest {
                phone_number: Some(PHONE.into()),
                ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::Sms)
            },
        )
        .await
        .unwrap();
    let (token, key) = track_token(&emulator, "u1", "withdraw").await;

    // As the SDK sends it: JSON content type, no body.
    let (status, first) = client_post(&emulator, &token, "/challenge/sms", None).await;
    assert_eq!(status, 200, "{first}");
    assert!(first["challengeId"].is_string());
    let first_code = emulator.last_code_sent_to(PHONE).unwrap();
    let (_, second) = client_post(&emulator, &token, "/challenge/sms", None).await;
    assert_ne!(first["challengeId"], second["challengeId"]);
    let second_code = emulator.last_code_sent_to(PHONE).unwrap();
    assert_eq!(emulator.outbox().len(), 2);
    assert_eq!(
        emulator.outbox()[1].challenge_id,
        second["challengeId"].as_str().unwrap()
    );

    if first_code != second_code {
        let stale = verify(&emulator, &token, "/verify/sms", &first_code).await;
        assert_eq!(stale["isVerified"], false, "the resend replaced it");
    }
    let verified = verify(&emulator, &token, "/verify/sms", &second_code).await;
    assert_eq!(verified["isVerified"], true, "{verified}");
    assert!(
        verified.get("userAuthenticator").is_none(),
        "a challenge enrolls nothing"
    );
    assert_eq!(
        emulator.action_state("u1", "withdraw", &key),
        Some(UserActionState::ChallengeSucceeded)
    );
    let validated = emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: verified["accessToken"].as_str().unwrap().into(),
            ..ValidateChallengeRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(validated.verification_method, Some(VerificationMethod::Sms));

    // The email channel has nothing enrolled to challenge.
    let (status, body) = client_post(&emulator, &token, "/challenge/email-otp", None).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (400, &json!("invalid_request"))
    );
    let (status, body) = client_post(
        &emulator,
        &token,
        "/verify/email-otp",
        Some(json!({ "verificationCode": "123456" })),
    )
    .await;
    assert_eq!(status, 400, "no code was sent by email: {body}");
}

#[tokio::test]
async fn wrong_codes_fail_the_action_after_the_limit() {
    let emulator = prompting().await;
    let (token, key) = track_token(&emulator, "u1", "signIn").await;
    let code = enroll_email(&emulator, &token).await;
    let wrong = other_than(&code);
    for attempt in 1..=MAX_ATTEMPTS {
        let answer = verify(&emulator, &token, "/verify/email-otp", &wrong).await;
        assert_eq!(
            answer["failureReason"],
            failure_after(attempt),
            "attempt {attempt}"
        );
    }
    assert_eq!(
        emulator.action_state("u1", "signIn", &key),
        Some(UserActionState::ChallengeFailed)
    );
    let late = verify(&emulator, &token, "/verify/email-otp", &code).await;
    assert_eq!(late["isVerified"], false, "the right code is too late");
    assert_eq!(late["failureReason"], "MAX_ATTEMPTS_EXCEEDED");
    // A new code for a failed action is not sent.
    let sent = emulator.outbox().len();
    let (status, _) = client_post(
        &emulator,
        &token,
        "/user-authenticators/email-otp",
        Some(json!({ "email": EMAIL })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(emulator.outbox().len(), sent);
    assert!(!emulator.client().get_user("u1").await.unwrap().is_enrolled);
}

#[tokio::test]
async fn addresses_must_be_reachable() {
    let emulator = prompting().await;
    let (token, _) = track_token(&emulator, "u1", "signIn").await;
    for (path, body) in [
        ("/user-authenticators/email-otp", json!({ "email": "jane" })),
        ("/user-authenticators/email-otp", json!({})),
        (
            "/user-authenticators/sms",
            json!({ "phoneNumber": "0270000000" }),
        ),
        ("/user-authenticators/sms", json!({ "phoneNumber": 64 })),
    ] {
        let (status, answer) = client_post(&emulator, &token, path, Some(body.clone())).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(answer["errorCode"], "invalid_request");
    }
    assert!(emulator.outbox().is_empty());
}

#[tokio::test]
async fn an_expired_code_is_refused_while_the_token_is_good() {
    let emulator = prompting().await;
    let (token, _) = track_token(&emulator, "u1", "signIn").await;
    let code = enroll_email(&emulator, &token).await;
    // A minute later the app is enrolled, and its verification answers a newer token,
    // still good when the emailed code (sent with the first token) has expired.
    emulator.advance(Duration::from_secs(60));
    client_post(&emulator, &token, "/user-authenticators/totp", None).await;
    let proved = verify(
        &emulator,
        &token,
        "/verify/totp",
        &emulator.totp_code("u1").unwrap(),
    )
    .await;
    let newer = proved["accessToken"].as_str().unwrap().to_owned();
    emulator.advance(CODE_LIFETIME - Duration::from_secs(59));

    let late = verify(&emulator, &newer, "/verify/email-otp", &code).await;
    assert_eq!(late["isVerified"], false, "{late}");
    assert_eq!(late["failureReason"], "CODE_INVALID_OR_EXPIRED");
    let methods = emulator
        .client()
        .get_user("u1")
        .await
        .unwrap()
        .enrolled_verification_methods
        .unwrap();
    assert_eq!(methods, [VerificationMethod::AuthenticatorApp]);
    // The first token has expired by now: the SDK's `onTokenExpired` code.
    let (status, expired) = client_post(&emulator, &token, "/challenge/email-otp", None).await;
    assert_eq!(
        (status, &expired["errorCode"]),
        (401, &json!("expired_token"))
    );
}

#[tokio::test]
async fn the_calls_are_named_as_the_sdk_names_them() {
    let emulator = prompting().await;
    let (token, _) = track_token(&emulator, "u1", "signIn").await;
    emulator.clear_calls();
    let code = json!({ "verificationCode": "1" });
    for (path, body) in [
        (
            "/user-authenticators/email-otp",
            Some(json!({ "email": EMAIL })),
        ),
        ("/challenge/email-otp", None),
        ("/verify/email-otp", Some(code.clone())),
        (
            "/user-authenticators/sms",
            Some(json!({ "phoneNumber": PHONE })),
        ),
        ("/challenge/sms", None),
        ("/verify/sms", Some(code.clone())),
    ] {
        client_post(&emulator, &token, path, body).await;
    }
    let names: Vec<&str> = emulator.calls().iter().map(|c| c.operation).collect();
    assert_eq!(
        names,
        [
            "clientEnrollEmailOtp",
            "clientChallengeEmailOtp",
            "clientVerifyEmailOtp",
            "clientEnrollSms",
            "clientChallengeSms",
            "clientVerifySms",
        ]
    );
}
