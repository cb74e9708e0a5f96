//! Admin: the app's experiments and the report of each, for the growth team's decision.

use crate::storage::Scope;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::error::ApiError;
use crate::experiments::{Report, ReportMetric, report_of};
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
    /// What the team expects, when it was created through the API.
    pub hypothesis: Option<String>,
    /// The metric its report defaults to.
    pub primary_metric: ReportMetric,
    /// The smallest relative effect worth detecting.
    pub minimum_detectable_effect: Option<f64>,
}

/// An experiment's note, if it has one.
fn note_of<'a>(
    notes: &'a [crate::storage::experiments::ExperimentNote],
    key: &str,
) -> Option<&'a crate::storage::experiments::ExperimentNote> {
    notes.iter().find(|n| n.key == key)
}

/// The metric a stored note names (the default when none).
fn primary(note: Option<&crate::storage::experiments::ExperimentNote>) -> ReportMetric {
    note.and_then(|n| {
        serde_json::from_value(serde_json::Value::String(n.primary_metric.clone())).ok()
    })
    .unwrap_or_default()
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
pub async fn list(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
) -> Result<Json<ExperimentList>, ApiError> {
    let notes = state.inner.storage.experiment_notes(&app.record.id).await?;
    Ok(Json(ExperimentList {
        experiments: app
            .config
            .experiments
            .iter()
            .map(|x| {
                let note = note_of(&notes, &x.key);
                ExperimentView {
                    key: x.key.clone(),
                    status: if x.active { "running" } else { "stopped" },
                    coverage: x.coverage,
                    variants: x.variants.clone(),
                    hypothesis: note.map(|n| n.hypothesis.clone()),
                    primary_metric: primary(note),
                    minimum_detectable_effect: note.and_then(|n| n.minimum_detectable_effect),
                }
            })
            .collect(),
    }))
}

/// One arm of a new experiment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVariant {
    /// Its key.
    #[schema(min_length = 1, max_length = 30, pattern = r"^[a-z0-9_-]+$")]
    pub key: String,
    /// Share of enrolled customers; the weights sum to 1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub weight: f64,
    /// No offer at all: measures what the flow saves in the first place.
    #[serde(default)]
    pub holdout: bool,
    /// The offer this arm makes for the reason; none keeps the app's own rules (a control).
    #[serde(default)]
    #[schema(max_length = 128)]
    pub offer: Option<String>,
}

/// A new experiment on one reason's offer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExperiment {
    /// Its key, as rules, exposures and reports name it.
    #[schema(min_length = 1, max_length = 30, pattern = r"^[a-z0-9_-]+$")]
    pub key: String,
    /// What the team expects and why.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub hypothesis: String,
    /// The survey reason whose offer varies.
    #[schema(min_length = 1, max_length = 128)]
    pub reason: String,
    /// The arms, in order; the first that is not a holdout is the control.
    #[schema(min_items = 2, max_items = 10)]
    pub variants: Vec<NewVariant>,
    /// Share of customers enrolled (default all).
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub coverage: Option<f64>,
    /// The metric its report defaults to (default `net_revenue_90d`: a deep discount that only
    /// delays churn must lose).
    #[serde(default)]
    pub primary_metric: Option<ReportMetric>,
    /// The smallest relative effect worth detecting.
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 10.0)]
    pub minimum_detectable_effect: Option<f64>,
}

