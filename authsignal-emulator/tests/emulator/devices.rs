//! Devices, batch enrollment, and the newer user fields, through our client against the
//! emulator; answers compared with the shapes of `tests/fixtures/extra-wire-fixtures.json`.

use std::time::Duration;

use authsignal::Error;
use authsignal::types::{
    BatchEnrollAuthenticator, BatchEnrollVerifiedAuthenticatorsRequest, TrackAttributes,
    UpdateDeviceRequest, UpdateUserRequest, VerificationMethod,
};
use reqwest::Method;
use serde_json::Value;

use crate::emulator_util::{client_verify_totp, raw, start};

fn fixture(name: &str) -> Value {
    let text = include_str!("../../../authsignal/tests/fixtures/extra-wire-fixtures.json");
    let all: Value = serde_json::from_str(text).unwrap();
    all[name]["response_body"].clone()
}

/// Every key of `answer` is one the fixture shows (the emulator invents no fields).
fn assert_known_keys(answer: &Value, fixture: &Value) {
    for key in answer.as_object().expect("an object").keys() {
        assert!(
            fixture.get(key).is_some(),
            "`{key}` is not in the documented shape {fixture}"
        );
    }
}

/// `track` of `withdraw` for `u1` on the device `laptop`.
async fn track_on_laptop(client: &authsignal::Authsignal) -> authsignal::types::TrackResponse {
    client
        .track(
            "u1",
            "withdraw",
            TrackAttributes {
                device_id: Some("laptop".into()),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap()
}

fn api_status(err: &Error) -> u16 {
    match err {
        Error::Api(api) => api.status.as_u16(),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_tracked_device_is_listed_authenticated_remembered_and_invalidated() {
    let emulator = start().await;
    let client = emulator.client();
    emulator.enroll_totp("u1");
    let tracked = track_on_laptop(&client).await;

    let devices = client.get_devices("u1").await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].device_id, "laptop");
    assert_eq!(
        devices[0].created_at.as_deref(),
        Some("2024-06-01T12:00:10.000Z")
    );
    assert_eq!(devices[0].authenticated_at, None);
    assert!(client.get_devices("nobody").await.unwrap().is_empty());

    // A challenge passed on the device authenticates it.
    let code = emulator.totp_code("u1").unwrap();
    let (_, verified) = client_verify_totp(&emulator, tracked.token.unwrap().as_str(), &code).await;
    assert_eq!(verified["isVerified"], true);
    let (status, listed) = raw(&emulator, Method::GET, "/users/u1/devices", None).await;
    assert_eq!(status, 200);
    assert_known_keys(&listed[0], &fixture("get_devices")[0]);
    assert_eq!(listed[0]["lastVerificationMethod"], "AUTHENTICATOR_APP");
    assert_eq!(listed[0]["authenticatedAt"], "2024-06-01T12:00:10.000Z");

    let remembered = client
        .update_device(
            "u1",
            "laptop",
            &UpdateDeviceRequest::remember_until("2024-07-01T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        remembered.remembered_until.as_deref(),
        Some("2024-07-01T00:00:00.000Z")
    );
    let forgotten = client
        .update_device("u1", "laptop", &UpdateDeviceRequest::forget())
        .await
        .unwrap();
    assert_eq!(forgotten.remembered_until, None);
    for bad in ["2024-01-01T00:00:00Z", "2024-02-31T00:00:00Z", "soon"] {
        let err = client
            .update_device("u1", "laptop", &UpdateDeviceRequest::remember_until(bad))
            .await
            .unwrap_err();
        assert_eq!(api_status(&err), 400, "{bad}");
    }

    emulator.advance(Duration::from_secs(60));
    let invalidated = client.invalidate_device("u1", "laptop").await.unwrap();
    assert_eq!(
        invalidated.invalidated_at.as_deref(),
        Some("2024-06-01T12:01:10.000Z")
    );
    let (_, answer) = raw(
        &emulator,
        Method::POST,
        "/users/u1/devices/laptop/invalidate",
        None,
    )
    .await;
    assert_known_keys(&answer, &fixture("invalidate_device"));

    // Unknown devices are 404, another user's device included.
    for err in [
        client.invalidate_device("u1", "phone").await.unwrap_err(),
        client.invalidate_device("u2", "laptop").await.unwrap_err(),
        client
            .update_device("u1", "phone", &UpdateDeviceRequest::forget())
            .await
            .unwrap_err(),
    ] {
        assert_eq!(api_status(&err), 404);
    }

    // The next action on an invalidated device sees it as new.
    track_on_laptop(&client).await;
    let devices = client.get_devices("u1").await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].invalidated_at, None);
    assert_eq!(devices[0].authenticated_at, None);
    assert_eq!(emulator.call_count("getDevices"), 4);
    assert_eq!(emulator.call_count("invalidateDevice"), 4);
    assert_eq!(emulator.call_count("updateDevice"), 6);

    client.delete_user("u1").await.unwrap();
    assert!(client.get_devices("u1").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_batch_enrolls_passkeys_once_and_reports_each_failure() {
    let emulator = start().await;
    let client = emulator.client();
    let named = BatchEnrollAuthenticator {
        name: Some("iPhone".into()),
        aaguid: Some("fbfc3007-154e-4ecc-8c0b-6e020557d7bd".into()),
        ..BatchEnrollAuthenticator::passkey("alice", "cred-a", "pk-a")
    };
    let first = client
        .batch_enroll_verified_authenticators(&BatchEnrollVerifiedAuthenticatorsRequest {
            authenticators: vec![
                named.clone(),
                BatchEnrollAuthenticator::passkey("bob", "cred-b", "pk-b"),
            ],
        })
        .await
        .unwrap();
    assert_eq!(
        (first.total, first.succeeded, first.failed),
        (2, 2, 0),
        "{first:?}"
    );
    assert!(first.failures.is_empty());

    let second = client
        .batch_enroll_verified_authenticators(&BatchEnrollVerifiedAuthenticatorsRequest {
            authenticators: vec![
                // The same credential for the same user: a no-op, not a second passkey.
                named,
                // Alice's credential for Carol: a conflict.
                BatchEnrollAuthenticator::passkey("carol", "cred-a", "pk-a"),
                BatchEnrollAuthenticator {
                    verification_method: VerificationMethod::Sms,
                    ..BatchEnrollAuthenticator::passkey("carol", "cred-c", "pk-c")
                },
            ],
        })
        .await
        .unwrap();
    assert_eq!((second.total, second.succeeded, second.failed), (3, 1, 2));
    let codes: Vec<(&str, &str)> = second
        .failures
        .iter()
        .map(|f| (f.user_id.as_str(), f.error_code.as_str()))
        .collect();
    assert_eq!(codes, [("carol", "conflict"), ("carol", "invalid_request")]);
    assert_eq!(
        second.failures[0].error_description,
        "Credential already exists for a different user."
    );

    let alice = client.get_authenticators("alice").await.unwrap();
    assert_eq!(alice.len(), 1, "re-enrolling is a no-op");
    assert_eq!(
        alice[0].verification_method,
        Some(VerificationMethod::Passkey)
    );
    let credential = alice[0].webauthn_credential.as_ref().unwrap();
    assert_eq!(credential["credentialId"], "cred-a");
    assert_eq!(credential["name"], "iPhone");
    assert!(client.get_user("bob").await.unwrap().is_enrolled);
    assert!(!client.get_user("carol").await.unwrap().is_enrolled);

    let (status, answer) = raw(
        &emulator,
        Method::POST,
        "/users/authenticators",
        Some(r#"{"authenticators":[]}"#),
    )
    .await;
    assert_eq!(
        (status, answer["errorCode"].as_str()),
        (400, Some("invalid_request"))
    );
    assert_eq!(emulator.call_count("batchEnrollVerifiedAuthenticators"), 3);

    // The batch route shares its shape with `/users/{userId}`: a user called
    // `authenticators` is still a user, and POST to any other user is not a route.
    let (status, user) = raw(&emulator, Method::GET, "/users/authenticators", None).await;
    assert_eq!((status, user["isEnrolled"].as_bool()), (200, Some(false)));
    let (status, _) = raw(&emulator, Method::POST, "/users/alice", Some("{}")).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn the_default_method_and_the_locale_are_the_users() {
    let emulator = start().await;
    let client = emulator.client();
    emulator.enroll_totp("u1");
    client
        .enroll_verified_authenticator(
            "u1",
            &authsignal::types::EnrollVerifiedAuthenticatorRequest {
                phone_number: Some("+64270000000".into()),
                ..authsignal::types::EnrollVerifiedAuthenticatorRequest::new(
                    VerificationMethod::Sms,
                )
            },
        )
        .await
        .unwrap();
    let user = client.get_user("u1").await.unwrap();
    assert_eq!(
        user.default_verification_method,
        Some(VerificationMethod::AuthenticatorApp)
    );

    let answer = client
        .update_user(
            "u1",
            &UpdateUserRequest {
                default_verification_method: Some(VerificationMethod::Sms),
                locale: Some("de".into()),
                ..UpdateUserRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        answer.default_verification_method,
        Some(VerificationMethod::Sms)
    );
    let user = client.get_user("u1").await.unwrap();
    assert_eq!(
        user.default_verification_method,
        Some(VerificationMethod::Sms)
    );
    assert_eq!(user.locale.as_deref(), Some("de"));
    let (_, body) = raw(&emulator, Method::GET, "/users/u1", None).await;
    assert_known_keys(&body, &{
        let mut shape = fixture("get_user_locale_and_default_method");
        // Verified flags are documented elsewhere (the SDKs' mocks) and always sent.
        shape["emailVerified"] = false.into();
        shape["phoneNumberVerified"] = false.into();
        shape
    });

    // A method the user has not enrolled cannot be the default.
    let err = client
        .update_user(
            "u1",
            &UpdateUserRequest {
                default_verification_method: Some(VerificationMethod::EmailOtp),
                ..UpdateUserRequest::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(api_status(&err), 400);

    // A tracked action's locale becomes the user's.
    client
        .track(
            "u1",
            "withdraw",
            TrackAttributes {
                locale: Some("fr".into()),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        client.get_user("u1").await.unwrap().locale.as_deref(),
        Some("fr")
    );
}
