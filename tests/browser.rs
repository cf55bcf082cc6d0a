//! The withdrawal example in a real browser: headless Chromium, driven over WebDriver by
//! `chromedriver`, signs in, withdraws more than the threshold, passes the emulator's
//! pre-built UI with the authenticator code, comes back to the confirmation, and finds
//! the withdrawal listed exactly once.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/browser-deps.sh` installs them).
//! A screenshot of each step goes to `target/browser-screenshots/`.

#[path = "browser/webdriver.rs"]
mod webdriver;
#[path = "../examples/withdrawal.rs"]
#[allow(dead_code)]
mod withdrawal;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use webdriver::{CHROMEDRIVER, CHROMIUM, ChromeDriver};

/// The one place that decides whether this machine can run the test.
///
/// Without Chromium a developer's `cargo test` still passes, with a notice: the browser
/// is a heavy install that the rest of the suite does not need. CI (where `CI` is set)
/// installs both packages first, so there a missing browser is a broken setup, and it
/// must fail rather than pass without having run.
fn browser_installed() -> bool {
    let missing: Vec<&str> = [CHROMEDRIVER, CHROMIUM]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {missing:?} is missing: run .ci/browser-deps.sh \
         (apt-get install chromium chromium-driver) before the tests"
    );
    // Straight to stderr, not `eprintln!`, which the test harness captures.
    let _ = writeln!(
        std::io::stderr(),
        "browser test skipped: install chromium and chromium-driver ({missing:?} missing)"
    );
    false
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
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;

    // 1. Sign in.
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
    browser.screenshot(&shots.join("01-sign-in.png")).await;
    browser.wait_for("#sign-in").await.click().await;

    // 2. The withdrawal form, with an amount above the threshold.
    browser
        .wait_for_url("the withdrawal form", |url| {
            url == format!("{origin}/withdraw")
        })
        .await;
    browser.wait_for("#amount").await.fill("2500").await;
    browser.screenshot(&shots.join("02-withdraw.png")).await;
    browser.wait_for("#withdraw").await.click().await;

    // 3. The emulator's pre-built UI asks for the authenticator code.
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
    browser.screenshot(&shots.join("03-challenge.png")).await;
    browser.wait_for("#verify").await.click().await;

    // 4. Back in the app, the resume page posts the stashed form by itself.
    let confirmation = browser.wait_for("#confirmation").await.text().await;
    assert!(
        confirmation.contains("2500"),
        "the confirmation names the amount: {confirmation:?}"
    );
    let url = browser.current_url().await;
    assert!(url.starts_with(&origin), "back in the app: {url}");
    browser.screenshot(&shots.join("04-confirmation.png")).await;

    // 5. The withdrawal was made exactly once.
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
}
