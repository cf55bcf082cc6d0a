//! Generated attacks: retried requests that differ from the challenged one (and comebacks
//! that differ from the request held for a review), malformed tokens, every fault the
//! emulator can inject (on `track`, `validateChallenge` and `getAction`), and
//! open-redirect payloads. Each suite
//! draws from a seeded generator, so a failure names a case that can be run again.

use std::time::Duration;

use authsignal::types::UpdateActionRequest;
use authsignal::types::UserActionState;
use authsignal_emulator::Fault;
use axum_authsignal::REVIEW_HEADER;
use axum_authsignal::store::MemoryStore;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const SEED: u64 = 0x5eed_2026_1202;

// ---------------------------------------------------------------------------------------
// 1. Challenged request, retried request: the handler runs only for the very request.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Header,
    Query,
    Both,
}

/// The parts of a request that a retry could change.
#[derive(Debug, Clone)]
struct Shape {
    method: Method,
    path: &'static str,
    query: Option<String>,
    media: Option<&'static str>,
    encoding: Option<&'static str>,
    body: Vec<u8>,
    user: &'static str,
}

impl Shape {
    fn challenged(rng: &mut fastrand::Rng) -> Self {
        let amount = rng.u32(1001..1_000_000);
        let json = rng.bool();
        let (method, path) = match rng.u8(0..3) {
            0 => (Method::POST, "/withdraw"),
            1 => (Method::PUT, "/withdraw"),
            _ => (Method::POST, "/withdraw/other"),
        };
        Shape {
            method,
            path,
            query: rng.bool().then(|| format!("to=acct-{}", rng.u16(..))),
            media: Some(if json {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            }),
            encoding: None,
            body: if json {
                format!(r#"{{"amount":{amount},"memo":"m{}"}}"#, rng.u8(..)).into_bytes()
            } else {
                format!("amount={amount}&memo=m{}", rng.u8(..)).into_bytes()
            },
            user: "alice",
        }
    }

    fn uri(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.to_owned(),
        }
    }
}

/// A retry of `challenged`, changed in some of its bound parts (or in none, or only in
/// ways that bind the same: a charset parameter, `identity` encoding). Returns the retry,
/// where its token goes, and whether it is the challenged request in every bound part.
fn mutate(rng: &mut fastrand::Rng, challenged: &Shape) -> (Shape, Placement, bool) {
    let mut retry = challenged.clone();
    let mut same = true;
    let mut placement = Placement::Header;
    // About a third of the retries are the very request, so both outcomes are tested.
    let rate = if rng.u8(0..3) == 0 { 0.0 } else { 0.25 };
    if rng.f32() < rate {
        retry.method = if retry.method == Method::POST {
            Method::PUT
        } else {
            Method::POST
        };
        same = false;
    }
    if rng.f32() < rate {
        retry.path = if retry.path == "/withdraw" {
            "/withdraw/other"
        } else {
            "/withdraw"
        };
        same = false;
    }
    if rng.f32() < rate {
        retry.query = match retry.query {
            Some(_) if rng.bool() => None,
            _ => Some(format!("to=mallory-{}", rng.u16(..))),
        };
        same = false;
    }
    if rng.f32() < rate {
        let at = rng.usize(..retry.body.len());
        retry.body[at] = match retry.body[at] {
            b'9' => b'0',
            b'0'..=b'8' => retry.body[at] + 1,
            _ => b'_',
        };
        same = false;
    }
    if rng.f32() < rate {
        retry.body.push(b' ');
        same = false;
    }
    if rng.f32() < rate {
        retry.media = match retry.media {
            Some("application/json") => Some("application/x-www-form-urlencoded"),
            _ => Some("application/json"),
        };
        same = false;
    }
    if rng.f32() < rate {
        retry.media = None;
        same = false;
    }
    if rng.f32() < rate {
        // Binds the same: the media type is compared without its parameters.
        if let Some(media) = retry.media {
            retry.media = Some(if media == "application/json" {
                "application/json; charset=utf-8"
            } else {
                "Application/X-WWW-Form-Urlencoded"
            });
        }
    }
    if rng.f32() < rate {
        retry.encoding = Some("gzip");
        same = false;
    } else if rng.f32() < rate {
        retry.encoding = Some("identity");
    }
    if rng.f32() < rate {
        placement = if rng.bool() {
            Placement::Query
        } else {
            Placement::Both
        };
        same = false;
    }
    if rng.f32() < rate {
        retry.user = "bob";
        same = false;
    }
    (retry, placement, same)
}

