//! The browser's way back after the pre-built UI: whose resume it is, which cookie carries
//! it, which request it resumes, with which headers, and that it ends with the session.

use std::sync::Arc;
use std::time::Duration;

use axum_authsignal::store::{
    MemoryStore, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind, StoreFuture,
};
use http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// A challenged form `POST` to `path`, completed on the pre-built UI: returns where the
/// UI sends the browser back.
async fn challenged_form(gate: &Gate, user: &str, path: &str, form: &str) -> String {
    let submitted = navigate(gate, Method::POST, path, user, None, Some(form)).await;
    assert_eq!(submitted.status_code(), 303, "{}", submitted.text());
    let ui = submitted.header("location").to_str().unwrap().to_owned();
    assert!(ui.starts_with(gate.emulator.origin()), "{ui}");
    complete_ui(gate, &ui).await
}

/// Alice, up to the resume page: her browser's cookies, and the page's form.
async fn alice_at_the_resume_page(gate: &Gate) -> (Jar, String, String) {
    let back = challenged_form(gate, "alice", "/withdraw", "amount=2500&to=NZ-9").await;
    let mut jar = Jar::default();
    let clean = return_from_ui(gate, &mut jar, &back, "alice").await;
    let (action, form) = resume_page(gate, &mut jar, &clean, "alice").await;
    (jar, action, form)
}

/// A store that files resume records without their user, as a hand-written store (or a
/// record rewritten in a shared one) could: a resume id finds the record whoever asks.
struct UserBlindResumes(MemoryStore);

impl UserBlindResumes {
    fn key(key: &RecordKey) -> RecordKey {
        match key.kind {
            RecordKind::Resume => RecordKey::new(key.kind, "", key.idempotency_key.as_str()),
            _ => key.clone(),
        }
    }
}

impl PendingChallengeStore for UserBlindResumes {
    fn put<'a>(
        &'a self,
        key: &'a RecordKey,
        record: PendingChallenge,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.0.put(&Self::key(key), record, ttl).await })
    }

    fn take<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<PendingChallenge>> {
        Box::pin(async move { self.0.take(&Self::key(key)).await })
    }
}

/// Finding 6: Alice's resume cookie and resume id, in Bob's session, run nothing, and
/// leave Alice's resume to her. With a store that finds the record for Bob, the gate
/// still sees that the record is not his.
#[tokio::test]
async fn another_user_with_alices_resume_cookie_runs_nothing() {
    let gate = start(|layer| layer).await;
    let (alices, action, form) = alice_at_the_resume_page(&gate).await;
    let mut bobs = alices.clone();
    let page = navigate_with(&gate, &mut bobs, Method::GET, "/withdraw", "bob", None).await;
    assert_ne!(page.status_code(), 200, "no resume page for Bob");
    let mut bobs = alices.clone();
    let posted = navigate_with(&gate, &mut bobs, Method::POST, &action, "bob", Some(&form)).await;
    assert_ne!(posted.status_code(), 200, "{}", posted.text());
    assert_eq!(gate.runs(), 0, "Bob ran nothing");
    // Alice's resume is still hers.
    let mut alices = alices;
    let done = navigate_with(
        &gate,
        &mut alices,
        Method::POST,
        &action,
        "alice",
        Some(&form),
    )
    .await;
    assert_eq!(done.status_code(), 200, "{}", done.text());
    assert_eq!(done.json::<Value>()["user"], "alice");
    assert_eq!(gate.runs(), 1);

    let store: Arc<dyn PendingChallengeStore> = Arc::new(UserBlindResumes(MemoryStore::default()));
    let gate = setup()
        .config(move |config| config.store(store))
        .start()
        .await;
    let (alices, action, form) = alice_at_the_resume_page(&gate).await;
    let mut bobs = alices.clone();
    let posted = navigate_with(&gate, &mut bobs, Method::POST, &action, "bob", Some(&form)).await;
    assert_eq!(posted.status_code(), 403, "{}", posted.text());
    assert!(clears_both_resume_cookies(&posted));
    assert_eq!(gate.runs(), 0, "Alice's withdrawal did not run for Bob");
    // The positive control: on that store, Alice's own resume runs.
    let (mut alices, action, form) = alice_at_the_resume_page(&gate).await;
    let done = navigate_with(
        &gate,
        &mut alices,
        Method::POST,
        &action,
        "alice",
        Some(&form),
    )
    .await;
    assert_eq!(done.status_code(), 200, "{}", done.text());
    assert_eq!(gate.runs(), 1);
}

