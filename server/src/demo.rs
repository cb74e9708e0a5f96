//! The demo app: created by `--demo` with the default config, an experiment on the "too
//! expensive" offer, and a few thousand realistic historical cancel sessions (with what their
//! subscribers wrote in the survey), so the stats, the experiment report and the sessions log are
//! worth looking at on first start.
//!
//! Sessions are generated deterministically (a fixed-seed generator) and go through the same
//! storage use cases as real traffic, so the aggregates are exactly what ingest would build.

use crate::storage::Scope;
use holdfast_core::Customer;
use holdfast_core::config::AppConfig;
use holdfast_core::events::EventType;
use holdfast_core::targeting::{OfferContext, select_offer};

use crate::DEMO_APP_ID;
use crate::outcomes::{assigned_variants, base_facts, with_offer};
use crate::storage::{LifecycleRecord, NewApp, SessionFacts, Storage, StoredEvent};

/// How many historical sessions the demo gets.
pub const DEMO_SESSIONS: usize = 3000;

/// The demo's experiment: 20% against 30% off for three months when the price is the reason,
/// with a holdout that gets no offer.
pub const DEMO_EXPERIMENT: &str = "too_expensive_depth";

/// The demo app's config: the default one, plus the experiment, running, with its seeded
/// history (so its report has numbers on first start). The demo page's customers all land in
/// its `deeper` arm, so a first click on "Cancel subscription" shows survey, offer (30% off for
/// three months) and confirmation; `POST .../experiments/too_expensive_depth/stop` brings back
/// the app's standard offer.
pub fn demo_config() -> AppConfig {
    let mut config = AppConfig::default();
    config.offers.push(
        serde_json::from_value(serde_json::json!({
            "id": "discount_30", "terms": { "type": "discount", "percent": 30, "months": 3 }
        }))
        .unwrap_or_else(|_| config.offers[0].clone()),
    );
    let experiment = serde_json::json!({
        "key": DEMO_EXPERIMENT,
        "active": true,
        "variants": [
            { "key": "control", "weight": 0.45 },
            { "key": "deeper", "weight": 0.45 },
            { "key": "holdout", "weight": 0.1, "holdout": true }
        ]
    });
    if let Ok(x) = serde_json::from_value(experiment) {
        config.experiments.push(x);
    }
    for (variant, offer) in [("deeper", "discount_30"), ("control", "switch_discount")] {
        let rule = serde_json::json!({
            "id": format!("{DEMO_EXPERIMENT}__{variant}"),
            "reasons": ["too_expensive"],
            "when": [{ "variant": { "experiment": DEMO_EXPERIMENT, "variant": variant } }],
            "offer": offer
        });
        if let Ok(rule) = serde_json::from_value(rule) {
            config.rules.insert(0, rule);
        }
    }
    config
}

/// Creates the demo app if missing (or updates its origins) and its test-mode keys: `secret`,
/// when given, is both the signing secret and an admin key; otherwise both are generated and
/// returned for the caller to print.
pub async fn ensure_demo_app(
    storage: &Storage,
    secret: Option<&str>,
    origins: Vec<String>,
) -> anyhow::Result<Option<crate::operator::ModeKeys>> {
    let config = serde_json::to_string(&demo_config())?;
    let now = crate::clock::now();
    storage
        .ensure_app(&NewApp {
            id: DEMO_APP_ID.into(),
            name: "Demo".into(),
            origins,
            config_json: config,
            now,
        })
        .await?;
    crate::operator::ensure_demo_keys(storage, DEMO_APP_ID, secret, now).await
}

/// What subscribers write in the survey's free-text box, per reason, so the sessions log has
/// words to read: short, plain, varied, a few with commas and quotes as real answers have.
const FREE_TEXTS: [(&str, &[&str]); 7] = [
    (
        "other",
        &[
            "We're closing the company at the end of the quarter.",
            "My manager decided to consolidate tools, nothing wrong with yours.",
            "Honestly I just signed up for the wrong plan.",
            "The project this was for got cancelled.",
            "Our budget is frozen for the rest of the year.",
            "We merged with another company that has its own setup.",
            "I'll be back after parental leave!",
            "Invoices need a VAT number field, and support said \"not yet\".",
            "Too many emails, and I couldn't find where to turn them off.",
            "Retiring, closing the shop. Thanks for everything.",
        ],
    ),
    (
        "too_expensive",
        &[
            "The price doubled since we signed up, for the same features.",
            "Can't justify $49 a month for two people.",
            "Great tool, but our budget got cut in half.",
            "We only use one feature and it's not on the cheaper plan.",
        ],
    ),
    (
        "not_using",
        &[
            "Forgot I even had this, to be honest.",
            "We set it up and never got the team onboarded.",
            "Only needed it for one launch.",
        ],
    ),
    (
        "missing_feature",
        &[
            "No SSO, and IT won't approve anything without it.",
            "We need a proper API for exports.",
            "Please add Gantt charts, it's the one thing we miss.",
            "No offline mode, which we need on site.",
        ],
    ),
    (
        "switching",
        &[
            "Moving to a suite the rest of the company already uses.",
            "A competitor offered us a year free.",
            "Our parent company standardised on another vendor.",
        ],
    ),
    (
        "technical_issues",
        &[
            "Sync failed three times last week and we lost edits.",
            "Very slow on our older laptops.",
            "Login kept looping back to the sign-in page in Safari.",
        ],
    ),
    (
        "temporary",
        &[
            "Seasonal business, we'll be back in spring.",
            "Pausing while we rebuild the website.",
            "Just needed it for tax season.",
        ],
    ),
];

