//! Choosing the one offer for a customer, reason and experiment variant.
//!
//! The widget calls [`select_offer`] to decide what to show; the server calls the same function,
//! through [`check_acceptance`], before it records an acceptance, so a browser can never grant
//! itself an offer it was not eligible for. Rules are ordered and the first whose reasons and
//! conditions match wins; within it the primary offer is used when eligible, else the fallback.
//! Eligibility is the offer-abuse ledger plus what makes an offer meaningful (a downgrade needs a
//! cheaper plan).

use serde::{Deserialize, Serialize};

use crate::config::{AppConfig, Condition, Rule};
use crate::customer::{AttributeValue, Customer, DAY, UnixSeconds};
use crate::offer::{Offer, OfferKind, OfferTerms};

/// The experiment variant a customer is in, as the caller assigned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantRef<'a> {
    /// Experiment key.
    pub experiment: &'a str,
    /// Variant key.
    pub variant: &'a str,
    /// A holdout variant gets no offer: it measures what the flow saves at all.
    pub holdout: bool,
}

/// An offer this customer accepted before: the abuse ledger's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    /// Kind of the accepted offer.
    pub kind: OfferKind,
    /// When it was accepted.
    pub at: UnixSeconds,
}

/// Everything selection depends on; `now` is passed in so the decision is reproducible.
#[derive(Debug, Clone, Copy)]
pub struct OfferContext<'a> {
    /// The app's config.
    pub config: &'a AppConfig,
    /// The customer, as the host described them.
    pub customer: &'a Customer,
    /// The survey answer; `None` when the survey was skipped.
    pub reason: Option<&'a str>,
    /// The customer's variants in cancel-flow experiments.
    pub variants: &'a [VariantRef<'a>],
    /// Offers this customer accepted before.
    pub ledger: &'a [Redemption],
    /// The current time.
    pub now: UnixSeconds,
}

/// Why an offer is not made to this customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Ineligible {
    /// A downgrade target that is not cheaper than the current plan (or is the current plan).
    NoCheaperPlan,
    /// A discount on a subscription that is already discounted.
    AlreadyDiscounted,
    /// The same kind was accepted too recently.
    Cooldown {
        /// When it becomes available again.
        until: UnixSeconds,
    },
    /// A trial extension is given once per customer.
    TrialExtensionUsed,
}

/// The outcome of selection: which rule matched and the offers to show, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection<'a> {
    /// Id of the rule that matched (`holdout` for a holdout variant).
    pub rule: &'a str,
    /// Eligible offers, primary first; at most two.
    pub offers: Vec<&'a Offer>,
    /// Why the rule's offers that were left out are not eligible.
    pub skipped: Vec<(&'a str, Ineligible)>,
}

impl Selection<'_> {
    /// How many offer screens this selection can fill, for the flow.
    pub fn available(&self) -> u8 {
        self.offers.len().min(2) as u8
    }
}

/// The rule id reported when a holdout variant suppresses every offer.
pub const HOLDOUT_RULE: &str = "holdout";

/// The offers for this customer and reason, or `None` when no rule matches.
pub fn select_offer<'a>(ctx: &OfferContext<'a>) -> Option<Selection<'a>> {
    if ctx.variants.iter().any(|v| v.holdout) {
        return Some(Selection {
            rule: HOLDOUT_RULE,
            offers: Vec::new(),
            skipped: Vec::new(),
        });
    }
    let rule = ctx.config.rules.iter().find(|r| rule_matches(r, ctx))?;
    let mut offers = Vec::new();
    let mut skipped = Vec::new();
    for id in [&rule.offer, &rule.fallback].into_iter().flatten() {
        let Some(offer) = ctx.config.offer(id) else {
            continue;
        };
        match eligibility(offer, ctx) {
            Ok(()) => offers.push(offer),
            Err(why) => skipped.push((offer.id.as_str(), why)),
        }
    }
    Some(Selection {
        rule: &rule.id,
        offers,
        skipped,
    })
}

