//! Who the customer is, decided once per request.
//!
//! Every public route's `customer` field is either a **customer token** or, in test mode only, a
//! plain customer object. The token is an HS256 JWT the host's backend signs with the app's
//! signing secret; its claims are flat and named like the customer's fields (`sub` is the id),
//! plus `aud` (the app id), `iat` and a required `exp` at most 7 days after `iat`, and
//! optionally `period_end` (it decides the effective date, so it is signed too) and `purpose`
//! (`cancel_page` for the no-JavaScript link). The server trusts only what a token says: nothing
//! the browser adds can change the plan, the revenue or any other field targeting reads.
//!
//! The call's mode is the mode of the secret that verified the token; a plain object is test
//! mode. [`verify`] turns either into one [`VerifiedCustomer`], with the one customer-id rule and
//! the string checks every route shares, and names what is wrong with a refused token (expired,
//! wrong audience, bad signature, unknown key id, a missing or malformed claim) in a 401.

use std::collections::BTreeMap;

use holdfast_core::{AttributeValue, Customer};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Deserializer};

use crate::apps::LoadedApp;
use crate::error::ApiError;
use crate::keys::Mode;
use crate::text;

/// The largest monthly revenue accepted, in cents: a billion a month. Sums of it over every
/// session of an app stay far inside `i64`, so stats and offer costs never overflow.
pub const MAX_MRR_CENTS: i64 = 100_000_000_000;

/// The latest `period_end` accepted: ten years from now (a subscription's paid period, not a
/// date in another millennium that dates and receipts would print).
pub const MAX_PERIOD_AHEAD: i64 = 10 * 366 * 86_400;

/// Checks a `period_end` (Unix seconds): not negative, at most ten years ahead.
pub fn period_end_ok(period_end: i64, now: i64) -> bool {
    (0..=now + MAX_PERIOD_AHEAD).contains(&period_end)
}

/// Clock skew tolerated on `exp`, in seconds.
pub const LEEWAY: i64 = 60;
/// The longest a token may live: `exp - iat`.
pub const MAX_LIFETIME: i64 = 7 * 86_400;
/// How long after `exp` a token still carries funnel events that waited in the outbox.
pub const FUNNEL_GRACE: i64 = 7 * 86_400;

/// A route's `customer` field as sent.
#[derive(Debug, Clone)]
pub enum CustomerInput {
    /// A customer token (HS256 JWT) signed by the host's backend: any mode.
    Token(String),
    /// A plain customer object: test mode only.
    Object(Box<Customer>),
}

impl<'de> Deserialize<'de> for CustomerInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = CustomerInput;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a customer token (string) or a customer object")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<CustomerInput, E> {
                Ok(CustomerInput::Token(v.to_string()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<CustomerInput, A::Error> {
                // Through the same deserializer, so an error still names the field inside.
                Customer::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|c| CustomerInput::Object(Box::new(c)))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl utoipa::PartialSchema for CustomerInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"))
                    .description(Some(
                        "A customer token: an HS256 JWT signed with the app's signing secret, \
                         claims sub, aud, iat, exp, plan, mrr_cents, created_at and the optional \
                         customer fields",
                    )),
            )
            .item(<Customer as utoipa::PartialSchema>::schema())
            .description(Some(
                "A customer token (any mode), or in test mode the customer as a plain object",
            ))
            .into()
    }
}

impl utoipa::ToSchema for CustomerInput {}

impl serde::Serialize for CustomerInput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CustomerInput::Token(t) => s.serialize_str(t),
            CustomerInput::Object(c) => c.serialize(s),
        }
    }
}

/// The customer a route may trust.
#[derive(Debug, Clone)]
pub struct VerifiedCustomer {
    /// The customer's fields, from the token or (test mode) the object.
    pub customer: Customer,
    /// The mode of the secret that signed the token; test for a plain object.
    pub mode: Mode,
    /// The signed end of the current billing period, Unix seconds.
    pub period_end: Option<i64>,
    /// The token's `purpose` claim.
    pub purpose: Option<String>,
    /// The token's expiry, Unix seconds (none for a plain object).
    pub expires_at: Option<i64>,
}

