//! Upgrade prompts: each customer's prompt state for the widget's caps, and conversion stats.
//!
//! - `POST /v1/apps/{app_id}/prompts/state` (public): the history `holdfast_core::caps::decide`
//!   needs, kept by the server so caps hold across the customer's devices.
//! - `GET /v1/admin/apps/{app_id}/prompts/stats` (admin): shown, clicked, dismissed, trials and
//!   upgrades per prompt, trigger, threshold, plan and variant.
//!
//! The state is written by event ingest (`crate::funnel::prompt_event` turns a widget event into
//! a prompt change); conversions by the lifecycle endpoint's `upgraded` reports.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use holdfast_core::caps::{Impression, Snooze};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::LoadedApp;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::keys::Mode;
use crate::storage::StatsRange;
use crate::storage::prompts::PromptTally;

/// The state returns impressions of this many days: enough for any cap window.
pub const HISTORY_DAYS: i64 = 400;
/// And at most this many (the latest): caps never allow nearly as many in that time.
pub const MAX_IMPRESSIONS: i64 = 1000;
const DAY: i64 = 86_400;

/// The state request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateRequest {
    /// The customer: a token signed by the host's backend, or (test mode) core's `Customer`.
    pub customer: crate::customers::CustomerInput,
}

/// A customer's prompt state: what `holdfast_core::caps::decide` needs, plus gate hits.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PromptStateBody {
    /// Displays of the last 400 days (at most the latest 1000), oldest first: core's
    /// `Impression`, `{ "prompt", "at" (unix seconds), "trigger_key" }`.
    #[schema(value_type = Vec<Object>)]
    pub impressions: Vec<Impression>,
    /// Per prompt, the latest snooze still running: core's `Snooze`, `{ "prompt", "until" }`.
    #[schema(value_type = Vec<Object>)]
    pub snoozes: Vec<Snooze>,
    /// Gate hits per feature, ever.
    pub gate_hits: BTreeMap<String, i64>,
}

/// The customer's prompt state.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/prompts/state",
    tag = "public",
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = StateRequest,
    responses(
        (status = 200, description = "The state; empty for a customer never seen", body = PromptStateBody),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorResponse),
        (status = 401, description = "The customer token is refused (expired, wrong audience, bad signature, unknown key id, missing claim)", body = crate::error::ErrorResponse),
        (status = 403, description = "Origin not allowed", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused; `field` names it", body = crate::error::ErrorResponse),
        (status = 429, description = "Rate limited", body = crate::error::ErrorResponse),
    )
)]
pub async fn state(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Json(body): Json<StateRequest>,
) -> Result<Json<PromptStateBody>, ApiError> {
    let verified = crate::customers::verify(
        &app,
        &body.customer,
        crate::clock::now(),
        crate::customers::Expiry::Strict,
    )?;
    let customer = &verified.customer;
    let now = crate::clock::now();
    state
        .settle_for(&app.record.id, verified.mode.is_live(), &customer.id)
        .await;
    let s = state
        .inner
        .storage
        .prompt_state(
            &app.record.id,
            verified.mode.is_live(),
            &customer.id,
            now - HISTORY_DAYS * DAY,
            now,
            MAX_IMPRESSIONS,
        )
        .await?;
    Ok(Json(PromptStateBody {
        impressions: s.impressions,
        snoozes: s.snoozes,
        gate_hits: s.gate_hits,
    }))
}

/// Query parameters of prompt stats.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PromptStatsParams {
    /// Impressions shown at or after, unix seconds (default: 30 days before `to`).
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub from: Option<i64>,
    /// Impressions shown before, unix seconds (default: a day from now).
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub to: Option<i64>,
    /// `test` or `live` (default: the app's mode).
    pub mode: Option<Mode>,
}

/// Prompt outcomes over a set of impressions.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PromptOutcomes {
    /// Impressions (`prompt_shown`).
    pub shown: i64,
    /// Impressions whose prompt was clicked.
    pub clicked: i64,
    /// Impressions that were dismissed.
    pub dismissed: i64,
    /// Impressions that led to a trial.
    pub trials: i64,
    /// Impressions followed within 30 days by an upgrade (each upgrade counts for the latest
    /// impression before it).
    pub upgraded: i64,
    /// upgraded / shown (0 when nothing was shown).
    pub conversion: f64,
}

impl From<PromptTally> for PromptOutcomes {
    fn from(t: PromptTally) -> Self {
        Self {
            shown: t.shown,
            clicked: t.clicked,
            dismissed: t.dismissed,
            trials: t.trials,
            upgraded: t.upgraded,
            conversion: if t.shown == 0 {
                0.0
            } else {
                t.upgraded as f64 / t.shown as f64
            },
        }
    }
}

/// One value of a breakdown.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PromptRow {
    /// The value (`usage`, `usage:projects`, `90`, `pro`, `exp:b`; `none` when absent).
    pub key: String,
    /// Its outcomes.
    #[serde(flatten)]
    pub outcomes: PromptOutcomes,
}

/// The prompt stats report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PromptStatsReport {
    /// The mode reported.
    pub mode: Mode,
    /// Range start, unix seconds.
    pub from: i64,
    /// Range end, unix seconds.
    pub to: i64,
    /// Over all impressions in range.
    pub totals: PromptOutcomes,
    /// By `prompt`, `trigger` (`usage:<metric>`, `gate:<feature>`, `seats`), `threshold`,
    /// `plan` and `variant`.
    pub breakdowns: BTreeMap<String, Vec<PromptRow>>,
}

const DEFAULT_RANGE: i64 = 30 * DAY;

