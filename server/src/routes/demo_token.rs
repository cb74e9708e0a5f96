//! `POST /demo/token` (only with `--demo`): plays the host's backend for the demo page, signing
//! a customer token for the demo app with its test-mode signing secret, so a newcomer sees both
//! ways of identifying a customer. A test-mode token reads and writes test data only; no real
//! app has this route.

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
