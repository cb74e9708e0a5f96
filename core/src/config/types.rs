//! The config document and its parts, as stored and as the editor sends them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::assignment::Experiment;
use crate::caps::{GroupCaps, PromptCaps};
use crate::customer::AttributeValue;
use crate::offer::Offer;
use crate::policy::PolicyProfile;

/// The config schema this build reads and writes.
pub const SCHEMA: u32 = 1;

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
}
