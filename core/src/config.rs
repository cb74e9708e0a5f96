//! An app's configuration: what growth teams edit, what the widget renders from and what the
//! server re-checks against.
//!
//! The config is one serde document with a `schema` number so stored versions stay readable as it
//! evolves. [`AppConfig::validate`] reports every problem at once, each with the field path a person
//! would type (`offers[2].terms.percent`) and a reason, and keeps warnings apart, so an editor can
//! show them all in one round trip. [`AppConfig::default`] encodes the product's default
//! reason-to-offer mapping, so a new app works before anyone edits anything.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::assignment::Experiment;
use crate::caps::{GroupCaps, PromptCaps};
use crate::customer::AttributeValue;
use crate::offer::{Offer, OfferTerms};
use crate::policy::PolicyProfile;

/// The config schema this build reads and writes.
pub const SCHEMA: u32 = 1;

/// One thing wrong (or worth a warning) in a config: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Path to the field, as in `offers[2].terms.percent`.
    pub path: String,
    /// Why it is refused or warned about, in plain words.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The outcome of [`AppConfig::validate`]: a config with any error is refused whole; warnings are
/// shown but do not block saving.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    /// Refusals: the config must not be saved.
    pub errors: Vec<Problem>,
    /// Concerns worth a look (a discount above 30%).
    pub warnings: Vec<Problem>,
}

impl Validation {
    /// True when nothing refuses the config.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Everything an app can configure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Config schema version; see [`SCHEMA`].
    pub schema: u32,
    /// The survey's answers, in display order.
    pub reasons: Vec<Reason>,
    /// The offers rules can point at.
    pub offers: Vec<Offer>,
    /// Ordered targeting rules: the first whose conditions match wins.
    pub rules: Vec<Rule>,
    /// The host's plans, for downgrade eligibility, prices in offer terms and upgrade suggestions.
    #[serde(default)]
    pub plans: Vec<Plan>,
    /// Which cancellation rules apply.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The offer-abuse ledger's cooldowns.
    #[serde(default)]
    pub cooldowns: Cooldowns,
    /// Colours, font and shape, applied as CSS custom properties inside the shadow root.
    #[serde(default)]
    pub theme: Theme,
    /// Locale default and message overrides.
    #[serde(default)]
    pub locale: LocaleConfig,
    /// Upgrade prompts and their caps.
    #[serde(default)]
    pub prompts: PromptsConfig,
    /// A/B experiments over offers and prompts.
    #[serde(default)]
    pub experiments: Vec<Experiment>,
}

/// What `GET /v1/apps/{app_id}/config` publishes to anyone: what a subscriber sees anyway (the
/// survey's reasons, the plans, the theme and the copy). The offers, targeting rules, cooldowns,
/// prompt thresholds and caps and the experiments' weights stay on the server: the cancel plan and
/// the prompt plan apply them, so no widget needs them and no one learns the rules from the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublicConfig {
    /// Config schema version; see [`SCHEMA`].
    pub schema: u32,
    /// The survey's answers, in display order.
    pub reasons: Vec<Reason>,
    /// The host's plans.
    pub plans: Vec<Plan>,
    /// Colours, font and shape.
    pub theme: Theme,
    /// Locale default and message overrides.
    pub locale: LocaleConfig,
}

impl From<&AppConfig> for PublicConfig {
    fn from(c: &AppConfig) -> Self {
        Self {
            schema: c.schema,
            reasons: c.reasons.clone(),
            plans: c.plans.clone(),
            theme: c.theme.clone(),
            locale: c.locale.clone(),
        }
    }
}

/// One survey answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Stable id used by rules, events and stats (`too_expensive`).
    pub id: String,
    /// Label override; otherwise the catalog's `reason.<id>` string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Whether choosing it opens a free-text box ("other").
    #[serde(default, skip_serializing_if = "is_false")]
    pub free_text: bool,
}

/// A plan of the host's product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The host's plan id, as on the customer.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Monthly price in the smallest currency unit.
    pub price_cents: i64,
    /// ISO 4217 currency of the price.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Selling points shown in plan comparisons.
    #[serde(default)]
    pub features: Vec<String>,
}

