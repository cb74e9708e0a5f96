//! The evidence for every cancellation: a per-session audit record and a per-profile summary.
//!
//! Each cancel-flow event the server accepts adds one line to its session's trail ([`crate::funnel::trail_line`]),
//! appended by the aggregator in the statement that folds the event, never rewritten. The server
//! writes the line itself: the time and type it accepted, and for the session's start the profile
//! applied with the server's own explanation of it ([`ProfileBasis`], from the signed customer's
//! billing place and the app's settings) and the offer limit the profile allowed.
//!
//! An export turns a trail into an [`AuditRecord`] by replaying it through core's cancel-flow
//! state machine ([`Flow`]), the one the widget and the no-JavaScript page run: the steps shown
//! and whether the cancel control was visible on each come from core's rules, not from the
//! browser's word, and the outcome, received-at and effective dates and the receipt come from the
//! outcome the server recorded. [`EvidenceSummary`] folds records per profile, one at a time, so
//! a year of sessions never sits in memory (only the per-profile medians' samples do).

use std::collections::BTreeMap;

use holdfast_core::flow::{Action, Flow, Outcome, Step};
use holdfast_core::plan::ProfileBasis;
use holdfast_core::policy::PolicyProfile;
use serde::{Deserialize, Serialize};

use crate::storage::outcomes::AuditRow;
use holdfast_core::events::EventType;

/// One line of a session's trail, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrailEntry {
    /// When the event happened (the client's clock, bounded at ingest), Unix milliseconds.
    pub at: i64,
    /// The event type (`flow_started`, `offer_shown`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// When the server accepted it, Unix milliseconds.
    pub received: i64,
    /// The survey answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The offer concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// The session's start: the profile applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub profile: Option<PolicyProfile>,
    /// The session's start: why that profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub basis: Option<ProfileBasis>,
    /// The session's start: the customer's billing place (`US-MN`, `DE`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// The session's start: offer screens the profile allowed with the app's setting then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_limit: Option<u8>,
    /// The session's start: the locale shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// One step shown, with its time and whether the cancel control was visible on it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditStep {
    /// `survey`, `offer`, `confirm`, `offer_question`, `offer_after_cancel` or `done`.
    pub step: &'static str,
    /// When it was shown, Unix milliseconds: the time of the event that led to it.
    pub at: i64,
    /// Whether the "Continue to cancel" control was visible on it (core's rules).
    pub cancel_control_visible: bool,
}

/// An offer shown and the subscriber's answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditOffer {
    /// The offer id, as in the app config.
    pub offer_id: String,
    /// When it was shown, Unix milliseconds.
    pub shown_at: i64,
    /// `accepted`, `declined` or `none` (the flow ended on it).
    pub answer: &'static str,
}

/// The profile a session ran under and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditProfile {
    /// The profile applied.
    #[schema(value_type = Option<String>)]
    pub applied: Option<PolicyProfile>,
    /// Why: `billing_place`, `host_choice`, `default`, `business_audience` or
    /// `browser_country_or_host_choice`.
    #[schema(value_type = Option<String>)]
    pub basis: Option<ProfileBasis>,
    /// The customer's billing place, when known.
    pub place: Option<String>,
    /// Offer screens the profile allowed.
    pub offer_limit: Option<u8>,
}

/// The audit record of one cancel session.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// The cancel session.
    pub session_id: String,
    /// The customer.
    pub customer_id: String,
    /// When the session started, Unix seconds.
    pub started_at: i64,
    /// The customer's plan then.
    pub plan: String,
    /// The customer's MRR then.
    pub mrr_cents: i64,
    /// `experiment:variant`, if the customer was in one.
    pub variant: Option<String>,
    /// The profile and why.
    pub profile: AuditProfile,
    /// The locale shown.
    pub locale: Option<String>,
    /// The survey answer.
    pub reason: Option<String>,
    /// Every step shown, in order.
    pub steps: Vec<AuditStep>,
    /// Offers shown and the answers.
    pub offers: Vec<AuditOffer>,
    /// Subscriber actions from entry to the cancellation (survey answer, declines, continue,
    /// confirm), for a cancelled session.
    pub clicks_to_cancel: Option<u32>,
    /// Seconds from entry to the confirmed cancellation.
    pub seconds_to_cancel: Option<f64>,
    /// The recorded outcome: `saved`, `cancelled`, `abandoned`, or `none` (still open).
    pub outcome: String,
    /// When the server recorded it, Unix seconds.
    pub received_at: Option<i64>,
    /// A cancellation's last day (`YYYY-MM-DD`).
    pub effective_date: Option<String>,
    /// The receipt the profile required, as given.
    #[schema(value_type = Option<Object>)]
    pub receipt: Option<serde_json::Value>,
    /// The accepted offer with its terms.
    #[schema(value_type = Option<Object>)]
    pub accepted_offer: Option<serde_json::Value>,
    /// Earlier recorded outcomes (a cancellation revoked by a later save).
    #[schema(value_type = Vec<Object>)]
    pub outcome_history: Vec<serde_json::Value>,
    /// The server's trail lines, as stored.
    pub trail: Vec<TrailEntry>,
}

