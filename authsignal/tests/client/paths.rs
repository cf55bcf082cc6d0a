//! Path encoding: every caller-supplied value (user id, action, idempotency key,
//! authenticator id, device id) reaches the server as exactly one path segment that decodes back to
//! the value; `""`, `"."` and `".."` are refused before anything is sent.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use authsignal::types::*;
use authsignal::*;
use axum::Router;
use axum::extract::{MatchedPath, OriginalUri, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

/// One request that matched a route.
#[derive(Debug, Clone)]
struct Hit {
    /// The route's template, e.g. `/v1/users/{user_id}`.
    route: String,
    /// The raw path, still percent-encoded.
    raw_path: String,
    /// The decoded path parameters.
    params: HashMap<String, String>,
}

#[derive(Clone, Default)]
struct Hits {
    matched: Arc<Mutex<Vec<Hit>>>,
    unmatched: Arc<Mutex<Vec<String>>>,
}

impl Hits {
    fn take(&self) -> (Vec<Hit>, Vec<String>) {
        (
            std::mem::take(&mut *self.matched.lock().unwrap()),
            std::mem::take(&mut *self.unmatched.lock().unwrap()),
        )
    }
}

const USER: &str = "/v1/users/{user_id}";
const AUTHENTICATORS: &str = "/v1/users/{user_id}/authenticators";
const AUTHENTICATOR: &str = "/v1/users/{user_id}/authenticators/{authenticator_id}";
const ACTION: &str = "/v1/users/{user_id}/actions/{action}";
const ACTION_KEY: &str = "/v1/users/{user_id}/actions/{action}/{idempotency_key}";
const DEVICES: &str = "/v1/users/{user_id}/devices";
const DEVICE: &str = "/v1/users/{user_id}/devices/{device_id}";
const DEVICE_INVALIDATE: &str = "/v1/users/{user_id}/devices/{device_id}/invalidate";

async fn record(
    State(hits): State<Hits>,
    matched: MatchedPath,
    OriginalUri(uri): OriginalUri,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let route = matched.as_str().to_owned();
    let answer = match route.as_str() {
        USER => json!({"isEnrolled": false}),
        AUTHENTICATORS => json!([]),
        AUTHENTICATOR => json!({"success": true}),
        ACTION => json!({"idempotencyKey": "k", "state": "ALLOW"}),
        DEVICES => json!([]),
        DEVICE | DEVICE_INVALIDATE => json!({"userId": "u", "deviceId": "d"}),
        _ => json!({"state": "ALLOW"}),
    };
    hits.matched.lock().unwrap().push(Hit {
        route,
        raw_path: uri.path().to_owned(),
        params,
    });
    axum::Json(answer).into_response()
}

/// A server whose routes name each path parameter, so that a value that spilled into
/// several segments (or into the query) would not match or would decode differently.
async fn path_server() -> (Authsignal, Hits, tokio::task::JoinHandle<()>) {
    let hits = Hits::default();
    let app = Router::new()
        .route(USER, get(record).delete(record))
        .route(AUTHENTICATORS, get(record))
        .route(AUTHENTICATOR, axum::routing::delete(record))
        .route(ACTION, axum::routing::post(record))
        .route(ACTION_KEY, get(record).patch(record))
        .route(DEVICES, get(record))
        .route(DEVICE, axum::routing::patch(record))
        .route(DEVICE_INVALIDATE, axum::routing::post(record))
        .fallback(
            |State(hits): State<Hits>, OriginalUri(uri): OriginalUri| async move {
                hits.unmatched.lock().unwrap().push(uri.to_string());
                axum::http::StatusCode::NOT_FOUND
            },
        )
        .with_state(hits.clone());
    let (base_url, task) = common::serve(app).await;
    (common::client_for(&base_url), hits, task)
}

/// What the server must have seen for one call: the route and the decoded parameters.
struct Expect<'a> {
    route: &'static str,
    params: &'a [(&'static str, &'a str)],
}

