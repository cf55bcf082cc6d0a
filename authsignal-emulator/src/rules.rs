//! Actions' outcomes and rules: what `track` decides.
//!
//! Each action code has an [`ActionConfig`]: a default [`Outcome`] and an ordered list of
//! [`Rule`]s. The first rule whose conditions all hold decides; if none does, the default
//! does. Everything deserializes from JSON (the program's `--config` file):
//!
//! ```json
//! {
//!   "defaultOutcome": "ALLOW",
//!   "promptEnrollment": true,
//!   "rules": [
//!     {"id": "big-amount", "outcome": "CHALLENGE_REQUIRED",
//!      "when": [{"customAbove": {"field": "amount", "value": 1000}}]},
//!     {"id": "blocked-ip", "outcome": "BLOCK", "when": [{"ipAddressIn": ["203.0.113.9"]}]}
//!   ]
//! }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use authsignal::types::{CustomData, UserActionState};

/// What an action's rule or default decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum Outcome {
    /// `ALLOW`: go ahead.
    #[default]
    Allow,
    /// `BLOCK`: refuse.
    Block,
    /// `CHALLENGE_REQUIRED`: the user must complete a challenge (enrolled users only,
    /// unless the action prompts enrollment).
    #[serde(alias = "CHALLENGE")]
    ChallengeRequired,
    /// `REVIEW_REQUIRED`: hold for a manual review.
    #[serde(alias = "REVIEW")]
    ReviewRequired,
}

impl Outcome {
    /// The action state this outcome gives.
    pub fn state(self) -> UserActionState {
        match self {
            Outcome::Allow => UserActionState::Allow,
            Outcome::Block => UserActionState::Block,
            Outcome::ChallengeRequired => UserActionState::ChallengeRequired,
            Outcome::ReviewRequired => UserActionState::ReviewRequired,
        }
    }
}

/// How `track` treats one action code.
///
/// ```
/// use authsignal_emulator::{ActionConfig, Condition, Outcome, Rule};
///
/// let withdraw = ActionConfig::allow().rule(
///     Rule::new("large", Outcome::ChallengeRequired).when(Condition::custom_above("amount", 1000.0)),
/// );
/// let parsed: ActionConfig = serde_json::from_str(
///     r#"{"rules":[{"id":"large","outcome":"CHALLENGE_REQUIRED",
///                   "when":[{"customAbove":{"field":"amount","value":1000}}]}]}"#,
/// ).unwrap();
/// assert_eq!(parsed, withdraw);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ActionConfig {
    /// The outcome when no rule matches. Authsignal's default for a new action is `ALLOW`.
    #[serde(default)]
    pub default_outcome: Outcome,
    /// The rules, tried in order; the first whose conditions all hold decides.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Whether a user with no authenticator is challenged anyway, and enrolls an
    /// authenticator app in the pre-built UI. When `false` (Authsignal's default), an
    /// unenrolled user whose outcome would be a challenge is allowed (`ALLOW`,
    /// `isEnrolled: false`).
    #[serde(default)]
    pub prompt_enrollment: bool,
    /// Where `action.verify` goes when a challenge of this action is about to succeed
    /// (Authsignal's `verificationWebhookUrl`): the action succeeds only if the URL
    /// answers 2xx in time. None by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_webhook_url: Option<String>,
}

impl ActionConfig {
    /// An action whose default outcome is `outcome`, with no rules.
    pub fn new(outcome: Outcome) -> Self {
        Self {
            default_outcome: outcome,
            ..Self::default()
        }
    }

    /// `ALLOW` by default.
    pub fn allow() -> Self {
        Self::new(Outcome::Allow)
    }

    /// `CHALLENGE_REQUIRED` by default.
    pub fn challenge() -> Self {
        Self::new(Outcome::ChallengeRequired)
    }

    /// `BLOCK` by default.
    pub fn block() -> Self {
        Self::new(Outcome::Block)
    }

    /// `REVIEW_REQUIRED` by default.
    pub fn review() -> Self {
        Self::new(Outcome::ReviewRequired)
    }

    /// Adds a rule after the existing ones.
    #[must_use]
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Challenges unenrolled users too, who then enroll in the pre-built UI.
    #[must_use]
    pub fn prompt_enrollment(mut self, prompt: bool) -> Self {
        self.prompt_enrollment = prompt;
        self
    }

    /// Sends `action.verify` to `url` before a challenge of this action succeeds.
    ///
    /// ```
    /// use authsignal_emulator::ActionConfig;
    ///
    /// let withdraw = ActionConfig::challenge().verification_webhook("http://127.0.0.1:3000/verify");
    /// let parsed: ActionConfig = serde_json::from_str(
    ///     r#"{"defaultOutcome": "CHALLENGE_REQUIRED",
    ///         "verificationWebhookUrl": "http://127.0.0.1:3000/verify"}"#,
    /// ).unwrap();
    /// assert_eq!(parsed, withdraw);
    /// ```
    #[must_use]
    pub fn verification_webhook(mut self, url: impl Into<String>) -> Self {
        self.verification_webhook_url = Some(url.into());
        self
    }

