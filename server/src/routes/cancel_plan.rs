//! `POST /v1/apps/{app_id}/cancel-plan`: what one subscriber's cancel dialog shows.
//!
//! The widget asks when the subscriber opens the cancel flow. The server selects the offers for
//! every survey answer with the customer's real redemption ledger and sticky experiment variants
//! (the same inputs the acceptance re-check uses, so the dialog never shows an offer the server
//! would then refuse) and writes their terms in the session's language. The browser only renders
//! the plan, which keeps the cancel bundle small.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use holdfast_core::plan::CancelPlan;
use holdfast_core::policy::PolicyProfile;
use serde::Deserialize;

use crate::AppState;
use crate::apps::LoadedApp;
use crate::cancel::write_plan;
use crate::customers::{self, CustomerInput, Expiry};
use crate::error::ApiError;
use crate::extract::Json;

/// The session the plan is for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// The subscriber, as on events (signed in live mode).
    pub customer: CustomerInput,
    /// Locales in order of preference: the host's option, then the browser's languages.
    #[serde(default)]
    #[schema(max_items = 16)]
    pub locales: Vec<String>,
    /// A policy profile the host chose explicitly.
    pub profile: Option<PolicyProfile>,
    /// The browser's country (ISO 3166-1 alpha-2), when the customer has none.
    #[schema(pattern = r"^[A-Za-z]{2}$")]
    pub country: Option<String>,
}

/// The most locales a request may list: browsers send a handful.
const MAX_LOCALES: usize = 16;

#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/cancel-plan",
    tag = "public",
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = PlanRequest,
    responses(
        (status = 200, description = "The plan: reasons, offers with their terms, profile, theme", body = Object),
        (status = 401, description = "The customer token is refused (expired, wrong audience, bad signature, unknown key id, missing claim)", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused", body = crate::error::ErrorResponse),
    )
)]
/// Writes the plan for one cancel session.
pub async fn post(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Json(body): Json<PlanRequest>,
) -> Result<axum::Json<CancelPlan>, ApiError> {
    let verified = customers::verify(&app, &body.customer, crate::clock::now(), Expiry::Strict)?;
    if body.locales.len() > MAX_LOCALES {
        return Err(ApiError::invalid(
            "locales",
            "at most 16 locales may be listed",
        ));
    }
    if let Some((i, _)) = body.locales.iter().enumerate().find(|(_, l)| {
        l.is_empty() || l.len() > 35 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    }) {
        return Err(ApiError::invalid(
            format!("locales[{i}]"),
            "expected a BCP 47 language tag such as en-GB",
        ));
    }
    let country = match body.country.as_deref() {
        Some(c) if c.len() == 2 && c.chars().all(|c| c.is_ascii_alphabetic()) => Some(c),
        Some(_) => {
            return Err(ApiError::invalid(
                "country",
                "expected a two-letter ISO 3166-1 country code",
            ));
        }
        None => None,
    };
    let plan = write_plan(
        &state,
        &app,
        &verified,
        &body.locales,
        body.profile,
        country,
    )
    .await?;
    Ok(axum::Json(plan))
}
