//! Cancel sessions: the cancellation call the widget and the no-JavaScript page make when the
//! subscriber confirms; the admin reads the host's backend makes before acting on an outcome
//! (cancel the subscription at the period's end, apply the discount); and the sessions log the
//! growth team reads, every session with its survey answer's free text, searchable, filtered, a
//! page at a time or all at once as CSV (see [`crate::session_log`]).

use crate::storage::Scope;
use std::sync::Arc;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use holdfast_core::policy::PolicyProfile;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::cancel::{CancelRequest, outcome_view};
use crate::customers::{self, CustomerInput, Expiry};
use crate::error::ApiError;
use crate::extract::{Json, Query, uuid_field};
use crate::keys::Mode;
use crate::session_log::{CSV_HEADER, Cursor, SessionEntry, csv_line};
use crate::storage::session_log::{LogKey, SessionFilter, SessionOutcome};
use crate::storage::{REPORT_WAIT, Storage};
use crate::text;

/// The cancellation request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// The customer: a token signed by the host's backend, or (test mode) core's `Customer`.
    pub customer: CustomerInput,
    /// The survey answer, if one was given.
    #[serde(default)]
    #[schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub reason: Option<String>,
    /// The profile the host chose for the session (default: resolved from the customer).
    #[serde(default)]
    pub profile: Option<PolicyProfile>,
    /// Test mode only: when the paid period ends, Unix seconds (a token signs `period_end`).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub period_end: Option<i64>,
}

/// Records the subscriber's confirmed cancellation.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/sessions/{session_id}/cancel",
    tag = "public",
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("session_id" = uuid::Uuid, Path, description = "The cancel session, a UUID"),
    ),
    request_body = CancelBody,
    responses(
        (status = 200, description = "Recorded (a retry gets the first answer)", body = crate::cancel::Cancelled),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorResponse),
        (status = 401, description = "The customer token is refused", body = crate::error::ErrorResponse),
        (status = 403, description = "Origin not allowed", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
        (status = 409, description = "The session was saved first (`recorded` holds the save)", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused; `field` names it", body = crate::error::ErrorResponse),
        (status = 429, description = "Rate limited", body = crate::error::ErrorResponse),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Path((_, session_id)): Path<(String, String)>,
    Json(body): Json<CancelBody>,
) -> Result<Response, ApiError> {
    let verified = customers::verify(&app, &body.customer, crate::clock::now(), Expiry::Strict)?;
    let session_id = uuid_field(|| "session_id".into(), &session_id)?;
    text::optional_key(|| "reason".into(), body.reason.as_deref(), text::MAX_KEY)?;
    if let Some(r) = body.reason.as_deref()
        && !app.known.reason(r)
    {
        return Err(ApiError::invalid(
            "reason",
            format!("{r:?} is not a reason of this app's config"),
        ));
    }
    if body.period_end.is_some() && matches!(body.customer, CustomerInput::Token(_)) {
        return Err(ApiError::invalid(
            "period_end",
            "with a customer token, period_end comes from the token's signed claim",
        ));
    }
    if body
        .period_end
        .is_some_and(|end| !customers::period_end_ok(end, crate::clock::now()))
    {
        return Err(ApiError::invalid(
            "period_end",
            "period_end is Unix seconds, not negative and at most ten years ahead",
        ));
    }
    let req = CancelRequest {
        session_id,
        reason: body.reason,
        profile: body.profile,
        period_end: body.period_end,
    };
    let response = crate::cancel::record_cancel(&state, &app, &verified, &req).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        response,
    )
        .into_response())
}

/// A customer's recorded outcomes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerSessions {
    /// Newest first, at most 100.
    #[schema(value_type = Vec<Object>)]
    pub sessions: Vec<serde_json::Value>,
}

/// Reads a session's recorded outcome (in the admin key's mode).
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/sessions/{session_id}",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("session_id" = uuid::Uuid, Path, description = "The cancel session, a UUID"),
    ),
    responses(
        (status = 200, description = "The outcome: saved or cancelled, offer and terms, profile, effective date, receipt, times, history", body = Object),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
        (status = 404, description = "No outcome recorded for this session in this mode", body = crate::error::ErrorResponse),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, session_id)): Path<(String, String)>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let session_id = uuid_field(|| "session_id".into(), &session_id)?;
    let outcome = state
        .inner
        .storage
        .outcome(
            Scope::new(&app.record.id, caller.mode.is_live()),
            &session_id,
        )
        .await?
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no_outcome",
                format!(
                    "no outcome is recorded for session {session_id} in {} mode",
                    caller.mode
                ),
            )
            .field("session_id")
        })?;
    Ok(axum::Json(outcome_view(&outcome)))
}

