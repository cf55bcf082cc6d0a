//! [`EmulatorHandle`]: a running emulator's address, client, and test controls.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::calls::RecordedCall;
use super::faults::Fault;
use super::outbox::OutboxMessage;
use super::rules::ActionConfig;
use super::state::{PendingPush, Shared};
use super::totp::TotpEnrollment;
use super::ui::person::PrebuiltUiError;
use authsignal::types::UserActionState;
use authsignal::{Authsignal, AuthsignalBuilder};

/// A running emulator. Clones control the same one.
///
/// The server runs until [`shutdown`](Self::shutdown) or until its runtime stops;
/// dropping the handles does not stop it.
#[derive(Clone)]
pub struct EmulatorHandle {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("origin", &self.origin())
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    pub(crate) fn new(
        shared: Arc<Shared>,
        addr: SocketAddr,
        stop: watch::Sender<bool>,
        task: JoinHandle<()>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                addr,
                stop,
                task: Mutex::new(Some(task)),
            }),
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    // ---- where it is -------------------------------------------------------------------

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT`: where the pre-built UI is.
    pub fn origin(&self) -> &str {
        &self.shared().origin
    }

    /// `http://127.0.0.1:PORT/v1`: the base URL of the Server API.
    pub fn api_url(&self) -> String {
        format!("{}/v1", self.origin())
    }

    /// The tenant secret. Webhook events are signed with it, as Authsignal signs them with
    /// the tenant's secret key.
    pub fn secret(&self) -> &str {
        &self.shared().secret
    }

    /// The tenant's id (a fresh UUID per emulator), as webhook events carry it.
    pub fn tenant_id(&self) -> &str {
        &self.shared().tenant_id
    }

    /// `http://127.0.0.1:PORT/v1/client/public/<tenant id>/.well-known/jwks`: the JWKS
    /// with the public key that session access tokens are verified with (RS256, looked up
    /// by the `kid` in the token's header). See [the crate docs](crate#sessions-and-the-jwks).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let emulator = authsignal_emulator::Emulator::start().await?;
    /// let jwks: serde_json::Value = reqwest::get(emulator.jwks_url()).await?.json().await?;
    /// assert_eq!(jwks["keys"][0]["kty"], "RSA");
    /// emulator.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn jwks_url(&self) -> String {
        format!(
            "{}/client/public/{}/.well-known/jwks",
            self.api_url(),
            self.tenant_id()
        )
    }

    /// A client builder pointed at this emulator, with its secret.
    pub fn client_builder(&self) -> AuthsignalBuilder {
        Authsignal::builder()
            .secret_key(self.secret())
            .base_url(self.api_url())
    }

    /// A client of this emulator with the default settings.
    pub fn client(&self) -> Authsignal {
        self.client_builder()
            .build()
            .expect("the emulator's secret and URL were checked when it started")
    }

    // ---- the clock ---------------------------------------------------------------------

    /// The emulator's present.
    pub fn now(&self) -> SystemTime {
        self.shared().clock.now().to_system()
    }

    /// Pins the emulator's clock at `time`: it stands still there until set or advanced.
    pub fn set_time(&self, time: SystemTime) {
        self.shared().clock.set(time);
    }

    /// Moves the emulator's clock forward (token expiry, TOTP windows, code expiry).
    pub fn advance(&self, by: Duration) {
        self.shared().clock.advance(by);
    }

    // ---- the tenant --------------------------------------------------------------------

    /// Sets how `track` treats the action `code` from now on.
    pub fn set_action(&self, code: impl Into<String>, config: ActionConfig) {
        self.shared()
            .store()
            .config
            .actions
            .insert(code.into(), config);
    }

    /// Enrolls an authenticator app for `user_id` (created if need be), verified, replacing
    /// any app they had.
    pub fn enroll_totp(&self, user_id: &str) -> TotpEnrollment {
        let now = self.shared().clock.now();
        self.shared().store().enroll_totp_directly(user_id, now)
    }

    /// Does what a person does on the pre-built UI at `url` (a track `url` of this
    /// emulator): opens the page and types the code it asks for, the current code of the
    /// user's authenticator app, or the code it sends by SMS or email (read from the
    /// outbox). Returns where the UI sends the browser back to, the track's `redirectUrl`
    /// with `token=` (or the settings page, for a track with `redirectToSettings`), for a
    /// test of an app to follow.
    pub async fn complete_prebuilt_ui(&self, url: &str) -> Result<String, PrebuiltUiError> {
        super::ui::person::complete(self.shared(), url).await
    }

    /// The code `user_id`'s authenticator app shows now (by the emulator's clock): of their
    /// enrolled app, else of the enrollment in progress. A code stays good for its
    /// 30-second step and one step either side.
    pub fn totp_code(&self, user_id: &str) -> Option<String> {
        let now = self.shared().clock.now();
        self.shared().store().totp_code(user_id, now)
    }

    /// The state of a tracked action, without an API call.
    pub fn action_state(
        &self,
        user_id: &str,
        action: &str,
        idempotency_key: &str,
    ) -> Option<UserActionState> {
        self.shared()
            .store()
            .action(user_id, action, idempotency_key)
            .map(|action| action.state.clone())
    }

    // ---- the outbox --------------------------------------------------------------------

    /// Every one-time code sent so far, oldest first. Programs in other languages read the
    /// same over HTTP: `GET /v1/emulator/outbox` (see the [module docs](super)).
    pub fn outbox(&self) -> Vec<OutboxMessage> {
        self.shared().store().outbox.clone()
    }

    /// The newest code sent to `to` (a phone number or email address); magic links are
    /// not codes (see [`last_link_sent_to`](Self::last_link_sent_to)).
    pub fn last_code_sent_to(&self, to: &str) -> Option<String> {
        self.shared()
            .store()
            .outbox
            .iter()
            .rev()
            .find(|message| message.to == to && message.link.is_none())
            .map(|message| message.code.clone())
    }

    /// The newest email magic link sent to `to`: open it (`GET`) as the user's browser
    /// would, to follow it.
    ///
    /// ```
    /// use authsignal_emulator::{ActionConfig, Emulator};
    /// use authsignal::types::TrackAttributes;
    /// use serde_json::{Value, json};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let emulator = Emulator::builder()
    ///         .action("signIn", ActionConfig::challenge().prompt_enrollment(true))
    ///         .start()
    ///         .await?;
    ///     let tracked = emulator
    ///         .client()
    ///         .track("user-1", "signIn", TrackAttributes::default())
    ///         .await?;
    ///     let token = tracked.token.expect("a token").into_string();
    ///     // The Web SDK's `emailML.enroll({email})`, then its polling of `finalize`.
    ///     let http = reqwest::Client::new();
    ///     let client = |path: &str, body: Value| {
    ///         http.post(format!("{}/client/{path}", emulator.api_url()))
    ///             .bearer_auth(&token)
    ///             .json(&body)
    ///             .send()
    ///     };
    ///     client("user-authenticators/email-magic-link", json!({"email": "jane@example.com"})).await?;
    ///     let link = emulator.last_link_sent_to("jane@example.com").expect("a link");
    ///     assert_eq!(reqwest::get(&link).await?.status(), 200);
    ///     let finalized: Value =
    ///         client("verify/email-magic-link/finalize", json!({})).await?.json().await?;
    ///     assert_eq!(finalized["isVerified"], true);
    ///     emulator.shutdown().await;
    ///     Ok(())
    /// }
    /// ```
    pub fn last_link_sent_to(&self, to: &str) -> Option<String> {
        self.shared()
            .store()
            .outbox
            .iter()
            .rev()
            .filter(|message| message.to == to)
            .find_map(|message| message.link.clone())
    }

    // ---- the user's phone --------------------------------------------------------------

    /// Enrolls a push authenticator for `user_id` (created if need be), verified, as the
    /// mobile SDK does on a phone; answers its `userAuthenticatorId` (the existing one's,
    /// if they have one). Over HTTP: `POST /v1/emulator/push-authenticators`.
    pub fn enroll_push(&self, user_id: &str) -> String {
        let now = self.shared().clock.now();
        self.shared().store().enroll_push(user_id, now)
    }

    /// The pushes waiting on users' phones, oldest first. Over HTTP:
    /// `GET /v1/emulator/push`.
    pub fn pending_pushes(&self) -> Vec<PendingPush> {
        let now = self.shared().clock.now();
        self.shared().store().pending_pushes(now)
    }

    /// Approves (or denies) the push `challenge_id` on the user's phone; false when no
    /// such push waits. A denial fails the action. Over HTTP:
    /// `POST /v1/emulator/push/{challengeId}` with `{"approve": true}`.
    ///
    /// ```
    /// use authsignal_emulator::{ActionConfig, Emulator};
    /// use authsignal::types::TrackAttributes;
    /// use serde_json::{Value, json};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let emulator = Emulator::builder()
    ///         .action("withdraw", ActionConfig::challenge())
    ///         .start()
    ///         .await?;
    ///     emulator.enroll_push("user-1");
    ///     let tracked = emulator
    ///         .client()
    ///         .track("user-1", "withdraw", TrackAttributes::default())
    ///         .await?;
    ///     let token = tracked.token.expect("a token").into_string();
    ///     // The Web SDK's `push.challenge({action})` and `push.verify({challengeId})`.
    ///     let http = reqwest::Client::new();
    ///     let client = |path: &str, body: Value| {
    ///         http.post(format!("{}/client/{path}", emulator.api_url()))
    ///             .bearer_auth(&token)
    ///             .json(&body)
    ///             .send()
    ///     };
    ///     let sent: Value = client("challenge/push", json!({"action": "withdraw"})).await?.json().await?;
    ///     let challenge_id = sent["challengeId"].as_str().unwrap_or_default();
    ///     assert_eq!(emulator.pending_pushes()[0].challenge_id, challenge_id);
    ///
    ///     assert!(emulator.answer_push(challenge_id, true));
    ///     let verified: Value =
    ///         client("verify/push", json!({"challengeId": challenge_id})).await?.json().await?;
    ///     assert_eq!(verified["isVerified"], true);
    ///     emulator.shutdown().await;
    ///     Ok(())
    /// }
    /// ```
    pub fn answer_push(&self, challenge_id: &str, approve: bool) -> bool {
        let now = self.shared().clock.now();
        self.shared()
            .store()
            .answer_push(challenge_id, approve, now)
    }

    // ---- faults and calls --------------------------------------------------------------

    /// Arms `fault` for `operation` (`"track"`, `"validateChallenge"`, ... or
    /// [`ANY_OPERATION`](super::ANY_OPERATION)). Faults of one operation apply in the order
    /// they were armed.
    pub fn inject_fault(&self, operation: &str, fault: Fault) {
        self.shared().arm_fault(operation, fault);
    }

    /// Clears the faults of `operation`.
    pub fn clear_faults_for(&self, operation: &str) {
        self.shared().clear_faults(Some(operation));
    }

    /// Clears every fault.
    pub fn clear_faults(&self) {
        self.shared().clear_faults(None);
    }

    /// Delays every request of `operation` (or [`ANY_OPERATION`](super::ANY_OPERATION)) by
    /// `delay` (real time) until changed; zero removes it. Unlike a latency fault it does
    /// not count down, and faults of the operation still apply after the delay.
    pub fn set_latency(&self, operation: &str, delay: Duration) {
        self.shared().set_latency(operation, delay);
    }

    /// Removes every latency.
    pub fn clear_latency(&self) {
        self.shared().clear_latency();
    }

    /// Waits until every webhook event queued so far is delivered, or given up after its
    /// last retry. Returns at once when none is pending (or none is configured).
    pub async fn webhooks_idle(&self) {
        self.shared().webhooks.idle().await;
    }

    /// Every request received so far, and every webhook delivery attempt, oldest first.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared().calls()
    }

    /// How many requests of `operation` were received.
    pub fn call_count(&self, operation: &str) -> usize {
        self.shared()
            .calls()
            .iter()
            .filter(|call| call.operation == operation)
            .count()
    }

    /// Forgets the requests received so far.
    pub fn clear_calls(&self) {
        self.shared().clear_calls();
    }

    /// How many TCP connections the emulator has accepted since it started: with
    /// [`connections_open`](Self::connections_open), whether a client under load reuses
    /// its connections (the count stays near its peak of concurrent calls) or opens one
    /// per call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use authsignal::types::TrackAttributes;
    ///
    /// let emulator = authsignal_emulator::Emulator::start().await.unwrap();
    /// let client = emulator.client();
    /// for _ in 0..3 {
    ///     client.track("user-1", "signIn", TrackAttributes::default()).await.unwrap();
    /// }
    /// // Calls one after another share one pooled connection.
    /// assert_eq!(emulator.connections_accepted(), 1);
    /// # }
    /// ```
    pub fn connections_accepted(&self) -> u64 {
        self.shared().connections.accepted_count()
    }

    /// How many TCP connections are open now (accepted and not yet closed by either side).
    pub fn connections_open(&self) -> u64 {
        self.shared().connections.open_count()
    }

    // ---- stopping ----------------------------------------------------------------------

    /// Stops accepting connections, lets open ones finish their request, and waits for
    /// the accept loop to end. Later calls return at once.
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
