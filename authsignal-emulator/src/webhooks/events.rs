//! The `data` (and log `record`) of each event type, from the emulator's records, with the
//! field names Authsignal documents. Absent values are left out, as the API leaves them.

use serde_json::{Map, Value, json};

use super::super::clock::Timestamp;
use super::super::rules::Outcome;
use super::super::state::{
    ActionRecord, AuthenticatorRecord, CodeContext, OtpChallenge, PushChallenge,
};
use super::super::tokens::ActionRef;
use authsignal::types::{SmsChannel, VerificationMethod};

/// Inserts `value` under `key` when there is one.
fn put(object: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value.into());
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The fields every authenticator event has: who, which, and its contact or credential.
fn authenticator_fields(record: &AuthenticatorRecord) -> Map<String, Value> {
    let mut data = object(json!({
        "userId": record.user_id,
        "verificationMethod": record.method.as_str(),
        "userAuthenticatorId": record.id,
    }));
    put(&mut data, "email", record.email.clone());
    put(&mut data, "phoneNumber", record.phone_number.clone());
    if let Some(passkey) = &record.passkey {
        data.insert("credentialId".into(), passkey.credential_id.clone().into());
        put(&mut data, "aaguid", passkey.aaguid.clone());
        put(&mut data, "credentialName", passkey.name.clone());
    }
    data
}

/// `authenticator.created`.
pub(crate) fn authenticator_created(record: &AuthenticatorRecord) -> Value {
    let mut data = authenticator_fields(record);
    data.insert("createdAt".into(), record.created_at.rfc3339().into());
    Value::Object(data)
}

/// `authenticator.deleted`.
pub(crate) fn authenticator_deleted(record: &AuthenticatorRecord, now: Timestamp) -> Value {
    let mut data = authenticator_fields(record);
    data.insert("createdAt".into(), record.created_at.rfc3339().into());
    data.insert("deletedAt".into(), now.rfc3339().into());
    Value::Object(data)
}

/// `authenticator.updated`, for an SMS authenticator whose channel changed.
pub(crate) fn authenticator_channel_changed(
    record: &AuthenticatorRecord,
    previous: &SmsChannel,
    now: Timestamp,
) -> Value {
    let mut data = authenticator_fields(record);
    data.insert("updatedAt".into(), now.rfc3339().into());
    data.insert("previousSmsChannel".into(), previous.as_str().into());
    Value::Object(data)
}

/// `sms.created` or `email.created`: the code (or, for a magic link, its `url`) to
/// deliver yourself.
pub(crate) fn code_created(
    challenge: &OtpChallenge,
    link: Option<&str>,
    context: &CodeContext,
) -> Value {
    let mut data = Map::new();
    put(
        &mut data,
        "to",
        challenge
            .email
            .clone()
            .or_else(|| challenge.phone_number.clone()),
    );
    match link {
        Some(url) => data.insert("url".into(), url.into()),
        None => data.insert("code".into(), challenge.code.clone().into()),
    };
    put(&mut data, "userId", challenge.user_id.clone());
    data.insert(
        "idempotencyKey".into(),
        challenge.idempotency_key.clone().into(),
    );
    put(&mut data, "actionCode", challenge.action.clone());
    if challenge.email.is_some() {
        put(&mut data, "userAgent", context.user_agent.clone());
        put(&mut data, "ipAddress", context.ip_address.clone());
    }
    put(&mut data, "locale", context.locale.clone());
    Value::Object(data)
}

/// `push.created`: the push challenge for the app's own push provider to deliver.
pub(crate) fn push_created(push: &PushChallenge, ip_address: Option<String>) -> Value {
    let mut data = object(json!({
        "challengeId": push.id,
        "userId": push.target.user_id,
        "idempotencyKey": push.target.idempotency_key,
        "actionCode": push.target.action_code,
    }));
    put(&mut data, "ipAddress", ip_address);
    Value::Object(data)
}

/// `action.verify`: a challenge of the action is about to succeed.
pub(crate) fn action_verify(
    target: &ActionRef,
    method: &VerificationMethod,
    authenticator_id: Option<&str>,
    now: Timestamp,
) -> Value {
    let mut data = object(json!({
        "userId": target.user_id,
        "action": target.action_code,
        "idempotencyKey": target.idempotency_key,
        "verifiedAt": now.rfc3339(),
        "state": "CHALLENGE_SUCCEEDED",
        "verificationMethod": method.as_str(),
    }));
    put(
        &mut data,
        "userAuthenticatorId",
        authenticator_id.map(str::to_owned),
    );
    Value::Object(data)
}

