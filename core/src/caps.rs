//! Frequency caps for upgrade prompts: whether a prompt may show now, and if not, exactly why.
//!
//! An upgrade nudge that shows too often teaches people to dismiss it unread, so every prompt passes
//! two layers of caps: its own (a lifetime cap plus rolling windows) and the group's (all upgrade
//! nudges together), where the group limit wins over a looser prompt setting. The decision is a
//! pure function of the configuration, the customer's impression history and `now`, so the widget
//! can decide instantly from its cached history and the server can re-check the same call.
//!
//! Rules that shape the model:
//! - every display counts once as an [`Impression`], whatever the customer then did with it
//!   (dismissing is not "not seen");
//! - "snooze N days" is the customer's explicit choice, recorded as a [`Snooze`];
//! - each usage threshold fires at most once per usage period, keyed by [`Trigger::key`];
//! - only one prompt is on screen at a time, which is the browser's to weigh
//!   ([`crate::priority`]: a more urgent prompt replaces a lower one);
//! - a feature-gate hit is the customer's own action, so it is exempt from windows, lifetime and
//!   group limits (but still respects a snooze).

use serde::{Deserialize, Serialize};

use crate::customer::{DAY, UnixSeconds};
use crate::validation::Problem;

/// Gate hits it takes before the gate prompt shows: the product shows it from the third hit on.
pub const DEFAULT_GATE_PROMPT_FROM_HIT: u32 = 3;

/// A rolling limit: at most `cap` impressions in any `period_days` days ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Impressions allowed within the period.
    pub cap: u32,
    /// Length of the rolling period, in whole days.
    pub period_days: u32,
}

impl Window {
    /// A window of `cap` impressions per `period_days` days.
    pub const fn new(cap: u32, period_days: u32) -> Self {
        Self { cap, period_days }
    }

    /// Impressions (among `times`) that fall in this window at `now`.
    ///
    /// Future-dated impressions (clock skew between devices) count too: erring towards showing
    /// less is the safe side.
    fn count(&self, times: impl Iterator<Item = UnixSeconds>, now: UnixSeconds) -> usize {
        let since = now.saturating_sub(i64::from(self.period_days).saturating_mul(DAY));
        times.filter(|&at| at > since).count()
    }

    fn is_full(&self, times: impl Iterator<Item = UnixSeconds>, now: UnixSeconds) -> bool {
        self.count(times, now) >= self.cap as usize
    }
}

/// One prompt's own caps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct PromptCaps {
    /// Impressions ever, for prompts that should stop for good (announcements); `None` leaves the
    /// windows and the once-per-period rule to bound it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<u32>,
    /// Rolling windows, all of which must have room.
    pub windows: Vec<Window>,
}

impl Default for PromptCaps {
    /// Once a day and three times a week: enough to be noticed, rare enough not to be tuned out.
    fn default() -> Self {
        Self {
            lifetime: None,
            windows: vec![Window::new(1, 1), Window::new(3, 7)],
        }
    }
}

/// The rate limit on all upgrade prompts together, which wins over any prompt's own caps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct GroupCaps {
    /// Rolling windows over every prompt's impressions, all of which must have room.
    pub windows: Vec<Window>,
}

impl Default for GroupCaps {
    /// Two a day, five a week: several prompts with loose caps still cannot add up to nagging.
    fn default() -> Self {
        Self {
            windows: vec![Window::new(2, 1), Window::new(5, 7)],
        }
    }
}

fn validate_windows(windows: &[Window], path: &str, problems: &mut Vec<Problem>) {
    for (i, w) in windows.iter().enumerate() {
        let at = format!("{path}.windows[{i}]");
        if w.cap == 0 {
            problems.push(Problem::new(
                format!("{at}.cap"),
                "a window cap must be at least 1; disable the prompt instead",
            ));
        }
        if w.period_days == 0 {
            problems.push(Problem::new(
                format!("{at}.period_days"),
                "a window period must be at least 1 day",
            ));
        }
    }
    // A shorter window allowing more than a longer one can never bind: almost surely a typo
    // (e.g. 5 per day next to 3 per week).
    // Windows already reported above are left out, so one mistake is reported once.
    let sound = |w: &&Window| w.cap > 0 && w.period_days > 0;
    for (i, short) in windows.iter().enumerate().filter(|(_, w)| sound(w)) {
        if let Some(long) = windows
            .iter()
            .filter(sound)
            .find(|long| long.period_days > short.period_days && long.cap < short.cap)
        {
            problems.push(Problem::new(
                format!("{path}.windows[{i}].cap"),
                format!(
                    "{} per {} days can never be reached: the {} per {} days window is stricter",
                    short.cap, short.period_days, long.cap, long.period_days
                ),
            ));
        }
    }
}

