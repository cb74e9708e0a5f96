//! The admin API's change log: who changed what (see [`crate::storage::changes`]), recorded by
//! every route that changes an app, and read by `GET /v1/admin/apps/{app}/changes`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::storage::changes::Change;

/// Records that `caller` did `action` to `subject` on the app. A failure to record is logged and
/// does not undo the change it describes.
pub async fn note(
    state: &AppState,
    app_id: &str,
    caller: &AdminCaller,
    action: &str,
    subject: impl Into<String>,
    detail: impl Into<String>,
) {
    let change = Change {
        at: crate::clock::now(),
        actor: caller.key_id.clone(),
        action: action.to_string(),
        subject: subject.into(),
        detail: detail.into(),
    };
    if let Err(e) = state.inner.storage.record_change(app_id, &change).await {
        tracing::error!(error = %e, app_id, action, "the change was made but not logged");
    }
}

/// Which changes to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangeParams {
    /// Only actions starting with this (`config.`, `experiment.`, `key.`).
    #[param(max_length = 64, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub action: Option<String>,
    /// At most this many, newest first (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The app's change log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Changes {
    /// Newest first.
    pub changes: Vec<Change>,
}

/// Who changed what, newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/changes",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), ChangeParams),
    responses(
        (status = 200, description = "The changes, newest first", body = Changes),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
        (status = 422, description = "`limit` is outside 1 to 500, or `action` is too long or has control characters", body = crate::error::ErrorResponse),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Query(params): Query<ChangeParams>,
) -> Result<Json<Changes>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("{limit} is outside 1 to 500"),
        ));
    }
    crate::text::optional_key(|| "action".into(), params.action.as_deref(), 64)?;
    let changes = state
        .inner
        .storage
        .changes(&app.record.id, params.action.as_deref(), limit)
        .await?;
    Ok(Json(Changes { changes }))
}
