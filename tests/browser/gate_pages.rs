//! The withdrawal example in a real browser: headless Chromium, driven over WebDriver by
//! `chromedriver`, signs in, withdraws more than the threshold, passes the emulator's
//! pre-built UI with the authenticator code, comes back to the confirmation, and finds
//! the withdrawal listed exactly once.
//!
//! At the confirmation it checks what the user can reach from there: the address bar
//! holds the confirmation's URL with no token; the history holds the sign-in page, the
//! form, the pre-built UI and the confirmation, and neither the app's `?token=` URL nor
//! the resume page; a refresh, and going back to the form and forward again, show each
//! page with no error and run nothing again (no second withdrawal, no second challenge).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/browser-deps.sh` installs them).
//! A screenshot of each step goes to `target/browser-screenshots/`; with
//! `UPDATE_SCREENSHOTS=1` the three the README shows are also copied to `docs/browser-flow/`
//! once every check has passed.

use crate::tls;
use crate::webdriver;
use crate::withdrawal;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::webdriver::{ChromeDriver, Session};
use authsignal_emulator::EmulatorHandle;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use serde_json::{Value, json};

/// The viewport of every screenshot, in pixels: small pictures for the README, and the
/// same size on every machine.
const VIEWPORT: (u32, u32) = (640, 440);

/// The screenshots the README shows: the name under `target/browser-screenshots/`, and
/// the name under `docs/browser-flow/`.
const README_PICTURES: [(&str, &str); 3] = [
    ("01-sign-in.png", "1-sign-in.png"),
    ("03-challenge.png", "2-challenge.png"),
    ("04-confirmation.png", "3-confirmed.png"),
];

/// The emulator's operations that the withdrawal's step-up makes once each: the gate's
/// track, the user's code on the pre-built UI, and the gate's validation of the token.
const STEP_UP_CALLS: [&str; 3] = ["track", "uiSubmit", "validateChallenge"];

/// The one place that decides whether this machine can run the test.
///
/// Without Chromium a developer's `cargo test` still passes, with a notice: the browser
/// is a heavy install that the rest of the suite does not need. CI (where `CI` is set)
/// installs both packages first, so there a missing browser is a broken setup, and it
/// must fail rather than pass without having run. So must a run asked to refresh the
/// README's pictures, which a skip would leave as they were.
fn browser_installed() -> bool {
    let installed = webdriver::browser_installed("browser test");
    assert!(
        installed || !updating_pictures(),
        "UPDATE_SCREENSHOTS is set but chromium or chromium-driver is missing: install \
         them to take the README's pictures"
    );
    installed
}

