//! A custom step-up UI built with Authsignal's official Web SDK (`@authsignal/browser`),
//! in front of a JSON transfers API behind the step-up gate.
//!
//! ```sh
//! npm ci --prefix tests/web_sdk     # once: the Web SDK, pinned in tests/web_sdk/package-lock.json
//! cargo run --example custom_ui
//! ```
//!
//! Open <http://localhost:3000> (`PORT` overrides). Each browser session is a new visitor
//! with no authenticator. A transfer above 1000 answers 401 with a challenge token; the
//! page hands it to the SDK (`setToken`), which enrolls and verifies an authenticator app
//! (`totp.enroll`, `totp.verify`), an email or a phone (`email.enroll/challenge/verify`,
//! `sms.enroll/challenge/verify`) against Authsignal's client API, and the page sends the
//! transfer again with the SDK's token in `X-Authsignal-Token`: the gate validates it and
//! the transfer is made once. "Use Authsignal's page instead" calls
//! `launch(url, {mode: "redirect"})`: the pre-built UI, which sends the browser back to
//! this page with `?token=`, and the page sends the transfer with it. "In a popup" and
//! "In a window" call `launch(url, {mode: "popup"})` (the pre-built UI in a dialog on
//! this page) and `{mode: "window"}`: the pre-built UI hands its token to this page (it
//! trusts this page's origin, the origin of the track's `redirectUrl`), `launch` resolves
//! with it, and the page sends the transfer with it.
//!
//! Passkeys: "Create a passkey" signs the visitor up with one (`passkey.signUp`, with the
//! challenge's token) and "Use my passkey" passes the step-up with it
//! (`passkey.signIn({token})`). Browsers offer passkeys on `localhost`, not on
//! `127.0.0.1` (an IP address cannot be a relying party's ID): open the page at
//! `localhost`. The embedded emulator is a development relying party (RP ID `localhost`,
//! any `http://localhost` port).
//!
//! A visitor enrolled with one method adds another only after proving it (Authsignal's
//! binding rule): verify with the app first, and the SDK's new token may then enroll an
//! email or a phone. On the emulator, `GET /demo/codes` shows the visitor's current codes
//! (the app's, and the last ones "sent" by email, SMS and WhatsApp, which go to the
//! emulator's outbox), their newest email magic link (open it to follow it), and the
//! pushes waiting on their phone (approve one with the emulator's
//! `POST /v1/emulator/push/{challengeId}`, `{"approve": true}`).
//!
//! # Where the page gets the SDK
//!
//! The app serves the SDK's browser build (`dist/index.min.js`, which defines the global
//! `authsignal`) at `/sdk/authsignal.js`, read at start from `AUTHSIGNAL_WEB_SDK` (a path
//! to that file) or else from `tests/web_sdk/node_modules/@authsignal/browser/dist/`,
//! where `npm ci --prefix tests/web_sdk` installs the version the lock file pins. So the
//! page works with no internet (no CDN), runs the SDK exactly as published (nothing in
//! this repository copies or changes it), and the browser test drives the very file the
//! lock pins. Without the file the app still starts, says how to get it, and the page
//! shows the same hint.
//!
//! Without `AUTHSIGNAL_SECRET_KEY` the embedded emulator serves Authsignal on
//! <http://127.0.0.1:8787/v1> (`EMULATOR_PORT` overrides). With it, the app uses your
//! tenant: set `AUTHSIGNAL_TENANT_ID` (the SDK needs it) and, for another region,
//! `AUTHSIGNAL_API_URL`; the tenant needs a `transfer` action that challenges large
//! amounts (`custom.amount`).

#[path = "common/demo.rs"]
mod demo;

