//! The webhooks example: its route receives the embedded emulator's events, verified with
//! `VerifiedWebhook`, and refuses a forged one.

#[path = "../examples/webhooks.rs"]
#[allow(dead_code)]
mod webhooks;

use axum_authsignal::webhook::{SIGNATURE_HEADER, signature_header};

#[tokio::test]
async fn the_example_receives_the_emulators_events() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let emulator = webhooks::emulator_for(&origin, true).await.unwrap();
    let (router, state) = webhooks::app(emulator.secret());
    tokio::spawn(async move { axum::serve(listener, router).await });

    webhooks::make_events(&emulator).await.unwrap();
    emulator.webhooks_idle().await;
    let types: Vec<String> = state
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|line| line.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "authenticator.created",
            "sms.created",
            "challenge.log_created",
            "challenge.log_created",
            "action.log_created",
        ]
    );
    let listed = reqwest::get(format!("{origin}/events"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(listed.lines().count(), types.len());

    // A request signed with another secret is refused before the handler runs.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = r#"{"version":1,"type":"sms.created","id":"forged","source":"https://authsignal.com","time":"2024-01-01T00:00:00.000Z","tenantId":"t","data":{}}"#;
    let forged = reqwest::Client::new()
        .post(format!("{origin}{}", webhooks::WEBHOOK_PATH))
        .header(SIGNATURE_HEADER, signature_header("guessed", now, body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 400);
    assert_eq!(state.received.lock().unwrap().len(), types.len());
}
