//! The API an Axum team expects: one configuration for the whole app, typed actions, any
//! user extractor, the app's own answers, HTML for browsers, the client IP behind proxies.

use std::net::SocketAddr;
use std::sync::Arc;

use authsignal_emulator::{ActionConfig, Condition, Fault, Outcome, Rule};
use axum::Router;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum_authsignal::store::{MemoryStore, PendingChallengeStore};
use axum_authsignal::{
    Action, ClientKind, ForwardedHeader, GateAnswer, Refusal, StepUp, StepUpConfig,
};
use axum_test::TestServer;
use http::StatusCode;
use http::request::Parts;
use serde_json::{Value, json};

use crate::support::*;

struct Withdraw;
impl Action for Withdraw {
    const CODE: &'static str = "withdraw";
}

#[tokio::test]
async fn every_gate_validator_and_sign_in_of_one_configuration_shares_its_store_and_counter() {
    let store = Arc::new(MemoryStore::default());
    let shared: Arc<dyn PendingChallengeStore> = store.clone();
    let gate = setup()
        .config(move |config| config.store(shared))
        .layer(|layer| layer.fail_open())
        .start()
        .await;
    // Two challenges on two routes, one sign-in: three records in the one store.
    api_challenge(&gate, "/withdraw", "alice", &json!({ "amount": 5000 })).await;
    api_challenge(&gate, "/payee", "alice", &json!({})).await;
    let sign_in = gate
        .config
        .sign_in("https://app.example/cb")
        .build()
        .unwrap();
    let parts = http::Request::new(()).into_parts().0;
    assert!(sign_in.start("bob", &parts).await.is_err(), "a challenge");
    assert_eq!(store.pending_challenges(), Some(3));
    // A validator's spent tokens land there too.
    let (_, token) = api_token(&gate, "/payee", "bob", &json!({})).await;
    let validated = TestServer::new(
        Router::new()
            .route(
                "/v",
                post(|proof: StepUp| async move { proof.user_id().to_owned() }),
            )
            .layer(axum::Extension(gate.config.validator("changePayee"))),
    );
    let ok = validated
        .post("/v")
        .add_header(USER_HEADER, "bob")
        .add_header("x-authsignal-token", &token)
        .await;
    assert_eq!(ok.status_code(), 200, "{}", ok.text());
    assert!(store.len() >= 5, "{}", store.len());
    // Every fail-open gate of the configuration counts into one counter.
    gate.emulator
        .inject_fault("track", Fault::status(StatusCode::BAD_GATEWAY).always());
    let other = TestServer::new(
        Router::new().route(
            "/w",
            post(|proof: StepUp| async move { proof.failed_open().to_string() })
                .layer(gate.config.gate("withdraw").fail_open()),
        ),
    );
    assert_eq!(
        other
            .post("/w")
            .add_header(USER_HEADER, "alice")
            .await
            .text(),
        "true"
    );
    let first = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": 5 }))
        .await;
    assert_eq!(first.status_code(), 200);
    assert_eq!(gate.config.failed_open_count(), 2);
}

#[tokio::test]
async fn a_typed_proof_extracts_only_behind_its_own_actions_gate() {
    let gate = start(|layer| layer).await;
    let typed = |action: &str| {
        TestServer::new(
            Router::new().route(
                "/w",
                post(|proof: StepUp<Withdraw>| async move { proof.action().to_owned() })
                    .layer(gate.config.gate(action)),
            ),
        )
    };
    // Behind its own gate (made from the type, or from the code).
    let own = TestServer::new(
        Router::new().route(
            "/w",
            post(|proof: StepUp<Withdraw>| async move { proof.action().to_owned() })
                .layer(gate.config.gate(Withdraw)),
        ),
    );
    let passed = own.post("/w").add_header(USER_HEADER, "alice").await;
    assert_eq!(
        (passed.status_code().as_u16(), passed.text()),
        (200, "withdraw".into())
    );
    assert_eq!(
        typed("withdraw")
            .post("/w")
            .add_header(USER_HEADER, "alice")
            .await
            .status_code(),
        200
    );
    // Behind another action's gate (allowed by Authsignal): the handler does not run.
    gate.emulator
        .set_action("createApiKey", ActionConfig::allow());
    let wrong = typed("createApiKey")
        .post("/w")
        .add_header(USER_HEADER, "alice")
        .await;
    assert_eq!(wrong.status_code(), 500);
    let detail = wrong.json::<Value>()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("`withdraw`") && detail.contains("`createApiKey`"),
        "{detail}"
    );
    // A plain StepUp accepts any action.
    let any = TestServer::new(
        Router::new().route(
            "/w",
            post(|proof: StepUp| async move { proof.action().to_owned() })
                .layer(gate.config.gate("createApiKey")),
        ),
    );
    assert_eq!(
        any.post("/w").add_header(USER_HEADER, "alice").await.text(),
        "createApiKey"
    );
}