/// What a `challenge.log_created` record says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogKind {
    Sent,
    Valid,
    Invalid,
    MaxAttempts,
}

impl LogKind {
    /// The documented type of the record, e.g. `SMS_CODE_VALID`, `EMAIL_OTP_SENT`; `None`
    /// for a method whose log types are not documented (a magic link).
    fn name(self, method: &VerificationMethod) -> Option<String> {
        let prefix = match method {
            VerificationMethod::EmailOtp => "EMAIL_OTP",
            VerificationMethod::Whatsapp => "WHATSAPP",
            VerificationMethod::Sms => "SMS",
            _ => return None,
        };
        // Email OTP's names drop the `CODE_` of the others', as documented.
        let email = *method == VerificationMethod::EmailOtp;
        let suffix = match (self, email) {
            (LogKind::Sent, _) => "SENT",
            (LogKind::Valid, _) => "CODE_VALID",
            (LogKind::Invalid, true) => "INVALID_OR_EXPIRED",
            (LogKind::Invalid, false) => "CODE_INVALID_OR_EXPIRED",
            (LogKind::MaxAttempts, _) => "MAX_ATTEMPTS_EXCEEDED",
        };
        Some(format!("{prefix}_{suffix}"))
    }
}

/// The `record` of a `challenge.log_created`; `None` for a challenge of no user and
/// action, which the documented record cannot describe, or of a method with no
/// documented log types.
pub(crate) fn challenge_log(
    tenant_id: &str,
    challenge: &OtpChallenge,
    kind: LogKind,
    now: Timestamp,
) -> Option<Value> {
    let user_id = challenge
        .claimed_by
        .clone()
        .or_else(|| challenge.user_id.clone())?;
    let action = challenge.action.clone()?;
    let kind = kind.name(&challenge.method)?;
    let mut record = object(json!({
        "tenantId": tenant_id,
        "userId": user_id,
        "actionCode": action,
        "idempotencyKey": challenge.idempotency_key,
        "createdAt": now.rfc3339(),
        "type": kind,
        "verificationMethod": challenge.method.as_str(),
    }));
    put(&mut record, "email", challenge.email.clone());
    put(&mut record, "phoneNumber", challenge.phone_number.clone());
    Some(Value::Object(record))
}

/// What the rules decided, in the log's words (`CHALLENGE`, not `CHALLENGE_REQUIRED`).
fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "ALLOW",
        Outcome::Block => "BLOCK",
        Outcome::ChallengeRequired => "CHALLENGE",
        Outcome::ReviewRequired => "REVIEW",
    }
}

/// The `record` of an `action.log_created`.
pub(crate) fn action_log(
    tenant_id: &str,
    action: &ActionRecord,
    enrolled: &[VerificationMethod],
) -> Value {
    let mut record = object(json!({
        "tenantId": tenant_id,
        "userId": action.user_id,
        "actionCode": action.code,
        "idempotencyKey": action.idempotency_key,
        "createdAt": action.created_at.rfc3339(),
        "updatedAt": action.updated_at.rfc3339(),
        "state": action.state.as_str(),
        "stateUpdatedAt": action.state_updated_at.rfc3339(),
        "outcome": outcome_word(action.outcome),
    }));
    put(
        &mut record,
        "verificationMethod",
        action
            .verification_method
            .as_ref()
            .map(|m| m.as_str().to_owned()),
    );
    if let Some(rule) = &action.rule {
        record.insert(
            "rules".into(),
            json!([{"ruleId": rule.id, "name": rule.name.clone().unwrap_or_else(|| rule.id.clone())}]),
        );
    }
    put(&mut record, "ipAddress", action.ip_address.clone());
    put(&mut record, "email", action.email.clone());
    put(&mut record, "phoneNumber", action.phone_number.clone());
    put(&mut record, "deviceId", action.device_id.clone());
    if !enrolled.is_empty() {
        record.insert(
            "enrolledVerificationMethods".into(),
            enrolled
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .into(),
        );
    }
    if let Some(custom) = action.custom.clone().filter(|custom| !custom.is_empty()) {
        record.insert("custom".into(), Value::Object(custom));
    }
    Value::Object(record)
}