impl PromptCaps {
    /// Reports caps that block everything or can never bind, under `path`.
    pub fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.lifetime == Some(0) {
            problems.push(Problem::new(
                format!("{path}.lifetime"),
                "a lifetime cap must be at least 1; disable the prompt instead",
            ));
        }
        validate_windows(&self.windows, path, problems);
    }
}

impl GroupCaps {
    /// Reports windows that block everything or can never bind, under `path`.
    pub fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        validate_windows(&self.windows, path, problems);
    }
}

/// How far through a plan limit a metric is: the points at which usage prompts fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageThreshold {
    /// 50%: a quiet banner ("you're halfway through").
    Half,
    /// 75%: a quiet banner.
    ThreeQuarters,
    /// 90%: a prompt with a plan comparison.
    Nearly,
    /// 100%: "limit reached", with upgrade or grace-period options; the only modal one.
    Reached,
}

impl UsageThreshold {
    /// Every threshold, lowest first.
    pub const ALL: [Self; 4] = [Self::Half, Self::ThreeQuarters, Self::Nearly, Self::Reached];

    /// The percentage of the limit this threshold stands for.
    pub const fn percent(self) -> u32 {
        match self {
            Self::Half => 50,
            Self::ThreeQuarters => 75,
            Self::Nearly => 90,
            Self::Reached => 100,
        }
    }

    /// The highest threshold `used` has reached, or `None` below 50% or when there is no limit
    /// (`limit == 0` is how hosts report "unlimited").
    pub fn from_usage(used: u64, limit: u64) -> Option<Self> {
        if limit == 0 {
            return None;
        }
        // Integer comparison in u128: exact at every boundary and immune to overflow.
        let reached =
            |t: &Self| u128::from(used) * 100 >= u128::from(limit) * u128::from(t.percent());
        Self::ALL.into_iter().rev().find(reached)
    }

    /// Whether the prompt takes over the screen: only at 100%, where the customer is blocked anyway.
    pub const fn is_modal(self) -> bool {
        matches!(self, Self::Reached)
    }
}

/// Whether this feature-gate hit should show the gate prompt: from hit number `prompt_from_hit` on
/// (see [`DEFAULT_GATE_PROMPT_FROM_HIT`]), so a curious first click meets the plain lock and
/// repeated intent meets the trial offer.
pub fn gate_should_prompt(hits_so_far_including_this: u32, prompt_from_hit: u32) -> bool {
    hits_so_far_including_this >= prompt_from_hit
}

/// What made a prompt want to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A usage metric crossed a threshold in the current usage period.
    Usage {
        /// The host's metric name, e.g. `projects`.
        metric: String,
        /// The threshold reached.
        threshold: UsageThreshold,
        /// When the usage period resets, which identifies the period; `None` for a limit that
        /// never resets (then the threshold fires once ever).
        period_end: Option<UnixSeconds>,
    },
    /// The customer tried a feature their plan locks: their own action, exempt from throttling.
    Gate {
        /// The host's feature name.
        feature: String,
    },
    /// Seat usage or invitations suggest the team plan.
    Seats,
}

impl Trigger {
    /// Stable identity of this firing, stored on the impression: two usage triggers with the same
    /// key are the same threshold in the same period, which may fire only once.
    pub fn key(&self) -> String {
        match self {
            Self::Usage {
                metric,
                threshold,
                period_end,
            } => {
                let period = period_end.map_or_else(|| "none".to_owned(), |end| end.to_string());
                format!("usage:{metric}:{}:{period}", threshold.percent())
            }
            Self::Gate { feature } => format!("gate:{feature}"),
            Self::Seats => "seats".to_owned(),
        }
    }

    /// Whether the customer caused this trigger themselves, which exempts it from throttling.
    pub const fn is_own_action(&self) -> bool {
        matches!(self, Self::Gate { .. })
    }
}