impl VerifiedCustomer {
    /// Whether the token expired (past the leeway) at `now`: only funnel events may still use it.
    pub fn expired_at(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|exp| now > exp + LEEWAY)
    }
}

/// What a route accepts of an expired token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Only an unexpired token (60 s of leeway): plans, outcomes, prompt state.
    Strict,
    /// Also a token expired less than [`FUNNEL_GRACE`] ago: event batches that waited in the
    /// outbox. The route refuses outcomes on such a token itself.
    FunnelGrace,
}

/// The claims of a customer token.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    iat: Option<i64>,
    exp: Option<i64>,
    plan: String,
    mrr_cents: i64,
    created_at: i64,
    #[serde(default)]
    seats_used: Option<u32>,
    #[serde(default)]
    seats_limit: Option<u32>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    segment: Option<String>,
    #[serde(default)]
    discounted: bool,
    #[serde(default)]
    attributes: BTreeMap<String, AttributeValue>,
    #[serde(default)]
    period_end: Option<i64>,
    #[serde(default)]
    purpose: Option<String>,
}

/// Verifies a route's customer for `app` at `now`.
pub fn verify(
    app: &LoadedApp,
    input: &CustomerInput,
    now: i64,
    expiry: Expiry,
) -> Result<VerifiedCustomer, ApiError> {
    let verified = match input {
        CustomerInput::Object(customer) => VerifiedCustomer {
            customer: (**customer).clone(),
            mode: Mode::Test,
            period_end: None,
            purpose: None,
            expires_at: None,
        },
        CustomerInput::Token(token) => verify_token(app, token, now, expiry)?,
    };
    check_fields(&verified.customer)?;
    Ok(verified)
}

fn token_error(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(axum::http::StatusCode::UNAUTHORIZED, code, message).field("customer")
}

fn verify_token(
    app: &LoadedApp,
    token: &str,
    now: i64,
    expiry: Expiry,
) -> Result<VerifiedCustomer, ApiError> {
    if token.len() > 8 * 1024 {
        return Err(token_error(
            "invalid_token",
            "the customer token is too long",
        ));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| {
        token_error(
            "invalid_token",
            "the customer is neither an object nor a JWT (header.claims.signature)",
        )
    })?;
    if header.alg != Algorithm::HS256 {
        return Err(token_error(
            "invalid_token",
            format!(
                "customer tokens are signed with HS256, not {:?}",
                header.alg
            ),
        ));
    }
    let candidates: Vec<_> = app
        .signing
        .iter()
        .filter(|s| s.valid_at(now))
        .filter(|s| header.kid.as_ref().is_none_or(|kid| *kid == s.kid))
        .collect();
    if candidates.is_empty() {
        return Err(match &header.kid {
            Some(kid) => token_error(
                "unknown_key_id",
                format!("no current signing secret of this app has the key id {kid:?}"),
            ),
            None => token_error("unknown_key_id", "this app has no current signing secret"),
        });
    }
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is checked below, with the route's grace; the audience is the app.
    validation.validate_exp = false;
    validation.set_audience(&[&app.record.id]);
    validation.set_required_spec_claims(&["aud"]);
    let mut last = None;
    for secret in candidates {
        let Ok(key) = DecodingKey::from_secret(secret.secret.as_bytes()) else {
            continue;
        };
        match jsonwebtoken::decode::<Claims>(token, &key, &validation) {
            Ok(data) => return accept(data.claims, secret.mode, now, expiry),
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => last = Some(e),
            Err(e) => return Err(describe(&e)),
        }
    }
    Err(last.map_or_else(
        || {
            token_error(
                "bad_signature",
                "the customer token's signature does not verify",
            )
        },
        |e| describe(&e),
    ))
}

