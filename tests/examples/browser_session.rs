//! A browser, as the example apps' tests play it over `axum-test`: top-level navigations,
//! the cookies a response sets, and the way back from the pre-built UI (the 303 to the
//! clean URL with a resume cookie, then the page that posts the stashed form again).
//!
//! Each test binary uses only some of these, so each declares the module with
//! `#[allow(dead_code)]`.

use axum_test::{TestResponse, TestServer};

/// The `Accept` of a browser's top-level navigation.
pub const NAVIGATION: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The `name=value` pairs the response sets, without their attributes.
pub fn set_cookies(response: &TestResponse) -> Vec<String> {
    response
        .iter_headers_by_name("set-cookie")
        .map(|value| {
            let cookie = value.to_str().unwrap();
            cookie.split(';').next().unwrap().to_owned()
        })
        .collect()
}

pub fn location(response: &TestResponse) -> String {
    response.header("location").to_str().unwrap().to_owned()
}

/// The text between `start` and the next `end`.
pub fn between(text: &str, start: &str, end: &str) -> String {
    let rest = text
        .split(start)
        .nth(1)
        .unwrap_or_else(|| panic!("no {start} in {text}"));
    rest.split(end).next().unwrap().to_owned()
}

/// A browser's top-level `GET` of `path`.
pub async fn navigate(server: &TestServer, path: &str, cookies: &str) -> TestResponse {
    server
        .get(path)
        .add_header("cookie", cookies)
        .add_header("accept", NAVIGATION)
        .await
}

/// The way back from the pre-built UI at `back_path` (the app's path with `?token=`):
/// checks the 303 to `{origin}{clean_path}` and its resume cookie, loads the resume page
/// there and checks that it posts to the same URL and leaves the cookie for that post;
/// returns the page's one hidden field as a form body, `name=value`, and the cookies the
/// browser then holds (`session` and the resume cookie), for [`post_resume`].
pub async fn resume_field(
    server: &TestServer,
    origin: &str,
    back_path: &str,
    clean_path: &str,
    session: &str,
) -> (String, String) {
    let returned = navigate(server, back_path, session).await;
    assert_eq!(returned.status_code(), 303, "{}", returned.text());
    assert_eq!(location(&returned), format!("{origin}{clean_path}"));
    let resume_cookie = set_cookies(&returned)
        .into_iter()
        .find(|pair| pair.starts_with("authsignal-resume="))
        .expect("a resume cookie");
    let cookies = format!("{session}; {resume_cookie}");
    let resume_page = navigate(server, clean_path, &cookies).await;
    assert_eq!(resume_page.status_code(), 200, "{}", resume_page.text());
    assert!(
        set_cookies(&resume_page).is_empty(),
        "the resume cookie stays until the page's post"
    );
    let html = resume_page.text();
    assert_eq!(
        between(&html, "action=\"", "\""),
        format!("{origin}{clean_path}")
    );
    let field = format!(
        "{}={}",
        between(&html, "type=\"hidden\" name=\"", "\""),
        between(&html, "value=\"", "\"")
    );
    (field, cookies)
}

/// The resume page's post of `field` to `path`, as the browser sends it with `cookies`.
pub async fn post_resume(
    server: &TestServer,
    path: &str,
    cookies: &str,
    field: &str,
) -> TestResponse {
    server
        .post(path)
        .add_header("cookie", cookies)
        .add_header("accept", NAVIGATION)
        .content_type("application/x-www-form-urlencoded")
        .bytes(field.to_owned().into())
        .await
}