/// One display of a prompt. Shown, dismissed or clicked, it counts once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impression {
    /// The prompt's id in the config.
    pub prompt: String,
    /// When it was displayed.
    pub at: UnixSeconds,
    /// [`Trigger::key`] of what fired it, for the once-per-period rule.
    pub trigger_key: String,
}

impl Impression {
    /// The impression to record when `prompt` is displayed for `trigger` at `at`.
    pub fn new(prompt: impl Into<String>, trigger: &Trigger, at: UnixSeconds) -> Self {
        Self {
            prompt: prompt.into(),
            at,
            trigger_key: trigger.key(),
        }
    }
}

/// The customer asked not to see a prompt again before `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snooze {
    /// The prompt's id in the config.
    pub prompt: String,
    /// First moment the prompt may show again.
    pub until: UnixSeconds,
}

/// A customer's prompt history: kept on the server per customer, cached in the browser.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct History {
    /// Every display of every upgrade prompt.
    pub impressions: Vec<Impression>,
    /// Every snooze the customer chose.
    pub snoozes: Vec<Snooze>,
}

impl History {
    fn times_of<'a>(&'a self, prompt: &'a str) -> impl Iterator<Item = UnixSeconds> + 'a {
        self.impressions
            .iter()
            .filter(move |i| i.prompt == prompt)
            .map(|i| i.at)
    }

    fn all_times(&self) -> impl Iterator<Item = UnixSeconds> + '_ {
        self.impressions.iter().map(|i| i.at)
    }

    /// The latest snooze of `prompt` still running at `now`.
    fn snoozed_until(&self, prompt: &str, now: UnixSeconds) -> Option<UnixSeconds> {
        self.snoozes
            .iter()
            .filter(|s| s.prompt == prompt && s.until > now)
            .map(|s| s.until)
            .max()
    }
}

/// Everything [`decide`] looks at, named so a call site reads as a sentence.
#[derive(Debug, Clone, Copy)]
pub struct PromptRequest<'a> {
    /// The prompt's id in the config.
    pub prompt: &'a str,
    /// That prompt's own caps.
    pub caps: &'a PromptCaps,
    /// The group's rate limit.
    pub group: &'a GroupCaps,
    /// The customer's history of all upgrade prompts.
    pub history: &'a History,
    /// What fired the prompt.
    pub trigger: &'a Trigger,
    /// The current time, from the caller.
    pub now: UnixSeconds,
}

/// Why a prompt was held back: specific, with the numbers, so the growth team's debug view and the
/// JS API can say exactly which cap bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case", deny_unknown_fields)]
pub enum SuppressReason {
    /// The customer snoozed this prompt.
    Snoozed {
        /// When the snooze ends.
        until: UnixSeconds,
    },
    /// This threshold already fired in this usage period.
    AlreadyShownThisPeriod,
    /// The prompt reached its lifetime cap.
    Lifetime {
        /// The cap reached.
        cap: u32,
    },
    /// The prompt reached one of its own windows.
    Window {
        /// The window's cap.
        cap: u32,
        /// The window's length in days.
        period_days: u32,
    },
    /// All upgrade prompts together reached the group's rate limit.
    GroupLimit {
        /// The window's cap.
        cap: u32,
        /// The window's length in days.
        period_days: u32,
    },
}

impl SuppressReason {
    /// Stable snake_case code returned by the JS API; never rename one.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Snoozed { .. } => "snoozed",
            Self::AlreadyShownThisPeriod => "already_shown_this_period",
            Self::Lifetime { .. } => "lifetime",
            Self::Window { .. } => "window",
            Self::GroupLimit { .. } => "group_limit",
        }
    }
}

/// The verdict for one prompt at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Display it (then record an [`Impression`]).
    Show,
    /// Hold it back, for this reason.
    Suppress(SuppressReason),
}

impl Decision {
    /// Whether the prompt may display.
    pub const fn is_show(&self) -> bool {
        matches!(self, Self::Show)
    }
}

/// Whether `request.prompt` may show now.
///
/// Checks run from the customer's own signals to the throttles: their snooze, the
/// once-per-period rule, then (unless the trigger is their own action) the prompt's lifetime and
/// windows and finally the group limit.
pub fn decide(request: &PromptRequest<'_>) -> Decision {
    match suppress_reason(request) {
        Some(reason) => Decision::Suppress(reason),
        None => Decision::Show,
    }
}

