//! The demo's stand-ins for a host's backend, only with `--demo`, so a newcomer sees the whole
//! loop after `scripts/run`:
//!
//! - `POST /demo/token` signs a customer token for the demo app with its test-mode signing
//!   secret (a test-mode token reads and writes test data only);
//! - `POST /demo/webhooks/inbox` receives the demo app's webhooks and verifies each with the
//!   Standard Webhooks library, and `GET /demo/webhooks` shows what arrived.
//!
//! No real app has these routes.

use crate::storage::Scope;
use axum::extract::State;
use holdfast_core::Customer;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::Json;
use crate::keys::Mode;

/// What the demo page sends: the customer it would otherwise pass as an object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The customer.
    pub customer: Customer,
    /// When the paid period ends, Unix seconds.
    #[serde(default)]
    pub period_end: Option<i64>,
}

/// The signed token.
#[derive(Debug, Serialize)]
pub struct Signed {
    /// An HS256 JWT valid for an hour.
    pub token: String,
}

/// Signs a test-mode customer token for the demo app.
pub async fn sign(
    State(state): State<AppState>,
    Json(body): Json<SignRequest>,
) -> Result<axum::Json<Signed>, ApiError> {
    crate::customers::check_fields(&body.customer)?;
    let now = crate::clock::now();
    let secret = state
        .inner
        .storage
        .signing_secrets(crate::DEMO_APP_ID)
        .await?
        .into_iter()
        .find(|s| s.mode == Mode::Test && s.valid_at(now))
        .ok_or_else(|| anyhow::anyhow!("the demo app has no test signing secret"))?;
    let c = body.customer;
    let mut claims = serde_json::json!({
        "sub": c.id, "aud": crate::DEMO_APP_ID, "iat": now, "exp": now + 3600,
        "plan": c.plan, "mrr_cents": c.mrr_cents, "created_at": c.created_at,
        "discounted": c.discounted, "attributes": c.attributes,
    });
    for (k, v) in [
        ("currency", c.currency),
        ("country", c.country),
        ("region", c.region),
        ("locale", c.locale),
        ("segment", c.segment),
    ] {
        if let Some(v) = v {
            claims[k] = v.into();
        }
    }
    for (k, v) in [("seats_used", c.seats_used), ("seats_limit", c.seats_limit)] {
        if let Some(v) = v {
            claims[k] = v.into();
        }
    }
    if let Some(end) = body.period_end {
        claims["period_end"] = end.into();
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(secret.kid.clone());
    let key = jsonwebtoken::EncodingKey::from_secret(secret.secret.as_bytes())
        .map_err(anyhow::Error::from)?;
    let token = jsonwebtoken::encode(&header, &claims, &key).map_err(anyhow::Error::from)?;
    Ok(axum::Json(Signed { token }))
}

/// The description that marks the demo's own webhook endpoint.
pub const INBOX: &str = "demo inbox";

/// A webhook the demo's inbox received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its `webhook-id`.
    pub id: String,
    /// Whether its signature verified.
    pub verified: bool,
    /// The body.
    pub body: String,
}

/// The demo's inbox: the last 50 webhooks, in memory.
#[derive(Debug, Default)]
pub struct Inbox(std::sync::Mutex<std::collections::VecDeque<Received>>);

/// Receives one of the demo app's webhooks.
pub async fn receive(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: String,
) -> axum::http::StatusCode {
    let endpoints = state
        .inner
        .storage
        .endpoints(Scope::new(crate::DEMO_APP_ID, false))
        .await
        .unwrap_or_default();
    let verified = endpoints
        .iter()
        .filter(|e| e.description == INBOX)
        .any(|e| {
            standardwebhooks::Webhook::new(&e.secret)
                .is_ok_and(|wh| wh.verify(body.as_bytes(), &headers).is_ok())
        });
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut inbox = state
        .inner
        .inbox
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !inbox.iter().any(|r| r.id == id) {
        inbox.push_front(Received { id, verified, body });
        inbox.truncate(50);
    }
    axum::http::StatusCode::OK
}

/// Shows what the inbox received, newest first.
pub async fn inbox(State(state): State<AppState>) -> axum::response::Html<String> {
    let rows: String = state
        .inner
        .inbox
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(|r| {
            let pretty = serde_json::from_str::<serde_json::Value>(&r.body)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|_| r.body.clone());
            format!(
                "<li data-testid=\"webhook\"><strong>{}</strong> {} <pre>{}</pre></li>",
                if r.verified {
                    "signature verified"
                } else {
                    "signature NOT verified"
                },
                escape(&r.id),
                escape(&pretty)
            )
        })
        .collect();
    axum::response::Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Demo webhook inbox</title></head>\
         <body><main><h1>Webhooks the demo app sent</h1><p>Each is verified with the Standard Webhooks \
         library, as your backend would. Accept an offer or cancel on <a href=\"/\">the demo page</a>, \
         then reload.</p><ul>{rows}</ul></main></body></html>"
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Points the demo app's inbox endpoint at this server's `base` URL (creating it once).
pub async fn ensure_inbox(storage: &crate::Storage, base: &str) -> anyhow::Result<()> {
    let url = format!("{base}/demo/webhooks/inbox");
    let now = crate::clock::now();
    let existing = storage
        .endpoints(Scope::new(crate::DEMO_APP_ID, false))
        .await?;
    if let Some(mut e) = existing.into_iter().find(|e| e.description == INBOX) {
        if e.url != url {
            e.url = url;
            e.updated_at = now;
            storage.update_endpoint(&e).await?;
        }
        return Ok(());
    }
    storage
        .create_endpoint(&crate::storage::webhooks::Endpoint {
            id: format!("whep_{}", crate::keys::random_hex(8)?),
            app_id: crate::DEMO_APP_ID.into(),
            live: false,
            url,
            description: INBOX.into(),
            events: Vec::new(),
            secret: crate::webhooks::new_secret()?,
            previous_secret: None,
            previous_until: None,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        })
        .await
}
