//! Event batches: what the widget and the no-JavaScript page record of a session, validated and
//! turned into what storage keeps (the stored event, its effect on the cancel session's funnel,
//! its effect on the customer's prompt state), then appended to the ingest log. The events route
//! and the cancel page both call [`record`], so a step is recorded the same way from either.

use crate::storage::Scope;
use holdfast_core::Customer;
use holdfast_core::caps::Snooze;
use holdfast_core::policy::PolicyProfile;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::apps::LoadedApp;
use crate::audit::TrailEntry;
use crate::customers::VerifiedCustomer;
use crate::error::ApiError;
use crate::extract::uuid_field;
use crate::outcomes::{assigned_variants, base_facts, variant_label, with_offer};
use crate::storage::prompts::{PromptChange, PromptEvent, ShownPrompt};
use crate::storage::{IngestBatch, SessionFacts, StoredEvent};
use crate::text;
use holdfast_core::plan::{profile_basis, session_profile};

/// At most this many events per request.
pub const MAX_EVENTS: usize = 100;
/// Free text is capped: it is a survey answer, not a document.
pub const MAX_FREE_TEXT: usize = 2000;
/// Events stamped further ahead than this are refused (a broken clock, or a forgery).
const MAX_FUTURE_MS: i64 = 86_400_000;

/// What happened in the widget: core's event vocabulary, shared with the widget and the page.
pub use holdfast_core::events::EventType;

/// One widget event.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Client-generated UUID (v4): retries reuse it.
    #[schema(format = Uuid)]
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When, in unix milliseconds.
    #[schema(minimum = 1)]
    pub at: i64,
    /// The flow or prompt session, a UUID.
    #[schema(format = Uuid)]
    pub session_id: String,
    /// Survey answer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub reason: Option<String>,
    /// Free-text answer, at most 2000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 2000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub free_text: Option<String>,
    /// The offer concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub offer_id: Option<String>,
    /// The policy profile applied to the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<PolicyProfile>,
    /// The locale the flow was shown in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub locale: Option<String>,
    /// The flow step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub step: Option<String>,
    /// The prompt id (`usage`, `gate`, `seats`); required on `prompt_shown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(usage|usage_compare|usage_limit|gate|seats)$")]
    pub prompt: Option<String>,
    /// Core's `Trigger::key` of what fired the prompt (`usage:projects:90:<period_end|none>`,
    /// `gate:<feature>`, `seats`); required on `prompt_shown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]+$"
    )]
    pub trigger: Option<String>,
    /// The usage metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub metric: Option<String>,
    /// The usage threshold crossed, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 100)]
    pub threshold: Option<i64>,
    /// The gated feature; required on `gate_hit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub feature: Option<String>,
    /// On `prompt_dismissed` only: the subscriber chose "remind me in N days" (1 to 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 90)]
    pub snooze_days: Option<i64>,
    /// The prompt's experiment variant, `experiment:variant` (default: the customer's assigned
    /// variant), for the variant breakdown of prompt stats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 128,
        pattern = r"^[^\x00-\x1F\x7F-\x9F:]*:[^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub variant: Option<String>,
}