fn suppress_reason(r: &PromptRequest<'_>) -> Option<SuppressReason> {
    if let Some(until) = r.history.snoozed_until(r.prompt, r.now) {
        return Some(SuppressReason::Snoozed { until });
    }
    if let Trigger::Usage { .. } = r.trigger {
        let key = r.trigger.key();
        if r.history.impressions.iter().any(|i| i.trigger_key == key) {
            return Some(SuppressReason::AlreadyShownThisPeriod);
        }
    }
    if r.trigger.is_own_action() {
        return None;
    }
    if let Some(cap) = r.caps.lifetime
        && r.history.times_of(r.prompt).count() >= cap as usize
    {
        return Some(SuppressReason::Lifetime { cap });
    }
    if let Some(w) = r
        .caps
        .windows
        .iter()
        .find(|w| w.is_full(r.history.times_of(r.prompt), r.now))
    {
        return Some(SuppressReason::Window {
            cap: w.cap,
            period_days: w.period_days,
        });
    }
    if let Some(w) = r
        .group
        .windows
        .iter()
        .find(|w| w.is_full(r.history.all_times(), r.now))
    {
        return Some(SuppressReason::GroupLimit {
            cap: w.cap,
            period_days: w.period_days,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: UnixSeconds = 20_000 * DAY;

    fn usage(threshold: UsageThreshold, period_end: UnixSeconds) -> Trigger {
        Trigger::Usage {
            metric: "projects".into(),
            threshold,
            period_end: Some(period_end),
        }
    }

    fn gate() -> Trigger {
        Trigger::Gate {
            feature: "sso".into(),
        }
    }

    fn shown(prompt: &str, at: UnixSeconds) -> Impression {
        Impression {
            prompt: prompt.into(),
            at,
            trigger_key: format!("test:{at}"),
        }
    }

    fn decide_with(
        prompt: &str,
        caps: &PromptCaps,
        group: &GroupCaps,
        history: &History,
        trigger: &Trigger,
    ) -> Decision {
        decide(&PromptRequest {
            prompt,
            caps,
            group,
            history,
            trigger,
            now: NOW,
        })
    }

    fn unlimited_group() -> GroupCaps {
        GroupCaps { windows: vec![] }
    }

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn a_first_prompt_with_default_caps_shows() {
        let d = decide_with(
            "p",
            &PromptCaps::default(),
            &GroupCaps::default(),
            &History::default(),
            &Trigger::Seats,
        );
        assert_eq!(d, Decision::Show);
    }

    #[test]
    fn a_dismissal_counts_as_an_impression() {
        // The widget records an impression on display; dismissing it adds nothing and removes
        // nothing, so the 1-per-day window is already used up.
        let history = History {
            impressions: vec![Impression::new("p", &Trigger::Seats, NOW - 60)],
            snoozes: vec![],
        };
        let d = decide_with(
            "p",
            &PromptCaps::default(),
            &unlimited_group(),
            &history,
            &Trigger::Seats,
        );
        assert_eq!(
            d,
            Decision::Suppress(SuppressReason::Window {
                cap: 1,
                period_days: 1
            })
        );
    }

    #[test]
    fn a_window_frees_up_once_the_period_has_passed() {
        let history = History {
            impressions: vec![shown("p", NOW - DAY)],
            snoozes: vec![],
        };
        let caps = PromptCaps::default();
        let d = decide_with("p", &caps, &unlimited_group(), &history, &Trigger::Seats);
        assert_eq!(d, Decision::Show);
    }

    #[test]
    fn the_weekly_window_holds_even_when_the_daily_one_is_free() {
        let history = History {
            impressions: (2..5).map(|d| shown("p", NOW - d * DAY)).collect(),
            snoozes: vec![],
        };
        let d = decide_with(
            "p",
            &PromptCaps::default(),
            &unlimited_group(),
            &history,
            &Trigger::Seats,
        );
        assert_eq!(
            d,
            Decision::Suppress(SuppressReason::Window {
                cap: 3,
                period_days: 7
            })
        );
    }

    #[test]
    fn the_lifetime_cap_stops_a_prompt_for_good() {
        let caps = PromptCaps {
            lifetime: Some(2),
            windows: vec![],
        };
        let history = History {
            impressions: vec![shown("p", 10 * DAY), shown("p", 500 * DAY)],
            snoozes: vec![],
        };
        let d = decide_with("p", &caps, &unlimited_group(), &history, &Trigger::Seats);
        assert_eq!(d, Decision::Suppress(SuppressReason::Lifetime { cap: 2 }));
    }

    #[test]
    fn the_group_limit_wins_over_a_looser_prompt_window() {
        let loose = PromptCaps {
            lifetime: None,
            windows: vec![Window::new(10, 1)],
        };
        let history = History {
            impressions: vec![shown("other", NOW - 3_600), shown("another", NOW - 7_200)],
            snoozes: vec![],
        };
        let d = decide_with(
            "p",
            &loose,
            &GroupCaps::default(),
            &history,
            &Trigger::Seats,
        );
        assert_eq!(
            d,
            Decision::Suppress(SuppressReason::GroupLimit {
                cap: 2,
                period_days: 1
            })
        );
    }

    #[test]
    fn other_prompts_do_not_use_up_this_prompts_own_window() {
        let history = History {
            impressions: vec![shown("other", NOW - 60)],
            snoozes: vec![],
        };
        let d = decide_with(
            "p",
            &PromptCaps::default(),
            &GroupCaps::default(),
            &history,
            &Trigger::Seats,
        );
        assert_eq!(d, Decision::Show);
    }

    #[test]
    fn a_gate_hit_is_exempt_from_the_group_limit() {
        let history = History {
            impressions: (0..6).map(|i| shown("other", NOW - i * 60)).collect(),
            snoozes: vec![],
        };
        let d = decide_with(
            "gate",
            &PromptCaps::default(),
            &GroupCaps::default(),
            &history,
            &gate(),
        );
        assert_eq!(d, Decision::Show);
    }

    #[test]
    fn a_gate_hit_is_exempt_from_its_own_windows_and_lifetime() {
        let caps = PromptCaps {
            lifetime: Some(1),
            windows: vec![Window::new(1, 1)],
        };
        let history = History {
            impressions: vec![shown("gate", NOW - 60)],
            snoozes: vec![],
        };
        let d = decide_with("gate", &caps, &GroupCaps::default(), &history, &gate());
        assert_eq!(d, Decision::Show);
    }

    #[test]
    fn a_snooze_holds_the_prompt_until_it_ends() {
        let until = NOW + 3 * DAY;
        let history = History {
            impressions: vec![],
            snoozes: vec![
                Snooze {
                    prompt: "p".into(),
                    until: NOW + DAY,
                },
                Snooze {
                    prompt: "p".into(),
                    until,
                },
            ],
        };
        let caps = PromptCaps::default();
        let group = unlimited_group();
        let d = decide_with("p", &caps, &group, &history, &Trigger::Seats);
        assert_eq!(d, Decision::Suppress(SuppressReason::Snoozed { until }));
        let later = decide(&PromptRequest {
            prompt: "p",
            caps: &caps,
            group: &group,
            history: &history,
            trigger: &Trigger::Seats,
            now: until,
        });
        assert_eq!(later, Decision::Show);
        let other = decide_with("q", &caps, &group, &history, &Trigger::Seats);
        assert_eq!(other, Decision::Show, "a snooze is per prompt");
    }

    #[test]
    fn each_threshold_fires_once_per_usage_period() {
        let period_end = NOW + 10 * DAY;
        let trigger = usage(UsageThreshold::Nearly, period_end);
        let history = History {
            impressions: vec![Impression::new("usage", &trigger, NOW - 30 * DAY)],
            snoozes: vec![],
        };
        let caps = PromptCaps::default();
        let group = unlimited_group();
        assert_eq!(
            decide_with("usage", &caps, &group, &history, &trigger),
            Decision::Suppress(SuppressReason::AlreadyShownThisPeriod)
        );
        let next_threshold = usage(UsageThreshold::Reached, period_end);
        assert_eq!(
            decide_with("usage", &caps, &group, &history, &next_threshold),
            Decision::Show
        );
        let next_period = usage(UsageThreshold::Nearly, period_end + 30 * DAY);
        assert_eq!(
            decide_with("usage", &caps, &group, &history, &next_period),
            Decision::Show
        );
    }

    #[test]
    fn the_trigger_key_names_metric_threshold_and_period() {
        assert_eq!(
            usage(UsageThreshold::Nearly, 1_700_000_000).key(),
            "usage:projects:90:1700000000"
        );
        let never_resets = Trigger::Usage {
            metric: "seats".into(),
            threshold: UsageThreshold::Half,
            period_end: None,
        };
        assert_eq!(never_resets.key(), "usage:seats:50:none");
        assert_eq!(gate().key(), "gate:sso");
    }

    #[test]
    fn thresholds_are_the_highest_reached_and_none_when_unlimited() {
        assert_eq!(UsageThreshold::from_usage(49, 100), None);
        assert_eq!(
            UsageThreshold::from_usage(50, 100),
            Some(UsageThreshold::Half)
        );
        assert_eq!(
            UsageThreshold::from_usage(74, 100),
            Some(UsageThreshold::Half)
        );
        assert_eq!(
            UsageThreshold::from_usage(3, 4),
            Some(UsageThreshold::ThreeQuarters)
        );
        assert_eq!(
            UsageThreshold::from_usage(9, 10),
            Some(UsageThreshold::Nearly)
        );
        assert_eq!(
            UsageThreshold::from_usage(10, 10),
            Some(UsageThreshold::Reached)
        );
        assert_eq!(
            UsageThreshold::from_usage(15, 10),
            Some(UsageThreshold::Reached)
        );
        assert_eq!(UsageThreshold::from_usage(5, 0), None);
        assert_eq!(
            UsageThreshold::from_usage(u64::MAX, u64::MAX),
            Some(UsageThreshold::Reached)
        );
    }

    #[test]
    fn only_the_limit_reached_prompt_is_modal() {
        let modal: Vec<_> = UsageThreshold::ALL
            .into_iter()
            .filter(|t| t.is_modal())
            .collect();
        assert_eq!(modal, vec![UsageThreshold::Reached]);
    }

    #[test]
    fn the_gate_prompt_shows_from_the_third_hit_on_by_default() {
        let d = DEFAULT_GATE_PROMPT_FROM_HIT;
        assert!(!gate_should_prompt(1, d));
        assert!(!gate_should_prompt(2, d));
        assert!(gate_should_prompt(3, d));
        assert!(gate_should_prompt(7, d));
        assert!(gate_should_prompt(1, 1));
    }

    #[test]
    fn suppress_codes_are_stable_and_match_the_serialized_tag() {
        let reasons = [
            (SuppressReason::Snoozed { until: 1 }, "snoozed"),
            (
                SuppressReason::AlreadyShownThisPeriod,
                "already_shown_this_period",
            ),
            (SuppressReason::Lifetime { cap: 1 }, "lifetime"),
            (
                SuppressReason::Window {
                    cap: 1,
                    period_days: 1,
                },
                "window",
            ),
            (
                SuppressReason::GroupLimit {
                    cap: 2,
                    period_days: 1,
                },
                "group_limit",
            ),
        ];
        for (reason, code) in reasons {
            assert_eq!(reason.code(), code);
            let json = serde_json::to_value(reason).unwrap();
            assert_eq!(json["reason"], code);
        }
    }

    #[test]
    fn caps_read_with_defaults_and_refuse_unknown_fields() {
        let caps: PromptCaps = serde_json::from_str(r#"{"lifetime":5}"#).unwrap();
        assert_eq!(caps.lifetime, Some(5));
        assert_eq!(caps.windows, PromptCaps::default().windows);
        let group: GroupCaps = serde_json::from_str("{}").unwrap();
        assert_eq!(group, GroupCaps::default());
        let err =
            serde_json::from_str::<PromptCaps>(r#"{"windows":[{"cap":1,"period_days":1,"x":1}]}"#)
                .unwrap_err();
        assert!(err.to_string().contains('x'), "{err}");
    }

    #[test]
    fn the_default_caps_have_no_problems() {
        let mut problems = Vec::new();
        PromptCaps::default().validate("prompts[0].caps", &mut problems);
        GroupCaps::default().validate("caps.group", &mut problems);
        assert!(problems.is_empty(), "{:?}", paths(&problems));
    }

    #[test]
    fn zero_caps_zero_periods_and_unreachable_windows_are_problems() {
        let caps = PromptCaps {
            lifetime: Some(0),
            windows: vec![
                Window::new(0, 1),
                Window::new(1, 0),
                Window::new(5, 1),
                Window::new(3, 7),
            ],
        };
        let mut problems = Vec::new();
        caps.validate("prompts[1].caps", &mut problems);
        assert_eq!(
            paths(&problems),
            vec![
                "prompts[1].caps.lifetime",
                "prompts[1].caps.windows[0].cap",
                "prompts[1].caps.windows[1].period_days",
                "prompts[1].caps.windows[2].cap",
            ]
        );
        assert!(
            problems[3].message.contains("3 per 7 days"),
            "{}",
            problems[3].message
        );
    }

    fn arb_window() -> impl Strategy<Value = Window> {
        (1u32..4, 1u32..10).prop_map(|(cap, period_days)| Window::new(cap, period_days))
    }

    fn arb_history() -> impl Strategy<Value = History> {
        let impression = (0usize..3, -DAY..20 * DAY, 0u8..4).prop_map(|(p, ago, key)| Impression {
            prompt: ["p", "q", "r"][p].to_owned(),
            // Negative `ago`: a future-dated impression, as clock skew produces.
            at: NOW - ago,
            trigger_key: format!("k{key}"),
        });
        let snooze = (0usize..3, -DAY..DAY).prop_map(|(p, d)| Snooze {
            prompt: ["p", "q", "r"][p].to_owned(),
            until: NOW + d,
        });
        (
            prop::collection::vec(impression, 0..20),
            prop::collection::vec(snooze, 0..2),
        )
            .prop_map(|(impressions, snoozes)| History {
                impressions,
                snoozes,
            })
    }

    fn arb_throttled_trigger() -> impl Strategy<Value = Trigger> {
        prop_oneof![
            Just(Trigger::Seats),
            (0usize..4, 0i64..3).prop_map(|(t, period)| Trigger::Usage {
                metric: "projects".into(),
                threshold: UsageThreshold::ALL[t],
                period_end: Some(period),
            }),
        ]
    }

    proptest! {
        #[test]
        fn a_shown_prompt_never_exceeds_any_cap(
            lifetime in prop::option::of(1u32..8),
            windows in prop::collection::vec(arb_window(), 0..3),
            group_windows in prop::collection::vec(arb_window(), 0..3),
            history in arb_history(),
            trigger in arb_throttled_trigger(),
        ) {
            let caps = PromptCaps { lifetime, windows };
            let group = GroupCaps { windows: group_windows };
            let decision = decide_with("p", &caps, &group, &history, &trigger);
            if decision.is_show() {
                let mut after = history.clone();
                after.impressions.push(Impression::new("p", &trigger, NOW));
                let own = || after.times_of("p");
                if let Some(cap) = lifetime {
                    prop_assert!(own().count() <= cap as usize, "lifetime {}", cap);
                }
                for w in &caps.windows {
                    prop_assert!(w.count(own(), NOW) <= w.cap as usize, "window {:?}", w);
                }
                for w in &group.windows {
                    prop_assert!(w.count(after.all_times(), NOW) <= w.cap as usize, "group {:?}", w);
                }
                let key = trigger.key();
                if matches!(trigger, Trigger::Usage { .. }) {
                    let firings = after.impressions.iter().filter(|i| i.trigger_key == key).count();
                    prop_assert_eq!(firings, 1, "a threshold fires once per period");
                }
            }
        }

        #[test]
        fn a_gate_hit_is_never_throttled(
            lifetime in prop::option::of(1u32..8),
            windows in prop::collection::vec(arb_window(), 0..3),
            group_windows in prop::collection::vec(arb_window(), 0..3),
            history in arb_history(),
        ) {
            let caps = PromptCaps { lifetime, windows };
            let group = GroupCaps { windows: group_windows };
            let decision = decide_with("p", &caps, &group, &history, &gate());
            prop_assert!(
                matches!(decision, Decision::Show | Decision::Suppress(SuppressReason::Snoozed { .. })),
                "{:?}",
                decision
            );
        }
    }
}
