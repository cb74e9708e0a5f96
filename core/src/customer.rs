//! The subscriber as the host app describes them: the input to targeting, caps and assignment.
//!
//! The host's backend knows the customer; the browser only relays what it was given. In live mode
//! the server trusts these fields only when `hash` verifies (HMAC of the id), so nothing here is
//! assumed honest on its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, UTC. One unit everywhere so that tenure, cooldowns and cap windows
/// never mix milliseconds and seconds.
pub type UnixSeconds = i64;

/// Seconds in a day, for tenure bands, cooldowns and cap periods expressed in days.
pub const DAY: UnixSeconds = 86_400;

/// A subscriber of the host app, as sent by the embed call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// The host's own customer id; the unit of assignment, caps and audit.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 256,
            pattern = r"^[^\x00-\x1F\x7F-\x9F]+$"
        )
    )]
    pub id: String,
    /// The plan id the customer is on, matched by targeting rules and downgrade offers.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")
    )]
    pub plan: String,
    /// Monthly recurring revenue in the smallest currency unit: drives high-value targeting and saved MRR.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 100_000_000_000_i64)
    )]
    pub mrr_cents: i64,
    /// When the subscription started, in Unix seconds (an ISO 8601 date such as `2026-01-31` is
    /// read too, as the widget's API documents); tenure is measured from here.
    #[serde(deserialize_with = "seconds_or_iso8601")]
    #[cfg_attr(feature = "openapi", schema(schema_with = created_at_schema))]
    pub created_at: UnixSeconds,
    /// Seats in use, for the seat-based upgrade prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 0, maximum = 4_294_967_295_i64))]
    pub seats_used: Option<u32>,
    /// Seats the plan allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 0, maximum = 4_294_967_295_i64))]
    pub seats_limit: Option<u32>,
    /// ISO 3166 country of billing (e.g. `DE`), used to resolve the policy profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")
    )]
    pub country: Option<String>,
    /// Region within the country (e.g. `CA`, `MN`), for state-level cancellation rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")
    )]
    pub region: Option<String>,
    /// Preferred locale (BCP 47), tried before the browser's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")
    )]
    pub locale: Option<String>,
    /// Currency of `mrr_cents` (ISO 4217), so money is shown the way the customer pays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")
    )]
    pub currency: Option<String>,
    /// Growth-team segment label set by the host (e.g. `smb`, `enterprise`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")
    )]
    pub segment: Option<String>,
    /// Whether the subscription is already discounted (the abuse ledger refuses stacking discounts).
    #[serde(default)]
    pub discounted: bool,
    /// Free-form host attributes that targeting rules may test.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// The document's `created_at`: Unix seconds, an ISO 8601 date, or a date and time.
#[cfg(feature = "openapi")]
fn created_at_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let text = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0)),
        )
        .item(text(KnownFormat::Date))
        .item(text(KnownFormat::DateTime))
        .description(Some(
            "When the subscription started: Unix seconds, or an ISO 8601 date or date and time",
        ))
        .into()
}

/// Reads `created_at` as Unix seconds or an ISO 8601 date ([`crate::calendar::parse_iso8601`]).
fn seconds_or_iso8601<'de, D: serde::Deserializer<'de>>(d: D) -> Result<UnixSeconds, D::Error> {
    struct Seconds;
    impl serde::de::Visitor<'_> for Seconds {
        type Value = UnixSeconds;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Unix seconds or an ISO 8601 date")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<UnixSeconds, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<UnixSeconds, E> {
            i64::try_from(v).map_err(|_| E::custom("Unix seconds out of range"))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<UnixSeconds, E> {
            crate::calendar::parse_iso8601(v)
                .ok_or_else(|| E::custom("expected Unix seconds or an ISO 8601 date"))
        }
    }
    d.deserialize_any(Seconds)
}

/// A custom attribute value: targeting compares strings, numbers and flags, nothing nested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum AttributeValue {
    /// A flag such as `beta: true`.
    Bool(bool),
    /// A number such as `projects: 12`.
    Number(f64),
    /// A label such as `industry: "retail"`.
    Text(String),
}

impl Customer {
    /// A minimal customer, for tests and for the demo; every optional field empty.
    pub fn new(
        id: impl Into<String>,
        plan: impl Into<String>,
        mrr_cents: i64,
        created_at: UnixSeconds,
    ) -> Self {
        Self {
            id: id.into(),
            plan: plan.into(),
            mrr_cents,
            created_at,
            seats_used: None,
            seats_limit: None,
            country: None,
            region: None,
            locale: None,
            currency: None,
            segment: None,
            discounted: false,
            attributes: BTreeMap::new(),
        }
    }

    /// Whole days since the subscription started (never negative: a clock skew is not a tenure).
    pub fn tenure_days(&self, now: UnixSeconds) -> i64 {
        ((now - self.created_at) / DAY).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenure_counts_whole_days_and_never_goes_negative() {
        let c = Customer::new("c1", "pro", 4900, 1_000 * DAY);
        assert_eq!(c.tenure_days(1_000 * DAY + DAY - 1), 0);
        assert_eq!(c.tenure_days(1_030 * DAY), 30);
        assert_eq!(c.tenure_days(900 * DAY), 0);
    }

    #[test]
    fn a_customer_with_an_unknown_field_is_refused() {
        let err = serde_json::from_str::<Customer>(
            r#"{"id":"c","plan":"p","mrr_cents":1,"created_at":0,"sneaky":1}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("sneaky"), "{err}");
    }

    #[test]
    fn created_at_is_unix_seconds_or_an_iso_8601_date() {
        let read = |v: &str| {
            serde_json::from_str::<Customer>(&format!(
                r#"{{"id":"c","plan":"p","mrr_cents":1,"created_at":{v}}}"#
            ))
            .map(|c| c.created_at)
        };
        assert_eq!(read("1769817600").unwrap(), 1_769_817_600);
        assert_eq!(read(r#""2026-01-31""#).unwrap(), 1_769_817_600);
        assert_eq!(
            read(r#""2026-01-31T01:00:00+01:00""#).unwrap(),
            1_769_817_600
        );
        let err = read(r#""last tuesday""#).unwrap_err();
        assert!(err.to_string().contains("ISO 8601"), "{err}");
        assert!(read("true").is_err());
    }
}