/// Why the server refuses an acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No rule gives this customer and reason any offer.
    NoOffer,
    /// The offer is not one this customer was selected for.
    NotSelected,
    /// The offer exists in the rule but this customer is not eligible.
    Ineligible(Ineligible),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoOffer => f.write_str("no offer applies to this customer and reason"),
            Refusal::NotSelected => {
                f.write_str("this offer was not selected for this customer and reason")
            }
            Refusal::Ineligible(Ineligible::NoCheaperPlan) => {
                f.write_str("there is no cheaper plan to move to")
            }
            Refusal::Ineligible(Ineligible::AlreadyDiscounted) => {
                f.write_str("the subscription is already discounted")
            }
            Refusal::Ineligible(Ineligible::Cooldown { until }) => write!(
                f,
                "an offer of this kind was accepted recently; available again at {until}"
            ),
            Refusal::Ineligible(Ineligible::TrialExtensionUsed) => {
                f.write_str("a trial extension was already given")
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// Re-runs selection and accepts `offer_id` only if it is one of the offers this customer would
/// have been shown: the server's guard against a browser granting itself a discount.
pub fn check_acceptance<'a>(ctx: &OfferContext<'a>, offer_id: &str) -> Result<&'a Offer, Refusal> {
    let selection = select_offer(ctx).ok_or(Refusal::NoOffer)?;
    if let Some(offer) = selection.offers.iter().find(|o| o.id == offer_id) {
        return Ok(offer);
    }
    match selection
        .skipped
        .into_iter()
        .find(|(id, _)| *id == offer_id)
    {
        Some((_, why)) => Err(Refusal::Ineligible(why)),
        None if selection.offers.is_empty() => Err(Refusal::NoOffer),
        None => Err(Refusal::NotSelected),
    }
}

fn rule_matches(rule: &Rule, ctx: &OfferContext<'_>) -> bool {
    let reason_ok = rule.reasons.is_empty()
        || ctx
            .reason
            .is_some_and(|r| rule.reasons.iter().any(|x| x == r));
    reason_ok && rule.when.iter().all(|c| condition_holds(c, ctx))
}

fn condition_holds(c: &Condition, ctx: &OfferContext<'_>) -> bool {
    let customer = ctx.customer;
    match c {
        Condition::PlanIn(plans) => plans.contains(&customer.plan),
        Condition::PlanNotIn(plans) => !plans.contains(&customer.plan),
        Condition::MrrCents(cmp) => cmp.op.holds(customer.mrr_cents as f64, cmp.value),
        Condition::TenureDays(cmp) => cmp
            .op
            .holds(customer.tenure_days(ctx.now) as f64, cmp.value),
        Condition::SegmentIn(segments) => customer
            .segment
            .as_ref()
            .is_some_and(|s| segments.iter().any(|x| x == s)),
        Condition::Attribute { name, op, value } => {
            let Some(actual) = customer.attributes.get(name) else {
                return false;
            };
            match (actual, value) {
                (AttributeValue::Number(a), AttributeValue::Number(b)) => op.holds(*a, *b),
                (a, b) => match op {
                    crate::config::Cmp::Eq => a == b,
                    crate::config::Cmp::Ne => a != b,
                    _ => false,
                },
            }
        }
        Condition::Variant {
            experiment,
            variant,
        } => ctx
            .variants
            .iter()
            .any(|v| v.experiment == experiment && v.variant == variant),
    }
}

