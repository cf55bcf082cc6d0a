//! A planted resume cookie in a real browser: a cookie named `authsignal-resume` at
//! `Path=/withdraw` (what a sibling subdomain or a plain-http answer can set) is sent by
//! Chromium before the gate's own `Path=/` cookie. The withdrawal example's step-up must
//! still come back to the confirmation, withdrawing once, not to the empty form.
//!
//! Needs Debian's `chromium` and `chromium-driver`, as `tests/browser.rs` does.

#[path = "browser/webdriver.rs"]
mod webdriver;
#[path = "../examples/withdrawal.rs"]
#[allow(dead_code)]
mod withdrawal;

use std::path::Path;

use serde_json::json;
use webdriver::ChromeDriver;

/// The resume cookie's value on `/withdraw` as the gate sets it (`<id>.<tag>`), learnt
/// over plain HTTP: a step-up taken as far as the way back, which sets the cookie. The
/// planted cookie carries the same tag (anyone can learn it so), or a gate that read
/// only the first cookie would skip it and the test could not fail.
async fn learn_resume_cookie(
    origin: &str,
    emulator: &axum_authsignal::emulator::EmulatorHandle,
) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = http
        .post(format!("{origin}/login"))
        .form(&[
            ("username", withdrawal::DEMO_USER),
            ("password", withdrawal::DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let session = signed_in.headers()["set-cookie"].to_str().unwrap();
    let session = session.split(';').next().unwrap().to_owned();
    let challenged = http
        .post(format!("{origin}/withdraw"))
        .header("cookie", &session)
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .form(&[("amount", "2500")])
        .send()
        .await
        .unwrap();
    assert_eq!(challenged.status(), 303);
    let ui = challenged.headers()["location"].to_str().unwrap();
    let back = emulator.complete_prebuilt_ui(ui).await.unwrap();
    let returned = http
        .get(&back)
        .header("cookie", &session)
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(returned.status(), 303);
    returned
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.split(';').next()?.strip_prefix("authsignal-resume="))
        .expect("a resume cookie")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_resume_cookie_does_not_turn_a_step_up_into_the_empty_form() {
    if !webdriver::browser_installed("planted resume cookie test") {
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (app, emulator) = withdrawal::with_emulator(&origin).await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let learnt = learn_resume_cookie(&origin, &emulator).await;
    let (_, tag) = learnt.split_once('.').unwrap();

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    browser.goto(&format!("{origin}/")).await;
    browser
        .wait_for("#username")
        .await
        .fill(withdrawal::DEMO_USER)
        .await;
    browser
        .wait_for("#password")
        .await
        .fill(withdrawal::DEMO_PASSWORD)
        .await;
    browser.wait_for("#sign-in").await.click().await;
    let form = format!("{origin}/withdraw");
    browser
        .wait_for_url("the withdrawal form", |url| url == form)
        .await;

    // The planted cookie: the gate's name, this route's tag, an id of the right shape.
    let planted = format!("authsignal-resume={}.{tag}", "P".repeat(22));
    let held = browser
        .execute(
            "document.cookie = arguments[0] + '; path=/withdraw'; return document.cookie;",
            json!([planted]),
        )
        .await;
    assert!(
        held.as_str().unwrap_or_default().contains(&planted),
        "the browser holds the planted cookie: {held}"
    );

    browser.wait_for("#amount").await.fill("2500").await;
    browser.wait_for("#withdraw").await.click().await;
    let challenge = format!("{}/ui/challenge?", emulator.origin());
    browser
        .wait_for_url("the emulator's challenge page", |url| {
            url.starts_with(&challenge)
        })
        .await;
    let code = emulator.totp_code(withdrawal::DEMO_USER).unwrap();
    browser.wait_for("#code").await.fill(&code).await;
    browser.wait_for("#verify").await.click().await;

    // Back in the app: the confirmation, not the empty form.
    let confirmation = browser.wait_for("#confirmation").await.text().await;
    assert!(confirmation.contains("2500"), "{confirmation:?}");
    browser.goto(&format!("{origin}/withdrawals")).await;
    browser.wait_for("li.withdrawal").await;
    assert_eq!(
        browser.find_all("li.withdrawal").await.len(),
        1,
        "withdrawn exactly once"
    );

    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
}
