//! The holes a security review of the gate found, each shown closed over HTTP.

use std::sync::Arc;

use authsignal_emulator::{ActionConfig, Condition, Fault, Outcome, Rule};
use axum::Router;
use axum::routing::get;
use axum_authsignal::store::{
    MemoryStore, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind, StoreFuture,
};
use axum_authsignal::{StepUp, StepUpConfig, Unenrolled};
use axum_test::TestServer;
use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// The review's bytes: read as a form they say `amount=5000`, read as JSON 1 000 000.
const TWO_FACED: &[u8] = br#"{"amount":1000000,"payee":"x","z":"&amount=5000&"}"#;
const FORM: &str = "application/x-www-form-urlencoded";

async fn send(
    gate: &Gate,
    user: &str,
    content_type: Option<&str>,
    token: Option<&str>,
    body: &'static [u8],
) -> axum_test::TestResponse {
    let mut request = gate.server.post("/withdraw").add_header(USER_HEADER, user);
    if let Some(content_type) = content_type {
        request = request.add_header("content-type", content_type);
    }
    if let Some(token) = token {
        request = request.add_header("x-authsignal-token", token);
    }
    request.bytes(Bytes::from_static(body)).await
}

/// Finding 1: the media type is bound. Challenged for 5000 as a form, the same bytes
/// retried as JSON (which a `Json` handler would read as 1 000 000) are refused.
#[tokio::test]
async fn a_challenge_judged_as_a_form_cannot_be_spent_as_json() {
    let gate = start(|layer| layer).await;
    let challenged = send(&gate, "alice", Some(FORM), None, TWO_FACED).await;
    assert_eq!(challenged.status_code(), 401, "{}", challenged.text());
    let problem: Value = challenged.json();
    let track = remember(problem["token"].as_str().unwrap());
    let token = pass_totp(&gate, "alice", &track).await;
    let as_json = send(
        &gate,
        "alice",
        Some("application/json"),
        Some(&token),
        TWO_FACED,
    )
    .await;
    assert_eq!(as_json.status_code(), 403, "{}", as_json.text());
    assert_eq!(gate.runs(), 0);

    // The positive control: the same bytes as the same form pass, and the handler reads
    // the form Authsignal judged.
    let challenged = send(&gate, "alice", Some(FORM), None, TWO_FACED).await;
    let track = remember(challenged.json::<Value>()["token"].as_str().unwrap());
    let token = pass_totp(&gate, "alice", &track).await;
    let as_form = send(&gate, "alice", Some(FORM), Some(&token), TWO_FACED).await;
    assert_eq!(as_form.status_code(), 200, "{}", as_form.text());
    assert_eq!(as_form.json::<Value>()["contentType"], FORM);
    assert_eq!(gate.runs(), 1);
}

/// Finding 1: with `custom_from_body`, a body the handler's extractor could read otherwise
/// than the gate is refused with a 4xx JSON error before anything reaches Authsignal.
#[tokio::test]
async fn bodies_that_could_be_read_two_ways_are_refused_before_track() {
    let gate = start(|layer| layer).await;
    gate.emulator.clear_calls();
    // (case, headers, body, status, code)
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'static [u8],
        u16,
        &'a str,
    );
    let cases: &[Case] = &[
        (
            "text/plain",
            vec![("content-type", "text/plain")],
            b"amount=5000",
            415,
            "body_unsupported",
        ),
        (
            "no media type",
            vec![],
            br#"{"amount":5000}"#,
            415,
            "body_unsupported",
        ),
        (
            "xml",
            vec![("content-type", "application/xml")],
            b"<a/>",
            415,
            "body_unsupported",
        ),
        (
            "gzip",
            vec![
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            br#"{"amount":5000}"#,
            415,
            "body_unsupported",
        ),
        (
            "two content types",
            vec![("content-type", "application/json"), ("content-type", FORM)],
            br#"{"amount":5000}"#,
            415,
            "body_unsupported",
        ),
        (
            "duplicate JSON key",
            vec![("content-type", "application/json")],
            br#"{"amount":1,"amount":5000}"#,
            400,
            "body_malformed",
        ),
        (
            "duplicate form field",
            vec![("content-type", FORM)],
            b"amount=1&amount=5000",
            400,
            "body_malformed",
        ),
        (
            "not JSON",
            vec![("content-type", "application/json")],
            b"{amount",
            400,
            "body_malformed",
        ),
        (
            "infinite amount",
            vec![("content-type", FORM)],
            b"amount=inf",
            400,
            "body_malformed",
        ),
    ];
    for (name, headers, body, status, code) in cases {
        let mut request = gate
            .server
            .post("/withdraw")
            .add_header(USER_HEADER, "alice");
        for (header, value) in headers {
            request = request.add_header(*header, *value);
        }
        let response = request.bytes(Bytes::from_static(body)).await;
        assert_eq!(
            response.status_code().as_u16(),
            *status,
            "{name}: {}",
            response.text()
        );
        assert_eq!(
            response.header("content-type"),
            "application/problem+json",
            "{name}"
        );
        assert_eq!(response.json::<Value>()["code"], *code, "{name}");
    }
    assert!(
        gate.emulator.calls().is_empty(),
        "{:?}",
        gate.emulator.calls()
    );
    assert_eq!(gate.runs(), 0);
}

