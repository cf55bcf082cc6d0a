//! The webhooks example: its route receives the embedded emulator's events, verified with
//! `VerifiedWebhook`, refuses a forged one, and handles a replayed one once.

use crate::webhooks;

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

#[tokio::test]
async fn a_replayed_webhook_is_handled_once() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let emulator = webhooks::emulator_for(&origin, true).await.unwrap();
    let (router, state) = webhooks::app(emulator.secret());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    // One request as Authsignal signs it, captured and sent again within the tolerance.
    let body = r#"{"version":1,"type":"sms.created","id":"evt-replayed","source":"https://authsignal.com","time":"2024-01-01T00:00:00.000Z","tenantId":"t","data":{}}"#;
    let signature = signature_header(emulator.secret(), now, body);
    let send = |body: &'static str, signature: String| {
        reqwest::Client::new()
            .post(format!("{origin}{}", webhooks::WEBHOOK_PATH))
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
    };
    for attempt in 1..=3 {
        let answer = send(body, signature.clone()).await.unwrap();
        assert_eq!(answer.status().as_u16(), 200, "attempt {attempt}");
    }
    // The same event signed again a minute later (a retry, or a replay re-signed by no
    // one but Authsignal): still the same event.
    let answer = send(body, signature_header(emulator.secret(), now + 60, body))
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(
        *state.received.lock().unwrap(),
        ["sms.created evt-replayed"],
        "handled once"
    );

    // A batch whose records are new, but one of them was handled already.
    let batch = r#"{"records":[{"version":1,"type":"action.log_created","id":"evt-replayed","source":"https://authsignal.com","time":"2024-01-01T00:00:00.000Z","tenantId":"t","record":{}},{"version":1,"type":"action.log_created","id":"evt-new","source":"https://authsignal.com","time":"2024-01-01T00:00:00.000Z","tenantId":"t","record":{}}]}"#;
    let answer = send(batch, signature_header(emulator.secret(), now, batch))
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(
        *state.received.lock().unwrap(),
        ["sms.created evt-replayed", "action.log_created evt-new"]
    );
}
