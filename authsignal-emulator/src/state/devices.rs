//! Devices: `getDevices`, `invalidateDevice`, `updateDevice`, and the device records that
//! `track` (with a `deviceId`) and completed challenges keep.

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::{DeviceRecord, Store};
use authsignal::types::{UpdateDeviceRequest, UserDevice, VerificationMethod};

impl Store {
    fn device_view(record: &DeviceRecord) -> UserDevice {
        wire!(UserDevice {
            user_id: record.user_id.clone(),
            device_id: record.device_id.clone(),
            created_at: Some(record.created_at.rfc3339()),
            authenticated_at: record.authenticated_at.map(Timestamp::rfc3339),
            invalidated_at: record.invalidated_at.map(Timestamp::rfc3339),
            remembered_until: record.remembered_until.map(Timestamp::rfc3339),
            last_verification_method: record.last_verification_method.clone(),
        })
    }

    fn device_mut(&mut self, user_id: &str, device_id: &str) -> Option<&mut DeviceRecord> {
        self.devices
            .iter_mut()
            .find(|d| d.user_id == user_id && d.device_id == device_id)
    }

    /// A `track` with `device_id`: the device is recorded on first sight. An invalidated
    /// device is seen as new again: its history starts over.
    pub(crate) fn saw_device(&mut self, user_id: &str, device_id: &str, now: Timestamp) {
        let fresh = DeviceRecord {
            user_id: user_id.to_owned(),
            device_id: device_id.to_owned(),
            created_at: now,
            authenticated_at: None,
            invalidated_at: None,
            remembered_until: None,
            last_verification_method: None,
        };
        match self.device_mut(user_id, device_id) {
            Some(device) if device.invalidated_at.is_some() => *device = fresh,
            Some(_) => {}
            None => self.devices.push(fresh),
        }
    }

    /// A challenge completed on `device_id`.
    pub(crate) fn authenticated_device(
        &mut self,
        user_id: &str,
        device_id: &str,
        method: &VerificationMethod,
        now: Timestamp,
    ) {
        if let Some(device) = self.device_mut(user_id, device_id) {
            device.authenticated_at = Some(now);
            device.last_verification_method = Some(method.clone());
        }
    }

    /// `getDevices`: the user's devices, in the order first seen (none for an unknown user).
    pub(crate) fn list_devices(&self, user_id: &str) -> Vec<UserDevice> {
        self.devices
            .iter()
            .filter(|d| d.user_id == user_id)
            .map(Self::device_view)
            .collect()
    }

    /// `invalidateDevice`; an unknown device is 404.
    pub(crate) fn invalidate_device(
        &mut self,
        user_id: &str,
        device_id: &str,
        now: Timestamp,
    ) -> Result<UserDevice, HttpError> {
        let device = self
            .device_mut(user_id, device_id)
            .ok_or_else(|| HttpError::not_found("The device was not found."))?;
        device.invalidated_at = Some(now);
        device.remembered_until = None;
        Ok(Self::device_view(device))
    }

    /// `updateDevice`: `rememberedUntil` must be an RFC 3339 instant in the future, or
    /// `null` to stop remembering; an unknown device is 404.
    pub(crate) fn update_device(
        &mut self,
        user_id: &str,
        device_id: &str,
        update: &UpdateDeviceRequest,
        now: Timestamp,
    ) -> Result<UserDevice, HttpError> {
        let until = match update.remembered_until.as_deref() {
            None => None,
            Some(text) => {
                let until = Timestamp::parse_rfc3339(text).ok_or_else(|| {
                    HttpError::invalid_request("rememberedUntil must be an ISO 8601 date-time.")
                })?;
                if until <= now {
                    return Err(HttpError::invalid_request(
                        "rememberedUntil must be in the future.",
                    ));
                }
                Some(until)
            }
        };
        let device = self
            .device_mut(user_id, device_id)
            .ok_or_else(|| HttpError::not_found("The device was not found."))?;
        device.remembered_until = until;
        Ok(Self::device_view(device))
    }
}
