//! The HTML of the pre-built UI: one page shape, everything interpolated escaped.
//!
//! Elements a browser test drives have stable ids: `code` (the code input), `verify` (the
//! submit button), `error` (what went wrong), `success`, `totp-secret` and `totp-uri`
//! (an enrollment's secret and `otpauth://` URI), `token` (on the success page shown when
//! the action has no `redirectUrl`).

use std::fmt::Write as _;

pub(crate) use crate::safe_text::escape_html as escape;

/// An authenticator-app enrollment to show above the form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Enrollment<'a> {
    pub(crate) secret: &'a str,
    pub(crate) uri: &'a str,
}

/// What a page shows. All text is raw here and escaped when rendered.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Page<'a> {
    pub(crate) heading: &'a str,
    pub(crate) message: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    pub(crate) success: Option<&'a str>,
    pub(crate) enrollment: Option<Enrollment<'a>>,
    /// The challenge token, when the page has a code form.
    pub(crate) form_token: Option<&'a str>,
    /// The new token, on a success page with nowhere to redirect to.
    pub(crate) result_token: Option<&'a str>,
}

impl Page<'_> {
    pub(crate) fn render(&self) -> String {
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
                    r#"<p>Add this key to your authenticator app, or open the link on your phone.</p>"#,
                    r#"<p>Key: <code id="totp-secret">{secret}</code></p>"#,
                    r#"<p>URI: <code id="totp-uri">{uri}</code></p>"#,
                    r#"<p><a id="totp-link" href="{uri}">Open in authenticator app</a></p></section>"#
                ),
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
        if let Some(token) = self.form_token {
            let _ = write!(
                body,
                concat!(
                    r#"<form id="challenge-form" method="post" action="/ui/challenge">"#,
                    r#"<input type="hidden" name="token" value="{token}">"#,
                    r#"<label for="code">Code from your authenticator app</label>"#,
                    r#"<input id="code" name="code" type="text" inputmode="numeric" "#,
                    r#"autocomplete="one-time-code" maxlength="6" required autofocus>"#,
                    r#"<button id="verify" type="submit">Verify</button></form>"#
                ),
                token = escape(token),
            );
        }
        format!(
            concat!(
                "<!doctype html>\n",
                r#"<html lang="en"><head><meta charset="utf-8">"#,
                r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#,
                "<title>{title} · Authsignal emulator</title><style>{style}</style></head>",
                "<body><main>{body}</main>",
                r#"<footer>Authsignal emulator: for development and tests only.</footer></body></html>"#
            ),
            title = escape(self.heading),
            style = STYLE,
            body = body,
        )
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#111}\
main{border:1px solid #ddd;border-radius:8px;padding:1.5rem}\
code{word-break:break-all;background:#f4f4f4;padding:0 .2rem}\
#error{color:#b00020}#success{color:#0a6b2a}\
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
        let page = Page {
            heading: "<script>",
            error: Some("\"><img src=x>"),
            form_token: Some("t\"><script>alert(1)</script>"),
            ..Page::default()
        }
        .render();
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(page.contains(r#"id="code""#) && page.contains(r#"id="verify""#));
    }
}