/// Leaves `false` flags out of the JSON: the widget downloads the config on every page.
fn is_false(b: &bool) -> bool {
    !*b
}

fn default_currency() -> String {
    "USD".into()
}

/// One targeting rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, reported as the rule that matched.
    pub id: String,
    /// Reasons this rule answers; empty means any reason, including a skipped survey.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Conditions on the customer and variant; all must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<Condition>,
    /// The offer to make; `None` makes a rule that deliberately offers nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// Used when the primary offer is not eligible, or as a second screen where the profile allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// A condition on the customer (or the experiment variant) that a rule requires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The customer's plan is one of these.
    PlanIn(Vec<String>),
    /// The customer's plan is none of these.
    PlanNotIn(Vec<String>),
    /// Compares `mrr_cents`.
    MrrCents(Comparison),
    /// Compares whole days since `created_at`.
    TenureDays(Comparison),
    /// The customer's segment is one of these.
    SegmentIn(Vec<String>),
    /// Compares a custom attribute; a missing attribute never matches.
    Attribute {
        /// Attribute name.
        name: String,
        /// Comparison; `lt`/`lte`/`gt`/`gte` need a number.
        op: Cmp,
        /// Value to compare against.
        value: AttributeValue,
    },
    /// The customer is in this experiment's variant.
    Variant {
        /// Experiment key.
        experiment: String,
        /// Variant key.
        variant: String,
    },
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// How to compare.
    pub op: Cmp,
    /// The number on the right-hand side.
    pub value: f64,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Cmp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
}

impl Cmp {
    /// Applies the operator to two numbers.
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Cmp::Eq => left == right,
            Cmp::Ne => left != right,
            Cmp::Lt => left < right,
            Cmp::Lte => left <= right,
            Cmp::Gt => left > right,
            Cmp::Gte => left >= right,
        }
    }
}

/// Which cancellation rules apply to this app's sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Profiles this app may apply; a session's profile is resolved among them.
    pub enabled: Vec<PolicyProfile>,
    /// Offer screens a session may show where the profile allows a choice (1 or 2).
    pub max_offer_screens: u8,
    /// Whether the app sells to consumers (most cancellation laws cover consumers only).
    pub audience: Audience,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            enabled: PolicyProfile::ALL.to_vec(),
            max_offer_screens: 1,
            audience: Audience::Consumer,
        }
    }
}

/// Who the app sells to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Consumers: the jurisdiction's profile applies.
    Consumer,
    /// Businesses only: the standard profile applies everywhere.
    Business,
}

/// Cooldowns of the offer-abuse ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Cooldowns {
    /// No second discount within this many days of the last one.
    pub discount_days: u32,
    /// No second pause within this many days.
    pub pause_days: u32,
    /// No second credit within this many days.
    pub credit_days: u32,
}

impl Default for Cooldowns {
    fn default() -> Self {
        Self {
            discount_days: 365,
            pause_days: 180,
            credit_days: 365,
        }
    }
}

/// Visual theme; every value is checked so it can be set as a CSS custom property safely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Theme {
    /// Accent colour (`#rrggbb`).
    pub primary: String,
    /// Dialog background (`#rrggbb`).
    pub background: String,
    /// Body text colour (`#rrggbb`).
    pub text: String,
    /// Font stack: names, spaces, commas, quotes and hyphens only.
    pub font: String,
    /// Corner radius in pixels, 0 to 32.
    pub radius_px: u8,
    /// Light, dark, or follow the system.
    pub mode: ThemeMode,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            primary: "#4f46e5".into(),
            background: "#ffffff".into(),
            text: "#1f2937".into(),
            font: "system-ui, -apple-system, 'Segoe UI', sans-serif".into(),
            radius_px: 12,
            mode: ThemeMode::Auto,
        }
    }
}

/// Colour scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ThemeMode {
    /// Always light.
    Light,
    /// Always dark.
    Dark,
    /// Follow `prefers-color-scheme`.
    Auto,
}

/// Locale default and message overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct LocaleConfig {
    /// Used when neither the customer nor the browser names a supported locale.
    pub default: String,
    /// Per-locale message overrides or additions: `{"en": {"survey.title": "..."}}`.
    pub messages: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for LocaleConfig {
    fn default() -> Self {
        Self {
            default: "en".into(),
            messages: BTreeMap::new(),
        }
    }
}

