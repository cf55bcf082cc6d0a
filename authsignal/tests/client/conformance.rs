//! Wire conformance: every pair of `tests/fixtures/sdk-wire-fixtures.json` (what the SDKs'
//! own tests mock) and of `tests/fixtures/extra-wire-fixtures.json` (the operations and
//! fields those lack, from the API reference and the SDKs' sources) is replayed against a
//! local server. Our request must match the fixture (method, encoded path, Basic
//! auth with an empty password, JSON body, `User-Agent`, `X-Authsignal-Version`) and the
//! fixture's answer must decode into the typed response (or the right error).
//!
//! Every case is handled by name; a fixture this file does not know fails the test, so new
//! fixtures cannot be skipped silently.

use crate::common;

use crate::common::{Recorded, Reply, TEST_SECRET, TestServer};
use authsignal::types::*;
use authsignal::*;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value, json};

const FIXTURES: &str = include_str!("../fixtures/sdk-wire-fixtures.json");
const EXTRA_FIXTURES: &str = include_str!("../fixtures/extra-wire-fixtures.json");

fn fixtures() -> Map<String, Value> {
    parse_fixtures(FIXTURES)
}

fn parse_fixtures(text: &str) -> Map<String, Value> {
    let Value::Object(all) = serde_json::from_str(text).expect("fixtures are JSON") else {
        panic!("the fixtures file is not an object")
    };
    all
}

fn str_of<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("fixture has no string {key:?}: {case}"))
}

fn opt_str(value: &Value, key: &str) -> Option<String> {
    value.get(key).map(|v| {
        v.as_str()
            .unwrap_or_else(|| panic!("{key} is not a string"))
            .to_owned()
    })
}

/// The decoded segments of a fixture path, e.g. `/users/123%3Atest` -> `["users", "123:test"]`.
fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .unwrap()
                .into_owned()
        })
        .collect()
}

