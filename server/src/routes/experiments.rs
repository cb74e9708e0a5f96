//! Admin: the app's experiments and the report of each, for the growth team's decision.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::error::ApiError;
use crate::experiments::{Report, ReportMetric, report};
use crate::extract::{Json, Query};
use crate::keys::Mode;

/// One experiment as configured.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExperimentView {
    /// Its key, as rules and exposures name it.
    pub key: String,
    /// `running` (assigning customers) or `stopped`.
    pub status: &'static str,
    /// Share of customers enrolled.
    pub coverage: f64,
    /// The arms, in order: `{ key, weight, holdout }`.
    pub variants: Vec<holdfast_core::assignment::Variant>,
}

/// The list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExperimentList {
    /// In the config's order.
    pub experiments: Vec<ExperimentView>,
}

/// The app's experiments with their status.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/experiments",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    responses((status = 200, description = "The experiments", body = ExperimentList))
)]
pub async fn list(Extension(app): Extension<Arc<LoadedApp>>) -> Json<ExperimentList> {
    Json(ExperimentList {
        experiments: app
            .config
            .experiments
            .iter()
            .map(|x| ExperimentView {
                key: x.key.clone(),
                status: if x.active { "running" } else { "stopped" },
                coverage: x.coverage,
                variants: x.variants.clone(),
            })
            .collect(),
    })
}

/// Query parameters of a report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// `save_rate` (default), `retained_30d` or `prompt_conversion`.
    #[param(inline)]
    pub metric: Option<ReportMetric>,
    /// `test` or `live`: the admin key's mode (the default; the other is refused).
    pub mode: Option<Mode>,
}

/// An experiment's report: per variant the units, conversions, rate and, against the control,
/// `uplift`, `ci`, `p_value`, `chance_to_win`, `expected_loss`, `sequential_p_value` and
/// `sequential_ci` (core's statistics, as GrowthBook computes them), the health checks and the
/// verdict.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/experiments/{key}/report",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("key" = String, Path, description = "The experiment's key"),
        ReportParams,
    ),
    responses(
        (status = 200, description = "The report", body = Report),
        (status = 404, description = "No such app, or no such experiment in its config", body = crate::error::ErrorResponse),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, key)): Path<(String, String)>,
    Query(params): Query<ReportParams>,
) -> Result<Json<Report>, ApiError> {
    let mode = caller.mode_for(params.mode)?;
    let Some(experiment) = app.config.experiments.iter().find(|x| x.key == key) else {
        return Err(ApiError::not_found(
            "no_such_experiment",
            format!("{key:?} is not an experiment of this app's config"),
        ));
    };
    let facts = state
        .inner
        .storage
        .experiment_facts(&app.record.id, mode == Mode::Live, &key)
        .await?;
    let metric = params.metric.unwrap_or_default();
    Ok(Json(report(
        experiment,
        metric,
        &facts,
        crate::clock::now(),
    )))
}

/// The experiment named in the path, or 404.
fn find(app: &LoadedApp, key: &str) -> Result<usize, ApiError> {
    app.config
        .experiments
        .iter()
        .position(|x| x.key == key)
        .ok_or_else(|| {
            ApiError::not_found(
                "no_such_experiment",
                format!("{key:?} is not an experiment of this app's config"),
            )
        })
}

/// Starts (or restarts) an experiment: it assigns customers again. A restart gets a new seed, so
/// the rerun's split owes nothing to the stopped run's.
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/experiments/{key}/start",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("key" = String, Path, description = "The experiment's key"),
    ),
    responses(
        (status = 200, description = "Running, in a new config version", body = crate::routes::admin_config::CurrentConfig),
        (status = 404, description = "No such experiment", body = crate::error::ErrorResponse),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Path((_, key)): Path<(String, String)>,
) -> Result<Json<crate::routes::admin_config::CurrentConfig>, ApiError> {
    let i = find(&app, &key)?;
    let mut config = app.config.clone();
    let x = &mut config.experiments[i];
    if !x.active {
        x.active = true;
        x.seed = Some(format!("{key}@{}", app.record.config_version + 1));
    }
    crate::routes::admin_config::save(&state, &app, config).await
}

/// Stops an experiment: nobody is assigned or exposed any more; its report stays readable.
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/experiments/{key}/stop",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("key" = String, Path, description = "The experiment's key"),
    ),
    responses(
        (status = 200, description = "Stopped, in a new config version", body = crate::routes::admin_config::CurrentConfig),
        (status = 404, description = "No such experiment", body = crate::error::ErrorResponse),
    )
)]
pub async fn stop(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Path((_, key)): Path<(String, String)>,
) -> Result<Json<crate::routes::admin_config::CurrentConfig>, ApiError> {
    let i = find(&app, &key)?;
    let mut config = app.config.clone();
    config.experiments[i].active = false;
    crate::routes::admin_config::save(&state, &app, config).await
}

/// What to ship.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ship {
    /// The winning variant's key.
    #[schema(min_length = 1, max_length = 128)]
    pub variant: String,
}

/// Ships a variant: its rules apply to everyone from the new config version on, the other
/// variants' rules go, and the experiment leaves the config (restore the previous version to undo).
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/experiments/{key}/ship",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("key" = String, Path, description = "The experiment's key"),
    ),
    request_body = Ship,
    responses(
        (status = 200, description = "Shipped, in a new config version", body = crate::routes::admin_config::CurrentConfig),
        (status = 404, description = "No such experiment", body = crate::error::ErrorResponse),
        (status = 422, description = "No such variant, or a holdout; `field` names it", body = crate::error::ErrorResponse),
    )
)]
pub async fn ship(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Path((_, key)): Path<(String, String)>,
    Json(body): Json<Ship>,
) -> Result<Json<crate::routes::admin_config::CurrentConfig>, ApiError> {
    find(&app, &key)?;
    let config = holdfast_core::experiment::ship(&app.config, &key, &body.variant)
        .map_err(|p| ApiError::invalid(p.path, p.message))?;
    crate::routes::admin_config::save(&state, &app, config).await
}
