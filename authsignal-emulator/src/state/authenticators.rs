//! Authenticators: `getAuthenticators`, `enrollVerifiedAuthenticator`,
//! `batchEnrollVerifiedAuthenticators`, `deleteAuthenticator`, and authenticator apps
//! enrolled directly by a test.

use http::StatusCode;
use serde::Deserialize;

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::random;
use super::super::totp::{self, TotpEnrollment};
use super::{AuthenticatorRecord, PasskeyCredential, Store};
use authsignal::types::MAX_BATCH_ENROLL;
use authsignal::types::{
    BatchEnrollFailure, BatchEnrollVerifiedAuthenticatorsRequest,
    BatchEnrollVerifiedAuthenticatorsResponse, EnrollVerifiedAuthenticatorResponse,
    UserAuthenticator, VerificationMethod,
};

/// The body of `enrollVerifiedAuthenticator`, also in its legacy shape (`oobChannel`
/// instead of `verificationMethod`), which older SDKs still send.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnrollRequest {
    verification_method: Option<VerificationMethod>,
    oob_channel: Option<VerificationMethod>,
    phone_number: Option<String>,
    email: Option<String>,
    is_default: Option<bool>,
}

impl Store {
    pub(crate) fn authenticator_view(record: &AuthenticatorRecord) -> UserAuthenticator {
        wire!(UserAuthenticator {
            user_id: Some(record.user_id.clone()),
            user_authenticator_id: record.id.clone(),
            verification_method: Some(record.method.clone()),
            created_at: Some(record.created_at.rfc3339()),
            verified_at: record.verified_at.map(Timestamp::rfc3339),
            last_verified_at: record.last_verified_at.map(Timestamp::rfc3339),
            phone_number: record.phone_number.clone(),
            email: record.email.clone(),
            username: None,
            display_name: None,
            webauthn_credential: record.passkey.as_ref().map(|passkey| {
                let mut credential = serde_json::json!({
                    "credentialId": passkey.credential_id,
                    "name": passkey.name.as_deref().unwrap_or("Passkey"),
                });
                if let Some(aaguid) = &passkey.aaguid {
                    credential["aaguid"] = aaguid.as_str().into();
                }
                credential
            }),
        })
    }

    /// `getAuthenticators`: the verified ones (an unknown user has none).
    pub(crate) fn list_authenticators(&self, user_id: &str) -> Vec<UserAuthenticator> {
        self.authenticators
            .iter()
            .filter(|a| a.user_id == user_id && a.is_verified())
            .map(Self::authenticator_view)
            .collect()
    }