/// The share of answers with an optional text box (every reason but `other`) that come with
/// words: most subscribers skip an optional box.
const OPTIONAL_TEXT_SHARE: f64 = 0.25;

/// A seeded session's free-text answer: always one where the reason's box is the answer (the
/// config's `free_text: true`, `other`), sometimes one elsewhere.
fn demo_free_text(rng: &mut Rng, config: &AppConfig, reason: &str) -> Option<String> {
    let boxed = config.reasons.iter().any(|r| r.id == reason && r.free_text);
    if !boxed && !rng.chance(OPTIONAL_TEXT_SHARE) {
        return None;
    }
    let (_, texts) = FREE_TEXTS.iter().find(|(id, _)| *id == reason)?;
    texts
        .get(rng.below(texts.len() as u64) as usize)
        .map(|t| (*t).to_string())
}

/// A small deterministic generator (SplitMix64): reproducible demo data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / ((1u64 << 53) as f64)) < p
    }
}

/// Seeds the demo's history once: does nothing when the app already has sessions.
pub async fn seed_history(storage: &Storage, now: i64) -> anyhow::Result<usize> {
    if storage.session_count(DEMO_APP_ID).await? > 0 {
        return Ok(0);
    }
    let config = demo_config();
    // The experiment as it runs: the arms customers were in while it collected the history.
    let running = config
        .experiments
        .iter()
        .find(|x| x.key == DEMO_EXPERIMENT)
        .cloned();
    let mut exposures = Vec::new();
    let mut rng = Rng(0x686f_6c64);
    // The free texts draw from their own generator, so the rest of the history (and the
    // experiment's results) stays what it was before the sessions had words.
    let mut words = Rng(0x776f_7264);
    let plans = [
        ("starter", 1900),
        ("pro", 4900),
        ("team", 9900),
        ("enterprise", 60000),
    ];
    let reasons = holdfast_core::config::BUILT_IN_REASONS;
    let mut batch = Vec::new();
    let mut churns = Vec::new();
    for i in 0..DEMO_SESSIONS {
        let (plan, price) = plans[match rng.below(100) {
            0..35 => 0,
            35..75 => 1,
            75..97 => 2,
            _ => 3,
        }];
        let started = now - 120 * 86_400 + rng.below(120 * 86_400) as i64;
        let created_at = started - 86_400 * (5 + rng.below(900) as i64);
        let customer = Customer::new(format!("cus_demo_{i:05}"), plan, price, created_at);
        let variants = assigned_variants(&config, &customer.id);
        // Price is the reason most often given.
        let reason = if rng.below(100) < 45 {
            reasons[0]
        } else {
            reasons[1 + rng.below(reasons.len() as u64 - 1) as usize]
        };
        let arm = running
            .as_ref()
            .filter(|_| reason == "too_expensive")
            .and_then(|x| holdfast_core::assignment::assign(x, &customer.id))
            .map(|a| a.variant.clone());
        let base = base_facts(&customer, &variants, started);
        let session_id = uuid_from(&mut rng);
        let mut facts = SessionFacts {
            reason: Some(reason.into()),
            free_text: Some(demo_free_text(&mut words, &config, reason).unwrap_or_default()),
            ..base
        };
        let ctx = OfferContext {
            config: &config,
            customer: &customer,
            reason: Some(reason),
            variants: &[],
            ledger: &[],
            now: started,
        };
        let offer = match &arm {
            Some(v) if v.holdout => None,
            Some(v) if v.key == "deeper" => config.offer("discount_30"),
            Some(_) => config.offer("switch_discount"),
            None => select_offer(&ctx).and_then(|s| s.offers.first().copied()),
        };
        if let Some(offer) = offer {
            facts = with_offer(facts, &config, offer, &customer);
        }
        if let Some(v) = &arm {
            exposures.push((customer.id.clone(), v.key.clone(), started));
        }
        // Roughly 28% saved, 55% cancelled, the rest abandoned: a healthy flow; in the
        // experiment, 30% off saves more than 20%.
        let saves = match arm.as_ref().map(|v| v.key.as_str()) {
            Some("deeper") => 34,
            Some("control") => 25,
            _ => 28,
        };
        let roll = rng.below(100);
        if offer.is_some() && roll < saves {
            facts.saved = true;
            facts.saved_at = Some(started + 60);
            if rng.chance(0.2) {
                churns.push((
                    customer.id.clone(),
                    started + 86_400 * (10 + rng.below(80) as i64),
                ));
            }
        } else if roll < 83 {
            facts.offer_cost_cents = 0;
            facts.cancelled = true;
        } else {
            facts.offer_cost_cents = 0;
            facts.abandoned = true;
        }
        facts.trail = demo_trail(
            &mut rng,
            started,
            reason,
            offer.map(|o| o.id.as_str()),
            &facts,
        );
        batch.push(StoredEvent {
            id: uuid_from(&mut rng),
            session_id,
            kind: if facts.saved {
                EventType::OfferAccepted.as_str()
            } else if facts.cancelled {
                EventType::CancelConfirmed.as_str()
            } else {
                EventType::FlowAbandoned.as_str()
            },
            at: started,
            payload: "{\"demo\":true}".into(),
            customer_id: customer.id.clone(),
            outcome: seeded_outcome(&facts, reason, started),
            session: Some(facts),
        });
        if batch.len() == 500 {
            storage
                .record_events(Scope::new(DEMO_APP_ID, false), &batch)
                .await?;
            batch.clear();
        }
    }
    storage
        .record_events(Scope::new(DEMO_APP_ID, false), &batch)
        .await?;
    for (customer_id, variant, at) in exposures {
        storage
            .record_exposures(
                Scope::new(DEMO_APP_ID, false),
                &customer_id,
                &[(DEMO_EXPERIMENT.to_string(), variant)],
                at,
            )
            .await?;
    }
    for (customer_id, at) in churns.into_iter().filter(|(_, at)| *at < now) {
        storage
            .record_lifecycle(
                Scope::new(DEMO_APP_ID, false),
                &LifecycleRecord {
                    customer_id,
                    kind: "churned".into(),
                    at,
                    plan: None,
                    mrr_cents: None,
                },
            )
            .await?;
    }
    Ok(DEMO_SESSIONS)
}

