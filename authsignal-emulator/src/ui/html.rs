//! The HTML of the pre-built UI: one page shape, everything interpolated escaped (but the
//! QR code's SVG, which the `qrcode` crate draws from the URI and holds no text of ours).
//!
//! Elements a browser test drives have stable ids: `code` (the code input), `verify` (the
//! submit button), `challenge-form`, `challenge-id` (the hidden id of a code sent by SMS or
//! email), `send` (the button that sends one), `sent-to`, `error` (what went wrong),
//! `send-to` (where it goes), `passkey` (the button that verifies with a passkey),
//! `passkey-error` (why it could not), `success`, `message`, `totp-secret`, `totp-uri` and
//! `totp-qr` (an enrollment's secret, `otpauth://` URI and QR code), `use-<METHOD>` (links
//! to the other methods, e.g. `use-SMS`), `continue` (the way back from the settings
//! page), `token` (on the success page shown when the action has no `redirectUrl`).
//!
//! A page's scripts are this crate's own files, each in a `<script>` with the response's
//! nonce: `popup.js` on a page opened in the Web SDK's popup or window mode, which reads
//! the trusted opener's origin (and, once verified, the token) from `data-` attributes of
//! `<main>`; `passkey.js` on a page that offers a passkey. Such a page keeps `mode` in its
//! forms and links.

use std::fmt::Write as _;

use super::csp::Nonce;

pub(crate) use authsignal::safe_text::escape_html as escape;

/// An authenticator-app enrollment to show above the form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Enrollment<'a> {
    pub(crate) secret: &'a str,
    pub(crate) uri: &'a str,
    /// An inline `<svg>` of the URI, from [`super::super::qr::svg`].
    pub(crate) qr_svg: &'a str,
}

/// The form a code is typed into.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodeForm<'a> {
    /// The challenge token, sent back with the code.
    pub(crate) token: &'a str,
    /// What the input is for, e.g. "Code from your authenticator app".
    pub(crate) label: &'a str,
    /// The challenge of a code sent by SMS or email; none for an authenticator app.
    pub(crate) challenge_id: Option<&'a str>,
}

/// The button that sends a code by SMS or email.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendForm<'a> {
    pub(crate) token: &'a str,
    /// The wire name of the method, e.g. `SMS`.
    pub(crate) method: &'a str,
    /// Where it goes, masked.
    pub(crate) to: &'a str,
}

/// A link to challenge with another method (or to set up an app).
#[derive(Debug, Clone)]
pub(crate) struct Alternative {
    /// The wire name of the method, for the element id.
    pub(crate) method: String,
    pub(crate) label: String,
    pub(crate) href: String,
}

/// The app's page a page opened in popup or window mode reports to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PopupOpener<'a> {
    /// The trusted origin: the only one the page posts to, and may be framed by.
    pub(crate) origin: &'a str,
    /// The new token, posted at once (or when `continue` is pressed, on the settings
    /// page).
    pub(crate) token: Option<&'a str>,
}

/// What a page shows. All text is raw here and escaped when rendered.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Page<'a> {
    pub(crate) heading: &'a str,
    pub(crate) message: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    pub(crate) success: Option<&'a str>,
    pub(crate) enrollment: Option<Enrollment<'a>>,
    pub(crate) send_form: Option<SendForm<'a>>,
    /// Where a code sent by SMS or email went (masked).
    pub(crate) sent_to: Option<&'a str>,
    pub(crate) code_form: Option<CodeForm<'a>>,
    pub(crate) alternatives: &'a [Alternative],
    /// The way back to the app, from the settings page.
    pub(crate) continue_url: Option<&'a str>,
    /// The new token, on a success page with nowhere to redirect to.
    pub(crate) result_token: Option<&'a str>,
    /// The `mode` the page was opened with, kept in its forms and links.
    pub(crate) mode: Option<&'a str>,
    /// In popup or window mode for a trusted opener: what the page's script tells it.
    pub(crate) opener: Option<PopupOpener<'a>>,
    /// The challenge token a passkey button verifies with (by the client API, from the
    /// page's script).
    pub(crate) passkey: Option<&'a str>,
}