/// Finding 2: `fail_open` opens on an outage only. A refused key, a bad argument or a user
/// id that cannot be one stay shut.
#[tokio::test]
async fn fail_open_stays_shut_on_what_is_not_an_outage() {
    let gate = start(|layer| layer.fail_open()).await;
    for status in [400, 401, 403, 404, 409, 422] {
        gate.emulator.clear_faults();
        gate.emulator.inject_fault(
            "track",
            Fault::status(StatusCode::from_u16(status).unwrap()).always(),
        );
        let response = send(
            &gate,
            "alice",
            Some("application/json"),
            None,
            br#"{"amount":5000}"#,
        )
        .await;
        assert_eq!(response.status_code(), 503, "{status}: {}", response.text());
    }
    gate.emulator.clear_faults();
    // A key Authsignal refuses (revoked, or another region's).
    let wrong_key = StepUpConfig::builder(
        gate.emulator
            .client_builder()
            .secret_key("revoked-key")
            .build()
            .unwrap(),
    )
    .user_id(user_from_header)
    .build();
    // An action code the client refuses to send (an invalid argument).
    let apps = [
        ("revoked key", wrong_key.gate("withdraw").fail_open()),
        ("invalid argument", gate.config.gate("..").fail_open()),
    ];
    for (name, layer) in apps {
        let server = TestServer::new(
            Router::new().route(
                "/w",
                axum::routing::post(|proof: StepUp| async move { proof.user_id().to_owned() })
                    .layer(layer),
            ),
        );
        let response = server.post("/w").add_header(USER_HEADER, "alice").await;
        assert_eq!(response.status_code(), 503, "{name}: {}", response.text());
    }
    // User ids no Authsignal URL can carry are no user at all.
    for user in ["", ".", ".."] {
        let response = send(
            &gate,
            user,
            Some("application/json"),
            None,
            br#"{"amount":5}"#,
        )
        .await;
        assert_eq!(response.status_code(), 401, "{user:?}");
    }
    assert_eq!(gate.runs(), 0);
    assert_eq!(gate.config.failed_open_count(), 0);
    assert_eq!(wrong_key.failed_open_count(), 0);
}

/// Finding 3: one account cannot fill the store for everybody. A user over their bound
/// gets 429 with `Retry-After`; another user is still challenged and completes.
#[tokio::test]
async fn one_user_over_their_bound_gets_429_and_nobody_else_is_affected() {
    let store = Arc::new(MemoryStore::builder().per_user(3).build());
    let gate = setup()
        .config(move |config| config.store(store))
        .start()
        .await;
    let body = json!({ "amount": 5000 });
    for _ in 0..3 {
        api_challenge(&gate, "/withdraw", "mallory", &body).await;
    }
    let refused = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "mallory")
        .json(&body)
        .await;
    assert_eq!(refused.status_code(), 429, "{}", refused.text());
    assert_eq!(refused.json::<Value>()["code"], "too_many_challenges");
    let retry_after: u64 = refused
        .header("retry-after")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((500..=600).contains(&retry_after), "{retry_after}");

    let (_, token) = api_token(&gate, "/withdraw", "alice", &body).await;
    let alice = api_retry(&gate, "alice", &token, &body).await;
    assert_eq!(alice.status_code(), 200, "{}", alice.text());
    assert_eq!(gate.runs(), 1);
}