/// Whether this customer may get this offer now.
pub fn eligibility(offer: &Offer, ctx: &OfferContext<'_>) -> Result<(), Ineligible> {
    let cooldowns = &ctx.config.cooldowns;
    let last = |kind: OfferKind| {
        ctx.ledger
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.at)
            .max()
    };
    let cooldown = |kind: OfferKind, days: u32| match last(kind) {
        Some(at) if ctx.now < at + i64::from(days) * DAY => Err(Ineligible::Cooldown {
            until: at + i64::from(days) * DAY,
        }),
        _ => Ok(()),
    };
    match &offer.terms {
        OfferTerms::Discount { .. } => {
            if ctx.customer.discounted {
                return Err(Ineligible::AlreadyDiscounted);
            }
            cooldown(OfferKind::Discount, cooldowns.discount_days)
        }
        OfferTerms::Pause { .. } => cooldown(OfferKind::Pause, cooldowns.pause_days),
        OfferTerms::Credit { .. } => cooldown(OfferKind::Credit, cooldowns.credit_days),
        OfferTerms::TrialExtension { .. } => match last(OfferKind::TrialExtension) {
            Some(_) => Err(Ineligible::TrialExtensionUsed),
            None => Ok(()),
        },
        OfferTerms::Downgrade { to_plan, .. } => {
            let target = ctx.config.plan(to_plan);
            let current = ctx.config.plan(&ctx.customer.plan);
            let current_price = current.map_or(ctx.customer.mrr_cents, |p| p.price_cents);
            match target {
                Some(t) if t.id != ctx.customer.plan && t.price_cents < current_price => Ok(()),
                _ => Err(Ineligible::NoCheaperPlan),
            }
        }
        OfferTerms::Support { .. }
        | OfferTerms::Call { .. }
        | OfferTerms::Roadmap { .. }
        | OfferTerms::Link { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BUILT_IN_REASONS, Cmp, Comparison};
    use proptest::prelude::*;

    const NOW: UnixSeconds = 20_000 * DAY;

    fn pro() -> Customer {
        Customer::new("cus_1", "pro", 4900, NOW - 200 * DAY)
    }

    fn pick(
        config: &AppConfig,
        customer: &Customer,
        reason: Option<&str>,
    ) -> (String, Vec<String>) {
        let ctx = OfferContext {
            config,
            customer,
            reason,
            variants: &[],
            ledger: &[],
            now: NOW,
        };
        let s = select_offer(&ctx).map(|s| {
            (
                s.rule.to_string(),
                s.offers.iter().map(|o| o.id.clone()).collect(),
            )
        });
        s.unwrap_or_default()
    }

    #[test]
    fn too_expensive_gets_the_discount_then_the_downgrade() {
        let c = AppConfig::default();
        assert_eq!(
            pick(&c, &pro(), Some("too_expensive")),
            (
                "too_expensive".into(),
                vec!["discount_25".into(), "downgrade_starter".into()]
            )
        );
    }

    #[test]
    fn a_customer_on_the_cheapest_plan_gets_no_downgrade() {
        let c = AppConfig::default();
        let starter = Customer::new("c", "starter", 1900, 0);
        assert_eq!(
            pick(&c, &starter, Some("too_expensive")).1,
            vec!["discount_25".to_string()]
        );
    }

    #[test]
    fn an_already_discounted_subscription_gets_the_fallback_instead() {
        let c = AppConfig::default();
        let mut customer = pro();
        customer.discounted = true;
        assert_eq!(
            pick(&c, &customer, Some("too_expensive")).1,
            vec!["downgrade_starter".to_string()]
        );
    }

    #[test]
    fn high_value_accounts_get_a_personal_call_whatever_the_reason() {
        let c = AppConfig::default();
        let big = Customer::new("c", "team", 60_000, 0);
        assert_eq!(pick(&c, &big, Some("too_expensive")).0, "high_value");
        assert_eq!(
            pick(&c, &big, None).1,
            vec!["account_review_call".to_string()]
        );
    }

    #[test]
    fn a_skipped_survey_matches_only_rules_without_reasons() {
        let c = AppConfig::default();
        let ctx = OfferContext {
            config: &c,
            customer: &pro(),
            reason: None,
            variants: &[],
            ledger: &[],
            now: NOW,
        };
        assert!(select_offer(&ctx).is_none());
    }

    #[test]
    fn a_discount_is_refused_within_its_cooldown() {
        let c = AppConfig::default();
        let ledger = [Redemption {
            kind: OfferKind::Discount,
            at: NOW - 30 * DAY,
        }];
        let customer = pro();
        let ctx = OfferContext {
            config: &c,
            customer: &customer,
            reason: Some("too_expensive"),
            variants: &[],
            ledger: &ledger,
            now: NOW,
        };
        assert_eq!(
            check_acceptance(&ctx, "discount_25"),
            Err(Refusal::Ineligible(Ineligible::Cooldown {
                until: NOW + 335 * DAY
            }))
        );
        assert_eq!(
            check_acceptance(&ctx, "downgrade_starter").map(|o| o.id.as_str()),
            Ok("downgrade_starter")
        );
    }

    #[test]
    fn the_server_refuses_an_offer_the_customer_was_not_selected_for() {
        let c = AppConfig::default();
        let customer = pro();
        let ctx = OfferContext {
            config: &c,
            customer: &customer,
            reason: Some("not_using"),
            variants: &[],
            ledger: &[],
            now: NOW,
        };
        assert_eq!(
            check_acceptance(&ctx, "discount_25"),
            Err(Refusal::NotSelected)
        );
        let ctx = OfferContext {
            reason: Some("other"),
            ..ctx
        };
        assert_eq!(check_acceptance(&ctx, "pause_2"), Err(Refusal::NoOffer));
    }

    #[test]
    fn a_holdout_variant_gets_no_offer() {
        let c = AppConfig::default();
        let customer = pro();
        let variants = [VariantRef {
            experiment: "x",
            variant: "holdout",
            holdout: true,
        }];
        let ctx = OfferContext {
            config: &c,
            customer: &customer,
            reason: Some("too_expensive"),
            variants: &variants,
            ledger: &[],
            now: NOW,
        };
        let s = select_offer(&ctx).unwrap();
        assert_eq!((s.rule, s.available()), (HOLDOUT_RULE, 0));
    }

    #[test]
    fn rules_can_target_tenure_attributes_and_variants() {
        let mut c = AppConfig::default();
        c.rules.insert(
            0,
            Rule {
                id: "new_retail_b".into(),
                reasons: vec![],
                when: vec![
                    Condition::TenureDays(Comparison {
                        op: Cmp::Lt,
                        value: 30.0,
                    }),
                    Condition::Attribute {
                        name: "industry".into(),
                        op: Cmp::Eq,
                        value: AttributeValue::Text("retail".into()),
                    },
                    Condition::Variant {
                        experiment: "pause_first".into(),
                        variant: "b".into(),
                    },
                ],
                offer: Some("pause_2".into()),
                fallback: None,
            },
        );
        let mut customer = Customer::new("c", "pro", 4900, NOW - 10 * DAY);
        customer
            .attributes
            .insert("industry".into(), AttributeValue::Text("retail".into()));
        let b = [VariantRef {
            experiment: "pause_first",
            variant: "b",
            holdout: false,
        }];
        let a = [VariantRef {
            experiment: "pause_first",
            variant: "a",
            holdout: false,
        }];
        let ctx = OfferContext {
            config: &c,
            customer: &customer,
            reason: Some("too_expensive"),
            variants: &b,
            ledger: &[],
            now: NOW,
        };
        assert_eq!(select_offer(&ctx).unwrap().rule, "new_retail_b");
        assert_eq!(
            select_offer(&OfferContext {
                variants: &a,
                ..ctx
            })
            .unwrap()
            .rule,
            "too_expensive"
        );
        let old = Customer {
            created_at: NOW - 90 * DAY,
            ..customer.clone()
        };
        assert_eq!(
            select_offer(&OfferContext {
                customer: &old,
                ..ctx
            })
            .unwrap()
            .rule,
            "too_expensive"
        );
    }

    proptest! {
        #[test]
        fn selection_is_deterministic_and_every_selected_offer_is_accepted(
            mrr in 0i64..100_000,
            tenure in 0i64..2000,
            plan in prop::sample::select(vec!["starter", "pro", "team", "legacy"]),
            reason in prop::option::of(prop::sample::select(BUILT_IN_REASONS.to_vec())),
            discounted: bool,
            ledger_days in prop::collection::vec((0usize..9, 0i64..800), 0..4),
        ) {
            let c = AppConfig::default();
            let mut customer = Customer::new("c", plan, mrr, NOW - tenure * DAY);
            customer.discounted = discounted;
            let ledger: Vec<Redemption> = ledger_days.iter().map(|(k, d)| Redemption { kind: OfferKind::ALL[*k], at: NOW - d * DAY }).collect();
            let ctx = OfferContext { config: &c, customer: &customer, reason, variants: &[], ledger: &ledger, now: NOW };
            let first = select_offer(&ctx);
            prop_assert_eq!(&first, &select_offer(&ctx));
            if let Some(s) = first {
                prop_assert!(s.offers.len() <= 2);
                for o in &s.offers {
                    prop_assert!(check_acceptance(&ctx, &o.id).is_ok());
                    prop_assert!(eligibility(o, &ctx).is_ok());
                }
            }
        }
    }
}