/// Fails unless the keys of `object` are exactly `handled`: a fixture field this file
/// does not map must not be dropped silently.
fn assert_keys(name: &str, object: &Value, handled: &[&str]) {
    let mut keys: Vec<&str> = object
        .as_object()
        .unwrap_or_else(|| panic!("{name}: not an object"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut handled = handled.to_vec();
    handled.sort_unstable();
    assert_eq!(keys, handled, "{name}: unhandled request fields");
}

/// The answer a fixture describes: its status (200 by default), its headers
/// (`Content-Type: application/json` by default) and its body (`null`: no body).
fn fixture_reply(case: &Value) -> Reply {
    let status = case
        .get("response_status")
        .map_or(200, |status| status.as_u64().unwrap() as u16);
    let body = match case.get("response_body") {
        None | Some(Value::Null) => Vec::new(),
        Some(body) => body.to_string().into_bytes(),
    };
    let mut reply = Reply::raw(status, body);
    match case.get("response_headers") {
        Some(Value::Object(headers)) => {
            for (name, value) in headers {
                reply = reply.header(name, value.as_str().unwrap());
            }
        }
        None => reply = reply.header("content-type", "application/json"),
        Some(other) => panic!("response_headers is not an object: {other}"),
    }
    reply
}

/// Checks everything about our request: method, raw path and query, Basic auth with the
/// secret as user name and an empty password, the SDK headers, and the JSON body (or none).
fn check_request(name: &str, request: &Recorded, method: &str, path: &str, body: Option<&Value>) {
    assert_eq!(request.method.as_str(), method, "{name}: method");
    assert_eq!(request.path_and_query, format!("/v1{path}"), "{name}: path");

    let authorization = request.header("authorization").expect("Authorization");
    let encoded = authorization
        .strip_prefix("Basic ")
        .unwrap_or_else(|| panic!("{name}: not Basic auth"));
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let decoded = String::from_utf8(decoded).unwrap();
    let (user, password) = decoded.split_once(':').expect("user:password");
    assert_eq!(user, TEST_SECRET, "{name}: Basic user name");
    assert_eq!(password, "", "{name}: Basic password must be empty");

    assert_eq!(
        request.header("user-agent"),
        Some(concat!(
            env!("CARGO_PKG_NAME"),
            "/",
            env!("CARGO_PKG_VERSION")
        )),
        "{name}: User-Agent"
    );
    assert_eq!(
        request.header("x-authsignal-version"),
        Some(env!("CARGO_PKG_VERSION")),
        "{name}: X-Authsignal-Version"
    );

    match body {
        Some(expected) => {
            assert_eq!(
                request.header("content-type"),
                Some("application/json"),
                "{name}: Content-Type"
            );
            assert_eq!(&request.json(), expected, "{name}: body");
        }
        None => {
            assert_eq!(request.header("content-type"), None, "{name}: Content-Type");
            assert!(request.body.is_empty(), "{name}: unexpected body");
        }
    }
}

/// Checks that the typed response carries the fixture's values: every field of `fixture`
/// (recursively) equals the typed value serialized back, except the `unmodeled` paths
/// (e.g. `authenticator.oobChannel`), and whatever the typed value has beyond the fixture
/// is an empty default (`false`, `0`, `[]`), never invented data.
fn check_decoded(name: &str, typed: &impl Serialize, fixture: &Value, unmodeled: &[&str]) {
    let actual = serde_json::to_value(typed).unwrap();
    compare(name, "", &actual, fixture, unmodeled);
}

fn compare(name: &str, path: &str, actual: &Value, fixture: &Value, unmodeled: &[&str]) {
    match (actual, fixture) {
        (Value::Object(actual), Value::Object(fixture)) => {
            for (key, expected) in fixture {
                let key_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if unmodeled.contains(&key_path.as_str()) {
                    continue;
                }
                let value = actual
                    .get(key)
                    .unwrap_or_else(|| panic!("{name}: `{key_path}` was not decoded"));
                compare(name, &key_path, value, expected, unmodeled);
            }
            for (key, value) in actual {
                if !fixture.contains_key(key) {
                    let empty = matches!(value, Value::Bool(false))
                        || value.as_u64() == Some(0)
                        || value.as_array().is_some_and(Vec::is_empty);
                    assert!(
                        empty,
                        "{name}: `{path}.{key}` = {value} is not in the fixture"
                    );
                }
            }
        }
        (Value::Array(actual), Value::Array(fixture)) => {
            assert_eq!(actual.len(), fixture.len(), "{name}: `{path}` length");
            for (index, (actual, fixture)) in actual.iter().zip(fixture).enumerate() {
                compare(
                    name,
                    &format!("{path}[{index}]"),
                    actual,
                    fixture,
                    unmodeled,
                );
            }
        }
        _ => assert_eq!(actual, fixture, "{name}: `{path}`"),
    }
}

fn api_error(name: &str, err: Error) -> ApiError {
    match err {
        Error::Api(api) => api,
        other => panic!("{name}: expected Error::Api, got {other:?}"),
    }
}

/// Starts a server answering `reply` to everything.
async fn server_for(reply: Reply) -> TestServer {
    TestServer::fixed(reply).await
}

// ---- the cases ----------------------------------------------------------------------------

async fn validate_case(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "POST");
    let request_body = &case["request_body"];
    let handled: Vec<&str> = ["token", "userId", "action"]
        .into_iter()
        .filter(|key| request_body.get(key).is_some())
        .collect();
    assert_keys(name, request_body, &handled);
    let request = ValidateChallengeRequest {
        token: str_of(request_body, "token").into(),
        user_id: opt_str(request_body, "userId"),
        action: opt_str(request_body, "action"),
    };
    let server = server_for(fixture_reply(case)).await;
    let response = server.client().validate_challenge(&request).await.unwrap();
    check_request(
        name,
        &server.only_request(),
        "POST",
        str_of(case, "path"),
        Some(request_body),
    );

    let body = &case["response_body"];
    check_decoded(name, &response, body, &["actionCode"]);
    assert_eq!(
        response.is_valid,
        body["isValid"].as_bool().unwrap(),
        "{name}"
    );
    assert_eq!(
        response.state.as_ref().map(UserActionState::as_str),
        body.get("state").and_then(Value::as_str),
        "{name}"
    );
    // `action` comes from `action`, or else the deprecated `actionCode`.
    let action = body
        .get("action")
        .or_else(|| body.get("actionCode"))
        .and_then(Value::as_str);
    assert_eq!(response.action.as_deref(), action, "{name}");
    if let Some(code) = body.get("actionCode") {
        assert_eq!(response.action.as_deref(), code.as_str(), "{name}");
    }
}

async fn error_401_live(name: &str, case: &Value) {
    // A shape only (no request): the live body is inferred to carry both `error` and
    // `errorCode`; each SDK reads one of them, so all three variants must decode alike.
    assert_eq!(case["status"], 401);
    let code = str_of(case, "errorCode");
    let description = str_of(case, "errorDescription");
    for body in [
        json!({"error": code, "errorCode": code, "errorDescription": description}),
        json!({"error": code, "errorDescription": description}),
        json!({"errorCode": code, "errorDescription": description}),
    ] {
        let server = server_for(Reply::json(401, body.clone())).await;
        let err = server.client().get_user("1234").await.unwrap_err();
        check_request(name, &server.only_request(), "GET", "/users/1234", None);
        let text = err.to_string();
        let api = api_error(name, err);
        assert_eq!(api.status, 401, "{name}: {body}");
        assert_eq!(api.code.as_deref(), Some(code), "{name}: {body}");
        assert_eq!(api.description.as_deref(), Some(description), "{name}");
        assert!(text.contains("401") && text.contains(description), "{text}");
    }
}

async fn error_404_mock(name: &str, case: &Value) {
    // No request body in the fixture: any validate request gets this answer.
    assert_eq!(str_of(case, "method"), "POST");
    let server = server_for(fixture_reply(case)).await;
    let err = server
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: "token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    check_request(
        name,
        &server.only_request(),
        "POST",
        str_of(case, "path"),
        Some(&json!({"token": "token"})),
    );
    let api = api_error(name, err);
    assert_eq!(api.status, 404);
    assert_eq!(api.code.as_deref(), case["response_body"]["error"].as_str());
    assert_eq!(
        api.description.as_deref(),
        case["response_body"]["errorDescription"].as_str()
    );
}