/// Creates an experiment on one reason's offer, stopped: the experiment and one rule per arm
/// with an offer go into a new config version; `start` begins it.
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/experiments",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = NewExperiment,
    responses(
        (status = 200, description = "Created (stopped), in a new config version", body = crate::routes::admin_config::CurrentConfig),
        (status = 409, description = "An experiment with this key exists", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused (an unknown reason or offer, weights that do not sum to 1); `field` names it", body = crate::error::ErrorResponse),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Json(body): Json<NewExperiment>,
) -> Result<Json<crate::routes::admin_config::CurrentConfig>, ApiError> {
    use holdfast_core::assignment::{Experiment, Variant};
    use holdfast_core::config::{Condition, Rule};
    let key_ok = |k: &str| {
        !k.is_empty()
            && k.len() <= 64
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !key_ok(&body.key) {
        return Err(ApiError::invalid(
            "key",
            "1 to 30 lowercase letters, digits, `_` or `-`",
        ));
    }
    crate::text::free_text(|| "hypothesis".into(), &body.hypothesis, 2000)?;
    if app.config.experiments.iter().any(|x| x.key == body.key) {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "experiment_exists",
            format!("an experiment {:?} exists; pick another key", body.key),
        )
        .field("key"));
    }
    if !app.config.reasons.iter().any(|r| r.id == body.reason) {
        return Err(ApiError::invalid(
            "reason",
            format!("{:?} is not a reason of this app's config", body.reason),
        ));
    }
    for (i, v) in body.variants.iter().enumerate() {
        if !key_ok(&v.key) {
            return Err(ApiError::invalid(
                format!("variants[{i}].key"),
                "1 to 30 lowercase letters, digits, `_` or `-`",
            ));
        }
        if v.holdout && v.offer.is_some() {
            return Err(ApiError::invalid(
                format!("variants[{i}].offer"),
                "a holdout makes no offer",
            ));
        }
    }
    let mut config = app.config.clone();
    let rules = body.variants.iter().filter_map(|v| {
        v.offer.as_ref().map(|offer| Rule {
            id: format!("{}__{}", body.key, v.key),
            reasons: vec![body.reason.clone()],
            when: vec![Condition::Variant {
                experiment: body.key.clone(),
                variant: v.key.clone(),
            }],
            offer: Some(offer.clone()),
            fallback: None,
        })
    });
    // First, so an arm's rule wins over the app's own rule for the reason.
    config.rules.splice(0..0, rules.collect::<Vec<_>>());
    config.experiments.push(Experiment {
        key: body.key.clone(),
        seed: None,
        coverage: body.coverage.unwrap_or(1.0),
        variants: body
            .variants
            .iter()
            .map(|v| Variant {
                key: v.key.clone(),
                weight: v.weight,
                holdout: v.holdout,
            })
            .collect(),
        active: false,
    });
    let why = crate::routes::admin_config::Why {
        caller: &caller,
        action: "experiment.created",
        detail: format!("experiment {}", body.key),
    };
    let saved = crate::routes::admin_config::save(&state, &app, config, why).await?;
    let metric = body.primary_metric.unwrap_or(ReportMetric::NetRevenue90d);
    let note = crate::storage::experiments::ExperimentNote {
        key: body.key.clone(),
        hypothesis: body.hypothesis.clone(),
        primary_metric: serde_json::to_value(metric)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        minimum_detectable_effect: body.minimum_detectable_effect,
        created_at: crate::clock::now(),
    };
    state
        .inner
        .storage
        .save_experiment_note(&app.record.id, &note)
        .await?;
    Ok(saved)
}

/// Query parameters of a report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// `save_rate`, `retained_30d`, `prompt_conversion` or `net_revenue_90d` (default: the
    /// experiment's primary metric, else `save_rate`).
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
    let experiment = &app.config.experiments[find(&app, &key)?];
    let metric = match params.metric {
        Some(metric) => metric,
        None => {
            let notes = state.inner.storage.experiment_notes(&app.record.id).await?;
            primary(note_of(&notes, &key))
        }
    };
    // The experiments' rollup: rows per arm and hour, not per exposed customer.
    let now = crate::clock::now();
    let totals = state
        .inner
        .storage
        .experiment_totals(
            Scope::new(&app.record.id, mode == Mode::Live),
            &key,
            metric.cut(now),
        )
        .await?;
    Ok(Json(report_of(experiment, metric, &totals, now)))
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
    Extension(caller): Extension<AdminCaller>,
    Path((_, key)): Path<(String, String)>,
) -> Result<Json<crate::routes::admin_config::CurrentConfig>, ApiError> {
    let i = find(&app, &key)?;
    let mut config = app.config.clone();
    let x = &mut config.experiments[i];
    if !x.active {
        x.active = true;
        x.seed = Some(format!("{key}@{}", app.record.config_version + 1));
    }
    let why = crate::routes::admin_config::Why {
        caller: &caller,
        action: "experiment.started",
        detail: format!("experiment {key}"),
    };
    crate::routes::admin_config::save(&state, &app, config, why).await
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
    Extension(caller): Extension<AdminCaller>,
    Path((_, key)): Path<(String, String)>,
) -> Result<Json<crate::routes::admin_config::CurrentConfig>, ApiError> {
    let i = find(&app, &key)?;
    let mut config = app.config.clone();
    config.experiments[i].active = false;
    let why = crate::routes::admin_config::Why {
        caller: &caller,
        action: "experiment.stopped",
        detail: format!("experiment {key}"),
    };
    crate::routes::admin_config::save(&state, &app, config, why).await
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
    Extension(caller): Extension<AdminCaller>,
    Path((_, key)): Path<(String, String)>,
    Json(body): Json<Ship>,
) -> Result<Json<crate::routes::admin_config::CurrentConfig>, ApiError> {
    find(&app, &key)?;
    let config = holdfast_core::experiment::ship(&app.config, &key, &body.variant)
        .map_err(|p| ApiError::invalid(p.path, p.message))?;
    let why = crate::routes::admin_config::Why {
        caller: &caller,
        action: "experiment.shipped",
        detail: format!("variant {} of experiment {key}", body.variant),
    };
    crate::routes::admin_config::save(&state, &app, config, why).await
}

