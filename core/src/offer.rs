//! The offers Holdfast can make, and the guard rails on each.
//!
//! An offer is data the growth team edits; its kind fixes what terms it must state. The guard rails
//! come from what works for retention: deep discounts teach customers to cancel for deals (refused
//! above 50%, warned above 30%), long pauses rarely come back (refused above 3 months), and every
//! link leaves over https.

use serde::{Deserialize, Serialize};

use crate::validation::{Problem, check_https};

/// Discounts above this are refused: they train customers to threaten cancellation.
pub const MAX_DISCOUNT_PERCENT: u8 = 50;
/// Discounts above this are accepted with a warning.
pub const WARN_DISCOUNT_PERCENT: u8 = 30;
/// Pauses longer than this are refused: few customers return after them.
pub const MAX_PAUSE_MONTHS: u8 = 3;

/// One offer a rule can point at, by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Offer {
    /// Stable id that rules, events and stats refer to.
    pub id: String,
    /// What the customer gets; the kind decides which terms must be stated.
    pub terms: OfferTerms,
    /// Optional headline replacing the catalog's default for this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
}

/// The nine offer kinds of the product brief, each with the terms that make it honest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OfferTerms {
    /// A percentage off the next invoices.
    Discount {
        /// Percent off, 1 to 50.
        percent: u8,
        /// How many monthly invoices the discount applies to.
        months: u8,
    },
    /// Billing stops for a while; the subscription resumes by itself.
    Pause {
        /// Length of the pause, 1 to 3 months.
        months: u8,
    },
    /// Move to a cheaper plan instead of leaving.
    Downgrade {
        /// The plan id to move to; must be cheaper than the customer's plan.
        to_plan: String,
        /// What the customer keeps, stated plainly on the offer.
        #[serde(default)]
        keep: Vec<String>,
        /// What the customer loses, stated plainly on the offer.
        #[serde(default)]
        lose: Vec<String>,
    },
    /// More trial days (once per customer).
    TrialExtension {
        /// Extra days, 1 to 90.
        days: u16,
    },
    /// An account credit applied to the next invoices.
    Credit {
        /// Credit in the smallest currency unit.
        amount_cents: i64,
    },
    /// Escalate to a human in support.
    Support {
        /// Where support takes over (https).
        url: String,
    },
    /// A call with the team (high-value accounts, feedback calls).
    Call {
        /// Booking page (https).
        booking_url: String,
    },
    /// Show what is coming, for "missing a feature".
    Roadmap {
        /// Public roadmap page (https).
        url: String,
    },
    /// Any other helpful page (a workaround guide, a comparison).
    Link {
        /// Destination (https).
        url: String,
        /// The link's text.
        label: String,
    },
}

/// Offer kinds without their terms: for stats breakdowns, cooldowns and catalog keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    /// See [`OfferTerms::Discount`].
    Discount,
    /// See [`OfferTerms::Pause`].
    Pause,
    /// See [`OfferTerms::Downgrade`].
    Downgrade,
    /// See [`OfferTerms::TrialExtension`].
    TrialExtension,
    /// See [`OfferTerms::Credit`].
    Credit,
    /// See [`OfferTerms::Support`].
    Support,
    /// See [`OfferTerms::Call`].
    Call,
    /// See [`OfferTerms::Roadmap`].
    Roadmap,
    /// See [`OfferTerms::Link`].
    Link,
}

impl OfferKind {
    /// Every kind, in a stable order (stats tables, catalogs).
    pub const ALL: [OfferKind; 9] = [
        OfferKind::Discount,
        OfferKind::Pause,
        OfferKind::Downgrade,
        OfferKind::TrialExtension,
        OfferKind::Credit,
        OfferKind::Support,
        OfferKind::Call,
        OfferKind::Roadmap,
        OfferKind::Link,
    ];