/// An app's session, found asynchronously (as a session store would).
struct Session(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        tokio::task::yield_now().await;
        match parts.headers.get("cookie").and_then(|v| v.to_str().ok()) {
            Some(cookie) => Ok(Session(cookie.strip_prefix("session=").map(str::to_owned))),
            None => Err(StatusCode::UNAUTHORIZED),
        }
    }
}

#[tokio::test]
async fn the_user_comes_from_any_async_extractor() {
    let gate = setup()
        .config(|config| config.user_from(|session: Session| session.0))
        .start()
        .await;
    let signed_in = gate
        .server
        .post("/withdraw")
        .add_header("cookie", "session=bob")
        .json(&json!({ "amount": 5 }))
        .await;
    assert_eq!(signed_in.status_code(), 200);
    assert_eq!(signed_in.json::<Value>()["user"], "bob");
    // A rejection, or no user in the session: 401, nothing tracked.
    gate.emulator.clear_calls();
    for request in [
        gate.server.post("/withdraw"),
        gate.server
            .post("/withdraw")
            .add_header("cookie", "other=1"),
    ] {
        let response = request.json(&json!({ "amount": 5 })).await;
        assert_eq!(response.status_code(), 401);
    }
    assert!(gate.emulator.calls().is_empty());
}

/// Adds `x-refusal` from the refusal an inner gate put in the response's extensions.
async fn outer_layer(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(code) = response.extensions().get::<Refusal>().map(Refusal::code) {
        response
            .headers_mut()
            .insert("x-refusal", http::HeaderValue::from_static(code));
    }
    response
}

#[tokio::test]
async fn the_app_renders_every_answer_and_outer_layers_see_refusals() {
    let gate = setup()
        .config(|config| {
            config.respond_with(|answer, client| {
                let kind = match client {
                    ClientKind::Browser => "browser",
                    _ => "api",
                };
                let (status, what) = match answer {
                    GateAnswer::Refusal(refusal) => (refusal.status(), refusal.code().to_owned()),
                    GateAnswer::Challenge(challenge) => {
                        (StatusCode::UNAUTHORIZED, format!("challenge {challenge:?}"))
                    }
                    _ => (StatusCode::INTERNAL_SERVER_ERROR, "unknown".to_owned()),
                };
                Some((status, format!("app says {kind}: {what}")).into_response())
            })
        })
        .start()
        .await;
    let challenged = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": 5000 }))
        .await;
    assert_eq!(challenged.status_code(), 401);
    let text = challenged.text();
    assert!(
        text.starts_with("app says api: challenge Challenge"),
        "{text}"
    );
    assert!(
        !text.contains("eyJ"),
        "a challenge's Debug shows no token: {text}"
    );
    assert_eq!(challenged.header("cache-control"), "no-store");

    let refused = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .add_header("x-authsignal-token", "a.b.c")
        .form(&[("amount", "5000")])
        .await;
    assert_eq!(refused.status_code(), 403);
    assert_eq!(refused.text(), "app says browser: step_up_failed");

    // Outer layers read the refusal from the extensions, whoever rendered it.
    let wrapped = TestServer::new(
        Router::new()
            .route(
                "/w",
                post(|proof: StepUp| async move { proof.user_id().to_owned() })
                    .layer(gate.config.gate("withdraw")),
            )
            .layer(axum::middleware::from_fn(outer_layer)),
    );
    let no_user = wrapped.post("/w").await;
    assert_eq!(no_user.status_code(), 401);
    assert_eq!(no_user.header("x-refusal"), "user_required");
    let malformed = wrapped
        .post("/w")
        .add_header(USER_HEADER, "alice")
        .add_header("x-authsignal-token", "not a token")
        .await;
    assert_eq!(malformed.header("x-refusal"), "token_malformed");
}

#[tokio::test]
async fn browsers_never_see_raw_json_from_the_gate() {
    let gate = start(|layer| layer).await;
    let navigation = |request: axum_test::TestRequest| {
        request
            .add_header("accept", NAVIGATION_ACCEPT)
            .add_header("sec-fetch-mode", "navigate")
    };
    let mut answers = vec![
        (
            "no user",
            navigation(gate.server.post("/withdraw"))
                .form(&[("amount", "5")])
                .await,
        ),
        (
            "refused token",
            navigation(
                gate.server
                    .post("/withdraw")
                    .add_header(USER_HEADER, "alice"),
            )
            .add_header("x-authsignal-token", "a.b.c")
            .form(&[("amount", "5")])
            .await,
        ),
        (
            "malformed token",
            navigation(
                gate.server
                    .get("/withdraw?token=x%20y")
                    .add_header(USER_HEADER, "alice"),
            )
            .await,
        ),
    ];
    gate.emulator
        .inject_fault("track", Fault::status(StatusCode::BAD_GATEWAY).always());
    answers.push((
        "outage",
        navigation(
            gate.server
                .post("/withdraw")
                .add_header(USER_HEADER, "alice"),
        )
        .form(&[("amount", "5")])
        .await,
    ));
    gate.emulator.clear_faults();
    gate.emulator.set_action("withdraw", ActionConfig::block());
    answers.push((
        "blocked",
        navigation(
            gate.server
                .post("/withdraw")
                .add_header(USER_HEADER, "alice"),
        )
        .form(&[("amount", "5")])
        .await,
    ));
    for (name, response) in &answers {
        assert!(
            response.status_code().is_client_error() || response.status_code() == 503,
            "{name}"
        );
        let content_type = response.header("content-type").to_str().unwrap().to_owned();
        assert!(
            content_type.starts_with("text/html"),
            "{name}: {content_type}"
        );
        assert_eq!(response.header("cache-control"), "no-store", "{name}");
        let html = response.text();
        assert!(
            html.starts_with("<!doctype html><html lang=\"en\">"),
            "{name}: {html}"
        );
        assert!(
            html.contains("<h1>") && html.contains("role=\"alert\""),
            "{name}: {html}"
        );
        assert!(!html.contains('{'), "{name}: {html}");
    }
    assert!(
        answers[3].1.maybe_header("retry-after").is_some(),
        "an outage says when"
    );
    // API clients still get problem+json.
    let api = gate
        .server
        .post("/withdraw")
        .json(&json!({ "amount": 5 }))
        .await;
    assert_eq!(api.header("content-type"), "application/problem+json");
}

