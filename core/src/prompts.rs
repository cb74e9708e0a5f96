//! Upgrade prompts: whether a usage report, a feature-gate hit or a seat count earns a prompt, which
//! one, and what it suggests.
//!
//! The widget asks [`evaluate`] each time the host reports something; the answer combines the app's
//! prompt config (thresholds, gate hits, seat share, plans to suggest) with the frequency caps of
//! [`crate::caps`] over the customer's history, so a prompt helps rather than nags. The server keeps
//! the history, so the same answer holds on every device.

use serde::{Deserialize, Serialize};

use crate::caps::{
    self, Decision, History, PromptRequest, SuppressReason, Trigger, UsageThreshold,
};
use crate::config::{AppConfig, Plan};
use crate::customer::{Customer, UnixSeconds};

/// Prompt id of the 50 and 75% usage banners. Caps are per prompt id, so a banner earlier in the
/// day never uses up the comparison at 90% or the limit at 100%.
pub const USAGE: &str = "usage";
/// Prompt id of the 90% plan comparison.
pub const USAGE_COMPARE: &str = "usage_compare";
/// Prompt id of the 100% "limit reached" dialog.
pub const USAGE_LIMIT: &str = "usage_limit";
/// Prompt id of feature-gate prompts.
pub const GATE: &str = "gate";
/// Prompt id of seat prompts.
pub const SEATS: &str = "seats";

/// What the host reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Ask<'a> {
    /// `Holdfast.usage`: a metric against its plan limit.
    Usage {
        /// The host's metric name (`projects`).
        metric: &'a str,
        /// Used so far this period.
        used: u64,
        /// The plan's limit.
        limit: u64,
        /// The plan has no limit on this metric: nothing to prompt.
        unlimited: bool,
        /// When usage resets; identifies the period.
        period_end: Option<UnixSeconds>,
    },
    /// `Holdfast.gate`: the customer tried a locked feature (`hits` counts this one).
    Gate {
        /// The host's feature name (`sso`).
        feature: &'a str,
        /// How many times the customer hit it so far, this hit included.
        hits: u32,
    },
    /// Seats in use against the plan's seats, or teammates invited.
    Seats {
        /// Seats in use.
        used: u32,
        /// Seats the plan includes.
        limit: u32,
        /// Teammates invited so far.
        invites: u32,
    },
}

/// How a prompt looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptKind {
    /// A quiet, non-modal banner (50 and 75%).
    Banner,
    /// A non-modal prompt with a plan comparison (90%).
    Compare,
    /// "Limit reached", modal, with upgrade or grace-period options (100%).
    LimitReached,
    /// The locked feature with a free trial offer.
    GateTrial,
    /// A suggestion of the team plan.
    SeatsTeam,
}

impl PromptKind {
    /// Stable name for events, stats and `data-testid`s.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Banner => "banner",
            Self::Compare => "compare",
            Self::LimitReached => "limit_reached",
            Self::GateTrial => "gate_trial",
            Self::SeatsTeam => "seats_team",
        }
    }

    /// Modal prompts trap focus; the rest never steal it and are announced politely.
    pub const fn is_modal(self) -> bool {
        matches!(self, Self::LimitReached | Self::GateTrial)
    }
}

/// A prompt to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// Prompt id for caps and stats: [`USAGE`], [`USAGE_COMPARE`], [`USAGE_LIMIT`], [`GATE`] or
    /// [`SEATS`].
    pub id: &'static str,
    /// How it looks.
    pub kind: PromptKind,
    /// What fired it (its key goes on the impression).
    pub trigger: Trigger,
    /// The plan to suggest, when there is one above the customer's.
    pub suggest: Option<Plan>,
    /// The customer's current plan, for the comparison.
    pub current: Option<Plan>,
    /// Free trial length for gate prompts.
    pub trial_days: Option<u8>,
    /// Grace period offered at 100%, if any.
    pub grace_days: Option<u8>,
}