    /// The stable snake_case name used in JSON, events and stats.
    pub fn as_str(self) -> &'static str {
        match self {
            OfferKind::Discount => "discount",
            OfferKind::Pause => "pause",
            OfferKind::Downgrade => "downgrade",
            OfferKind::TrialExtension => "trial_extension",
            OfferKind::Credit => "credit",
            OfferKind::Support => "support",
            OfferKind::Call => "call",
            OfferKind::Roadmap => "roadmap",
            OfferKind::Link => "link",
        }
    }

    /// The kind named `name` ([`OfferKind::as_str`]'s inverse), as stored in the ledger.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether accepting this kind changes what the customer pays, so it counts as a save in
    /// billing terms and is subject to the abuse ledger.
    pub fn changes_billing(self) -> bool {
        matches!(
            self,
            OfferKind::Discount
                | OfferKind::Pause
                | OfferKind::Downgrade
                | OfferKind::TrialExtension
                | OfferKind::Credit
        )
    }
}

impl OfferTerms {
    /// The kind of these terms.
    pub fn kind(&self) -> OfferKind {
        match self {
            OfferTerms::Discount { .. } => OfferKind::Discount,
            OfferTerms::Pause { .. } => OfferKind::Pause,
            OfferTerms::Downgrade { .. } => OfferKind::Downgrade,
            OfferTerms::TrialExtension { .. } => OfferKind::TrialExtension,
            OfferTerms::Credit { .. } => OfferKind::Credit,
            OfferTerms::Support { .. } => OfferKind::Support,
            OfferTerms::Call { .. } => OfferKind::Call,
            OfferTerms::Roadmap { .. } => OfferKind::Roadmap,
            OfferTerms::Link { .. } => OfferKind::Link,
        }
    }

    /// What the offer costs the business per month over its duration, against `mrr_cents`:
    /// saved MRR is reported net of this.
    pub fn cost_cents(&self, mrr_cents: i64, target_plan_price_cents: Option<i64>) -> i64 {
        match self {
            OfferTerms::Discount { percent, months } => {
                mrr_cents * i64::from(*percent) / 100 * i64::from(*months)
            }
            OfferTerms::Pause { months } => mrr_cents * i64::from(*months),
            OfferTerms::Downgrade { .. } => {
                target_plan_price_cents.map_or(0, |p| (mrr_cents - p).max(0))
            }
            OfferTerms::Credit { amount_cents } => *amount_cents,
            OfferTerms::TrialExtension { .. }
            | OfferTerms::Support { .. }
            | OfferTerms::Call { .. }
            | OfferTerms::Roadmap { .. }
            | OfferTerms::Link { .. } => 0,
        }
    }