/// Upgrade-prompt conversion stats.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/prompts/stats",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), PromptStatsParams),
    responses(
        (status = 200, description = "The report", body = PromptStatsReport),
        (status = 400, description = "Bad query parameter", body = crate::error::ErrorResponse),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
        (status = 422, description = "`from` or `to` is out of range, or `from` is not before `to`", body = crate::error::ErrorResponse),
        (status = 503, description = "A backlog of events is being folded: retry after `Retry-After`", body = crate::error::ErrorResponse),
    )
)]
pub async fn stats(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<crate::apps::AdminCaller>,
    Query(params): Query<PromptStatsParams>,
) -> Result<Json<PromptStatsReport>, ApiError> {
    let now = crate::clock::now();
    let (from, to) = crate::extract::time_range(params.from, params.to, now, DEFAULT_RANGE)?;
    let mode = caller.mode_for(params.mode)?;
    let range = StatsRange {
        live: mode == Mode::Live,
        from,
        to,
        now,
    };
    let data = state
        .inner
        .storage
        .prompt_stats(&app.record.id, &range)
        .await?;
    let breakdowns = data
        .breakdowns
        .into_iter()
        .map(|(dimension, mut rows)| {
            if dimension == "threshold" {
                // 50, 75, 90, 100, then `none`.
                rows.sort_by_key(|(k, _)| k.parse::<i64>().unwrap_or(i64::MAX));
            }
            let rows = rows
                .into_iter()
                .map(|(key, tally)| PromptRow {
                    key,
                    outcomes: tally.into(),
                })
                .collect();
            (dimension.to_string(), rows)
        })
        .collect();
    Ok(Json(PromptStatsReport {
        mode,
        from,
        to,
        totals: data.totals.into(),
        breakdowns,
    }))
}

/// A trial request: the gated feature the subscriber wants to try.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrialRequest {
    /// The customer: a token signed by the host's backend, or (test mode) core's `Customer`.
    pub customer: crate::customers::CustomerInput,
    /// The host's feature name (`sso`).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]+$"
    )]
    pub feature: String,
    /// The prompt session the trial was started from, a UUID.
    #[schema(format = Uuid)]
    pub session_id: String,
}

/// A started trial.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrialStarted {
    /// The feature.
    pub feature: String,
    /// Its length in days (the app's `prompts.gate.trial_days`).
    pub days: i64,
    /// When it started, Unix seconds.
    pub started_at: i64,
    /// Its last day, `YYYY-MM-DD` (UTC).
    pub ends_on: String,
}

/// Starts a feature trial: core re-checks that the gate prompt offers one to this customer (the
/// feature was hit often enough), one trial per feature per customer; the host learns it through
/// `trial.started`.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/prompts/trial",
    tag = "public",
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = TrialRequest,
    responses(
        (status = 200, description = "Started", body = TrialStarted),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorResponse),
        (status = 401, description = "The customer token is refused", body = crate::error::ErrorResponse),
        (status = 403, description = "No trial is offered for this feature to this customer yet", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
        (status = 409, description = "A trial of this feature was started before (`recorded` holds it)", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused; `field` names it", body = crate::error::ErrorResponse),
        (status = 429, description = "Rate limited", body = crate::error::ErrorResponse),
    )
)]
pub async fn trial(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Json(body): Json<TrialRequest>,
) -> Result<Json<TrialStarted>, ApiError> {
    let now = crate::clock::now();
    let verified =
        crate::customers::verify(&app, &body.customer, now, crate::customers::Expiry::Strict)?;
    crate::text::key(|| "feature".into(), &body.feature, crate::text::MAX_KEY)?;
    let session_id = crate::extract::uuid_field(|| "session_id".into(), &body.session_id)?;
    let (customer, mode) = (&verified.customer, verified.mode);
    let gate = &app.config.prompts.gate;
    state
        .settle_for(&app.record.id, mode.is_live(), &customer.id)
        .await;
    let hits = state
        .inner
        .storage
        .prompt_state(
            &app.record.id,
            mode.is_live(),
            &customer.id,
            now - HISTORY_DAYS * DAY,
            now,
            1,
        )
        .await?
        .gate_hits
        .get(&body.feature)
        .copied()
        .unwrap_or(0);
    let offered = app.config.prompts.enabled
        && holdfast_core::caps::gate_should_prompt(
            u32::try_from(hits).unwrap_or(u32::MAX),
            gate.hits_before_prompt,
        );
    if !offered {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "trial_not_offered",
            format!(
                "a trial is offered from the {}th hit of a gated feature; {hits} recorded",
                gate.hits_before_prompt
            ),
        )
        .field("feature"));
    }
    let days = i64::from(gate.trial_days);
    let ends = now + days * DAY;
    let mut data = crate::webhooks::session_data(&app.record.id, mode, &customer.id, &session_id);
    data["feature"] = body.feature.clone().into();
    data["days"] = days.into();
    data["ends_at"] = crate::webhooks::rfc3339(ends).into();
    let trial = crate::storage::outcomes::NewTrial {
        customer_id: customer.id.clone(),
        feature: body.feature.clone(),
        days,
        started_at: now,
        session_id,
        webhook: crate::webhooks::message("trial.started", now, data),
    };
    if let Some((days, started_at, session)) = state
        .inner
        .storage
        .record_trial(&app.record.id, mode.is_live(), &trial)
        .await?
    {
        return Err(ApiError::conflict(
            "trial_started_before",
            "this customer started a trial of this feature before: one per feature",
            serde_json::json!({
            "feature": body.feature, "days": days, "started_at": started_at, "session_id": session,
            }),
        ));
    }
    Ok(Json(TrialStarted {
        feature: body.feature,
        days,
        started_at: now,
        ends_on: crate::webhooks::rfc3339(ends)[..10].to_string(),
    }))
}
