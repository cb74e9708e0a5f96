//! Reading JSON the browser already parsed (`JSON.parse`, `response.json()`) into core's types by
//! hand.
//!
//! The server's serde types in `holdfast-core` stay the single source of truth; decoding them with
//! serde in the browser would cost the bundle about a third of its size. The browser tests decode
//! what serde emits for the default config and for a config using every variant, so the two can
//! never drift. Every error names the field path, for a clear console message.

use std::collections::BTreeMap;

use holdfast_core::assignment::{Experiment, Variant};
use holdfast_core::caps::{GroupCaps, PromptCaps, Window};
use holdfast_core::config::{
    AppConfig, Audience, Cmp, Comparison, Condition, GatePrompt, LocaleConfig, Plan, PolicyConfig,
    PromptsConfig, Reason, Rule, SeatsPrompt, Theme, ThemeMode, UsagePrompt,
};
use holdfast_core::offer::{Offer, OfferTerms};
use holdfast_core::policy::PolicyProfile;
use holdfast_core::{AttributeValue, Customer};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// A value that is not what the contract says, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// Path such as `customer.mrr_cents` or `offers[2].terms.type`.
    pub path: String,
    /// What was expected.
    pub expected: &'static str,
}

impl DecodeError {
    /// `customer.plan: expected a string`.
    pub fn message(&self) -> String {
        [self.path.as_str(), ": expected ", self.expected].concat()
    }
}

type R<T> = Result<T, DecodeError>;

fn err<T>(path: &str, expected: &'static str) -> R<T> {
    Err(DecodeError {
        path: path.to_string(),
        expected,
    })
}

fn sub(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        [path, ".", key].concat()
    }
}

fn idx(path: &str, i: usize) -> String {
    [path, "[", &i.to_string(), "]"].concat()
}