/// Finding 3: a challenge completed while the store is full is not lost to it: its resume
/// record takes the room its challenge record leaves. (When another request takes that
/// room first, the resume fails closed: `tests/gate/bounds.rs`.)
#[tokio::test]
async fn a_completed_challenge_takes_the_room_its_challenge_leaves() {
    let store = Arc::new(MemoryStore::builder().capacity(2).build());
    let gate = setup()
        .config(move |config| config.store(store))
        .start()
        .await;
    let location = browser_submit(&gate, "alice", &[("amount", "2500")]).await;
    let (_, bobs) = api_token(&gate, "/withdraw", "bob", &json!({ "amount": 5000 })).await;
    let full = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "mallory")
        .json(&json!({ "amount": 5000 }))
        .await;
    assert_eq!(
        full.status_code(),
        503,
        "the third challenge finds the store full"
    );

    let back = complete_ui(&gate, &location).await;
    let resumed = follow_back(&gate, &back, "alice").await;
    assert_eq!(resumed.status_code(), 200, "{}", resumed.text());
    let bob = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "bob")
        .add_header("x-authsignal-token", &bobs)
        .json(&json!({ "amount": 5000 }))
        .await;
    assert_eq!(bob.status_code(), 200, "{}", bob.text());
    assert_eq!(gate.runs(), 2);
}

/// A store that answers every take with the newest challenge put, whoever's it is: the
/// kind of bug a hand-written store could have (a key built without the user).
#[derive(Default)]
struct NewestRecordStore {
    newest: std::sync::Mutex<Option<PendingChallenge>>,
}

impl PendingChallengeStore for NewestRecordStore {
    fn put<'a>(
        &'a self,
        key: &'a RecordKey,
        record: PendingChallenge,
        _ttl: std::time::Duration,
    ) -> StoreFuture<'a, ()> {
        if key.kind == RecordKind::Challenge {
            *self.newest.lock().unwrap() = Some(record);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn take<'a>(&'a self, _key: &'a RecordKey) -> StoreFuture<'a, Option<PendingChallenge>> {
        Box::pin(std::future::ready(Ok(self.newest.lock().unwrap().take())))
    }
}

/// The gate checks what a store gives back: another user's record never opens the gate,
/// even when the request matches it byte for byte.
#[tokio::test]
async fn a_store_that_answers_another_users_record_opens_nothing() {
    let store = Arc::new(NewestRecordStore::default());
    let shared: Arc<dyn PendingChallengeStore> = store.clone();
    let gate = setup()
        .config(move |config| config.store(shared))
        .start()
        .await;
    let body = json!({ "amount": 5000 });
    let (_, alices) = api_token(&gate, "/withdraw", "alice", &body).await;
    // Bob's challenge, for the same request, is the newest: the store answers it to Alice.
    api_challenge(&gate, "/withdraw", "bob", &body).await;
    let response = api_retry(&gate, "alice", &alices, &body).await;
    assert_eq!(response.status_code(), 403, "{}", response.text());

    assert_eq!(gate.runs(), 0);

    // The positive control: the store answering the right record, the gate opens.
    let (_, alices) = api_token(&gate, "/withdraw", "alice", &body).await;
    let response = api_retry(&gate, "alice", &alices, &body).await;
    assert_eq!(response.status_code(), 200, "{}", response.text());
    assert_eq!(gate.runs(), 1);
}

/// Finding 3: only what can be resumed is stashed: a navigation that sends JSON keeps no
/// body, and a path too long to keep is refused before `track`.
#[tokio::test]
async fn paths_too_long_to_keep_are_refused_before_track() {
    let gate = start(|layer| layer).await;
    gate.emulator.clear_calls();
    let long = format!("/withdraw?memo={}", "a".repeat(5000));
    let response = gate
        .server
        .post(&long)
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": 5000 }))
        .await;
    assert_eq!(response.status_code(), 414);
    assert!(gate.emulator.calls().is_empty());
}

