//! `POST /v1/apps/{app_id}/events`: a batch of widget events.
//!
//! Parsed strictly (unknown fields refused), validated (UUIDs, times, sizes), authenticated in
//! the customer token (or, in test mode, a plain customer object), then appended durably to the ingest log as one row before the
//! 200. The storage's aggregator folds it into stats shortly after; an event id already stored
//! changes nothing there, so the widget may retry a batch freely. Whether an event was new is
//! therefore not known when the request is answered: the response says how many events were
//! durably received, and reads that depend on events wait for the log to be folded.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use holdfast_core::Customer;
use holdfast_core::policy::PolicyProfile;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::LoadedApp;
use crate::customers::{self, CustomerInput, Expiry};
use crate::error::ApiError;
use crate::extract::Json;
use crate::extract::uuid_field;
use crate::outcomes::{assigned_variants, base_facts, with_offer};
use crate::storage::{IngestBatch, SessionFacts, StoredEvent};
use crate::text;

/// At most this many events per request.
pub const MAX_EVENTS: usize = 100;
/// Free text is capped: it is a survey answer, not a document.
pub const MAX_FREE_TEXT: usize = 2000;
/// Events stamped further ahead than this are refused (a broken clock, or a forgery).
const MAX_FUTURE_MS: i64 = 86_400_000;

/// The request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The customer: a token signed by the host's backend, or (test mode) core's `Customer`.
    #[schema(value_type = Object)]
    pub customer: CustomerInput,
    /// 1 to 100 events.
    pub events: Vec<Event>,
}

/// What happened in the widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// The cancel flow opened: a cancel session starts.
    FlowStarted,
    /// The survey was answered.
    ReasonSelected,
    /// An offer rendered (the exposure for experiments).
    OfferShown,
    /// The offer was accepted: the session is saved.
    OfferAccepted,
    /// The offer was declined.
    OfferDeclined,
    /// The cancellation was confirmed.
    CancelConfirmed,
    /// The flow was closed without an outcome.
    FlowAbandoned,
    /// An upgrade prompt rendered.
    PromptShown,
    /// An upgrade prompt's action was taken.
    PromptClicked,
    /// An upgrade prompt was dismissed.
    PromptDismissed,
    /// A feature-gate trial started.
    TrialStarted,
    /// The customer tried a feature their plan locks (`feature` names it).
    GateHit,
}

impl EventType {
    /// The stored name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::FlowStarted => "flow_started",
            EventType::ReasonSelected => "reason_selected",
            EventType::OfferShown => "offer_shown",
            EventType::OfferAccepted => "offer_accepted",
            EventType::OfferDeclined => "offer_declined",
            EventType::CancelConfirmed => "cancel_confirmed",
            EventType::FlowAbandoned => "flow_abandoned",
            EventType::PromptShown => "prompt_shown",
            EventType::PromptClicked => "prompt_clicked",
            EventType::PromptDismissed => "prompt_dismissed",
            EventType::TrialStarted => "trial_started",
            EventType::GateHit => "gate_hit",
        }
    }

    /// Whether it belongs to a cancel session (and so feeds save-rate stats).
    pub fn is_cancel_flow(self) -> bool {
        !matches!(
            self,
            EventType::PromptShown
                | EventType::PromptClicked
                | EventType::PromptDismissed
                | EventType::TrialStarted
                | EventType::GateHit
        )
    }
}