/// The prompt ids the widget knows (holdfast-core's `prompts` constants: usage banners, the 90%
/// comparison and the 100% limit are separate prompts so each has its own caps).
pub const PROMPT_IDS: [&str; 5] = [
    holdfast_core::prompts::USAGE,
    holdfast_core::prompts::USAGE_COMPARE,
    holdfast_core::prompts::USAGE_LIMIT,
    holdfast_core::prompts::GATE,
    holdfast_core::prompts::SEATS,
];
/// The longest snooze a subscriber can choose, in days.
pub const MAX_SNOOZE_DAYS: i64 = 90;
const DAY: i64 = 86_400;
/// Trigger keys carry a metric name and a period: short, but not tiny.
const MAX_TRIGGER: usize = 256;
/// Feature names and variant labels are ids.
const MAX_NAME: usize = 128;
/// Validates and records a verified customer's events: the route's work, and the no-JavaScript
/// page's, which records its steps as the same events. Returns how many were durably received.
pub async fn record(
    state: &AppState,
    app: &LoadedApp,
    verified: &VerifiedCustomer,
    events: &[Event],
) -> Result<u64, ApiError> {
    // Backpressure: past the bound, the outbox keeps the batch and retries after `Retry-After`.
    if state.backlog_rows().await? > state.settings().max_backlog_rows {
        return Err(ApiError::busy());
    }
    let now_ms = crate::clock::now_ms();
    let valid = validate_batch(app, verified, events, now_ms)?;
    let batch = IngestBatch {
        customer_id: &verified.customer.id,
        events: &valid.stored,
        prompt_events: &valid.prompt_events,
        exposures: &valid.exposures,
        received_at: now_ms / 1000,
    };
    let outcome = state
        .inner
        .storage
        .ingest(Scope::new(&app.record.id, verified.mode.is_live()), &batch)
        .await?;
    state.note_write(
        &app.record.id,
        verified.mode.is_live(),
        &verified.customer.id,
    );
    Ok(outcome.accepted)
}

/// A batch as [`validate_batch`] accepted it: what goes into the ingest log.
#[derive(Debug)]
pub struct ValidBatch {
    /// The events, ready to store.
    pub stored: Vec<StoredEvent>,
    /// Their effect on the customer's prompt state.
    pub prompt_events: Vec<PromptEvent>,
    /// The customer's variants, as first exposures when an offer or prompt was shown.
    pub exposures: Vec<(String, String)>,
}

/// Validates a verified customer's events at `now_ms` without storing them: [`record`]'s checks,
/// in one pure function so the fuzz targets run exactly them.
pub fn validate_batch(
    app: &LoadedApp,
    verified: &VerifiedCustomer,
    events: &[Event],
    now_ms: i64,
) -> Result<ValidBatch, ApiError> {
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
    let variants = assigned_variants(&app.config, &customer.id);
    let mut stored = Vec::with_capacity(events.len());
    let mut prompt_events = Vec::new();
    let mut exposed = false;
    // A holdout's arm takes effect where the offer would have been shown, after the survey: its
    // customers are exposed there, so the holdout has units like any arm.
    let mut holdout_reached = false;
    for (i, event) in events.iter().enumerate() {
        let valid = validate(i, event, now_ms, app, customer, &variants)?;
        let mut valid = valid;
        if event.kind == EventType::FlowAbandoned {
            valid.outcome = Some(crate::cancel::pending_abandon(
                app,
                verified,
                &valid.session_id,
                now_ms / 1000,
            ));
        }
        if event.kind == EventType::CancelConfirmed {
            // A confirmation records the cancellation when the aggregator folds it, unless the
            // session has an outcome by then: ingest stays an append.
            let req = crate::cancel::CancelRequest {
                session_id: valid.session_id.clone(),
                reason: event.reason.clone(),
                profile: event.profile,
                period_end: None,
            };
            valid.outcome = Some(crate::cancel::pending_cancellation(
                app,
                verified,
                &req,
                now_ms / 1000,
            )?);
        }
        prompt_events.extend(prompt_event(i, event, &valid.id, customer, &variants)?);
        stored.push(valid);
        exposed |= matches!(event.kind, EventType::OfferShown | EventType::PromptShown);
        holdout_reached |= matches!(event.kind, EventType::ReasonSelected);
    }
    // The customer's variants become first exposures once an offer or prompt was shown.
    Ok(ValidBatch {
        stored,
        prompt_events,
        exposures: if exposed {
            variants
        } else if holdout_reached {
            variants
                .into_iter()
                .filter(|(experiment, variant)| is_holdout(app, experiment, variant))
                .collect()
        } else {
            Vec::new()
        },
    })
}

