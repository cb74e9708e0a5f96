//! Admin: webhook endpoints of the admin key's mode, and their deliveries.
//!
//! An endpoint's secret (`whsec_...`) is shown when it is created and when it is rotated, never
//! again. A rotation keeps the old secret signing beside the new one for a grace period, so a
//! receiver can switch without dropping a message.

use crate::storage::Scope;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::{AdminCaller, LoadedApp};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::storage::webhooks::{Attempt, DeliveryFilter, Endpoint, Message};
use crate::webhooks::{EVENT_TYPES, check_url, new_secret};

/// A new endpoint.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// Where to post: `https://` (plain `http` and private addresses only where the server allows
    /// them).
    #[schema(max_length = 2048, pattern = r"^https?://[^\s/?#]+")]
    pub url: String,
    /// The event types to send; empty or absent: all.
    #[serde(default)]
    #[schema(value_type = Vec<crate::webhooks::EventName>)]
    pub events: Vec<String>,
    /// A note for whoever reads the list.
    #[serde(default)]
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub description: String,
}

/// A change to an endpoint: each field given replaces the stored one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointChange {
    /// A new URL.
    #[schema(max_length = 2048, pattern = r"^https?://[^\s/?#]+")]
    pub url: Option<String>,
    /// New event types (empty: all).
    #[schema(value_type = Option<Vec<crate::webhooks::EventName>>)]
    pub events: Option<Vec<String>>,
    /// A new description.
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub description: Option<String>,
    /// Enable or disable it (enabling clears the reason it was disabled).
    pub enabled: Option<bool>,
}

/// A rotation.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// How long the old secret keeps signing, in seconds (default a day, at most a week).
    #[schema(minimum = 0, maximum = 604_800)]
    pub grace_seconds: Option<i64>,
}

/// An endpoint as listed (no secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    /// Its id.
    pub id: String,
    /// Where messages go.
    pub url: String,
    /// The event types it takes (empty: all).
    pub events: Vec<String>,
    /// The note.
    pub description: String,
    /// Whether messages are sent.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Failing since, Unix seconds.
    pub failing_since: Option<i64>,
    /// Until when the previous secret signs too.
    pub previous_secret_until: Option<i64>,
    /// Created, Unix seconds.
    pub created_at: i64,
}

/// An endpoint with its secret: the answer to creation and rotation only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// `whsec_...`: verify signatures with it. Shown now only.
    pub secret: String,
}

/// Endpoints, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointList {
    /// Every endpoint of the key's mode.
    pub endpoints: Vec<EndpointView>,
}

/// A delivery with its attempts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// The message (`id` is its `webhook-id`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub message: Message,
    /// The body sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Every attempt, in order.
    #[schema(value_type = Vec<Object>)]
    pub attempt_log: Vec<Attempt>,
}

/// Deliveries, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    /// At most 100.
    pub deliveries: Vec<Delivery>,
}

/// Filters of the deliveries list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// One endpoint's.
    pub endpoint_id: Option<String>,
    /// One event type's.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
}

fn view(e: &Endpoint) -> EndpointView {
    EndpointView {
        id: e.id.clone(),
        url: e.url.clone(),
        events: e.events.clone(),
        description: e.description.clone(),
        enabled: e.enabled,
        disabled_reason: e.disabled_reason.clone(),
        failing_since: e.failing_since,
        previous_secret_until: e.previous_until,
        created_at: e.created_at,
    }
}

fn check_events(events: &[String]) -> Result<(), ApiError> {
    if let Some((i, e)) = events
        .iter()
        .enumerate()
        .find(|(_, e)| !EVENT_TYPES.contains(&e.as_str()))
    {
        return Err(ApiError::invalid(
            format!("events[{i}]"),
            format!("{e:?} is not an event type ({})", EVENT_TYPES.join(", ")),
        ));
    }
    Ok(())
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_endpoint",
        format!("no webhook endpoint {id} in this mode"),
    )
    .field("id")
}