/// A track whose fixture has no request body: we send only the generated key.
async fn track_without_body(name: &str, case: &Value) -> (Result<TrackResponse, Error>, Value) {
    assert_eq!(str_of(case, "method"), "POST");
    assert!(case.get("request_body").is_none(), "{name}");
    let path = str_of(case, "path");
    let parts = segments(path);
    let [users, user_id, actions, action] = parts.as_slice() else {
        panic!("{name}: not a track path: {path}")
    };
    assert_eq!((users.as_str(), actions.as_str()), ("users", "actions"));
    let server = server_for(fixture_reply(case)).await;
    let result = server
        .client()
        .track(user_id, action, TrackAttributes::default())
        .await;
    let request = server.only_request();
    let sent = request.json();
    assert_keys(name, &sent, &["idempotencyKey"]);
    uuid::Uuid::parse_str(sent["idempotencyKey"].as_str().unwrap()).expect("a UUID key");
    check_request(name, &request, "POST", path, Some(&sent));
    (result, sent)
}

async fn error_401_text_plain(name: &str, case: &Value) {
    assert_eq!(case["response_headers"]["Content-Type"], "text/plain");
    let (result, _) = track_without_body(name, case).await;
    let api = api_error(name, result.unwrap_err());
    assert_eq!(api.status, 401);
    assert_eq!(api.code.as_deref(), Some("unauthorized"));
    assert_eq!(api.description.as_deref(), Some("Session expired"));
}

async fn error_400_empty(name: &str, case: &Value) {
    assert_eq!(case["response_body"], Value::Null);
    let (result, _) = track_without_body(name, case).await;
    let api = api_error(name, result.unwrap_err());
    assert_eq!(api.status, 400);
    assert_eq!(api.code, None);
    assert_eq!(api.description, None);
}

async fn track_request_full(name: &str, case: &Value) {
    let body = &case["request_body"];
    assert_keys(
        name,
        body,
        &[
            "idempotencyKey",
            "redirectUrl",
            "email",
            "deviceId",
            "userAgent",
            "ipAddress",
            "custom",
        ],
    );
    let attributes = TrackAttributes {
        idempotency_key: opt_str(body, "idempotencyKey"),
        redirect_url: opt_str(body, "redirectUrl"),
        email: opt_str(body, "email"),
        device_id: opt_str(body, "deviceId"),
        user_agent: opt_str(body, "userAgent"),
        ip_address: opt_str(body, "ipAddress"),
        custom: body["custom"].as_object().cloned(),
        ..Default::default()
    };
    let path = str_of(case, "path");
    let parts = segments(path);
    let server = server_for(fixture_reply(case)).await;
    let response = server
        .client()
        .track(&parts[1], &parts[3], attributes)
        .await
        .unwrap();
    check_request(name, &server.only_request(), "POST", path, Some(body));
    check_decoded(name, &response, &case["response_body"], &[]);
    assert_eq!(response.state, UserActionState::Allow);
    assert_eq!(response.idempotency_key, str_of(body, "idempotencyKey"));
    assert_eq!(response.rule_ids, Some(vec![]));
    assert_eq!(response.token, None);
}

