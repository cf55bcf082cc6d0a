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
    /// A page opened in `mode` for an action of the app at `app_origin` (the origin of
    /// its `redirectUrl`: see `ActionRecord::app_origin`): in popup mode, that app is the
    /// trusted opener; else there is none.
    pub(crate) fn new(mode: Mode, app_origin: Option<String>) -> Self {
        Launch {
            mode,
            opener: app_origin
                .filter(|_| mode == Mode::Popup)
                .map(|origin| Opener { origin }),
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
    fn the_app_is_the_trusted_opener_in_popup_mode_only() {
        let app = || Some("https://app.example".to_owned());
        let popup = Launch::new(Mode::Popup, app());
        assert_eq!(
            popup.opener().map(Opener::origin),
            Some("https://app.example")
        );
        assert_eq!(Launch::new(Mode::Page, app()).opener(), None);
        assert_eq!(Launch::new(Mode::Popup, None).opener(), None);
    }
}