/// Lists a customer's recorded outcomes (in the admin key's mode).
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/customers/{customer_id}/sessions",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("customer_id" = String, Path, min_length = 1, max_length = 256, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", description = "The host's customer id"),
    ),
    responses(
        (status = 200, description = "Newest first", body = CustomerSessions),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
    )
)]
pub async fn for_customer(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, customer_id)): Path<(String, String)>,
) -> Result<axum::Json<CustomerSessions>, ApiError> {
    customers::check_id("customer_id", &customer_id)?;
    let outcomes = state
        .inner
        .storage
        .customer_outcomes(
            Scope::new(&app.record.id, caller.mode.is_live()),
            &customer_id,
            100,
        )
        .await?;
    Ok(axum::Json(CustomerSessions {
        sessions: outcomes.iter().map(outcome_view).collect(),
    }))
}

/// Sessions per page when the query names no `limit`.
const DEFAULT_LIMIT: i64 = 50;
/// The most sessions one page holds.
const MAX_LIMIT: i64 = 200;
/// The longest search text, in characters.
const MAX_SEARCH: usize = 200;
/// Sessions read per page of the CSV export.
const EXPORT_PAGE: i64 = 500;
/// The range a log covers when the query names none: the stats' default.
const DEFAULT_RANGE: i64 = 30 * 86_400;

/// The log's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// A page of sessions as JSON, with the cursor of the next page and the total.
    #[default]
    Json,
    /// Every matching session as CSV with a header line, as a download.
    Csv,
}

/// Query parameters of the sessions log. An empty value is the same as none, so a dashboard
/// form can send every field.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Sessions started at or after, unix seconds (default: 30 days before `to`).
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub from: Option<i64>,
    /// Sessions started before, unix seconds (default: a day from now).
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub to: Option<i64>,
    /// `test` or `live`: the admin key's mode (the default; the other is refused).
    pub mode: Option<Mode>,
    /// Text to find, ignoring case, in the free text, the customer id or the session id.
    #[param(max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub q: Option<String>,
    /// Only this reason id (`none`: sessions without a survey answer).
    #[param(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub reason: Option<String>,
    /// Only sessions that ended this way.
    #[param(inline)]
    pub outcome: Option<SessionOutcome>,
    /// Only this offer kind (`discount`, `pause`, ...; `none`: no offer shown).
    #[param(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub offer_kind: Option<String>,
    /// Only this plan.
    #[param(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub plan: Option<String>,
    /// Only this `experiment:variant` (`none`: in no experiment).
    #[param(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub variant: Option<String>,
    /// Sessions per page, 1 to 200 (default 50); the CSV export ignores it.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page, as given; the CSV export ignores it.
    #[param(max_length = 512)]
    pub cursor: Option<String>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    pub format: Option<LogFormat>,
}

/// A page of the sessions log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionLog {
    /// Newest first (by start, then session id).
    pub sessions: Vec<SessionEntry>,
    /// Pass it as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// How many sessions match the query, on every page.
    pub total: i64,
}

/// Turns the query's filters into a [`SessionFilter`], refusing each bad one by name.
fn filter_of(
    params: &LogParams,
    mode: Mode,
    from: i64,
    to: i64,
) -> Result<SessionFilter, ApiError> {
    let value = |name: &'static str, v: &Option<String>, max: usize| match v
        .as_deref()
        .filter(|v| !v.is_empty())
    {
        Some(v) => text::key(|| name.into(), v, max).map(|()| Some(v.to_string())),
        None => Ok(None),
    };
    Ok(SessionFilter {
        live: mode.is_live(),
        from,
        to,
        search: value("q", &params.q, MAX_SEARCH)?,
        reason: value("reason", &params.reason, text::MAX_KEY)?,
        outcome: params.outcome,
        offer_kind: value("offer_kind", &params.offer_kind, text::MAX_KEY)?,
        plan: value("plan", &params.plan, text::MAX_KEY)?,
        variant: value("variant", &params.variant, text::MAX_KEY)?,
    })
}