/// Replays a session's trail through core's flow and joins its recorded outcome.
pub fn record(row: AuditRow, default_limit: u8) -> AuditRecord {
    let mut trail: Vec<TrailEntry> = row
        .trail
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // Outbox retries fold late: the trail is in the order things happened.
    trail.sort_by_key(|e| (e.at, e.received));
    let start = trail
        .iter()
        .find(|e| e.kind == EventType::FlowStarted.as_str());
    let applied = start.and_then(|s| s.profile).or_else(|| {
        row.outcome
            .as_ref()
            .and_then(|o| parse_profile(o.profile.as_deref()))
    });
    let limit = start.and_then(|s| s.offer_limit);
    let profile = AuditProfile {
        applied,
        basis: start.and_then(|s| s.basis),
        place: start.and_then(|s| s.place.clone()),
        offer_limit: limit.or(applied.map(|p| p.rules(default_limit).max_offer_screens)),
    };
    let rules = applied
        .unwrap_or(PolicyProfile::Standard)
        .rules(limit.unwrap_or(default_limit));
    let entered = start
        .or(trail.first())
        .map_or(row.started_at * 1000, |e| e.at);
    let replay = replay(rules, &trail, entered);
    let outcome = row.outcome.as_ref();
    AuditRecord {
        session_id: row.session_id,
        customer_id: row.customer_id,
        started_at: row.started_at,
        plan: row.plan,
        mrr_cents: row.mrr_cents,
        variant: row.variant,
        locale: start.and_then(|s| s.locale.clone()),
        reason: row.reason,
        profile,
        steps: replay.steps,
        offers: replay.offers,
        clicks_to_cancel: replay.cancelled_at.map(|_| replay.clicks),
        seconds_to_cancel: replay
            .cancelled_at
            .map(|at| (at - entered).max(0) as f64 / 1000.0),
        outcome: outcome.map_or_else(
            || match replay.ended {
                Some(o) => o.as_str().to_string(),
                None => "none".to_string(),
            },
            |o| o.outcome.clone(),
        ),
        received_at: outcome.map(|o| o.recorded_at),
        effective_date: outcome.and_then(|o| o.effective_date.clone()),
        receipt: outcome.and_then(|o| json(o.receipt_json.as_deref())),
        accepted_offer: outcome.and_then(|o| json(o.offer_json.as_deref())),
        outcome_history: outcome
            .and_then(|o| serde_json::from_str(&o.history_json).ok())
            .unwrap_or_default(),
        trail,
    }
}

