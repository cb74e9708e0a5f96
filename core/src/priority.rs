//! Which upgrade prompt has the screen: the one on screen, or the one just earned.
//!
//! Only one prompt is on screen at a time, but the one that got there first must not keep it
//! against a better claim. Rules that shape the model:
//! - the cancel flow outranks every prompt: nothing shows over it;
//! - a prompt the subscriber caused (a feature-gate hit: they are trying to do something now) or a
//!   more urgent one (the 90% comparison over a banner, the 100% limit over both) replaces a lower
//!   one on screen;
//! - only an equal or lower prompt is held back by the one on screen;
//! - a prompt never shows stale numbers: a newer report of the metric a usage prompt is about
//!   either replaces it, refreshes its numbers (same threshold) or takes it away (the usage fell
//!   below what it says, or a threshold it does not speak of was reached and held back).
//!
//! The caps ([`crate::caps`]) decide whether a prompt may show at all and are the server's to apply;
//! this module decides only between two prompts on one screen, which only the browser sees.

use crate::caps::UsageThreshold;
use crate::prompts::PromptKind;

/// How strongly a prompt claims the screen, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// A quiet nudge: the 50 and 75% banners, the team-plan suggestion.
    Nudge,
    /// The 90% plan comparison.
    Comparison,
    /// The 100% limit: the subscriber is blocked.
    Limit,
    /// A feature-gate hit: the subscriber's own action, right now.
    Caused,
}

impl PromptKind {
    /// How strongly this kind of prompt claims the screen.
    pub const fn urgency(self) -> Urgency {
        match self {
            Self::Banner | Self::SeatsTeam => Urgency::Nudge,
            Self::Compare => Urgency::Comparison,
            Self::LimitReached => Urgency::Limit,
            Self::GateTrial => Urgency::Caused,
        }
    }
}

/// A prompt as the screen knows it: what it looks like and which usage it speaks of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Showing {
    /// How it looks.
    pub kind: PromptKind,
    /// The metric and threshold of a usage prompt (`None` for gate and seat prompts).
    pub usage: Option<(String, UsageThreshold)>,
}

impl Showing {
    /// A usage prompt about `metric` at `threshold`.
    pub fn usage(kind: PromptKind, metric: &str, threshold: UsageThreshold) -> Self {
        Self {
            kind,
            usage: Some((metric.to_string(), threshold)),
        }
    }

    /// A prompt that speaks of no usage metric (a gate or seats prompt).
    pub const fn other(kind: PromptKind) -> Self {
        Self { kind, usage: None }
    }

    fn metric(&self) -> Option<&str> {
        self.usage.as_ref().map(|(m, _)| m.as_str())
    }
}

/// What is on screen when a prompt is earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen<'a> {
    /// Nothing of Holdfast's.
    Clear,
    /// The cancel flow's dialog.
    CancelFlow,
    /// An upgrade prompt.
    Prompt(&'a Showing),
}

/// What to do with a prompt the caps allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arbitration {
    /// The screen is clear: show it.
    Show,
    /// Take the prompt on screen away and show this one.
    Replace,
    /// Hold it back (it is not shown, so it is no impression).
    HoldBack,
}

/// Whether `incoming`, which the caps allow, may take the screen.
pub fn arbitrate(screen: Screen<'_>, incoming: &Showing) -> Arbitration {
    match screen {
        Screen::Clear => Arbitration::Show,
        Screen::CancelFlow => Arbitration::HoldBack,
        Screen::Prompt(on_screen) => {
            // A newer report of the same metric: what is on screen is about to be stale.
            let same_metric =
                incoming.metric().is_some() && incoming.metric() == on_screen.metric();
            if same_metric || incoming.kind.urgency() > on_screen.kind.urgency() {
                Arbitration::Replace
            } else {
                Arbitration::HoldBack
            }
        }
    }
}

/// What a usage report that earns no prompt does to the prompt on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterReport {
    /// It speaks of something else: leave it.
    Keep,
    /// Same metric, same threshold: show the new numbers in it.
    Refresh,
    /// Same metric, but its threshold no longer holds: take it away.
    Remove,
}