/// Checks one hit: the route matched, each parameter decodes to the value sent, each raw
/// segment is one segment (no `/`, `?`, `#`) that percent-decodes to the value, and the raw
/// path has exactly as many segments as the route.
fn check_hit(hit: &Hit, expect: &Expect<'_>) -> Result<(), TestCaseError> {
    prop_assert_eq!(&hit.route, expect.route);
    prop_assert_eq!(hit.params.len(), expect.params.len());
    for (name, value) in expect.params {
        prop_assert_eq!(hit.params.get(*name).map(String::as_str), Some(*value));
    }
    let raw_segments: Vec<&str> = hit.raw_path.split('/').collect();
    let route_segments: Vec<&str> = expect.route.split('/').collect();
    prop_assert_eq!(
        raw_segments.len(),
        route_segments.len(),
        "raw path {}",
        &hit.raw_path
    );
    for (raw, template) in raw_segments.iter().zip(&route_segments) {
        if let Some(name) = template
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
        {
            let value = expect
                .params
                .iter()
                .find(|(param, _)| *param == name)
                .map(|(_, value)| *value)
                .unwrap();
            prop_assert!(!raw.contains(['/', '?', '#']), "raw segment {}", raw);
            let decoded = percent_encoding::percent_decode_str(raw).decode_utf8();
            prop_assert_eq!(decoded.as_deref().ok(), Some(value), "raw segment {}", raw);
            prop_assert!(
                *raw != "." && *raw != "..",
                "a dot segment was sent: {}",
                raw
            );
        } else {
            prop_assert_eq!(raw, template);
        }
    }
    Ok(())
}

/// Sends `value` through every operation that takes path values and checks what arrived.
async fn check_value(client: &Authsignal, hits: &Hits, value: &str) -> Result<(), TestCaseError> {
    hits.take();
    let call = |result: Result<(), Error>| -> Result<(), TestCaseError> {
        result.map_err(|err| TestCaseError::fail(format!("{value:?}: {err}")))
    };
    call(client.get_user(value).await.map(drop))?;
    call(client.delete_user(value).await)?;
    call(client.get_authenticators(value).await.map(drop))?;
    call(client.delete_authenticator(value, value).await)?;
    call(
        client
            .track(value, value, TrackAttributes::default())
            .await
            .map(drop),
    )?;
    call(client.get_action(value, value, value).await.map(drop))?;
    call(
        client
            .update_action(
                value,
                value,
                value,
                &UpdateActionRequest {
                    state: UserActionState::Allow,
                },
            )
            .await
            .map(drop),
    )?;
    call(client.get_devices(value).await.map(drop))?;
    call(
        client
            .update_device(value, value, &UpdateDeviceRequest::forget())
            .await
            .map(drop),
    )?;
    call(client.invalidate_device(value, value).await.map(drop))?;
    let (matched, unmatched) = hits.take();
    prop_assert!(unmatched.is_empty(), "unmatched requests: {:?}", unmatched);
    let device = [("user_id", value), ("device_id", value)];
    let expected = [
        Expect {
            route: USER,
            params: &[("user_id", value)],
        },
        Expect {
            route: USER,
            params: &[("user_id", value)],
        },
        Expect {
            route: AUTHENTICATORS,
            params: &[("user_id", value)],
        },
        Expect {
            route: AUTHENTICATOR,
            params: &[("user_id", value), ("authenticator_id", value)],
        },
        Expect {
            route: ACTION,
            params: &[("user_id", value), ("action", value)],
        },
        Expect {
            route: ACTION_KEY,
            params: &[
                ("user_id", value),
                ("action", value),
                ("idempotency_key", value),
            ],
        },
        Expect {
            route: ACTION_KEY,
            params: &[
                ("user_id", value),
                ("action", value),
                ("idempotency_key", value),
            ],
        },
        Expect {
            route: DEVICES,
            params: &[("user_id", value)],
        },
        Expect {
            route: DEVICE,
            params: &device,
        },
        Expect {
            route: DEVICE_INVALIDATE,
            params: &device,
        },
    ];
    prop_assert_eq!(matched.len(), expected.len());
    for (hit, expect) in matched.iter().zip(&expected) {
        check_hit(hit, expect)?;
    }
    Ok(())
}

#[tokio::test]
async fn tricky_values_arrive_as_one_segment() {
    let (client, hits, _server) = path_server().await;
    for value in [
        "a/b",
        "../x",
        "./x",
        "x/..",
        "...",
        "q?x=1",
        "h#f",
        "%2F",
        "%2e%2e",
        "123:test",
        "ünï 名",
        "a+b c",
        "semi;colon",
        "back\\slash",
        "tab\there",
        "plain-id_1.2~",
        "emoji 🦀",
    ] {
        check_value(&client, &hits, value)
            .await
            .unwrap_or_else(|err| panic!("{value:?}: {err}"));
    }
}