async fn track_response_challenge(name: &str, case: &Value) {
    // The user id `123:test` must be sent as `123%3Atest`, as the fixture's path has it.
    assert!(str_of(case, "path").contains("123%3Atest"));
    let (result, _) = track_without_body(name, case).await;
    let response = result.unwrap();
    let body = &case["response_body"];
    check_decoded(name, &response, body, &[]);
    assert_eq!(response.state, UserActionState::ChallengeRequired);
    assert_eq!(
        response.token.as_ref().map(Token::as_str),
        body["token"].as_str()
    );
}

async fn get_action(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "GET");
    let path = str_of(case, "path");
    let parts = segments(path);
    let [_, user_id, _, action, key] = parts.as_slice() else {
        panic!("{name}: not an action path: {path}")
    };
    let server = server_for(fixture_reply(case)).await;
    let response = server
        .client()
        .get_action(user_id, action, key)
        .await
        .unwrap();
    check_request(name, &server.only_request(), "GET", path, None);
    check_decoded(name, &response, &case["response_body"], &[]);
    assert_eq!(response.state, UserActionState::Allow);
}

async fn update_action(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "PATCH");
    let body = &case["request_body"];
    assert_keys(name, body, &["state"]);
    let path = str_of(case, "path");
    let parts = segments(path);
    let [_, user_id, _, action, key] = parts.as_slice() else {
        panic!("{name}: not an action path: {path}")
    };
    let update = UpdateActionRequest {
        state: UserActionState::from(str_of(body, "state")),
    };
    let server = server_for(fixture_reply(case)).await;
    let response = server
        .client()
        .update_action(user_id, action, key, &update)
        .await
        .unwrap();
    check_request(name, &server.only_request(), "PATCH", path, Some(body));
    check_decoded(name, &response, &case["response_body"], &[]);
}

async fn get_authenticators(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "GET");
    let path = str_of(case, "path");
    let parts = segments(path);
    let server = server_for(fixture_reply(case)).await;
    let response = server.client().get_authenticators(&parts[1]).await.unwrap();
    check_request(name, &server.only_request(), "GET", path, None);
    check_decoded(name, &response, &case["response_body"], &[]);
    assert_eq!(
        response[0].verification_method,
        Some(VerificationMethod::EmailMagicLink)
    );
}

async fn enroll_legacy(name: &str, case: &Value) {
    // The request is the legacy `oobChannel` shape, which this crate does not send: it
    // sends the current shape for the same authenticator. The answer must decode.
    let legacy = &case["request_body"];
    assert_keys(name, legacy, &["oobChannel", "phoneNumber"]);
    let request = EnrollVerifiedAuthenticatorRequest {
        phone_number: opt_str(legacy, "phoneNumber"),
        ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::from(str_of(
            legacy,
            "oobChannel",
        )))
    };
    let path = str_of(case, "path");
    let parts = segments(path);
    let server = server_for(fixture_reply(case)).await;
    let response = server
        .client()
        .enroll_verified_authenticator(&parts[1], &request)
        .await
        .unwrap();
    check_request(
        name,
        &server.only_request(),
        "POST",
        path,
        Some(
            &json!({"verificationMethod": legacy["oobChannel"], "phoneNumber": legacy["phoneNumber"]}),
        ),
    );
    check_decoded(
        name,
        &response,
        &case["response_body"],
        &[
            "authenticator.authenticatorType",
            "authenticator.isDefault",
            "authenticator.oobChannel",
        ],
    );
    assert_eq!(response.authenticator.verification_method, None);
    assert_eq!(response.recovery_codes, Some(vec!["xxxx".to_owned()]));
}