/// The outcome a seeded session's server would have recorded: a save, or a cancellation that
/// takes effect 20 days later (the end of the paid period); an abandoned flow records none here.
fn seeded_outcome(
    facts: &SessionFacts,
    reason: &str,
    at: i64,
) -> Option<crate::storage::outcomes::PendingOutcome> {
    let (outcome, effective_date) = if facts.saved {
        ("saved", None)
    } else if facts.cancelled {
        (
            "cancelled",
            Some(holdfast_core::calendar::iso_day(at + 20 * 86_400)),
        )
    } else {
        return None;
    };
    Some(crate::storage::outcomes::PendingOutcome {
        outcome: outcome.into(),
        profile: Some("standard".into()),
        reason: Some(reason.into()),
        effective_date,
        receipt: None,
        at: at + 60,
        response: "{}".into(),
        webhook: None,
    })
}

/// The steps of a seeded session as the server's audit trail would hold them: started under the
/// standard profile, a reason, the offer if one was selected, then the ending; seconds apart.
fn demo_trail(
    rng: &mut Rng,
    started: i64,
    reason: &str,
    offer: Option<&str>,
    facts: &SessionFacts,
) -> String {
    use crate::audit::TrailEntry;
    use holdfast_core::plan::ProfileBasis;
    use holdfast_core::policy::PolicyProfile;
    let mut at = started * 1000;
    let mut entry = |rng: &mut Rng, kind: EventType, reason: Option<&str>, offer: Option<&str>| {
        at += 1_500 + rng.below(12_000) as i64;
        TrailEntry {
            at,
            kind: kind.as_str().to_string(),
            received: at + 40,
            reason: reason.map(str::to_string),
            offer: offer.map(str::to_string),
            profile: None,
            basis: None,
            place: None,
            offer_limit: None,
            locale: None,
        }
    };
    let mut entries = vec![TrailEntry {
        profile: Some(PolicyProfile::Standard),
        basis: Some(ProfileBasis::Default),
        offer_limit: Some(1),
        locale: Some("en".into()),
        ..entry(rng, EventType::FlowStarted, None, None)
    }];
    entries.push(entry(rng, EventType::ReasonSelected, Some(reason), None));
    if let Some(offer) = offer {
        entries.push(entry(rng, EventType::OfferShown, None, Some(offer)));
        if !facts.saved && !facts.abandoned {
            entries.push(entry(rng, EventType::OfferDeclined, None, Some(offer)));
        }
    }
    let ending = if facts.saved {
        entry(rng, EventType::OfferAccepted, None, offer)
    } else if facts.cancelled {
        entry(rng, EventType::CancelConfirmed, None, None)
    } else {
        entry(rng, EventType::FlowAbandoned, None, None)
    };
    entries.push(ending);
    entries
        .iter()
        .filter_map(|e| serde_json::to_string(e).ok())
        .map(|mut line| {
            line.push('\n');
            line
        })
        .collect()
}

fn uuid_from(rng: &mut Rng) -> String {
    let bytes = (u128::from(rng.next()) << 64 | u128::from(rng.next())).to_be_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}
