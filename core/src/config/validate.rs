//! [`AppConfig::validate`]: every problem of a config at once, each with its field path.

use std::collections::BTreeSet;

use super::types::{AppConfig, Cmp, Condition, SCHEMA};
use crate::customer::AttributeValue;
use crate::offer::OfferTerms;
use crate::validation::{Problem, Validation, check_id, check_text, is_hex_colour, is_locale_tag};

impl AppConfig {
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