/// Why no prompt shows; `code()` is what the JS API returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quiet {
    /// Prompts are switched off for the app.
    Disabled,
    /// The plan has no limit on this metric (or a limit of 0).
    Unlimited,
    /// Usage is below the lowest configured threshold.
    BelowThreshold,
    /// The reached threshold is not one the app prompts at.
    ThresholdOff,
    /// Not yet the configured gate hit.
    NotYetGateHit {
        /// The hit from which the gate prompts.
        from: u32,
    },
    /// Seats below the share (and invites below the count) that suggests the team plan.
    SeatsBelowShare,
    /// The customer is already on the suggested plan.
    AlreadyOnPlan,
    /// A frequency cap.
    Capped(SuppressReason),
}

impl Quiet {
    /// Stable snake_case code for the JS API and logs.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Unlimited => "unlimited",
            Self::BelowThreshold => "below_threshold",
            Self::ThresholdOff => "threshold_off",
            Self::NotYetGateHit { .. } => "not_yet",
            Self::SeatsBelowShare => "below_threshold",
            Self::AlreadyOnPlan => "already_on_plan",
            Self::Capped(reason) => reason.code(),
        }
    }
}

/// The plan to suggest: `configured` if set and known, else the cheapest plan above the current one.
pub fn suggested_plan(config: &AppConfig, current: &str, configured: Option<&str>) -> Option<Plan> {
    if let Some(id) = configured {
        return config.plan(id).cloned();
    }
    let price = config.plan(current)?.price_cents;
    config
        .plans
        .iter()
        .filter(|p| p.price_cents > price)
        .min_by_key(|p| p.price_cents)
        .cloned()
}

