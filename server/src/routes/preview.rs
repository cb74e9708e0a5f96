//! The flow editor's live preview: the real widget bundle, run on a page this server writes,
//! against a draft config, recording nothing.
//!
//! An editor posts a draft (`POST /v1/admin/apps/{app}/preview/page`); the server checks it as a
//! save would, keeps it in memory for [`TTL`] under a random token, and answers the page's URL.
//! The page loads `holdfast.js` with `data-endpoint` pointing at `/preview/{token}`, so the widget
//! sends its calls here: the cancel plan is written from the draft by the same code as the real
//! one, and acceptances, cancellations and events are checked and answered as the real routes
//! answer them, but nothing is stored, no webhook is queued and no exposure is recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use holdfast_core::config::AppConfig;
use serde::Serialize;

use crate::AppState;
use crate::apps::{AdminCaller, KnownIds, LoadedApp};
use crate::customers::{self, Expiry};
use crate::error::ApiError;
use crate::extract::Json;

/// How long a preview page works after it is made.
pub const TTL: Duration = Duration::from_secs(30 * 60);

/// Drafts kept at most: past it the oldest go first.
const MAX_DRAFTS: usize = 200;

/// Drafts by token, in memory only: a restart ends every preview, which is what a preview is.
#[derive(Debug, Default)]
pub struct Drafts(Mutex<HashMap<String, (Arc<LoadedApp>, Instant)>>);

impl Drafts {
    fn put(&self, token: String, app: Arc<LoadedApp>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, (_, made)| made.elapsed() < TTL);
        if map.len() >= MAX_DRAFTS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (_, made))| *made)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(token, (app, Instant::now()));
    }

    fn get(&self, token: &str) -> Option<Arc<LoadedApp>> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(token)
            .filter(|(_, made)| made.elapsed() < TTL)
            .map(|(app, _)| app.clone())
    }
}

/// The draft to preview.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewPageRequest {
    /// The draft config (core's AppConfig), checked like a `PUT` of the config, never stored.
    pub config: AppConfig,
}

/// Where the preview runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewPage {
    /// The page's path on this server (`/preview/{token}/`); query `plan`, `mrr_cents`,
    /// `tenure_days`, `locale` and `profile` choose the customer and the flow.
    pub url: String,
    /// Seconds the page keeps working.
    pub expires_in: u64,
}

/// Makes a preview page for a draft config: the real widget runs it, and nothing is recorded.
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/preview/page",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = PreviewPageRequest,
    responses(
        (status = 201, description = "The page to open (in an iframe)", body = PreviewPage),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
        (status = 422, description = "`invalid_config` with every problem's path", body = crate::error::ErrorResponse),
    )
)]
pub async fn make_page(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(_caller): Extension<AdminCaller>,
    Json(body): Json<PreviewPageRequest>,
) -> Result<(StatusCode, Json<PreviewPage>), ApiError> {
    let validation = body.config.validate();
    if !validation.is_ok() {
        return Err(ApiError::invalid_config(validation.errors));
    }
    let json = serde_json::to_string(&body.config).map_err(anyhow::Error::from)?;
    let mut record = app.record.clone();
    record.config_json = json.clone();
    let known = Arc::new(KnownIds::gather(&[json]));
    let draft = LoadedApp::new(record, app.signing.clone(), known)?;
    let token = crate::accounts::random_token()?;
    state.inner.previews.put(token.clone(), Arc::new(draft));
    Ok((
        StatusCode::CREATED,
        Json(PreviewPage {
            url: format!("/preview/{token}/"),
            expires_in: TTL.as_secs(),
        }),
    ))
}

fn draft(state: &AppState, token: &str, app_id: &str) -> Result<Arc<LoadedApp>, ApiError> {
    state
        .inner
        .previews
        .get(token)
        .filter(|app| app.record.id == app_id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_such_preview",
                "this preview has ended: open it again from the flow editor",
            )
        })
}

