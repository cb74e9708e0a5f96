//! Admin: an app's config, validated by core on every change and kept as numbered versions so
//! any earlier one can be restored. A restore is itself a new version: history only grows.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use holdfast_core::config::{AppConfig, Problem};
use serde::Serialize;

use crate::AppState;
use crate::apps::LoadedApp;
use crate::error::ApiError;
use crate::extract::Json;

/// The current config and its version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrentConfig {
    /// Version number of this config.
    pub version: i64,
    /// The config (core's `AppConfig`).
    pub config: AppConfig,
    /// Concerns core raised that do not block saving (a discount above 30%).
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Problem>,
}

/// One entry of the history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionEntry {
    /// Version number.
    pub version: i64,
    /// When it was accepted, unix seconds.
    pub created_at: i64,
    /// Whether it is the current config.
    pub current: bool,
    /// Who made it: an admin key's id or `user:` and an email (none for versions made before
    /// changes were logged, or by the demo's setup).
    pub created_by: Option<String>,
    /// How it was made (`config.published`, `config.restored`, `experiment.shipped`, ...).
    pub change: Option<String>,
    /// More, in words (`from version 2`, `variant deeper of experiment too_expensive_depth`).
    pub detail: Option<String>,
}

/// The history, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Versions {
    /// Every accepted version.
    pub versions: Vec<VersionEntry>,
}

/// Reads the current config.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/config",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    responses(
        (status = 200, description = "The current config", body = CurrentConfig),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
    )
)]
pub async fn get(Extension(app): Extension<Arc<LoadedApp>>) -> Json<CurrentConfig> {
    Json(CurrentConfig {
        version: app.record.config_version,
        warnings: app.config.validate().warnings,
        config: app.config.clone(),
    })
}

/// Replaces the config after core validates it.
#[utoipa::path(
    put,
    path = "/v1/admin/apps/{app_id}/config",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    request_body(content = AppConfig, description = "The new config (core's AppConfig); rules beyond its schema (ids that exist, bounds that depend on each other) are checked by core"),
    responses(
        (status = 200, description = "Accepted as a new version; warnings listed", body = CurrentConfig),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
        (status = 409, description = "`experiment_running`: the change moves a running experiment's split; `field` names it", body = crate::error::ErrorResponse),
        (status = 422, description = "`invalid_config` with every problem's path", body = crate::error::ErrorResponse),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<crate::apps::AdminCaller>,
    Json(config): Json<AppConfig>,
) -> Result<Json<CurrentConfig>, ApiError> {
    let why = Why {
        caller: &caller,
        action: "config.published",
        detail: String::new(),
    };
    save(&state, &app, config, why).await
}

/// Makes `config` the app's config as a new version: validated by core, and refused with 409
/// when it changes the split of a running experiment (which would bias its results). Every config
/// change goes through here: a PUT, a restore, and an experiment's start, stop and ship.
/// Why a config version is saved, for the change log (whose subject is the new version): who,
/// what (`config.published`, `experiment.started`), and more in words.
pub(crate) struct Why<'a> {
    pub caller: &'a crate::apps::AdminCaller,
    pub action: &'static str,
    pub detail: String,
}

pub(crate) async fn save(
    state: &AppState,
    app: &LoadedApp,
    config: AppConfig,
    why: Why<'_>,
) -> Result<Json<CurrentConfig>, ApiError> {
    let app_id = app.record.id.as_str();
    let validation = config.validate();
    if !validation.is_ok() {
        return Err(ApiError::invalid_config(validation.errors));
    }
    let running = holdfast_core::experiment::split_changes(&app.config, &config);
    if let Some(first) = running.first() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "experiment_running",
            format!("{}: {}", first.path, first.message),
        )
        .field(first.path.clone()));
    }
    let json = serde_json::to_string(&config).map_err(anyhow::Error::from)?;
    let version = state
        .inner
        .storage
        .replace_config(app_id, &json, crate::clock::now())
        .await?;
    state.inner.apps.invalidate(app_id);
    tracing::info!(app_id, version, "config replaced");
    crate::changes::note(
        state,
        app_id,
        why.caller,
        why.action,
        version.to_string(),
        why.detail,
    )
    .await;
    Ok(Json(CurrentConfig {
        version,
        config,
        warnings: validation.warnings,
    }))
}

/// Lists every accepted version.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/config/versions",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    responses(
        (status = 200, description = "Newest first", body = Versions),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
    )
)]
pub async fn versions(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
) -> Result<Json<Versions>, ApiError> {
    let current = state
        .inner
        .storage
        .app(&app.record.id)
        .await?
        .map_or(app.record.config_version, |a| a.config_version);
    // The change that made each version (config and experiment changes name it as subject).
    let made_by: std::collections::HashMap<String, crate::storage::changes::Change> = state
        .inner
        .storage
        .changes(&app.record.id, None, 500)
        .await?
        .into_iter()
        .filter(|c| c.action.starts_with("config.") || c.action.starts_with("experiment."))
        .map(|c| (c.subject.clone(), c))
        .collect();
    let versions = state
        .inner
        .storage
        .config_versions(&app.record.id)
        .await?
        .into_iter()
        .map(|v| {
            let made = made_by.get(&v.version.to_string());
            VersionEntry {
                current: v.version == current,
                version: v.version,
                created_at: v.created_at,
                created_by: made.map(|c| c.actor.clone()),
                change: made.map(|c| c.action.clone()),
                detail: made.map(|c| c.detail.clone()).filter(|d| !d.is_empty()),
            }
        })
        .collect();
    Ok(Json(Versions { versions }))
}

/// Makes an earlier version current again, as a new version.
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/config/versions/{version}/restore",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("version" = i64, Path, description = "The version to restore"),
    ),
    responses(
        (status = 200, description = "Restored as a new version", body = CurrentConfig),
        (status = 409, description = "`experiment_running`: the version would move a running experiment's split", body = crate::error::ErrorResponse),
        (status = 400, description = "Version is not a number", body = crate::error::ErrorResponse),
        (status = 404, description = "No such version", body = crate::error::ErrorResponse),
    )
)]
pub async fn restore(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<crate::apps::AdminCaller>,
    Path((_, version)): Path<(String, String)>,
) -> Result<Json<CurrentConfig>, ApiError> {
    let version: i64 = version.parse().map_err(|_| {
        ApiError::bad_request("invalid_id", format!("version {version:?} is not a number"))
            .field("version")
    })?;
    let json = state
        .inner
        .storage
        .config_version(&app.record.id, version)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "version_not_found",
                format!("this app has no config version {version}"),
            )
            .field("version")
        })?;
    let config: AppConfig = serde_json::from_str(&json).map_err(anyhow::Error::from)?;
    let why = Why {
        caller: &caller,
        action: "config.restored",
        detail: format!("from version {version}"),
    };
    save(&state, &app, config, why).await
}