/// What a report of `metric` at `used` of `limit` that earned no prompt does to `on_screen`.
pub fn after_quiet_report(on_screen: &Showing, metric: &str, used: u64, limit: u64) -> AfterReport {
    match &on_screen.usage {
        Some((m, threshold)) if m == metric => {
            if UsageThreshold::from_usage(used, limit) == Some(*threshold) {
                AfterReport::Refresh
            } else {
                AfterReport::Remove
            }
        }
        _ => AfterReport::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KINDS: [PromptKind; 5] = [
        PromptKind::Banner,
        PromptKind::Compare,
        PromptKind::LimitReached,
        PromptKind::GateTrial,
        PromptKind::SeatsTeam,
    ];

    fn threshold_of(kind: PromptKind, pick: usize) -> UsageThreshold {
        match kind {
            PromptKind::Compare => UsageThreshold::Nearly,
            PromptKind::LimitReached => UsageThreshold::Reached,
            _ => [UsageThreshold::Half, UsageThreshold::ThreeQuarters][pick % 2],
        }
    }

    /// Any prompt: usage kinds about one of two metrics, the others about none.
    fn showing() -> impl Strategy<Value = Showing> {
        (0..KINDS.len(), 0usize..2, 0usize..2).prop_map(|(k, m, t)| {
            let kind = KINDS[k];
            match kind {
                PromptKind::Banner | PromptKind::Compare | PromptKind::LimitReached => {
                    Showing::usage(kind, ["projects", "storage"][m], threshold_of(kind, t))
                }
                _ => Showing::other(kind),
            }
        })
    }

    #[test]
    fn the_issue_s_cases() {
        let banner = Showing::usage(PromptKind::Banner, "projects", UsageThreshold::Half);
        let limit = Showing::usage(
            PromptKind::LimitReached,
            "projects",
            UsageThreshold::Reached,
        );
        let gate = Showing::other(PromptKind::GateTrial);
        assert_eq!(
            arbitrate(Screen::Prompt(&banner), &limit),
            Arbitration::Replace,
            "at 100% nobody still reads 'you've used 50%'"
        );
        assert_eq!(
            arbitrate(Screen::Prompt(&banner), &gate),
            Arbitration::Replace,
            "the third click on a locked feature shows its prompt over a banner"
        );
        let other = Showing::usage(PromptKind::Banner, "storage", UsageThreshold::Half);
        assert_eq!(
            arbitrate(Screen::Prompt(&banner), &other),
            Arbitration::HoldBack
        );
        assert_eq!(
            after_quiet_report(&banner, "projects", 0, 10),
            AfterReport::Remove,
            "a new month takes the banner away"
        );
        assert_eq!(
            after_quiet_report(&banner, "projects", 6, 10),
            AfterReport::Refresh
        );
        assert_eq!(
            after_quiet_report(&banner, "storage", 0, 10),
            AfterReport::Keep
        );
    }

    proptest! {
        #[test]
        fn nothing_ever_shows_over_the_cancel_flow(incoming in showing()) {
            prop_assert_eq!(arbitrate(Screen::CancelFlow, &incoming), Arbitration::HoldBack);
        }

        #[test]
        fn a_clear_screen_shows_whatever_the_caps_allowed(incoming in showing()) {
            prop_assert_eq!(arbitrate(Screen::Clear, &incoming), Arbitration::Show);
        }

        #[test]
        fn a_caused_or_more_urgent_prompt_replaces_a_lower_one(on_screen in showing(), incoming in showing()) {
            if incoming.kind.urgency() > on_screen.kind.urgency() {
                prop_assert_eq!(arbitrate(Screen::Prompt(&on_screen), &incoming), Arbitration::Replace);
            }
            if incoming.kind == PromptKind::GateTrial && on_screen.kind != PromptKind::GateTrial {
                prop_assert_eq!(arbitrate(Screen::Prompt(&on_screen), &incoming), Arbitration::Replace);
            }
        }

        #[test]
        fn only_an_equal_or_lower_prompt_is_held_back(on_screen in showing(), incoming in showing()) {
            if arbitrate(Screen::Prompt(&on_screen), &incoming) == Arbitration::HoldBack {
                prop_assert!(incoming.kind.urgency() <= on_screen.kind.urgency());
            }
        }

        #[test]
        fn a_prompt_never_shows_stale_numbers(
            on_screen in showing(),
            metric in prop::sample::select(vec!["projects", "storage"]),
            used in 0u64..250,
            limit in 1u64..100,
            earned in showing(),
            earns in any::<bool>(),
        ) {
            // After any report of the metric on screen, what remains on screen either is the
            // report's own prompt or agrees with the report's threshold.
            let Some((shown_metric, shown_threshold)) = on_screen.usage.clone() else { return Ok(()) };
            if shown_metric != metric { return Ok(()) }
            let reached = UsageThreshold::from_usage(used, limit);
            if earns && earned.usage.as_ref().is_some_and(|(m, _)| m == metric) {
                prop_assert_eq!(arbitrate(Screen::Prompt(&on_screen), &earned), Arbitration::Replace);
            } else {
                match after_quiet_report(&on_screen, metric, used, limit) {
                    AfterReport::Refresh => prop_assert_eq!(reached, Some(shown_threshold)),
                    AfterReport::Remove => prop_assert_ne!(reached, Some(shown_threshold)),
                    AfterReport::Keep => prop_assert!(false, "a report of the metric on screen never leaves it as it was"),
                }
            }
        }
    }
}
