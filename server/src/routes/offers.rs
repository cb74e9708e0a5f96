//! `POST /v1/apps/{app_id}/offers/accept`: a subscriber accepts an offer.
//!
//! The browser is never trusted to grant itself an offer: the server computes the customer's
//! experiment variants itself (sticky from the first exposure), loads their redemption ledger and
//! re-runs core's selection through `check_acceptance`. Only an offer this customer would have
//! been shown for this reason is recorded; the event id makes a retry return the same answer.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use holdfast_core::offer::Offer;
use holdfast_core::targeting::{OfferContext, Refusal, check_acceptance, select_offer};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::LoadedApp;
use crate::cancel::{customer_ledger, customer_variants, variant_refs};
use crate::customers::{self, CustomerInput, Expiry};
use crate::error::ApiError;
use crate::extract::Json;
use crate::extract::uuid_field;
use crate::metrics::Metrics;
use crate::outcomes::{base_facts, with_offer};
use crate::storage::AcceptanceRecord;
use crate::text;

/// The request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptOffer {
    /// The customer (core's `Customer`); in live mode `hash` must verify.
    #[schema(value_type = Object)]
    pub customer: CustomerInput,
    /// The cancel session, a UUID.
    pub session_id: String,
    /// Idempotency key, a UUID: repeating it returns the first answer.
    pub event_id: String,
    /// The survey answer, or null when skipped.
    pub reason: Option<String>,
    /// The offer accepted.
    pub offer_id: String,
}

/// The response to an accepted offer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// Always true: refusals are errors.
    pub accepted: bool,
    /// The offer, as in the config (core's `Offer`).
    #[schema(value_type = Object)]
    pub offer: Offer,
    /// The id of the rule that selected it.
    pub rule: String,
}

/// Accepts an offer after re-checking eligibility.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/offers/accept",
    tag = "public",
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = AcceptOffer,
    responses(
        (status = 200, description = "Recorded (or already recorded under this event id)", body = Accepted),
        (status = 401, description = "The customer token is refused (expired, wrong audience, bad signature, unknown key id, missing claim)", body = crate::error::ErrorResponse),
        (status = 403, description = "`offer_not_eligible` or `offer_not_selected`", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused", body = crate::error::ErrorResponse),
    )
)]
pub async fn accept(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Json(body): Json<AcceptOffer>,
) -> Result<Response, ApiError> {
    let now = crate::clock::now();
    let verified = customers::verify(&app, &body.customer, now, Expiry::Strict)?;
    let (customer, mode) = (&verified.customer, verified.mode);
    let live = mode.is_live();
    let session_id = uuid_field(|| "session_id".into(), &body.session_id)?;
    let event_id = uuid_field(|| "event_id".into(), &body.event_id)?;
    text::optional_key(|| "reason".into(), body.reason.as_deref(), text::MAX_KEY)?;
    text::key(|| "offer_id".into(), &body.offer_id, text::MAX_KEY)?;
    let storage = &state.inner.storage;
    let app_id = app.record.id.as_str();
    if let Some(previous) = storage.acceptance(app_id, &event_id).await? {
        return Ok(json_response(previous));
    }

    let (variants, first_exposures) = customer_variants(&state, &app, mode, customer).await?;
    let refs = variant_refs(&variants);
    let ledger = customer_ledger(&state, &app, mode, customer).await?;
    let ctx = OfferContext {
        config: &app.config,
        customer,
        reason: body.reason.as_deref(),
        variants: &refs,
        ledger: &ledger,
        now,
    };
    let offer = match check_acceptance(&ctx, &body.offer_id) {
        Ok(offer) => offer,
        Err(refusal) => {
            Metrics::add(&state.inner.metrics.offers_refused, 1);
            let code = match refusal {
                Refusal::Ineligible(_) => "offer_not_eligible",
                Refusal::NoOffer | Refusal::NotSelected => "offer_not_selected",
            };
            return Err(
                ApiError::new(StatusCode::FORBIDDEN, code, refusal.to_string()).field("offer_id"),
            );
        }
    };
    let rule = select_offer(&ctx).map_or_else(String::new, |s| s.rule.to_string());
    if !first_exposures.is_empty() {
        storage
            .record_exposures(app_id, live, &customer.id, &first_exposures, now)
            .await?;
    }
    let response = serde_json::to_string(&Accepted {
        accepted: true,
        offer: offer.clone(),
        rule,
    })
    .map_err(anyhow::Error::from)?;
    let exposures: Vec<(String, String)> = variants
        .iter()
        .map(|(e, v, _)| (e.clone(), v.clone()))
        .collect();
    let mut session = with_offer(
        base_facts(customer, &exposures, now),
        &app.config,
        offer,
        customer,
    );
    session.reason = body.reason.clone();
    session.saved = true;
    session.saved_at = Some(now);
    let record = AcceptanceRecord {
        event_id,
        session_id,
        offer_id: offer.id.clone(),
        kind: offer.terms.kind().as_str().to_string(),
        at: now,
        response_json: response,
        session,
    };
    let response = storage
        .record_acceptance(app_id, live, &customer.id, &record)
        .await?;
    Metrics::add(&state.inner.metrics.offers_accepted, 1);
    Ok(json_response(response))
}

fn json_response(body: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