async fn send_shape(
    gate: &Gate,
    shape: &Shape,
    token: Option<(&str, Placement)>,
) -> axum_test::TestResponse {
    let mut uri = shape.uri();
    if let Some((token, Placement::Query | Placement::Both)) = token {
        let separator = if uri.contains('?') { '&' } else { '?' };
        uri = format!("{uri}{separator}token={token}");
    }
    let mut request = request_of(gate, shape, &uri);
    if let Some((token, Placement::Header | Placement::Both)) = token {
        request = request.add_header("x-authsignal-token", token);
    }
    request.bytes(Bytes::from(shape.body.clone())).await
}

/// `shape` as a request to `uri`: its method, user, media type and encoding.
fn request_of(gate: &Gate, shape: &Shape, uri: &str) -> axum_test::TestRequest {
    let mut request = gate
        .server
        .method(shape.method.clone(), uri)
        .add_header(USER_HEADER, shape.user);
    if let Some(media) = shape.media {
        request = request.add_header("content-type", media);
    }
    if let Some(encoding) = shape.encoding {
        request = request.add_header("content-encoding", encoding);
    }
    request
}

/// `shape` sent to a route that holds reviews, with `key` in the review header if given.
async fn send_held(gate: &Gate, shape: &Shape, key: Option<&str>) -> axum_test::TestResponse {
    let mut request = request_of(gate, shape, &shape.uri());
    if let Some(key) = key {
        request = request.add_header(REVIEW_HEADER, key);
    }
    request.bytes(Bytes::from(shape.body.clone())).await
}

/// A token that validates for `challenged`: the challenge is issued, then marked as
/// succeeded through the Server API (as a custom UI's verification would), so that a
/// thousand pairs take no thousand authenticator codes.
async fn token_for(gate: &Gate, challenged: &Shape) -> String {
    let response = send_shape(gate, challenged, None).await;
    assert_eq!(
        response.status_code(),
        401,
        "{challenged:?}: {}",
        response.text()
    );
    let problem: Value = response.json();
    let token = remember(problem["token"].as_str().unwrap());
    gate.client
        .update_action(
            challenged.user,
            "withdraw",
            problem["idempotencyKey"].as_str().unwrap(),
            &UpdateActionRequest {
                state: UserActionState::ChallengeSucceeded,
            },
        )
        .await
        .expect("the emulator marks the challenge as passed");
    token
}

#[tokio::test]
async fn a_thousand_generated_retries_run_the_handler_only_for_the_very_request() {
    // Refused retries that never reached the store (another user, a malformed placement)
    // leave their challenge pending: room for all of them, so that the per-user bound is
    // not what refuses.
    let store = std::sync::Arc::new(MemoryStore::builder().per_user(2000).build());
    let gate = setup()
        .relaxed_timeouts()
        .config(move |config| config.store(store))
        .start()
        .await;
    let mut rng = fastrand::Rng::with_seed(SEED);
    let (mut passed, mut refused) = (0, 0);
    for case in 0..1000 {
        let challenged = Shape::challenged(&mut rng);
        let (retry, placement, same) = mutate(&mut rng, &challenged);
        let token = token_for(&gate, &challenged).await;
        let runs = gate.runs();
        let response = send_shape(&gate, &retry, Some((&token, placement))).await;
        let ran = gate.runs() - runs;
        let context = format!("case {case}: {challenged:?} then {retry:?} {placement:?}");
        if same {
            assert_eq!(
                response.status_code(),
                200,
                "{context}: {}",
                response.text()
            );
            assert_eq!(ran, 1, "{context}");
            passed += 1;
        } else {
            assert_ne!(response.status_code(), 200, "{context}");
            assert!(
                response.status_code().is_client_error(),
                "{context}: {}",
                response.status_code()
            );
            assert_eq!(ran, 0, "{context}");
            refused += 1;
        }
    }
    // Both outcomes were exercised in earnest.
    assert!(
        passed > 200 && refused > 300,
        "{passed} passed, {refused} refused"
    );
}