/// Finding 4: `HEAD` is gated whenever `GET` is (axum runs the GET handler for it).
#[tokio::test]
async fn head_is_gated_whenever_get_is() {
    let gate = start(|layer| layer).await;
    let app = Router::new().route(
        "/statement",
        get(|proof: StepUp| async move { proof.user_id().to_owned() })
            .layer(gate.config.gate("changePayee").methods([Method::GET])),
    );
    let server = TestServer::new(app);
    for method in [Method::GET, Method::HEAD] {
        let response = server
            .method(method.clone(), "/statement")
            .add_header(USER_HEADER, "alice")
            .await;
        assert_eq!(response.status_code(), 401, "{method}");
    }
}

/// Finding 5: a handler that logs its proof logs no token (the track `url` carries one).
#[tokio::test]
async fn a_logged_proof_holds_no_token() {
    let gate = start(|layer| layer).await;
    let app = Router::new().route(
        "/debug",
        axum::routing::post(|proof: StepUp| async move { format!("{proof:?}") })
            .layer(gate.config.gate("changePayee")),
    );
    let server = TestServer::new(app);
    let allowed_action = gate.config.gate("withdraw");
    let allowed = TestServer::new(
        Router::new().route(
            "/debug",
            axum::routing::post(|proof: StepUp| async move { format!("{proof:?}") })
                .layer(allowed_action),
        ),
    );
    let allowed = allowed
        .post("/debug")
        .add_header(USER_HEADER, "alice")
        .await;
    assert_eq!(allowed.status_code(), 200);
    let text = allowed.text();
    assert!(text.contains("Allowed"), "{text}");
    assert!(
        text.contains("token=[redacted]"),
        "the url is shown, its token not: {text}"
    );
    assert!(!text.contains("eyJ"), "{text}");

    let challenge = server.post("/debug").add_header(USER_HEADER, "alice").await;
    let track = remember(challenge.json::<Value>()["token"].as_str().unwrap());
    let token = pass_totp(&gate, "alice", &track).await;
    let verified = server
        .post("/debug")
        .add_header(USER_HEADER, "alice")
        .add_header("x-authsignal-token", &token)
        .await;
    assert_eq!(verified.status_code(), 200, "{}", verified.text());
    let text = verified.text();
    assert!(text.contains("Verified"), "{text}");
    assert!(
        !text.contains(&token) && !text.contains(&track) && !text.contains("eyJ"),
        "{text}"
    );
}

/// Finding 6: every answer at a URL with a token tells the browser not to send it on in a
/// `Referer`, whether the token is good, bad or malformed.
#[tokio::test]
async fn answers_at_a_token_url_are_never_referred() {
    let gate = start(|layer| layer).await;
    for query in [
        "token=a.b.c",
        "token=bad%20token",
        "amount=1&token=x.y.z&token=q",
    ] {
        let response = navigate(
            &gate,
            Method::GET,
            &format!("/withdraw?{query}"),
            "alice",
            None,
            None,
        )
        .await;
        assert!(response.status_code().is_client_error(), "{query}");
        assert_eq!(response.header("referrer-policy"), "no-referrer", "{query}");
    }
}

/// Finding 6: behind `Router::nest`, the handler's `OriginalUri` holds no token either.
#[tokio::test]
async fn a_nested_route_sees_no_token_in_its_original_uri() {
    let gate = start(|layer| layer).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let config = StepUpConfig::builder(gate.client.clone())
        .user_id(user_from_header)
        .redirect_origin(origin.clone())
        .build();
    let inner = Router::new().route(
        "/withdraw",
        get(
            |original: axum::extract::OriginalUri, uri: http::Uri| async move {
                format!("{} {}", original.0, uri)
            },
        )
        .layer(config.gate("changePayee")),
    );
    let server = TestServer::builder()
        .http_transport_with_tcp_listener(listener)
        .build(Router::new().nest("/api", inner));
    let started = server
        .get("/api/withdraw?to=x")
        .add_header(USER_HEADER, "alice")
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .await;
    assert_eq!(started.status_code(), 303, "{}", started.text());
    let back = complete_ui(&gate, started.header("location").to_str().unwrap()).await;
    assert!(
        back.starts_with(&format!("{origin}/api/withdraw?to=x&token=")),
        "{back}"
    );
    let returned = server
        .get(&local_path(&origin, &back))
        .add_header(USER_HEADER, "alice")
        .await;
    assert_eq!(returned.status_code(), 303, "{}", returned.text());
    assert_eq!(
        returned.header("location").to_str().unwrap(),
        format!("{origin}/api/withdraw?to=x")
    );
    let cookie = cookie_set(&returned, "authsignal-resume").unwrap();
    let ran = server
        .get("/api/withdraw?to=x")
        .add_header(USER_HEADER, "alice")
        .add_header("cookie", &cookie)
        .await;
    assert_eq!(ran.status_code(), 200, "{}", ran.text());
    assert_eq!(ran.text(), "/api/withdraw?to=x /withdraw?to=x");
}

