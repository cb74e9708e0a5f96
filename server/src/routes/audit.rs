//! Admin: the evidence for every cancellation. `audit` streams one record per cancel session in a
//! range as JSON lines or CSV, reading the sessions a page at a time, so a year of sessions
//! exports in constant memory; `evidence` summarises the same records per policy profile, which is
//! what a compliance reviewer asks for. See [`crate::audit`] for how a record is made.

use crate::storage::Scope;
use std::sync::Arc;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::audit::{self, AuditRecord, EvidenceSummary, ProfileEvidence};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::keys::Mode;
use crate::storage::{REPORT_WAIT, Storage};

/// Sessions read per page of the export.
const PAGE: i64 = 500;
const DEFAULT_RANGE: i64 = 30 * 86_400;

/// The export's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line (`application/x-ndjson`).
    #[default]
    Jsonl,
    /// A header line and one row per session (`text/csv`).
    Csv,
}

/// Query parameters of both reports.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Sessions started at or after, unix seconds (default: 30 days before `to`).
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub from: Option<i64>,
    /// Sessions started before, unix seconds (default: a day from now).
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub to: Option<i64>,
    /// `test` or `live`: the admin key's mode (the default; the other is refused).
    pub mode: Option<Mode>,
    /// `jsonl` (default) or `csv`; the export only.
    #[param(inline)]
    pub format: Option<Format>,
}

/// The range and mode asked for, checked, once the fold has caught up.
async fn range(
    state: &AppState,
    caller: &AdminCaller,
    params: &AuditParams,
) -> Result<(Mode, i64, i64), ApiError> {
    let (from, to) =
        crate::extract::time_range(params.from, params.to, crate::clock::now(), DEFAULT_RANGE)?;
    let mode = caller.mode_for(params.mode)?;
    // Every event answered before this call is in the trails read below, or the answer is a 503.
    if !state.inner.storage.settle_within(REPORT_WAIT).await {
        return Err(ApiError::busy());
    }
    Ok((mode, from, to))
}

/// Reads the records in a range, a page at a time.
struct Pages {
    storage: Storage,
    app_id: String,
    live: bool,
    range: (i64, i64),
    after: Option<(i64, String)>,
    default_limit: u8,
    done: bool,
}

impl Pages {
    async fn next_page(&mut self) -> anyhow::Result<Option<Vec<AuditRecord>>> {
        if self.done {
            return Ok(None);
        }
        let rows = self
            .storage
            .audit_page(
                Scope::new(&self.app_id, self.live),
                self.range,
                self.after.take(),
                PAGE,
            )
            .await?;
        self.done = rows.len() < PAGE as usize;
        self.after = rows.last().map(|r| (r.started_at, r.session_id.clone()));
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.into_iter()
                .map(|r| audit::record(r, self.default_limit))
                .collect(),
        ))
    }
}

fn pages(state: &AppState, app: &LoadedApp, mode: Mode, from: i64, to: i64) -> Pages {
    Pages {
        storage: state.inner.storage.clone(),
        app_id: app.record.id.clone(),
        live: mode == Mode::Live,
        range: (from, to),
        after: None,
        default_limit: app.config.policy.max_offer_screens,
        done: false,
    }
}

/// The audit record of every cancel session started in a range.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/audit",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), AuditParams),
    responses(
        (status = 200, description = "One record per session, oldest first: JSON lines (one `AuditRecord` per line) or CSV with a header line", content(
            (AuditRecord = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Bad query parameter", body = crate::error::ErrorResponse),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
        (status = 403, description = "The key's mode is not the mode asked for", body = crate::error::ErrorResponse),
        (status = 422, description = "`from` or `to` is out of range, or `from` is not before `to`", body = crate::error::ErrorResponse),
        (status = 429, description = "Rate limited", body = crate::error::ErrorResponse),
        (status = 503, description = "A backlog of events is being folded: retry after `Retry-After`", body = crate::error::ErrorResponse),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Query(params): Query<AuditParams>,
) -> Result<Response, ApiError> {
    let (mode, from, to) = range(&state, &caller, &params).await?;
    let format = params.format.unwrap_or_default();
    let pages = pages(&state, &app, mode, from, to);
    let header_line =
        (format == Format::Csv).then(|| Bytes::from_static(audit::CSV_HEADER.as_bytes()));
    let head = futures_util::stream::iter(header_line.map(Ok::<_, std::io::Error>));
    let body = futures_util::stream::unfold(pages, move |mut pages| async move {
        match pages.next_page().await {
            Ok(Some(records)) => {
                let mut chunk = String::new();
                for r in &records {
                    match format {
                        Format::Jsonl => {
                            chunk.push_str(&serde_json::to_string(r).unwrap_or_default());
                            chunk.push('\n');
                        }
                        Format::Csv => chunk.push_str(&audit::csv_line(r)),
                    }
                }
                Some((Ok(Bytes::from(chunk)), pages))
            }
            Ok(None) => None,
            // The status is sent: ending the body early tells the client the export is cut.
            Err(e) => {
                tracing::error!(error = %e, "audit export failed mid-stream");
                pages.done = true;
                Some((Err(std::io::Error::other(e.to_string())), pages))
            }
        }
    });
    // Fused: the compression layer polls once more after the end, which an unfused `unfold`
    // answers with a panic.
    let stream = futures_util::StreamExt::fuse(futures_util::StreamExt::chain(head, body));
    let (content_type, ext) = match format {
        Format::Jsonl => ("application/x-ndjson", "jsonl"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let disposition = format!(
        "attachment; filename=\"holdfast-audit-{}-{}-{from}-{to}.{ext}\"",
        app.record.id,
        mode.as_str()
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The evidence summary.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceReport {
    /// The mode reported.
    pub mode: Mode,
    /// Range start, unix seconds.
    pub from: i64,
    /// Range end, unix seconds.
    pub to: i64,
    /// Per policy profile, in name order.
    pub profiles: Vec<ProfileEvidence>,
}

/// Per-profile evidence for the cancel sessions started in a range.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/evidence",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), AuditParams),
    responses(
        (status = 200, description = "The summary", body = EvidenceReport),
        (status = 400, description = "Bad query parameter", body = crate::error::ErrorResponse),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
        (status = 403, description = "The key's mode is not the mode asked for", body = crate::error::ErrorResponse),
        (status = 422, description = "`from` or `to` is out of range, or `from` is not before `to`", body = crate::error::ErrorResponse),
        (status = 429, description = "Rate limited", body = crate::error::ErrorResponse),
        (status = 503, description = "A backlog of events is being folded: retry after `Retry-After`", body = crate::error::ErrorResponse),
    )
)]
pub async fn evidence(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Query(params): Query<AuditParams>,
) -> Result<Json<EvidenceReport>, ApiError> {
    let (mode, from, to) = range(&state, &caller, &params).await?;
    let mut pages = pages(&state, &app, mode, from, to);
    let mut summary = EvidenceSummary::default();
    while let Some(records) = pages.next_page().await? {
        for r in &records {
            summary.add(r);
        }
    }
    Ok(Json(EvidenceReport {
        mode,
        from,
        to,
        profiles: summary.finish(),
    }))
}