/// The client IP behind proxies: serves the app with the peer address, and lets the
/// emulator block one address.
async fn serve_with_peer(config: StepUpConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/w", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/w",
        post(|proof: StepUp| async move { proof.user_id().to_owned() })
            .layer(config.gate("withdraw").on_review(StatusCode::ACCEPTED)),
    );
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    url
}

#[tokio::test]
async fn the_client_ip_is_the_peer_unless_a_trusted_proxy_tells() {
    let gate = start(|layer| layer).await;
    gate.emulator.set_action(
        "withdraw",
        ActionConfig::allow()
            .rule(
                Rule::new("blocked-ip", Outcome::Block)
                    .when(Condition::ip_address_in(["203.0.113.7"])),
            )
            .rule(
                Rule::new("loopback", Outcome::ReviewRequired)
                    .when(Condition::ip_address_in(["127.0.0.1"])),
            ),
    );
    let status = |url: String, headers: &'static [(&'static str, &'static str)]| {
        let http = gate.http.clone();
        async move {
            let mut request = http.post(url).header(USER_HEADER, "alice");
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    // No trusted proxies (the default): the peer, 127.0.0.1, is sent whatever the headers
    // say (the loopback rule answers a review: 202).
    let direct = serve_with_peer(
        StepUpConfig::builder(gate.client.clone())
            .user_id(user_from_header)
            .build(),
    )
    .await;
    assert_eq!(status(direct.clone(), &[]).await, 202);
    assert_eq!(
        status(direct.clone(), &[("x-forwarded-for", "203.0.113.7")]).await,
        202,
        "spoofed: still the peer"
    );
    // Behind a trusted proxy that writes X-Forwarded-For: its rightmost untrusted address.
    let proxied = serve_with_peer(
        StepUpConfig::builder(gate.client.clone())
            .user_id(user_from_header)
            .trusted_proxies(
                ForwardedHeader::XForwardedFor,
                ["127.0.0.0/8".parse().unwrap()],
            )
            .build(),
    )
    .await;
    assert_eq!(
        status(
            proxied.clone(),
            &[("x-forwarded-for", "6.6.6.6, 203.0.113.7")]
        )
        .await,
        403
    );
    assert_eq!(
        status(
            proxied.clone(),
            &[("x-forwarded-for", "203.0.113.7, 198.51.100.1")]
        )
        .await,
        200,
        "the client wrote the left one"
    );
    assert_eq!(
        status(proxied.clone(), &[("x-forwarded-for", "198.51.100.1")]).await,
        200
    );
    assert_eq!(
        status(
            proxied.clone(),
            &[
                ("forwarded", "for=203.0.113.7"),
                ("x-forwarded-for", "198.51.100.1")
            ]
        )
        .await,
        200,
        "a Forwarded header the proxy does not write is the client's own"
    );
    assert_eq!(
        status(proxied.clone(), &[("x-forwarded-for", "127.0.0.1")]).await,
        200,
        "every hop a trusted proxy: neither the client-written leftmost nor the peer is sent"
    );
    assert_eq!(
        status(proxied, &[]).await,
        200,
        "a trusted proxy that names no one: no address"
    );
    // Behind a proxy that writes Forwarded, X-Forwarded-For is the client's own.
    let forwarded = serve_with_peer(
        StepUpConfig::builder(gate.client.clone())
            .user_id(user_from_header)
            .trusted_proxies(ForwardedHeader::Forwarded, ["127.0.0.0/8".parse().unwrap()])
            .build(),
    )
    .await;
    assert_eq!(
        status(
            forwarded.clone(),
            &[
                ("x-forwarded-for", "198.51.100.1"),
                ("forwarded", "for=203.0.113.7")
            ]
        )
        .await,
        403
    );
    assert_eq!(
        status(forwarded, &[("x-forwarded-for", "203.0.113.7")]).await,
        200
    );
}
