//! Content negotiation through real HTTP: who gets a redirect and who gets a 401.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn browsers_are_redirected_and_everything_else_gets_a_401() {
    let gate = start(|layer| layer).await;
    let chrome = NAVIGATION_ACCEPT;
    // (case, request headers, expected status)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16);
    let cases: &[Case] = &[
        ("no Accept", &[], 401),
        ("curl */*", &[("accept", "*/*")], 401),
        ("JSON API", &[("accept", "application/json")], 401),
        ("browser Accept", &[("accept", chrome)], 303),
        (
            "navigation",
            &[("accept", chrome), ("sec-fetch-mode", "navigate")],
            303,
        ),
        (
            "fetch() from a page",
            &[("accept", chrome), ("sec-fetch-mode", "cors")],
            401,
        ),
        (
            "q-values prefer JSON",
            &[("accept", "text/html;q=0.4, application/json")],
            401,
        ),
        (
            "q-values prefer HTML",
            &[("accept", "application/json;q=0.4, text/html")],
            303,
        ),
        (
            "XHR",
            &[("accept", chrome), ("x-requested-with", "XMLHttpRequest")],
            401,
        ),
        ("htmx", &[("accept", chrome), ("hx-request", "true")], 401),
    ];
    for (name, headers, expected) in cases {
        // A form: what a browser navigation can send, and be made to send again.
        let mut request = gate
            .server
            .post("/withdraw")
            .add_header(USER_HEADER, "alice")
            .form(&[("amount", "5000")]);
        for (header, value) in *headers {
            request = request.add_header(*header, *value);
        }
        let response = request.await;
        assert_eq!(response.status_code().as_u16(), *expected, "{name}");
        if *expected == 401 {
            assert_eq!(
                response.header("content-type"),
                "application/problem+json",
                "{name}"
            );
        }
        assert_eq!(response.header("cache-control"), "no-store", "{name}");
        let vary = response.header("vary").to_str().unwrap().to_owned();
        for header in ["Accept", "Sec-Fetch-Mode", "X-Requested-With", "HX-Request"] {
            assert!(vary.contains(header), "{name}: Vary {vary}");
        }
    }
    assert_eq!(gate.runs(), 0);
}

#[tokio::test]
async fn htmx_gets_an_hx_redirect_to_the_ui_and_is_resumed() {
    let gate = start(|layer| layer).await;
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .add_header("hx-request", "true")
        .form(&[("amount", "5000")])
        .await;
    assert_eq!(response.status_code(), 401);
    let ui = response.header("hx-redirect").to_str().unwrap().to_owned();
    assert!(ui.starts_with(gate.emulator.origin()), "{ui}");
    let back = complete_ui(&gate, &ui).await;
    let resumed = follow_back(&gate, &back, "alice").await;
    assert_eq!(resumed.status_code(), 200, "{}", resumed.text());
    assert_eq!(gate.runs(), 1);
}

#[tokio::test]
async fn the_client_kind_override_wins() {
    let gate = start(|layer| layer.client_kind(axum_authsignal::ClientKind::Api)).await;
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .form(&[("amount", "5000")])
        .await;
    assert_eq!(response.status_code(), 401);
    let gate = start(|layer| layer.client_kind(axum_authsignal::ClientKind::Browser)).await;
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .add_header("accept", "application/json")
        .form(&[("amount", "5000")])
        .await;
    assert_eq!(response.status_code(), 303);
}

/// A JSON body cannot come from a browser form, so a navigation that sends one is not
/// stashed for a resume: it gets an HTML page, never raw JSON, and nothing is kept.
#[tokio::test]
async fn a_navigation_the_ui_cannot_bring_back_gets_a_page_not_json() {
    let gate = start(|layer| layer).await;
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .json(&json!({ "amount": 5000 }))
        .await;
    assert_eq!(response.status_code(), 401);
    assert!(
        response
            .header("content-type")
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(!response.text().contains("token"), "{}", response.text());
    assert_eq!(gate.runs(), 0);
}