async fn load(
    state: &AppState,
    app: &LoadedApp,
    caller: &AdminCaller,
    id: &str,
) -> Result<Endpoint, ApiError> {
    state
        .inner
        .storage
        .endpoint(Scope::new(&app.record.id, caller.mode.is_live()), id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// Creates an endpoint; answers its secret once.
#[utoipa::path(post, path = "/v1/admin/apps/{app_id}/webhooks/endpoints", tag = "admin",
    security(("admin_key" = [])), params(("app_id" = String, Path, description = "Public app id")),
    request_body = NewEndpoint,
    responses(
        (status = 201, description = "Created, with its secret", body = EndpointWithSecret),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused; `field` names it", body = crate::error::ErrorResponse),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Json(body): Json<NewEndpoint>,
) -> Result<(StatusCode, axum::Json<EndpointWithSecret>), ApiError> {
    check_url(&body.url, state.inner.settings.webhooks.allow_private)
        .map_err(|e| ApiError::invalid("url", e))?;
    check_events(&body.events)?;
    crate::text::free_text(|| "description".into(), &body.description, 500)?;
    let now = crate::clock::now();
    let endpoint = Endpoint {
        id: format!("whep_{}", crate::keys::random_hex(8)?),
        app_id: app.record.id.clone(),
        live: caller.mode.is_live(),
        url: body.url,
        description: body.description,
        events: body.events,
        secret: new_secret()?,
        previous_secret: None,
        previous_until: None,
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    state.inner.storage.create_endpoint(&endpoint).await?;
    crate::changes::note(
        &state,
        &app.record.id,
        &caller,
        "webhook.endpoint_created",
        &endpoint.id,
        &endpoint.url,
    )
    .await;
    Ok((
        StatusCode::CREATED,
        axum::Json(EndpointWithSecret {
            endpoint: view(&endpoint),
            secret: endpoint.secret,
        }),
    ))
}

/// Lists the endpoints of the key's mode.
#[utoipa::path(get, path = "/v1/admin/apps/{app_id}/webhooks/endpoints", tag = "admin",
    security(("admin_key" = [])), params(("app_id" = String, Path, description = "Public app id")),
    responses(
        (status = 200, description = "Oldest first", body = EndpointList),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
) -> Result<axum::Json<EndpointList>, ApiError> {
    let endpoints = state
        .inner
        .storage
        .endpoints(Scope::new(&app.record.id, caller.mode.is_live()))
        .await?;
    Ok(axum::Json(EndpointList {
        endpoints: endpoints.iter().map(view).collect(),
    }))
}

/// Reads one endpoint.
#[utoipa::path(get, path = "/v1/admin/apps/{app_id}/webhooks/endpoints/{id}", tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), ("id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
        (status = 404, description = "No such endpoint in this mode", body = crate::error::ErrorResponse),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, id)): Path<(String, String)>,
) -> Result<axum::Json<EndpointView>, ApiError> {
    Ok(axum::Json(view(&load(&state, &app, &caller, &id).await?)))
}

/// Changes an endpoint.
#[utoipa::path(patch, path = "/v1/admin/apps/{app_id}/webhooks/endpoints/{id}", tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), ("id" = String, Path, description = "Endpoint id")),
    request_body = EndpointChange,
    responses(
        (status = 200, description = "The endpoint as changed", body = EndpointView),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
        (status = 404, description = "No such endpoint in this mode", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused; `field` names it", body = crate::error::ErrorResponse),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, id)): Path<(String, String)>,
    Json(change): Json<EndpointChange>,
) -> Result<axum::Json<EndpointView>, ApiError> {
    let mut e = load(&state, &app, &caller, &id).await?;
    if let Some(url) = change.url {
        check_url(&url, state.inner.settings.webhooks.allow_private)
            .map_err(|m| ApiError::invalid("url", m))?;
        e.url = url;
    }
    if let Some(events) = change.events {
        check_events(&events)?;
        e.events = events;
    }
    if let Some(description) = change.description {
        crate::text::free_text(|| "description".into(), &description, 500)?;
        e.description = description;
    }
    if let Some(enabled) = change.enabled {
        e.enabled = enabled;
        e.disabled_reason = (!enabled).then(|| "disabled by an admin".to_string());
        if enabled {
            e.failing_since = None;
        }
    }
    e.updated_at = crate::clock::now();
    state.inner.storage.update_endpoint(&e).await?;
    Ok(axum::Json(view(&e)))
}

/// Deletes an endpoint; its pending messages are given up.
#[utoipa::path(delete, path = "/v1/admin/apps/{app_id}/webhooks/endpoints/{id}", tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), ("id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
        (status = 404, description = "No such endpoint in this mode", body = crate::error::ErrorResponse),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if state
        .inner
        .storage
        .delete_endpoint(Scope::new(&app.record.id, caller.mode.is_live()), &id)
        .await?
    {
        crate::changes::note(
            &state,
            &app.record.id,
            &caller,
            "webhook.endpoint_deleted",
            id,
            "",
        )
        .await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}

/// Rotates an endpoint's secret; the old one keeps signing for the grace period.
#[utoipa::path(post, path = "/v1/admin/apps/{app_id}/webhooks/endpoints/{id}/rotate-secret", tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), ("id" = String, Path, description = "Endpoint id")),
    request_body = Rotation,
    responses(
        (status = 200, description = "The new secret", body = EndpointWithSecret),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
        (status = 404, description = "No such endpoint in this mode", body = crate::error::ErrorResponse),
        (status = 422, description = "The grace period is out of range", body = crate::error::ErrorResponse),
    ))]
