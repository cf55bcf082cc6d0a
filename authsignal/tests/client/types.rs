//! Serialization of the client's wire types: camelCase names, absent optionals omitted
//! (never `null`), custom keys sent as given, open enums, and the `action`/`actionCode`
//! alias of `validateChallenge`.

use std::collections::BTreeSet;

use crate::common::{Reply, TestServer};
use authsignal::types::*;
use serde::Serialize;
use serde_json::{Value, json};

fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("serializes")
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

/// Fails if `null` appears anywhere in `value`.
fn assert_no_null(value: &Value, context: &str) {
    match value {
        Value::Null => panic!("{context}: a null was serialized"),
        Value::Array(items) => items.iter().for_each(|item| assert_no_null(item, context)),
        Value::Object(map) => map.values().for_each(|item| assert_no_null(item, context)),
        _ => {}
    }
}

/// Checks a serialized request: exactly `expected` keys, all camelCase, no `null`.
fn assert_wire_keys(context: &str, value: &impl Serialize, expected: &[&str]) {
    let json = to_json(value);
    assert_no_null(&json, context);
    assert_eq!(keys(&json), set(expected), "{context}: {json}");
    for key in keys(&json) {
        assert!(
            !key.contains('_') && key.chars().next().unwrap().is_ascii_lowercase(),
            "{context}: key {key:?} is not camelCase"
        );
    }
}

fn custom() -> CustomData {
    let Value::Object(map) = json!({
        "it_could_be_a_bool": true,
        "SomeKey": "x",
        "snake_case_key": 1,
        "kebab-key": {"Inner_Key": [1, 2]},
    }) else {
        unreachable!()
    };
    map
}

const CUSTOM_KEYS: [&str; 4] = [
    "it_could_be_a_bool",
    "SomeKey",
    "snake_case_key",
    "kebab-key",
];

fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}

#[test]
fn track_attributes_full_and_empty() {
    let full = TrackAttributes {
        idempotency_key: s("k"),
        redirect_url: s("https://example.com"),
        redirect_to_settings: Some(true),
        ip_address: s("1.1.1.1"),
        user_agent: s("ua"),
        device_id: s("d"),
        scope: s("add:authenticators"),
        email: s("a@b.c"),
        phone_number: s("+64"),
        username: s("u"),
        custom: Some(custom()),
        challenge_id: s("c"),
        locale: s("en"),
        custom_domain: s("auth.example.com"),
    };
    assert_wire_keys(
        "TrackAttributes (full)",
        &full,
        &[
            "idempotencyKey",
            "redirectUrl",
            "redirectToSettings",
            "ipAddress",
            "userAgent",
            "deviceId",
            "scope",
            "email",
            "phoneNumber",
            "username",
            "custom",
            "challengeId",
            "locale",
            "customDomain",
        ],
    );
    assert_wire_keys("TrackAttributes (empty)", &TrackAttributes::default(), &[]);
    assert_eq!(
        serde_json::to_string(&TrackAttributes::default()).unwrap(),
        "{}"
    );
}