    /// The outcome for `input` and the rule that decided it, if any.
    pub(crate) fn decide(&self, input: &RuleInput<'_>) -> (Outcome, Option<&Rule>) {
        match self.rules.iter().find(|rule| rule.matches(input)) {
            Some(rule) => (rule.outcome, Some(rule)),
            None => (self.default_outcome, None),
        }
    }
}

/// A rule: when every condition holds, the outcome applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Rule {
    /// Its id, reported in `ruleIds`.
    pub id: String,
    /// Its name, reported by `getAction` (the id when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its description, reported by `getAction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What it decides.
    pub outcome: Outcome,
    /// Its conditions, all of which must hold. None: it always matches.
    #[serde(default)]
    pub when: Vec<Condition>,
}

impl Rule {
    /// A rule with no conditions (it always matches until [`when`](Self::when) adds some).
    pub fn new(id: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            id: id.into(),
            name: None,
            description: None,
            outcome,
            when: Vec::new(),
        }
    }

    /// Adds a condition.
    #[must_use]
    pub fn when(mut self, condition: Condition) -> Self {
        self.when.push(condition);
        self
    }

    /// Names the rule.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Describes the rule.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    fn matches(&self, input: &RuleInput<'_>) -> bool {
        self.when.iter().all(|condition| condition.holds(input))
    }
}

/// One test a rule makes on a tracked action.
///
/// `field` names a key of the action's `custom` object; a dotted path (`payee.country`)
/// reaches into nested objects.
///
/// Types are compared strictly: a number condition holds only for a JSON number, never
/// for text, not even text such as `"5000"` or `" 5000"` that reads as one. Authsignal's
/// custom data points are typed (a Number data point is to be sent as a number), and what
/// its rules make of text sent for one is not documented, so the emulator takes the
/// reading that cannot hide an app that sends an amount as text (see the
/// [fidelity table](super#where-each-behaviour-comes-from)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Condition {
    /// A custom number is greater than `value` (text never is).
    CustomAbove {
        /// The custom field.
        field: String,
        /// The threshold.
        value: f64,
    },
    /// A custom number is less than `value` (text never is).
    CustomBelow {
        /// The custom field.
        field: String,
        /// The threshold.
        value: f64,
    },
    /// A custom field equals `value` (numbers compare by value: `1000` equals `1000.0`;
    /// the text `"1000"` equals no number).
    CustomEquals {
        /// The custom field.
        field: String,
        /// The value it must have.
        value: Value,
    },
    /// The action's `ipAddress` is one of these.
    IpAddressIn(Vec<String>),
    /// The action's `ipAddress` is absent or none of these.
    IpAddressNotIn(Vec<String>),
    /// The action's `deviceId` is one of these.
    DeviceIdIn(Vec<String>),
    /// The action's `deviceId` is absent or none of these.
    DeviceIdNotIn(Vec<String>),
    /// The user is (`true`) or is not (`false`) enrolled.
    IsEnrolled(bool),
}

impl Condition {
    /// `custom.<field> > value`.
    pub fn custom_above(field: impl Into<String>, value: f64) -> Self {
        Self::CustomAbove {
            field: field.into(),
            value,
        }
    }

    /// `custom.<field> < value`.
    pub fn custom_below(field: impl Into<String>, value: f64) -> Self {
        Self::CustomBelow {
            field: field.into(),
            value,
        }
    }

    /// `custom.<field> == value`.
    pub fn custom_equals(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::CustomEquals {
            field: field.into(),
            value: value.into(),
        }
    }

    /// `ipAddress` is in `addresses`.
    pub fn ip_address_in<S: Into<String>>(addresses: impl IntoIterator<Item = S>) -> Self {
        Self::IpAddressIn(addresses.into_iter().map(Into::into).collect())
    }

    /// `deviceId` is in `devices`.
    pub fn device_id_in<S: Into<String>>(devices: impl IntoIterator<Item = S>) -> Self {
        Self::DeviceIdIn(devices.into_iter().map(Into::into).collect())
    }

