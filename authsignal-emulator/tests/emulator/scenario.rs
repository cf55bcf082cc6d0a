//! Our Rust client passes the whole scenario against the emulator, over real HTTP.

use crate::emulator_util::{client_verify_totp, start};
use authsignal::Error;
use authsignal::types::{
    ChallengeRequest, ClaimChallengeRequest, CreateSessionRequest,
    EnrollVerifiedAuthenticatorRequest, GetChallengeRequest, QueryUserActionsRequest,
    QueryUsersRequest, RefreshSessionRequest, RevokeSessionRequest, RevokeUserSessionsRequest,
    TrackAttributes, UpdateActionRequest, UpdateUserRequest, UserActionState,
    ValidateChallengeRequest, ValidateSessionRequest, VerificationFailureReason,
    VerificationMethod, VerifyRequest,
};

#[tokio::test]
async fn the_client_walks_the_whole_scenario() {
    let emulator = start().await;
    let client = emulator.client();
    let user = "user:1/a";

    // Users: unknown first, then created by updateUser.
    let unknown = client.get_user(user).await.unwrap();
    assert!(!unknown.is_enrolled);
    let attributes = client
        .update_user(
            user,
            &UpdateUserRequest {
                email: Some("ada@example.com".into()),
                username: Some("ada".into()),
                ..UpdateUserRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(attributes.email.as_deref(), Some("ada@example.com"));
    let found = client
        .query_users(&QueryUsersRequest {
            email: Some("ada@example.com".into()),
            ..QueryUsersRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(found.users.len(), 1);
    assert_eq!(found.users[0].user_id, user);

    // Authenticators: an authenticator app enrolled by the test, an SMS one by the API.
    let app = emulator.enroll_totp(user);
    assert!(app.uri.starts_with("otpauth://totp/"));
    let sms = client
        .enroll_verified_authenticator(
            user,
            &EnrollVerifiedAuthenticatorRequest {
                phone_number: Some("+64270000000".into()),
                ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::Sms)
            },
        )
        .await
        .unwrap();
    let listed = client.get_authenticators(user).await.unwrap();
    assert_eq!(listed.len(), 2);
    let enrolled = client.get_user(user).await.unwrap();
    assert!(enrolled.is_enrolled);
    assert_eq!(
        enrolled.enrolled_verification_methods,
        Some(vec![
            VerificationMethod::AuthenticatorApp,
            VerificationMethod::Sms
        ])
    );
    client
        .delete_authenticator(user, &sms.authenticator.user_authenticator_id)
        .await
        .unwrap();
    assert_eq!(client.get_authenticators(user).await.unwrap().len(), 1);

    // Track: a challenge, with a token and the pre-built UI's URL.
    let tracked = client
        .track(
            user,
            "withdraw",
            TrackAttributes {
                redirect_url: Some("https://app.example/done".into()),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tracked.state, UserActionState::ChallengeRequired);
    assert!(tracked.is_enrolled);
    let url = tracked.url.clone().expect("a challenge has a url");
    assert!(
        url.starts_with(&format!("{}/ui/challenge?token=", emulator.origin())),
        "{url}"
    );
    let track_token = tracked.token.clone().unwrap();
    let key = tracked.idempotency_key.clone();

    // Not yet completed.
    let pending = client
        .validate_challenge(&ValidateChallengeRequest {
            token: track_token.clone(),
            user_id: Some(user.into()),
            action: Some("withdraw".into()),
        })
        .await
        .unwrap();
    assert!(!pending.is_valid);
    assert_eq!(pending.state, Some(UserActionState::ChallengeRequired));

    // The custom UI verifies the app's code through the client API.
    let code = emulator.totp_code(user).unwrap();
    let (status, verified) = client_verify_totp(&emulator, track_token.as_str(), &code).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["isVerified"], true);
    let access_token = verified["accessToken"].as_str().unwrap().to_owned();

    let validated = client
        .validate_challenge(&ValidateChallengeRequest {
            token: access_token.clone().into(),
            user_id: Some(user.into()),
            action: Some("withdraw".into()),
        })
        .await
        .unwrap();
    assert!(validated.is_valid);
    assert_eq!(validated.state, Some(UserActionState::ChallengeSucceeded));
    assert_eq!(validated.user_id.as_deref(), Some(user));
    assert_eq!(validated.action.as_deref(), Some("withdraw"));
    assert_eq!(validated.idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(
        validated.verification_method,
        Some(VerificationMethod::AuthenticatorApp)
    );

    // getAction, updateAction, queryUserActions.
    let details = client.get_action(user, "withdraw", &key).await.unwrap();
    assert_eq!(details.state, UserActionState::ChallengeSucceeded);
    assert_eq!(
        details.verification_method,
        Some(VerificationMethod::AuthenticatorApp)
    );
    let second = client
        .track(user, "payment", TrackAttributes::default())
        .await
        .unwrap();
    assert_eq!(second.state, UserActionState::Allow);
    let reviewed = client
        .update_action(
            user,
            "payment",
            &second.idempotency_key,
            &UpdateActionRequest {
                state: UserActionState::ReviewSucceeded,
            },
        )
        .await
        .unwrap();
    assert_eq!(reviewed.state, UserActionState::ReviewSucceeded);
    let all = client
        .query_user_actions(user, &QueryUserActionsRequest::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].action, "payment", "newest first");
    let withdrawals = client
        .query_user_actions(
            user,
            &QueryUserActionsRequest {
                codes: vec!["withdraw".into()],
                state: Some(UserActionState::ChallengeSucceeded),
                ..QueryUserActionsRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(withdrawals.len(), 1);
    assert_eq!(withdrawals[0].idempotency_key, key);
    assert_eq!(
        withdrawals[0].verified_by_authenticator_id.as_deref(),
        Some(app.user_authenticator_id.as_str())
    );

    // One-time codes: challenge, a wrong code, the right one, claim, getChallenge.
    let challenge = client
        .challenge(&ChallengeRequest {
            verification_method: Some(VerificationMethod::EmailOtp),
            action: Some("signIn".into()),
            email: Some("ada@example.com".into()),
            ..ChallengeRequest::default()
        })
        .await
        .unwrap();
    let pending_challenge = client
        .get_challenge(&GetChallengeRequest {
            challenge_id: Some(challenge.challenge_id.clone()),
            ..GetChallengeRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(pending_challenge.email.as_deref(), Some("ada@example.com"));
    let sent = emulator.last_code_sent_to("ada@example.com").unwrap();
    let wrong = if sent == "000000" { "111111" } else { "000000" };
    let rejected = client
        .verify(&VerifyRequest {
            challenge_id: challenge.challenge_id.clone(),
            verification_code: wrong.into(),
        })
        .await
        .unwrap();
    assert!(!rejected.is_verified);
    assert_eq!(
        rejected.failure_reason,
        Some(VerificationFailureReason::CodeInvalidOrExpired)
    );
    let accepted = client
        .verify(&VerifyRequest {
            challenge_id: challenge.challenge_id.clone(),
            verification_code: sent,
        })
        .await
        .unwrap();
    assert!(accepted.is_verified);
    let claimed = client
        .claim_challenge(&ClaimChallengeRequest {
            challenge_id: challenge.challenge_id.clone(),
            user_id: user.into(),
            skip_verification_check: None,
        })
        .await
        .unwrap();
    let sign_in = client
        .validate_challenge(&ValidateChallengeRequest {
            token: claimed.token.clone(),
            ..ValidateChallengeRequest::default()
        })
        .await
        .unwrap();
    assert!(sign_in.is_valid);
    assert_eq!(sign_in.user_id.as_deref(), Some(user));
    assert_eq!(
        sign_in.verification_method,
        Some(VerificationMethod::EmailOtp)
    );

    // Sessions: create, validate, refresh (rotating), revoke, revoke all.
    let session = client
        .create_session(&CreateSessionRequest {
            client_id: "web".into(),
            token: access_token.into(),
            action: Some("withdraw".into()),
        })
        .await
        .unwrap();
    let valid = client
        .validate_session(&ValidateSessionRequest {
            access_token: session.access_token.clone(),
            client_ids: Some(vec!["web".into()]),
        })
        .await
        .unwrap();
    assert_eq!(valid.user.user_id, user);
    assert_eq!(valid.user.email.as_deref(), Some("ada@example.com"));
    let refreshed = client
        .refresh_session(&RefreshSessionRequest {
            refresh_token: session.refresh_token.clone(),
        })
        .await
        .unwrap();
    assert_ne!(refreshed.refresh_token, session.refresh_token);
    let reused = client
        .refresh_session(&RefreshSessionRequest {
            refresh_token: session.refresh_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reused.status().map(|s| s.as_u16()), Some(400));
    client
        .revoke_session(&RevokeSessionRequest {
            access_token: refreshed.access_token.clone(),
        })
        .await
        .unwrap();
    let revoked = client
        .validate_session(&ValidateSessionRequest {
            access_token: refreshed.access_token.clone(),
            client_ids: None,
        })
        .await
        .unwrap_err();
    assert_eq!(revoked.code(), Some("invalid_credential"));
    let other = client
        .create_session(&CreateSessionRequest {
            client_id: "mobile".into(),
            token: claimed.token,
            action: None,
        })
        .await
        .unwrap();
    client
        .revoke_user_sessions(&RevokeUserSessionsRequest {
            user_id: user.into(),
        })
        .await
        .unwrap();
    assert!(
        client
            .validate_session(&ValidateSessionRequest {
                access_token: other.access_token,
                client_ids: None,
            })
            .await
            .is_err()
    );

    // deleteUser, then a wrong secret.
    client.delete_user(user).await.unwrap();
    assert!(!client.get_user(user).await.unwrap().is_enrolled);
    let wrong_secret = emulator
        .client_builder()
        .secret_key("not-the-secret")
        .build()
        .unwrap();
    let err = wrong_secret.get_user(user).await.unwrap_err();
    let Error::Api(api) = &err else {
        panic!("expected an API error, got {err:?}");
    };
    assert_eq!(api.status.as_u16(), 401);
    assert_eq!(api.code.as_deref(), Some("unauthorized"));
    assert_eq!(
        api.description.as_deref(),
        Some(
            "The request is unauthorized. Check that your API key and region base URL are correctly configured."
        )
    );

    // Every call went over HTTP and was recorded under the client's operation names.
    for operation in [
        "getUser",
        "updateUser",
        "queryUsers",
        "enrollVerifiedAuthenticator",
        "getAuthenticators",
        "deleteAuthenticator",
        "track",
        "validateChallenge",
        "clientVerifyTotp",
        "getAction",
        "updateAction",
        "queryUserActions",
        "challenge",
        "getChallenge",
        "verify",
        "claimChallenge",
        "createSession",
        "validateSession",
        "refreshSession",
        "revokeSession",
        "revokeUserSessions",
        "deleteUser",
    ] {
        assert!(
            emulator.call_count(operation) > 0,
            "{operation} was not called"
        );
    }
}
