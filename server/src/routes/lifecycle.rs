//! Admin: what happened to a customer afterwards, reported by the host's backend (`upgraded`,
//! `resumed`, `churned`). Churn after a save is what save durability measures; an upgrade is what
//! upgrade prompts convert to.

use crate::storage::Scope;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::LoadedApp;
use crate::error::ApiError;
use crate::extract::Json;
use crate::storage::LifecycleRecord;

/// A lifecycle change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleType {
    /// Moved to a higher plan.
    Upgraded,
    /// Came back from a pause or a cancellation.
    Resumed,
    /// The subscription ended.
    Churned,
}

impl LifecycleType {
    fn as_str(self) -> &'static str {
        match self {
            LifecycleType::Upgraded => "upgraded",
            LifecycleType::Resumed => "resumed",
            LifecycleType::Churned => "churned",
        }
    }
}

/// The request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleEvent {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: LifecycleType,
    /// When, in unix seconds.
    #[schema(minimum = 1)]
    pub at: i64,
    /// The plan after the change.
    #[serde(default)]
    #[schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub plan: Option<String>,
    /// MRR after the change.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    pub mrr_cents: Option<i64>,
}

/// The response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Recorded {
    /// Always true.
    pub recorded: bool,
}

/// Records a lifecycle event.
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/customers/{customer_id}/lifecycle",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("customer_id" = String, Path, min_length = 1, max_length = 256, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", description = "The host's customer id"),
    ),
    request_body = LifecycleEvent,
    responses(
        (status = 200, description = "Recorded", body = Recorded),
        (status = 401, description = "Missing or wrong key", body = crate::error::ErrorResponse),
        (status = 422, description = "A field is refused", body = crate::error::ErrorResponse),
    )
)]
pub async fn post(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<crate::apps::AdminCaller>,
    Path((_, customer_id)): Path<(String, String)>,
    Json(event): Json<LifecycleEvent>,
) -> Result<Json<Recorded>, ApiError> {
    crate::customers::check_id("customer_id", &customer_id)?;
    if event.at <= 0 || event.at > crate::clock::now() + 86_400 {
        return Err(ApiError::invalid(
            "at",
            "`at` is unix seconds, positive and at most a day ahead",
        ));
    }
    crate::text::optional_key(
        || "plan".into(),
        event.plan.as_deref(),
        crate::text::MAX_KEY,
    )?;
    if event
        .mrr_cents
        .is_some_and(|m| !(0..=crate::customers::MAX_MRR_CENTS).contains(&m))
    {
        return Err(ApiError::invalid(
            "mrr_cents",
            format!("mrr_cents is from 0 to {}", crate::customers::MAX_MRR_CENTS),
        ));
    }
    let record = LifecycleRecord {
        customer_id,
        kind: event.kind.as_str().to_string(),
        at: event.at,
        plan: event.plan,
        mrr_cents: event.mrr_cents,
    };
    state
        .inner
        .storage
        .record_lifecycle(Scope::new(&app.record.id, caller.mode.is_live()), &record)
        .await?;
    if event.kind == LifecycleType::Upgraded {
        // An upgrade converts the latest upgrade prompt shown in the 30 days before it.
        state
            .inner
            .storage
            .attribute_upgrades(
                Scope::new(&app.record.id, caller.mode.is_live()),
                &record.customer_id,
            )
            .await?;
        let storage = &state.inner.storage;
        if let Some((session, prompt, trigger, shown_at)) = storage
            .converted_by(
                Scope::new(&app.record.id, caller.mode.is_live()),
                &record.customer_id,
                record.at,
            )
            .await?
        {
            let mut data = crate::webhooks::session_data(
                &app.record.id,
                caller.mode,
                &record.customer_id,
                &session,
            );
            data["prompt"] = prompt.into();
            data["trigger"] = trigger.into();
            data["shown_at"] = crate::webhooks::rfc3339(shown_at).into();
            data["upgraded_at"] = crate::webhooks::rfc3339(record.at).into();
            data["plan"] = record.plan.clone().into();
            let message = crate::webhooks::message("prompt.converted", record.at, data);
            storage
                .enqueue(
                    Scope::new(&app.record.id, caller.mode.is_live()),
                    None,
                    &[message],
                    crate::clock::now(),
                )
                .await?;
        }
    }
    Ok(Json(Recorded { recorded: true }))
}