#[test]
fn every_request_type_is_camel_case_and_omits_absent_optionals() {
    // validateChallenge
    let full = ValidateChallengeRequest {
        token: "t".into(),
        user_id: s("u"),
        action: s("a"),
    };
    assert_wire_keys(
        "ValidateChallengeRequest",
        &full,
        &["token", "userId", "action"],
    );
    let min = ValidateChallengeRequest {
        token: "t".into(),
        ..Default::default()
    };
    assert_wire_keys("ValidateChallengeRequest (min)", &min, &["token"]);

    // queryUserActions (sent as a query string, but still serialized this way)
    let full = QueryUserActionsRequest {
        from_date: s("2024-01-01T00:00:00Z"),
        codes: vec!["a".into(), "b".into()],
        state: Some(UserActionState::Allow),
    };
    assert_wire_keys(
        "QueryUserActionsRequest",
        &full,
        &["fromDate", "codes", "state"],
    );
    assert_wire_keys(
        "QueryUserActionsRequest (min)",
        &QueryUserActionsRequest::default(),
        &[],
    );

    // updateAction
    let update = UpdateActionRequest {
        state: UserActionState::ReviewSucceeded,
    };
    assert_eq!(to_json(&update), json!({"state": "REVIEW_SUCCEEDED"}));

    // enrollVerifiedAuthenticator
    let full = EnrollVerifiedAuthenticatorRequest {
        verification_method: VerificationMethod::Sms,
        phone_number: s("+64"),
        email: s("a@b.c"),
        is_default: Some(false),
    };
    assert_wire_keys(
        "EnrollVerifiedAuthenticatorRequest",
        &full,
        &["verificationMethod", "phoneNumber", "email", "isDefault"],
    );
    assert_eq!(
        to_json(&EnrollVerifiedAuthenticatorRequest::new(
            VerificationMethod::EmailOtp
        )),
        json!({"verificationMethod": "EMAIL_OTP"})
    );

    // challenge
    let full = ChallengeRequest {
        verification_method: Some(VerificationMethod::Sms),
        action: s("a"),
        challenge_id: s("c"),
        idempotency_key: s("k"),
        user_id: s("u"),
        email: s("a@b.c"),
        phone_number: s("+64"),
        sms_channel: Some(SmsChannel::Whatsapp),
        locale: s("en"),
        device_id: s("d"),
        ip_address: s("1.1.1.1"),
        user_agent: s("ua"),
        custom: Some(custom()),
        scope: s("read:authenticators"),
    };
    assert_wire_keys(
        "ChallengeRequest",
        &full,
        &[
            "verificationMethod",
            "action",
            "challengeId",
            "idempotencyKey",
            "userId",
            "email",
            "phoneNumber",
            "smsChannel",
            "locale",
            "deviceId",
            "ipAddress",
            "userAgent",
            "custom",
            "scope",
        ],
    );
    assert_wire_keys("ChallengeRequest (min)", &ChallengeRequest::default(), &[]);

    // verify
    let verify = VerifyRequest {
        challenge_id: "c".into(),
        verification_code: "123456".into(),
    };
    assert_wire_keys(
        "VerifyRequest",
        &verify,
        &["challengeId", "verificationCode"],
    );

    // claimChallenge
    let full = ClaimChallengeRequest {
        challenge_id: "c".into(),
        user_id: "u".into(),
        skip_verification_check: Some(true),
    };
    assert_wire_keys(
        "ClaimChallengeRequest",
        &full,
        &["challengeId", "userId", "skipVerificationCheck"],
    );
    let min = ClaimChallengeRequest {
        skip_verification_check: None,
        ..full
    };
    assert_wire_keys(
        "ClaimChallengeRequest (min)",
        &min,
        &["challengeId", "userId"],
    );

    // getChallenge
    let full = GetChallengeRequest {
        challenge_id: s("c"),
        user_id: s("u"),
        action: s("a"),
        verification_method: Some(VerificationMethod::EmailOtp),
    };
    assert_wire_keys(
        "GetChallengeRequest",
        &full,
        &["challengeId", "userId", "action", "verificationMethod"],
    );
    assert_wire_keys(
        "GetChallengeRequest (min)",
        &GetChallengeRequest::default(),
        &[],
    );

    // queryUsers
    let full = QueryUsersRequest {
        username: s("u"),
        email: s("a@b.c"),
        phone_number: s("+64"),
        token: Some("t".into()),
        limit: Some(10),
        last_evaluated_user_id: s("u0"),
    };
    assert_wire_keys(
        "QueryUsersRequest",
        &full,
        &[
            "username",
            "email",
            "phoneNumber",
            "token",
            "limit",
            "lastEvaluatedUserId",
        ],
    );
    assert_wire_keys(
        "QueryUsersRequest (min)",
        &QueryUsersRequest::default(),
        &[],
    );

    // updateUser
    let full = UpdateUserRequest {
        email: s("a@b.c"),
        email_verified: Some(true),
        phone_number: s("+64"),
        phone_number_verified: Some(false),
        username: s("u"),
        display_name: s("U"),
        custom: Some(custom()),
        locale: s("en-NZ"),
        default_verification_method: Some(VerificationMethod::Sms),
    };
    assert_wire_keys(
        "UpdateUserRequest",
        &full,
        &[
            "email",
            "emailVerified",
            "phoneNumber",
            "phoneNumberVerified",
            "username",
            "displayName",
            "custom",
            "locale",
            "defaultVerificationMethod",
        ],
    );
    assert_wire_keys(
        "UpdateUserRequest (min)",
        &UpdateUserRequest::default(),
        &[],
    );

    // sessions
    let full = CreateSessionRequest {
        client_id: "c".into(),
        token: "t".into(),
        action: s("a"),
    };
    assert_wire_keys(
        "CreateSessionRequest",
        &full,
        &["clientId", "token", "action"],
    );
    let min = CreateSessionRequest {
        action: None,
        ..full
    };
    assert_wire_keys("CreateSessionRequest (min)", &min, &["clientId", "token"]);
    let full = ValidateSessionRequest {
        access_token: "t".into(),
        client_ids: Some(vec!["c".into()]),
    };
    assert_wire_keys(
        "ValidateSessionRequest",
        &full,
        &["accessToken", "clientIds"],
    );
    let min = ValidateSessionRequest {
        client_ids: None,
        ..full
    };
    assert_wire_keys("ValidateSessionRequest (min)", &min, &["accessToken"]);
    let refresh = RefreshSessionRequest {
        refresh_token: "r".into(),
    };
    assert_wire_keys("RefreshSessionRequest", &refresh, &["refreshToken"]);
    let revoke = RevokeSessionRequest {
        access_token: "t".into(),
    };
    assert_wire_keys("RevokeSessionRequest", &revoke, &["accessToken"]);
    let revoke_all = RevokeUserSessionsRequest {
        user_id: "u".into(),
    };
    assert_wire_keys("RevokeUserSessionsRequest", &revoke_all, &["userId"]);
}

