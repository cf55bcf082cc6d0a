//! The withdrawal flow in a real browser, on two instances of the app behind a round-robin
//! load balancer: headless Chromium, driven over WebDriver by `chromedriver`, signs in,
//! withdraws more than the threshold, passes the emulator's pre-built UI, and lands on
//! the confirmation, with every request it sends to the app served by the other instance
//! than the one before. The withdrawal is made exactly once.
//!
//! The instances are the withdrawal example's app (its pages, sessions and ledger, from
//! `examples/common/`) built twice, each with a `StepUpConfig` and a `RedisStore` handle
//! of its own on one Redis: the sessions and the ledger stand for the app's own database,
//! which both instances share; the pending challenges are shared through Redis only.
//!
//! Needs Debian's `chromium`, `chromium-driver` (`.ci/browser-deps.sh`) and
//! `redis-server` (`.ci/redis-deps.sh`): without them the test says so and skips, with
//! `CI` set it fails.

use crate::redis_support;
use crate::webdriver;
use crate::withdrawals;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::demo::Sessions;
use crate::instances_support::proxy::{Hop, Proxy};
use crate::webdriver::ChromeDriver;
use crate::withdrawals::{Ledger, Withdraw};
use authsignal_emulator::{Emulator, EmulatorHandle};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_authsignal::store::RedisStore;
use axum_authsignal::{Action, StepUp, StepUpConfig};
use serde::Deserialize;

const USER: &str = "demo";
const PASSWORD: &str = "demo";

/// What both instances share besides Redis: the app's own data.
#[derive(Clone, Default)]
struct Database {
    sessions: Sessions,
    ledger: Ledger,
}

/// One instance's state: the shared data, and how many times its handler ran.
#[derive(Clone)]
struct AppState {
    database: Database,
    withdrawals_made: Arc<AtomicUsize>,
}

