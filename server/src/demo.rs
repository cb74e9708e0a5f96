//! The demo app: created by `--demo` with the default config and a few thousand realistic
//! historical cancel sessions, so the stats are worth looking at on first start.
//!
//! Sessions are generated deterministically (a fixed-seed generator) and go through the same
//! storage use cases as real traffic, so the aggregates are exactly what ingest would build.

use holdfast_core::Customer;
use holdfast_core::config::AppConfig;
use holdfast_core::targeting::{OfferContext, select_offer};

use crate::DEMO_APP_ID;
use crate::outcomes::{assigned_variants, base_facts, with_offer};
use crate::storage::{LifecycleRecord, NewApp, SessionFacts, Storage, StoredEvent};

/// How many historical sessions the demo gets.
pub const DEMO_SESSIONS: usize = 3000;

/// Creates the demo app if missing (or updates its origins) and its test-mode keys: `secret`,
/// when given, is both the signing secret and an admin key; otherwise both are generated and
/// returned for the caller to print.
pub async fn ensure_demo_app(
    storage: &Storage,
    secret: Option<&str>,
    origins: Vec<String>,
) -> anyhow::Result<Option<crate::operator::ModeKeys>> {
    let config = serde_json::to_string(&AppConfig::default())?;
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
    let config = AppConfig::default();
    let mut rng = Rng(0x686f_6c64);
    let plans = [
        ("starter", 1900),
        ("pro", 4900),
        ("team", 9900),
        ("enterprise", 60000),
    ];
    let reasons = [
        "too_expensive",
        "not_using",
        "missing_feature",
        "switching",
        "technical_issues",
        "temporary",
        "other",
    ];
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
        let reason = reasons[rng.below(reasons.len() as u64) as usize];
        let base = base_facts(&customer, &variants, started);
        let session_id = uuid_from(&mut rng);
        let mut facts = SessionFacts {
            reason: Some(reason.into()),
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
        let offer = select_offer(&ctx).and_then(|s| s.offers.first().copied());
        if let Some(offer) = offer {
            facts = with_offer(facts, &config, offer, &customer);
        }
        // Roughly 28% saved, 55% cancelled, the rest abandoned: a healthy flow.
        let roll = rng.below(100);
        if offer.is_some() && roll < 28 {
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
                "offer_accepted"
            } else if facts.cancelled {
                "cancel_confirmed"
            } else {
                "flow_abandoned"
            },
            at: started,
            payload: "{\"demo\":true}".into(),
            customer_id: customer.id.clone(),
            session: Some(facts),
            outcome: None,
        });
        if batch.len() == 500 {
            storage.record_events(DEMO_APP_ID, false, &batch).await?;
            batch.clear();
        }
    }
    storage.record_events(DEMO_APP_ID, false, &batch).await?;
    for (customer_id, at) in churns.into_iter().filter(|(_, at)| *at < now) {
        storage
            .record_lifecycle(
                DEMO_APP_ID,
                false,
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
    let mut entry = |rng: &mut Rng, kind: &str, reason: Option<&str>, offer: Option<&str>| {
        at += 1_500 + rng.below(12_000) as i64;
        TrailEntry {
            at,
            kind: kind.to_string(),
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
        ..entry(rng, "flow_started", None, None)
    }];
    entries.push(entry(rng, "reason_selected", Some(reason), None));
    if let Some(offer) = offer {
        entries.push(entry(rng, "offer_shown", None, Some(offer)));
        if !facts.saved && !facts.abandoned {
            entries.push(entry(rng, "offer_declined", None, Some(offer)));
        }
    }
    let ending = if facts.saved {
        entry(rng, "offer_accepted", None, offer)
    } else if facts.cancelled {
        entry(rng, "cancel_confirmed", None, None)
    } else {
        entry(rng, "flow_abandoned", None, None)
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
