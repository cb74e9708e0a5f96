//! Recorded outcomes: the cancellation call the widget and the no-JavaScript page make when the
//! subscriber confirms, and the admin reads the host's backend makes before acting on an outcome
//! (cancel the subscription at the period's end, apply the discount).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use holdfast_core::policy::PolicyProfile;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::cancel::{CancelRequest, outcome_view};
use crate::customers::{self, CustomerInput, Expiry};
use crate::error::ApiError;
use crate::extract::{Json, uuid_field};
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
        .outcome(&app.record.id, caller.mode.is_live(), &session_id)
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
        .customer_outcomes(&app.record.id, caller.mode.is_live(), &customer_id, 100)
        .await?;
    Ok(axum::Json(CustomerSessions {
        sessions: outcomes.iter().map(outcome_view).collect(),
    }))
}