/// One instance of the withdrawal app: the example's routes and pages, with `store`.
fn instance(
    emulator: &EmulatorHandle,
    store: RedisStore,
    origin: &str,
    database: Database,
    withdrawals_made: Arc<AtomicUsize>,
) -> Router {
    let sessions = database.sessions.clone();
    let step_up = StepUpConfig::builder(emulator.client())
        .store(Arc::new(store))
        .redirect_origin(origin)
        .user_id(move |parts| sessions.user(&parts.headers))
        .build();
    let gate = step_up
        .gate(Withdraw)
        .custom_from_body(["amount"])
        .methods([Method::POST]);
    Router::new()
        .route("/", get(sign_in_page))
        .route("/login", post(login))
        .route("/withdraw", get(withdraw_page).post(withdraw).layer(gate))
        .route("/withdrawals", get(past_withdrawals))
        .route("/withdrawals/{id}", get(confirmation))
        .with_state(AppState {
            database,
            withdrawals_made,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_withdrawal_completes_once_in_the_browser_with_each_request_on_the_other_instance() {
    if !webdriver::browser_installed("browser instances test") {
        return;
    }
    let Some(redis) = redis_support::shared() else {
        return;
    };
    let emulator = Emulator::builder()
        .action(Withdraw::CODE, withdrawals::action_config())
        .start()
        .await
        .unwrap();
    emulator.enroll_totp(USER);

    // The load balancer's port first: both instances are configured with its origin.
    let proxy_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", proxy_listener.local_addr().unwrap());
    let database = Database::default();
    let mut backends = Vec::new();
    let mut made = Vec::new();
    for _ in 0..2 {
        let store = RedisStore::builder(redis.url())
            .prefix(format!("browser-instances-{}:", std::process::id()))
            .timeout(Duration::from_secs(5))
            .build()
            .await
            .unwrap();
        let withdrawals_made = Arc::new(AtomicUsize::new(0));
        let app = instance(
            &emulator,
            store,
            &origin,
            database.clone(),
            withdrawals_made.clone(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        backends.push(format!("http://{}", listener.local_addr().unwrap()));
        made.push(withdrawals_made);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let proxy = Proxy::serve(proxy_listener, backends);

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;

    // Sign in.
    browser.goto(&format!("{origin}/")).await;
    browser.wait_for("#username").await.fill(USER).await;
    browser.wait_for("#password").await.fill(PASSWORD).await;
    browser.wait_for("#sign-in").await.click().await;
    // The form, with an amount above the threshold.
    let form = format!("{origin}/withdraw");
    browser
        .wait_for_url("the withdrawal form", |url| url == form)
        .await;
    browser.wait_for("#amount").await.fill("2500").await;
    browser.wait_for("#withdraw").await.click().await;
    // The emulator's pre-built UI asks for the authenticator code.
    let challenge = format!("{}/ui/challenge?", emulator.origin());
    browser
        .wait_for_url("the emulator's challenge page", |url| {
            url.starts_with(&challenge)
        })
        .await;
    let code = emulator.totp_code(USER).unwrap();
    browser.wait_for("#code").await.fill(&code).await;
    browser.wait_for("#verify").await.click().await;
    // Back in the app, the resume page posts the stashed form by itself, and the
    // handler's redirect lands on the confirmation.
    let confirmation = browser.wait_for("#confirmation").await.text().await;
    assert!(confirmation.contains("2500"), "{confirmation:?}");
    assert_eq!(
        browser.current_url().await,
        format!("{origin}/withdrawals/1")
    );

    // Every request went to the other instance than the one before: the challenge was
    // issued by B, its token came back to A, the resume page was B's, its post A's.
    let hops = proxy.take_hops();
    let answers: Vec<&str> = hops.iter().map(|hop| hop.answer.as_str()).collect();
    assert_eq!(
        answers,
        [
            "GET / -> 200",
            "POST /login -> 303",
            "GET /withdraw -> 200",
            "POST /withdraw -> 303",
            "GET /withdraw?token=… -> 303",
            "GET /withdraw -> 200",
            "POST /withdraw -> 303",
            "GET /withdrawals/1 -> 200",
        ]
    );
    let alternating = hops
        .iter()
        .enumerate()
        .all(|(n, Hop { backend, .. })| *backend == n % 2);
    assert!(alternating, "{hops:?}");
    let made: Vec<usize> = made.iter().map(|n| n.load(Ordering::SeqCst)).collect();
    assert_eq!(
        made,
        [1, 0],
        "one withdrawal, made by A (the resume page's post)"
    );

    // The withdrawal was made exactly once.
    browser.goto(&format!("{origin}/withdrawals")).await;
    browser.wait_for("#withdrawals").await;
    let listed = browser.find_all("li.withdrawal").await;
    assert_eq!(listed.len(), 1, "exactly one withdrawal");
    assert!(listed[0].text().await.contains("2500"));
    assert_eq!(
        ["track", "uiSubmit", "validateChallenge"].map(|call| emulator.call_count(call)),
        [1; 3],
        "one challenge, passed once, validated once"
    );

    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn sign_in_page() -> Html<String> {
    withdrawals::sign_in_page(USER, "")
}

async fn login(State(app): State<AppState>, Form(form): Form<Credentials>) -> Response {
    if form.username != USER || form.password != PASSWORD {
        return withdrawals::wrong_password();
    }
    let cookie = app.database.sessions.start(&form.username);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/withdraw")).into_response()
}

async fn withdraw_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match app.database.sessions.user(&headers) {
        Some(user) => withdrawals::form_page(&user, "").into_response(),
        None => Redirect::to("/").into_response(),
    }
}

async fn withdraw(State(app): State<AppState>, step_up: StepUp<Withdraw>) -> Response {
    app.withdrawals_made.fetch_add(1, Ordering::SeqCst);
    app.database.ledger.withdraw(&step_up)
}

async fn confirmation(
    State(app): State<AppState>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<usize>,
) -> Response {
    match app.database.sessions.user(&headers) {
        Some(user) => app.database.ledger.confirmation(&user, id),
        None => Redirect::to("/").into_response(),
    }
}

async fn past_withdrawals(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match app.database.sessions.user(&headers) {
        Some(user) => app.database.ledger.list(&user),
        None => Redirect::to("/").into_response(),
    }
}
