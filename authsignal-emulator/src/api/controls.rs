//! The emulator's own controls over HTTP, for tests written in other languages (which
//! cannot call [`EmulatorHandle::inject_fault`](super::super::EmulatorHandle::inject_fault)):
//!
//! - `POST /emulator/faults` with a [`FaultSpec`] arms a fault; `DELETE /emulator/faults`
//!   (optionally `?operation=`) clears them;
//! - `PUT /emulator/latency` with `{"operation", "millis"}` sets an operation's latency
//!   (0 removes it); `DELETE /emulator/latency` removes every latency.
//!
//! Emulator-only extensions: real Authsignal has no such routes. They sit behind the same
//! Basic auth as the Server API, and no fault or latency reaches them, not even a
//! wildcard one, so a test can always clear what it armed.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::super::error::HttpError;
use super::super::faults::FaultSpec;
use super::super::state::Shared;
use super::Deleted;
use super::extract::{ApiJson, ApiQuery};

/// `DELETE /emulator/faults?operation=`: only that operation's, else every fault.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ClearQuery {
    operation: Option<String>,
}

/// The body of `PUT /emulator/latency`, and its answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LatencySetting {
    operation: String,
    millis: u64,
}

/// `POST /emulator/faults`: arms the fault, answers it as armed.
pub(crate) async fn arm_fault(
    State(shared): State<Arc<Shared>>,
    ApiJson(spec): ApiJson<FaultSpec>,
) -> Result<Json<FaultSpec>, HttpError> {
    let fault = spec.to_fault().map_err(HttpError::invalid_request)?;
    shared.arm_fault(&spec.operation, fault);
    Ok(Json(spec))
}

/// `DELETE /emulator/faults`
pub(crate) async fn clear_faults(
    State(shared): State<Arc<Shared>>,
    ApiQuery(query): ApiQuery<ClearQuery>,
) -> Json<Deleted> {
    shared.clear_faults(query.operation.as_deref());
    Json(Deleted::default())
}

/// `PUT /emulator/latency`
pub(crate) async fn set_latency(
    State(shared): State<Arc<Shared>>,
    ApiJson(setting): ApiJson<LatencySetting>,
) -> Result<Json<LatencySetting>, HttpError> {
    if setting.operation.trim().is_empty() {
        return Err(HttpError::invalid_request(
            "operation is required (or \"*\").",
        ));
    }
    shared.set_latency(&setting.operation, Duration::from_millis(setting.millis));
    Ok(Json(setting))
}

/// `DELETE /emulator/latency`
pub(crate) async fn clear_latency(State(shared): State<Arc<Shared>>) -> Json<Deleted> {
    shared.clear_latency();
    Json(Deleted::default())
}
