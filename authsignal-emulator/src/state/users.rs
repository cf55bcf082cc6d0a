//! Users: `getUser`, `queryUsers`, `updateUser`, `deleteUser`.

use serde_json::Value;

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::tokens::Tokens;
use super::{Store, UserRecord};
use authsignal::types::{
    QueryUsersRequest, QueryUsersResponse, UpdateUserRequest, User, UserAttributes, UserSummary,
    VerificationMethod,
};

impl Store {
    /// The methods of a user's verified authenticators, oldest first, each once.
    pub(crate) fn enrolled_methods(&self, user_id: &str) -> Vec<VerificationMethod> {
        let mut methods = Vec::new();
        for authenticator in &self.authenticators {
            if authenticator.user_id == user_id
                && authenticator.is_verified()
                && !methods.contains(&authenticator.method)
            {
                methods.push(authenticator.method.clone());
            }
        }
        methods
    }

    pub(crate) fn is_enrolled(&self, user_id: &str) -> bool {
        !self.enrolled_methods(user_id).is_empty()
    }

    /// The enrolled methods and the authenticator app (which the pre-built UI offers).
    pub(crate) fn allowed_methods(&self, user_id: &str) -> Vec<VerificationMethod> {
        let mut methods = self.enrolled_methods(user_id);
        if !methods.contains(&VerificationMethod::AuthenticatorApp) {
            methods.push(VerificationMethod::AuthenticatorApp);
        }
        methods
    }

    /// The method of the default authenticator, else of the oldest one.
    pub(crate) fn default_method(&self, user_id: &str) -> Option<VerificationMethod> {
        let mut verified = self
            .authenticators
            .iter()
            .filter(|a| a.user_id == user_id && a.is_verified());
        let first = verified.clone().next();
        verified
            .find(|a| a.is_default)
            .or(first)
            .map(|a| a.method.clone())
    }

    /// `getUser`: an unknown user is not an error but `isEnrolled: false`.
    pub(crate) fn get_user(&self, user_id: &str) -> User {
        let Some(user) = self.user(user_id) else {
            return User::default();
        };
        let enrolled = self.enrolled_methods(user_id);
        wire!(User {
            is_enrolled: !enrolled.is_empty(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            phone_number: user.phone_number.clone(),
            phone_number_verified: user.phone_number_verified,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            custom: user.custom.clone(),
            allowed_verification_methods: Some(self.allowed_methods(user_id)),
            default_verification_method: self.default_method(user_id),
            enrolled_verification_methods: Some(enrolled),
            locale: user.locale.clone(),
        })
    }

    /// `queryUsers`: users matching every criterion given, by id, a page at a time. At
    /// least one of username, email, phone number and token is required, as by the API.
    pub(crate) fn query_users(
        &self,
        query: &QueryUsersRequest,
        tokens: Tokens<'_>,
    ) -> Result<QueryUsersResponse, HttpError> {
        if query.username.is_none()
            && query.email.is_none()
            && query.phone_number.is_none()
            && query.token.is_none()
        {
            return Err(HttpError::invalid_request(
                "At least one of username, email, phoneNumber or token is required.",
            ));
        }
        let token_payload = match &query.token {
            Some(token) => Some(tokens.read_any(token.as_str()).ok_or_else(|| {
                HttpError::invalid_request("The token is invalid or has expired.")
            })?),
            None => None,
        };
        let token_user = token_payload
            .as_ref()
            .and_then(|payload| payload.get("sub"))
            .and_then(Value::as_str);
        let matches = |user: &&UserRecord| {
            let same = |wanted: &Option<String>, value: &Option<String>| {
                wanted.is_none() || wanted == value
            };
            same(&query.username, &user.username)
                && same(&query.email, &user.email)
                && same(&query.phone_number, &user.phone_number)
                && token_user.is_none_or(|id| id == user.user_id)
        };
        let mut found: Vec<&UserRecord> = self.users.values().filter(matches).collect();
        // Ids are unique, so this order is total and does not depend on the map's.
        found.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        if let Some(after) = &query.last_evaluated_user_id {
            found.retain(|user| user.user_id.as_str() > after.as_str());
        }
        let limit = query
            .limit
            .map_or(usize::MAX, |limit| limit.max(1) as usize);
        let more = found.len() > limit;
        found.truncate(limit);
        Ok(wire!(QueryUsersResponse {
            last_evaluated_user_id: more
                .then(|| found.last().map(|user| user.user_id.clone()))
                .flatten(),
            users: found
                .into_iter()
                .map(|user| wire!(UserSummary {
                    user_id: user.user_id.clone(),
                    email: user.email.clone(),
                    email_verified: user.email_verified,
                    phone_number: user.phone_number.clone(),
                    phone_number_verified: user.phone_number_verified,
                    username: user.username.clone(),
                }))
                .collect(),
            token_payload,
        }))
    }

    /// `updateUser`: sets the attributes given, creating the user if need be. A
    /// `defaultVerificationMethod` must be one the user has enrolled (else 400): its
    /// oldest authenticator becomes the default.
    pub(crate) fn update_user(
        &mut self,
        user_id: &str,
        changes: UpdateUserRequest,
    ) -> Result<UserAttributes, HttpError> {
        if let Some(method) = &changes.default_verification_method {
            let Some(chosen) = self
                .authenticators
                .iter()
                .position(|a| a.user_id == user_id && a.is_verified() && a.method == *method)
            else {
                return Err(HttpError::invalid_request(format!(
                    "The user has no {method} authenticator to make the default."
                )));
            };
            for (index, authenticator) in self.authenticators.iter_mut().enumerate() {
                if authenticator.user_id == user_id {
                    authenticator.is_default = index == chosen;
                }
            }
        }
        let default_verification_method = self.default_method(user_id);
        let user = self.user_mut(user_id);
        let UpdateUserRequest {
            email,
            email_verified,
            phone_number,
            phone_number_verified,
            username,
            display_name,
            custom,
            locale,
            default_verification_method: _,
        } = changes;
        if email.is_some() {
            user.email = email;
        }
        if let Some(verified) = email_verified {
            user.email_verified = verified;
        }
        if phone_number.is_some() {
            user.phone_number = phone_number;
        }
        if let Some(verified) = phone_number_verified {
            user.phone_number_verified = verified;
        }
        if username.is_some() {
            user.username = username;
        }
        if display_name.is_some() {
            user.display_name = display_name;
        }
        if custom.is_some() {
            // Replaced as a whole: the emulator does not guess at a merge.
            user.custom = custom;
        }
        if locale.is_some() {
            user.locale = locale;
        }
        Ok(UserAttributes {
            email: user.email.clone(),
            email_verified: Some(user.email_verified),
            phone_number: user.phone_number.clone(),
            phone_number_verified: Some(user.phone_number_verified),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            custom: user.custom.clone(),
            locale: user.locale.clone(),
            default_verification_method,
        })
    }

    /// `deleteUser`: the user and everything of theirs. Deleting an unknown user succeeds.
    pub(crate) fn delete_user(&mut self, user_id: &str, now: Timestamp) {
        self.users.remove(user_id);
        let removed = self.remove_authenticators(|a| a.user_id == user_id);
        self.notify_deleted(&removed, now);
        self.actions.remove_user(user_id);
        self.sessions.retain(|s| s.user_id != user_id);
        self.devices.retain(|d| d.user_id != user_id);
    }
}