/// Upgrade prompts: triggers, copy choices and caps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct PromptsConfig {
    /// Whether prompts are on at all.
    pub enabled: bool,
    /// Rate limit over all upgrade nudges; wins over each prompt's own caps.
    pub group_caps: GroupCaps,
    /// Usage-threshold prompts.
    pub usage: UsagePrompt,
    /// Feature-gate prompts.
    pub gate: GatePrompt,
    /// Seat prompts.
    pub seats: SeatsPrompt,
}

impl Default for PromptsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            group_caps: GroupCaps::default(),
            usage: UsagePrompt::default(),
            gate: GatePrompt::default(),
            seats: SeatsPrompt::default(),
        }
    }
}

/// Usage-threshold prompts (50/75/90/100% of a plan limit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct UsagePrompt {
    /// Thresholds in percent that prompt; a subset of 50, 75, 90, 100.
    pub thresholds: Vec<u8>,
    /// Plan to suggest; `None` suggests the next plan up by price.
    pub suggest_plan: Option<String>,
    /// Grace period offered at 100%, in days (0: none).
    pub grace_days: u8,
    /// Caps of this prompt.
    pub caps: PromptCaps,
}

impl Default for UsagePrompt {
    fn default() -> Self {
        Self {
            thresholds: vec![50, 75, 90, 100],
            suggest_plan: None,
            grace_days: 3,
            caps: PromptCaps::default(),
        }
    }
}

/// Feature-gate prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct GatePrompt {
    /// Prompt from this hit on (the first hits may be curiosity).
    pub hits_before_prompt: u32,
    /// Length of the "try it free" trial, in days.
    pub trial_days: u8,
}

impl Default for GatePrompt {
    fn default() -> Self {
        Self {
            hits_before_prompt: 3,
            trial_days: 7,
        }
    }
}

/// Seat prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct SeatsPrompt {
    /// Suggest the team plan at this share of seats used, in percent.
    pub at_percent: u8,
    /// Or after this many teammates invited.
    pub invites: u32,
    /// The plan to suggest.
    pub suggest_plan: Option<String>,
    /// Caps of this prompt.
    pub caps: PromptCaps,
}

impl Default for SeatsPrompt {
    fn default() -> Self {
        Self {
            at_percent: 80,
            invites: 3,
            suggest_plan: Some("team".into()),
            caps: PromptCaps::default(),
        }
    }
}

impl AppConfig {
    /// The offer with this id.
    pub fn offer(&self, id: &str) -> Option<&Offer> {
        self.offers.iter().find(|o| o.id == id)
    }

    /// The plan with this id.
    pub fn plan(&self, id: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }

    /// The reason with this id.
    pub fn reason(&self, id: &str) -> Option<&Reason> {
        self.reasons.iter().find(|r| r.id == id)
    }

