//! A person on the pre-built UI, for tests of apps: open the page, get the code (from their
//! authenticator app, or the SMS or email the page sends), type it.

use super::super::state::Shared;

/// Why [`EmulatorHandle::complete_prebuilt_ui`](crate::EmulatorHandle::complete_prebuilt_ui)
/// could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the pre-built UI could not be completed: {0}")]
pub struct PrebuiltUiError(String);

/// The `value` of the hidden input `name` in a page of ours (values are escaped, and
/// never hold a quote).
fn hidden(page: &str, name: &str) -> Option<String> {
    let field = format!(r#"name="{name}" value=""#);
    let start = page.find(&field)? + field.len();
    let end = start + page[start..].find('"')?;
    Some(page[start..end].to_owned())
}

/// Opens `url` (a track `url` of this emulator), does what the page asks (sends a code by
/// SMS or email, or reads the user's authenticator app), types the code, and returns
/// where the UI sends the browser back to.
pub(crate) async fn complete(shared: &Shared, url: &str) -> Result<String, PrebuiltUiError> {
    let fail = |reason: &str| PrebuiltUiError(reason.to_owned());
    let page_url = reqwest::Url::parse(url).map_err(|_| fail("the url is not a URL"))?;
    if !url.starts_with(&format!("{}/ui/challenge?", shared.origin)) {
        return Err(fail("the url is not this emulator's pre-built UI"));
    }
    let token = page_url
        .query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, token)| token.into_owned())
        .ok_or_else(|| fail("the url carries no token"))?;
    let user = shared
        .tokens()
        .read_challenge(&token)
        .map_err(|_| fail("the url's token is invalid or expired"))?
        .sub;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| fail("no HTTP client"))?;
    let shown = http
        .get(page_url)
        .send()
        .await
        .map_err(|_| fail("the page did not load"))?;
    if !shown.status().is_success() {
        return Err(fail("the page did not load"));
    }
    let page = shown
        .text()
        .await
        .map_err(|_| fail("the page did not load"))?;
    let mut form = vec![("token", token.clone())];
    if let Some(method) = hidden(&page, "method") {
        // A "Send code" page: send it, then read it where the emulator delivers codes.
        let sent = http
            .post(format!("{}/ui/challenge/send", shared.origin))
            .form(&[("token", token.as_str()), ("method", method.as_str())])
            .send()
            .await
            .map_err(|_| fail("the code could not be sent"))?;
        let sent = sent
            .text()
            .await
            .map_err(|_| fail("the code could not be sent"))?;
        let challenge_id = hidden(&sent, "challenge_id").ok_or_else(|| fail("no code was sent"))?;
        let code = shared
            .store()
            .outbox
            .iter()
            .rev()
            .find(|message| message.challenge_id == challenge_id)
            .map(|message| message.code.clone())
            .ok_or_else(|| fail("no code was sent"))?;
        form.push(("challenge_id", challenge_id));
        form.push(("code", code));
    } else if page.contains(r#"id="code""#) {
        let code = shared
            .store()
            .totp_code(&user, shared.clock.now())
            .ok_or_else(|| fail("the user has no authenticator app"))?;
        form.push(("code", code));
    } else {
        return Err(fail("the page has no challenge to complete"));
    }
    let answer = http
        .post(format!("{}/ui/challenge", shared.origin))
        .form(&form)
        .send()
        .await
        .map_err(|_| fail("the code could not be sent"))?;
    if answer.status() != http::StatusCode::SEE_OTHER {
        return Err(fail("the code was not accepted"));
    }
    answer
        .headers()
        .get(http::header::LOCATION)
        .and_then(|location| location.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| fail("the UI sent the browser nowhere"))
}
