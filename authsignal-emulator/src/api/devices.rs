//! Routes of devices: `getDevices`, `invalidateDevice`, `updateDevice`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::super::error::HttpError;
use super::super::state::Shared;
use super::extract::{ApiJson, ApiPath};
use authsignal::types::{UpdateDeviceRequest, UserDevice};

/// `GET /users/{userId}/devices`
pub(crate) async fn get_devices(
    State(shared): State<Arc<Shared>>,
    ApiPath(user_id): ApiPath<String>,
) -> Json<Vec<UserDevice>> {
    Json(shared.store().list_devices(&user_id))
}

/// `POST /users/{userId}/devices/{deviceId}/invalidate`
pub(crate) async fn invalidate_device(
    State(shared): State<Arc<Shared>>,
    ApiPath((user_id, device_id)): ApiPath<(String, String)>,
) -> Result<Json<UserDevice>, HttpError> {
    let now = shared.clock.now();
    shared
        .store()
        .invalidate_device(&user_id, &device_id, now)
        .map(Json)
}

/// `PATCH /users/{userId}/devices/{deviceId}`
pub(crate) async fn update_device(
    State(shared): State<Arc<Shared>>,
    ApiPath((user_id, device_id)): ApiPath<(String, String)>,
    ApiJson(update): ApiJson<UpdateDeviceRequest>,
) -> Result<Json<UserDevice>, HttpError> {
    let now = shared.clock.now();
    shared
        .store()
        .update_device(&user_id, &device_id, &update, now)
        .map(Json)
}
