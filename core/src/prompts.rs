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

/// Whether (and how) to prompt for `ask`, given the customer's prompt history. What is on screen
/// is the browser's to weigh ([`crate::priority`]).
pub fn evaluate(
    config: &AppConfig,
    customer: &Customer,
    ask: &Ask<'_>,
    history: &History,
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

/// The answer to a prompt plan request: whether a prompt shows, and if so everything it shows.
///
/// The server writes it from the app's config and the customer's history (with [`evaluate`]), so
/// the browser fetches the prompt bundle only when it will render, and never sees the app's
/// thresholds, caps or plans to suggest. A "no" is a few bytes: `{"show":false,"reason":"window"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptPlan {
    /// Whether the prompt shows.
    pub show: bool,
    /// Why not ([`Quiet::code`]), when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The prompt, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PlannedPrompt>,
}

/// One prompt, written out in the session's language: the widget only renders it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedPrompt {
    /// Prompt id for caps and stats ([`USAGE`], [`USAGE_COMPARE`], ...).
    pub id: String,
    /// How it looks.
    pub kind: PromptKind,
    /// [`Trigger::key`] of what fired it: the impression's key.
    pub trigger: String,
    /// The usage metric, for usage prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The usage threshold reached, in percent, for usage prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// The locked feature, for gate prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// Used so far (usage and seat prompts): fills `{used}` in the text, so newer numbers of the
    /// same threshold refresh the prompt on screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<u64>,
    /// The limit (usage and seat prompts): fills `{limit}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The plan suggested, handed to the host's `onUpgrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_plan: Option<String>,
    /// The session's locale (BCP 47), for `Intl` and `lang`.
    pub locale: String,
    /// Right-to-left text.
    pub rtl: bool,
    /// ISO 4217 currency of the money tokens.
    pub currency: String,
    /// The dialog's class and theme custom properties.
    pub theme: crate::plan::PlanTheme,
    /// The heading.
    pub title: String,
    /// The lines below it (money as [`crate::i18n::money_token`]s).
    pub lines: Vec<String>,
    /// The buttons, the first one primary.
    pub actions: Vec<PromptAction>,
    /// The close button's accessible label.
    pub dismiss: String,
}

/// A button of a prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptAction {
    /// What it does.
    pub choice: Choice,
    /// What it says.
    pub label: String,
}

/// What a prompt button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Calls the host's `onUpgrade` with the suggested plan.
    Upgrade,
    /// Takes the grace period offered at 100%.
    Grace,
    /// Asks the server to start the locked feature's trial.
    Trial,
    /// "Remind me later": a snooze.
    Snooze,
    /// Closes it ("not now").
    Dismiss,
}

/// Writes the prompt plan for `ask`: [`evaluate`], then the prompt's text in the first of
/// `locale` (the host's option), the customer's locale and the app's default that is supported.
pub fn write_plan(
    config: &AppConfig,
    customer: &Customer,
    ask: &Ask<'_>,
    history: &History,
    locale: Option<&str>,
    now: UnixSeconds,
) -> PromptPlan {
    match evaluate(config, customer, ask, history, now) {
        Err(quiet) => PromptPlan {
            show: false,
            reason: Some(quiet.code().to_string()),
            prompt: None,
        },
        Ok(prompt) => PromptPlan {
            show: true,
            reason: None,
            prompt: Some(write_prompt(config, customer, ask, &prompt, locale)),
        },
    }
}

