//! `POST /v1/apps/{app_id}/offers/accept`: a subscriber accepts an offer.
//!
//! The browser is never trusted to grant itself an offer: the server computes the customer's
//! experiment variants itself (sticky from the first exposure), loads their redemption ledger and
//! re-runs core's selection through `check_acceptance`. Only an offer this customer would have
//! been shown for this reason is recorded, as the session's one outcome (see `crate::cancel`);
//! the event id makes a retry return the same answer.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::apps::LoadedApp;
use crate::cancel::SaveRequest;
use crate::customers::{self, CustomerInput, Expiry};
use crate::error::ApiError;
use crate::extract::Json;
use crate::extract::uuid_field;
use crate::text;

/// The request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptOffer {
    /// The customer: a token signed by the host's backend, or (test mode) core's `Customer`.
    pub customer: CustomerInput,
    /// The cancel session, a UUID.
    #[schema(format = Uuid)]
    pub session_id: String,
    /// Idempotency key, a UUID: repeating it returns the first answer.
    #[schema(format = Uuid)]
    pub event_id: String,
    /// The survey answer, or null when skipped.
    #[schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub reason: Option<String>,
    /// The offer accepted.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]+$"
    )]
    pub offer_id: String,
}

/// Accepts an offer after re-checking eligibility.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/offers/accept",
    tag = "public",
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = AcceptOffer,
    responses(
        (status = 200, description = "Recorded as the session's save (a retry gets the first answer)", body = crate::cancel::Accepted),
        (status = 401, description = "The customer token is refused (expired, wrong audience, bad signature, unknown key id, missing claim)", body = crate::error::ErrorResponse),
        (status = 403, description = "`offer_not_eligible` or `offer_not_selected`", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
        (status = 409, description = "The session already has another outcome (`recorded` holds it)", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused", body = crate::error::ErrorResponse),
    )
)]
pub async fn accept(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Json(body): Json<AcceptOffer>,
) -> Result<Response, ApiError> {
    let verified = customers::verify(&app, &body.customer, crate::clock::now(), Expiry::Strict)?;
    let req = SaveRequest {
        session_id: uuid_field(|| "session_id".into(), &body.session_id)?,
        event_id: uuid_field(|| "event_id".into(), &body.event_id)?,
        reason: body.reason,
        offer_id: body.offer_id,
    };
    text::optional_key(|| "reason".into(), req.reason.as_deref(), text::MAX_KEY)?;
    text::key(|| "offer_id".into(), &req.offer_id, text::MAX_KEY)?;
    let response = crate::cancel::record_save(&state, &app, &verified, &req).await?;
    Ok(json_response(response))
}

fn json_response(body: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
