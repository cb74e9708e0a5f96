//! Who may call the admin API: the bearer key, looked up by its SHA-256 (see `keys`).
//!
//! Customer tokens, the public routes' credential, are verified in `customers`.

use crate::error::ApiError;
use crate::keys::hash_admin_key;

/// Checks `Authorization: Bearer <admin key>`: a key of this app, not revoked. Keys are looked
/// up by the app and their hash, so the comparison never handles the key itself, and a key of
/// another app is refused like a wrong one.
pub async fn admin_caller(
    storage: &crate::Storage,
    app_id: &str,
    header: Option<&str>,
) -> Result<AdminCaller, ApiError> {
    let header = header.ok_or_else(ApiError::missing_key)?;
    let key = header
        .strip_prefix("Bearer ")
        .ok_or_else(ApiError::missing_key)?
        .trim();
    if key.is_empty() || key.len() > 256 {
        return Err(ApiError::wrong_key());
    }
    match storage.admin_key(app_id, &hash_admin_key(key)).await? {
        Some(k) if k.revoked_at.is_none() => Ok(AdminCaller {
            key_id: k.id,
            mode: k.mode,
        }),
        Some(k) => Err(ApiError::revoked_key(&k.id)),
        None => Err(ApiError::wrong_key()),
    }
}

/// Who made an admin call: the admin key's id and mode. Handlers read and write that mode's
/// data.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// The key's public id.
    pub key_id: String,
    /// The mode the key acts in.
    pub mode: crate::keys::Mode,
}

impl AdminCaller {
    /// The mode an admin call reads: its key's. Naming the other mode is refused, so a test key
    /// can never read live data.
    pub fn mode_for(
        &self,
        asked: Option<crate::keys::Mode>,
    ) -> Result<crate::keys::Mode, ApiError> {
        match asked {
            Some(mode) if mode != self.mode => Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "wrong_mode",
                format!(
                    "this admin key acts in {} mode; use a {mode} mode key for {mode} data",
                    self.mode
                ),
            )
            .field("mode")),
            _ => Ok(self.mode),
        }
    }
}
