//! The `metrics` feature: a counter per action and outcome, a histogram of Authsignal's
//! latency, a gauge of pending challenges, read back through a Prometheus recorder; held
//! reviews counted as held, approved and denied.

use authsignal_emulator::{ActionConfig, Condition, Emulator, Outcome, Rule};
use axum::Router;
use axum::routing::post;
use axum_authsignal::{StepUp, StepUpConfig};
use axum_test::TestServer;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::{Value, json};

fn value(rendered: &str, series: &str) -> Option<f64> {
    rendered
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn the_gate_counts_outcomes_times_authsignal_and_gauges_pending_challenges() {
    // One recorder for this test binary, which has only this test.
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder");
    let emulator = Emulator::builder()
        .action(
            "withdraw",
            ActionConfig::allow().rule(
                Rule::new("large", Outcome::ChallengeRequired)
                    .when(Condition::custom_above("amount", 1000.0)),
            ),
        )
        .action("payment", ActionConfig::review())
        .start()
        .await
        .unwrap();
    emulator.enroll_totp("alice");
    let step_up = StepUpConfig::builder(emulator.client())
        .user_id(|parts| Some(parts.headers.get("x-user")?.to_str().ok()?.to_owned()))
        .build();
    let server = TestServer::new(
        Router::new()
            .route(
                "/w",
                post(|proof: StepUp| async move { proof.user_id().to_owned() })
                    .layer(step_up.gate("withdraw").custom_from_body(["amount"])),
            )
            .route(
                "/p",
                post(|proof: StepUp| async move { proof.user_id().to_owned() })
                    .layer(step_up.gate("payment").hold_reviews()),
            ),
    );
    let send = |amount: u32, token: Option<&str>| {
        let mut request = server.post("/w").add_header("x-user", "alice");
        if let Some(token) = token {
            request = request.add_header("x-authsignal-token", token);
        }
        request.json(&json!({ "amount": amount }))
    };
    assert_eq!(send(5, None).await.status_code(), 200);
    assert_eq!(send(5, None).await.status_code(), 200);
    let challenged: Value = send(5000, None).await.json();
    let track = challenged["token"].as_str().unwrap();
    let rendered = handle.render();
    assert_eq!(
        value(&rendered, "authsignal_pending_challenges"),
        Some(1.0),
        "{rendered}"
    );
    let verified: Value = reqwest::Client::new()
        .post(format!("{}/client/verify/totp", emulator.api_url()))
        .bearer_auth(track)
        .json(&json!({ "verificationCode": emulator.totp_code("alice") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = verified["accessToken"].as_str().unwrap();
    assert_eq!(send(5000, Some(token)).await.status_code(), 200);
    assert_eq!(send(5000, Some(token)).await.status_code(), 403);
    // Sign-in is the gate's own first leg: its outcomes are counted the same way.
    let sign_in = step_up
        .sign_in("http://127.0.0.1/login/callback")
        .build()
        .unwrap();
    let (parts, ()) = http::Request::new(()).into_parts();
    assert!(sign_in.start("alice", &parts).await.is_ok());

    // Two payments held; one approved and run, one denied; one comeback while in review.
    let pay = |amount: u32, review: Option<&str>| {
        let mut request = server.post("/p").add_header("x-user", "alice");
        if let Some(review) = review {
            request = request.add_header(axum_authsignal::REVIEW_HEADER, review);
        }
        request.json(&json!({ "amount": amount }))
    };
    let mut keys = Vec::new();
    for amount in [1, 2] {
        let held = pay(amount, None).await;
        assert_eq!(held.status_code(), 202);
        keys.push(
            held.json::<Value>()["idempotencyKey"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(pay(1, Some(&keys[0])).await.status_code(), 202);
    for (key, state) in keys.iter().zip([
        authsignal::types::UserActionState::ReviewSucceeded,
        authsignal::types::UserActionState::ReviewFailed,
    ]) {
        emulator
            .client()
            .update_action(
                "alice",
                "payment",
                key,
                &authsignal::types::UpdateActionRequest { state },
            )
            .await
            .unwrap();
    }
    assert_eq!(pay(1, Some(&keys[0])).await.status_code(), 200);
    assert_eq!(pay(2, Some(&keys[1])).await.status_code(), 403);
    // Ended already: refused, not denied again.
    assert_eq!(pay(2, Some(&keys[1])).await.status_code(), 403);

    let rendered = handle.render();
    let reviews = |outcome: &str| {
        value(
            &rendered,
            &format!("authsignal_step_up_total{{action=\"payment\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(reviews("held"), Some(2.0), "{rendered}");
    assert_eq!(reviews("still_in_review"), Some(1.0), "{rendered}");
    assert_eq!(reviews("approved"), Some(1.0), "{rendered}");
    assert_eq!(reviews("denied"), Some(1.0), "{rendered}");
    assert_eq!(reviews("refused"), Some(1.0), "{rendered}");
    assert_eq!(
        value(
            &rendered,
            "authsignal_request_duration_seconds_count{operation=\"getAction\"}"
        ),
        Some(4.0),
        "{rendered}"
    );
    let count = |outcome: &str| {
        value(
            &rendered,
            &format!("authsignal_step_up_total{{action=\"withdraw\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(count("allowed"), Some(2.0), "{rendered}");
    assert_eq!(count("challenged"), Some(1.0), "{rendered}");
    assert_eq!(count("verified"), Some(1.0), "{rendered}");
    assert_eq!(count("refused"), Some(1.0), "{rendered}");
    assert_eq!(
        value(
            &rendered,
            "authsignal_step_up_total{action=\"signIn\",outcome=\"allowed\"}"
        ),
        Some(1.0),
        "{rendered}"
    );
    assert_eq!(
        value(
            &rendered,
            "authsignal_request_duration_seconds_count{operation=\"track\"}"
        ),
        Some(6.0),
        "{rendered}"
    );
    assert_eq!(
        value(
            &rendered,
            "authsignal_request_duration_seconds_count{operation=\"validateChallenge\"}"
        ),
        Some(2.0),
        "{rendered}"
    );
    assert_eq!(
        value(&rendered, "authsignal_pending_challenges"),
        Some(0.0),
        "{rendered}"
    );
}