    /// `enrollVerifiedAuthenticator`: an authenticator the app verified itself. SMS and
    /// WhatsApp need a phone number, email methods an address; an authenticator app gets a
    /// fresh TOTP secret (which the handle's `totp_code` reads).
    pub(crate) fn enroll_verified(
        &mut self,
        user_id: &str,
        request: EnrollRequest,
        now: Timestamp,
    ) -> Result<EnrollVerifiedAuthenticatorResponse, HttpError> {
        let method = request
            .verification_method
            .or(request.oob_channel)
            .ok_or_else(|| HttpError::invalid_request("verificationMethod is required."))?;
        let needs = |value: &Option<String>, what: &str| match value.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => Ok(()),
            _ => Err(HttpError::invalid_request(format!(
                "{what} is required for {method}."
            ))),
        };
        match method {
            VerificationMethod::Sms | VerificationMethod::Whatsapp => {
                needs(&request.phone_number, "phoneNumber")?;
            }
            VerificationMethod::EmailOtp | VerificationMethod::EmailMagicLink => {
                needs(&request.email, "email")?;
            }
            VerificationMethod::AuthenticatorApp => {}
            other => {
                return Err(HttpError::invalid_request(format!(
                    "{other} cannot be enrolled as a verified authenticator."
                )));
            }
        }
        let first = !self.is_enrolled(user_id);
        let is_default = request.is_default.unwrap_or(first);
        let user = self.user_mut(user_id);
        if let Some(phone) = &request.phone_number {
            user.phone_number = Some(phone.clone());
            user.phone_number_verified = true;
        }
        if let Some(email) = &request.email {
            user.email = Some(email.clone());
            user.email_verified = true;
        }
        if is_default {
            for other in self
                .authenticators
                .iter_mut()
                .filter(|a| a.user_id == user_id)
            {
                other.is_default = false;
            }
        }
        let totp_secret = (method == VerificationMethod::AuthenticatorApp).then(totp::new_secret);
        let record = AuthenticatorRecord {
            verified_at: Some(now),
            phone_number: request.phone_number,
            email: request.email,
            is_default,
            totp_secret,
            ..AuthenticatorRecord::new(user_id, method, now)
        };
        let authenticator = Self::authenticator_view(&record);
        self.notify_created(&record, now);
        self.authenticators.push(record);
        Ok(wire!(EnrollVerifiedAuthenticatorResponse {
            authenticator,
            recovery_codes: first.then(recovery_codes),
        }))
    }

    /// `deleteAuthenticator`; an unknown id is 400 `AUTHENTICATOR_NOT_FOUND`, as by the API.
    pub(crate) fn delete_authenticator(
        &mut self,
        user_id: &str,
        authenticator_id: &str,
        now: Timestamp,
    ) -> Result<(), HttpError> {
        let removed =
            self.remove_authenticators(|a| a.user_id == user_id && a.id == authenticator_id);
        if removed.is_empty() {
            return Err(HttpError::new(
                StatusCode::BAD_REQUEST,
                "AUTHENTICATOR_NOT_FOUND",
                "The authenticator was not found.",
            ));
        }
        self.notify_deleted(&removed, now);
        Ok(())
    }

    /// `batchEnrollVerifiedAuthenticators`: passkeys for many users, each item on its own.
    /// A credential its user already has is a no-op success; one another user has fails
    /// with `conflict` (both documented); a method other than `PASSKEY` fails with
    /// `invalid_request` (assumed: the documentation shows passkeys only). More than
    /// [`MAX_BATCH_ENROLL`] items, or none, is a 400 for the whole request.
    pub(crate) fn batch_enroll(
        &mut self,
        request: BatchEnrollVerifiedAuthenticatorsRequest,
        now: Timestamp,
    ) -> Result<BatchEnrollVerifiedAuthenticatorsResponse, HttpError> {
        let total = request.authenticators.len();
        if total == 0 || total > MAX_BATCH_ENROLL {
            return Err(HttpError::invalid_request(format!(
                "authenticators must hold 1 to {MAX_BATCH_ENROLL} items."
            )));
        }
        let mut failures = Vec::new();
        for item in request.authenticators {
            let fail = |code: &str, description: &str| {
                wire!(BatchEnrollFailure {
                    user_id: item.user_id.clone(),
                    credential_id: item.credential_id.clone(),
                    error_code: code.to_owned(),
                    error_description: description.to_owned(),
                })
            };
            if item.verification_method != VerificationMethod::Passkey {
                failures.push(fail(
                    "invalid_request",
                    "Only PASSKEY authenticators can be enrolled in a batch.",
                ));
                continue;
            }
            if item.user_id.is_empty()
                || item.credential_id.is_empty()
                || item.credential_public_key.is_empty()
            {
                failures.push(fail(
                    "invalid_request",
                    "userId, credentialId and credentialPublicKey are required.",
                ));
                continue;
            }
            let owner = self
                .authenticators
                .iter()
                .find(|a| {
                    a.passkey
                        .as_ref()
                        .is_some_and(|p| p.credential_id == item.credential_id)
                })
                .map(|a| a.user_id.clone());
            match owner {
                Some(owner) if owner == item.user_id => continue,
                Some(_) => {
                    failures.push(fail(
                        "conflict",
                        "Credential already exists for a different user.",
                    ));
                    continue;
                }
                None => {}
            }
            let is_default = !self.is_enrolled(&item.user_id);
            self.user_mut(&item.user_id);
            let record = AuthenticatorRecord {
                verified_at: Some(now),
                is_default,
                passkey: Some(PasskeyCredential {
                    credential_id: item.credential_id,
                    name: item.name,
                    aaguid: item.aaguid,
                    public_key: None,
                    sign_count: 0,
                }),
                ..AuthenticatorRecord::new(&item.user_id, VerificationMethod::Passkey, now)
            };
            self.notify_created(&record, now);
            self.authenticators.push(record);
        }
        let failed = failures.len();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(wire!(BatchEnrollVerifiedAuthenticatorsResponse {
            total: count(total),
            succeeded: count(total - failed),
            failed: count(failed),
            failures,
        }))
    }

    /// A verified authenticator app for `user_id`, replacing any they had.
    pub(crate) fn enroll_totp_directly(&mut self, user_id: &str, now: Timestamp) -> TotpEnrollment {
        let replaced = self.remove_authenticators(|a| {
            a.user_id == user_id && a.method == VerificationMethod::AuthenticatorApp
        });
        self.notify_deleted(&replaced, now);
        let is_default = !self.is_enrolled(user_id);
        self.user_mut(user_id);
        let secret = totp::new_secret();
        let record = AuthenticatorRecord {
            verified_at: Some(now),
            is_default,
            totp_secret: Some(secret),
            ..AuthenticatorRecord::new(user_id, VerificationMethod::AuthenticatorApp, now)
        };
        let enrollment = enrollment_of(&record);
        self.notify_created(&record, now);
        self.authenticators.push(record);
        enrollment
    }

    /// Removes the authenticators `doomed` picks; returns them.
    pub(crate) fn remove_authenticators(
        &mut self,
        doomed: impl Fn(&AuthenticatorRecord) -> bool,
    ) -> Vec<AuthenticatorRecord> {
        let (removed, kept) = std::mem::take(&mut self.authenticators)
            .into_iter()
            .partition(|a| doomed(a));
        self.authenticators = kept;
        removed
    }

    /// An authenticator-app enrollment in progress for `user_id`: the one already started,
    /// or a new one. The first right code completes it.
    pub(crate) fn start_totp_enrollment(
        &mut self,
        user_id: &str,
        now: Timestamp,
    ) -> TotpEnrollment {
        if let Some(pending) = self.authenticators.iter().find(|a| {
            a.user_id == user_id
                && a.method == VerificationMethod::AuthenticatorApp
                && !a.is_verified()
        }) {
            return enrollment_of(pending);
        }
        self.user_mut(user_id);
        let record = AuthenticatorRecord {
            totp_secret: Some(totp::new_secret()),
            ..AuthenticatorRecord::new(user_id, VerificationMethod::AuthenticatorApp, now)
        };
        let enrollment = enrollment_of(&record);
        self.authenticators.push(record);
        enrollment
    }

    /// The user's authenticator app: the verified one, else the enrollment in progress.
    pub(crate) fn totp_authenticator(&self, user_id: &str) -> Option<&AuthenticatorRecord> {
        let apps = || {
            self.authenticators.iter().filter(move |a| {
                a.user_id == user_id
                    && a.method == VerificationMethod::AuthenticatorApp
                    && a.totp_secret.is_some()
            })
        };
        apps().find(|a| a.is_verified()).or_else(|| apps().next())
    }

    /// The code the user's authenticator app shows now.
    pub(crate) fn totp_code(&self, user_id: &str, now: Timestamp) -> Option<String> {
        let secret = self.totp_authenticator(user_id)?.totp_secret.as_deref()?;
        totp::code_at(secret, now)
    }
}

fn enrollment_of(record: &AuthenticatorRecord) -> TotpEnrollment {
    let secret = record.totp_secret.as_deref().unwrap_or_default();
    TotpEnrollment {
        user_id: record.user_id.clone(),
        user_authenticator_id: record.id.clone(),
        secret: totp::base32(secret),
        uri: totp::otpauth_uri(&record.user_id, secret),
    }
}

/// Ten recovery codes of the `xxxx-xxxx` kind.
fn recovery_codes() -> Vec<String> {
    (0..10)
        .map(|_| {
            format!(
                "{}-{}",
                random::lowercase_alphanumeric(4),
                random::lowercase_alphanumeric(4)
            )
        })
        .collect()
}