/// The review leg under the same generator: a request held for a review and approved,
/// then a comeback with its id that differs in some bound parts (or none). Only the very
/// request runs; any other is refused and spends nothing: the very request still runs
/// after it, once.
#[tokio::test]
async fn generated_comebacks_run_a_held_request_only_for_the_very_request() {
    let store = std::sync::Arc::new(MemoryStore::builder().per_user(2000).build());
    let gate = setup()
        .relaxed_timeouts()
        .config(move |config| config.store(store))
        .layer(axum_authsignal::StepUpLayer::hold_reviews)
        .start()
        .await;
    gate.emulator
        .set_action("withdraw", authsignal_emulator::ActionConfig::review());
    let mut rng = fastrand::Rng::with_seed(SEED ^ 0x4e71e3);
    let (mut passed, mut refused) = (0, 0);
    for case in 0..300 {
        let held = Shape::challenged(&mut rng);
        // The review id travels in a header only: draw again for a token's other places.
        let (comeback, same) = loop {
            let (comeback, placement, same) = mutate(&mut rng, &held);
            if placement == Placement::Header {
                break (comeback, same);
            }
        };
        let response = send_held(&gate, &held, None).await;
        assert_eq!(response.status_code(), 202, "{held:?}: {}", response.text());
        let key = response.json::<Value>()["idempotencyKey"]
            .as_str()
            .unwrap()
            .to_owned();
        gate.client
            .update_action(
                held.user,
                "withdraw",
                &key,
                &UpdateActionRequest {
                    state: UserActionState::ReviewSucceeded,
                },
            )
            .await
            .expect("the emulator takes the approval");
        let runs = gate.runs();
        let response = send_held(&gate, &comeback, Some(&key)).await;
        let context = format!("case {case}: {held:?} then {comeback:?}");
        if same {
            assert_eq!(
                response.status_code(),
                200,
                "{context}: {}",
                response.text()
            );
            assert_eq!(gate.runs(), runs + 1, "{context}");
            passed += 1;
        } else {
            assert!(
                response.status_code().is_client_error(),
                "{context}: {}",
                response.status_code()
            );
            assert_eq!(gate.runs(), runs, "{context}");
            let very = send_held(&gate, &held, Some(&key)).await;
            assert_eq!(
                very.status_code(),
                200,
                "{context}: spent by the other request"
            );
            assert_eq!(gate.runs(), runs + 1, "{context}");
            refused += 1;
        }
    }
    assert!(
        passed > 50 && refused > 100,
        "{passed} passed, {refused} refused"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Malformed tokens: 4xx, nothing sent to Authsignal, no panic.

/// A token that cannot be one: too long, empty, a byte outside base64url and dots, or
/// given twice or in two places.
fn malformed(rng: &mut fastrand::Rng) -> (Option<Vec<u8>>, Option<String>) {
    let good_char = |rng: &mut fastrand::Rng| {
        const ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        ALPHABET[rng.usize(..ALPHABET.len())]
    };
    let mut token: Vec<u8> = (0..rng.usize(1..200)).map(|_| good_char(rng)).collect();
    let percent = |bytes: &[u8]| {
        percent_encoding::percent_encode(bytes, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    match rng.u8(0..7) {
        // Too long: 4097 to 9000 bytes.
        0 => token = (0..rng.usize(4097..9000)).map(|_| good_char(rng)).collect(),
        // Empty.
        1 => token.clear(),
        // A byte outside the alphabet, anywhere (control characters, `%`, `+`, `=`,
        // spaces, quotes, non-ASCII).
        _ => {
            let bad = loop {
                let byte = rng.u8(..);
                if !(byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.')) {
                    break byte;
                }
            };
            let at = rng.usize(..=token.len());
            token.insert(at, bad);
        }
    }
    match rng.u8(0..4) {
        // In the header, where a header can carry it as is (else in the query): HTTP
        // drops a header value's leading and trailing whitespace, which would leave a
        // well-formed token.
        0 if HeaderValue::from_bytes(&token).is_ok()
            && !token.first().is_some_and(u8::is_ascii_whitespace)
            && !token.last().is_some_and(u8::is_ascii_whitespace) =>
        {
            (Some(token), None)
        }
        // In the query, percent-encoded.
        0 | 1 => (None, Some(format!("token={}", percent(&token)))),
        // Twice in the query.
        2 => (
            None,
            Some(format!(
                "token={}&token={}",
                percent(&token),
                percent(&token)
            )),
        ),
        // In both places (a well-formed one in the header).
        _ => (
            Some(b"a.b.c".to_vec()),
            Some(format!("token={}", percent(&token))),
        ),
    }
}

#[tokio::test]
async fn ten_thousand_malformed_tokens_are_refused_without_calling_authsignal() {
    let gate = start(|layer| layer).await;
    gate.emulator.clear_calls();
    let mut rng = fastrand::Rng::with_seed(SEED);
    for case in 0..10_000 {
        let (header, query) = malformed(&mut rng);
        let method = if query.is_some() || rng.bool() {
            Method::GET
        } else {
            Method::POST
        };
        let uri = match &query {
            Some(query) => format!("/withdraw?{query}"),
            None => "/withdraw".to_owned(),
        };
        let mut request = gate
            .server
            .method(method.clone(), &uri)
            .add_header(USER_HEADER, "alice");
        if let Some(header) = &header {
            request = request.add_header(
                "x-authsignal-token",
                HeaderValue::from_bytes(header).unwrap(),
            );
        }
        let response = request.await;
        assert!(
            response.status_code().is_client_error(),
            "case {case} {method} {uri:.120} {header:?}: {}",
            response.status_code()
        );
    }
    assert_eq!(gate.emulator.call_count("validateChallenge"), 0);
    assert_eq!(gate.emulator.call_count("track"), 0);
    assert_eq!(gate.runs(), 0);
}

// ---------------------------------------------------------------------------------------
// 3. Every fault, on track and on validate, with fail_open off and on.

/// What a route does under a fault on `track`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnTrack {
    /// An outage: 503 when failing closed, the handler runs when failing open.
    Outage,
    /// Not an outage (an answer that cannot be read, a 4xx): 503 either way.
    Shut,
}

/// What a route does under a fault on `validateChallenge`, fail-open or not: a returned
/// token is never let through unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnValidate {
    /// Authsignal could not say: 503 with `Retry-After`.
    Unavailable,
    /// A 400 is Authsignal refusing the token: the 403 every refusal shares, no
    /// `Retry-After` (retrying the same token cannot help).
    Refused,
}

/// What the gate does under each fault of the emulator's [catalogue](Fault::catalogue)
/// (plus the 4xx statuses a misconfigured app meets), on `track` and on
/// `validateChallenge`. `None` for the one fault that is not a failure of the call but
/// another shape of Authsignal's "no" to a bad token (it leaves good tokens alone): it has
/// a test of its own, `a_bad_token_is_refused_in_both_of_authsignals_shapes`.
///
/// What a route that holds reviews does under a fault on `getAction`, when a client comes
/// back with an approved request, fail-open or not: a review is never let through
/// unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnReview {
    /// Authsignal could not say: 503 with `Retry-After`, and the request stays held.
    Unavailable,
    /// Authsignal answered a state that is no review's: the one 403, and the hold ends.
    Ended,
}

/// A fault kind the catalogue gains later fails this table until it is given a row.
fn expected(name: &str) -> Option<(OnTrack, OnValidate, OnReview)> {
    use {OnTrack::*, OnValidate::*};
    match name {
        "timeout" | "500" | "502" | "503" | "429" | "reset" | "slow body" => {
            Some((Outage, Unavailable, OnReview::Unavailable))
        }
        "malformed JSON" | "truncated JSON" | "401" | "403" => {
            Some((Shut, Unavailable, OnReview::Unavailable))
        }
        "unknown state" => Some((Shut, Unavailable, OnReview::Ended)),
        "400" => Some((Shut, Refused, OnReview::Unavailable)),
        "bad token 400" => None,
        other => panic!("no expected outcome for the fault {other:?}: add it to this table"),
    }
}

/// Every fault of the catalogue (its long delays cut to a few seconds: the client's
/// attempt timeout is 400 ms), then the 4xx statuses, each hitting every request.
fn fault_table() -> Vec<(&'static str, Fault, OnTrack, OnValidate, OnReview)> {
    let statuses = [
        ("400", StatusCode::BAD_REQUEST),
        ("401", StatusCode::UNAUTHORIZED),
        ("403", StatusCode::FORBIDDEN),
    ];
    Fault::catalogue()
        .into_iter()
        .map(|(name, fault)| match name {
            "timeout" => (name, Fault::latency(Duration::from_secs(3))),
            "slow body" => (name, Fault::slow_body(Duration::from_secs(3))),
            _ => (name, fault),
        })
        .chain(statuses.map(|(name, status)| (name, Fault::status(status))))
        .filter_map(|(name, fault)| {
            let (on_track, on_validate, on_review) = expected(name)?;
            Some((name, fault.always(), on_track, on_validate, on_review))
        })
        .collect()
}

#[tokio::test]
async fn every_fault_on_track_and_validate_against_one_table() {
    for fail_open in [false, true] {
        let gate = start(move |layer| if fail_open { layer.fail_open() } else { layer }).await;
        let body = json!({ "amount": 5000 });
        let (_, token) = api_token(&gate, "/withdraw", "alice", &body).await;
        let mut opened = 0;
        for (name, fault, on_track, on_validate, _) in fault_table() {
            let context = format!("{name}, fail_open {fail_open}");
            gate.emulator.clear_faults();
            gate.emulator.inject_fault("track", fault.clone());
            let runs = gate.runs();
            let tracked = gate
                .server
                .post("/withdraw")
                .add_header(USER_HEADER, "bob")
                .json(&body)
                .await;
            if fail_open && on_track == OnTrack::Outage {
                assert_eq!(
                    tracked.status_code(),
                    200,
                    "track {context}: {}",
                    tracked.text()
                );
                assert_eq!(tracked.json::<Value>()["failedOpen"], true, "{context}");
                assert_eq!(gate.runs(), runs + 1, "{context}");
                opened += 1;
            } else {
                assert_eq!(
                    tracked.status_code(),
                    503,
                    "track {context}: {}",
                    tracked.text()
                );
                assert!(tracked.maybe_header("retry-after").is_some(), "{context}");
                assert_eq!(
                    tracked.json::<Value>()["code"],
                    "step_up_unavailable",
                    "{context}"
                );
                assert_eq!(gate.runs(), runs, "{context}");
            }

            gate.emulator.clear_faults();
            gate.emulator.inject_fault("validateChallenge", fault);
            let validated = api_retry(&gate, "alice", &token, &body).await;
            let (status, retry_after) = match on_validate {
                OnValidate::Unavailable => (503, true),
                OnValidate::Refused => (403, false),
            };
            assert_eq!(
                validated.status_code(),
                status,
                "validate {context}: {}",
                validated.text()
            );
            assert_eq!(
                validated.maybe_header("retry-after").is_some(),
                retry_after,
                "{context}"
            );
            assert_eq!(
                gate.runs(),
                runs + usize::from(fail_open && on_track == OnTrack::Outage)
            );
        }
        assert_eq!(gate.config.failed_open_count(), opened as u64);
        // Nothing was spent by the faults: the token still passes, once.
        gate.emulator.clear_faults();
        let runs = gate.runs();
        let passed = api_retry(&gate, "alice", &token, &body).await;
        assert_eq!(passed.status_code(), 200, "{}", passed.text());
        assert_eq!(gate.runs(), runs + 1);
    }
}

/// The review leg under every fault of the table, on `getAction`, failing closed and
/// "failing open" (which never applies to a review): a request held and approved, then
/// its client back under the fault. Nothing runs; an outage leaves it held, so that it
/// runs once the fault is gone; a state that is no review's ends it.
#[tokio::test]
async fn every_fault_on_get_action_against_the_table() {
    for fail_open in [false, true] {
        let gate = start(move |layer| {
            let layer = layer.hold_reviews();
            if fail_open { layer.fail_open() } else { layer }
        })
        .await;
        gate.emulator
            .set_action("withdraw", authsignal_emulator::ActionConfig::review());
        for (n, (name, fault, _, _, on_review)) in fault_table().into_iter().enumerate() {
            let context = format!("{name}, fail_open {fail_open}");
            // A user per fault: the held requests stay within each one's bound.
            let user = format!("reviewed-{n}");
            let body = json!({ "amount": 5 });
            let send = |key: Option<&str>| {
                let mut request = gate
                    .server
                    .post("/withdraw")
                    .add_header(USER_HEADER, &user)
                    .json(&body);
                if let Some(key) = key {
                    request = request.add_header(REVIEW_HEADER, key);
                }
                request
            };
            let held = send(None).await;
            assert_eq!(held.status_code(), 202, "{context}: {}", held.text());
            let key = held.json::<Value>()["idempotencyKey"]
                .as_str()
                .unwrap()
                .to_owned();
            gate.client
                .update_action(
                    &user,
                    "withdraw",
                    &key,
                    &UpdateActionRequest {
                        state: UserActionState::ReviewSucceeded,
                    },
                )
                .await
                .unwrap();
            let runs = gate.runs();
            gate.emulator.clear_faults();
            gate.emulator.inject_fault("getAction", fault);
            let faulted = send(Some(&key)).await;
            gate.emulator.clear_faults();
            let after = send(Some(&key)).await;
            match on_review {
                OnReview::Unavailable => {
                    assert_eq!(faulted.status_code(), 503, "{context}: {}", faulted.text());
                    assert!(faulted.maybe_header("retry-after").is_some(), "{context}");
                    assert_eq!(after.status_code(), 200, "{context}: still held");
                    assert_eq!(gate.runs(), runs + 1, "{context}");
                }
                OnReview::Ended => {
                    assert_eq!(faulted.status_code(), 403, "{context}: {}", faulted.text());
                    assert_eq!(after.status_code(), 403, "{context}: the hold ended");
                    assert_eq!(gate.runs(), runs, "{context}");
                }
            }
        }
        assert_eq!(
            gate.config.failed_open_count(),
            0,
            "a review never fails open"
        );
    }
}

/// A forged and an expired token, answered by Authsignal in either shape (200 `isValid:
/// false`, or 400 `invalid_request` under the `bad token 400` fault): the same 403 each
/// time, the handler never runs, and the challenge is not spent, so that the good token
/// still passes once.
#[tokio::test]
async fn a_bad_token_is_refused_in_both_of_authsignals_shapes() {
    let gate = start(|layer| layer).await;
    let body = json!({ "amount": 5000 });
    let send = |token: String| {
        gate.server
            .post("/withdraw")
            .add_header(USER_HEADER, "alice")
            .add_header("x-authsignal-token", token)
            .json(&body)
    };
    let refuse_in_both_shapes = async |bad: &str, context: &str| {
        let mut bodies = Vec::new();
        for fault in [None, Some(Fault::bad_token_rejected().always())] {
            gate.emulator.clear_faults();
            if let Some(fault) = fault {
                gate.emulator.inject_fault("validateChallenge", fault);
            }
            let response = send(bad.to_owned()).await;
            assert_eq!(
                response.status_code(),
                403,
                "{context}: {}",
                response.text()
            );
            assert!(response.maybe_header("retry-after").is_none(), "{context}");
            bodies.push(response.text());
        }
        assert_eq!(
            bodies[0], bodies[1],
            "{context}: one refusal for both shapes"
        );
        gate.emulator.clear_faults();
    };

    let (_, token) = api_token(&gate, "/withdraw", "alice", &body).await;
    let mut forged = token.clone();
    let last = if forged.ends_with('A') { "B" } else { "A" };
    forged.replace_range(forged.len() - 1.., last);
    refuse_in_both_shapes(&forged, "forged").await;
    assert_eq!(gate.runs(), 0);
    // Nothing was spent: the good token passes, once.
    assert_eq!(send(token.clone()).await.status_code(), 200);
    assert_eq!(gate.runs(), 1);

    let (_, token) = api_token(&gate, "/withdraw", "alice", &body).await;
    gate.emulator.advance(Duration::from_secs(60 * 60));
    refuse_in_both_shapes(&token, "expired").await;
    assert_eq!(gate.runs(), 1);
    // The 400s were answers, not failures: Authsignal was asked each time, no retries.
    assert_eq!(gate.emulator.call_count("validateChallenge"), 5);
    assert_logs_clean(&[&token, &forged]);
}

// ---------------------------------------------------------------------------------------
// 4. Open redirects: no Location leaves the configured origin and Authsignal's UI.

/// One raw HTTP/1.1 request, so that paths and headers reach the server exactly as
/// written (an HTTP client would normalise them). Returns the status and the headers.
async fn raw(addr: &str, request: &str) -> (u16, Vec<(String, String)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.unwrap();
        if read == 0 {
            break;
        }
        response.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&response);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(found, _)| found == name)
        .map(|(_, value)| value.as_str())
}