/// Finding 9: what to do with a user who has no authenticator is the app's choice, and the
/// handler can tell.
#[tokio::test]
async fn unenrolled_users_follow_the_configured_policy() {
    let body = json!({ "amount": 5000 });
    // Authsignal's answer for "newbie" (no authenticator): ALLOW, isEnrolled false.
    let follow = start(|layer| layer).await;
    let passed = follow
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "newbie")
        .json(&body)
        .await;
    assert_eq!(passed.status_code(), 200, "{}", passed.text());
    assert_eq!(passed.json::<Value>()["enrolled"], false);

    let refuse = start(|layer| layer.unenrolled(Unenrolled::Refuse)).await;
    let refused = refuse
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "newbie")
        .json(&body)
        .await;
    assert_eq!(refused.status_code(), 403);
    assert_eq!(refused.json::<Value>()["code"], "enrolment_required");
    assert_eq!(refuse.runs(), 0);

    let enrol = start(|layer| layer.unenrolled(Unenrolled::Enrol)).await;
    let asked = enrol
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "newbie")
        .json(&body)
        .await;
    assert_eq!(asked.status_code(), 401, "{}", asked.text());
    let problem: Value = asked.json();
    assert_eq!(problem["code"], "enrolment_required");
    let track = remember(problem["token"].as_str().unwrap());
    // The client's own UI enrols the authenticator app with the track token...
    let enrolment: Value = enrol
        .http
        .post(format!(
            "{}/client/user-authenticators/totp",
            enrol.emulator.api_url()
        ))
        .bearer_auth(&track)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(enrolment["secret"].is_string(), "{enrolment}");
    // ...and verifies its first code, which completes the action.
    let token = pass_totp(&enrol, "newbie", &track).await;
    let enrolled = api_retry(&enrol, "newbie", &token, &body).await;
    assert_eq!(enrolled.status_code(), 200, "{}", enrolled.text());
    assert_eq!(enrolled.json::<Value>()["enrolled"], true);
    assert_eq!(enrol.runs(), 1);

    // A browser is sent to the pre-built UI to enrol.
    let browser = navigate(
        &enrol,
        Method::POST,
        "/withdraw",
        "newcomer",
        None,
        Some("amount=5000"),
    )
    .await;
    assert_eq!(browser.status_code(), 303, "{}", browser.text());
    assert!(
        browser
            .header("location")
            .to_str()
            .unwrap()
            .starts_with(enrol.emulator.origin())
    );
}

/// The rules of the emulator in this file's tests: a large withdrawal is challenged, a
/// stolen device is blocked.
#[tokio::test]
async fn the_device_id_reaches_authsignal_rules() {
    let gate = setup()
        .config(|config| {
            config.device_id(|parts| {
                parts
                    .headers
                    .get("x-device")
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            })
        })
        .start()
        .await;
    gate.emulator.set_action(
        "withdraw",
        ActionConfig::allow().rule(
            Rule::new("stolen-device", Outcome::Block)
                .when(Condition::device_id_in(["stolen-laptop"])),
        ),
    );
    let blocked = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .add_header("x-device", "stolen-laptop")
        .json(&json!({ "amount": 5 }))
        .await;
    assert_eq!(blocked.status_code(), 403);
    let allowed = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .add_header("x-device", "own-laptop")
        .json(&json!({ "amount": 5 }))
        .await;
    assert_eq!(allowed.status_code(), 200);
}
