//! Admin: the cancel-session numbers of `../shared/METRICS.md` for a time range, read from the
//! hourly rollups the fold keeps (`storage::rollup`), so the answer's cost grows with hours times
//! dimensions, not with sessions or raw events.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use holdfast_core::rates::{rate, share};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::storage::{RetentionCount, StatsRange, Tally};

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

/// Retention of sessions at one horizon (`../shared/METRICS.md`, "Retained at 30 days").
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Retention {
    /// Sessions old enough to know (started at least the horizon ago).
    pub measured: i64,
    /// Of those, sessions whose customer was still subscribed the horizon later: no churn in
    /// force then (a recorded cancellation from its effective date, or a `churned` lifecycle
    /// event, unless a later `resumed` or `upgraded` undid it).
    pub retained: i64,
    /// retained / measured; null until a session is old enough.
    pub rate: Option<f64>,
    /// Sessions younger than the horizon: not counted yet, never as retained.
    pub pending: i64,
}

impl From<RetentionCount> for Retention {
    fn from(r: RetentionCount) -> Self {
        Self {
            measured: r.measured,
            retained: r.retained,
            rate: share(r.retained, r.measured),
            pending: r.pending,
        }
    }
}

/// The numbers of `../shared/METRICS.md` over a set of cancel sessions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Outcomes {
    /// Cancel sessions: flows opened, where a customer's flows opened within 30 minutes of each
    /// other count once (as the latest), and bounces are left out. The denominator of every rate.
    pub sessions: i64,
    /// Flows closed within 5 seconds of their start with no step after `flow_started`: reported
    /// apart, not sessions.
    pub bounces: i64,
    /// Flows merged into a later one of the same customer opened within 30 minutes.
    pub duplicates: i64,
    /// Sessions whose outcome is `saved`: an offer accepted, recorded by the server.
    pub saves: i64,
    /// save_rate = saves / sessions (0 when there are no sessions): the headline, and the
    /// strict one.
    pub save_rate: f64,
    /// deflection_rate = (sessions - cancels) / sessions (0 when there are no sessions): sessions
    /// not ending in a cancellation, what some vendors call a save rate; shown beside it.
    pub deflection_rate: f64,
    /// Sessions whose outcome is `cancelled`: confirmed, recorded by the server.
    pub cancels: i64,
    /// Sessions whose outcome is `abandoned`: closed with neither, or open for 24 hours.
    pub abandons: i64,
    /// Sessions whose outcome is `pending`: still open, younger than 24 hours. Exactly one of
    /// saves, cancels, abandons and pending counts each session.
    pub pending: i64,
    /// Saved MRR: the customer's MRR at session time, summed over saved sessions (a monthly
    /// figure).
    pub saved_mrr_cents: i64,
    /// Offer cost: what the accepted offers give away over their whole terms (25% off for 3
    /// months on $49 costs $36.75). Shown beside saved MRR, never subtracted from it.
    pub offer_cost_cents: i64,
    /// Of sessions at least 30 days old, those whose customer was still subscribed 30 days later.
    pub retained_30d: Retention,
    /// The same at 60 days.
    pub retained_60d: Retention,
    /// The same at 90 days.
    pub retained_90d: Retention,
    /// Net revenue kept over 90 days, summed over sessions at least 90 days old: per session,
    /// MRR times the months still subscribed within the 90 days after it, less the part of the
    /// accepted offer's cost inside those months (the cost accrues evenly over the offer's term).
    pub net_revenue_kept_90d_cents: i64,
    /// Sessions at least 90 days old: those `net_revenue_kept_90d_cents` sums.
    pub net_revenue_kept_90d_sessions: i64,
    /// net_revenue_kept_90d_cents / net_revenue_kept_90d_sessions; null until a session is old
    /// enough. The primary metric of an offer experiment.
    pub net_revenue_kept_90d_per_session_cents: Option<f64>,
}

impl From<Tally> for Outcomes {
    fn from(t: Tally) -> Self {
        Self {
            sessions: t.sessions,
            bounces: t.bounces,
            duplicates: t.duplicates,
            saves: t.saves,
            save_rate: rate(t.saves, t.sessions),
            deflection_rate: rate(t.sessions - t.cancels, t.sessions),
            cancels: t.cancels,
            abandons: t.abandons,
            pending: t.pending,
            saved_mrr_cents: t.saved_mrr_cents,
            offer_cost_cents: t.offer_cost_cents,
            retained_30d: t.retention[0].into(),
            retained_60d: t.retention[1].into(),
            retained_90d: t.retention[2].into(),
            net_revenue_kept_90d_cents: t.net_revenue_90d_cents,
            net_revenue_kept_90d_sessions: t.net_revenue_sessions,
            net_revenue_kept_90d_per_session_cents: share(
                t.net_revenue_90d_cents,
                t.net_revenue_sessions,
            ),
        }
    }
}

/// One value of a breakdown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Row {
    /// The value (`too_expensive`, `discount`, `2026-11-16`, ...; `none` when absent).
    pub key: String,
    /// This value's sessions / sessions with any value of the dimension (`none` left out; null
    /// for `none` itself). For `reason`, the reason share: sessions choosing the reason /
    /// sessions that answered the survey, with the reason's own save rate beside it.
    pub share: Option<f64>,
    /// Its outcomes, with the same fields as the totals.
    #[serde(flatten)]
    pub outcomes: Outcomes,
}

/// Save durability at one horizon.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Durability {
    /// 30, 60 or 90.
    pub days: i64,
    /// Saved sessions started at least this long ago.
    pub saves_measured: i64,
    /// Of those, sessions whose customer was still subscribed this long after the session.
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
    /// Over all sessions started in range.
    pub totals: Outcomes,
    /// By `reason`, `offer_kind`, `plan`, `tenure_band`, `variant` and `week` (Monday), each row
    /// with the totals' fields.
    pub breakdowns: BTreeMap<String, Vec<Row>>,
    /// Save durability: of saved sessions, the share still subscribed 30, 60 and 90 days later.
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
                let answered: i64 = rows
                    .iter()
                    .filter(|(key, _)| key != "none")
                    .map(|(_, t)| t.sessions)
                    .sum();
                let rows = rows
                    .into_iter()
                    .map(|(key, tally)| Row {
                        share: (key != "none" && answered > 0)
                            .then(|| tally.sessions as f64 / answered as f64),
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
                share: share(d.retained, d.measured),
            })
            .collect(),
    }))
}