async fn enroll_current(name: &str, case: &Value) {
    // The path has a `{uuid}` placeholder and the fixture has no answer: a fresh UUID
    // stands in for the user, and a minimal answer is served.
    let template = str_of(case, "path");
    assert!(template.contains("{uuid}"), "{name}");
    let user_id = uuid::Uuid::new_v4().to_string();
    let path = template.replace("{uuid}", &user_id);
    assert!(case.get("response_body").is_none(), "{name}");
    let body = &case["request_body"];
    assert_keys(name, body, &["verificationMethod", "phoneNumber"]);
    let request = EnrollVerifiedAuthenticatorRequest {
        phone_number: opt_str(body, "phoneNumber"),
        ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::from(str_of(
            body,
            "verificationMethod",
        )))
    };
    let answer = json!({"authenticator": {"userId": user_id, "userAuthenticatorId": "a-1", "verificationMethod": "SMS", "phoneNumber": body["phoneNumber"]}});
    let server = server_for(Reply::json(200, answer.clone())).await;
    let response = server
        .client()
        .enroll_verified_authenticator(&user_id, &request)
        .await
        .unwrap();
    check_request(name, &server.only_request(), "POST", &path, Some(body));
    check_decoded(name, &response, &answer, &[]);
}

async fn delete_user_or_authenticator(name: &str, case: &Value) {
    // No path: both DELETE operations get the answer.
    assert_eq!(str_of(case, "method"), "DELETE");
    assert!(case.get("path").is_none(), "{name}");
    let server = server_for(fixture_reply(case)).await;
    server.client().delete_user("u/1").await.unwrap();
    check_request(name, &server.only_request(), "DELETE", "/users/u%2F1", None);

    let server = server_for(fixture_reply(case)).await;
    server
        .client()
        .delete_authenticator("u/1", "a-1")
        .await
        .unwrap();
    let path = "/users/u%2F1/authenticators/a-1";
    check_request(name, &server.only_request(), "DELETE", path, None);
}

async fn query_users(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "GET");
    let path = str_of(case, "path");
    let (_, query) = path.split_once('?').expect("a query");
    let email = query.strip_prefix("email=").expect("an email query");
    let email = percent_encoding::percent_decode_str(email)
        .decode_utf8()
        .unwrap();
    let server = server_for(fixture_reply(case)).await;
    let response = server
        .client()
        .query_users(&QueryUsersRequest {
            email: Some(email.into_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    check_request(name, &server.only_request(), "GET", path, None);
    check_decoded(name, &response, &case["response_body"], &[]);
}

async fn get_user(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "GET");
    let path = str_of(case, "path");
    let parts = segments(path);
    let server = server_for(fixture_reply(case)).await;
    let response = server.client().get_user(&parts[1]).await.unwrap();
    check_request(name, &server.only_request(), "GET", path, None);
    check_decoded(name, &response, &case["response_body"], &[]);
    assert!(!response.is_enrolled);
}

#[tokio::test]
async fn every_fixture_is_replayed() {
    let fixtures = fixtures();
    let mut replayed = Vec::new();
    for (name, case) in &fixtures {
        if name.starts_with('_') {
            continue;
        }
        let name = name.as_str();
        match name {
            "validate_success_userId_ok"
            | "validate_userId_mismatch"
            | "validate_action_mismatch"
            | "validate_success_no_userId_with_deprecated_actionCode"
            | "validate_challenge_required_not_yet_completed" => validate_case(name, case).await,
            "error_401_unauthorized_live_text" => error_401_live(name, case).await,
            "error_404_mock" => error_404_mock(name, case).await,
            "error_401_mock_text_plain" => error_401_text_plain(name, case).await,
            "error_400_empty_body" => error_400_empty(name, case).await,
            "track_request_full" => track_request_full(name, case).await,
            "track_response_challenge" => track_response_challenge(name, case).await,
            "get_action" => get_action(name, case).await,
            "update_action" => update_action(name, case).await,
            "get_authenticators" => get_authenticators(name, case).await,
            "enroll_verified_authenticator_legacy_shape" => enroll_legacy(name, case).await,
            "enroll_verified_authenticator_current_request" => enroll_current(name, case).await,
            "delete_user_or_authenticator" => delete_user_or_authenticator(name, case).await,
            "query_users" => query_users(name, case).await,
            "get_user_mock" => get_user(name, case).await,
            unknown => panic!("fixture case {unknown:?} is not handled by this test"),
        }
        replayed.push(name.to_owned());
    }
    let cases = fixtures
        .keys()
        .filter(|name| !name.starts_with('_'))
        .count();
    assert!(cases >= 19, "fixtures went missing: {cases}");
    assert_eq!(replayed.len(), cases, "replayed {replayed:?}");
}

#[tokio::test]
async fn sdk_headers_are_sent_on_every_kind_of_call() {
    let server = TestServer::fixed(Reply::json(200, json!({}))).await;
    let client = server.client();
    let _ = client.get_user("u").await;
    let _ = client.update_user("u", &UpdateUserRequest::default()).await;
    let _ = client.delete_user("u").await;
    let _ = client
        .revoke_user_sessions(&RevokeUserSessionsRequest {
            user_id: "u".into(),
        })
        .await;
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    for request in &requests {
        assert_eq!(
            request.header("user-agent"),
            Some(concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION")
            ))
        );
        assert_eq!(
            request.header("x-authsignal-version"),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            request.header("authorization"),
            Some(common::basic_auth(TEST_SECRET).as_str())
        );
    }
}