/// The repository's root, where the README and its pictures are: this package is `tests/`.
fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `target/browser-screenshots/`, emptied of older screenshots.
fn screenshot_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let dir = target.join("browser-screenshots");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_withdrawal_steps_up_in_the_browser_and_completes_once() {
    if !browser_installed() {
        return;
    }
    let shots = screenshot_dir();

    // The app on a free port, built with its own origin.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (app, emulator) = withdrawal::with_emulator(&origin).await;
    let answers = Answers::default();
    let app = app.layer(middleware::from_fn_with_state(
        answers.clone(),
        record_answer,
    ));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    browser.set_viewport(VIEWPORT.0, VIEWPORT.1).await;

    // 1. Sign in.
    let sign_in = format!("{origin}/");
    browser.goto(&sign_in).await;
    fill_sign_in(&browser).await;
    // The entries before the app's (the browser's first tab) are none of the test's.
    let before_app = history_length(&browser).await - 1;
    browser.screenshot(&shots.join("01-sign-in.png")).await;
    browser.wait_for("#sign-in").await.click().await;

    // 2. The withdrawal form, with an amount above the threshold.
    let form = format!("{origin}/withdraw");
    fill_withdrawal(&browser, &origin, "2500").await;
    browser.screenshot(&shots.join("02-withdraw.png")).await;
    browser.wait_for("#withdraw").await.click().await;

    // 3. The emulator's pre-built UI asks for the authenticator code.
    let challenge = fill_challenge_code(&browser, &emulator).await;
    browser.screenshot(&shots.join("03-challenge.png")).await;
    browser.wait_for("#verify").await.click().await;

    // 4. Back in the app, the resume page posts the stashed form by itself, and the
    //    handler's redirect lands on the confirmation.
    let confirmed = format!("{origin}/withdrawals/1");
    let confirmation = browser.wait_for("#confirmation").await.text().await;
    assert!(
        confirmation.contains("2500"),
        "the confirmation names the amount: {confirmation:?}"
    );
    browser.screenshot(&shots.join("04-confirmation.png")).await;
    let location = browser
        .execute(
            "return { href: location.href, search: location.search };",
            json!([]),
        )
        .await;
    assert_eq!(
        location["href"], confirmed,
        "the address bar shows the confirmation's own URL"
    );
    assert_eq!(
        location["search"], "",
        "no query (no token) in the address bar"
    );
    assert_eq!(browser.current_url().await, confirmed);
    // What the browser asked the app on the way: the token URL was answered with a
    // redirect (so it is no page the user can come back to), and the form was posted
    // twice, challenged, then by the resume page, which the handler answered with its
    // redirect to the confirmation.
    assert_eq!(
        answers.take(),
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
    let step_ups = step_up_calls(&emulator);
    assert_eq!(step_ups, [1; 3], "one challenge: {STEP_UP_CALLS:?}");

    // 5. The history holds the sign-in page, the form, the pre-built UI and the
    //    confirmation. The `?token=` URL was a redirect and the resume page was replaced
    //    by its own post, so neither is an entry.
    let entries = before_app + 4;
    assert_eq!(
        history_length(&browser).await,
        entries,
        "sign-in, form, pre-built UI, confirmation: no token URL, no resume page"
    );

    // 6. A refresh shows the confirmation again and sends nothing again.
    mark_document(&browser).await;
    browser.refresh().await;
    assert!(
        !is_marked(&browser).await,
        "the refresh loaded the page anew"
    );
    expect_app_page(&browser, &confirmed, "#confirmation").await;
    assert_eq!(
        history_length(&browser).await,
        entries,
        "a refresh adds no entry"
    );

    // 7. Back, step by step, to the sign-in page: each entry shows the page it was (the
    //    app's with no error, or the pre-built UI), and none is the app's token URL or the
    //    resume page.
    let pages = [
        (sign_in.as_str(), "#username"),
        (form.as_str(), "#amount"),
        (challenge.as_str(), ""),
        (confirmed.as_str(), "#confirmation"),
    ];
    let mut visited = vec![location_href(&browser).await];
    for (url, selector) in pages[..3].iter().rev() {
        browser.back().await;
        visited.push(expect_entry(&browser, url, selector, &visited).await);
    }
    assert_eq!(
        history_length(&browser).await,
        entries,
        "going back leaves the history as it was: {visited:?}"
    );

    // 8. And forward again, to the confirmation.
    for (url, selector) in &pages[1..] {
        browser.forward().await;
        visited.push(expect_entry(&browser, url, selector, &visited).await);
    }
    let confirmation = browser.wait_for("#confirmation").await.text().await;
    assert!(confirmation.contains("2500"), "{confirmation:?}");
    assert_eq!(
        step_up_calls(&emulator),
        step_ups,
        "the refresh, back and forward started no challenge and validated nothing again"
    );
    // Each page came from the browser's cache or was fetched again, but only with a
    // `GET` the app answered with its page: nothing posted, no token, no redirect.
    let again = answers.take();
    assert!(
        again.iter().all(|answer| answer.starts_with("GET ")
            && answer.ends_with(" -> 200")
            && !answer.contains("token=")),
        "after the confirmation the browser only fetched pages again: {again:?}"
    );

    // 9. The withdrawal was made exactly once.
    browser.goto(&format!("{origin}/withdrawals")).await;
    browser.wait_for("li.withdrawal").await;
    let listed = browser.find_all("li.withdrawal").await;
    let mut texts = Vec::new();
    for item in &listed {
        texts.push(item.text().await);
    }
    assert_eq!(texts.len(), 1, "exactly one withdrawal: {texts:?}");
    assert!(texts[0].contains("2500"), "{texts:?}");
    browser.screenshot(&shots.join("05-withdrawals.png")).await;

    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;

    // Every check passed: these pictures show the flow as it works.
    if updating_pictures() {
        update_readme_pictures(&shots);
    }
}

/// Fills the sign-in form with the demo user's credentials (the page is open).
async fn fill_sign_in(browser: &Session) {
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
}

/// Waits for the withdrawal form at `origin` and fills in `amount`.
async fn fill_withdrawal(browser: &Session, origin: &str, amount: &str) {
    let form = format!("{origin}/withdraw");
    browser
        .wait_for_url("the withdrawal form", |url| url == form)
        .await;
    browser.wait_for("#amount").await.fill(amount).await;
}

/// Waits for the emulator's pre-built UI and fills in the demo user's code; returns the
/// start of the challenge page's URL.
async fn fill_challenge_code(browser: &Session, emulator: &EmulatorHandle) -> String {
    let challenge = format!("{}/ui/challenge?", emulator.origin());
    browser
        .wait_for_url("the emulator's challenge page", |url| {
            url.starts_with(&challenge)
        })
        .await;
    let code = emulator
        .totp_code(withdrawal::DEMO_USER)
        .expect("the demo user has an authenticator app");
    browser.wait_for("#code").await.fill(&code).await;
    challenge
}

/// The resume cookie's route tag for `POST /withdraw`, as anyone can compute it (it is a
/// hash of the action and the path, no secret): what a planted cookie needs to be
/// taken for the real one.
fn withdraw_resume_tag() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::new()
        .chain_update("withdraw")
        .chain_update([0])
        .chain_update("/withdraw")
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..9])
}