pub async fn rotate(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, id)): Path<(String, String)>,
    Json(body): Json<Rotation>,
) -> Result<axum::Json<EndpointWithSecret>, ApiError> {
    let grace = body.grace_seconds.unwrap_or(86_400);
    if !(0..=7 * 86_400).contains(&grace) {
        return Err(ApiError::invalid(
            "grace_seconds",
            "from 0 to 604800 (a week)",
        ));
    }
    let mut e = load(&state, &app, &caller, &id).await?;
    let now = crate::clock::now();
    e.previous_secret = Some(std::mem::replace(&mut e.secret, new_secret()?));
    e.previous_until = Some(now + grace);
    e.updated_at = now;
    state.inner.storage.update_endpoint(&e).await?;
    Ok(axum::Json(EndpointWithSecret {
        endpoint: view(&e),
        secret: e.secret.clone(),
    }))
}

/// Sends a `webhook.test` message to one endpoint.
#[utoipa::path(post, path = "/v1/admin/apps/{app_id}/webhooks/endpoints/{id}/test", tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), ("id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 202, description = "Queued; its delivery shows in the deliveries list"),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
        (status = 404, description = "No such endpoint in this mode", body = crate::error::ErrorResponse),
    ))]
pub async fn test(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, id)): Path<(String, String)>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    load(&state, &app, &caller, &id).await?;
    let now = crate::clock::now();
    let ping = crate::webhooks::message(
        "webhook.test",
        now,
        serde_json::json!({ "app_id": app.record.id, "mode": caller.mode, "endpoint_id": id }),
    );
    let ids = state
        .inner
        .storage
        .enqueue(
            Scope::new(&app.record.id, caller.mode.is_live()),
            Some(&id),
            &[ping],
            now,
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({ "message_ids": ids })),
    ))
}

/// Lists deliveries of the key's mode with their attempts.
#[utoipa::path(get, path = "/v1/admin/apps/{app_id}/webhooks/deliveries", tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), DeliveryParams),
    responses(
        (status = 200, description = "Newest first", body = DeliveryList),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Query(params): Query<DeliveryParams>,
) -> Result<axum::Json<DeliveryList>, ApiError> {
    let storage = &state.inner.storage;
    let messages = storage
        .deliveries(
            Scope::new(&app.record.id, caller.mode.is_live()),
            &DeliveryFilter {
                endpoint_id: params.endpoint_id,
                kind: params.kind,
                status: params.status,
                limit: 100,
            },
        )
        .await?;
    let mut deliveries = Vec::with_capacity(messages.len());
    for message in messages {
        let attempt_log = storage.attempts(&message.id).await?;
        deliveries.push(Delivery {
            payload: serde_json::from_str(&message.payload).unwrap_or_default(),
            message,
            attempt_log,
        });
    }
    Ok(axum::Json(DeliveryList { deliveries }))
}

/// Sends a message again now.
#[utoipa::path(post, path = "/v1/admin/apps/{app_id}/webhooks/deliveries/{id}/retry", tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id"), ("id" = String, Path, description = "Message id (webhook-id)")),
    responses(
        (status = 202, description = "Queued again"),
        (status = 401, description = "Missing, wrong or revoked key", body = crate::error::ErrorResponse),
        (status = 404, description = "No such message in this mode", body = crate::error::ErrorResponse),
    ))]
pub async fn retry(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if state
        .inner
        .storage
        .retry_message(Scope::new(&app.record.id, caller.mode.is_live()), &id)
        .await?
    {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_message",
            format!("no webhook message {id} in this mode"),
        )
        .field("id"))
    }
}