/// The payloads: (path, extra headers).
fn redirect_payloads() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let paths = [
        "//evil.example",
        "//evil.example/withdraw",
        "///evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "/%2F%2Fevil.example",
        "/%2f%2fevil.example",
        "/%5Cevil.example",
        "/%5C%5Cevil.example",
        "/%2F%5Cevil.example",
        "/.%2E/%2F/evil.example",
        "/..//evil.example",
        "/x/..//evil.example",
        "/@evil.example",
        "/https:evil.example",
        "/https://evil.example",
        "/http:/evil.example",
        "/%E3%80%82evil.example",
        "/%EF%BC%8F%EF%BC%8Fevil.example",
        "/%0D%0ALocation:%20https://evil.example",
        "/%0d%0aSet-Cookie:%20x=1",
        "/%00evil.example",
        "/%09/evil.example",
        "/x?next=//evil.example",
        "/x?redirect=https://evil.example&token=",
        "/x#//evil.example",
    ];
    let mut payloads: Vec<_> = paths.iter().map(|path| (*path, vec![])).collect();
    for headers in [
        vec![("host", "evil.example")],
        vec![("host", "evil.example:443")],
        vec![("host", "127.0.0.1@evil.example")],
        vec![("x-forwarded-host", "evil.example")],
        vec![
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
        ],
        vec![("x-forwarded-proto", "javascript")],
        vec![("x-forwarded-prefix", "//evil.example")],
        vec![("forwarded", "host=evil.example;proto=https")],
        vec![("x-original-url", "//evil.example")],
        vec![("x-rewrite-url", "//evil.example")],
        vec![(
            "x-forwarded-host",
            "evil.example\r\nLocation: https://evil.example",
        )],
    ] {
        payloads.push(("/x", headers));
    }
    payloads
}

