//! The sessions log as the API shows it: one [`SessionEntry`] per cancel session, with what the
//! subscriber wrote in the survey beside the reason, the offer and the outcome, a page at a time
//! behind an opaque [`Cursor`], or every matching session as CSV ([`csv_line`]).
//!
//! An entry is the session row the aggregator keeps (see `storage::session_log`), plus the policy
//! profile the server applied, read from the start line of the session's trail, so the log shows
//! under which rules the flow ran without a second query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use holdfast_core::events::EventType;
use serde::Serialize;

use crate::audit::{TrailEntry, csv_field};
use crate::storage::session_log::{LogKey, SessionLogRow, SessionOutcome};

/// One cancel session of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SessionEntry {
    /// The cancel session, a UUID.
    pub session_id: String,
    /// The host's customer id.
    pub customer_id: String,
    /// When the session started, Unix seconds.
    pub started_at: i64,
    /// The customer's plan then.
    pub plan: String,
    /// The customer's MRR then.
    pub mrr_cents: i64,
    /// The customer's tenure band then (`0-30d`, `30-90d`, `90-365d`, `365d+`).
    pub tenure_band: String,
    /// `experiment:variant`, if the customer was in an experiment.
    pub variant: Option<String>,
    /// The survey answer's reason id.
    pub reason: Option<String>,
    /// What the subscriber wrote with their latest answer; null when they wrote nothing.
    pub free_text: Option<String>,
    /// The offer shown, or the one accepted.
    pub offer_id: Option<String>,
    /// Its kind (`discount`, `pause`, ...).
    pub offer_kind: Option<String>,
    /// How the session ended: `saved`, `cancelled`, `abandoned`, or `open` (nothing yet).
    pub outcome: SessionOutcome,
    /// The policy profile the server applied at the start (`standard`, `california`, ...),
    /// when the session's start was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

impl From<SessionLogRow> for SessionEntry {
    fn from(row: SessionLogRow) -> Self {
        let profile = profile_of(&row.trail);
        Self {
            session_id: row.session_id,
            customer_id: row.customer_id,
            started_at: row.started_at,
            plan: row.plan,
            mrr_cents: row.mrr_cents,
            tenure_band: row.tenure_band,
            variant: row.variant,
            reason: row.reason,
            free_text: row.free_text,
            offer_id: row.offer_id,
            offer_kind: row.offer_kind,
            outcome: row.outcome,
            profile,
        }
    }
}

/// The profile the trail's `flow_started` line records. Only that line is parsed: the others
/// cannot hold one.
fn profile_of(trail: &str) -> Option<String> {
    trail
        .lines()
        .filter(|line| line.contains(EventType::FlowStarted.as_str()))
        .filter_map(|line| serde_json::from_str::<TrailEntry>(line).ok())
        .find(|e| e.kind == EventType::FlowStarted.as_str())
        .and_then(|e| e.profile)
        .map(|p| p.as_str().to_string())
}

/// Where a page of the log ends: the key of its last session. Opaque on the wire (URL-safe
/// base64), so clients pass it back as given and its form can change without breaking them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub LogKey);

impl Cursor {
    /// The cursor as the API gives it.
    pub fn encode(&self) -> String {
        let (started_at, session_id) = &self.0;
        URL_SAFE_NO_PAD.encode(format!("{started_at}:{session_id}"))
    }

    /// A cursor the API gave, or `None` for anything else (a session id is at most 128
    /// characters without control characters, as ingest accepts them).
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (started_at, session_id) = text.split_once(':')?;
        let started_at = started_at.parse().ok()?;
        let plain = !session_id.is_empty()
            && session_id.len() <= crate::text::MAX_KEY
            && !session_id.chars().any(char::is_control);
        plain.then(|| Cursor((started_at, session_id.to_string())))
    }
}

/// The CSV export's columns, in order: the JSON entry's fields.
pub const CSV_HEADER: &str = "session_id,customer_id,started_at,plan,mrr_cents,tenure_band,\
variant,reason,free_text,offer_id,offer_kind,outcome,profile\n";

/// One entry as a CSV line, quoted as the audit export quotes (RFC 4180, and a leading `=`, `+`,
/// `-` or `@` defused so a spreadsheet never runs a subscriber's words as a formula).
pub fn csv_line(e: &SessionEntry) -> String {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let fields = [
        e.session_id.clone(),
        e.customer_id.clone(),
        e.started_at.to_string(),
        e.plan.clone(),
        e.mrr_cents.to_string(),
        e.tenure_band.clone(),
        text(&e.variant),
        text(&e.reason),
        text(&e.free_text),
        text(&e.offer_id),
        text(&e.offer_kind),
        e.outcome.as_str().to_string(),
        text(&e.profile),
    ];
    let mut line = fields.map(|f| csv_field(&f)).join(",");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_key_it_was_made_from() {
        let key = (
            1_767_571_200,
            "7f1c2a54-9d1e-4c55-8a39-2b0f6f0b8d11".to_string(),
        );
        let cursor = Cursor(key.clone()).encode();
        assert_eq!(Cursor::decode(&cursor), Some(Cursor(key)));
        assert!(!cursor.contains(['+', '/', '=', '&']), "safe in a query");
    }

    #[test]
    fn anything_but_a_cursor_the_api_gave_is_refused() {
        for bad in ["", "not base64!", "MTIz", &URL_SAFE_NO_PAD.encode("x:abc")] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("12:a\u{0}b")), None);
    }

    #[test]
    fn the_profile_is_the_one_the_start_recorded() {
        let trail = "{\"at\":1,\"type\":\"flow_started\",\"received\":2,\"profile\":\"california\"}\n\
                     {\"at\":3,\"type\":\"reason_selected\",\"received\":4,\"reason\":\"other\"}\n";
        assert_eq!(profile_of(trail).as_deref(), Some("california"));
        assert_eq!(profile_of(""), None);
    }

    #[test]
    fn free_text_with_commas_quotes_and_line_breaks_stays_one_field() {
        let entry = SessionEntry {
            session_id: "s".into(),
            customer_id: "c".into(),
            started_at: 1,
            plan: "pro".into(),
            mrr_cents: 4900,
            tenure_band: "365d+".into(),
            variant: None,
            reason: Some("other".into()),
            free_text: Some("too \"pricey\", sadly\nreally".into()),
            offer_id: None,
            offer_kind: None,
            outcome: SessionOutcome::Open,
            profile: None,
        };
        assert_eq!(
            csv_line(&entry),
            "s,c,1,pro,4900,365d+,,other,\"too \"\"pricey\"\", sadly\nreally\",,,open,\n"
        );
    }
}