/// Whether (and how) to prompt for `ask`, given the customer's prompt history and whether another
/// prompt (or the cancel flow) is on screen.
pub fn evaluate(
    config: &AppConfig,
    customer: &Customer,
    ask: &Ask<'_>,
    history: &History,
    another_on_screen: bool,
    now: UnixSeconds,
) -> Result<Prompt, Quiet> {
    let p = &config.prompts;
    if !p.enabled {
        return Err(Quiet::Disabled);
    }
    let current = config.plan(&customer.plan).cloned();
    let (id, kind, trigger, suggest, caps, trial_days, grace_days) = match ask {
        Ask::Usage {
            metric,
            used,
            limit,
            unlimited,
            period_end,
        } => {
            if *unlimited || *limit == 0 {
                return Err(Quiet::Unlimited);
            }
            let threshold =
                UsageThreshold::from_usage(*used, *limit).ok_or(Quiet::BelowThreshold)?;
            let percent = threshold.percent();
            // The highest configured threshold reached: crossing 90 without a 90 setting still
            // gets the 75 banner.
            let configured = UsageThreshold::ALL
                .into_iter()
                .filter(|t| {
                    t.percent() <= percent
                        && p.usage
                            .thresholds
                            .iter()
                            .any(|c| u32::from(*c) == t.percent())
                })
                .max_by_key(|t| t.percent())
                .ok_or(Quiet::ThresholdOff)?;
            let kind = match configured {
                UsageThreshold::Half | UsageThreshold::ThreeQuarters => PromptKind::Banner,
                UsageThreshold::Nearly => PromptKind::Compare,
                UsageThreshold::Reached => PromptKind::LimitReached,
            };
            let trigger = Trigger::Usage {
                metric: (*metric).to_string(),
                threshold: configured,
                period_end: *period_end,
            };
            let suggest = suggested_plan(config, &customer.plan, p.usage.suggest_plan.as_deref());
            let grace = (kind == PromptKind::LimitReached && p.usage.grace_days > 0)
                .then_some(p.usage.grace_days);
            let id = match kind {
                PromptKind::Compare => USAGE_COMPARE,
                PromptKind::LimitReached => USAGE_LIMIT,
                _ => USAGE,
            };
            (id, kind, trigger, suggest, &p.usage.caps, None, grace)
        }
        Ask::Gate { feature, hits } => {
            if !caps::gate_should_prompt(*hits, p.gate.hits_before_prompt) {
                return Err(Quiet::NotYetGateHit {
                    from: p.gate.hits_before_prompt,
                });
            }
            let suggest = suggested_plan(config, &customer.plan, None);
            let trigger = Trigger::Gate {
                feature: (*feature).to_string(),
            };
            // Gate hits are exempt from caps: an empty cap set documents that (decide skips them).
            (
                GATE,
                PromptKind::GateTrial,
                trigger,
                suggest,
                &p.usage.caps,
                Some(p.gate.trial_days),
                None,
            )
        }
        Ask::Seats {
            used,
            limit,
            invites,
        } => {
            let share_reached = *limit > 0
                && u64::from(*used) * 100 >= u64::from(*limit) * u64::from(p.seats.at_percent);
            if !share_reached && *invites < p.seats.invites {
                return Err(Quiet::SeatsBelowShare);
            }
            let suggest = suggested_plan(config, &customer.plan, p.seats.suggest_plan.as_deref());
            if suggest.as_ref().is_some_and(|s| s.id == customer.plan) {
                return Err(Quiet::AlreadyOnPlan);
            }
            (
                SEATS,
                PromptKind::SeatsTeam,
                Trigger::Seats,
                suggest,
                &p.seats.caps,
                None,
                None,
            )
        }
    };
    let request = PromptRequest {
        prompt: id,
        caps,
        group: &p.group_caps,
        history,
        trigger: &trigger,
        another_prompt_on_screen: another_on_screen,
        now,
    };
    match caps::decide(&request) {
        Decision::Suppress(reason) => Err(Quiet::Capped(reason)),
        Decision::Show => Ok(Prompt {
            id,
            kind,
            trigger,
            suggest,
            current,
            trial_days,
            grace_days,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::Impression;
    use crate::customer::DAY;
    use proptest::prelude::*;

    const NOW: UnixSeconds = 20_000 * DAY;

    fn pro() -> Customer {
        Customer::new("c1", "pro", 4900, NOW - 100 * DAY)
    }

    fn usage(used: u64, limit: u64) -> Ask<'static> {
        Ask::Usage {
            metric: "projects",
            used,
            limit,
            unlimited: false,
            period_end: Some(NOW + 10 * DAY),
        }
    }

    fn eval(ask: &Ask<'_>, history: &History) -> Result<Prompt, Quiet> {
        evaluate(&AppConfig::default(), &pro(), ask, history, false, NOW)
    }

    #[test]
    fn each_threshold_picks_its_prompt_kind() {
        let h = History::default();
        assert_eq!(eval(&usage(4, 10), &h), Err(Quiet::BelowThreshold));
        assert_eq!(
            eval(&usage(5, 10), &h).map(|p| p.kind),
            Ok(PromptKind::Banner)
        );
        assert_eq!(
            eval(&usage(8, 10), &h).map(|p| p.kind),
            Ok(PromptKind::Banner)
        );
        assert_eq!(
            eval(&usage(9, 10), &h).map(|p| p.kind),
            Ok(PromptKind::Compare)
        );
        assert_eq!(
            eval(&usage(10, 10), &h).map(|p| p.kind),
            Ok(PromptKind::LimitReached)
        );
        assert_eq!(
            eval(&usage(12, 10), &h).map(|p| p.kind),
            Ok(PromptKind::LimitReached)
        );
    }

    #[test]
    fn the_comparison_suggests_the_next_plan_up_and_the_limit_offers_grace() {
        let p = eval(&usage(10, 10), &History::default()).unwrap();
        assert_eq!(p.suggest.map(|s| s.id), Some("team".to_string()));
        assert_eq!(p.current.map(|c| c.id), Some("pro".to_string()));
        assert_eq!(p.grace_days, Some(3));
        assert!(p.kind.is_modal());
    }

    #[test]
    fn a_banner_earlier_in_the_day_does_not_use_up_the_comparison() {
        let banner = eval(&usage(5, 10), &History::default()).unwrap();
        let history = History {
            impressions: vec![Impression::new(banner.id, &banner.trigger, NOW - 60)],
            snoozes: vec![],
        };
        assert_eq!(
            eval(&usage(8, 10), &history).map_err(|q| q.code()),
            Err("window"),
            "a second banner waits a day"
        );
        assert_eq!(
            eval(&usage(9, 10), &history).map(|p| p.id),
            Ok(USAGE_COMPARE)
        );
    }

    #[test]
    fn an_unlimited_metric_never_prompts() {
        let ask = Ask::Usage {
            metric: "projects",
            used: 999,
            limit: 10,
            unlimited: true,
            period_end: None,
        };
        assert_eq!(eval(&ask, &History::default()), Err(Quiet::Unlimited));
    }

    #[test]
    fn a_threshold_fires_once_per_usage_period() {
        let first = eval(&usage(9, 10), &History::default()).unwrap();
        let history = History {
            impressions: vec![Impression::new(first.id, &first.trigger, NOW - 3 * DAY)],
            snoozes: vec![],
        };
        assert_eq!(
            eval(&usage(9, 10), &history),
            Err(Quiet::Capped(SuppressReason::AlreadyShownThisPeriod))
        );
        let next_period = Ask::Usage {
            metric: "projects",
            used: 9,
            limit: 10,
            unlimited: false,
            period_end: Some(NOW + 40 * DAY),
        };
        assert!(eval(&next_period, &history).is_ok());
    }

    #[test]
    fn the_gate_prompts_from_the_third_hit_with_a_seven_day_trial_whatever_the_caps() {
        let busy = History {
            impressions: (0..10)
                .map(|i| Impression {
                    prompt: USAGE.into(),
                    at: NOW - i * 60,
                    trigger_key: format!("usage:x:{i}"),
                })
                .collect(),
            snoozes: vec![],
        };
        assert_eq!(
            eval(
                &Ask::Gate {
                    feature: "sso",
                    hits: 2
                },
                &busy
            ),
            Err(Quiet::NotYetGateHit { from: 3 })
        );
        let p = eval(
            &Ask::Gate {
                feature: "sso",
                hits: 3,
            },
            &busy,
        )
        .unwrap();
        assert_eq!((p.kind, p.trial_days), (PromptKind::GateTrial, Some(7)));
    }

    #[test]
    fn seats_suggest_the_team_plan_at_eighty_percent_or_three_invites() {
        let h = History::default();
        assert_eq!(
            eval(
                &Ask::Seats {
                    used: 3,
                    limit: 5,
                    invites: 0
                },
                &h
            ),
            Err(Quiet::SeatsBelowShare)
        );
        assert_eq!(
            eval(
                &Ask::Seats {
                    used: 4,
                    limit: 5,
                    invites: 0
                },
                &h
            )
            .map(|p| p.suggest.map(|s| s.id)),
            Ok(Some("team".into()))
        );
        assert!(
            eval(
                &Ask::Seats {
                    used: 1,
                    limit: 5,
                    invites: 3
                },
                &h
            )
            .is_ok()
        );
        let team = Customer::new("c2", "team", 9900, 0);
        assert_eq!(
            evaluate(
                &AppConfig::default(),
                &team,
                &Ask::Seats {
                    used: 5,
                    limit: 5,
                    invites: 0
                },
                &h,
                false,
                NOW
            ),
            Err(Quiet::AlreadyOnPlan)
        );
    }

    #[test]
    fn only_one_prompt_is_on_screen_at_a_time() {
        let r = evaluate(
            &AppConfig::default(),
            &pro(),
            &usage(9, 10),
            &History::default(),
            true,
            NOW,
        );
        assert_eq!(r.map_err(|q| q.code()), Err("another_prompt_on_screen"));
    }

    #[test]
    fn prompts_can_be_switched_off() {
        let mut c = AppConfig::default();
        c.prompts.enabled = false;
        assert_eq!(
            evaluate(&c, &pro(), &usage(10, 10), &History::default(), false, NOW),
            Err(Quiet::Disabled)
        );
    }

    proptest! {
        #[test]
        fn a_shown_usage_prompt_always_matches_the_usage_share(used in 0u64..200, limit in 1u64..100) {
            if let Ok(p) = eval(&usage(used, limit), &History::default()) {
                let Trigger::Usage { threshold, .. } = p.trigger else { panic!("usage trigger") };
                prop_assert!(used * 100 >= u64::from(threshold.percent()) * limit);
                prop_assert_eq!(p.kind.is_modal(), threshold == UsageThreshold::Reached);
            } else {
                prop_assert!(used * 100 < 50 * limit);
            }
        }
    }
}