#[test]
fn custom_keys_are_sent_as_given() {
    for (context, json) in [
        (
            "TrackAttributes",
            to_json(&TrackAttributes {
                custom: Some(custom()),
                ..Default::default()
            }),
        ),
        (
            "ChallengeRequest",
            to_json(&ChallengeRequest {
                custom: Some(custom()),
                ..Default::default()
            }),
        ),
        (
            "UpdateUserRequest",
            to_json(&UpdateUserRequest {
                custom: Some(custom()),
                ..Default::default()
            }),
        ),
    ] {
        assert_eq!(keys(&json["custom"]), set(&CUSTOM_KEYS), "{context}");
        assert_eq!(
            json["custom"]["kebab-key"],
            json!({"Inner_Key": [1, 2]}),
            "{context}"
        );
    }
}

#[tokio::test]
async fn track_without_attributes_sends_only_a_generated_idempotency_key() {
    let server = TestServer::fixed(Reply::json(
        200,
        json!({"idempotencyKey": "k", "state": "ALLOW"}),
    ))
    .await;
    let client = server.client();
    client
        .track("user-1", "signIn", TrackAttributes::default())
        .await
        .unwrap();
    // An empty caller-given key is replaced, too.
    client
        .track(
            "user-1",
            "signIn",
            TrackAttributes {
                idempotency_key: s(""),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let mut generated = BTreeSet::new();
    for request in &requests {
        let body = request.json();
        assert_eq!(keys(&body), set(&["idempotencyKey"]), "{body}");
        let key = body["idempotencyKey"].as_str().expect("a string key");
        uuid::Uuid::parse_str(key).unwrap_or_else(|_| panic!("not a UUID: {key:?}"));
        generated.insert(key.to_owned());
    }
    assert_eq!(generated.len(), 2, "each call gets its own key");
}

#[tokio::test]
async fn bodies_on_the_wire_omit_absent_optionals() {
    let server = TestServer::start(|request, _| match request.method.as_str() {
        "PATCH" => Reply::json(200, json!({"email": "a@b.c"})),
        _ => Reply::json(200, json!({"idempotencyKey": "k", "state": "ALLOW"})),
    })
    .await;
    let client = server.client();
    client
        .track(
            "u",
            "a",
            TrackAttributes {
                idempotency_key: s("given"),
                email: s("a@b.c"),
                custom: Some(custom()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .update_user(
            "u",
            &UpdateUserRequest {
                email: s("a@b.c"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(
        requests[0].json(),
        json!({"idempotencyKey": "given", "email": "a@b.c", "custom": Value::Object(custom())})
    );
    assert_eq!(requests[1].json(), json!({"email": "a@b.c"}));
}

#[tokio::test]
async fn query_strings_carry_only_the_set_criteria() {
    let server = TestServer::start(|request, _| {
        if request.path_and_query.starts_with("/v1/users/u/actions") {
            Reply::json(200, json!([]))
        } else if request.path_and_query.starts_with("/v1/challenges") {
            Reply::json(200, json!({}))
        } else {
            Reply::json(200, json!({"users": []}))
        }
    })
    .await;
    let client = server.client();
    client
        .query_users(&QueryUsersRequest::default())
        .await
        .unwrap();
    client
        .query_users(&QueryUsersRequest {
            phone_number: s("+64 21"),
            limit: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .query_user_actions("u", &QueryUserActionsRequest::default())
        .await
        .unwrap();
    client
        .query_user_actions(
            "u",
            &QueryUserActionsRequest {
                codes: vec!["signIn".into(), "withdraw".into()],
                state: Some(UserActionState::ChallengeRequired),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .get_challenge(&GetChallengeRequest {
            challenge_id: s("c-1"),
            ..Default::default()
        })
        .await
        .unwrap();
    // The order of the pairs is not part of the contract: compare them sorted.
    let normalize = |raw: &str| -> (String, Option<Vec<String>>) {
        match raw.split_once('?') {
            None => (raw.to_owned(), None),
            Some((path, query)) => {
                let mut pairs: Vec<String> = query.split('&').map(str::to_owned).collect();
                pairs.sort();
                (path.to_owned(), Some(pairs))
            }
        }
    };
    let seen: Vec<_> = server
        .requests()
        .iter()
        .map(|request| normalize(&request.path_and_query))
        .collect();
    let expected: Vec<_> = [
        "/v1/users",
        "/v1/users?limit=5&phoneNumber=%2B64+21",
        "/v1/users/u/actions",
        "/v1/users/u/actions?codes=signIn%2Cwithdraw&state=CHALLENGE_REQUIRED",
        "/v1/challenges?challengeId=c-1",
    ]
    .iter()
    .map(|raw| normalize(raw))
    .collect();
    assert_eq!(seen, expected);
}

/// Known values map to their variants and back; unknown ones land in `Other` and
/// serialize back unchanged.
fn check_open_enum<E>(known: &[(E, &str)])
where
    E: serde::de::DeserializeOwned
        + Serialize
        + PartialEq
        + std::fmt::Debug
        + for<'a> From<&'a str>,
{
    for (variant, wire) in known {
        let decoded: E = serde_json::from_value(json!(wire)).unwrap();
        assert_eq!(&decoded, variant, "{wire}");
        assert_eq!(to_json(variant), json!(wire));
    }
    for unknown in ["SOMETHING_NEW", "allow", "", "ünïcode"] {
        let decoded: E = serde_json::from_value(json!(unknown)).unwrap();
        assert_eq!(decoded, E::from(unknown));
        assert_eq!(
            to_json(&decoded),
            json!(unknown),
            "round trip of {unknown:?}"
        );
    }
}

#[test]
fn open_enums_keep_unknown_values() {
    use UserActionState as S;
    check_open_enum(&[
        (S::Allow, "ALLOW"),
        (S::Block, "BLOCK"),
        (S::ChallengeRequired, "CHALLENGE_REQUIRED"),
        (S::ChallengeSucceeded, "CHALLENGE_SUCCEEDED"),
        (S::ChallengeFailed, "CHALLENGE_FAILED"),
        (S::ReviewRequired, "REVIEW_REQUIRED"),
        (S::ReviewSucceeded, "REVIEW_SUCCEEDED"),
        (S::ReviewFailed, "REVIEW_FAILED"),
    ]);
    use VerificationMethod as M;
    check_open_enum(&[
        (M::Sms, "SMS"),
        (M::EmailOtp, "EMAIL_OTP"),
        (M::EmailMagicLink, "EMAIL_MAGIC_LINK"),
        (M::AuthenticatorApp, "AUTHENTICATOR_APP"),
        (M::Passkey, "PASSKEY"),
        (M::SecurityKey, "SECURITY_KEY"),
        (M::Push, "PUSH"),
        (M::Veriff, "VERIFF"),
        (M::Iproov, "IPROOV"),
        (M::Idverse, "IDVERSE"),
        (M::PalmBiometricsRr, "PALM_BIOMETRICS_RR"),
        (M::RecoveryCode, "RECOVERY_CODE"),
        (M::Device, "DEVICE"),
        (M::Whatsapp, "WHATSAPP"),
    ]);
    check_open_enum(&[
        (SmsChannel::Whatsapp, "WHATSAPP"),
        (SmsChannel::Default, "DEFAULT"),
    ]);
    check_open_enum(&[
        (
            VerificationFailureReason::CodeInvalidOrExpired,
            "CODE_INVALID_OR_EXPIRED",
        ),
        (
            VerificationFailureReason::MaxAttemptsExceeded,
            "MAX_ATTEMPTS_EXCEEDED",
        ),
    ]);

    // Explicitly: the unknown value is kept in `Other`, in every enum.
    let other = |wire: &str| json!(wire);
    assert_eq!(
        serde_json::from_value::<UserActionState>(other("NEW_STATE")).unwrap(),
        UserActionState::Other("NEW_STATE".into())
    );
    assert_eq!(
        serde_json::from_value::<VerificationMethod>(other("PALM_V2")).unwrap(),
        VerificationMethod::Other("PALM_V2".into())
    );
    assert_eq!(
        serde_json::from_value::<SmsChannel>(other("RCS")).unwrap(),
        SmsChannel::Other("RCS".into())
    );
    assert_eq!(
        serde_json::from_value::<VerificationFailureReason>(other("LOCKED")).unwrap(),
        VerificationFailureReason::Other("LOCKED".into())
    );
    assert_eq!(UserActionState::Other("X".into()).as_str(), "X");
}

#[test]
fn responses_with_unknown_enum_values_still_decode() {
    let track: TrackResponse = serde_json::from_value(json!({
        "idempotencyKey": "k",
        "state": "BRAND_NEW_STATE",
        "allowedVerificationMethods": ["SMS", "TELEPATHY"],
        "defaultVerificationMethod": "TELEPATHY",
    }))
    .unwrap();
    assert_eq!(
        track.state,
        UserActionState::Other("BRAND_NEW_STATE".into())
    );
    assert_eq!(
        track.allowed_verification_methods.unwrap(),
        [
            VerificationMethod::Sms,
            VerificationMethod::Other("TELEPATHY".into())
        ]
    );
    let verify: VerifyResponse = serde_json::from_value(json!({
        "isVerified": false,
        "failureReason": "ACCOUNT_LOCKED",
    }))
    .unwrap();
    assert_eq!(
        verify.failure_reason,
        Some(VerificationFailureReason::Other("ACCOUNT_LOCKED".into()))
    );
    let challenge: GetChallengeResponse =
        serde_json::from_value(json!({"smsChannel": "RCS"})).unwrap();
    assert_eq!(challenge.sms_channel, Some(SmsChannel::Other("RCS".into())));
}

#[test]
fn validate_response_accepts_action_action_code_or_both_when_they_agree() {
    let decode = |body: Value| -> ValidateChallengeResponse {
        serde_json::from_value(body.clone()).unwrap_or_else(|err| panic!("{body}: {err}"))
    };
    let only_action = decode(json!({"isValid": true, "action": "signIn"}));
    assert_eq!(only_action.action.as_deref(), Some("signIn"));
    let only_code = decode(json!({"isValid": true, "actionCode": "signIn"}));
    assert_eq!(only_code.action.as_deref(), Some("signIn"));
    let both = decode(json!({"isValid": true, "action": "signIn", "actionCode": "signIn"}));
    assert_eq!(both.action.as_deref(), Some("signIn"));
    assert!(both.is_valid);
    let neither = decode(json!({"isValid": false, "error": "User is invalid."}));
    assert_eq!(neither.action, None);
    assert_eq!(neither.error.as_deref(), Some("User is invalid."));
    // Neither name wins if they disagree: the answer does not decode.
    let differing = serde_json::from_value::<ValidateChallengeResponse>(
        json!({"isValid": true, "action": "new", "actionCode": "old"}),
    )
    .unwrap_err();
    assert!(
        differing
            .to_string()
            .contains("`action` and `actionCode` name different actions"),
        "{differing}"
    );
    // Serializing uses the current name only, with no nulls.
    let wire = to_json(&both);
    assert_no_null(&wire, "ValidateChallengeResponse");
    assert_eq!(wire, json!({"isValid": true, "action": "signIn"}));
}
