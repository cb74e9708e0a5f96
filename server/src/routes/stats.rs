//! Admin: save-rate stats for a time range, read from the session aggregates that ingest keeps,
//! so the answer's cost grows with the number of sessions in range, never with raw events.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::storage::{StatsRange, Tally};

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// Sessions started at or after, unix seconds (default: 30 days before `to`).
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub from: Option<i64>,
    /// Sessions started before, unix seconds (default: a day from now).
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub to: Option<i64>,
    /// `test` or `live`: the admin key's mode (the default; the other is refused).
    pub mode: Option<Mode>,
}

pub use crate::keys::Mode;

/// Outcomes over a set of sessions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Outcomes {
    /// Cancel sessions started.
    pub sessions: i64,
    /// Sessions saved by an accepted offer.
    pub saves: i64,
    /// saves / sessions (0 when there are no sessions).
    pub save_rate: f64,
    /// Confirmed cancellations.
    pub cancels: i64,
    /// Flows closed without an outcome.
    pub abandons: i64,
    /// MRR of saved sessions.
    pub saved_mrr_cents: i64,
    /// What the accepted offers cost.
    pub offer_cost_cents: i64,
    /// Saved MRR net of offer cost.
    pub net_saved_mrr_cents: i64,
}

impl From<Tally> for Outcomes {
    fn from(t: Tally) -> Self {
        Self {
            sessions: t.sessions,
            saves: t.saves,
            save_rate: if t.sessions == 0 {
                0.0
            } else {
                t.saves as f64 / t.sessions as f64
            },
            cancels: t.cancels,
            abandons: t.abandons,
            saved_mrr_cents: t.saved_mrr_cents,
            offer_cost_cents: t.offer_cost_cents,
            net_saved_mrr_cents: t.saved_mrr_cents - t.offer_cost_cents,
        }
    }
}

/// One value of a breakdown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Row {
    /// The value (`too_expensive`, `discount`, `2026-11-16`, ...; `none` when absent).
    pub key: String,
    /// Its outcomes.
    #[serde(flatten)]
    pub outcomes: Outcomes,
}

/// Save durability at one horizon.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Durability {
    /// 30, 60 or 90.
    pub days: i64,
    /// Saves at least this old.
    pub saves_measured: i64,
    /// Of those, still subscribed.
    pub retained: i64,
    /// retained / saves_measured, null until a save is old enough.
    pub share: Option<f64>,
}

/// The report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsReport {
    /// The mode reported.
    pub mode: Mode,
    /// Range start, unix seconds.
    pub from: i64,
    /// Range end, unix seconds.
    pub to: i64,
    /// Over all sessions in range.
    pub totals: Outcomes,
    /// By `reason`, `offer_kind`, `plan`, `tenure_band`, `variant` and `week` (Monday).
    pub breakdowns: BTreeMap<String, Vec<Row>>,
    /// Of saved customers, the share still subscribed 30, 60 and 90 days later.
    pub durability: Vec<Durability>,
}

const DEFAULT_RANGE: i64 = 30 * 86_400;

/// Save-rate stats.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/stats",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), StatsParams),
    responses(
        (status = 200, description = "The report", body = StatsReport),
        (status = 400, description = "Bad query parameter", body = crate::error::ErrorResponse),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
        (status = 422, description = "`from` or `to` is out of range, or `from` is not before `to`", body = crate::error::ErrorResponse),
        (status = 503, description = "A backlog of events is being folded: retry after `Retry-After`", body = crate::error::ErrorResponse),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Query(params): Query<StatsParams>,
) -> Result<Json<StatsReport>, ApiError> {
    let now = crate::clock::now();
    let (from, to) = crate::extract::time_range(params.from, params.to, now, DEFAULT_RANGE)?;
    let mode = caller.mode_for(params.mode)?;
    let range = StatsRange {
        live: mode == Mode::Live,
        from,
        to,
        now,
    };
    let data = state.inner.storage.stats(&app.record.id, &range).await?;
    Ok(Json(StatsReport {
        mode,
        from,
        to,
        totals: data.totals.into(),
        breakdowns: data
            .breakdowns
            .into_iter()
            .map(|(dimension, rows)| {
                let rows = rows
                    .into_iter()
                    .map(|(key, tally)| Row {
                        key,
                        outcomes: tally.into(),
                    })
                    .collect();
                (dimension.to_string(), rows)
            })
            .collect(),
        durability: data
            .durability
            .into_iter()
            .map(|d| Durability {
                days: d.days,
                saves_measured: d.measured,
                retained: d.retained,
                share: (d.measured > 0).then(|| d.retained as f64 / d.measured as f64),
            })
            .collect(),
    }))
}