use std::error::Error;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use authsignal_emulator::{
    ActionConfig, Condition, EmulatorBuilder, EmulatorHandle, Outcome, RelyingPartySettings, Rule,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_authsignal::Authsignal;
use axum_authsignal::authsignal::ENV_API_URL;
use axum_authsignal::authsignal::types::VerificationMethod;
use axum_authsignal::store::PendingChallengeStore;
use axum_authsignal::{ClientKind, StepUp, StepUpConfig};
use demo::{Sessions, escape, page};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Transfers above this amount are challenged.
pub const THRESHOLD: f64 = 1000.0;
/// The environment variable naming the SDK's `index.min.js`.
pub const ENV_WEB_SDK: &str = "AUTHSIGNAL_WEB_SDK";
/// Where `npm ci --prefix tests/web_sdk` puts the SDK's browser build.
pub const INSTALLED_WEB_SDK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/web_sdk/node_modules/@authsignal/browser/dist/index.min.js"
);
const ACTION: &str = "transfer";
const DEFAULT_API_URL: &str = "https://api.authsignal.com/v1";
const HOW_TO_GET_THE_SDK: &str =
    "run `npm ci --prefix tests/web_sdk`, or set AUTHSIGNAL_WEB_SDK to the SDK's dist/index.min.js";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    let listener = demo::listen(3000).await?;
    // `localhost`, not the address bound: browsers refuse passkeys on an IP address.
    let origin = format!("http://localhost:{}", listener.local_addr()?.port());
    let sdk = load_sdk();

    println!("\naxum-authsignal custom UI demo (the official Web SDK)\n");
    println!("  open      {origin}");
    println!("  step-up   transfers above {THRESHOLD} are verified in the page, with the SDK");
    match &sdk {
        Ok((path, _)) => println!("  web SDK   {}", path.display()),
        Err(error) => println!("  web SDK   MISSING: {error}"),
    }
    let sdk = sdk.ok().map(|(_, bytes)| bytes);
    let (store, store_line) = demo::challenge_store().await?;
    println!("  store     {store_line}");
    let app = if demo::uses_authsignal() {
        let tenant_id = std::env::var("AUTHSIGNAL_TENANT_ID")
            .map_err(|_| "AUTHSIGNAL_TENANT_ID is needed with AUTHSIGNAL_SECRET_KEY")?;
        let api_url = std::env::var(ENV_API_URL).unwrap_or_else(|_| DEFAULT_API_URL.into());
        println!("  backend   Authsignal, with the key in AUTHSIGNAL_SECRET_KEY");
        let sdk_config = SdkConfig {
            tenant_id,
            base_url: api_url,
        };
        app(
            Authsignal::from_env()?,
            &origin,
            sdk_config,
            sdk,
            None,
            store,
        )
    } else {
        let emulator = start_emulator(demo::emulator()).await?;
        println!(
            "  backend   the embedded Authsignal emulator at {}",
            emulator.api_url()
        );
        println!("  codes     GET {origin}/demo/codes gives the visitor's current codes");
        let sdk_config = SdkConfig::emulator(&emulator);
        app(
            emulator.client(),
            &origin,
            sdk_config,
            sdk,
            Some(emulator),
            store,
        )
    };
    println!();
    demo::serve(listener, app).await?;
    Ok(())
}

/// The SDK's browser build, from [`ENV_WEB_SDK`] or else [`INSTALLED_WEB_SDK`]; the
/// error says how to get it.
pub fn load_sdk() -> Result<(PathBuf, Bytes), String> {
    let path = std::env::var_os(ENV_WEB_SDK)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(INSTALLED_WEB_SDK));
    std::fs::read(&path)
        .map(|bytes| (path.clone(), Bytes::from(bytes)))
        .map_err(|err| {
            format!(
                "cannot read {} ({err}): {HOW_TO_GET_THE_SDK}",
                path.display()
            )
        })
}

/// The app on a fresh emulator (on a free port), for tests: the router and the emulator.
/// `origin` is where the app is served; `sdk` the SDK's browser build, if any.
pub async fn with_emulator(origin: &str, sdk: Option<Bytes>) -> (Router, EmulatorHandle) {
    with_emulator_for(origin, sdk, RelyingPartySettings::default()).await
}

/// As [`with_emulator`], with the emulator's WebAuthn relying party set to
/// `relying_party` (e.g. only the app's own origin).
pub async fn with_emulator_for(
    origin: &str,
    sdk: Option<Bytes>,
    relying_party: RelyingPartySettings,
) -> (Router, EmulatorHandle) {
    let emulator = start_emulator(demo::emulator_on_free_port().relying_party(relying_party))
        .await
        .expect("the emulator starts on a free port");
    let sdk_config = SdkConfig::emulator(&emulator);
    let app = app(
        emulator.client(),
        origin,
        sdk_config,
        sdk,
        Some(emulator.clone()),
        demo::memory_store(),
    );
    (app, emulator)
}