/// Finding 5, on an `https` origin: the `__Host-` cookie is set and read, and both names
/// are cleared when the resume runs.
#[tokio::test]
async fn an_https_origin_uses_the_host_cookie_and_clears_both_names() {
    let gate = setup().redirect_origin("https://app.example").start().await;
    let back = challenged_form(&gate, "alice", "/withdraw", "amount=2500").await;
    assert!(
        back.starts_with("https://app.example/withdraw?token="),
        "{back}"
    );
    let mut jar = Jar::default();
    let clean = return_from_ui(&gate, &mut jar, &back, "alice").await;
    let held = jar
        .get("__Host-authsignal-resume")
        .expect("the __Host- cookie");
    assert!(jar.get("authsignal-resume").is_none());
    assert!(held.contains('.'), "{held}");
    let (action, form) = resume_page(&gate, &mut jar, &clean, "alice").await;
    let done = navigate_with(&gate, &mut jar, Method::POST, &action, "alice", Some(&form)).await;
    assert_eq!(done.status_code(), 200, "{}", done.text());
    assert!(clears_both_resume_cookies(&done), "both names cleared");
    assert_eq!(jar.header(), None);
    assert_eq!(gate.runs(), 1);
}

/// Finding 5: a cookie planted under the resume cookie's name, sent before the gate's own,
/// does not hide it: a plain-name cookie on an `https` origin (not read there at all), and
/// a same-name cookie at a longer `Path` on `http` (each cookie of the name is tried).
#[tokio::test]
async fn planted_resume_cookies_do_not_break_the_resume() {
    for (origin, planted_name) in [
        ("https://app.example", "authsignal-resume"),
        ("", "authsignal-resume"),
    ] {
        let mut setup = setup();
        if !origin.is_empty() {
            setup = setup.redirect_origin(origin);
        }
        let gate = setup.start().await;
        let back = challenged_form(&gate, "alice", "/withdraw", "amount=2500").await;
        let mut jar = Jar::default();
        let clean = return_from_ui(&gate, &mut jar, &back, "alice").await;
        let real = jar.get(resume_cookie_name(&gate)).unwrap().to_owned();
        // The planted value looks right: this route's tag (anyone can compute it), an id.
        let (_, tag) = real.split_once('.').unwrap();
        jar.plant(planted_name, &format!("{}.{tag}", "P".repeat(22)));
        let (action, form) = resume_page(&gate, &mut jar, &clean, "alice").await;
        let done =
            navigate_with(&gate, &mut jar, Method::POST, &action, "alice", Some(&form)).await;
        assert_eq!(done.status_code(), 200, "{origin}: {}", done.text());
        assert_eq!(done.json::<Value>()["body"], "amount=2500");
        assert_eq!(gate.runs(), 1, "{origin}");
    }
}