/// Finding 5 of the second review, in Chromium: a resume cookie planted for the
/// withdrawal's path by a plain-http answer on the same host (cookies are not kept apart
/// by port or, without `Secure`, by scheme), which a browser sends before the gate's own.
/// Over `http` it has the gate's own cookie name; over `https` the plain name, which the
/// gate must not read there. Either way the completed challenge still withdraws, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_resume_cookie_does_not_break_step_up_over_http_or_https() {
    if !browser_installed() {
        return;
    }
    let planted = format!("AAAAAAAAAAAAAAAAAAAAAA.{}", withdraw_resume_tag());
    // The planting answer, on another port of the same host.
    let planter = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let planter_origin = format!("http://{}", planter.local_addr().unwrap());
    let cookie = format!("authsignal-resume={planted}; Path=/withdraw; Max-Age=3600");
    let plant = axum::Router::new().route(
        "/plant",
        axum::routing::get(
            move || async move { ([(http::header::SET_COOKIE, cookie)], "planted") },
        ),
    );
    tokio::spawn(async move { axum::serve(planter, plant).await.unwrap() });

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    for scheme in ["http", "https"] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("{scheme}://{}", listener.local_addr().unwrap());
        let (app, emulator) = withdrawal::with_emulator(&origin).await;
        let seen = Answers::default();
        let app = app.layer(middleware::from_fn_with_state(seen.clone(), record_planted));
        if scheme == "https" {
            let listener = tls::TlsListener::new(listener);
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        } else {
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        }

        let browser = driver.new_session().await;
        browser.goto(&format!("{planter_origin}/plant")).await;
        browser.goto(&format!("{origin}/")).await;
        fill_sign_in(&browser).await;
        browser.wait_for("#sign-in").await.click().await;
        fill_withdrawal(&browser, &origin, "2500").await;
        browser.wait_for("#withdraw").await.click().await;
        fill_challenge_code(&browser, &emulator).await;
        browser.wait_for("#verify").await.click().await;

        let confirmation = browser.wait_for("#confirmation").await.text().await;
        assert!(confirmation.contains("2500"), "{scheme}: {confirmation:?}");
        assert!(
            seen.take().iter().any(|request| request.contains(&planted)),
            "{scheme}: the planted cookie reached the app, so the test tried the attack"
        );
        browser.goto(&format!("{origin}/withdrawals")).await;
        browser.wait_for("li.withdrawal").await;
        let listed = browser.find_all("li.withdrawal").await;
        assert_eq!(listed.len(), 1, "{scheme}: exactly one withdrawal");
        browser.quit().await;
        emulator.shutdown().await;
    }
}

/// Notes every request's `Cookie` header (the planted-cookie test looks for its cookie).
async fn record_planted(State(seen): State<Answers>, request: Request, next: Next) -> Response {
    let cookies: Vec<String> = request
        .headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    seen.0.lock().unwrap().push(cookies.join("; "));
    next.run(request).await
}

/// The README's pictures are there, as PNGs of the test's viewport: a run that changed
/// the size, or a picture lost from `docs/`, fails here. Needs no browser.
#[test]
fn readme_pictures_are_the_screenshots_at_the_fixed_size() {
    let root = repository_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (_, name) in README_PICTURES {
        let relative = format!("docs/browser-flow/{name}");
        assert!(
            readme.contains(&format!("]({relative})")),
            "the README shows {relative}"
        );
        let png = std::fs::read(root.join(&relative)).unwrap_or_else(|e| {
            panic!("{relative}: {e} (UPDATE_SCREENSHOTS=1 cargo test --test browser)")
        });
        assert_eq!(
            png_size(&png),
            Some(VIEWPORT),
            "{relative} is a PNG of {VIEWPORT:?} pixels"
        );
    }
}

