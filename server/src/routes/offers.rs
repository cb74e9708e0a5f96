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
use holdfast_core::Customer;
use holdfast_core::offer::{Offer, OfferKind};
use holdfast_core::targeting::{
    OfferContext, Redemption, Refusal, VariantRef, check_acceptance, select_offer,
};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::LoadedApp;
use crate::error::ApiError;
use crate::extract::Json;
use crate::metrics::Metrics;
use crate::outcomes::{base_facts, with_offer};
use crate::routes::events::uuid_field;
use crate::storage::AcceptanceRecord;
use crate::text;

/// The request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptOffer {
    /// The customer (core's `Customer`); in live mode `hash` must verify.
    #[schema(value_type = Object)]
    pub customer: Customer,
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

/// Checks the customer at the edge: a plain id, and in live mode a valid HMAC.
pub fn check_customer<'a>(
    app: &LoadedApp,
    customer: &'a Customer,
) -> Result<&'a Customer, ApiError> {
    if customer.id.is_empty() {
        return Err(ApiError::invalid(
            "customer.id",
            "the customer id must be 1-256 characters",
        ));
    }
    text::key(|| "customer.id".into(), &customer.id, 256)?;
    text::key(|| "customer.plan".into(), &customer.plan, text::MAX_KEY)?;
    text::optional_key(
        || "customer.hash".into(),
        customer.hash.as_deref(),
        text::MAX_KEY,
    )?;
    for (name, value) in [
        ("country", &customer.country),
        ("region", &customer.region),
        ("locale", &customer.locale),
        ("currency", &customer.currency),
        ("segment", &customer.segment),
    ] {
        text::optional_key(
            || format!("customer.{name}"),
            value.as_deref(),
            text::MAX_KEY,
        )?;
    }
    for (name, value) in &customer.attributes {
        text::key(|| "customer.attributes".into(), name, text::MAX_KEY)?;
        if let holdfast_core::AttributeValue::Text(value) = value {
            text::key(|| format!("customer.attributes.{name}"), value, 256)?;
        }
    }
    if customer.mrr_cents < 0 {
        return Err(ApiError::invalid(
            "customer.mrr_cents",
            "mrr_cents cannot be negative",
        ));
    }
    if app.record.live {
        crate::auth::verify_customer(&app.record.secret, &customer.id, customer.hash.as_deref())?;
    }
    Ok(customer)
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
        (status = 401, description = "Live mode: bad customer hash", body = crate::error::ErrorResponse),
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
    let customer = check_customer(&app, &body.customer)?;
    let session_id = uuid_field(|| "session_id".into(), &body.session_id)?;
    let event_id = uuid_field(|| "event_id".into(), &body.event_id)?;
    text::optional_key(|| "reason".into(), body.reason.as_deref(), text::MAX_KEY)?;
    text::key(|| "offer_id".into(), &body.offer_id, text::MAX_KEY)?;
    let storage = &state.inner.storage;
    let (app_id, live) = (app.record.id.as_str(), app.record.live);
    if let Some(previous) = storage.acceptance(app_id, &event_id).await? {
        return Ok(json_response(previous));
    }
    let now = crate::clock::now();

    let (variants, first_exposures) = customer_variants(&state, &app, customer).await?;
    let refs = variant_refs(&variants);
    let ledger = customer_ledger(&state, &app, customer).await?;
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

/// A customer's experiment variants `(experiment, variant, holdout)`: the first recorded exposure
/// wins, so editing an experiment never re-randomises anyone; experiments without one are assigned
/// now and returned apart, for the caller to record when the customer is really exposed.
pub async fn customer_variants(
    state: &AppState,
    app: &LoadedApp,
    customer: &Customer,
) -> Result<(Vec<(String, String, bool)>, Vec<(String, String)>), ApiError> {
    let (app_id, live) = (app.record.id.as_str(), app.record.live);
    let recorded = state
        .inner
        .storage
        .exposures(app_id, live, &customer.id)
        .await?;
    let mut variants = Vec::new();
    let mut first_exposures = Vec::new();
    for experiment in app.config.experiments.iter().filter(|e| e.active) {
        let sticky = recorded
            .iter()
            .find(|(e, _)| *e == experiment.key)
            .and_then(|(_, v)| experiment.variants.iter().find(|x| x.key == *v));
        let variant = match sticky {
            Some(v) => v,
            None => match holdfast_core::assignment::assign(experiment, &customer.id) {
                Some(a) => {
                    first_exposures.push((experiment.key.clone(), a.variant.key.clone()));
                    a.variant
                }
                None => continue,
            },
        };
        variants.push((experiment.key.clone(), variant.key.clone(), variant.holdout));
    }
    Ok((variants, first_exposures))
}

/// Borrowed views of [`customer_variants`] for core's offer context.
pub fn variant_refs(variants: &[(String, String, bool)]) -> Vec<VariantRef<'_>> {
    variants
        .iter()
        .map(|(e, v, holdout)| VariantRef {
            experiment: e,
            variant: v,
            holdout: *holdout,
        })
        .collect()
}

/// The customer's earlier redemptions, for the offer cooldowns.
pub async fn customer_ledger(
    state: &AppState,
    app: &LoadedApp,
    customer: &Customer,
) -> Result<Vec<Redemption>, ApiError> {
    Ok(state
        .inner
        .storage
        .ledger(&app.record.id, app.record.live, &customer.id)
        .await?
        .into_iter()
        .filter_map(|(kind, at)| {
            let kind: OfferKind = serde_json::from_value(serde_json::Value::String(kind)).ok()?;
            Some(Redemption { kind, at })
        })
        .collect())
}

fn json_response(body: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
