//! `POST /v1/apps/{app_id}/events`: a batch of widget events.
//!
//! Parsed strictly (unknown fields refused), authenticated by the customer token (or, in test
//! mode, a plain customer object), validated and appended durably to the ingest log as one row
//! before the 200 (see `crate::funnel`). The storage's aggregator folds it into stats shortly after; an event id already stored
//! changes nothing there, so the widget may retry a batch freely. Whether an event was new is
//! therefore not known when the request is answered: the response says how many events were
//! durably received, and reads that depend on events wait for the log to be folded.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::LoadedApp;
use crate::customers::{self, CustomerInput, Expiry};
use crate::error::ApiError;
use crate::extract::Json;
use crate::funnel::{Event, EventType, record};

/// The request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The customer: a token signed by the host's backend, or (test mode) core's `Customer`.
    pub customer: CustomerInput,
    /// 1 to 100 events.
    #[schema(min_items = 1, max_items = 100)]
    pub events: Vec<Event>,
}

/// The response: how many events were durably received.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestResponse {
    /// Events durably received: all of the batch's. Retried events are included and are dropped
    /// when the batch is folded into stats, so a retry never counts twice.
    pub accepted: u64,
}

/// The request body, parsed by serde_json alone: the hot path of the API, where tracking each
/// field's path (for error messages) costs as much again. A body serde_json refuses is parsed
/// again by [`crate::extract::parse_json`] for the same error, naming the field, as every route.
pub struct Batch(pub EventBatch);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Batch {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        // The same refusals as `crate::extract::Json`'s.
        let bytes = bytes::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(crate::extract::PUBLIC_BODY_LIMIT)
            } else {
                ApiError::bad_request("unreadable_body", e.body_text())
            }
        })?;
        Self::parse(&bytes)
    }
}

impl Batch {
    /// Parses a request body: serde_json alone, then (for a refused body) the field-naming parser.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        match serde_json::from_slice(bytes) {
            Ok(batch) => Ok(Self(batch)),
            Err(_) => crate::extract::parse_json(bytes).map(Self),
        }
    }
}

/// Records a batch of events.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/events",
    tag = "public",
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = EventBatch,
    responses(
        (status = 200, description = "Durably received (retried event ids are dropped when folded into stats)", body = IngestResponse),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorResponse),
        (status = 401, description = "The customer token is refused (expired over 7 days ago, or an outcome on an expired token; wrong audience, bad signature, unknown key id, missing claim)", body = crate::error::ErrorResponse),
        (status = 403, description = "Origin not allowed", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
        (status = 413, description = "Body too large", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused; `field` names it", body = crate::error::ErrorResponse),
        (status = 429, description = "Rate limited", body = crate::error::ErrorResponse),
        (status = 503, description = "A backlog of events is being folded: retry after `Retry-After`", body = crate::error::ErrorResponse),
    )
)]
pub async fn post(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Batch(batch): Batch,
) -> Result<Json<IngestResponse>, ApiError> {
    let now = crate::clock::now();
    // Funnel events may wait in the outbox past the token's expiry; outcomes may not.
    let verified = customers::verify(&app, &batch.customer, now, Expiry::FunnelGrace)?;
    if verified.expired_at(now)
        && let Some(i) = batch.events.iter().position(|e| {
            matches!(
                e.kind,
                EventType::OfferAccepted | EventType::CancelConfirmed
            )
        })
    {
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "token_expired",
            "an outcome needs an unexpired customer token: sign a fresh one (Holdfast.identify)",
        )
        .field(format!("events[{i}].type")));
    }
    record(&state, &app, &verified, &batch.events)
        .await
        .map(|accepted| Json(IngestResponse { accepted }))
}