/// The emulator with the demo's rule: large transfers are challenged, also for a visitor
/// with no authenticator yet (who then enrolls one).
async fn start_emulator(builder: EmulatorBuilder) -> std::io::Result<EmulatorHandle> {
    let rule = Rule::new("large-transfer", Outcome::ChallengeRequired)
        .name("Transfers above the threshold")
        .when(Condition::custom_above("amount", THRESHOLD));
    let config = ActionConfig::allow().rule(rule).prompt_enrollment(true);
    demo::start_emulator(builder.action(ACTION, config)).await
}

/// What the page passes to `new authsignal.Authsignal(...)`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SdkConfig {
    /// The tenant id (on the emulator, its own: `EmulatorHandle::tenant_id`).
    pub tenant_id: String,
    /// The client API's base URL, e.g. `https://api.authsignal.com/v1`.
    pub base_url: String,
}

impl SdkConfig {
    fn emulator(emulator: &EmulatorHandle) -> Self {
        Self {
            // The SDK's calls without a token name the tenant by its id.
            tenant_id: emulator.tenant_id().into(),
            base_url: emulator.api_url(),
        }
    }
}

#[derive(Clone)]
struct AppState {
    sessions: Sessions,
    transfers: Arc<Mutex<Vec<(String, Value)>>>,
    sdk_config: Arc<SdkConfig>,
    sdk: Option<Bytes>,
    emulator: Option<EmulatorHandle>,
}

/// The app: the page, the SDK, the transfers API (`POST /transfer` behind the gate) and,
/// on the emulator, the visitor's codes.
pub fn app(
    client: Authsignal,
    origin: &str,
    sdk_config: SdkConfig,
    sdk: Option<Bytes>,
    emulator: Option<EmulatorHandle>,
    store: Arc<dyn PendingChallengeStore>,
) -> Router {
    let state = AppState {
        sessions: Sessions::default(),
        transfers: Arc::default(),
        sdk_config: Arc::new(sdk_config),
        sdk,
        emulator,
    };
    let sessions = state.sessions.clone();
    // The page calls the API with `fetch`: always the 401 with a token, never a redirect.
    // With the origin, the track's `redirectUrl` is this page, where the pre-built UI
    // sends the browser back (`launch` in redirect mode).
    let step_up = StepUpConfig::builder(client)
        .store(store)
        .client_kind(ClientKind::Api)
        .redirect_origin(origin)
        .user_id(move |parts| sessions.user(&parts.headers))
        .build();
    let gate = step_up.gate(ACTION).custom_from_body(["amount"]);
    Router::new()
        .route("/", get(|| async { Redirect::to("/transfer") }))
        // The gate is on the POST only: the GET back from the pre-built UI, with
        // `?token=`, is the page, which reads the token and sends the POST with it.
        .route(
            "/transfer",
            get(transfer_page).merge(post(transfer).layer(gate)),
        )
        .route("/transfers", get(transfers))
        .route("/sdk/authsignal.js", get(serve_sdk))
        .route("/demo/codes", get(demo_codes))
        .with_state(state)
}

/// The page, with a session for a new visitor if the browser has none.
async fn transfer_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (user, cookie) = match state.sessions.user(&headers) {
        Some(user) => (user, None),
        None => {
            let user = format!(
                "visitor-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            );
            let cookie = state.sessions.start(&user);
            (user, Some(cookie))
        }
    };
    let config = serde_json::to_string(&*state.sdk_config)
        .unwrap_or_default()
        // Inside <script>: no `</script>` can close it early.
        .replace('<', "\\u003c");
    let body = PAGE
        .replace("{user}", &escape(&user))
        .replace("{threshold}", &THRESHOLD.to_string())
        .replace("{config}", &config)
        .replace("{how_to_get_the_sdk}", &escape(HOW_TO_GET_THE_SDK))
        .replace("{script}", SCRIPT);
    let mut response = page("Send money", &body).into_response();
    if let Some(cookie) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

async fn serve_sdk(State(state): State<AppState>) -> Response {
    match state.sdk {
        Some(sdk) => ([(header::CONTENT_TYPE, "text/javascript")], sdk).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("The Web SDK is not installed: {HOW_TO_GET_THE_SDK}."),
        )
            .into_response(),
    }
}

