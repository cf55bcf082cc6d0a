//! The Server API under `/v1` (Basic auth with the tenant secret), the emulator-only
//! `/v1/emulator/outbox` (the same auth), and the client API under `/v1/client` (Bearer
//! challenge token, CORS for any origin), where the JWKS is too (no credentials).

mod actions;
mod auth;
mod challenges;
mod client;
mod controls;
mod cors;
mod devices;
mod extract;
mod jwks;
mod outbox;
mod phone;
mod sessions;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{delete, get, patch, post, put};
use serde::Serialize;

pub(crate) use auth::require_secret;

use super::error::HttpError;
use super::state::Shared;

/// The body of a successful delete.
#[derive(Debug, Serialize)]
pub(crate) struct Deleted {
    success: bool,
}

impl Default for Deleted {
    fn default() -> Self {
        Self { success: true }
    }
}

/// The routes of `/v1`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let server_api = Router::new()
        .route("/users", get(users::query_users))
        .route(
            "/users/{user_id}",
            get(users::get_user)
                .patch(users::update_user)
                .delete(users::delete_user)
                .post(users::batch_enroll_verified_authenticators),
        )
        .route(
            "/users/{user_id}/authenticators",
            get(users::get_authenticators).post(users::enroll_verified_authenticator),
        )
        .route(
            "/users/{user_id}/authenticators/{user_authenticator_id}",
            delete(users::delete_authenticator),
        )
        .route("/users/{user_id}/devices", get(devices::get_devices))
        .route(
            "/users/{user_id}/devices/{device_id}",
            patch(devices::update_device),
        )
        .route(
            "/users/{user_id}/devices/{device_id}/invalidate",
            post(devices::invalidate_device),
        )
        .route("/users/{user_id}/actions", get(actions::query_user_actions))
        .route("/users/{user_id}/actions/{action}", post(actions::track))
        .route(
            "/users/{user_id}/actions/{action}/{idempotency_key}",
            get(actions::get_action).patch(actions::update_action),
        )
        .route("/validate", post(actions::validate_challenge))
        .route("/challenge", post(challenges::challenge))
        .route("/verify", post(challenges::verify))
        .route("/claim", post(challenges::claim_challenge))
        .route("/challenges", get(challenges::get_challenge))
        .route("/sessions", post(sessions::create_session))
        .route("/sessions/validate", post(sessions::validate_session))
        .route("/sessions/refresh", post(sessions::refresh_session))
        .route("/sessions/revoke", post(sessions::revoke_session))
        .route(
            "/sessions/user/revoke",
            post(sessions::revoke_user_sessions),
        )
        // Emulator-only: the outbox, faults and latency for programs that cannot call the
        // `EmulatorHandle`.
        .route("/emulator/outbox", get(outbox::outbox))
        // Emulator-only: the user's phone, for push.
        .route("/emulator/push-authenticators", post(phone::enroll_push))
        .route("/emulator/push", get(phone::pending_pushes))
        .route("/emulator/push/{challenge_id}", post(phone::answer_push))
        .route(
            "/emulator/faults",
            post(controls::arm_fault).delete(controls::clear_faults),
        )
        .route(
            "/emulator/latency",
            put(controls::set_latency).delete(controls::clear_latency),
        )
        // `route_layer`: the secret guards these routes only, not the client API merged
        // below, and an unknown path is still a 404 rather than a 401.
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            auth::require_secret,
        ));
    // A custom UI calls these from the browser, from the app's own origin. A service of
    // its own, with its own JSON 404 and 405, so that CORS covers every answer under
    // `/v1/client` (a page can read an error too) and nothing outside it.
    let client_api = Router::new()
        .route("/user-authenticators/totp", post(client::totp::enroll))
        .route("/verify/totp", post(client::totp::verify))
        .route(
            "/user-authenticators/email-otp",
            post(client::otp::enroll_email),
        )
        .route("/challenge/email-otp", post(client::otp::challenge_email))
        .route("/verify/email-otp", post(client::otp::verify_email))
        .route("/user-authenticators/sms", post(client::otp::enroll_sms))
        .route("/challenge/sms", post(client::otp::challenge_sms))
        .route("/verify/sms", post(client::otp::verify_sms))
        .route("/public/{tenant_id}/.well-known/jwks", get(jwks::jwks))
        // WhatsApp codes, email magic links and push.
        .route("/challenge/whatsapp", post(client::otp::challenge_whatsapp))
        .route("/verify/whatsapp", post(client::otp::verify_whatsapp))
        .route(
            "/user-authenticators/email-magic-link",
            post(client::magic_link::enroll_magic_link),
        )
        .route(
            "/challenge/email-magic-link",
            post(client::magic_link::challenge_magic_link),
        )
        .route(
            "/verify/email-magic-link/finalize",
            post(client::magic_link::finalize),
        )
        .route("/challenge/push", post(client::push::challenge_push))
        .route("/verify/push", post(client::push::verify_push))
        // Passkeys and security keys (WebAuthn), and the list the SDK syncs after them.
        .route("/user-authenticators", get(client::authenticators::list))
        .route(
            "/user-authenticators/passkey/registration-options",
            post(client::passkey::registration_options),
        )
        .route(
            "/user-authenticators/passkey",
            post(client::passkey::add).get(client::passkey::on_device),
        )
        .route(
            "/user-authenticators/passkey/authentication-options",
            post(client::passkey::authentication_options),
        )
        .route("/verify/passkey", post(client::passkey::verify))
        .route("/challenge", post(client::passkey::sign_in_challenge))
        .route(
            "/user-authenticators/security-key/registration-options",
            post(client::security_key::registration_options),
        )
        .route(
            "/user-authenticators/security-key",
            post(client::security_key::add),
        )
        .route(
            "/user-authenticators/security-key/authentication-options",
            post(client::security_key::authentication_options),
        )
        .route("/verify/security-key", post(client::security_key::verify))
        .fallback(|| async { HttpError::not_found("There is no such route.") })
        .method_not_allowed_fallback(|| async { HttpError::method_not_allowed() })
        .layer(cors::client_api())
        .with_state(shared.clone());
    Router::new()
        .nest("/v1", server_api)
        .nest_service("/v1/client", client_api)
        .with_state(shared)
}