// ---- the extra fixtures: devices, batch enrollment, newer fields ---------------------------

async fn get_devices(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "GET");
    let path = str_of(case, "path");
    let parts = segments(path);
    let [_, user_id, _] = parts.as_slice() else {
        panic!("{name}: not a devices path: {path}")
    };
    let server = server_for(fixture_reply(case)).await;
    let devices = server.client().get_devices(user_id).await.unwrap();
    check_request(name, &server.only_request(), "GET", path, None);
    check_decoded(name, &devices, &case["response_body"], &[]);
    assert_eq!(
        devices[0].last_verification_method,
        Some(VerificationMethod::Sms)
    );
}

async fn invalidate_device(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "POST");
    assert!(
        case.get("request_body").is_none(),
        "{name}: no body is sent"
    );
    let path = str_of(case, "path");
    let parts = segments(path);
    let [_, user_id, _, device_id, _] = parts.as_slice() else {
        panic!("{name}: not an invalidate path: {path}")
    };
    // The device id `device/1` must travel as one segment, `device%2F1`.
    assert_eq!(device_id, "device/1");
    let server = server_for(fixture_reply(case)).await;
    let device = server
        .client()
        .invalidate_device(user_id, device_id)
        .await
        .unwrap();
    check_request(name, &server.only_request(), "POST", path, None);
    check_decoded(name, &device, &case["response_body"], &[]);
    assert!(device.invalidated_at.is_some());
}

async fn update_device(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "PATCH");
    let body = &case["request_body"];
    assert_keys(name, body, &["rememberedUntil"]);
    let update = match &body["rememberedUntil"] {
        Value::Null => UpdateDeviceRequest::forget(),
        until => UpdateDeviceRequest::remember_until(until.as_str().unwrap()),
    };
    let path = str_of(case, "path");
    let parts = segments(path);
    let server = server_for(fixture_reply(case)).await;
    let device = server
        .client()
        .update_device(&parts[1], &parts[3], &update)
        .await
        .unwrap();
    // `null` is sent, not left out: it is what clears the value.
    check_request(name, &server.only_request(), "PATCH", path, Some(body));
    check_decoded(name, &device, &case["response_body"], &[]);
}

async fn batch_enroll(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "POST");
    let body = &case["request_body"];
    assert_keys(name, body, &["authenticators"]);
    let items = body["authenticators"].as_array().unwrap();
    let authenticators = items
        .iter()
        .map(|item| {
            let handled: Vec<&str> = [
                "userId",
                "verificationMethod",
                "credentialId",
                "credentialPublicKey",
                "name",
                "transports",
                "aaguid",
            ]
            .into_iter()
            .filter(|key| item.get(key).is_some())
            .collect();
            assert_keys(name, item, &handled);
            BatchEnrollAuthenticator {
                name: opt_str(item, "name"),
                transports: item.get("transports").map(|transports| {
                    serde_json::from_value(transports.clone()).expect("a list of strings")
                }),
                aaguid: opt_str(item, "aaguid"),
                verification_method: VerificationMethod::from(str_of(item, "verificationMethod")),
                ..BatchEnrollAuthenticator::passkey(
                    str_of(item, "userId"),
                    str_of(item, "credentialId"),
                    str_of(item, "credentialPublicKey"),
                )
            }
        })
        .collect();
    let request = BatchEnrollVerifiedAuthenticatorsRequest { authenticators };
    let server = server_for(fixture_reply(case)).await;
    let response = server
        .client()
        .batch_enroll_verified_authenticators(&request)
        .await
        .unwrap();
    check_request(
        name,
        &server.only_request(),
        "POST",
        str_of(case, "path"),
        Some(body),
    );
    check_decoded(name, &response, &case["response_body"], &[]);
    assert_eq!(response.failures[0].error_code, "conflict");
}

