//! Admin: the app's admin API keys, through the API as through the CLI (the dashboard's settings
//! page, an owner's scripts). A key is shown once, at creation; lists show ids only.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::keys::Mode;

/// An admin key as listed: never the key itself.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// Its public id (the key's first characters).
    pub id: String,
    /// What it was called.
    pub name: String,
    /// The mode its calls act in.
    pub mode: Mode,
    /// When it was created, Unix seconds.
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// The list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// Oldest first, revoked ones included.
    pub keys: Vec<KeyView>,
}

/// Which mode's keys.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KeyParams {
    /// `test` or `live`: the caller's mode (the default; an admin key may not name the other).
    pub mode: Option<Mode>,
}

/// The app's admin keys of the caller's mode.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/keys",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), KeyParams),
    responses((status = 200, description = "The keys, by id", body = KeyList))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Query(params): Query<KeyParams>,
) -> Result<Json<KeyList>, ApiError> {
    let mode = caller.mode_for(params.mode)?;
    let keys = state
        .inner
        .storage
        .admin_keys(&app.record.id)
        .await?
        .into_iter()
        .filter(|k| k.mode == mode)
        .map(|k| KeyView {
            id: k.id,
            name: k.name,
            mode: k.mode,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        })
        .collect();
    Ok(Json(KeyList { keys }))
}

/// A key to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What to call it (`ci`, `billing-sync`): not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
}

/// A created key, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// Its public id.
    pub id: String,
    /// The key: `Authorization: Bearer <key>`. Shown this once; only its hash is kept.
    pub key: String,
    /// The mode its calls act in: the caller's.
    pub mode: Mode,
}

/// Creates an admin key of the caller's mode.
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/keys",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = NewKey,
    responses((status = 201, description = "Created; the key is shown once", body = CreatedKey))
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Json(body): Json<NewKey>,
) -> Result<Response, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "1 to 100 characters"));
    }
    crate::text::key(|| "name".into(), name, 100)?;
    let created = crate::operator::create_admin_key(
        &state.inner.storage,
        &app.record.id,
        caller.mode,
        name,
        crate::clock::now(),
    )
    .await?;
    crate::changes::note(
        &state,
        &app.record.id,
        &caller,
        "key.created",
        &created.stored.id,
        name,
    )
    .await;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedKey {
            id: created.stored.id,
            key: created.key,
            mode: caller.mode,
        }),
    )
        .into_response())
}

/// Revokes an admin key: its calls are refused from now on.
#[utoipa::path(
    delete,
    path = "/v1/admin/apps/{app_id}/keys/{id}",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("id" = String, Path, description = "The key's public id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key of this mode", body = crate::error::ErrorResponse),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let storage = &state.inner.storage;
    let of_mode = storage
        .admin_keys(&app.record.id)
        .await?
        .into_iter()
        .any(|k| k.id == id && k.mode == caller.mode);
    if !of_mode
        || !storage
            .revoke_admin_key(&app.record.id, &id, crate::clock::now())
            .await?
    {
        return Err(ApiError::not_found(
            "no_such_key",
            "this app has no admin key with that id in this mode",
        ));
    }
    crate::changes::note(&state, &app.record.id, &caller, "key.revoked", id, "").await;
    Ok(StatusCode::NO_CONTENT)
}
