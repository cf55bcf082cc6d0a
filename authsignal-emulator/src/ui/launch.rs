//! How the Web SDK opened the page, and where the page may send its token.
//!
//! `launch(url)` in redirect mode opens the track `url` as it is. Popup mode (the page in
//! an iframe of a dialog on the app's page) and window mode (the page in a window the
//! app's page opened) both open `url` with `&mode=popup` added, and wait for the text
//! `{"event":"AUTHSIGNAL_CLOSE_POPUP","token":"…"}` posted by the page from the origin
//! of `url` (SDK: `src/authsignal.ts`, `launchWithPopup` and `launchWithWindow`).
//!
//! The page posts only to the origin of the track's `redirectUrl`: the app that asked for
//! the challenge, where redirect mode sends the token too. A page opened from any other
//! origin (or for an action with no `redirectUrl`) gets nothing, however it opened the
//! page, and only that origin may frame it. A `postMessage` to `"*"` would hand the token
//! to whatever page opened the link.

use reqwest::Url;

/// The only `mode` the Web SDK adds.
const POPUP: &str = "popup";

/// How the page was opened, from its `mode` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Mode {
    /// On its own (redirect mode, or a link): answers redirect back to the app.
    #[default]
    Page,
    /// By the Web SDK's popup or window mode: the token goes to the app's page by
    /// `postMessage`.
    Popup,
}

/// A `mode` the Web SDK never sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnknownMode;

impl Mode {
    /// The mode named by a `mode` parameter: none (or empty) is a page on its own.
    pub(crate) fn parse(value: Option<&str>) -> Result<Self, UnknownMode> {
        match value {
            None | Some("") => Ok(Mode::Page),
            Some(POPUP) => Ok(Mode::Popup),
            Some(_) => Err(UnknownMode),
        }
    }

    /// The `mode` parameter that keeps this mode across the page's forms and links.
    pub(crate) fn param(self) -> Option<&'static str> {
        match self {
            Mode::Page => None,
            Mode::Popup => Some(POPUP),
        }
    }
}

/// The app's page that opened the page in popup or window mode, as far as the emulator
/// trusts it: the origin that may frame the page and receive its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Opener {
    origin: String,
}

impl Opener {
    /// The opener trusted for an action opened in `mode`: in popup mode, the origin of
    /// its `redirect_url` when that is an `http` or `https` URL; else none.
    pub(crate) fn trusted(mode: Mode, redirect_url: Option<&str>) -> Option<Self> {
        if mode != Mode::Popup {
            return None;
        }
        let url = Url::parse(redirect_url?).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let origin = url.origin().ascii_serialization();
        // What the URL parser serializes as an origin holds none of CSP's separators;
        // checked anyway, since it goes into a header.
        origin
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:/[]".contains(&b))
            .then_some(Opener { origin })
    }

    /// `scheme://host[:port]`.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }
}

/// How a request's page was opened, and the opener it may report to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Launch {
    mode: Mode,
    opener: Option<Opener>,
}

impl Launch {
    /// A page opened in `mode` for an action with `redirect_url`.
    pub(crate) fn new(mode: Mode, redirect_url: Option<&str>) -> Self {
        Launch {
            mode,
            opener: Opener::trusted(mode, redirect_url),
        }
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// The trusted opener, in popup or window mode for an action that has one.
    pub(crate) fn opener(&self) -> Option<&Opener> {
        self.opener.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sdks_mode_is_known() {
        assert_eq!(Mode::parse(None), Ok(Mode::Page));
        assert_eq!(Mode::parse(Some("")), Ok(Mode::Page));
        assert_eq!(Mode::parse(Some("popup")), Ok(Mode::Popup));
        assert_eq!(Mode::parse(Some("window")), Err(UnknownMode));
        assert_eq!(Mode::Popup.param(), Some("popup"));
        assert_eq!(Mode::Page.param(), None);
    }

    #[test]
    fn the_trusted_opener_is_the_redirect_urls_origin_in_popup_mode_only() {
        let opener = Opener::trusted(Mode::Popup, Some("https://app.example:8443/done?x=1#y"));
        assert_eq!(
            opener.as_ref().map(Opener::origin),
            Some("https://app.example:8443")
        );
        let default_port = Opener::trusted(Mode::Popup, Some("http://127.0.0.1:80/a"));
        assert_eq!(
            default_port.as_ref().map(Opener::origin),
            Some("http://127.0.0.1")
        );
        assert_eq!(
            Opener::trusted(Mode::Page, Some("https://app.example/")),
            None
        );
        assert_eq!(Opener::trusted(Mode::Popup, None), None);
        for untrusted in [
            "/relative",
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///x",
        ] {
            assert_eq!(
                Opener::trusted(Mode::Popup, Some(untrusted)),
                None,
                "{untrusted}"
            );
        }
    }
}