/// One widget event.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Client-generated UUID (v4): retries reuse it.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When, in unix milliseconds.
    pub at: i64,
    /// The flow or prompt session, a UUID.
    pub session_id: String,
    /// Survey answer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Free-text answer, at most 2000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_text: Option<String>,
    /// The offer concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<String>,
    /// The policy profile applied to the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub profile: Option<PolicyProfile>,
    /// The locale the flow was shown in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The flow step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The prompt id (`usage`, `gate`, `seats`); required on `prompt_shown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Core's `Trigger::key` of what fired the prompt (`usage:projects:90:<period_end|none>`,
    /// `gate:<feature>`, `seats`); required on `prompt_shown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// The usage metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The usage threshold crossed, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<i64>,
    /// The gated feature; required on `gate_hit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// On `prompt_dismissed` only: the subscriber chose "remind me in N days" (1 to 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snooze_days: Option<i64>,
    /// The prompt's experiment variant, `experiment:variant` (default: the customer's assigned
    /// variant), for the variant breakdown of prompt stats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
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
        match serde_json::from_slice(&bytes) {
            Ok(batch) => Ok(Self(batch)),
            Err(_) => crate::extract::parse_json(&bytes).map(Self),
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

/// Validates and records a verified customer's events: the route's work, and the no-JavaScript
/// page's, which records its steps as the same events. Returns how many were durably received.
pub async fn record(
    state: &AppState,
    app: &LoadedApp,
    verified: &customers::VerifiedCustomer,
    events: &[Event],
) -> Result<u64, ApiError> {
    let customer = &verified.customer;
    if events.is_empty() {
        return Err(ApiError::invalid(
            "events",
            "a batch needs at least one event",
        ));
    }
    if events.len() > MAX_EVENTS {
        return Err(ApiError::invalid(
            "events",
            format!(
                "a batch holds at most {MAX_EVENTS} events, got {}",
                events.len()
            ),
        ));
    }
    let now_ms = crate::clock::now_ms();
    let variants = assigned_variants(&app.config, &customer.id);
    let mut stored = Vec::with_capacity(events.len());
    let mut prompt_events = Vec::new();
    let mut exposed = false;
    let mut confirmations = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let valid = validate(i, event, now_ms, app, customer, &variants)?;
        if event.kind == EventType::CancelConfirmed {
            confirmations.push(crate::cancel::CancelRequest {
                session_id: valid.session_id.clone(),
                reason: event.reason.clone(),
                profile: event.profile,
                period_end: None,
            });
        }
        prompt_events.extend(super::prompts::prompt_event(
            i, event, &valid.id, customer, &variants,
        )?);
        stored.push(valid);
        exposed |= matches!(event.kind, EventType::OfferShown | EventType::PromptShown);
    }
    // The customer's variants become first exposures once an offer or prompt was shown.
    let exposures: &[(String, String)] = if exposed { &variants } else { &[] };
    let batch = IngestBatch {
        customer_id: &customer.id,
        events: &stored,
        prompt_events: &prompt_events,
        exposures,
        received_at: now_ms / 1000,
    };
    let outcome = state
        .inner
        .storage
        .ingest(&app.record.id, verified.mode.is_live(), &batch)
        .await?;
    // A confirmation that waited in the outbox (the cancellation call did not get through)
    // records the cancellation now; the call is idempotent per session, so one that did get
    // through changes nothing, and a session saved first keeps its save.
    for req in &confirmations {
        match crate::cancel::record_cancel(state, app, verified, req).await {
            Ok(_) => {}
            Err(e) if e.status() == axum::http::StatusCode::CONFLICT => {}
            Err(e) => return Err(e),
        }
    }
    Ok(outcome.accepted)
}

fn validate(
    i: usize,
    event: &Event,
    now_ms: i64,
    app: &LoadedApp,
    customer: &Customer,
    variants: &[(String, String)],
) -> Result<StoredEvent, ApiError> {
    let id = uuid_field(|| format!("events[{i}].id"), &event.id)?;
    let session_id = uuid_field(|| format!("events[{i}].session_id"), &event.session_id)?;
    if event.at <= 0 {
        return Err(ApiError::invalid(
            format!("events[{i}].at"),
            "`at` is unix milliseconds and must be positive",
        ));
    }
    if event.at > now_ms + MAX_FUTURE_MS {
        return Err(ApiError::invalid(
            format!("events[{i}].at"),
            "`at` is more than a day in the future",
        ));
    }
    if let Some(t) = &event.free_text {
        text::free_text(|| format!("events[{i}].free_text"), t, MAX_FREE_TEXT)?;
    }
    for (name, value) in [
        ("reason", &event.reason),
        ("offer_id", &event.offer_id),
        ("locale", &event.locale),
        ("step", &event.step),
        ("prompt", &event.prompt),
        ("trigger", &event.trigger),
        ("metric", &event.metric),
        ("feature", &event.feature),
        ("variant", &event.variant),
    ] {
        text::optional_key(
            || format!("events[{i}].{name}"),
            value.as_deref(),
            text::MAX_KEY,
        )?;
    }
    let at = event.at / 1000;
    let session = event
        .kind
        .is_cancel_flow()
        .then(|| facts(event, at, app, customer, variants));
    Ok(StoredEvent {
        id,
        session_id,
        kind: event.kind.as_str(),
        at,
        payload: serde_json::to_string(event).map_err(anyhow::Error::from)?,
        customer_id: customer.id.clone(),
        session,
    })
}

fn facts(
    event: &Event,
    at: i64,
    app: &LoadedApp,
    customer: &Customer,
    variants: &[(String, String)],
) -> SessionFacts {
    let mut facts = base_facts(customer, variants, at);
    facts.reason = event.reason.clone();
    let offer = event
        .offer_id
        .as_deref()
        .and_then(|id| app.config.offer(id));
    match event.kind {
        EventType::OfferShown => {
            if let Some(offer) = offer {
                facts = with_offer(facts, &app.config, offer, customer);
                // Shown is not accepted: only a save carries the offer's cost.
                facts.offer_cost_cents = 0;
            }
        }
        // Outcomes are the server's own records (the acceptance and cancellation calls); the
        // client's `offer_accepted` and `cancel_confirmed` events only feed the funnel.
        EventType::FlowAbandoned => facts.abandoned = true,
        _ => {}
    }
    facts
}