/// Whom to preview.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The customer as a plain object (the caller holds an admin key, so no token is needed).
    pub customer: holdfast_core::Customer,
    /// The survey answer, or none for a skipped survey.
    #[serde(default)]
    #[schema(max_length = 128)]
    pub reason: Option<String>,
    /// A profile the host would choose explicitly.
    #[serde(default)]
    pub profile: Option<holdfast_core::policy::PolicyProfile>,
    /// A draft config to plan with instead of the live one (the dashboard's editor): checked
    /// like a `PUT` of the config, never stored. Variants still come from the live experiments.
    #[serde(default)]
    pub config: Option<holdfast_core::config::AppConfig>,
}

/// A customer's place in one experiment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewVariant {
    /// The experiment.
    pub experiment: String,
    /// The variant.
    pub variant: String,
    /// Whether it is a holdout (no offer at all).
    pub holdout: bool,
    /// `true`: the customer's recorded first exposure; `false`: where the hash puts them now.
    pub sticky: bool,
}

/// An offer left out and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    /// The offer.
    pub offer_id: String,
    /// Why it is not eligible (a cooldown, an earlier discount, no cheaper plan).
    pub why: String,
}

/// What a customer would get, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// The customer's variants in the running experiments.
    pub variants: Vec<PreviewVariant>,
    /// The rule that matched (`holdout` when a holdout suppresses every offer), if any.
    pub rule: Option<String>,
    /// The offers the dialog would show, in screen order, with their terms.
    pub offers: Vec<holdfast_core::offer::Offer>,
    /// The rule's offers left out, and why.
    pub skipped: Vec<Skipped>,
    /// The policy profile the session would run under.
    pub profile: holdfast_core::policy::PolicyProfile,
    /// Why that profile.
    #[schema(value_type = String)]
    pub profile_basis: holdfast_core::plan::ProfileBasis,
    /// The customer's redemptions the cooldowns read: `(offer kind, accepted at)`.
    pub ledger: Vec<(String, i64)>,
}

/// Which variant and which offer a customer would get for a reason, and why: the rule matched,
/// the offers left out (cooldowns, the customer's ledger when the id is known), the profile.
/// For support and QA: nothing is recorded, nobody is exposed.
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/preview",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "The preview", body = Preview),
        (status = 422, description = "A customer field or the reason is refused; `field` names it", body = crate::error::ErrorResponse),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Json(body): Json<PreviewRequest>,
) -> Result<Json<Preview>, ApiError> {
    use holdfast_core::targeting::{OfferContext, Refusal, select_offer};
    let mode = caller.mode_for(None)?;
    let customer = &body.customer;
    crate::customers::check_fields(customer)?;
    crate::text::optional_key(
        || "reason".into(),
        body.reason.as_deref(),
        crate::text::MAX_KEY,
    )?;
    let config = match &body.config {
        Some(draft) => {
            let validation = draft.validate();
            if !validation.is_ok() {
                return Err(ApiError::invalid_config(validation.errors));
            }
            draft
        }
        None => &app.config,
    };
    if let Some(r) = body.reason.as_deref()
        && config.reason(r).is_none()
    {
        return Err(ApiError::invalid(
            "reason",
            format!("{r:?} is not a reason of this app's config"),
        ));
    }
    let (variants, fresh) = crate::cancel::customer_variants(&state, &app, mode, customer).await?;
    let ledger = crate::cancel::customer_ledger(&state, &app, mode, customer).await?;
    let refs = crate::cancel::variant_refs(&variants);
    let now = crate::clock::now();
    let selection = select_offer(&OfferContext {
        config,
        customer,
        reason: body.reason.as_deref(),
        variants: &refs,
        ledger: &ledger,
        now,
    });
    let profile = holdfast_core::plan::session_profile(config, customer, body.profile, None);
    Ok(Json(Preview {
        variants: variants
            .iter()
            .map(|(experiment, variant, holdout)| PreviewVariant {
                sticky: !fresh.iter().any(|(e, _)| e == experiment),
                experiment: experiment.clone(),
                variant: variant.clone(),
                holdout: *holdout,
            })
            .collect(),
        rule: selection.as_ref().map(|s| s.rule.to_string()),
        offers: selection
            .as_ref()
            .map(|s| s.offers.iter().map(|o| (*o).clone()).collect())
            .unwrap_or_default(),
        skipped: selection
            .as_ref()
            .map(|s| {
                s.skipped
                    .iter()
                    .map(|(id, why)| Skipped {
                        offer_id: (*id).to_string(),
                        why: Refusal::Ineligible(why.clone()).to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        profile,
        profile_basis: holdfast_core::plan::profile_basis(&app.config, customer, profile),
        ledger: ledger
            .iter()
            .map(|r| {
                (
                    serde_json::to_value(r.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    r.at,
                )
            })
            .collect(),
    }))
}
