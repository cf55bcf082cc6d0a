//! How the examples serve (examples/common/demo.rs's `serve`, which every example's `main`
//! calls): the gate learns the peer's address, and a connection that trickles its request
//! headers is closed.

use crate::demo;
use crate::payment_api;

use std::time::Duration;

use authsignal_emulator::{ActionConfig, Condition, Outcome, Rule};
use axum::Router;
use axum::routing::get;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Authsignal's IP rules see the address the request came from: the emulator blocks
/// 127.0.0.1, and a small payment, which its rules otherwise allow, is refused. Served
/// without `ConnectInfo`, the gate has no address to send, and the payment goes through.
#[tokio::test]
async fn the_ip_authsignal_receives_is_the_peers() {
    let (app, emulator) = payment_api::with_emulator().await;
    emulator.set_action(
        "payment",
        ActionConfig::allow().rule(
            Rule::new("from-the-test", Outcome::Block)
                .when(Condition::ip_address_in(["127.0.0.1"])),
        ),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(demo::serve(listener, app));

    let answer = reqwest::Client::new()
        .post(format!("{origin}/payments"))
        .bearer_auth(payment_api::DEMO_API_KEY)
        .json(&json!({ "amount": 5, "payee": "ACME Ltd" }))
        .send()
        .await
        .unwrap();
    assert_eq!(emulator.call_count("track"), 1);
    let status = answer.status().as_u16();
    let body = answer.text().await.unwrap();
    assert_eq!(
        status, 403,
        "the peer's address, 127.0.0.1, is blocked: {body}"
    );
    assert!(body.contains("action_blocked"), "{body}");
}

/// A client that sends part of its request headers and then nothing is disconnected once
/// the header-read timeout has passed, while a prompt client is served as usual.
#[tokio::test]
async fn a_connection_that_trickles_its_headers_is_closed() {
    let app = Router::new().route("/", get(|| async { "served" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(demo::serve_with(listener, app, Duration::from_secs(1)));

    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: app\r\nX-Slow: 1")
        .await
        .unwrap();
    // A generous bound: the timeout is 1 s. (hyper's own default, with a timer but no
    // timeout set, is 30 s; without a timer there is none, and the read waits forever.)
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(20), slow.read(&mut buffer))
        .await
        .expect("the server closes the connection instead of waiting for the headers");
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!(
            "expected the connection closed, got {:?}",
            String::from_utf8_lossy(&buffer[..n])
        ),
    }

    let served = reqwest::get(format!("http://{address}/")).await.unwrap();
    assert_eq!(served.text().await.unwrap(), "served");
}