#[tokio::test]
async fn known_encodings_are_exact() {
    let (client, hits, _server) = path_server().await;
    for (user_id, raw) in [
        ("123:test", "/v1/users/123%3Atest"),
        ("a/b", "/v1/users/a%2Fb"),
        ("../x", "/v1/users/..%2Fx"),
        ("q?x=1", "/v1/users/q%3Fx%3D1"),
        ("h#f", "/v1/users/h%23f"),
        ("%2F", "/v1/users/%252F"),
        ("ünï 名", "/v1/users/%C3%BCn%C3%AF%20%E5%90%8D"),
    ] {
        client.get_user(user_id).await.unwrap();
        let (matched, unmatched) = hits.take();
        assert!(unmatched.is_empty(), "{unmatched:?}");
        assert_eq!(matched.len(), 1);
        assert_eq!(matched[0].raw_path, raw);
        assert_eq!(matched[0].params["user_id"], user_id);
    }
}

#[tokio::test]
async fn empty_and_dot_values_are_refused_without_sending() {
    let (client, hits, _server) = path_server().await;
    for bad in ["", ".", ".."] {
        let ok = "fine";
        let update = UpdateActionRequest {
            state: UserActionState::Allow,
        };
        let results: Vec<(&str, Result<(), Error>)> = vec![
            ("getUser", client.get_user(bad).await.map(drop)),
            (
                "updateUser",
                client
                    .update_user(bad, &UpdateUserRequest::default())
                    .await
                    .map(drop),
            ),
            ("deleteUser", client.delete_user(bad).await),
            (
                "getAuthenticators",
                client.get_authenticators(bad).await.map(drop),
            ),
            (
                "enrollVerifiedAuthenticator",
                client
                    .enroll_verified_authenticator(
                        bad,
                        &EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::Sms),
                    )
                    .await
                    .map(drop),
            ),
            (
                "deleteAuthenticator",
                client.delete_authenticator(bad, ok).await,
            ),
            (
                "deleteAuthenticator",
                client.delete_authenticator(ok, bad).await,
            ),
            (
                "track",
                client
                    .track(bad, ok, TrackAttributes::default())
                    .await
                    .map(drop),
            ),
            (
                "track",
                client
                    .track(ok, bad, TrackAttributes::default())
                    .await
                    .map(drop),
            ),
            ("getAction", client.get_action(bad, ok, ok).await.map(drop)),
            ("getAction", client.get_action(ok, bad, ok).await.map(drop)),
            ("getAction", client.get_action(ok, ok, bad).await.map(drop)),
            (
                "updateAction",
                client.update_action(ok, ok, bad, &update).await.map(drop),
            ),
            (
                "queryUserActions",
                client
                    .query_user_actions(bad, &QueryUserActionsRequest::default())
                    .await
                    .map(drop),
            ),
            ("getDevices", client.get_devices(bad).await.map(drop)),
            (
                "updateDevice",
                client
                    .update_device(ok, bad, &UpdateDeviceRequest::forget())
                    .await
                    .map(drop),
            ),
            (
                "invalidateDevice",
                client.invalidate_device(bad, ok).await.map(drop),
            ),
            (
                "invalidateDevice",
                client.invalidate_device(ok, bad).await.map(drop),
            ),
        ];
        for (operation, result) in results {
            match result {
                Err(Error::InvalidArgument {
                    operation: reported,
                    reason,
                }) => {
                    assert_eq!(reported, operation, "{bad:?}");
                    assert!(!reason.is_empty());
                }
                other => panic!("{operation}({bad:?}): expected InvalidArgument, got {other:?}"),
            }
        }
        let (matched, unmatched) = hits.take();
        assert!(
            matched.is_empty() && unmatched.is_empty(),
            "{bad:?}: something was sent: {matched:?} {unmatched:?}"
        );
    }
}

#[test]
fn any_value_decodes_to_itself_property() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (client, hits, _server) = runtime.block_on(path_server());
    let values = prop_oneof![
        any::<String>(),
        // Short strings over the characters that matter most.
        "[./%?#:;+ a-zA-Z0-9ü名\\\\]{1,6}",
    ]
    .prop_filter("not a refused value", |value| {
        !matches!(value.as_str(), "" | "." | "..")
    });
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&values, |value| {
            runtime.block_on(check_value(&client, &hits, &value))
        })
        .unwrap();
}