async fn validate_veriff(name: &str, case: &Value) {
    let request_body = &case["request_body"];
    assert_keys(name, request_body, &["token", "userId"]);
    let server = server_for(fixture_reply(case)).await;
    let response = server
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: str_of(request_body, "token").into(),
            user_id: opt_str(request_body, "userId"),
            action: None,
        })
        .await
        .unwrap();
    check_request(
        name,
        &server.only_request(),
        "POST",
        str_of(case, "path"),
        Some(request_body),
    );
    // Only `actionCode` on the wire (what the .NET SDK reads): it decodes as `action`.
    let mut expected = case["response_body"].clone();
    let code = expected
        .as_object_mut()
        .unwrap()
        .remove("actionCode")
        .unwrap();
    expected["action"] = code;
    check_decoded(name, &response, &expected, &[]);
    assert_eq!(
        response.veriff_session_id.as_deref(),
        case["response_body"]["veriffSessionId"].as_str()
    );
}

async fn get_user_extra(name: &str, case: &Value) {
    let path = str_of(case, "path");
    let parts = segments(path);
    let server = server_for(fixture_reply(case)).await;
    let user = server.client().get_user(&parts[1]).await.unwrap();
    check_request(name, &server.only_request(), "GET", path, None);
    check_decoded(name, &user, &case["response_body"], &[]);
    assert_eq!(user.locale.as_deref(), Some("en"));
    assert_eq!(
        user.default_verification_method,
        Some(VerificationMethod::Sms)
    );
}

async fn update_user_extra(name: &str, case: &Value) {
    assert_eq!(str_of(case, "method"), "PATCH");
    let body = &case["request_body"];
    assert_keys(name, body, &["defaultVerificationMethod", "locale"]);
    let changes = UpdateUserRequest {
        default_verification_method: Some(VerificationMethod::from(str_of(
            body,
            "defaultVerificationMethod",
        ))),
        locale: opt_str(body, "locale"),
        ..UpdateUserRequest::default()
    };
    let path = str_of(case, "path");
    let parts = segments(path);
    let server = server_for(fixture_reply(case)).await;
    let answer = server
        .client()
        .update_user(&parts[1], &changes)
        .await
        .unwrap();
    check_request(name, &server.only_request(), "PATCH", path, Some(body));
    check_decoded(name, &answer, &case["response_body"], &[]);
}

#[tokio::test]
async fn every_extra_fixture_is_replayed() {
    let fixtures = parse_fixtures(EXTRA_FIXTURES);
    let mut replayed = Vec::new();
    for (name, case) in &fixtures {
        if name.starts_with('_') {
            continue;
        }
        assert!(
            case["from"].as_str().is_some_and(|from| !from.is_empty()),
            "{name}: every extra fixture names its source"
        );
        let name = name.as_str();
        match name {
            "get_devices" => get_devices(name, case).await,
            "invalidate_device" => invalidate_device(name, case).await,
            "update_device_remember" | "update_device_forget" => update_device(name, case).await,
            "batch_enroll_verified_authenticators" => batch_enroll(name, case).await,
            "validate_success_veriff" => validate_veriff(name, case).await,
            "get_user_locale_and_default_method" => get_user_extra(name, case).await,
            "update_user_default_method_and_locale" => update_user_extra(name, case).await,
            unknown => panic!("extra fixture case {unknown:?} is not handled by this test"),
        }
        replayed.push(name.to_owned());
    }
    assert!(replayed.len() >= 8, "fixtures went missing: {replayed:?}");
}

#[tokio::test]
async fn a_batch_of_none_or_too_many_is_refused_without_a_call() {
    let server = TestServer::fixed(Reply::json(200, json!({}))).await;
    let client = server.client();
    for size in [0, MAX_BATCH_ENROLL + 1] {
        let request = BatchEnrollVerifiedAuthenticatorsRequest {
            authenticators: vec![BatchEnrollAuthenticator::passkey("u", "c", "k"); size],
        };
        let err = client
            .batch_enroll_verified_authenticators(&request)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "{size}: {err:?}"
        );
    }
    assert!(server.requests().is_empty());
}
