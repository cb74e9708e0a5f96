//! The cancel plan: fetched from the server when the flow opens (`POST .../cancel-plan`), decoded
//! by hand from `JSON.parse` output (serde would cost the bundle several times more), or built in
//! when the server cannot be reached in time, so cancelling never depends on the server.
//!
//! The JSON is what `holdfast_core::plan::CancelPlan` serializes; the browser tests decode plans
//! that core writes, so the two cannot drift.

use holdfast_core::i18n::{DIALOG, Lang};
use holdfast_core::plan::{PlanLink, PlanReason};
use holdfast_core::policy::{PolicyProfile, resolve_profile};
use holdfast_core::screen::OfferCard;
use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};

use crate::js::{field, text};
use crate::text::Texts;

/// One offer, written out by the server.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOffer {
    /// Offer id.
    pub id: String,
    /// Offer kind (`discount`, `pause`, ...).
    pub kind: String,
    /// Headline, then the complete terms (with money and date tokens).
    pub lines: Vec<String>,
    /// A link-type offer's destination and label.
    pub link: Option<PlanLink>,
    /// The terms as JSON, handed to the host's `onOutcome`.
    pub terms: String,
}

/// What one session's dialog shows.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Strings, language and currency.
    pub texts: Texts,
    /// The policy profile.
    pub profile: PolicyProfile,
    /// The app's offer-screen setting.
    pub max_offer_screens: u8,
    /// The dialog element's class.
    pub class: String,
    /// Theme custom properties.
    pub style: String,
    /// Survey reasons.
    pub reasons: Vec<PlanReason>,
    /// The customer's plan name, for receipts.
    pub plan_name: String,
    /// Offers per reason (`None`: no reason given).
    pub offers: Vec<(Option<String>, Vec<PlanOffer>)>,
    /// Built in because the server did not answer: no offers.
    pub offline: bool,
}

impl PlanOffer {
    /// The offer as core's screen description borrows it.
    pub fn card(&self) -> OfferCard<'_> {
        OfferCard {
            id: &self.id,
            kind: &self.kind,
            lines: &self.lines,
            link: self.link.as_ref(),
        }
    }
}

impl Plan {
    /// Moves out the offers a reason leads to, in screen order (core's `CancelPlan::offers_for`):
    /// a session picks its reason once, so its plan never needs them again.
    pub fn take_offers(&mut self, reason: Option<&str>) -> Vec<PlanOffer> {
        self.offers
            .iter_mut()
            .find(|(r, _)| r.as_deref() == reason)
            .map(|(_, o)| std::mem::take(o))
            .unwrap_or_default()
    }
}

fn list(v: &JsValue, key: &str) -> Vec<JsValue> {
    field(v, key)
        .dyn_into::<Array>()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Decodes the server's plan; `None` if anything the dialog needs is missing.
pub fn decode(v: &JsValue) -> Option<Plan> {
    let locale = text(v, "locale")?;
    let zh = locale.to_ascii_lowercase().starts_with("zh");
    let messages = field(v, "messages");
    let overrides = js_sys::Object::keys(messages.dyn_ref::<js_sys::Object>()?)
        .iter()
        .filter_map(|k| {
            let k = k.as_string()?;
            Some((k.clone(), text(&messages, &k)?))
        })
        .collect();
    let theme = field(v, "theme");
    let mut offers = Vec::new();
    for entry in list(v, "offers") {
        let mut written = Vec::new();
        for o in list(&entry, "offers") {
            let link = field(&o, "link");
            written.push(PlanOffer {
                id: text(&o, "id")?,
                kind: text(&o, "kind")?,
                lines: list(&o, "lines")
                    .iter()
                    .filter_map(JsValue::as_string)
                    .collect(),
                link: text(&link, "url")
                    .zip(text(&link, "label"))
                    .map(|(url, label)| PlanLink { url, label }),
                terms: js_sys::JSON::stringify(&field(&o, "terms"))
                    .ok()?
                    .as_string()?,
            });
        }
        offers.push((text(&entry, "reason"), written));
    }
    Some(Plan {
        texts: Texts {
            lang: Lang {
                tag: locale,
                zh,
                rtl: field(v, "rtl").as_bool().unwrap_or(false),
            },
            overrides,
            currency: text(v, "currency")?,
        },
        profile: PolicyProfile::ALL
            .into_iter()
            .find(|p| text(v, "profile").as_deref() == Some(p.as_str()))?,
        max_offer_screens: field(v, "max_offer_screens").as_f64().unwrap_or(1.0) as u8,
        class: text(&theme, "class")?,
        style: text(&theme, "style")?,
        reasons: list(v, "reasons")
            .iter()
            .filter_map(|r| {
                let (id, label) = text(r, "id").zip(text(r, "label"))?;
                Some(PlanReason { id, label })
            })
            .collect(),
        plan_name: text(v, "plan_name")?,
        offers,
        offline: false,
    })
}

/// The built-in reasons, used when the server cannot be reached.
const DEFAULT_REASONS: [&str; 7] = holdfast_core::config::BUILT_IN_REASONS;

/// What the session knows without the server.
#[derive(Debug, Default)]
pub struct Local {
    /// Locales in order of preference (host option, customer, browser).
    pub locales: Vec<String>,
    /// The host's explicit profile.
    pub profile: Option<PolicyProfile>,
    /// The customer's billing country and region.
    pub country: Option<String>,
    /// The customer's billing region (US state).
    pub region: Option<String>,
    /// The browser's country.
    pub browser_country: Option<String>,
    /// The customer's plan id.
    pub plan: String,
    /// The customer's currency.
    pub currency: Option<String>,
}

/// The plan when the server is unreachable: built-in reasons in the session's language, no offers
/// (straight to the confirmation), the profile resolved among all profiles.
pub fn offline(local: &Local) -> Plan {
    let lang = Lang::resolve(&local.locales, std::iter::empty());
    let reasons = DEFAULT_REASONS
        .iter()
        .map(|id| {
            let key = ["reason.", id].concat();
            let label = lang.builtin(DIALOG, &key).unwrap_or(id).to_string();
            PlanReason {
                id: id.to_string(),
                label,
            }
        })
        .collect();
    Plan {
        profile: local.profile.unwrap_or_else(|| {
            resolve_profile(
                local.country.as_deref(),
                local.region.as_deref(),
                local.browser_country.as_deref(),
                &PolicyProfile::ALL,
            )
        }),
        texts: Texts {
            lang,
            overrides: Vec::new(),
            currency: local.currency.clone().unwrap_or_else(|| "USD".into()),
        },
        max_offer_screens: 1,
        class: "hf-dialog hf-auto".into(),
        style: String::new(),
        reasons,
        plan_name: local.plan.clone(),
        offers: Vec::new(),
        offline: true,
    }
}