/// The preview page: a bare host page that loads the real loader against this preview.
pub async fn page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(app) = state.inner.previews.get(&token) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "This preview has ended: open it again from the flow editor.",
        )
            .into_response();
    };
    // The token and app id are [A-Za-z0-9_-] (random base64url, checked app ids): safe in HTML.
    let html = PAGE
        .replace("{APP}", &app.record.id)
        .replace("{TOKEN}", &token);
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Framed by the dashboard (same origin) and nothing else.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
             form-action 'none'; frame-ancestors 'self'; base-uri 'none'",
        ),
    );
    response
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Preview of the cancel flow</title>
<style>body { font: 15px/1.5 system-ui, sans-serif; color: #1b1f24; margin: 16px; } .note { color: #57606a; }</style>
</head>
<body>
<p class="note">A preview of the draft: the real widget, recording nothing.</p>
<button id="open" type="button">Cancel subscription</button>
<p id="outcome" class="note" aria-live="polite"></p>
<script async src="/holdfast.js" data-app="{APP}" data-endpoint="/preview/{TOKEN}"></script>
<script>
  var q = new URLSearchParams(location.search);
  var num = function (k, d) { var v = parseInt(q.get(k), 10); return isNaN(v) ? d : v; };
  var customer = { id: "preview_customer", plan: q.get("plan") || "pro", mrr_cents: num("mrr_cents", 4900),
    created_at: Math.floor(Date.now() / 1000) - num("tenure_days", 200) * 86400 };
  var open = function () {
    var o = { customer: customer, onOutcome: function (r) {
      document.getElementById("outcome").textContent = "Outcome: " + r.outcome + " (not recorded)"; } };
    if (q.get("locale")) o.locale = q.get("locale");
    if (q.get("profile")) o.profile = q.get("profile");
    Holdfast.cancel(o).catch(function (e) { document.getElementById("outcome").textContent = "error: " + e.message; });
  };
  document.getElementById("open").addEventListener("click", open);
  window.addEventListener("load", open);
</script>
</body>
</html>
"#;

/// The cancel plan from the draft, by the same code as `POST /v1/apps/{app}/cancel-plan`.
pub async fn cancel_plan(
    State(state): State<AppState>,
    Path((token, app_id)): Path<(String, String)>,
    Json(body): Json<crate::routes::cancel_plan::PlanRequest>,
) -> Result<Response, ApiError> {
    let app = draft(&state, &token, &app_id)?;
    crate::routes::cancel_plan::post(State(state), Extension(app), Json(body))
        .await
        .map(IntoResponse::into_response)
}

/// Events are read and counted, never stored.
pub async fn events(
    State(state): State<AppState>,
    Path((token, app_id)): Path<(String, String)>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    draft(&state, &token, &app_id)?;
    let accepted = body["events"].as_array().map_or(0, Vec::len);
    Ok(Json(serde_json::json!({ "accepted": accepted })).into_response())
}

/// An acceptance checked by core against the draft (the offer must be the one it would select),
/// answered as the real route answers it, not stored.
pub async fn accept(
    State(state): State<AppState>,
    Path((token, app_id)): Path<(String, String)>,
    Json(body): Json<crate::routes::offers::AcceptOffer>,
) -> Result<Response, ApiError> {
    use holdfast_core::targeting::{OfferContext, check_acceptance, select_offer};
    let app = draft(&state, &token, &app_id)?;
    let now = crate::clock::now();
    let verified = customers::verify(&app, &body.customer, now, Expiry::Strict)?;
    // The draft's experiments split the customer as the plan did (sticky exposures are read,
    // a first one is not recorded).
    let (variants, _) =
        crate::cancel::customer_variants(&state, &app, verified.mode, &verified.customer).await?;
    let refs = crate::cancel::variant_refs(&variants);
    let ctx = OfferContext {
        config: &app.config,
        customer: &verified.customer,
        reason: body.reason.as_deref(),
        variants: &refs,
        ledger: &[],
        now,
    };
    let offer = check_acceptance(&ctx, &body.offer_id).map_err(|refusal| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "offer_not_selected",
            refusal.to_string(),
        )
        .field("offer_id")
    })?;
    Ok(Json(crate::cancel::Accepted {
        accepted: true,
        outcome: "saved",
        offer: offer.clone(),
        rule: select_offer(&ctx).map_or_else(String::new, |s| s.rule.to_string()),
        received_at: now,
    })
    .into_response())
}

/// A cancellation answered as the real route answers it (effective date, profile, receipt), not
/// stored and sent to no webhook.
pub async fn cancel(
    State(state): State<AppState>,
    Path((token, app_id, session_id)): Path<(String, String, String)>,
    Json(body): Json<crate::routes::sessions::CancelBody>,
) -> Result<Response, ApiError> {
    let app = draft(&state, &token, &app_id)?;
    let now = crate::clock::now();
    let verified = customers::verify(&app, &body.customer, now, Expiry::Strict)?;
    let req = crate::cancel::CancelRequest {
        session_id,
        reason: body.reason,
        profile: body.profile,
        period_end: body.period_end,
    };
    let outcome = crate::cancel::cancellation(&app, &verified, &req, now)?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        outcome.response_json,
    )
        .into_response())
}