/// The cancel sessions started in a range, newest first: what each subscriber answered and
/// wrote, the offer and the outcome. Searchable and filtered; a page at a time, or every
/// matching session as CSV.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/sessions",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), LogParams),
    responses(
        (status = 200, description = "A page of sessions as JSON, or with `format=csv` every matching session as CSV with a header line (an attachment, `sessions.csv`)", content(
            (SessionLog = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A query parameter is malformed (an unknown `outcome`, a `limit` that is no number); `field` names it", body = crate::error::ErrorResponse),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
        (status = 403, description = "The key's mode is not the mode asked for", body = crate::error::ErrorResponse),
        (status = 422, description = "`from` or `to` is out of range or `from` is not before `to`, `limit` is not 1 to 200, `cursor` is not one this API gave, or a filter holds a control character; `field` names it", body = crate::error::ErrorResponse),
        (status = 429, description = "Rate limited", body = crate::error::ErrorResponse),
        (status = 503, description = "A backlog of events is being folded: retry after `Retry-After`", body = crate::error::ErrorResponse),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Query(params): Query<LogParams>,
) -> Result<Response, ApiError> {
    let (from, to) =
        crate::extract::time_range(params.from, params.to, crate::clock::now(), DEFAULT_RANGE)?;
    let mode = caller.mode_for(params.mode)?;
    let filter = filter_of(&params, mode, from, to)?;
    let limit = match params.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::invalid(
                "limit",
                format!("`limit` is 1 to {MAX_LIMIT} sessions per page, got {n}"),
            ));
        }
    };
    let before = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(Cursor::decode(c).map(|c| c.0).ok_or_else(|| {
            ApiError::invalid(
                "cursor",
                "not a cursor of this API: pass a page's `next_cursor` as given",
            )
        })?),
    };
    // Every event answered before this call is in the sessions read below, or the answer is a
    // 503 (the export reads its later pages without waiting again).
    if !state.inner.storage.settle_within(REPORT_WAIT).await {
        return Err(ApiError::busy());
    }
    let storage = &state.inner.storage;
    if params.format.unwrap_or_default() == LogFormat::Csv {
        return Ok(export(storage.clone(), app.record.id.clone(), filter));
    }
    // One more than the page, to know whether another page follows.
    let mut rows = storage
        .session_log_page(&app.record.id, &filter, before.as_ref(), limit + 1)
        .await?;
    let page = limit as usize;
    let next_cursor = if rows.len() > page {
        rows.truncate(page);
        rows.last()
            .map(|r| Cursor((r.started_at, r.session_id.clone())).encode())
    } else {
        None
    };
    let total = storage.session_log_count(&app.record.id, &filter).await?;
    Ok(Json(SessionLog {
        sessions: rows.into_iter().map(SessionEntry::from).collect(),
        next_cursor,
        total,
    })
    .into_response())
}

/// Reads every session a filter matches, a page at a time, newest first.
struct ExportPages {
    storage: Storage,
    app_id: String,
    filter: SessionFilter,
    before: Option<LogKey>,
    done: bool,
}

impl ExportPages {
    async fn next_page(&mut self) -> anyhow::Result<Option<String>> {
        if self.done {
            return Ok(None);
        }
        let rows = self
            .storage
            .session_log_page(
                &self.app_id,
                &self.filter,
                self.before.as_ref(),
                EXPORT_PAGE,
            )
            .await?;
        self.done = rows.len() < EXPORT_PAGE as usize;
        self.before = rows.last().map(|r| (r.started_at, r.session_id.clone()));
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.into_iter()
                .map(|r| csv_line(&SessionEntry::from(r)))
                .collect(),
        ))
    }
}

/// Every session the filter matches as a CSV download, streamed a page at a time so any range
/// exports in constant memory.
fn export(storage: Storage, app_id: String, filter: SessionFilter) -> Response {
    let pages = ExportPages {
        storage,
        app_id,
        filter,
        before: None,
        done: false,
    };
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
        CSV_HEADER.as_bytes(),
    ))]);
    let body = futures_util::stream::unfold(pages, |mut pages| async move {
        match pages.next_page().await {
            Ok(Some(chunk)) => Some((Ok(Bytes::from(chunk)), pages)),
            Ok(None) => None,
            // The status is sent: ending the body early tells the client the export is cut.
            Err(e) => {
                tracing::error!(error = %e, "sessions export failed mid-stream");
                pages.done = true;
                Some((Err(std::io::Error::other(e.to_string())), pages))
            }
        }
    });
    // Fused: the compression layer polls once more after the end, which an unfused `unfold`
    // answers with a panic.
    let stream = futures_util::StreamExt::fuse(futures_util::StreamExt::chain(head, body));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"sessions.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