#[tokio::test]
async fn no_redirect_payload_moves_a_location_off_the_app_or_the_ui() {
    let gate = start(|layer| layer).await;
    // Every path is gated: a catch-all route behind an always-challenged action.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let origin = format!("http://{addr}");
    // Each payload's way back parks a resume record for alice, which counts against her
    // bound: room for all of them.
    let store = axum_authsignal::store::MemoryStore::builder()
        .per_user(1000)
        .build();
    let config = axum_authsignal::StepUpConfig::builder(gate.client.clone())
        .user_id(user_from_header)
        .redirect_origin(origin.clone())
        .store(std::sync::Arc::new(store))
        .build();
    let gated = axum::routing::any(|| async { "ran" }).layer(config.gate("changePayee"));
    let app = axum::Router::new().route("/{*rest}", gated);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let ui_origin = gate.emulator.origin().to_owned();
    let app_origin = reqwest::Url::parse(&origin).unwrap().origin();
    let ui = reqwest::Url::parse(&ui_origin).unwrap().origin();
    // Absolute, and on the app or the UI.
    let allowed = |location: &str| {
        reqwest::Url::parse(location)
            .is_ok_and(|url| url.origin() == app_origin || url.origin() == ui)
    };
    let mut redirected = 0;
    let payloads = redirect_payloads();
    assert!(payloads.len() >= 30, "{}", payloads.len());
    for (path, headers) in payloads {
        for method in ["GET", "POST"] {
            let has_host = headers.iter().any(|(name, _)| *name == "host");
            let mut request = format!(
                "{method} {path} HTTP/1.1\r\nx-test-user: alice\r\naccept: {NAVIGATION_ACCEPT}\r\n\
                 sec-fetch-mode: navigate\r\nconnection: close\r\n"
            );
            if !has_host {
                request.push_str(&format!("host: {addr}\r\n"));
            }
            for (name, value) in &headers {
                request.push_str(&format!("{name}: {value}\r\n"));
            }
            if method == "POST" {
                request.push_str(
                    "content-type: application/x-www-form-urlencoded\r\ncontent-length: 8\r\n\r\namount=1",
                );
            } else {
                request.push_str("\r\n");
            }
            let (status, response) = raw(&addr, &request).await;
            let context = format!("{method} {path} {headers:?}: {status}");
            assert!(status != 500 && status != 0, "{context}");
            let Some(location) = header(&response, "location") else {
                continue;
            };
            assert!(allowed(location), "{context}: {location}");
            // The way back the UI will take is on the configured origin too.
            assert!(
                location.starts_with(&format!("{ui_origin}/ui/challenge?")),
                "{context}: {location}"
            );
            let back = complete_ui(&gate, location).await;
            assert!(
                back.starts_with(&format!("{origin}/")),
                "{context}: back to {back}"
            );
            assert!(allowed(&back), "{context}: {back}");
            let back_path = &back[origin.len()..];
            let (status, returned) = raw(
                &addr,
                &format!(
                    "GET {back_path} HTTP/1.1\r\nhost: {addr}\r\nx-test-user: alice\r\n\
                     accept: {NAVIGATION_ACCEPT}\r\nconnection: close\r\n\r\n"
                ),
            )
            .await;
            if let Some(location) = header(&returned, "location") {
                assert!(
                    allowed(location),
                    "{context}: the return went to {location}"
                );
                assert!(
                    location.starts_with(&format!("{origin}/")),
                    "{context}: {location}"
                );
            }
            assert_ne!(status, 500, "{context}");
            redirected += 1;
        }
    }
    assert!(
        redirected >= 30,
        "only {redirected} payloads reached the UI"
    );
}