fn json(text: Option<&str>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

fn parse_profile(name: Option<&str>) -> Option<PolicyProfile> {
    name?.parse().ok()
}

struct Replay {
    steps: Vec<AuditStep>,
    offers: Vec<AuditOffer>,
    clicks: u32,
    cancelled_at: Option<i64>,
    ended: Option<Outcome>,
}

/// Drives core's flow with the recorded events. Offer selection is not recorded, so the offers
/// available after the survey are the offers the trail shows; a confirmation step with no event
/// of its own ("Continue to cancel" from an offer or the survey) is entered at the confirmation.
fn replay(rules: holdfast_core::policy::PolicyRules, trail: &[TrailEntry], entered: i64) -> Replay {
    let shown = trail
        .iter()
        .filter(|e| e.kind == EventType::OfferShown.as_str())
        .count();
    let available = u8::try_from(shown).unwrap_or(u8::MAX);
    let mut flow = Flow::new(rules);
    let mut times = vec![entered];
    let mut offers: Vec<AuditOffer> = Vec::new();
    let mut clicks = 0u32;
    let mut cancelled_at = None;
    let step = |flow: &mut Flow, times: &mut Vec<i64>, event: Action, at: i64| {
        flow.next(event);
        times.resize(flow.history().len(), at);
    };
    for e in trail {
        let before_cancel = cancelled_at.is_none();
        match EventType::parse(&e.kind) {
            Some(EventType::ReasonSelected) => {
                step(
                    &mut flow,
                    &mut times,
                    Action::ReasonChosen {
                        offers_available: available,
                    },
                    e.at,
                );
                clicks += u32::from(before_cancel);
            }
            Some(EventType::OfferShown) => {
                match *flow.step() {
                    Step::Survey => step(
                        &mut flow,
                        &mut times,
                        Action::SurveySkipped {
                            offers_available: available,
                        },
                        e.at,
                    ),
                    Step::OfferQuestion => step(&mut flow, &mut times, Action::WantsOffer, e.at),
                    _ => {}
                }
                if let Some(id) = &e.offer {
                    offers.push(AuditOffer {
                        offer_id: id.clone(),
                        shown_at: e.at,
                        answer: "none",
                    });
                }
            }
            Some(kind @ (EventType::OfferDeclined | EventType::OfferAccepted)) => {
                let (event, answer) = if kind == EventType::OfferAccepted {
                    (Action::OfferAccepted, "accepted")
                } else {
                    (Action::OfferDeclined, "declined")
                };
                step(&mut flow, &mut times, event, e.at);
                clicks += u32::from(before_cancel);
                if let Some(o) = offers
                    .iter_mut()
                    .rev()
                    .find(|o| Some(&o.offer_id) == e.offer.as_ref() && o.answer == "none")
                {
                    o.answer = answer;
                }
            }
            Some(EventType::CancelConfirmed) => {
                if matches!(*flow.step(), Step::Survey | Step::Offer { .. }) {
                    step(&mut flow, &mut times, Action::ContinueToCancel, e.at);
                    clicks += 1;
                }
                step(&mut flow, &mut times, Action::CancelConfirmed, e.at);
                if before_cancel {
                    clicks += 1;
                    cancelled_at = Some(e.at);
                }
            }
            Some(EventType::FlowAbandoned) => step(&mut flow, &mut times, Action::Closed, e.at),
            _ => {}
        }
    }
    let steps = flow
        .history()
        .iter()
        .zip(&times)
        .map(|(r, &at)| AuditStep {
            step: r.step.as_str(),
            at,
            cancel_control_visible: r.cancel_control_visible,
        })
        .collect();
    Replay {
        steps,
        offers,
        clicks,
        cancelled_at,
        ended: flow.step().outcome(),
    }
}

/// The steps shown before the cancellation was confirmed: up to the confirmation step, or every
/// step but the end when there was none. The cancel control must be visible on each of them.
fn before_cancellation(steps: &[AuditStep]) -> &[AuditStep] {
    match steps.iter().position(|s| s.step == "confirm") {
        Some(i) => &steps[..=i],
        None => {
            let open = steps.iter().take_while(|s| s.step != "done").count();
            &steps[..open]
        }
    }
}

/// The columns of the CSV export, in order.
pub const CSV_HEADER: &str = "session_id,customer_id,started_at,plan,mrr_cents,variant,profile,\
profile_basis,place,locale,reason,steps,cancel_control_visible_before_cancellation,offers_shown,\
offers_accepted,clicks_to_cancel,seconds_to_cancel,outcome,received_at,effective_date,receipt\n";

/// One record as a CSV line (RFC 4180 quoting), steps as `step@ms` joined by `|`.
pub fn csv_line(r: &AuditRecord) -> String {
    let steps = r
        .steps
        .iter()
        .map(|s| format!("{}@{}", s.step, s.at))
        .collect::<Vec<_>>()
        .join("|");
    let visible = before_cancellation(&r.steps)
        .iter()
        .all(|s| s.cancel_control_visible);
    let fields = [
        r.session_id.clone(),
        r.customer_id.clone(),
        r.started_at.to_string(),
        r.plan.clone(),
        r.mrr_cents.to_string(),
        r.variant.clone().unwrap_or_default(),
        r.profile
            .applied
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        r.profile
            .basis
            .and_then(|b| serde_json::to_value(b).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        r.profile.place.clone().unwrap_or_default(),
        r.locale.clone().unwrap_or_default(),
        r.reason.clone().unwrap_or_default(),
        steps,
        visible.to_string(),
        r.offers.len().to_string(),
        r.offers
            .iter()
            .filter(|o| o.answer == "accepted")
            .count()
            .to_string(),
        r.clicks_to_cancel
            .map(|c| c.to_string())
            .unwrap_or_default(),
        r.seconds_to_cancel
            .map(|s| s.to_string())
            .unwrap_or_default(),
        r.outcome.clone(),
        r.received_at.map(|t| t.to_string()).unwrap_or_default(),
        r.effective_date.clone().unwrap_or_default(),
        r.receipt
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_default(),
    ];
    let mut line = fields.map(|f| csv_field(&f)).join(",");
    line.push('\n');
    line
}

/// Quotes a field when it holds a comma, quote or line break; a leading `=`, `+`, `-` or `@`
/// is prefixed with `'` so a spreadsheet never runs a customer id as a formula. Every CSV the
/// server writes (this export, the sessions log's) quotes through it.
pub fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) && value.parse::<f64>().is_err() {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Evidence for one profile over a range.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ProfileEvidence {
    /// The profile.
    pub profile: String,
    /// Cancel sessions started in the range under it.
    pub sessions: u64,
    /// Of those, confirmed cancellations.
    pub cancellations: u64,
    /// Steps shown before a confirmed cancellation, in those sessions.
    pub steps_before_cancel: u64,
    /// Share of them with the cancel control visible: must be 1.0 (null with no steps).
    pub cancel_control_visible_share: Option<f64>,
    /// Median subscriber actions from entry to the confirmed cancellation.
    pub median_clicks_to_cancel: Option<f64>,
    /// Median seconds from entry to the confirmed cancellation.
    pub median_seconds_to_cancel: Option<f64>,
    /// Offer screens shown per session, on average.
    pub offers_per_session: f64,
    /// The most offer screens one session showed.
    pub max_offers_in_a_session: u64,
    /// Offer screens the profile allows a session (the app's setting applied).
    pub offer_limit: Option<u8>,
    /// Sessions that showed more offers than the limit: must be 0.
    pub sessions_over_limit: u64,
}

/// Folds audit records into per-profile evidence, one record at a time.
#[derive(Debug, Default)]
pub struct EvidenceSummary {
    profiles: BTreeMap<String, Accumulator>,
}

#[derive(Debug, Default)]
struct Accumulator {
    evidence: ProfileEvidence,
    visible: u64,
    offers: u64,
    clicks: Vec<f64>,
    seconds: Vec<f64>,
}

impl EvidenceSummary {
    /// Counts one session.
    pub fn add(&mut self, r: &AuditRecord) {
        let name = r
            .profile
            .applied
            .map_or("unknown", PolicyProfile::as_str)
            .to_string();
        let acc = self.profiles.entry(name.clone()).or_default();
        let e = &mut acc.evidence;
        e.profile = name;
        e.sessions += 1;
        let offers = r.offers.len() as u64;
        acc.offers += offers;
        e.max_offers_in_a_session = e.max_offers_in_a_session.max(offers);
        if let Some(limit) = r.profile.offer_limit {
            e.offer_limit = Some(e.offer_limit.map_or(limit, |l| l.max(limit)));
            e.sessions_over_limit += u64::from(offers > u64::from(limit));
        }
        if let (Some(clicks), Some(seconds)) = (r.clicks_to_cancel, r.seconds_to_cancel) {
            e.cancellations += 1;
            acc.clicks.push(f64::from(clicks));
            acc.seconds.push(seconds);
            for s in before_cancellation(&r.steps) {
                e.steps_before_cancel += 1;
                acc.visible += u64::from(s.cancel_control_visible);
            }
        }
    }

    /// The evidence per profile, in profile-name order.
    pub fn finish(self) -> Vec<ProfileEvidence> {
        self.profiles
            .into_values()
            .map(|mut acc| {
                let e = &mut acc.evidence;
                e.cancel_control_visible_share = (e.steps_before_cancel > 0)
                    .then(|| acc.visible as f64 / e.steps_before_cancel as f64);
                e.offers_per_session = if e.sessions == 0 {
                    0.0
                } else {
                    acc.offers as f64 / e.sessions as f64
                };
                e.median_clicks_to_cancel = median(&mut acc.clicks);
                e.median_seconds_to_cancel = median(&mut acc.seconds);
                acc.evidence
            })
            .collect()
    }
}

/// The median of the samples, `None` when there are none.
fn median(samples: &mut [f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    Some(if samples.len().is_multiple_of(2) {
        (samples[mid - 1] + samples[mid]) / 2.0
    } else {
        samples[mid]
    })
}
