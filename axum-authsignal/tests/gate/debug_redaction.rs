//! No public type's `Debug` (or `Display`) shows a token: every type that can carry one,
//! over generated tokens, JWT-shaped and opaque.

use authsignal::types::{
    ClaimChallengeResponse, CreateSessionRequest, QueryUsersRequest, RefreshSessionRequest,
    RevokeSessionRequest, SessionTokens, Token, TrackResponse, ValidateChallengeRequest,
    ValidateSessionRequest,
};
use axum_authsignal::StepUpOutcome;
use proptest::prelude::*;
use serde_json::json;

fn tokens() -> impl Strategy<Value = String> {
    prop_oneof![
        "eyJ[A-Za-z0-9_-]{10,60}\\.[A-Za-z0-9_-]{10,200}\\.[A-Za-z0-9_-]{10,80}",
        "[A-Za-z0-9_-]{24,120}",
        "[A-Za-z0-9_-]{8,40}\\.[A-Za-z0-9_-]{8,40}",
    ]
}

/// Every rendering of every token-carrying value built around `token`.
fn renderings(token: &str) -> Vec<(&'static str, String)> {
    let from = |value: serde_json::Value| value;
    let track: TrackResponse = serde_json::from_value(from(json!({
        "idempotencyKey": "k",
        "state": "CHALLENGE_REQUIRED",
        "url": format!("https://ui.example/challenge?lang=en&token={token}"),
        "token": token,
        "isEnrolled": true,
    })))
    .unwrap();
    let claim: ClaimChallengeResponse =
        serde_json::from_value(json!({ "token": token, "verificationMethod": "SMS" })).unwrap();
    let sessions: SessionTokens =
        serde_json::from_value(json!({ "accessToken": token, "refreshToken": token })).unwrap();
    vec![
        ("Token", format!("{:?}", Token::from(token))),
        ("TrackResponse", format!("{track:?}")),
        ("TrackResponse (pretty)", format!("{track:#?}")),
        (
            "StepUpOutcome",
            format!("{:?}", StepUpOutcome::Allowed(track.clone())),
        ),
        (
            "ValidateChallengeRequest",
            format!(
                "{:?}",
                ValidateChallengeRequest {
                    token: token.into(),
                    user_id: Some("u".into()),
                    action: Some("a".into()),
                }
            ),
        ),
        ("ClaimChallengeResponse", format!("{claim:?}")),
        (
            "CreateSessionRequest",
            format!(
                "{:?}",
                CreateSessionRequest {
                    token: token.into(),
                    ..Default::default()
                }
            ),
        ),
        ("SessionTokens", format!("{sessions:?}")),
        (
            "ValidateSessionRequest",
            format!(
                "{:?}",
                ValidateSessionRequest {
                    access_token: token.into(),
                    ..Default::default()
                }
            ),
        ),
        (
            "RefreshSessionRequest",
            format!(
                "{:?}",
                RefreshSessionRequest {
                    refresh_token: token.into()
                }
            ),
        ),
        (
            "RevokeSessionRequest",
            format!(
                "{:?}",
                RevokeSessionRequest {
                    access_token: token.into()
                }
            ),
        ),
        (
            "QueryUsersRequest",
            format!(
                "{:?}",
                QueryUsersRequest {
                    token: Some(token.into()),
                    ..Default::default()
                }
            ),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn no_debug_output_shows_a_token(token in tokens()) {
        for (name, text) in renderings(&token) {
            prop_assert!(!text.contains(&token), "{} shows the token: {}", name, text);
        }
    }
}

/// The check can fail: a value rendered with its token in the clear is caught.
#[test]
fn the_check_sees_a_token_in_the_clear() {
    let token = "eyJabcdefghijk.lmnopqrstuvwxyz.0123456789ab";
    let clear = format!("{:?}", token);
    assert!(clear.contains(token));
    let track: TrackResponse = serde_json::from_value(json!({
        "idempotencyKey": "k", "state": "ALLOW", "url": format!("https://ui/x?token={token}"),
    }))
    .unwrap();
    assert!(format!("{track:?}").contains("token=[redacted]"));
}
