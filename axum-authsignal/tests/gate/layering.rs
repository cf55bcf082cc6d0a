//! The layer in each place axum lets a layer go, and the traits a layer must have.

use axum::Router;
use axum::routing::post;
use axum_authsignal::{StepUp, StepUpConfig, StepUpLayer, UserId};
use axum_test::TestServer;
use serde_json::json;
use tower::ServiceBuilder;

use crate::support::*;

async fn handler(step_up: StepUp) -> String {
    step_up.user_id().to_owned()
}

#[test]
fn the_layer_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<StepUpLayer>();
}

/// The app's own auth layer, standing in: sets the `UserId` extension the gate reads by
/// default.
async fn sign_in_alice(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    request.extensions_mut().insert(UserId("alice".into()));
    next.run(request).await
}

#[tokio::test]
async fn every_way_of_applying_the_layer_gates_the_route() {
    let emulator = emulator().await;
    let layer = StepUpConfig::new(client(&emulator)).gate("withdraw");
    let apps = [
        (
            "Router::route_layer",
            Router::new()
                .route("/w", post(handler))
                .route_layer(layer.clone()),
        ),
        (
            "MethodRouter::layer",
            Router::new().route("/w", post(handler).layer(layer.clone())),
        ),
        (
            "MethodRouter::route_layer",
            Router::new().route("/w", post(handler).route_layer(layer.clone())),
        ),
        (
            "ServiceBuilder",
            Router::new().route(
                "/w",
                post(handler).layer(ServiceBuilder::new().layer(layer.clone())),
            ),
        ),
    ];
    for (name, app) in apps {
        let server = TestServer::new(app.layer(axum::middleware::from_fn(sign_in_alice)));
        let small = server.post("/w").json(&json!({ "amount": 5 })).await;
        assert_eq!(small.status_code(), 200, "{name}");
        assert_eq!(
            small.text(),
            "alice",
            "{name}: the user comes from the UserId extension"
        );
    }
    // The layer reads nothing from the body unless told to: a large amount is not seen...
    let blind = TestServer::new(
        Router::new()
            .route("/w", post(handler).layer(layer.clone()))
            .layer(axum::middleware::from_fn(sign_in_alice)),
    );
    assert_eq!(
        blind
            .post("/w")
            .json(&json!({ "amount": 5000 }))
            .await
            .status_code(),
        200
    );
    // ...and is challenged once the amount is sent to the rules.
    let seeing = TestServer::new(
        Router::new()
            .route(
                "/w",
                post(handler).layer(layer.custom_from_body(["amount"])),
            )
            .layer(axum::middleware::from_fn(sign_in_alice)),
    );
    assert_eq!(
        seeing
            .post("/w")
            .json(&json!({ "amount": 5000 }))
            .await
            .status_code(),
        401
    );
}

/// `methods` gates the action's method only: the form page on GET is not tracked, and the
/// GET that brings a browser back with a token still reaches the gate.
#[tokio::test]
async fn methods_limits_tracking_to_the_gated_methods() {
    let gate = start(|layer| layer.methods([http::Method::POST])).await;
    gate.emulator.clear_calls();
    // `start` routes only POST on /withdraw; a GET without a token passes through the
    // layer untracked to the method router's 405.
    let page = gate
        .server
        .get("/withdraw")
        .add_header(USER_HEADER, "alice")
        .await;
    assert_eq!(page.status_code(), 405);
    assert!(
        gate.emulator.calls().is_empty(),
        "{:?}",
        gate.emulator.calls()
    );
    // The POST is still gated, and the browser's way back still works.
    let location = browser_submit(&gate, "alice", &[("amount", "5000")]).await;
    let back = complete_ui(&gate, &location).await;
    let done = follow_back(&gate, &back, "alice").await;
    assert_eq!(done.status_code(), 200, "{}", done.text());
    assert_eq!(gate.runs(), 1);
}