    fn holds(&self, input: &RuleInput<'_>) -> bool {
        let listed = |value: Option<&str>, list: &[String]| {
            value.is_some_and(|value| list.iter().any(|item| item == value))
        };
        match self {
            Condition::CustomAbove { field, value } => {
                input.number(field).is_some_and(|number| number > *value)
            }
            Condition::CustomBelow { field, value } => {
                input.number(field).is_some_and(|number| number < *value)
            }
            Condition::CustomEquals { field, value } => input
                .custom(field)
                .is_some_and(|found| same_value(found, value)),
            Condition::IpAddressIn(list) => listed(input.ip_address, list),
            Condition::IpAddressNotIn(list) => !listed(input.ip_address, list),
            Condition::DeviceIdIn(list) => listed(input.device_id, list),
            Condition::DeviceIdNotIn(list) => !listed(input.device_id, list),
            Condition::IsEnrolled(enrolled) => input.is_enrolled == *enrolled,
        }
    }
}

fn same_value(found: &Value, expected: &Value) -> bool {
    match (found.as_f64(), expected.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => found == expected,
    }
}

/// What the rules can look at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleInput<'a> {
    pub(crate) custom: Option<&'a CustomData>,
    pub(crate) ip_address: Option<&'a str>,
    pub(crate) device_id: Option<&'a str>,
    pub(crate) is_enrolled: bool,
}

impl RuleInput<'_> {
    fn custom(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let mut value = self.custom?.get(parts.next()?)?;
        for part in parts {
            value = value.get(part)?;
        }
        Some(value)
    }

    /// The field as a number, if it was sent as one: text is not a number here, however
    /// it reads (see [`Condition`]).
    fn number(&self, path: &str) -> Option<f64> {
        self.custom(path)?.as_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(custom: &CustomData) -> RuleInput<'_> {
        RuleInput {
            custom: Some(custom),
            ip_address: Some("1.2.3.4"),
            device_id: None,
            is_enrolled: true,
        }
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let config = ActionConfig::allow()
            .rule(
                Rule::new("block-nz", Outcome::Block)
                    .when(Condition::custom_equals("country", "NZ")),
            )
            .rule(
                Rule::new("big", Outcome::ChallengeRequired)
                    .when(Condition::custom_above("amount", 1000.0)),
            );
        let custom = json!({"amount": 5000, "country": "NZ"})
            .as_object()
            .unwrap()
            .clone();
        let (outcome, rule) = config.decide(&input(&custom));
        assert_eq!(
            (outcome, rule.map(|r| r.id.as_str())),
            (Outcome::Block, Some("block-nz"))
        );
        let custom = json!({"amount": 1000.5}).as_object().unwrap().clone();
        assert_eq!(config.decide(&input(&custom)).0, Outcome::ChallengeRequired);
        let custom = json!({"amount": 10}).as_object().unwrap().clone();
        assert_eq!(config.decide(&input(&custom)), (Outcome::Allow, None));
    }

    #[test]
    fn conditions_read_nested_fields_lists_and_enrollment() {
        let custom = json!({"payee": {"country": "AU"}, "n": 1000})
            .as_object()
            .unwrap()
            .clone();
        let at = input(&custom);
        assert!(Condition::custom_equals("payee.country", "AU").holds(&at));
        assert!(Condition::custom_equals("n", 1000.0).holds(&at));
        assert!(!Condition::custom_above("missing", 0.0).holds(&at));
        assert!(Condition::ip_address_in(["1.2.3.4"]).holds(&at));
        assert!(Condition::IpAddressNotIn(vec!["9.9.9.9".into()]).holds(&at));
        assert!(!Condition::device_id_in(["d1"]).holds(&at));
        assert!(Condition::DeviceIdNotIn(vec!["d1".into()]).holds(&at));
        assert!(Condition::IsEnrolled(true).holds(&at));
    }

    #[test]
    fn text_never_satisfies_a_number_condition() {
        for text in ["5000", " 5000", "5000 ", "\t5000", "5000\n", "+5000", "5e3"] {
            let custom = json!({"amount": text, "n": "1000"})
                .as_object()
                .unwrap()
                .clone();
            let at = input(&custom);
            assert!(
                !Condition::custom_above("amount", 1000.0).holds(&at),
                "{text:?}"
            );
            assert!(
                !Condition::custom_below("amount", 10_000.0).holds(&at),
                "{text:?}"
            );
            assert!(!Condition::custom_equals("n", 1000).holds(&at));
        }
    }

    #[test]
    fn configs_refuse_unknown_fields_and_outcomes() {
        assert!(serde_json::from_str::<ActionConfig>(r#"{"defaultOutcome":"MAYBE"}"#).is_err());
        assert!(serde_json::from_str::<ActionConfig>(r#"{"rulez":[]}"#).is_err());
        let config: ActionConfig =
            serde_json::from_str(r#"{"defaultOutcome":"CHALLENGE","promptEnrollment":true}"#)
                .unwrap();
        assert_eq!(config, ActionConfig::challenge().prompt_enrollment(true));
    }
}