fn describe(e: &jsonwebtoken::errors::Error) -> ApiError {
    match e.kind() {
        ErrorKind::InvalidSignature => token_error(
            "bad_signature",
            "the customer token's signature does not verify with this app's signing secrets",
        ),
        ErrorKind::InvalidAudience => token_error(
            "wrong_audience",
            "the customer token's `aud` is not this app's id",
        ),
        ErrorKind::MissingRequiredClaim(claim) => token_error(
            "missing_claim",
            format!("the customer token has no `{claim}` claim"),
        ),
        ErrorKind::Json(e) => token_error(
            "invalid_claims",
            format!("the customer token's claims are refused: {e}"),
        ),
        ErrorKind::InvalidClaimFormat(claim) => token_error(
            "invalid_claims",
            format!("the customer token's `{claim}` claim has the wrong type"),
        ),
        _ => token_error(
            "invalid_token",
            format!("the customer token is refused: {e}"),
        ),
    }
}

fn accept(c: Claims, mode: Mode, now: i64, expiry: Expiry) -> Result<VerifiedCustomer, ApiError> {
    let missing = |claim: &str| {
        token_error(
            "missing_claim",
            format!("the customer token has no `{claim}` claim"),
        )
    };
    if c.period_end.is_some_and(|end| !period_end_ok(end, now)) {
        return Err(token_error(
            "invalid_claims",
            "the customer token's `period_end` is Unix seconds, at most ten years ahead",
        ));
    }
    let sub = c.sub.ok_or_else(|| missing("sub"))?;
    let iat = c.iat.ok_or_else(|| missing("iat"))?;
    let exp = c.exp.ok_or_else(|| missing("exp"))?;
    if exp - iat > MAX_LIFETIME {
        return Err(token_error(
            "invalid_claims",
            "a customer token lives at most 7 days (`exp` - `iat`)",
        ));
    }
    let grace = match expiry {
        Expiry::Strict => LEEWAY,
        Expiry::FunnelGrace => FUNNEL_GRACE,
    };
    if now > exp + grace {
        return Err(token_error(
            "token_expired",
            "the customer token has expired: sign a fresh one (Holdfast.identify)",
        ));
    }
    if iat > now + LEEWAY {
        return Err(token_error(
            "invalid_claims",
            "the customer token's `iat` is in the future",
        ));
    }
    Ok(VerifiedCustomer {
        customer: Customer {
            id: sub,
            plan: c.plan,
            mrr_cents: c.mrr_cents,
            created_at: c.created_at,
            seats_used: c.seats_used,
            seats_limit: c.seats_limit,
            country: c.country,
            region: c.region,
            locale: c.locale,
            currency: c.currency,
            segment: c.segment,
            discounted: c.discounted,
            attributes: c.attributes,
        },
        mode,
        period_end: c.period_end,
        purpose: c.purpose,
        expires_at: Some(exp),
    })
}

/// The one customer-id rule of every route (bodies, tokens, admin paths): 1 to 256 characters
/// and no control characters, so the ids hosts already have (`auth0|abc`, emails) stay valid.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::invalid(
            field,
            "the customer id must be 1-256 characters",
        ));
    }
    text::key(|| field.into(), id, 256)
}

/// The rules every customer meets, signed or not: one id rule (1 to 256 characters, no control
/// characters: ids like `auth0|abc` stay valid), bounded keys, sane money.
pub fn check_fields(customer: &Customer) -> Result<(), ApiError> {
    check_id("customer.id", &customer.id)?;
    text::key(|| "customer.plan".into(), &customer.plan, text::MAX_KEY)?;
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
        if let AttributeValue::Text(value) = value {
            text::key(|| format!("customer.attributes.{name}"), value, 256)?;
        }
    }
    if !(0..=MAX_MRR_CENTS).contains(&customer.mrr_cents) {
        return Err(ApiError::invalid(
            "customer.mrr_cents",
            format!("mrr_cents is from 0 to {MAX_MRR_CENTS} (a billion a month)"),
        ));
    }
    if !(0..=crate::clock::now() + 86_400).contains(&customer.created_at) {
        return Err(ApiError::invalid(
            "customer.created_at",
            "created_at is Unix seconds, not negative and not in the future",
        ));
    }
    Ok(())
}
