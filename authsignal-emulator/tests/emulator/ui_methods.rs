//! The pre-built UI challenges an enrolled user with a method they have (an authenticator
//! app, SMS, email), never with a new app set up on the spot; an app is added only after
//! a challenge passed, or with a token granting `add:authenticators`.

use authsignal::types::{
    BatchEnrollAuthenticator, BatchEnrollVerifiedAuthenticatorsRequest,
    EnrollVerifiedAuthenticatorRequest, TrackAttributes, TrackResponse, UserActionState,
    ValidateChallengeRequest, VerificationMethod,
};
use authsignal_emulator::{EmulatorHandle, MAX_ATTEMPTS};
use reqwest::redirect::Policy;

use crate::emulator_util::{client_enroll_totp, start, wrong_code};

const PHONE: &str = "+64270000067";
const EMAIL: &str = "jane@example.com";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn open(url: &str) -> (u16, String) {
    let response = browser().get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn post(emulator: &EmulatorHandle, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    browser()
        .post(format!("{}{path}", emulator.origin()))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Types `code`, the one sent as `challenge_id`, into the page of `token`.
async fn submit_sent(
    emulator: &EmulatorHandle,
    token: &str,
    challenge_id: &str,
    code: &str,
) -> reqwest::Response {
    post(
        emulator,
        "/ui/challenge",
        &[
            ("token", token),
            ("challenge_id", challenge_id),
            ("code", code),
        ],
    )
    .await
}

/// The `value` of the hidden input `name`.
fn hidden(html: &str, name: &str) -> Option<String> {
    let field = format!(r#"name="{name}" value=""#);
    let start = html.find(&field)? + field.len();
    Some(html[start..start + html[start..].find('"')?].to_owned())
}

fn has(html: &str, id: &str) -> bool {
    html.contains(&format!(r#"id="{id}""#))
}

fn error_text(html: &str) -> String {
    let start = html.find(r#"id="error""#).expect("an error is shown");
    let open = start + html[start..].find('>').unwrap() + 1;
    html[open..open + html[open..].find('<').unwrap()].to_owned()
}

fn token_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .expect("a token in the URL")
}

async fn enroll(emulator: &EmulatorHandle, user: &str, method: VerificationMethod) {
    let request = match method {
        VerificationMethod::EmailOtp => EnrollVerifiedAuthenticatorRequest {
            email: Some(EMAIL.into()),
            ..EnrollVerifiedAuthenticatorRequest::new(method)
        },
        _ => EnrollVerifiedAuthenticatorRequest {
            phone_number: Some(PHONE.into()),
            ..EnrollVerifiedAuthenticatorRequest::new(method)
        },
    };
    emulator
        .client()
        .enroll_verified_authenticator(user, &request)
        .await
        .unwrap();
}

async fn track_with(
    emulator: &EmulatorHandle,
    user: &str,
    attributes: TrackAttributes,
) -> TrackResponse {
    let tracked = emulator
        .client()
        .track(user, "withdraw", attributes)
        .await
        .unwrap();
    assert_eq!(tracked.state, UserActionState::ChallengeRequired);
    tracked
}

fn to_app() -> TrackAttributes {
    TrackAttributes {
        redirect_url: Some("https://app.example/done".into()),
        ..TrackAttributes::default()
    }
}

async fn validate(
    emulator: &EmulatorHandle,
    token: &str,
) -> authsignal::types::ValidateChallengeResponse {
    emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: token.into(),
            user_id: Some("u1".into()),
            action: Some("withdraw".into()),
        })
        .await
        .unwrap()
}

/// Sends the code of the page's send form; the challenge id and the code the outbox got.
async fn send_code(emulator: &EmulatorHandle, token: &str, method: &str) -> (String, String) {
    let sent = post(
        emulator,
        "/ui/challenge/send",
        &[("token", token), ("method", method)],
    )
    .await;
    assert_eq!(sent.status().as_u16(), 200);
    let page = sent.text().await.unwrap();
    assert!(has(&page, "sent-to") && has(&page, "code"), "{page}");
    let challenge_id = hidden(&page, "challenge_id").expect("the form names the challenge");
    let message = emulator
        .outbox()
        .into_iter()
        .rev()
        .find(|message| message.challenge_id == challenge_id)
        .expect("the code is in the outbox");
    assert_eq!(message.user_id.as_deref(), Some("u1"));
    assert_eq!(message.action.as_deref(), Some("withdraw"));
    (challenge_id, message.code)
}

#[tokio::test]
async fn an_sms_user_is_challenged_by_sms_and_cannot_enroll_an_app_instead() {
    let emulator = start().await;
    enroll(&emulator, "u1", VerificationMethod::Sms).await;
    let tracked = track_with(&emulator, "u1", to_app()).await;
    let token = tracked.token.unwrap().into_string();

    // The page asks for an SMS code; it offers no authenticator app to set up, which is
    // how the page used to let a user pass with a factor nobody had proven.
    let (status, page) = open(tracked.url.as_deref().unwrap()).await;
    assert_eq!(status, 200);
    assert!(has(&page, "send"), "{page}");
    assert_eq!(hidden(&page, "method").as_deref(), Some("SMS"));
    for id in [
        "totp-secret",
        "totp-uri",
        "totp-qr",
        "use-AUTHENTICATOR_APP",
    ] {
        assert!(!has(&page, id), "#{id} offered to an SMS user: {page}");
    }
    assert_eq!(emulator.totp_code("u1"), None, "no app was started");

    // An app being set up elsewhere (with a token of another action that may add one)
    // does not pass this challenge either.
    let scoped = emulator
        .client()
        .track(
            "u1",
            "addApp",
            TrackAttributes {
                scope: Some("add:authenticators".into()),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    let (status, _) = client_enroll_totp(&emulator, scoped.token.unwrap().as_str()).await;
    assert_eq!(status, 200);
    let pending = emulator.totp_code("u1").expect("an app is being set up");
    let refused = post(
        &emulator,
        "/ui/challenge",
        &[("token", &token), ("code", &pending)],
    )
    .await;
    assert_eq!(refused.status().as_u16(), 400);
    assert_eq!(
        emulator.action_state("u1", "withdraw", &tracked.idempotency_key),
        Some(UserActionState::ChallengeRequired)
    );
    assert!(!validate(&emulator, &token).await.is_valid);

    // The SMS code does.
    let (challenge_id, code) = send_code(&emulator, &token, "SMS").await;
    assert_eq!(
        emulator.last_code_sent_to(PHONE).as_deref(),
        Some(code.as_str())
    );
    let done = submit_sent(&emulator, &token, &challenge_id, &code).await;
    assert_eq!(done.status().as_u16(), 303);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://app.example/done?token="),
        "{location}"
    );
    let validated = validate(&emulator, &token_of(&location)).await;
    assert!(validated.is_valid);
    assert_eq!(validated.verification_method, Some(VerificationMethod::Sms));
}

#[tokio::test]
async fn wrong_codes_count_across_methods_and_codes_are_bound_to_their_action() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    enroll(&emulator, "u1", VerificationMethod::EmailOtp).await;
    let tracked = track_with(&emulator, "u1", to_app()).await;
    let token = tracked.token.unwrap().into_string();
    let url = tracked.url.unwrap();

    // The default (the first authenticator, the app) first, with a link to email.
    let (_, page) = open(&url).await;
    assert!(has(&page, "code") && !has(&page, "send"), "{page}");
    assert!(has(&page, "use-EMAIL_OTP"), "{page}");
    let (_, page) = open(&format!("{url}&method=EMAIL_OTP")).await;
    assert_eq!(hidden(&page, "method").as_deref(), Some("EMAIL_OTP"));
    assert!(
        page.contains("j•••@example.com"),
        "the address is masked: {page}"
    );

    let (challenge_id, code) = send_code(&emulator, &token, "EMAIL_OTP").await;
    let wrong_email = if code == "000000" { "000001" } else { "000000" };
    let mut left = Vec::new();
    let wrong = submit_sent(&emulator, &token, &challenge_id, wrong_email).await;
    assert_eq!(wrong.status().as_u16(), 400);
    left.push(error_text(&wrong.text().await.unwrap()));
    let wrong = post(
        &emulator,
        "/ui/challenge",
        &[("token", &token), ("code", &wrong_code(&emulator, "u1"))],
    )
    .await;
    assert_eq!(wrong.status().as_u16(), 400);
    left.push(error_text(&wrong.text().await.unwrap()));
    // A new code gains nothing either.
    let (second_id, second_code) = send_code(&emulator, &token, "EMAIL_OTP").await;
    let wrong_second = if second_code == "000000" {
        "000001"
    } else {
        "000000"
    };
    let wrong = submit_sent(&emulator, &token, &second_id, wrong_second).await;
    left.push(error_text(&wrong.text().await.unwrap()));
    let expected: Vec<String> = (1..=3)
        .map(|n| {
            format!(
                "That code is not right. {} of {MAX_ATTEMPTS} attempts left.",
                MAX_ATTEMPTS - n
            )
        })
        .collect();
    assert_eq!(left, expected);

    // A code sent for another action does not complete this one, even when right.
    let other = track_with(&emulator, "u1", to_app()).await;
    let (other_id, other_code) =
        send_code(&emulator, other.token.unwrap().as_str(), "EMAIL_OTP").await;
    let crossed = submit_sent(&emulator, &token, &other_id, &other_code).await;
    assert_eq!(crossed.status().as_u16(), 400);
    assert_eq!(
        emulator.action_state("u1", "withdraw", &tracked.idempotency_key),
        Some(UserActionState::ChallengeRequired)
    );

    let done = submit_sent(&emulator, &token, &second_id, &second_code).await;
    assert_eq!(done.status().as_u16(), 303);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    let validated = validate(&emulator, &token_of(&location)).await;
    assert_eq!(
        validated.verification_method,
        Some(VerificationMethod::EmailOtp)
    );
}

#[tokio::test]
async fn after_passing_a_challenge_the_settings_page_adds_an_app() {
    let emulator = start().await;
    enroll(&emulator, "u1", VerificationMethod::Sms).await;
    let tracked = track_with(
        &emulator,
        "u1",
        TrackAttributes {
            redirect_to_settings: Some(true),
            ..to_app()
        },
    )
    .await;
    let token = tracked.token.unwrap().into_string();
    let (challenge_id, code) = send_code(&emulator, &token, "SMS").await;
    let passed = submit_sent(&emulator, &token, &challenge_id, &code).await;
    assert_eq!(passed.status().as_u16(), 303);
    let settings = passed.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        settings.starts_with(&format!("{}/ui/challenge?token=", emulator.origin())),
        "settings first: {settings}"
    );

    // Now, and only now, the user may add an app.
    let (status, page) = open(&settings).await;
    assert_eq!(status, 200);
    for id in ["totp-secret", "totp-qr", "code", "continue"] {
        assert!(has(&page, id), "no #{id} on the settings page: {page}");
    }
    let settings_token = token_of(&settings);
    let app_code = emulator.totp_code("u1").expect("the app is being set up");
    let added = post(
        &emulator,
        "/ui/challenge",
        &[("token", &settings_token), ("code", &app_code)],
    )
    .await;
    assert_eq!(added.status().as_u16(), 303);
    let user = emulator.client().get_user("u1").await.unwrap();
    assert_eq!(
        user.enrolled_verification_methods,
        Some(vec![
            VerificationMethod::Sms,
            VerificationMethod::AuthenticatorApp
        ])
    );
    let (_, page) = open(added.headers()["location"].to_str().unwrap()).await;
    assert!(!has(&page, "totp-secret"), "nothing left to add: {page}");
    let back = page
        .split(r#"id="continue" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a way back")
        .replace("&amp;", "&");
    assert!(
        back.starts_with("https://app.example/done?token="),
        "{back}"
    );
    assert!(validate(&emulator, &token_of(&back)).await.is_valid);
}

#[tokio::test]
async fn a_token_granting_add_authenticators_may_set_up_an_app_instead() {
    let emulator = start().await;
    enroll(&emulator, "u1", VerificationMethod::Sms).await;
    let tracked = track_with(
        &emulator,
        "u1",
        TrackAttributes {
            scope: Some("add:authenticators".into()),
            ..to_app()
        },
    )
    .await;
    let url = tracked.url.unwrap();
    let (_, page) = open(&url).await;
    assert!(
        has(&page, "send"),
        "the challenge still comes first: {page}"
    );
    assert!(has(&page, "use-AUTHENTICATOR_APP"), "{page}");
    let (_, page) = open(&format!("{url}&method=AUTHENTICATOR_APP")).await;
    assert!(has(&page, "totp-secret") && has(&page, "totp-qr"), "{page}");
    let code = emulator.totp_code("u1").unwrap();
    let done = post(
        &emulator,
        "/ui/challenge",
        &[("token", tracked.token.unwrap().as_str()), ("code", &code)],
    )
    .await;
    assert_eq!(done.status().as_u16(), 303);
}

#[tokio::test]
async fn complete_prebuilt_ui_reads_sms_and_email_codes_too() {
    let emulator = start().await;
    enroll(&emulator, "u1", VerificationMethod::Sms).await;
    let tracked = track_with(&emulator, "u1", to_app()).await;
    let back = emulator
        .complete_prebuilt_ui(tracked.url.as_deref().unwrap())
        .await
        .unwrap();
    assert!(validate(&emulator, &token_of(&back)).await.is_valid);
}

#[tokio::test]
async fn a_user_with_only_a_passkey_is_told_this_page_cannot_verify_them() {
    let emulator = start().await;
    emulator
        .client()
        .batch_enroll_verified_authenticators(&BatchEnrollVerifiedAuthenticatorsRequest {
            authenticators: vec![BatchEnrollAuthenticator::passkey("u1", "cred", "key")],
        })
        .await
        .unwrap();
    let tracked = track_with(&emulator, "u1", to_app()).await;
    let (status, page) = open(tracked.url.as_deref().unwrap()).await;
    assert_eq!(status, 200);
    assert!(
        error_text(&page).contains("None of your authenticators"),
        "{page}"
    );
    assert!(!has(&page, "totp-secret") && !has(&page, "code"), "{page}");
    // And a code cannot be sent to a method the user does not have.
    let refused = post(
        &emulator,
        "/ui/challenge/send",
        &[
            ("token", tracked.token.unwrap().as_str()),
            ("method", "SMS"),
        ],
    )
    .await;
    assert_eq!(refused.status().as_u16(), 400);
}
