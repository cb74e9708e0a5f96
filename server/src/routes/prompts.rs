//! Upgrade prompts: each customer's prompt state for the widget's caps, and conversion stats.
//!
//! - `POST /v1/apps/{app_id}/prompts/plan` (public): whether a usage report or a gate hit earns a
//!   prompt, and if so the prompt written out (core's `PromptPlan`), decided here from the app's
//!   config and the customer's history so the browser downloads the prompt bundle only to render.
//! - `POST /v1/apps/{app_id}/prompts/state` (public): the history `holdfast_core::caps::decide`
//!   needs, kept by the server so caps hold across the customer's devices.
//! - `GET /v1/admin/apps/{app_id}/prompts/stats` (admin): shown, clicked, dismissed, trials and
//!   upgrades per prompt, trigger, threshold, plan and variant.
//!
//! The state is written by event ingest (`crate::funnel::prompt_event` turns a widget event into
//! a prompt change); conversions by the lifecycle endpoint's `upgraded` reports.

use crate::storage::Scope;
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use holdfast_core::caps::{History, Impression, Snooze};
use holdfast_core::prompts::{Ask, PromptPlan, write_plan};
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
            Scope::new(&app.record.id, verified.mode.is_live()),
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

/// What the host called: `Holdfast.usage` or `Holdfast.gate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromptCall {
    /// `Holdfast.usage`: a metric against its limit (`seats` for seats).
    Usage,
    /// `Holdfast.gate`: the customer tried a locked feature (this request is the hit).
    Gate,
}

/// The most pending events a plan request may carry: the outbox's capacity.
const MAX_PENDING: usize = 1000;

/// A prompt plan request: the customer as `prompts/state` takes it, and the host's options as
/// given to `Holdfast.usage` / `Holdfast.gate` (other fields of those options, such as the
/// callbacks, are ignored).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PromptPlanRequest {
    /// The customer: a token signed by the host's backend, or (test mode) core's `Customer`.
    pub customer: crate::customers::CustomerInput,
    /// Which call.
    pub ask: PromptCall,
    /// Usage: the host's metric name (`projects`); `seats` reads seats from the customer.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]+$"
    )]
    pub metric: Option<String>,
    /// Usage: used so far this period (seats: seats in use, default the customer's).
    #[schema(minimum = 0)]
    pub used: Option<f64>,
    /// Usage: the plan's limit; 0 or absent is no limit (seats: default the customer's).
    #[schema(minimum = 0)]
    pub limit: Option<f64>,
    /// Usage: the plan has no limit on this metric.
    pub unlimited: Option<bool>,
    /// Usage: when usage resets, Unix seconds (identifies the period).
    #[schema(minimum = 0)]
    pub period_end: Option<i64>,
    /// Seats: teammates invited so far.
    #[schema(minimum = 0)]
    pub invites: Option<f64>,
    /// Gate: the host's feature name (`sso`).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]+$"
    )]
    pub feature: Option<String>,
    /// The host's locale option, before the customer's and the app's default: a BCP 47 tag
    /// (letters, digits and hyphens).
    #[schema(min_length = 1, max_length = 35, pattern = r"^[A-Za-z0-9-]+$")]
    pub locale: Option<String>,
    /// Events still in the browser's outbox (widget events, as `POST .../events` takes them):
    /// the prompts it showed and the snoozes it recorded that the server may not have yet, so a
    /// prompt shown a moment ago counts against the caps. They only ever hold a prompt back, so
    /// they are taken as they are; anything else in them is ignored.
    #[serde(default)]
    #[schema(value_type = Vec<Object>, max_items = 1000)]
    pub pending: Vec<serde_json::Value>,
}

fn amount(value: Option<f64>, field: &str) -> Result<Option<f64>, ApiError> {
    match value {
        Some(n) if !(n.is_finite() && n >= 0.0) => {
            Err(ApiError::invalid(field, "expected a number of 0 or more"))
        }
        other => Ok(other),
    }
}

