//! A withdrawal held for a manual review, in a real browser: headless Chromium signs in to
//! the withdrawal example, withdraws more than the review threshold, and lands on the
//! gate's waiting page (no script, a refresh). The reviewer approves it (the Server API's
//! `updateAction`, as a back office does); the page's "Check now", the link its refresh
//! follows, goes on as a completed challenge does: the resume page posts the held form by
//! itself, and the confirmation shows the withdrawal once, approved by a reviewer.
//!
//! A screenshot of each step goes to `target/review-screenshots/`; with
//! `UPDATE_SCREENSHOTS=1` the waiting page is also copied to `docs/browser-flow/`, which
//! the README shows.

use std::path::{Path, PathBuf};

use crate::webdriver::{self, ChromeDriver};
use crate::withdrawal;
use authsignal::types::{QueryUserActionsRequest, UpdateActionRequest, UserActionState};

/// The viewport of the screenshots: the README's other pictures' size.
const VIEWPORT: (u32, u32) = (640, 440);
/// The README's picture of the waiting page, under `docs/browser-flow/`.
const README_PICTURE: &str = "4-held-for-review.png";

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `target/review-screenshots/`, emptied of older screenshots.
fn screenshot_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let dir = target.join("review-screenshots");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_held_for_review_resumes_in_the_browser_once_approved() {
    let updating = std::env::var_os("UPDATE_SCREENSHOTS").is_some();
    let installed = webdriver::browser_installed("review browser test");
    assert!(
        installed || !updating,
        "UPDATE_SCREENSHOTS is set but chromium or chromium-driver is missing"
    );
    if !installed {
        return;
    }
    let shots = screenshot_dir();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (app, emulator) = withdrawal::with_emulator(&origin).await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    browser.set_viewport(VIEWPORT.0, VIEWPORT.1).await;

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
    browser.wait_for("#amount").await.fill("25000").await;
    browser.wait_for("#withdraw").await.click().await;

    // Held: the waiting page, at the form's own URL.
    let waiting = browser.wait_for("#review-waiting").await.text().await;
    assert!(waiting.contains("reviewer"), "{waiting:?}");
    let refresh = browser
        .execute(
            "const meta = document.querySelector('meta[http-equiv=refresh]'); \
             return [meta && meta.content, document.scripts.length];",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(
        refresh[0],
        format!("30;url={form}"),
        "it checks back by itself"
    );
    assert_eq!(refresh[1], 0, "no script needed");
    browser.screenshot(&shots.join("01-held.png")).await;

    // Still in review: checking again shows the page again.
    browser.wait_for("#review-check").await.click().await;
    browser.wait_for("#review-waiting").await;

    let client = emulator.client();
    let query = QueryUserActionsRequest {
        state: Some(UserActionState::ReviewRequired),
        ..QueryUserActionsRequest::default()
    };
    let in_review = client
        .query_user_actions(withdrawal::DEMO_USER, &query)
        .await
        .unwrap();
    assert_eq!(in_review.len(), 1, "{in_review:?}");
    client
        .update_action(
            withdrawal::DEMO_USER,
            "withdraw",
            &in_review[0].idempotency_key,
            &UpdateActionRequest {
                state: UserActionState::ReviewSucceeded,
            },
        )
        .await
        .unwrap();

    browser.wait_for("#review-check").await.click().await;
    let confirmation = browser.wait_for("#confirmation").await.text().await;
    assert!(
        confirmation.contains("25000.00") && confirmation.contains("reviewer"),
        "{confirmation:?}"
    );
    browser.screenshot(&shots.join("02-approved.png")).await;
    browser.goto(&format!("{origin}/withdrawals")).await;
    let listed = browser.find_all("li.withdrawal").await;
    assert_eq!(listed.len(), 1, "the withdrawal ran once");
    browser.quit().await;

    if updating {
        let docs = repository_root().join("docs/browser-flow");
        let partial = docs.join(format!(".{README_PICTURE}.partial"));
        std::fs::copy(shots.join("01-held.png"), &partial).unwrap();
        std::fs::rename(&partial, docs.join(README_PICTURE)).unwrap();
    }
}

/// The README shows the waiting page, a PNG of the viewport. Needs no browser.
#[test]
fn the_readme_shows_the_waiting_page() {
    let root = repository_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let relative = format!("docs/browser-flow/{README_PICTURE}");
    assert!(
        readme.contains(&format!("]({relative})")),
        "the README shows {relative}"
    );
    let png = std::fs::read(root.join(&relative)).unwrap_or_else(|e| {
        panic!("{relative}: {e} (UPDATE_SCREENSHOTS=1 cargo test -p end-to-end-tests --test browser review)")
    });
    let header = png.strip_prefix(b"\x89PNG\r\n\x1a\n").expect("a PNG");
    let width = u32::from_be_bytes(header[8..12].try_into().unwrap());
    let height = u32::from_be_bytes(header[12..16].try_into().unwrap());
    assert_eq!((width, height), VIEWPORT, "{relative}");
}
