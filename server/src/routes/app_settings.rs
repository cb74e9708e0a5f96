//! Admin: an app's settings (name, allowed origins, consumer or business), the same ones
//! `holdfast-server apps update` changes. They serve both modes, so an admin key of either mode
//! may read and change them.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::error::ApiError;
use crate::extract::Json;
use crate::keys::Mode;
use crate::storage::apps::AppSettings;
use holdfast_core::config::Audience;

/// The app as an admin sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppView {
    /// Public id.
    pub app_id: String,
    /// Name and origins.
    #[serde(flatten)]
    pub settings: AppSettings,
    /// `consumer` or `business` (the config's `audience`).
    pub audience: Audience,
    /// The current config's version.
    pub config_version: i64,
    /// The mode of the admin key that asked: the data its other calls read.
    pub mode: Mode,
}

/// A change: each field given replaces the stored one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    /// A new name, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// The allowed origins (scheme, host and port: `https://app.acme.com`), replacing the list.
    pub origins: Option<Vec<String>>,
    /// `consumer` or `business`: a config change, so a new config version.
    pub audience: Option<Audience>,
}

/// Reads the app's settings.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    responses(
        (status = 200, description = "The app", body = AppView),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
    )
)]
pub async fn get(
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
) -> Json<AppView> {
    Json(AppView {
        app_id: app.record.id.clone(),
        settings: app.record.settings.clone(),
        audience: app.config.policy.audience,
        config_version: app.record.config_version,
        mode: caller.mode,
    })
}

/// Changes the app's settings.
#[utoipa::path(
    patch,
    path = "/v1/admin/apps/{app_id}",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = SettingsChange,
    responses(
        (status = 200, description = "The app as changed", body = AppView),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused; `field` names it", body = crate::error::ErrorResponse),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Json(change): Json<SettingsChange>,
) -> Result<Json<AppView>, ApiError> {
    let mut settings = app.record.settings.clone();
    if let Some(name) = change.name {
        settings.name = name;
    }
    if let Some(origins) = change.origins {
        settings.origins = origins;
    }
    crate::operator::check_settings(&settings).map_err(|problem| {
        let field = problem.split(':').next().unwrap_or("settings").to_string();
        let field = if field.starts_with("origin") {
            "origins".to_string()
        } else {
            field
        };
        ApiError::invalid(field, problem)
    })?;
    let storage = &state.inner.storage;
    storage.update_app(&app.record.id, &settings).await?;
    let audience = change.audience.unwrap_or(app.config.policy.audience);
    let config_version =
        crate::operator::set_audience(storage, &app.record.id, audience, crate::clock::now())
            .await?;
    state.inner.apps.invalidate(&app.record.id);
    Ok(Json(AppView {
        app_id: app.record.id.clone(),
        settings,
        audience,
        config_version,
        mode: caller.mode,
    }))
}