    /// Checks the guard rails; refusals go to `problems`, softer concerns to `warnings`.
    pub fn validate(&self, path: &str, problems: &mut Vec<Problem>, warnings: &mut Vec<Problem>) {
        match self {
            OfferTerms::Discount { percent, months } => {
                if *percent == 0 {
                    problems.push(Problem::new(
                        format!("{path}.percent"),
                        "must be at least 1",
                    ));
                } else if *percent > MAX_DISCOUNT_PERCENT {
                    problems.push(Problem::new(
                        format!("{path}.percent"),
                        format!("{percent} is above the {MAX_DISCOUNT_PERCENT}% limit"),
                    ));
                } else if *percent > WARN_DISCOUNT_PERCENT {
                    warnings.push(Problem::new(
                        format!("{path}.percent"),
                        format!(
                            "{percent} is above {WARN_DISCOUNT_PERCENT}%: deep discounts teach customers to cancel for deals"
                        ),
                    ));
                }
                if !(1..=12).contains(months) {
                    problems.push(Problem::new(
                        format!("{path}.months"),
                        format!("{months} is outside 1 to 12"),
                    ));
                }
            }
            OfferTerms::Pause { months } => {
                if *months == 0 {
                    problems.push(Problem::new(format!("{path}.months"), "must be at least 1"));
                } else if *months > MAX_PAUSE_MONTHS {
                    problems.push(Problem::new(
                        format!("{path}.months"),
                        format!(
                            "{months} is above the {MAX_PAUSE_MONTHS}-month limit: few customers come back after longer pauses"
                        ),
                    ));
                }
            }
            OfferTerms::Downgrade { to_plan, .. } => {
                if to_plan.trim().is_empty() {
                    problems.push(Problem::new(format!("{path}.to_plan"), "must name a plan"));
                }
            }
            OfferTerms::TrialExtension { days } => {
                if !(1..=90).contains(days) {
                    problems.push(Problem::new(
                        format!("{path}.days"),
                        format!("{days} is outside 1 to 90"),
                    ));
                }
            }
            OfferTerms::Credit { amount_cents } => {
                if *amount_cents <= 0 {
                    problems.push(Problem::new(
                        format!("{path}.amount_cents"),
                        "must be a positive amount",
                    ));
                }
            }
            OfferTerms::Support { url } | OfferTerms::Roadmap { url } => {
                check_https(&format!("{path}.url"), url, problems);
            }
            OfferTerms::Call { booking_url } => {
                check_https(&format!("{path}.booking_url"), booking_url, problems);
            }
            OfferTerms::Link { url, label } => {
                check_https(&format!("{path}.url"), url, problems);
                if label.trim().is_empty() {
                    problems.push(Problem::new(format!("{path}.label"), "must not be empty"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_read_back_from_its_name_and_nothing_else_is_a_kind() {
        for kind in OfferKind::ALL {
            assert_eq!(OfferKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str(), "the stored name is the JSON name");
        }
        assert_eq!(OfferKind::parse("Discount"), None);
        assert_eq!(OfferKind::parse(""), None);
    }

    fn check(terms: OfferTerms) -> (Vec<Problem>, Vec<Problem>) {
        let (mut p, mut w) = (Vec::new(), Vec::new());
        terms.validate("offers[0].terms", &mut p, &mut w);
        (p, w)
    }

    #[test]
    fn a_discount_above_fifty_percent_is_refused() {
        let (p, _) = check(OfferTerms::Discount {
            percent: 60,
            months: 3,
        });
        assert_eq!(p[0].path, "offers[0].terms.percent");
        assert_eq!(p[0].message, "60 is above the 50% limit");
    }

    #[test]
    fn a_discount_above_thirty_percent_is_accepted_with_a_warning() {
        let (p, w) = check(OfferTerms::Discount {
            percent: 40,
            months: 3,
        });
        assert!(p.is_empty());
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].path, "offers[0].terms.percent");
    }

    #[test]
    fn a_pause_longer_than_three_months_is_refused() {
        let (p, _) = check(OfferTerms::Pause { months: 4 });
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("3-month limit"));
        assert!(check(OfferTerms::Pause { months: 3 }).0.is_empty());
    }

    #[test]
    fn links_must_be_https() {
        for bad in [
            "http://x.test",
            "javascript:alert(1)",
            "https://",
            "https://a b",
        ] {
            let (p, _) = check(OfferTerms::Roadmap { url: bad.into() });
            assert_eq!(p.len(), 1, "{bad} must be refused");
        }
        assert!(
            check(OfferTerms::Roadmap {
                url: "https://x.test/r".into()
            })
            .0
            .is_empty()
        );
    }

    #[test]
    fn offer_terms_round_trip_through_tagged_json() {
        let json = r#"{"type":"discount","percent":25,"months":3}"#;
        let t: OfferTerms = serde_json::from_str(json).unwrap();
        assert_eq!(
            t,
            OfferTerms::Discount {
                percent: 25,
                months: 3
            }
        );
        assert_eq!(serde_json::to_string(&t).unwrap(), json);
        assert!(serde_json::from_str::<OfferTerms>(r#"{"type":"bribe"}"#).is_err());
    }
}
