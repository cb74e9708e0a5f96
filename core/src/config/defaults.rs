//! What a new app gets before anyone edits anything: the product's default survey reasons, offers,
//! rules and plans. (Each part's own `Default`, a theme's colours or a prompt's caps, sits beside
//! its type in `types`.)

use super::types::*;
use crate::offer::{Offer, OfferTerms};

/// The built-in survey reasons: the default config's, and what the widget offers when the server
/// cannot be reached (so the server accepts them from any app, whatever its config says).
pub const BUILT_IN_REASONS: [&str; 7] = [
    "too_expensive",
    "not_using",
    "missing_feature",
    "switching",
    "technical_issues",
    "temporary",
    "other",
];

impl Default for AppConfig {
    /// The product brief's default reason-to-offer mapping, ready before anyone edits anything.
    fn default() -> Self {
        let reason = |id: &str, free_text: bool| Reason {
            id: id.into(),
            label: None,
            free_text,
        };
        let offer = |id: &str, terms: OfferTerms| Offer {
            id: id.into(),
            terms,
            headline: None,
        };
        let rule = |id: &str,
                    reasons: &[&str],
                    when: Vec<Condition>,
                    primary: Option<&str>,
                    fallback: Option<&str>| Rule {
            id: id.into(),
            reasons: reasons.iter().map(|r| (*r).to_string()).collect(),
            when,
            offer: primary.map(Into::into),
            fallback: fallback.map(Into::into),
        };
        let plan = |id: &str, name: &str, price_cents: i64, features: &[&str]| Plan {
            id: id.into(),
            name: name.into(),
            price_cents,
            currency: "USD".into(),
            features: features.iter().map(|f| (*f).to_string()).collect(),
        };
        AppConfig {
            schema: SCHEMA,
            reasons: BUILT_IN_REASONS
                .iter()
                .map(|id| reason(id, *id == "other"))
                .collect(),
            offers: vec![
                offer(
                    "discount_25",
                    OfferTerms::Discount {
                        percent: 25,
                        months: 3,
                    },
                ),
                offer(
                    "downgrade_starter",
                    OfferTerms::Downgrade {
                        to_plan: "starter".into(),
                        keep: vec!["Your projects and history".into(), "Up to 3 seats".into()],
                        lose: vec!["Advanced reports".into(), "Priority support".into()],
                    },
                ),
                offer("pause_2", OfferTerms::Pause { months: 2 }),
                offer(
                    "onboarding_call",
                    OfferTerms::Call {
                        booking_url: "https://example.com/book/onboarding".into(),
                    },
                ),
                offer(
                    "roadmap",
                    OfferTerms::Roadmap {
                        url: "https://example.com/roadmap".into(),
                    },
                ),
                offer(
                    "workaround_guide",
                    OfferTerms::Link {
                        url: "https://example.com/guides/workarounds".into(),
                        label: "Workaround guide".into(),
                    },
                ),
                offer(
                    "switch_discount",
                    OfferTerms::Discount {
                        percent: 20,
                        months: 3,
                    },
                ),
                offer(
                    "feedback_call",
                    OfferTerms::Call {
                        booking_url: "https://example.com/book/feedback".into(),
                    },
                ),
                offer(
                    "escalate_support",
                    OfferTerms::Support {
                        url: "https://example.com/support".into(),
                    },
                ),
                offer("credit_20", OfferTerms::Credit { amount_cents: 2000 }),
                offer("pause_3", OfferTerms::Pause { months: 3 }),
                offer(
                    "account_review_call",
                    OfferTerms::Call {
                        booking_url: "https://example.com/book/account-review".into(),
                    },
                ),
            ],
            rules: vec![
                rule(
                    "high_value",
                    &[],
                    vec![Condition::MrrCents(Comparison {
                        op: Cmp::Gte,
                        value: 50_000.0,
                    })],
                    Some("account_review_call"),
                    None,
                ),
                rule(
                    "too_expensive",
                    &["too_expensive"],
                    vec![],
                    Some("discount_25"),
                    Some("downgrade_starter"),
                ),
                rule(
                    "not_using",
                    &["not_using"],
                    vec![],
                    Some("pause_2"),
                    Some("onboarding_call"),
                ),
                rule(
                    "missing_feature",
                    &["missing_feature"],
                    vec![],
                    Some("roadmap"),
                    Some("workaround_guide"),
                ),
                rule(
                    "switching",
                    &["switching"],
                    vec![],
                    Some("switch_discount"),
                    Some("feedback_call"),
                ),
                rule(
                    "technical_issues",
                    &["technical_issues"],
                    vec![],
                    Some("escalate_support"),
                    Some("credit_20"),
                ),
                rule("temporary", &["temporary"], vec![], Some("pause_3"), None),
            ],
            plans: vec![
                plan("starter", "Starter", 1900, &["3 projects", "3 seats"]),
                plan(
                    "pro",
                    "Pro",
                    4900,
                    &["10 projects", "5 seats", "Advanced reports"],
                ),
                plan(
                    "team",
                    "Team",
                    9900,
                    &["Unlimited projects", "25 seats", "SSO", "Priority support"],
                ),
            ],
            policy: PolicyConfig::default(),
            cooldowns: Cooldowns::default(),
            theme: Theme::default(),
            locale: LocaleConfig::default(),
            prompts: PromptsConfig::default(),
            experiments: Vec::new(),
        }
    }
}
