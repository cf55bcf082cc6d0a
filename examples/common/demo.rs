//! What the examples share: choosing the backend, a cookie session, and page chrome.
//! Not part of the crate: a real app has its own sessions and templates.

// Each example uses a different part of this.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::Html;
use axum::routing::get;
use axum_authsignal::client::ENV_SECRET_KEY;
use axum_authsignal::emulator::{
    Emulator, EmulatorBuilder, EmulatorHandle, OutboxMessage, TotpEnrollment,
};

/// The port the examples' embedded emulator prefers, so that the README's commands can
/// name it; `EMULATOR_PORT` overrides it, and a busy port falls back to a free one.
pub const EMULATOR_PORT: u16 = 8787;

/// Whether to use a real Authsignal tenant (`AUTHSIGNAL_SECRET_KEY` is set) instead of
/// the embedded emulator.
pub fn uses_authsignal() -> bool {
    std::env::var(ENV_SECRET_KEY).is_ok_and(|key| !key.trim().is_empty())
}

/// Listens on 127.0.0.1 at `PORT`, else at `default`, with a hint when it is taken.
pub async fn listen(default: u16) -> Result<tokio::net::TcpListener, String> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(default);
    tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|err| {
            format!("cannot listen on 127.0.0.1:{port} ({err}); set PORT to another port")
        })
}

/// Starts `builder` on the preferred emulator port, or any free one if that is taken.
pub async fn start_emulator(builder: EmulatorBuilder) -> std::io::Result<EmulatorHandle> {
    let preferred = std::env::var("EMULATOR_PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(EMULATOR_PORT);
    let at = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match builder.clone().bind(at(preferred)).start().await {
        Ok(emulator) => Ok(emulator),
        Err(_) => builder.bind(at(0)).start().await,
    }
}

/// A fresh emulator builder on a free port, for tests of the examples.
pub fn emulator_on_free_port() -> EmulatorBuilder {
    emulator().bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
}

/// A fresh emulator builder (so that examples need not import `Emulator` too).
pub fn emulator() -> EmulatorBuilder {
    Emulator::builder()
}

/// Adds, when running on the emulator, what stands in for the user's phone:
///
/// - `GET /demo/code`: the code `user`'s authenticator app would show, or, for a user with
///   no app, the newest one-time code sent to them by SMS or email;
/// - `GET /demo/outbox`: every one-time code sent to `user`, newest first, one per line
///   (`SMS to +64270000067 for withdraw: 123456`).
pub fn code_page<S>(
    router: Router<S>,
    emulator: Option<EmulatorHandle>,
    user: &'static str,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let Some(emulator) = emulator else {
        return router;
    };
    let outbox = emulator.clone();
    router
        .route(
            "/demo/code",
            get(move || async move {
                emulator
                    .totp_code(user)
                    .or_else(|| sent_to(&emulator, user).into_iter().next().map(|m| m.code))
                    .unwrap_or_default()
            }),
        )
        .route(
            "/demo/outbox",
            get(move || async move {
                sent_to(&outbox, user)
                    .iter()
                    .map(|message| {
                        format!(
                            "{} to {} for {}: {}\n",
                            message.verification_method.as_str(),
                            message.to,
                            message.action.as_deref().unwrap_or("-"),
                            message.code
                        )
                    })
                    .collect::<String>()
            }),
        )
}

/// The one-time codes sent to `user`, newest first.
fn sent_to(emulator: &EmulatorHandle, user: &str) -> Vec<OutboxMessage> {
    let mut sent: Vec<OutboxMessage> = emulator
        .outbox()
        .into_iter()
        .filter(|message| message.user_id.as_deref() == Some(user))
        .collect();
    sent.reverse();
    sent
}

/// The start-up banner's enrollment lines: the secret, the `otpauth://` URI, and the URI
/// as a QR code drawn in the terminal, for a newcomer to scan with their phone's
/// authenticator app.
pub fn enrollment_banner(enrollment: &TotpEnrollment) -> String {
    format!(
        "  secret    {}  (add it to any authenticator app)\n  uri       {}\n  or scan it:\n{}",
        enrollment.secret,
        enrollment.uri,
        enrollment.qr_code_text()
    )
}

/// Sessions in memory: cookie value -> user.
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, String>>>);

impl Sessions {
    const COOKIE: &'static str = "demo_session";

    /// Starts a session for `user`; returns the `Set-Cookie` value.
    pub fn start(&self, user: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.0.lock().unwrap().insert(id.clone(), user.to_owned());
        // SameSite=Lax: sent on the top-level GET back from the pre-built UI. Not Secure,
        // because the demo is served over plain http on 127.0.0.1.
        format!("{}={id}; Path=/; HttpOnly; SameSite=Lax", Self::COOKIE)
    }

    /// The user of the request's session cookie.
    pub fn user(&self, headers: &HeaderMap) -> Option<String> {
        let id = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(Self::COOKIE)?.strip_prefix('='))?;
        self.0.lock().unwrap().get(id).cloned()
    }
}

/// A page with the examples' minimal styling.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
         <style>body{{font:16px system-ui;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         label{{display:block;margin:.5rem 0}}input{{font:inherit;padding:.3rem}}\
         button{{font:inherit;padding:.4rem 1rem}}.hint{{color:#666}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    ))
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