fn write_prompt(
    config: &AppConfig,
    customer: &Customer,
    ask: &Ask<'_>,
    p: &Prompt,
    locale: Option<&str>,
) -> PlannedPrompt {
    use crate::i18n::{Lang, money_token};
    let mut wanted: Vec<String> = locale.map(str::to_string).into_iter().collect();
    wanted.extend(customer.locale.clone());
    wanted.push(config.locale.default.clone());
    let lang = Lang::resolve(&wanted, config.locale.messages.keys().map(String::as_str));
    let overrides = config
        .locale
        .messages
        .iter()
        .find(|(tag, _)| tag.eq_ignore_ascii_case(&lang.tag))
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    let m = crate::plan::Text {
        lang: &lang,
        overrides: &overrides,
    };
    let (metric, used, limit) = match ask {
        Ask::Usage {
            metric,
            used,
            limit,
            ..
        } => (Some((*metric).to_string()), Some(*used), Some(*limit)),
        Ask::Seats { used, limit, .. } => (
            Some("seats".to_string()),
            Some(u64::from(*used)),
            Some(u64::from(*limit)),
        ),
        Ask::Gate { .. } => (None, None, None),
    };
    let metric_text = metric.clone().unwrap_or_default();
    // `{used}` and `{limit}` stay in the text: the widget fills them with the newest numbers.
    let usage_args = [("metric", metric_text.as_str())];
    let plan = p.suggest.as_ref();
    let action = |choice, label| PromptAction { choice, label };
    let upgrade = action(
        Choice::Upgrade,
        plan.map_or_else(
            || m.get("prompt.upgrade_generic"),
            |pl| m.fill("prompt.upgrade", &[("plan", &pl.name)]),
        ),
    );
    let snooze = action(Choice::Snooze, m.get("prompt.snooze"));
    let line = |label: &str, pl: &Plan| {
        let price = m.fill(
            "prompt.per_month",
            &[("price", &money_token(pl.price_cents))],
        );
        [
            label,
            ": ",
            &pl.name,
            " · ",
            &price,
            " · ",
            &pl.features.join(", "),
        ]
        .concat()
    };
    let comparison = || match (&p.current, plan) {
        (Some(cur), Some(next)) => vec![
            line(&m.get("prompt.current"), cur),
            line(&m.get("prompt.suggested"), next),
        ],
        _ => Vec::new(),
    };
    let (title, lines, actions) = match p.kind {
        PromptKind::Banner => {
            let percent = match &p.trigger {
                Trigger::Usage { threshold, .. } => threshold.percent().to_string(),
                _ => String::new(),
            };
            (
                m.fill(
                    "prompt.banner",
                    &[("percent", &percent), ("metric", &metric_text)],
                ),
                vec![],
                vec![upgrade, snooze],
            )
        }
        PromptKind::Compare => {
            let mut lines = vec![m.fill("prompt.usage.body", &usage_args)];
            lines.extend(comparison());
            (
                m.fill("prompt.compare.title", &usage_args),
                lines,
                vec![upgrade, snooze],
            )
        }
        PromptKind::LimitReached => {
            let mut lines = vec![
                m.fill("prompt.usage.body", &usage_args),
                m.get("prompt.limit.body"),
            ];
            lines.extend(comparison());
            let mut actions = vec![upgrade];
            if let Some(days) = p.grace_days {
                actions.push(action(
                    Choice::Grace,
                    m.plural(
                        "prompt.grace",
                        u32::from(days),
                        &[("days", &days.to_string())],
                    ),
                ));
            }
            (m.fill("prompt.limit.title", &usage_args), lines, actions)
        }
        PromptKind::GateTrial => {
            let days = p.trial_days.unwrap_or(7);
            let feature = match &p.trigger {
                Trigger::Gate { feature } => feature.as_str(),
                _ => "",
            };
            (
                m.fill("prompt.gate.title", &[("feature", feature)]),
                vec![m.plural(
                    "prompt.gate.body",
                    u32::from(days),
                    &[("days", &days.to_string())],
                )],
                vec![
                    action(Choice::Trial, m.get("prompt.gate.trial")),
                    action(Choice::Dismiss, m.get("prompt.not_now")),
                ],
            )
        }
        PromptKind::SeatsTeam => {
            let mut lines = vec![m.get("prompt.seats.body")];
            lines.extend(comparison());
            (m.get("prompt.seats.title"), lines, vec![upgrade, snooze])
        }
    };
    let (threshold, feature) = match &p.trigger {
        Trigger::Usage { threshold, .. } => (Some(threshold.percent()), None),
        Trigger::Gate { feature } => (None, Some(feature.clone())),
        Trigger::Seats => (None, None),
    };
    let currency = plan
        .or(p.current.as_ref())
        .map(|pl| pl.currency.clone())
        .or_else(|| customer.currency.clone())
        .unwrap_or_else(|| "USD".into());
    PlannedPrompt {
        id: p.id.to_string(),
        kind: p.kind,
        trigger: p.trigger.key(),
        metric: metric.filter(|_| !matches!(p.trigger, Trigger::Gate { .. })),
        threshold,
        feature,
        used,
        limit,
        suggested_plan: plan.map(|pl| pl.id.clone()),
        locale: lang.tag.clone(),
        rtl: lang.rtl,
        currency,
        theme: crate::plan::theme(config),
        title,
        lines,
        actions,
        dismiss: m.get("prompt.dismiss"),
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
        evaluate(&AppConfig::default(), &pro(), ask, history, NOW)
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
                NOW
            ),
            Err(Quiet::AlreadyOnPlan)
        );
    }

    #[test]
    fn prompts_can_be_switched_off() {
        let mut c = AppConfig::default();
        c.prompts.enabled = false;
        assert_eq!(
            evaluate(&c, &pro(), &usage(10, 10), &History::default(), NOW),
            Err(Quiet::Disabled)
        );
    }

    #[test]
    fn a_plan_says_no_in_a_few_bytes() {
        let plan = write_plan(
            &AppConfig::default(),
            &pro(),
            &usage(3, 10),
            &History::default(),
            None,
            NOW,
        );
        let json = serde_json::to_string(&plan).unwrap();
        assert_eq!(json, r#"{"show":false,"reason":"below_threshold"}"#);
    }

    #[test]
    fn a_plan_writes_the_prompt_in_the_session_s_language_with_its_numbers_left_to_fill() {
        let plan = write_plan(
            &AppConfig::default(),
            &pro(),
            &usage(10, 10),
            &History::default(),
            Some("zh-CN"),
            NOW,
        );
        let p = plan.prompt.unwrap();
        assert!(plan.show);
        assert_eq!(
            (p.id.as_str(), p.kind, p.threshold),
            (USAGE_LIMIT, PromptKind::LimitReached, Some(100))
        );
        assert_eq!(p.locale, "zh-CN");
        assert!(p.lines[0].contains("{used}/{limit}"), "{:?}", p.lines);
        assert_eq!(
            p.actions.iter().map(|a| a.choice).collect::<Vec<_>>(),
            [Choice::Upgrade, Choice::Grace]
        );
        assert_eq!(p.suggested_plan.as_deref(), Some("team"));
        let gate = write_plan(
            &AppConfig::default(),
            &pro(),
            &Ask::Gate {
                feature: "sso",
                hits: 3,
            },
            &History::default(),
            None,
            NOW,
        );
        let g = gate.prompt.unwrap();
        assert_eq!(
            (g.feature.as_deref(), g.metric.as_deref()),
            (Some("sso"), None)
        );
        assert_eq!(g.title, "sso is part of a higher plan");
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