/// The width and height in a PNG's header (its first chunk is always `IHDR`).
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let header = png.strip_prefix(b"\x89PNG\r\n\x1a\n")?;
    let ihdr = header.get(4..16)?.strip_prefix(b"IHDR")?;
    let width = u32::from_be_bytes(ihdr.get(0..4)?.try_into().ok()?);
    let height = u32::from_be_bytes(ihdr.get(4..8)?.try_into().ok()?);
    Some((width, height))
}

/// Whether this run was asked to refresh the README's pictures.
fn updating_pictures() -> bool {
    std::env::var_os("UPDATE_SCREENSHOTS").is_some()
}

/// Copies the README's screenshots from `shots` to `docs/browser-flow/`.
fn update_readme_pictures(shots: &Path) {
    let docs = repository_root().join("docs/browser-flow");
    std::fs::create_dir_all(&docs).unwrap();
    for (shot, name) in README_PICTURES {
        // A copy then a rename: the picture check, which runs beside this test, reads
        // the old picture or the new one, never half of one.
        let partial = docs.join(format!(".{name}.partial"));
        std::fs::copy(shots.join(shot), &partial).unwrap();
        std::fs::rename(&partial, docs.join(name)).unwrap();
    }
    let _ = writeln!(
        std::io::stderr(),
        "updated the README's pictures in {}",
        docs.display()
    );
}

/// The app's answers, in order, as `METHOD path -> status`, a token shown as `token=…`
/// (the browser's own `/favicon.ico` left out).
#[derive(Clone, Default)]
struct Answers(Arc<Mutex<Vec<String>>>);

impl Answers {
    /// The answers so far, leaving none.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn record_answer(State(answers): State<Answers>, request: Request, next: Next) -> Response {
    let uri = request.uri();
    let query = match uri.query() {
        None => String::new(),
        Some(query) if query.contains("token=") => "?token=…".to_owned(),
        Some(query) => format!("?{query}"),
    };
    let asked = format!("{} {}{query}", request.method(), uri.path());
    let response = next.run(request).await;
    if asked != "GET /favicon.ico" {
        let answer = format!("{asked} -> {}", response.status().as_u16());
        answers.0.lock().unwrap().push(answer);
    }
    response
}

/// How many times the emulator saw each of [`STEP_UP_CALLS`].
fn step_up_calls(emulator: &EmulatorHandle) -> [usize; 3] {
    STEP_UP_CALLS.map(|operation| emulator.call_count(operation))
}

async fn history_length(browser: &Session) -> u64 {
    let length = browser.execute("return history.length;", json!([])).await;
    length
        .as_u64()
        .unwrap_or_else(|| panic!("history.length: {length}"))
}

async fn location_href(browser: &Session) -> String {
    let href = browser.execute("return location.href;", json!([])).await;
    href.as_str().unwrap_or_default().to_owned()
}

/// Leaves a mark on the current document, which a page loaded anew does not have.
async fn mark_document(browser: &Session) {
    browser
        .execute("window.stepUpTestMark = true;", json!([]))
        .await;
}

async fn is_marked(browser: &Session) -> bool {
    let marked = browser
        .execute("return window.stepUpTestMark === true;", json!([]))
        .await;
    marked == Value::Bool(true)
}

/// One step back or forward arrived at `url` (for the pre-built UI, a URL starting with
/// it) showing `selector`; returns where it is. `visited` is the walk so far, for the
/// failure message.
async fn expect_entry(browser: &Session, url: &str, selector: &str, visited: &[String]) -> String {
    let href = location_href(browser).await;
    if selector.is_empty() {
        assert!(
            href.starts_with(url),
            "expected the pre-built UI, not the resume page nor the app's token URL, \
             after {visited:?}: at {href}"
        );
    } else {
        assert_eq!(href, url, "after {visited:?}");
        expect_app_page(browser, url, selector).await;
    }
    href
}

/// The page is the app's page at `url`, showing `selector`: not the resume page, not the
/// gate's refusal page, not an error of the app.
async fn expect_app_page(browser: &Session, url: &str, selector: &str) {
    let href = location_href(browser).await;
    assert_eq!(href, url, "{}", browser.describe().await);
    assert!(
        !href.contains("token="),
        "a token in the address bar: {href}"
    );
    browser.wait_for(selector).await;
    let page = browser
        .execute(
            "return {
                title: document.title,
                resume: document.getElementById('step-up-resume') !== null,
                alert: document.querySelector('[role=alert]') !== null,
                error: document.getElementById('error') !== null,
            };",
            json!([]),
        )
        .await;
    assert_eq!(page["resume"], false, "the resume page at {url}: {page}");
    assert_eq!(page["alert"], false, "the gate's refusal at {url}: {page}");
    assert_eq!(page["error"], false, "an error of the app at {url}: {page}");
}