    /// Every problem and warning at once, each with its field path.
    pub fn validate(&self) -> Validation {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let e = &mut errors;

        if self.schema != SCHEMA {
            e.push(Problem::new(
                "schema",
                format!("{} is not supported (expected {SCHEMA})", self.schema),
            ));
        }

        // Reasons.
        if self.reasons.is_empty() {
            e.push(Problem::new("reasons", "must list at least one reason"));
        }
        if self.reasons.len() > 12 {
            e.push(Problem::new(
                "reasons",
                format!(
                    "{} reasons is more than 12: a survey is one quick question",
                    self.reasons.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, r) in self.reasons.iter().enumerate() {
            check_id(&format!("reasons[{i}].id"), &r.id, &mut seen, e);
            if let Some(label) = &r.label {
                check_text(&format!("reasons[{i}].label"), label, 120, e);
            }
        }

        // Plans.
        let mut seen = BTreeSet::new();
        for (i, p) in self.plans.iter().enumerate() {
            check_id(&format!("plans[{i}].id"), &p.id, &mut seen, e);
            check_text(&format!("plans[{i}].name"), &p.name, 60, e);
            if p.price_cents < 0 {
                e.push(Problem::new(
                    format!("plans[{i}].price_cents"),
                    "must not be negative",
                ));
            }
            if p.currency.len() != 3 || !p.currency.bytes().all(|b| b.is_ascii_uppercase()) {
                e.push(Problem::new(
                    format!("plans[{i}].currency"),
                    format!("{:?} is not an ISO 4217 code such as \"USD\"", p.currency),
                ));
            }
        }

        // Offers.
        let mut seen = BTreeSet::new();
        for (i, o) in self.offers.iter().enumerate() {
            check_id(&format!("offers[{i}].id"), &o.id, &mut seen, e);
            o.terms
                .validate(&format!("offers[{i}].terms"), e, &mut warnings);
            if let OfferTerms::Downgrade { to_plan, .. } = &o.terms
                && !self.plans.is_empty()
                && self.plan(to_plan).is_none()
            {
                e.push(Problem::new(
                    format!("offers[{i}].terms.to_plan"),
                    format!("{to_plan:?} is not one of the plans"),
                ));
            }
            if let Some(h) = &o.headline {
                check_text(&format!("offers[{i}].headline"), h, 120, e);
            }
        }

        // Experiments (before rules, which refer to them).
        let mut seen = BTreeSet::new();
        for (i, x) in self.experiments.iter().enumerate() {
            let path = format!("experiments[{i}]");
            if !seen.insert(x.key.as_str()) {
                e.push(Problem::new(
                    format!("{path}.key"),
                    format!("{:?} is used twice", x.key),
                ));
            }
            x.validate(&path, e);
        }

        // Rules.
        let mut seen = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let path = format!("rules[{i}]");
            check_id(&format!("{path}.id"), &rule.id, &mut seen, e);
            for (j, r) in rule.reasons.iter().enumerate() {
                if self.reason(r).is_none() {
                    e.push(Problem::new(
                        format!("{path}.reasons[{j}]"),
                        format!("{r:?} is not one of the reasons"),
                    ));
                }
            }
            for (field, id) in [("offer", &rule.offer), ("fallback", &rule.fallback)] {
                if let Some(id) = id
                    && self.offer(id).is_none()
                {
                    e.push(Problem::new(
                        format!("{path}.{field}"),
                        format!("{id:?} is not one of the offers"),
                    ));
                }
            }
            if rule.offer.is_none() && rule.fallback.is_some() {
                e.push(Problem::new(
                    format!("{path}.fallback"),
                    "a fallback needs a primary offer",
                ));
            }
            for (j, c) in rule.when.iter().enumerate() {
                self.check_condition(&format!("{path}.when[{j}]"), c, e, &mut warnings);
            }
        }

        // Policy.
        if self.policy.enabled.is_empty() {
            e.push(Problem::new(
                "policy.enabled",
                "must enable at least one profile",
            ));
        }
        if !(1..=2).contains(&self.policy.max_offer_screens) {
            e.push(Problem::new(
                "policy.max_offer_screens",
                format!("{} is outside 1 to 2", self.policy.max_offer_screens),
            ));
        }

        // Theme.
        for (field, value) in [
            ("primary", &self.theme.primary),
            ("background", &self.theme.background),
            ("text", &self.theme.text),
        ] {
            if !is_hex_colour(value) {
                e.push(Problem::new(
                    format!("theme.{field}"),
                    format!("{value:?} is not a colour like \"#4f46e5\""),
                ));
            }
        }
        if self.theme.font.is_empty()
            || self.theme.font.len() > 200
            || !self
                .theme
                .font
                .chars()
                .all(|c| c.is_alphanumeric() || " ,'\"-".contains(c))
        {
            e.push(Problem::new(
                "theme.font",
                "must be a font list of names, spaces, commas, quotes and hyphens",
            ));
        }
        if self.theme.radius_px > 32 {
            e.push(Problem::new(
                "theme.radius_px",
                format!("{} is above 32", self.theme.radius_px),
            ));
        }

        // Locale.
        if !is_locale_tag(&self.locale.default) {
            e.push(Problem::new(
                "locale.default",
                format!(
                    "{:?} is not a locale tag such as \"en\" or \"zh-CN\"",
                    self.locale.default
                ),
            ));
        }
        for (tag, messages) in &self.locale.messages {
            if !is_locale_tag(tag) {
                e.push(Problem::new(
                    format!("locale.messages.{tag}"),
                    "is not a locale tag such as \"en\" or \"zh-CN\"",
                ));
            }
            for (key, text) in messages {
                check_text(&format!("locale.messages.{tag}.{key}"), text, 500, e);
            }
        }

        // Prompts.
        let p = &self.prompts;
        p.group_caps.validate("prompts.group_caps", e);
        p.usage.caps.validate("prompts.usage.caps", e);
        p.seats.caps.validate("prompts.seats.caps", e);
        for (i, t) in p.usage.thresholds.iter().enumerate() {
            if ![50, 75, 90, 100].contains(t) {
                e.push(Problem::new(
                    format!("prompts.usage.thresholds[{i}]"),
                    format!("{t} is not one of 50, 75, 90, 100"),
                ));
            }
        }
        for (path, plan) in [
            ("prompts.usage.suggest_plan", &p.usage.suggest_plan),
            ("prompts.seats.suggest_plan", &p.seats.suggest_plan),
        ] {
            if let Some(plan) = plan
                && !self.plans.is_empty()
                && self.plan(plan).is_none()
            {
                e.push(Problem::new(
                    path,
                    format!("{plan:?} is not one of the plans"),
                ));
            }
        }
        if p.usage.grace_days > 30 {
            e.push(Problem::new(
                "prompts.usage.grace_days",
                format!("{} is above 30", p.usage.grace_days),
            ));
        }
        if p.gate.hits_before_prompt == 0 {
            e.push(Problem::new(
                "prompts.gate.hits_before_prompt",
                "must be at least 1",
            ));
        }
        if !(1..=30).contains(&p.gate.trial_days) {
            e.push(Problem::new(
                "prompts.gate.trial_days",
                format!("{} is outside 1 to 30", p.gate.trial_days),
            ));
        }
        if !(1..=100).contains(&p.seats.at_percent) {
            e.push(Problem::new(
                "prompts.seats.at_percent",
                format!("{} is outside 1 to 100", p.seats.at_percent),
            ));
        }

        Validation { errors, warnings }
    }

    fn check_condition(
        &self,
        path: &str,
        c: &Condition,
        e: &mut Vec<Problem>,
        w: &mut Vec<Problem>,
    ) {
        match c {
            Condition::PlanIn(plans) | Condition::PlanNotIn(plans) => {
                if plans.is_empty() {
                    e.push(Problem::new(path, "must list at least one plan"));
                }
                for p in plans {
                    if !self.plans.is_empty() && self.plan(p).is_none() {
                        w.push(Problem::new(path, format!("{p:?} is not one of the plans")));
                    }
                }
            }
            Condition::SegmentIn(segments) => {
                if segments.is_empty() {
                    e.push(Problem::new(path, "must list at least one segment"));
                }
            }
            Condition::MrrCents(cmp) | Condition::TenureDays(cmp) => {
                if !cmp.value.is_finite() {
                    e.push(Problem::new(
                        format!("{path}.value"),
                        "must be a finite number",
                    ));
                }
            }
            Condition::Attribute { name, op, value } => {
                if name.trim().is_empty() {
                    e.push(Problem::new(format!("{path}.name"), "must not be empty"));
                }
                let numeric = matches!(value, AttributeValue::Number(_));
                if !numeric && !matches!(op, Cmp::Eq | Cmp::Ne) {
                    e.push(Problem::new(
                        format!("{path}.op"),
                        "only eq and ne apply to text and flags",
                    ));
                }
            }
            Condition::Variant {
                experiment,
                variant,
            } => match self.experiments.iter().find(|x| &x.key == experiment) {
                None => e.push(Problem::new(
                    format!("{path}.experiment"),
                    format!("{experiment:?} is not one of the experiments"),
                )),
                Some(x) if !x.variants.iter().any(|v| &v.key == variant) => e.push(Problem::new(
                    format!("{path}.variant"),
                    format!("{variant:?} is not a variant of {experiment:?}"),
                )),
                Some(_) => {}
            },
        }
    }
}

/// Ids appear in URLs, events and CSS-free catalog keys: lowercase slugs, unique.
fn check_id<'a>(path: &str, id: &'a str, seen: &mut BTreeSet<&'a str>, e: &mut Vec<Problem>) {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        e.push(Problem::new(
            path,
            format!("{id:?} must be 1 to 64 lowercase letters, digits, '_' or '-'"),
        ));
    } else if !seen.insert(id) {
        e.push(Problem::new(path, format!("{id:?} is used twice")));
    }
}