/// A resume cookie presented on another route is not a resume there, and spends nothing:
/// the resume still runs on its own route afterwards. Its id posted there is refused.
#[tokio::test]
async fn a_resume_cookie_on_another_route_is_refused() {
    let gate = start(|layer| layer).await;
    let back = challenged_form(&gate, "alice", "/withdraw", "amount=2500").await;
    let mut jar = Jar::default();
    let clean = return_from_ui(&gate, &mut jar, &back, "alice").await;
    for path in ["/withdraw/other", "/payee", "/withdraw?x=1"] {
        let elsewhere = navigate(
            &gate,
            Method::GET,
            path,
            "alice",
            jar.header().as_deref(),
            None,
        )
        .await;
        assert_ne!(elsewhere.status_code(), 200, "{path}: {}", elsewhere.text());
        assert!(!elsewhere.text().contains("step-up-resume"), "{path}");
    }
    assert_eq!(gate.runs(), 0);
    let (action, form) = resume_page(&gate, &mut jar, &clean, "alice").await;
    let posted = navigate(
        &gate,
        Method::POST,
        "/withdraw/other",
        "alice",
        jar.header().as_deref(),
        Some(&form),
    )
    .await;
    assert_eq!(posted.status_code(), 403, "{}", posted.text());
    assert_eq!(gate.runs(), 0);
    // That post was the resume's end: its own route finds it spent.
    let late = navigate_with(&gate, &mut jar, Method::POST, &action, "alice", Some(&form)).await;
    assert_eq!(late.status_code(), 303, "{}", late.text());
    assert_eq!(gate.runs(), 0);

    // Without the post elsewhere, the cookie shown to the other routes still resumes.
    let back = challenged_form(&gate, "alice", "/withdraw", "amount=2500").await;
    let mut jar = Jar::default();
    let clean = return_from_ui(&gate, &mut jar, &back, "alice").await;
    let elsewhere = navigate(
        &gate,
        Method::GET,
        "/withdraw/other",
        "alice",
        jar.header().as_deref(),
        None,
    )
    .await;
    assert_ne!(elsewhere.status_code(), 200);
    let (action, form) = resume_page(&gate, &mut jar, &clean, "alice").await;
    let done = navigate_with(&gate, &mut jar, Method::POST, &action, "alice", Some(&form)).await;
    assert_eq!(done.status_code(), 200, "{}", done.text());
    assert_eq!(gate.runs(), 1);
}

/// The real resume id posted twice, together and then again, with its cookie each time
/// (the browser had not yet taken the answer that clears it): the handler runs once.
#[tokio::test]
async fn the_real_resume_id_posted_twice_runs_the_handler_once() {
    let gate = start(|layer| layer).await;
    let (jar, action, form) = alice_at_the_resume_page(&gate).await;
    let cookies = jar.header().unwrap();
    let post = || {
        navigate(
            &gate,
            Method::POST,
            &action,
            "alice",
            Some(&cookies),
            Some(&form),
        )
    };
    let (one, two) = tokio::join!(post(), post());
    let mut statuses = [one.status_code().as_u16(), two.status_code().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 303], "{} / {}", one.text(), two.text());
    let again = post().await;
    assert_eq!(again.status_code(), 303, "{}", again.text());
    assert_eq!(gate.runs(), 1);
}

/// Finding 7: a challenge for one query is not paid at a query that differs by a byte,
/// however a form decoder would read the two, for an API client's retry and for a
/// browser's return.
#[tokio::test]
async fn queries_that_differ_by_a_byte_are_different_requests() {
    let gate = start(|layer| layer).await;
    let body = json!({ "amount": 5000 });
    for (challenged, presented) in [
        ("/withdraw?x=%FF", "/withdraw?x=%FE"),
        ("/withdraw?x=a%20b", "/withdraw?x=a+b"),
        ("/withdraw?a", "/withdraw?a="),
        ("/withdraw?a=1", "/withdraw?a=1&"),
    ] {
        for (at, then) in [(challenged, presented), (presented, challenged)] {
            let (_, token) = api_token(&gate, at, "alice", &body).await;
            let retried = gate
                .server
                .post(then)
                .add_header(USER_HEADER, "alice")
                .add_header("x-authsignal-token", &token)
                .json(&body)
                .await;
            assert_eq!(
                retried.status_code(),
                403,
                "challenged at {at}, paid at {then}"
            );
        }
    }
    assert_eq!(gate.runs(), 0);

    // The browser's return, at the other query.
    let back = challenged_form(&gate, "alice", "/withdraw?x=%FF", "amount=2500").await;
    let elsewhere = back.replace("x=%FF", "x=%FE");
    assert_ne!(elsewhere, back);
    let returned = navigate(
        &gate,
        Method::GET,
        &local_path(&gate.origin, &elsewhere),
        "alice",
        None,
        None,
    )
    .await;
    assert_eq!(returned.status_code(), 403, "{}", returned.text());
    assert_eq!(gate.runs(), 0);

    // The positive controls: at its own query each is paid, and a browser resumed.
    for at in ["/withdraw?x=%FF", "/withdraw?a=1&", "/withdraw?x=a+b"] {
        let (_, token) = api_token(&gate, at, "alice", &body).await;
        let retried = gate
            .server
            .post(at)
            .add_header(USER_HEADER, "alice")
            .add_header("x-authsignal-token", &token)
            .json(&body)
            .await;
        assert_eq!(retried.status_code(), 200, "{at}: {}", retried.text());
    }
    let back = challenged_form(&gate, "alice", "/withdraw?a=1&", "amount=2500").await;
    let done = follow_back(&gate, &back, "alice").await;
    assert_eq!(done.status_code(), 200, "{}", done.text());
    assert_eq!(done.json::<Value>()["uri"], "/withdraw?a=1&");
    assert_eq!(gate.runs(), 4);
}