/// Whether `variant` of `experiment` is a holdout in the app's config.
fn is_holdout(app: &LoadedApp, experiment: &str, variant: &str) -> bool {
    app.config
        .experiments
        .iter()
        .filter(|x| x.key == experiment)
        .flat_map(|x| &x.variants)
        .any(|v| v.key == variant && v.holdout)
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
    if let Some(r) = event.reason.as_deref()
        && !r.chars().any(char::is_control)
        && !app.known.reason(r)
    {
        return Err(ApiError::invalid(
            format!("events[{i}].reason"),
            format!("{r:?} is not a reason of this app's config"),
        ));
    }
    if let Some(o) = event.offer_id.as_deref()
        && !o.chars().any(char::is_control)
        && !app.known.offer(o)
    {
        return Err(ApiError::invalid(
            format!("events[{i}].offer_id"),
            format!("{o:?} is not an offer of this app's config"),
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
    let session = event.kind.is_cancel_flow().then(|| SessionFacts {
        trail: trail_line(event, app, customer, now_ms),
        ..facts(event, at, app, customer, variants)
    });
    Ok(StoredEvent {
        id,
        session_id,
        kind: event.kind.as_str(),
        at,
        payload: serde_json::to_string(event).map_err(anyhow::Error::from)?,
        customer_id: customer.id.clone(),
        session,
        outcome: None,
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
    // The survey's answer carries its free text, trimmed, or none: `""` then, so an answer given
    // again without text does not leave the earlier answer's text beside the new reason.
    if event.kind == EventType::ReasonSelected {
        facts.free_text = Some(event.free_text.as_deref().map_or("", str::trim).to_string());
    }
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

/// Turns a widget event into its effect on the customer's prompt state, if it has one; refuses
/// prompt fields that are missing or malformed, naming them (`events[2].snooze_days`).
pub fn prompt_event(
    i: usize,
    event: &Event,
    id: &str,
    customer: &Customer,
    variants: &[(String, String)],
) -> Result<Option<PromptEvent>, ApiError> {
    let field = |name: &str| format!("events[{i}].{name}");
    if let Some(prompt) = &event.prompt
        && !PROMPT_IDS.contains(&prompt.as_str())
    {
        return Err(ApiError::invalid(
            field("prompt"),
            format!(
                "{prompt:?} is not a prompt id; expected one of {}",
                PROMPT_IDS.join(", ")
            ),
        ));
    }
    if event
        .trigger
        .as_ref()
        .is_some_and(|t| t.is_empty() || t.len() > MAX_TRIGGER)
    {
        return Err(ApiError::invalid(
            field("trigger"),
            format!("`trigger` must be 1 to {MAX_TRIGGER} bytes"),
        ));
    }
    if let Some(variant) = &event.variant
        && (variant.len() > MAX_NAME || !variant.contains(':'))
    {
        return Err(ApiError::invalid(
            field("variant"),
            format!("a variant is `experiment:variant`, at most {MAX_NAME} bytes"),
        ));
    }
    if let Some(days) = event.snooze_days {
        if !(1..=MAX_SNOOZE_DAYS).contains(&days) {
            return Err(ApiError::invalid(
                field("snooze_days"),
                format!("snooze_days must be 1 to {MAX_SNOOZE_DAYS}, got {days}"),
            ));
        }
        if event.kind != EventType::PromptDismissed {
            return Err(ApiError::invalid(
                field("snooze_days"),
                "snooze_days belongs on a prompt_dismissed event",
            ));
        }
    }
    let required = |name: &str, value: &Option<String>, max: usize| match value.as_deref() {
        Some(v) if !v.is_empty() && v.len() <= max => Ok(v.to_string()),
        Some(_) => Err(ApiError::invalid(
            field(name),
            format!("`{name}` must be 1 to {max} bytes"),
        )),
        None => Err(ApiError::invalid(
            field(name),
            format!("a {} event needs `{name}`", event.kind.as_str()),
        )),
    };
    let at = event.at / 1000;
    let change = match event.kind {
        EventType::PromptShown => {
            let prompt = required("prompt", &event.prompt, MAX_NAME)?;
            let trigger_key = required("trigger", &event.trigger, MAX_TRIGGER)?;
            let (trigger_kind, key_threshold) = split_trigger(&trigger_key);
            PromptChange::Shown(ShownPrompt {
                prompt,
                trigger_kind,
                threshold: event.threshold.map(|t| t.to_string()).or(key_threshold),
                trigger_key,
                plan: customer.plan.clone(),
                variant: event.variant.clone().or_else(|| variant_label(variants)),
            })
        }
        EventType::PromptClicked => PromptChange::Clicked,
        EventType::PromptDismissed => match event.snooze_days {
            Some(days) => PromptChange::Dismissed(Some(Snooze {
                prompt: required("prompt", &event.prompt, MAX_NAME)?,
                until: at + days * DAY,
            })),
            None => PromptChange::Dismissed(None),
        },
        EventType::TrialStarted => PromptChange::TrialStarted,
        EventType::GateHit => PromptChange::GateHit {
            feature: required("feature", &event.feature, MAX_NAME)?,
        },
        _ => return Ok(None),
    };
    Ok(Some(PromptEvent {
        id: id.to_string(),
        session_id: event.session_id.clone(),
        at,
        at_ms: event.at,
        prompt: event.prompt.clone(),
        trigger_key: event.trigger.clone(),
        change,
    }))
}

/// A trigger key's breakdown label and usage threshold: `usage:projects:90:1767571200` is
/// `usage:projects` at `90`; `gate:sso` and `seats` stand as they are.
fn split_trigger(key: &str) -> (String, Option<String>) {
    if key.starts_with("usage:") {
        let mut parts = key.rsplitn(3, ':');
        if let (Some(_period), Some(threshold), Some(metric)) =
            (parts.next(), parts.next(), parts.next())
            && metric != "usage"
        {
            return (metric.to_string(), Some(threshold.to_string()));
        }
    }
    (key.to_string(), None)
}

/// The trail line a cancel-flow event adds to its session, ending in a newline.
pub fn trail_line(event: &Event, app: &LoadedApp, customer: &Customer, received_ms: i64) -> String {
    let mut entry = TrailEntry {
        at: event.at,
        kind: event.kind.as_str().to_string(),
        received: received_ms,
        reason: event.reason.clone(),
        offer: event.offer_id.clone(),
        profile: None,
        basis: None,
        place: None,
        offer_limit: None,
        locale: None,
    };
    if event.kind == EventType::FlowStarted {
        let config = &app.config;
        let applied = event
            .profile
            .unwrap_or_else(|| session_profile(config, customer, None, None));
        entry.profile = Some(applied);
        entry.basis = Some(profile_basis(config, customer, applied));
        entry.place = customer
            .country
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(
                |c| match customer.region.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) if r.contains('-') => r.to_string(),
                    Some(r) => format!("{c}-{r}"),
                    None => c.to_string(),
                },
            );
        entry.offer_limit = Some(
            applied
                .rules(config.policy.max_offer_screens)
                .max_offer_screens,
        );
        entry.locale = event.locale.clone();
    }
    let mut line = serde_json::to_string(&entry).unwrap_or_default();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::split_trigger;

    #[test]
    fn a_usage_trigger_is_broken_down_by_metric_and_threshold_without_its_period() {
        assert_eq!(
            split_trigger("usage:projects:90:1767571200"),
            ("usage:projects".to_string(), Some("90".to_string()))
        );
        assert_eq!(
            split_trigger("usage:api:calls:100:none"),
            ("usage:api:calls".to_string(), Some("100".to_string()))
        );
        assert_eq!(split_trigger("gate:sso"), ("gate:sso".to_string(), None));
        assert_eq!(split_trigger("seats"), ("seats".to_string(), None));
        assert_eq!(split_trigger("usage:x"), ("usage:x".to_string(), None));
    }
}
