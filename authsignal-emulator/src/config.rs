//! [`EmulatorConfig`]: the tenant's actions and webhooks, and the faults and latency to
//! start with, as the program's `--config` file gives them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::faults::FaultSpec;
use super::rules::ActionConfig;
use super::webauthn::RelyingPartySettings;
use super::webhooks::WebhookSettings;

/// The actions of the emulated tenant, where its webhooks go, and the faults and latency
/// it starts with.
///
/// ```
/// use authsignal_emulator::EmulatorConfig;
///
/// let config = EmulatorConfig::from_json(r#"{
///     "faults": [{"operation": "track", "fault": "503", "times": 2}],
///     "latencyMillis": {"validateChallenge": 300, "*": 20}
/// }"#).unwrap();
/// assert_eq!(config.faults[0].fault, "503");
/// assert_eq!(config.latency_millis["*"], 20);
/// ```
///
/// ```
/// use authsignal_emulator::{EmulatorConfig, Outcome};
///
/// let config = EmulatorConfig::from_json(r#"{
///     "actions": {
///         "withdraw": {"defaultOutcome": "CHALLENGE_REQUIRED"},
///         "signIn": {"defaultOutcome": "CHALLENGE_REQUIRED", "promptEnrollment": true}
///     },
///     "defaultAction": {"defaultOutcome": "ALLOW"}
/// }"#).unwrap();
/// assert_eq!(config.action("withdraw").default_outcome, Outcome::ChallengeRequired);
/// assert_eq!(config.action("anything-else").default_outcome, Outcome::Allow);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct EmulatorConfig {
    /// Each configured action code and how `track` treats it.
    #[serde(default)]
    pub actions: BTreeMap<String, ActionConfig>,
    /// How `track` treats an action code that is not configured (Authsignal creates such
    /// actions on first use, with outcome `ALLOW`).
    #[serde(default)]
    pub default_action: ActionConfig,
    /// Where webhook events go (none by default), and how deliveries are retried.
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// Faults armed at start, in order (see [`FaultSpec`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSpec>,
    /// Latency per operation (or `"*"`), in milliseconds, from the start.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_millis: BTreeMap<String, u64>,
    /// The WebAuthn relying party of passkeys and security keys (by default a development
    /// one: RP ID `localhost`, any `http://localhost:<port>` origin).
    #[serde(default)]
    pub relying_party: RelyingPartySettings,
}

impl EmulatorConfig {
    /// Reads a configuration from JSON text. Unknown fields are refused, so that a typo
    /// does not silently leave an action unprotected.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Reads a configuration from a JSON file.
    pub fn from_file(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        Self::from_json(&text)
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))
    }

    /// Sets how `track` treats `code`.
    #[must_use]
    pub fn with_action(mut self, code: impl Into<String>, config: ActionConfig) -> Self {
        self.actions.insert(code.into(), config);
        self
    }

    /// How `track` treats `code`: its own configuration, else the default action's.
    pub fn action(&self, code: &str) -> &ActionConfig {
        self.actions.get(code).unwrap_or(&self.default_action)
    }
}