impl Page<'_> {
    /// The page's HTML; its script, if it has one, carries `nonce`.
    pub(crate) fn render(&self, nonce: &Nonce) -> String {
        let mode = self.mode.map_or_else(String::new, |mode| {
            format!(
                r#"<input type="hidden" name="mode" value="{}">"#,
                escape(mode)
            )
        });
        let mut body = String::new();
        let _ = write!(body, r#"<h1 id="heading">{}</h1>"#, escape(self.heading));
        if let Some(message) = self.message {
            let _ = write!(body, r#"<p id="message">{}</p>"#, escape(message));
        }
        if let Some(enrollment) = self.enrollment {
            let _ = write!(
                body,
                concat!(
                    r#"<section id="enroll"><h2>Set up your authenticator app</h2>"#,
                    r#"<p>Scan this code with your authenticator app, or add the key by hand.</p>"#,
                    r#"<div id="totp-qr" role="img" aria-label="QR code of the otpauth URI">{qr}</div>"#,
                    r#"<p>Key: <code id="totp-secret">{secret}</code></p>"#,
                    r#"<p>URI: <code id="totp-uri">{uri}</code></p>"#,
                    r#"<p><a id="totp-link" href="{uri}">Open in authenticator app</a></p></section>"#
                ),
                qr = enrollment.qr_svg,
                secret = escape(enrollment.secret),
                uri = escape(enrollment.uri),
            );
        }
        if let Some(error) = self.error {
            let _ = write!(body, r#"<p id="error" role="alert">{}</p>"#, escape(error));
        }
        if let Some(success) = self.success {
            let _ = write!(body, r#"<p id="success">{}</p>"#, escape(success));
        }
        if let Some(token) = self.result_token {
            let _ = write!(
                body,
                r#"<p>Token: <code id="token">{}</code></p>"#,
                escape(token)
            );
        }
        if let Some(token) = self.passkey {
            let _ = write!(
                body,
                concat!(
                    r#"<section id="passkey-section">"#,
                    r#"<button id="passkey" type="button" data-token="{token}">Use your passkey</button>"#,
                    r#"<p id="passkey-error" role="alert"></p>"#,
                    r#"<form id="passkey-form" method="post" action="/ui/challenge/passkey">"#,
                    r#"<input type="hidden" id="passkey-token" name="token" value="">{mode}</form>"#,
                    r#"<noscript><p>A passkey needs JavaScript: turn it on, or use another method.</p></noscript>"#,
                    r#"</section>"#
                ),
                token = escape(token),
                mode = mode,
            );
        }
        if let Some(send) = self.send_form {
            let _ = write!(
                body,
                concat!(
                    r#"<form id="send-form" method="post" action="/ui/challenge/send">"#,
                    r#"<input type="hidden" name="token" value="{token}">"#,
                    r#"<input type="hidden" name="method" value="{method}">{mode}"#,
                    r#"<p>We will send a code to <span id="send-to">{to}</span>.</p>"#,
                    r#"<button id="send" type="submit">Send code</button></form>"#
                ),
                token = escape(send.token),
                method = escape(send.method),
                mode = mode,
                to = escape(send.to),
            );
        }
        if let Some(to) = self.sent_to {
            let _ = write!(
                body,
                r#"<p>We sent a code to <span id="sent-to">{}</span>.</p>"#,
                escape(to)
            );
        }
        if let Some(form) = self.code_form {
            let challenge = form.challenge_id.map_or_else(String::new, |id| {
                format!(
                    r#"<input type="hidden" id="challenge-id" name="challenge_id" value="{}">"#,
                    escape(id)
                )
            });
            let _ = write!(
                body,
                concat!(
                    r#"<form id="challenge-form" method="post" action="/ui/challenge">"#,
                    r#"<input type="hidden" name="token" value="{token}">{challenge}{mode}"#,
                    r#"<label for="code">{label}</label>"#,
                    r#"<input id="code" name="code" type="text" inputmode="numeric" "#,
                    r#"autocomplete="one-time-code" maxlength="6" required autofocus>"#,
                    r#"<button id="verify" type="submit">Verify</button></form>"#
                ),
                token = escape(form.token),
                challenge = challenge,
                mode = mode,
                label = escape(form.label),
            );
        }
        if !self.alternatives.is_empty() {
            body.push_str(r#"<ul id="alternatives">"#);
            for alternative in self.alternatives {
                let _ = write!(
                    body,
                    r#"<li><a id="use-{method}" href="{href}">{label}</a></li>"#,
                    method = escape(&alternative.method),
                    href = escape(&alternative.href),
                    label = escape(&alternative.label),
                );
            }
            body.push_str("</ul>");
        }
        if self.opener.is_some_and(|opener| opener.token.is_some()) && self.continue_url.is_some() {
            // Back to the app's page that opened this one: the script posts the token.
            body.push_str(r#"<p><button id="continue" type="button">Continue</button></p>"#);
        } else if let Some(url) = self.continue_url {
            let _ = write!(
                body,
                r#"<p><a id="continue" href="{}">Continue</a></p>"#,
                escape(url)
            );
        }
        let script =
            |source: &str| format!(r#"<script nonce="{}">{source}</script>"#, nonce.as_str());
        let mut scripts = String::new();
        let main = match self.opener {
            Some(opener) => {
                scripts.push_str(&script(POPUP_SCRIPT));
                format!(
                    r#"<main data-opener-origin="{origin}"{token}>"#,
                    origin = escape(opener.origin),
                    token = opener.token.map_or_else(String::new, |token| format!(
                        r#" data-result-token="{}""#,
                        escape(token)
                    )),
                )
            }
            None => "<main>".to_owned(),
        };
        if self.passkey.is_some() {
            scripts.push_str(&script(PASSKEY_SCRIPT));
        }
        format!(
            concat!(
                "<!doctype html>\n",
                r#"<html lang="en"><head><meta charset="utf-8">"#,
                r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#,
                "<title>{title} · Authsignal emulator</title><style>{style}</style></head>",
                "<body>{main}{body}</main>",
                r#"<footer>Authsignal emulator: for development and tests only.</footer>{script}</body></html>"#
            ),
            title = escape(self.heading),
            style = STYLE,
            main = main,
            body = body,
            script = scripts,
        )
    }
}

/// The script of a page opened in popup or window mode.
const POPUP_SCRIPT: &str = include_str!("popup.js");

/// The script of a page that offers a passkey.
const PASSKEY_SCRIPT: &str = include_str!("passkey.js");

/// A phone number or email address as a page shows it: enough to recognise, not to read
/// off a shoulder (`+64•••••••67`, `j•••@example.com`).
pub(crate) fn masked(to: &str) -> String {
    match to.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => {
            let chars: Vec<char> = to.chars().collect();
            if chars.len() <= 5 {
                return "•".repeat(chars.len());
            }
            let head: String = chars[..3].iter().collect();
            let tail: String = chars[chars.len() - 2..].iter().collect();
            format!("{head}{}{tail}", "•".repeat(chars.len() - 5))
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#111}\
main{border:1px solid #ddd;border-radius:8px;padding:1.5rem}\
code{word-break:break-all;background:#f4f4f4;padding:0 .2rem}\
#error{color:#b00020}#success{color:#0a6b2a}\
#totp-qr svg{display:block;width:200px;height:200px;margin:.5rem 0}\
label{display:block;margin:1rem 0 .3rem}\
input[name=code]{font-size:1.5rem;letter-spacing:.3rem;width:9rem}\
button{display:block;margin-top:1rem;font-size:1rem;padding:.4rem 1.2rem}\
footer{color:#777;font-size:.8rem;margin-top:1rem}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_interpolated_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
        let alternatives = [Alternative {
            method: "\"><script>".into(),
            label: "<b>".into(),
            href: "javascript:\"x".into(),
        }];
        let page = Page {
            heading: "<script>",
            error: Some("\"><img src=x>"),
            code_form: Some(CodeForm {
                token: "t\"><script>alert(1)</script>",
                label: "<i>",
                challenge_id: Some("\"><img src=y>"),
            }),
            send_form: Some(SendForm {
                token: "t",
                method: "\"><script>",
                to: "<u>",
            }),
            alternatives: &alternatives,
            mode: Some("\"><script>"),
            opener: Some(PopupOpener {
                origin: "\"><script>",
                token: Some("\"><script>"),
            }),
            passkey: Some("\"><script>"),
            ..Page::default()
        }
        .render(&Nonce::new());
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>") && !page.contains("<i>") && !page.contains("<u>"));
        assert!(page.contains(r#"id="code""#) && page.contains(r#"id="verify""#));
    }

    #[test]
    fn addresses_are_masked() {
        assert_eq!(masked("+64270000067"), "+64•••••••67");
        assert_eq!(masked("jane@example.com"), "j•••@example.com");
        assert_eq!(masked("+123"), "••••");
    }
}
