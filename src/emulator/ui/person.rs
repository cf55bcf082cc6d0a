//! A person on the pre-built UI, for tests of apps: open the page, type the code.

use super::super::state::Shared;

/// Why [`EmulatorHandle::complete_prebuilt_ui`](crate::emulator::EmulatorHandle::complete_prebuilt_ui)
/// could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the pre-built UI could not be completed: {0}")]
pub struct PrebuiltUiError(String);

/// Opens `url` (a track `url` of this emulator), types the current code of the token's
/// user, and returns where the UI sends the browser back to.
pub(crate) async fn complete(shared: &Shared, url: &str) -> Result<String, PrebuiltUiError> {
    let fail = |reason: &str| PrebuiltUiError(reason.to_owned());
    let page = reqwest::Url::parse(url).map_err(|_| fail("the url is not a URL"))?;
    if !url.starts_with(&format!("{}/ui/challenge?", shared.origin)) {
        return Err(fail("the url is not this emulator's pre-built UI"));
    }
    let token = page
        .query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, token)| token.into_owned())
        .ok_or_else(|| fail("the url carries no token"))?;
    let user = shared
        .tokens()
        .read_challenge(&token)
        .map_err(|_| fail("the url's token is invalid or expired"))?
        .sub;
    let code = shared
        .store()
        .totp_code(&user, shared.clock.now())
        .ok_or_else(|| fail("the user has no authenticator app"))?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| fail("no HTTP client"))?;
    let shown = http
        .get(page)
        .send()
        .await
        .map_err(|_| fail("the page did not load"))?;
    if !shown.status().is_success() {
        return Err(fail("the page did not load"));
    }
    let answer = http
        .post(format!("{}/ui/challenge", shared.origin))
        .form(&[("token", token.as_str()), ("code", code.as_str())])
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