fn check_text(path: &str, text: &str, max: usize, e: &mut Vec<Problem>) {
    if text.trim().is_empty() {
        e.push(Problem::new(path, "must not be empty"));
    } else if text.chars().count() > max {
        e.push(Problem::new(
            path,
            format!("is longer than {max} characters"),
        ));
    }
}

fn is_hex_colour(s: &str) -> bool {
    let Some(hex) = s.strip_prefix('#') else {
        return false;
    };
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A BCP 47-ish tag: a 2-3 letter language, then optional alphanumeric subtags.
pub fn is_locale_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let lang_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic()));
    lang_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_is_valid_and_warning_free() {
        let v = AppConfig::default().validate();
        assert!(v.errors.is_empty(), "{:?}", v.errors);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    }

    #[test]
    fn the_default_config_round_trips_through_json() {
        let c = AppConfig::default();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<AppConfig>(&json).unwrap(), c);
    }

    #[test]
    fn validation_reports_every_problem_at_once_with_field_paths() {
        let mut c = AppConfig::default();
        c.offers[0].terms = OfferTerms::Discount {
            percent: 60,
            months: 3,
        };
        c.offers[2].terms = OfferTerms::Pause { months: 6 };
        c.rules[1].offer = Some("nope".into());
        c.theme.primary = "red; background: url(x)".into();
        c.policy.max_offer_screens = 3;
        let v = c.validate();
        let paths: Vec<&str> = v.errors.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "offers[0].terms.percent",
                "offers[2].terms.months",
                "rules[1].offer",
                "policy.max_offer_screens",
                "theme.primary"
            ]
        );
        assert_eq!(
            v.errors[0].to_string(),
            "offers[0].terms.percent: 60 is above the 50% limit"
        );
    }

    #[test]
    fn a_discount_between_thirty_and_fifty_percent_is_a_warning_not_an_error() {
        let mut c = AppConfig::default();
        c.offers[0].terms = OfferTerms::Discount {
            percent: 35,
            months: 2,
        };
        let v = c.validate();
        assert!(v.is_ok());
        assert_eq!(v.warnings[0].path, "offers[0].terms.percent");
    }

    #[test]
    fn duplicate_ids_and_dangling_references_are_refused() {
        let mut c = AppConfig::default();
        c.reasons.push(c.reasons[0].clone());
        c.rules[2].reasons.push("bored".into());
        if let OfferTerms::Downgrade { to_plan, .. } = &mut c.offers[1].terms {
            *to_plan = "platinum".into();
        }
        let v = c.validate();
        let paths: Vec<&str> = v.errors.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "reasons[7].id",
                "offers[1].terms.to_plan",
                "rules[2].reasons[1]"
            ]
        );
    }

    #[test]
    fn a_theme_value_that_could_inject_css_is_refused() {
        let mut c = AppConfig::default();
        c.theme.font = "x; } body { display:none".into();
        assert_eq!(c.validate().errors[0].path, "theme.font");
    }

    #[test]
    fn an_unknown_field_in_a_config_is_refused_by_name() {
        let mut v = serde_json::to_value(AppConfig::default()).unwrap();
        v["colour"] = serde_json::json!("blue");
        let err = serde_json::from_value::<AppConfig>(v).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn a_variant_condition_must_name_a_real_experiment() {
        let mut c = AppConfig::default();
        c.rules[1].when.push(Condition::Variant {
            experiment: "ghost".into(),
            variant: "b".into(),
        });
        assert_eq!(c.validate().errors[0].path, "rules[1].when[0].experiment");
    }

    #[test]
    fn locale_tags_are_checked() {
        assert!(is_locale_tag("en"));
        assert!(is_locale_tag("zh-CN"));
        assert!(is_locale_tag("sr-Latn-RS"));
        assert!(!is_locale_tag("english!"));
        assert!(!is_locale_tag(""));
    }
}