/// A field of an object (`undefined` when the value is not an object or lacks it).
pub fn field(v: &JsValue, key: &str) -> JsValue {
    if v.is_object() {
        Reflect::get(v, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

fn string(v: &JsValue, path: &str) -> R<String> {
    v.as_string().map_or_else(|| err(path, "a string"), Ok)
}

fn non_empty(v: &JsValue, path: &str) -> R<String> {
    match v.as_string() {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => err(path, "a non-empty string"),
    }
}

fn opt_string(v: &JsValue, path: &str) -> R<Option<String>> {
    if absent(v) {
        Ok(None)
    } else {
        string(v, path).map(Some)
    }
}

fn number(v: &JsValue, path: &str) -> R<f64> {
    match v.as_f64() {
        Some(n) if n.is_finite() => Ok(n),
        _ => err(path, "a number"),
    }
}

fn int(v: &JsValue, path: &str, min: f64, max: f64) -> R<i64> {
    let n = number(v, path)?;
    if n.fract() != 0.0 || n < min || n > max {
        return err(path, "a whole number in range");
    }
    Ok(n as i64)
}

fn small<T: TryFrom<i64>>(v: &JsValue, path: &str) -> R<T> {
    let n = int(v, path, 0.0, 4_294_967_295.0)?;
    T::try_from(n).map_or_else(|_| err(path, "a smaller whole number"), Ok)
}

fn opt_small<T: TryFrom<i64>>(v: &JsValue, path: &str) -> R<Option<T>> {
    if absent(v) {
        Ok(None)
    } else {
        small(v, path).map(Some)
    }
}

fn boolean(v: &JsValue, path: &str, default: bool) -> R<bool> {
    if absent(v) {
        return Ok(default);
    }
    v.as_bool().map_or_else(|| err(path, "true or false"), Ok)
}

/// The elements of an array field (empty when absent).
pub fn list(v: &JsValue, path: &str) -> R<Vec<JsValue>> {
    if absent(v) {
        return Ok(Vec::new());
    }
    if !Array::is_array(v) {
        return err(path, "an array");
    }
    Ok(Array::from(v).iter().collect())
}

fn strings(v: &JsValue, path: &str) -> R<Vec<String>> {
    list(v, path)?
        .iter()
        .enumerate()
        .map(|(i, s)| string(s, &idx(path, i)))
        .collect()
}

fn each<T>(v: &JsValue, path: &str, f: impl Fn(&JsValue, &str) -> R<T>) -> R<Vec<T>> {
    list(v, path)?
        .iter()
        .enumerate()
        .map(|(i, x)| f(x, &idx(path, i)))
        .collect()
}

fn entries(v: &JsValue) -> Vec<(String, JsValue)> {
    if !v.is_object() {
        return Vec::new();
    }
    Object::entries(v.unchecked_ref())
        .iter()
        .filter_map(|pair| {
            let pair: Array = pair.unchecked_into();
            Some((pair.get(0).as_string()?, pair.get(1)))
        })
        .collect()
}

/// The customer the host passes to `Holdfast.cancel/usage/gate`, checked by
/// [`crate::customer::accept`] (`created_at` is Unix seconds or an ISO 8601 date string), and
/// what to send for it (the token, or the normalised object).
pub fn customer(v: &JsValue, path: &str) -> Result<(Customer, JsValue), String> {
    let subject = crate::customer::accept(v, path)?;
    let wire = subject.wire;
    let c: JsValue = subject.view.into();
    let text = |k: &str| field(&c, k).as_string();
    let number = |k: &str| field(&c, k).as_f64();
    let count = |k: &str| number(k).map(|n| n as u32);
    let mut attributes = BTreeMap::new();
    for (k, a) in entries(&field(&c, "attributes")) {
        let value = if let Some(b) = a.as_bool() {
            AttributeValue::Bool(b)
        } else if let Some(n) = a.as_f64() {
            AttributeValue::Number(n)
        } else {
            AttributeValue::Text(a.as_string().unwrap_or_default())
        };
        attributes.insert(k, value);
    }
    Ok((
        Customer {
            id: text("id").unwrap_or_default(),
            plan: text("plan").unwrap_or_default(),
            mrr_cents: number("mrr_cents").unwrap_or_default() as i64,
            created_at: number("created_at").unwrap_or_default() as i64,
            seats_used: count("seats_used"),
            seats_limit: count("seats_limit"),
            country: text("country"),
            region: text("region"),
            locale: text("locale"),
            currency: text("currency"),
            segment: text("segment"),
            discounted: field(&c, "discounted").as_bool().unwrap_or(false),
            attributes,
        },
        wire,
    ))
}

/// The customer as the server's `Customer` type expects it (normalised, no unknown fields).
pub fn customer_to_js(c: &Customer) -> JsValue {
    let o = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &k.into(), &v);
    };
    set("id", c.id.as_str().into());
    set("plan", c.plan.as_str().into());
    set("mrr_cents", (c.mrr_cents as f64).into());
    set("created_at", (c.created_at as f64).into());
    if c.discounted {
        set("discounted", true.into());
    }
    for (k, v) in [
        ("country", &c.country),
        ("region", &c.region),
        ("locale", &c.locale),
        ("currency", &c.currency),
        ("segment", &c.segment),
    ] {
        if let Some(v) = v {
            set(k, v.as_str().into());
        }
    }
    for (k, v) in [("seats_used", c.seats_used), ("seats_limit", c.seats_limit)] {
        if let Some(v) = v {
            set(k, v.into());
        }
    }
    if !c.attributes.is_empty() {
        let a = Object::new();
        for (k, v) in &c.attributes {
            let v = match v {
                AttributeValue::Bool(b) => JsValue::from(*b),
                AttributeValue::Number(n) => JsValue::from(*n),
                AttributeValue::Text(s) => JsValue::from(s.as_str()),
            };
            let _ = Reflect::set(&a, &k.as_str().into(), &v);
        }
        set("attributes", a.into());
    }
    o.into()
}

/// A policy profile by its config name.
pub fn profile(v: &JsValue, path: &str) -> R<PolicyProfile> {
    let name = string(v, path)?;
    PolicyProfile::ALL
        .into_iter()
        .find(|p| p.as_str() == name)
        .map_or_else(
            || err(path, "standard, california, minnesota, germany or france"),
            Ok,
        )
}

fn offer_terms(v: &JsValue, path: &str) -> R<OfferTerms> {
    let f = |k: &str| field(v, k);
    let p = |k: &str| sub(path, k);
    let url = |k: &str| non_empty(&f(k), &p(k));
    Ok(match string(&f("type"), &p("type"))?.as_str() {
        "discount" => OfferTerms::Discount {
            percent: small(&f("percent"), &p("percent"))?,
            months: small(&f("months"), &p("months"))?,
        },
        "pause" => OfferTerms::Pause {
            months: small(&f("months"), &p("months"))?,
        },
        "downgrade" => OfferTerms::Downgrade {
            to_plan: non_empty(&f("to_plan"), &p("to_plan"))?,
            keep: strings(&f("keep"), &p("keep"))?,
            lose: strings(&f("lose"), &p("lose"))?,
        },
        "trial_extension" => OfferTerms::TrialExtension {
            days: small(&f("days"), &p("days"))?,
        },
        "credit" => OfferTerms::Credit {
            amount_cents: int(&f("amount_cents"), &p("amount_cents"), 0.0, 1e13)?,
        },
        "support" => OfferTerms::Support { url: url("url")? },
        "call" => OfferTerms::Call {
            booking_url: url("booking_url")?,
        },
        "roadmap" => OfferTerms::Roadmap { url: url("url")? },
        "link" => OfferTerms::Link {
            url: url("url")?,
            label: non_empty(&f("label"), &p("label"))?,
        },
        _ => return err(&p("type"), "one of the nine offer types"),
    })
}

fn cmp(v: &JsValue, path: &str) -> R<Cmp> {
    Ok(match string(v, path)?.as_str() {
        "eq" => Cmp::Eq,
        "ne" => Cmp::Ne,
        "lt" => Cmp::Lt,
        "lte" => Cmp::Lte,
        "gt" => Cmp::Gt,
        "gte" => Cmp::Gte,
        _ => return err(path, "eq, ne, lt, lte, gt or gte"),
    })
}

fn comparison(v: &JsValue, path: &str) -> R<Comparison> {
    Ok(Comparison {
        op: cmp(&field(v, "op"), &sub(path, "op"))?,
        value: number(&field(v, "value"), &sub(path, "value"))?,
    })
}

fn condition(v: &JsValue, path: &str) -> R<Condition> {
    let Some((key, inner)) = entries(v).into_iter().next() else {
        return err(path, "a condition object");
    };
    let p = sub(path, &key);
    Ok(match key.as_str() {
        "plan_in" => Condition::PlanIn(strings(&inner, &p)?),
        "plan_not_in" => Condition::PlanNotIn(strings(&inner, &p)?),
        "segment_in" => Condition::SegmentIn(strings(&inner, &p)?),
        "mrr_cents" => Condition::MrrCents(comparison(&inner, &p)?),
        "tenure_days" => Condition::TenureDays(comparison(&inner, &p)?),
        "attribute" => {
            let value = field(&inner, "value");
            let value = if let Some(b) = value.as_bool() {
                AttributeValue::Bool(b)
            } else if let Some(n) = value.as_f64() {
                AttributeValue::Number(n)
            } else {
                AttributeValue::Text(string(&value, &sub(&p, "value"))?)
            };
            Condition::Attribute {
                name: string(&field(&inner, "name"), &sub(&p, "name"))?,
                op: cmp(&field(&inner, "op"), &sub(&p, "op"))?,
                value,
            }
        }
        "variant" => Condition::Variant {
            experiment: string(&field(&inner, "experiment"), &sub(&p, "experiment"))?,
            variant: string(&field(&inner, "variant"), &sub(&p, "variant"))?,
        },
        _ => return err(path, "a known condition"),
    })
}

/// `v` decoded by `f`, or `default` when the field is absent (serde's `#[serde(default)]`).
fn or<T>(v: &JsValue, default: T, f: impl FnOnce(&JsValue) -> R<T>) -> R<T> {
    if absent(v) { Ok(default) } else { f(v) }
}

fn windows(v: &JsValue, path: &str) -> R<Vec<Window>> {
    each(v, path, |w, p| {
        Ok(Window {
            cap: small(&field(w, "cap"), &sub(p, "cap"))?,
            period_days: small(&field(w, "period_days"), &sub(p, "period_days"))?,
        })
    })
}

fn prompt_caps(v: &JsValue, path: &str) -> R<PromptCaps> {
    or(v, PromptCaps::default(), |v| {
        Ok(PromptCaps {
            lifetime: opt_small(&field(v, "lifetime"), &sub(path, "lifetime"))?,
            windows: windows(&field(v, "windows"), &sub(path, "windows"))?,
        })
    })
}

fn prompts(v: &JsValue) -> R<PromptsConfig> {
    let d = PromptsConfig::default();
    let f = |k: &str| field(v, k);
    or(v, d.clone(), |v| {
        let (usage, gate, seats) = (f("usage"), f("gate"), f("seats"));
        Ok(PromptsConfig {
            enabled: boolean(&field(v, "enabled"), "prompts.enabled", true)?,
            group_caps: or(&f("group_caps"), d.group_caps.clone(), |g| {
                Ok(GroupCaps {
                    windows: windows(&field(g, "windows"), "prompts.group_caps.windows")?,
                })
            })?,
            usage: or(&usage, d.usage.clone(), |u| {
                Ok(UsagePrompt {
                    thresholds: or(&field(u, "thresholds"), d.usage.thresholds.clone(), |t| {
                        each(t, "prompts.usage.thresholds", small)
                    })?,
                    suggest_plan: opt_string(
                        &field(u, "suggest_plan"),
                        "prompts.usage.suggest_plan",
                    )?,
                    grace_days: or(&field(u, "grace_days"), d.usage.grace_days, |g| {
                        small(g, "prompts.usage.grace_days")
                    })?,
                    caps: prompt_caps(&field(u, "caps"), "prompts.usage.caps")?,
                })
            })?,
            gate: or(&gate, d.gate.clone(), |g| {
                Ok(GatePrompt {
                    hits_before_prompt: or(
                        &field(g, "hits_before_prompt"),
                        d.gate.hits_before_prompt,
                        |h| small(h, "prompts.gate.hits_before_prompt"),
                    )?,
                    trial_days: or(&field(g, "trial_days"), d.gate.trial_days, |t| {
                        small(t, "prompts.gate.trial_days")
                    })?,
                })
            })?,
            seats: or(&seats, d.seats.clone(), |x| {
                Ok(SeatsPrompt {
                    at_percent: or(&field(x, "at_percent"), d.seats.at_percent, |a| {
                        small(a, "prompts.seats.at_percent")
                    })?,
                    invites: or(&field(x, "invites"), d.seats.invites, |a| {
                        small(a, "prompts.seats.invites")
                    })?,
                    suggest_plan: opt_string(
                        &field(x, "suggest_plan"),
                        "prompts.seats.suggest_plan",
                    )?,
                    caps: prompt_caps(&field(x, "caps"), "prompts.seats.caps")?,
                })
            })?,
        })
    })
}

/// The app config as served by `GET /v1/apps/{app}/config`. Parts the cancel flow does not read
/// (prompt caps, cooldowns) keep their defaults here; the server applies the real ones.
pub fn config(v: &JsValue) -> R<AppConfig> {
    let f = |k: &str| field(v, k);
    let policy = f("policy");
    let theme = f("theme");
    let locale = f("locale");
    let defaults = Theme::default();
    let theme_str = |k: &str, d: &str| -> R<String> {
        Ok(opt_string(&field(&theme, k), &sub("theme", k))?.unwrap_or_else(|| d.to_string()))
    };
    let mut messages = BTreeMap::new();
    for (tag, m) in entries(&field(&locale, "messages")) {
        let mut one = BTreeMap::new();
        for (k, s) in entries(&m) {
            one.insert(
                k.clone(),
                string(&s, &["locale.messages.", &tag, ".", &k].concat())?,
            );
        }
        messages.insert(tag, one);
    }
    Ok(AppConfig {
        schema: small(&f("schema"), "schema")?,
        reasons: each(&f("reasons"), "reasons", |r, p| {
            Ok(Reason {
                id: non_empty(&field(r, "id"), &sub(p, "id"))?,
                label: opt_string(&field(r, "label"), &sub(p, "label"))?,
                free_text: boolean(&field(r, "free_text"), &sub(p, "free_text"), false)?,
            })
        })?,
        offers: each(&f("offers"), "offers", |o, p| {
            Ok(Offer {
                id: non_empty(&field(o, "id"), &sub(p, "id"))?,
                terms: offer_terms(&field(o, "terms"), &sub(p, "terms"))?,
                headline: opt_string(&field(o, "headline"), &sub(p, "headline"))?,
            })
        })?,
        rules: each(&f("rules"), "rules", |r, p| {
            Ok(Rule {
                id: non_empty(&field(r, "id"), &sub(p, "id"))?,
                reasons: strings(&field(r, "reasons"), &sub(p, "reasons"))?,
                when: each(&field(r, "when"), &sub(p, "when"), condition)?,
                offer: opt_string(&field(r, "offer"), &sub(p, "offer"))?,
                fallback: opt_string(&field(r, "fallback"), &sub(p, "fallback"))?,
            })
        })?,
        plans: each(&f("plans"), "plans", |o, p| {
            Ok(Plan {
                id: non_empty(&field(o, "id"), &sub(p, "id"))?,
                name: string(&field(o, "name"), &sub(p, "name"))?,
                price_cents: int(&field(o, "price_cents"), &sub(p, "price_cents"), 0.0, 1e13)?,
                currency: opt_string(&field(o, "currency"), &sub(p, "currency"))?
                    .unwrap_or_else(|| "USD".into()),
                features: strings(&field(o, "features"), &sub(p, "features"))?,
            })
        })?,
        policy: if absent(&policy) {
            PolicyConfig::default()
        } else {
            PolicyConfig {
                enabled: each(&field(&policy, "enabled"), "policy.enabled", profile)?,
                max_offer_screens: small(
                    &field(&policy, "max_offer_screens"),
                    "policy.max_offer_screens",
                )?,
                audience: match field(&policy, "audience").as_string().as_deref() {
                    Some("business") => Audience::Business,
                    _ => Audience::Consumer,
                },
            }
        },
        cooldowns: Default::default(),
        theme: Theme {
            primary: theme_str("primary", &defaults.primary)?,
            background: theme_str("background", &defaults.background)?,
            text: theme_str("text", &defaults.text)?,
            font: theme_str("font", &defaults.font)?,
            radius_px: opt_small(&field(&theme, "radius_px"), "theme.radius_px")?
                .unwrap_or(defaults.radius_px),
            mode: match field(&theme, "mode").as_string().as_deref() {
                Some("light") => ThemeMode::Light,
                Some("dark") => ThemeMode::Dark,
                _ => ThemeMode::Auto,
            },
        },
        locale: LocaleConfig {
            default: opt_string(&field(&locale, "default"), "locale.default")?
                .unwrap_or_else(|| "en".into()),
            messages,
        },
        prompts: prompts(&f("prompts"))?,
        experiments: each(&f("experiments"), "experiments", |x, p| {
            Ok(Experiment {
                key: non_empty(&field(x, "key"), &sub(p, "key"))?,
                seed: opt_string(&field(x, "seed"), &sub(p, "seed"))?,
                coverage: if absent(&field(x, "coverage")) {
                    1.0
                } else {
                    number(&field(x, "coverage"), &sub(p, "coverage"))?
                },
                variants: each(&field(x, "variants"), &sub(p, "variants"), |v, p| {
                    Ok(Variant {
                        key: non_empty(&field(v, "key"), &sub(p, "key"))?,
                        weight: number(&field(v, "weight"), &sub(p, "weight"))?,
                        holdout: boolean(&field(v, "holdout"), &sub(p, "holdout"), false)?,
                    })
                })?,
                active: boolean(&field(x, "active"), &sub(p, "active"), true)?,
            })
        })?,
    })
}
