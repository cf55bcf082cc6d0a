//! What the examples share: choosing the backend and the store, a cookie session, and
//! page chrome.
//! Not part of the crate: a real app has its own sessions and templates.

// Each example uses a different part of this.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use authsignal_emulator::{
    Emulator, EmulatorBuilder, EmulatorHandle, OutboxMessage, TotpEnrollment,
};
use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::Html;
use axum::routing::get;
use axum_authsignal::authsignal::ENV_SECRET_KEY;
use axum_authsignal::store::{MemoryStore, PendingChallengeStore, RedisStore};

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

/// How long a connection may take to send its request headers before it is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` as a production server should: each request carries the
/// peer address (`ConnectInfo<SocketAddr>`, which the gate sends to Authsignal's IP rules),
/// and a connection that has not sent its request headers within [`HEADER_READ_TIMEOUT`]
/// is closed. `axum::serve` sets no such timeout: a client that trickles its headers holds
/// a connection open for as long as it likes.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    serve_with(listener, app, HEADER_READ_TIMEOUT).await
}

/// [`serve`] with another header-read timeout (tests use a short one).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tower::Service as _;

    let mut with_peer = app.into_make_service_with_connect_info::<SocketAddr>();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors, or a connection gone before it was accepted: the
            // listener itself is fine, so keep going, as `axum::serve` does.
            Err(err) => {
                eprintln!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = with_peer
            .call(peer)
            .await
            .unwrap_or_else(|never| match never {});
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades()
                .await;
            // A client that hangs up or times out is not the app's error.
            drop(connection);
        });
    }
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
/// - `GET /demo/outbox`: every one-time code (or magic link) sent to `user`, newest
///   first, one per line (`SMS to +64270000067 for withdraw: 123456`).
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
                            // A magic link has no code: the link is what to open.
                            message.link.as_deref().unwrap_or(&message.code)
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

/// Sessions in a signed cookie (user, issue time, HMAC-SHA256), so that any instance of a
/// demo that shares the key can read them. The key is random per process, or
/// `DEMO_SESSION_KEY` (32 bytes or more) when several instances serve the demo.
#[derive(Clone)]
pub struct Sessions {
    key: Arc<[u8]>,
}

impl Default for Sessions {
    fn default() -> Self {
        let key = match std::env::var("DEMO_SESSION_KEY") {
            Ok(key) if key.len() >= 32 => key.into_bytes(),
            Ok(_) => panic!("DEMO_SESSION_KEY must be at least 32 bytes"),
            Err(_) => {
                let mut key = vec![0u8; 32];
                getrandom::fill(&mut key).expect("the OS random number generator");
                key
            }
        };
        Self {
            key: Arc::from(key),
        }
    }
}

impl Sessions {
    const COOKIE: &'static str = "demo_session";
    /// How long a session lasts.
    const LIFETIME_SECS: u64 = 12 * 60 * 60;

    fn tag(&self, user: &str, issued: u64) -> hmac::Hmac<sha2::Sha256> {
        use hmac::{KeyInit, Mac};
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(format!("{user}\0{issued}").as_bytes());
        mac
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |now| now.as_secs())
    }

    /// Starts a session for `user`; returns the `Set-Cookie` value.
    pub fn start(&self, user: &str) -> String {
        use base64::Engine as _;
        use hmac::Mac;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let issued = Self::now();
        let tag = b64.encode(self.tag(user, issued).finalize().into_bytes());
        // SameSite=Lax: sent on the top-level GET back from the pre-built UI. Not Secure,
        // because the demo is served over plain http on 127.0.0.1.
        format!(
            "{}={}.{issued}.{tag}; Path=/; HttpOnly; SameSite=Lax",
            Self::COOKIE,
            b64.encode(user)
        )
    }

    /// The user of the request's session cookie, if its signature checks and it is fresh.
    pub fn user(&self, headers: &HeaderMap) -> Option<String> {
        use base64::Engine as _;
        use hmac::Mac;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let value = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(Self::COOKIE)?.strip_prefix('='))?;
        let mut fields = value.split('.');
        let (user, issued, tag) = (fields.next()?, fields.next()?, fields.next()?);
        let user = String::from_utf8(b64.decode(user).ok()?).ok()?;
        let issued: u64 = issued.parse().ok()?;
        self.tag(&user, issued)
            .verify_slice(&b64.decode(tag).ok()?)
            .ok()?;
        (Self::now().saturating_sub(issued) < Self::LIFETIME_SECS).then_some(user)
    }
}

/// Where the demos keep pending challenges: in Redis when `REDIS_URL` is set, so that
/// several instances of a demo can serve one user (see the README's "Running several
/// instances"), else in memory. Returns the store and a line for the banner.
pub async fn challenge_store() -> Result<(Arc<dyn PendingChallengeStore>, String), String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let store = RedisStore::builder(url.as_str())
                .build()
                .await
                .map_err(|err| format!("REDIS_URL: {err}"))?;
            Ok((
                Arc::new(store),
                "Redis (REDIS_URL), shared by every instance".to_owned(),
            ))
        }
        _ => Ok((
            memory_store(),
            "in memory (set REDIS_URL to share it)".to_owned(),
        )),
    }
}

/// The in-memory store, as the examples' tests use.
pub fn memory_store() -> Arc<dyn PendingChallengeStore> {
    Arc::new(MemoryStore::default())
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