/// The transfer's fields, but its amount: the handler books the amount Authsignal's rules
/// judged ([`StepUp::judged_number`]), never a parse of its own that could differ.
#[derive(Deserialize)]
struct Transfer {
    payee: String,
}

/// `POST /transfer`, run only when the gate lets it: small amounts at once, large ones
/// with a validated step-up token.
async fn transfer(
    State(state): State<AppState>,
    step_up: StepUp,
    Json(transfer): Json<Transfer>,
) -> Response {
    let Some(amount) = step_up
        .judged_number("amount")
        .filter(|amount| amount.is_finite() && *amount > 0.0)
    else {
        let error = json!({ "code": "invalid_amount", "detail": "The amount must be positive." });
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(error)).into_response();
    };
    let mut transfers = state.transfers.lock().unwrap();
    let record = json!({
        "id": transfers.len() + 1,
        "amount": amount,
        "payee": transfer.payee,
        "steppedUp": step_up.was_challenged(),
        "verificationMethod": step_up.verification_method().map(|m| m.to_string()),
    });
    transfers.push((step_up.user_id().to_owned(), record.clone()));
    (StatusCode::CREATED, Json(record)).into_response()
}

/// The visitor's transfers, oldest first.
async fn transfers(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(user) = state.sessions.user(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let mine: Vec<Value> = state
        .transfers
        .lock()
        .unwrap()
        .iter()
        .filter(|(owner, _)| *owner == user)
        .map(|(_, record)| record.clone())
        .collect();
    Json(mine).into_response()
}

/// On the emulator: the code the visitor's app shows now, and the last codes "sent" to
/// them by email and SMS, for people trying the demo without a phone.
async fn demo_codes(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (Some(emulator), Some(user)) = (&state.emulator, state.sessions.user(&headers)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let outbox = emulator.outbox();
    let last_sent = |method: VerificationMethod| {
        outbox
            .iter()
            .rev()
            .find(|m| {
                m.user_id.as_deref() == Some(user.as_str()) && m.verification_method == method
            })
            .map(|m| json!({ "to": m.to, "code": m.code, "link": m.link }))
    };
    // The pushes waiting on the visitor's phone: approve one with the emulator's
    // `POST /v1/emulator/push/{challengeId}`.
    let pushes: Vec<String> = emulator
        .pending_pushes()
        .into_iter()
        .filter(|push| push.user_id == user)
        .map(|push| push.challenge_id)
        .collect();
    Json(json!({
        "user": user,
        "authenticatorApp": emulator.totp_code(&user),
        "email": last_sent(VerificationMethod::EmailOtp),
        "sms": last_sent(VerificationMethod::Sms),
        "whatsapp": last_sent(VerificationMethod::Whatsapp),
        "emailMagicLink": last_sent(VerificationMethod::EmailMagicLink),
        "pushes": pushes,
    }))
    .into_response()
}

/// The page's body; `{...}` are filled in by [`transfer_page`].
const PAGE: &str = r#"<p>Signed in as <strong id="user">{user}</strong>: a new visitor for each browser
session, with no authenticator yet.</p>
<p id="sdk-missing" hidden><strong>The Web SDK is not loaded:</strong> {how_to_get_the_sdk}, then
restart the example.</p>
<form id="transfer-form">
  <label>Amount <input id="amount" type="number" min="1" value="2500"></label>
  <label>Payee <input id="payee" value="ACME Ltd"></label>
  <button id="send">Send</button>
  <p class="hint">Transfers above {threshold} need a step-up.</p>
</form>
<section id="challenge" hidden>
  <h2>Confirm it is you</h2>
  <fieldset><legend>Authenticator app</legend>
    <button id="totp-enroll" type="button">Set up an app</button>
    <p id="totp-setup" hidden>Key <code id="totp-secret"></code><br><code id="totp-uri"></code></p>
    <label>Code <input id="totp-code" inputmode="numeric" autocomplete="one-time-code"></label>
    <button id="totp-verify" type="button">Verify</button>
  </fieldset>
  <fieldset><legend>Email</legend>
    <label>Email <input id="email" type="email" value="{user}@example.com"></label>
    <button id="email-enroll" type="button">Add this email</button>
    <button id="email-challenge" type="button">Email me a code</button>
    <label>Code <input id="email-code" inputmode="numeric"></label>
    <button id="email-verify" type="button">Verify</button>
  </fieldset>
  <fieldset><legend>SMS</legend>
    <label>Phone <input id="phone" type="tel" value="+64270000000"></label>
    <button id="sms-enroll" type="button">Add this phone</button>
    <button id="sms-challenge" type="button">Text me a code</button>
    <label>Code <input id="sms-code" inputmode="numeric"></label>
    <button id="sms-verify" type="button">Verify</button>
  </fieldset>
  <fieldset><legend>Passkey</legend>
    <button id="passkey-signup" type="button">Create a passkey</button>
    <button id="passkey-signin" type="button">Use my passkey</button>
  </fieldset>
  <p id="verified" hidden>Verified with <span id="verified-with"></span>.
    <button id="submit" type="button">Send the transfer</button></p>
  <p><button id="launch" type="button">Use Authsignal's page instead</button>
    <button id="launch-popup" type="button">In a popup</button>
    <button id="launch-window" type="button">In a window</button></p>
</section>
<p id="status" role="status"></p>
<p id="error" role="alert"></p>
<p id="confirmation" hidden></p>
<h2>Your transfers</h2>
<ul id="transfers"></ul>
<details><summary>What the SDK answered</summary><ol id="log"></ol></details>
<p class="hint">On the emulator, <a href="/demo/codes">/demo/codes</a> shows your current codes.</p>
<script src="/sdk/authsignal.js"></script>
<script type="application/json" id="config">{config}</script>
<script>{script}</script>"#;

/// The page's script: the transfer, the SDK calls, and the way back from the pre-built UI.
const SCRIPT: &str = r#"
"use strict";
const $ = (id) => document.getElementById(id);
const config = JSON.parse($("config").textContent);
// The challenged transfer's body, kept across the pre-built UI's round trip.
const PENDING = "custom-ui-pending-transfer";
let pending = null; // {body, url}: the transfer the gate challenged
let proof = null; // the token of the last verification
let challengeToken = null; // the gate's token for the pending transfer

const status = (text) => { $("status").textContent = text; $("error").textContent = ""; };
const fail = (text) => { $("error").textContent = text; };
function log(call, result) {
  const item = document.createElement("li");
  item.textContent = call + " -> " + JSON.stringify(result, (k, v) => (k === "token" ? "[token]" : v));
  $("log").append(item);
}

async function postTransfer(body, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers["X-Authsignal-Token"] = token;
  const answer = await fetch("/transfer", { method: "POST", headers, body });
  return { status: answer.status, body: await answer.json().catch(() => ({})) };
}

async function refresh() {
  const answer = await fetch("/transfers");
  if (!answer.ok) return;
  $("transfers").replaceChildren(...(await answer.json()).map((t) => {
    const item = document.createElement("li");
    item.className = "transfer";
    item.textContent = t.amount + " to " + t.payee + (t.steppedUp ? " (verified with " + t.verificationMethod + ")" : "");
    return item;
  }));
}

function done(answer) {
  if (answer.status !== 201) {
    fail("The transfer was refused: " + answer.status + " " + (answer.body.code || "") + " " + (answer.body.detail || ""));
    return;
  }
  pending = null;
  proof = null;
  $("challenge").hidden = true;
  $("confirmation").hidden = false;
  $("confirmation").textContent = "Sent " + answer.body.amount + " to " + answer.body.payee + " (transfer " + answer.body.id + ").";
  status("");
  refresh();
}

refresh();
if (typeof authsignal === "undefined") {
  $("sdk-missing").hidden = false;
  $("send").disabled = true;
} else {
  const sdk = new authsignal.Authsignal({ tenantId: config.tenantId, baseUrl: config.baseUrl });

  // An SDK call's data, or null after showing its error.
  async function call(name, promise) {
    let result;
    try {
      result = await promise;
    } catch (error) {
      log(name, { exception: String(error) });
      fail(name + " failed: " + error);
      return null;
    }
    log(name, result);
    if (result.error) {
      fail(name + ": " + result.errorCode + ": " + (result.errorDescription || result.error));
      return null;
    }
    return result.data;
  }

  function verified(data, method) {
    if (!data) return;
    if (!data.isVerified) {
      fail("Not verified: " + data.failureReason);
      return;
    }
    proof = data.token;
    $("verified-with").textContent = method;
    $("verified").hidden = false;
    status("Verified with " + method + (data.userAuthenticator ? ", now enrolled" : "") +
      ". Add another method, or send the transfer.");
  }

  $("transfer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = JSON.stringify({ amount: Number($("amount").value), payee: $("payee").value });
    const answer = await postTransfer(body);
    if (answer.status === 401 && answer.body.token) {
      pending = { body, url: answer.body.url };
      proof = null;
      challengeToken = answer.body.token;
      sdk.setToken(answer.body.token);
      $("confirmation").hidden = true;
      $("verified").hidden = true;
      $("challenge").hidden = false;
      status("This transfer needs a step-up: verify with one of your methods.");
    } else {
      done(answer);
    }
  });

  $("totp-enroll").onclick = async () => {
    const data = await call("totp.enroll()", sdk.totp.enroll());
    if (!data) return;
    $("totp-secret").textContent = data.secret;
    $("totp-uri").textContent = data.uri;
    $("totp-setup").hidden = false;
    status("Add the key to your authenticator app, then type its code.");
  };
  $("totp-verify").onclick = async () =>
    verified(await call("totp.verify()", sdk.totp.verify({ code: $("totp-code").value.trim() })), "the authenticator app");
  // Email and SMS: the same three calls, on `sdk.email` and `sdk.sms`.
  for (const [channel, input, param, method, where] of [
    ["email", "email", "email", "email", "your email"],
    ["sms", "phone", "phoneNumber", "SMS", "your phone"],
  ]) {
    const api = sdk[channel];
    $(channel + "-enroll").onclick = async () => {
      const to = $(input).value.trim();
      if (await call(channel + ".enroll()", api.enroll({ [param]: to }))) status("A code was sent to " + to + ".");
    };
    $(channel + "-challenge").onclick = async () => {
      if (await call(channel + ".challenge()", api.challenge())) status("A code was sent to " + where + ".");
    };
    $(channel + "-verify").onclick = async () =>
      verified(await call(channel + ".verify()", api.verify({ code: $(channel + "-code").value.trim() })), method);
  }
  // Passkeys: a sign-up answers the new passkey and a token, a sign-in `isVerified`.
  $("passkey-signup").onclick = async () => {
    const data = await call("passkey.signUp()", sdk.passkey.signUp({ token: challengeToken, username: $("user").textContent }));
    verified(data && { ...data, isVerified: Boolean(data.token) }, "a passkey");
  };
  $("passkey-signin").onclick = async () =>
    verified(await call("passkey.signIn()", sdk.passkey.signIn({ token: challengeToken })), "a passkey");
  $("submit").onclick = async () => done(await postTransfer(pending.body, proof));
  $("launch").onclick = () => {
    sessionStorage.setItem(PENDING, pending.body);
    sdk.launch(pending.url, { mode: "redirect" });
  };

  // Popup and window modes: the pre-built UI posts its token to this page, and `launch`
  // resolves with it (with none if the person closed it).
  for (const mode of ["popup", "window"]) {
    $("launch-" + mode).onclick = async () => {
      const { token } = await sdk.launch(pending.url, { mode });
      log("launch(" + mode + ")", { token });
      if (token) {
        status("Verified on Authsignal's page: sending the transfer.");
        done(await postTransfer(pending.body, token));
      } else {
        fail("Authsignal's page closed before you were verified.");
      }
    };
  }

  // Back from the pre-built UI: `?token=` here, the transfer in sessionStorage.
  const here = new URL(location.href);
  const returned = here.searchParams.get("token");
  if (returned) {
    here.searchParams.delete("token");
    history.replaceState(null, "", here.pathname + here.search);
    const body = sessionStorage.getItem(PENDING);
    sessionStorage.removeItem(PENDING);
    if (body) {
      status("Back from Authsignal's page: sending the transfer.");
      postTransfer(body, returned).then(done);
    }
  }
}
"#;