/// Whether a usage report or gate hit earns a prompt.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/prompts/plan",
    tag = "public",
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = PromptPlanRequest,
    responses(
        (status = 200, description = "The plan (core's PromptPlan): `{ show: false, reason }`, or `{ show: true, prompt }` with its text, theme and buttons", body = Object),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorResponse),
        (status = 401, description = "The customer token is refused (expired, wrong audience, bad signature, unknown key id, missing claim)", body = crate::error::ErrorResponse),
        (status = 403, description = "Origin not allowed", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused (a call without its metric or feature, a number below 0); `field` names it", body = crate::error::ErrorResponse),
        (status = 429, description = "Rate limited", body = crate::error::ErrorResponse),
        (status = 503, description = "A backlog of events is being folded (a gate hit could not be recorded): retry after `Retry-After`", body = crate::error::ErrorResponse),
    )
)]
/// Decides with core's `evaluate` over the customer's stored history plus what the browser has
/// not delivered yet, and writes the prompt out. The impression is recorded when the widget reports
/// `prompt_shown`, not here: the browser may still hold the prompt back (the cancel flow or a more
/// urgent prompt is on screen), and an impression is a display. A gate call is the hit itself: it
/// is recorded here, through the events path, so the count is the server's.
pub async fn plan(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Json(body): Json<PromptPlanRequest>,
) -> Result<axum::Json<PromptPlan>, ApiError> {
    let now = crate::clock::now();
    let verified =
        crate::customers::verify(&app, &body.customer, now, crate::customers::Expiry::Strict)?;
    let customer = &verified.customer;
    if body.pending.len() > MAX_PENDING {
        return Err(ApiError::invalid(
            "pending",
            "at most 1000 pending events may be sent",
        ));
    }
    if let Some(locale) = &body.locale
        && (locale.is_empty()
            || locale.len() > 35
            || !locale
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(ApiError::invalid(
            "locale",
            "expected a BCP 47 language tag such as en-GB",
        ));
    }
    let (used, limit) = (amount(body.used, "used")?, amount(body.limit, "limit")?);
    let invites = amount(body.invites, "invites")?;
    if body.period_end.is_some_and(|t| t < 0) {
        return Err(ApiError::invalid("period_end", "expected Unix seconds"));
    }
    state
        .settle_for(&app.record.id, verified.mode.is_live(), &customer.id)
        .await;
    let stored = state
        .inner
        .storage
        .prompt_state(
            Scope::new(&app.record.id, verified.mode.is_live()),
            &customer.id,
            now - HISTORY_DAYS * DAY,
            now,
            MAX_IMPRESSIONS,
        )
        .await?;
    let mut history = History {
        impressions: stored.impressions,
        snoozes: stored.snoozes,
    };
    for (i, value) in body.pending.iter().enumerate() {
        let Ok(event) = serde_json::from_value::<crate::funnel::Event>(value.clone()) else {
            continue;
        };
        use crate::storage::prompts::PromptChange;
        match crate::funnel::prompt_event(i, &event, &event.id, customer, &[]) {
            Ok(Some(e)) => match e.change {
                PromptChange::Shown(shown) => {
                    let impression = Impression {
                        prompt: shown.prompt,
                        at: e.at,
                        trigger_key: shown.trigger_key,
                    };
                    if !history.impressions.contains(&impression) {
                        history.impressions.push(impression);
                    }
                }
                PromptChange::Dismissed(Some(snooze)) => history.snoozes.push(snooze),
                _ => {}
            },
            _ => continue,
        }
    }
    let text = |field: &str, value: &Option<String>| match value.as_deref() {
        Some(v) if !v.is_empty() => {
            crate::text::key(|| field.into(), v, crate::text::MAX_KEY).map(|()| v.to_string())
        }
        _ => Err(ApiError::invalid(
            field,
            format!(
                "expected a non-empty string for a {} call",
                match body.ask {
                    PromptCall::Usage => "usage",
                    PromptCall::Gate => "gate",
                }
            ),
        )),
    };
    let whole = |n: Option<f64>| n.map(|n| n as u64);
    let (metric, feature);
    let ask = match body.ask {
        PromptCall::Gate => {
            feature = text("feature", &body.feature)?;
            let hits = stored.gate_hits.get(&feature).copied().unwrap_or(0) + 1;
            record_gate_hit(&state, &app, &verified, &feature).await?;
            Ask::Gate {
                feature: &feature,
                hits: u32::try_from(hits).unwrap_or(u32::MAX),
            }
        }
        PromptCall::Usage => {
            metric = text("metric", &body.metric)?;
            if metric == "seats" {
                let seats = |n: Option<u64>, own: Option<u32>| {
                    n.map_or(own.unwrap_or(0), |n| u32::try_from(n).unwrap_or(u32::MAX))
                };
                Ask::Seats {
                    used: seats(whole(used), customer.seats_used),
                    limit: seats(whole(limit), customer.seats_limit),
                    invites: seats(whole(invites), None),
                }
            } else {
                Ask::Usage {
                    metric: &metric,
                    used: whole(used).ok_or_else(|| {
                        ApiError::invalid(
                            "used",
                            "a usage call needs `used`, a number of 0 or more",
                        )
                    })?,
                    limit: whole(limit).unwrap_or(0),
                    unlimited: body.unlimited.unwrap_or(false),
                    period_end: body.period_end,
                }
            }
        }
    };
    Ok(axum::Json(write_plan(
        &app.config,
        customer,
        &ask,
        &history,
        body.locale.as_deref(),
        now,
    )))
}

/// Records a gate hit as the widget's `gate_hit` event would be, so stats and the trial check
/// count it.
async fn record_gate_hit(
    state: &AppState,
    app: &LoadedApp,
    verified: &crate::customers::VerifiedCustomer,
    feature: &str,
) -> Result<(), ApiError> {
    let event: crate::funnel::Event = serde_json::from_value(serde_json::json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "gate_hit",
        "at": crate::clock::now_ms(),
        "session_id": uuid::Uuid::new_v4().to_string(),
        "feature": feature,
    }))
    .map_err(|e| ApiError::internal(anyhow::anyhow!("a gate hit event: {e}")))?;
    crate::funnel::record(state, app, verified, &[event]).await?;
    Ok(())
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
            conversion: holdfast_core::rates::rate(t.upgraded, t.shown),
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
            Scope::new(&app.record.id, mode.is_live()),
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
        .record_trial(Scope::new(&app.record.id, mode.is_live()), &trial)
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
        ends_on: holdfast_core::calendar::iso_day(ends),
    }))
}