/// Item 8: the resumed request carries the stashed request's body headers, not those of
/// the resume page's post: an encoding, a language or a length sent with that post never
/// reach the handler beside the stashed body.
#[tokio::test]
async fn a_resume_post_hands_the_handler_the_stashed_body_headers() {
    let gate = start(|layer| layer).await;
    let (jar, action, form) = alice_at_the_resume_page(&gate).await;
    let done = gate
        .server
        .post(&action)
        .add_header(USER_HEADER, "alice")
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .add_header("cookie", jar.header().unwrap())
        .add_header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .add_header("content-encoding", "gzip")
        .add_header("content-language", "de")
        .bytes(form.into())
        .await;
    assert_eq!(done.status_code(), 200, "{}", done.text());
    let passed: Value = done.json();
    assert_eq!(passed["body"], "amount=2500&to=NZ-9");
    assert_eq!(passed["contentType"], "application/x-www-form-urlencoded");
    assert_eq!(passed["contentEncoding"], Value::Null);
    assert_eq!(passed["contentLanguage"], Value::Null);
    assert_eq!(
        passed["contentLength"],
        "amount=2500&to=NZ-9".len().to_string()
    );
    assert_eq!(gate.runs(), 1);
}

/// Item 8: a resume does not survive sign-out. The app's sign-out clears the resume
/// cookies, and the resume page's post without its cookie runs nothing, even for the same
/// user signed in again; a request with no user clears them too.
#[tokio::test]
async fn sign_out_between_the_return_and_the_resume_post_runs_nothing() {
    let gate = start(|layer| layer).await;
    let (mut jar, action, form) = alice_at_the_resume_page(&gate).await;
    let signed_out = navigate_with(&gate, &mut jar, Method::POST, "/logout", "alice", None).await;
    assert_eq!(signed_out.status_code(), 200);
    assert!(clears_both_resume_cookies(&signed_out));
    assert_eq!(jar.header(), None);
    let posted = navigate_with(&gate, &mut jar, Method::POST, &action, "alice", Some(&form)).await;
    assert_eq!(posted.status_code(), 403, "{}", posted.text());
    assert!(clears_both_resume_cookies(&posted));
    assert_eq!(gate.runs(), 0);

    // Signed out, the session gone: the gate's 401 clears the resume cookies itself.
    let (jar, action, form) = alice_at_the_resume_page(&gate).await;
    let anonymous = gate
        .server
        .post(&action)
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .add_header("cookie", jar.header().unwrap())
        .content_type("application/x-www-form-urlencoded")
        .bytes(form.clone().into())
        .await;
    assert_eq!(anonymous.status_code(), 401);
    assert!(clears_both_resume_cookies(&anonymous));
    let mut jar = jar;
    jar.update(&anonymous);
    let posted = navigate_with(&gate, &mut jar, Method::POST, &action, "alice", Some(&form)).await;
    assert_eq!(posted.status_code(), 403, "{}", posted.text());
    assert_eq!(gate.runs(), 0);

    // The positive control: without the sign-out, the same steps run the withdrawal.
    let (mut jar, action, form) = alice_at_the_resume_page(&gate).await;
    let done = navigate_with(&gate, &mut jar, Method::POST, &action, "alice", Some(&form)).await;
    assert_eq!(done.status_code(), 200, "{}", done.text());
    assert_eq!(gate.runs(), 1);
}
