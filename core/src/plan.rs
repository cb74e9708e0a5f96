//! The cancel plan: everything one subscriber's cancel dialog shows, decided by the server.
//!
//! The server knows the app's rules, the customer's redemption ledger and their sticky experiment
//! variants, so it selects the offers (for every reason at once) and writes their complete terms in
//! the session's language. The browser then only renders: it never decodes targeting rules, never
//! selects an offer it might not be granted, and its bundle stays small. Money and dates inside the
//! text are tokens ([`crate::i18n::money_token`]) that the widget formats with the browser's
//! `Intl`, so they read as the customer's locale expects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::calendar::add_months;
use crate::config::{AppConfig, Audience, ThemeMode};
use crate::i18n::{DIALOG, Lang, OFFERS, PROMPTS, date_token, fill, money_token};
use crate::offer::{Offer, OfferKind, OfferTerms};
use crate::policy::{PolicyProfile, resolve_profile};
use crate::targeting::{OfferContext, Redemption, VariantRef, select_offer};
use crate::{Customer, UnixSeconds};

/// What the dialog shows for one session; the JSON the widget decodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelPlan {
    /// The session's locale (BCP 47), for `Intl` and the dialog's `lang`.
    pub locale: String,
    /// Right-to-left text.
    pub rtl: bool,
    /// ISO 4217 currency of the money tokens.
    pub currency: String,
    /// The policy profile this session runs under.
    pub profile: PolicyProfile,
    /// The app's setting for profiles that allow a second offer screen.
    pub max_offer_screens: u8,
    /// The dialog's class and theme custom properties.
    pub theme: PlanTheme,
    /// The app's overrides of the dialog's own strings in this locale.
    pub messages: BTreeMap<String, String>,
    /// The survey's reasons, labelled.
    pub reasons: Vec<PlanReason>,
    /// The customer's plan, named for the receipt.
    pub plan_name: String,
    /// The offers for each reason (and for no reason, when the survey is skipped), best first.
    pub offers: Vec<ReasonOffers>,
}

impl CancelPlan {
    /// The offers a reason leads to (`None`: no reason given), in screen order.
    pub fn offers_for(&self, reason: Option<&str>) -> &[PlanOffer] {
        self.offers
            .iter()
            .find(|o| o.reason.as_deref() == reason)
            .map_or(&[], |o| &o.offers)
    }
}

/// Theme values ready for the dialog element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTheme {
    /// `hf-dialog` plus the colour mode's class.
    pub class: String,
    /// CSS custom properties (`--hf-primary:#4f46e5;...`).
    pub style: String,
}

/// One survey answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanReason {
    /// Stable id (events, rules, stats).
    pub id: String,
    /// What the subscriber reads.
    pub label: String,
}

/// The offers a reason leads to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonOffers {
    /// The reason id; `None` when no reason was given.
    pub reason: Option<String>,
    /// At most two, in screen order.
    pub offers: Vec<PlanOffer>,
}

/// One offer, written out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanOffer {
    /// Offer id (acceptance and events name it).
    pub id: String,
    /// Offer kind.
    pub kind: OfferKind,
    /// The headline, then the complete terms.
    pub lines: Vec<String>,
    /// Where a link-type offer leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<PlanLink>,
    /// The terms as data, handed to the host's `onOutcome` when the offer is accepted.
    pub terms: OfferTerms,
}

/// A destination and its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLink {
    /// `https` URL.
    pub url: String,
    /// Link text.
    pub label: String,
}

/// What the server knows about one session when it writes the plan.
#[derive(Debug)]
pub struct PlanInput<'a> {
    /// The subscriber.
    pub customer: &'a Customer,
    /// Locales in order of preference (host option, customer, browser).
    pub locales: &'a [String],
    /// The profile the host asked for, if any.
    pub profile: Option<PolicyProfile>,
    /// The browser's country, the fallback for profile resolution.
    pub browser_country: Option<&'a str>,
    /// The customer's experiment variants.
    pub variants: &'a [VariantRef<'a>],
    /// The customer's redemptions, for cooldowns.
    pub ledger: &'a [Redemption],
    /// When the session opens.
    pub now: UnixSeconds,
}

/// The profile a session runs under: the host's explicit choice, else the standard profile for a
/// business app, else the customer's (or the browser's) place among the app's enabled profiles.
pub fn session_profile(
    config: &AppConfig,
    customer: &Customer,
    explicit: Option<PolicyProfile>,
    browser_country: Option<&str>,
) -> PolicyProfile {
    explicit.unwrap_or_else(|| match config.policy.audience {
        Audience::Business => PolicyProfile::Standard,
        Audience::Consumer => resolve_profile(
            customer.country.as_deref(),
            customer.region.as_deref(),
            browser_country,
            &config.policy.enabled,
        ),
    })
}

/// Why a session ran under its profile, as the audit record states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileBasis {
    /// The app serves businesses: the standard profile applies.
    BusinessAudience,
    /// The customer's billing place (signed in live mode) calls for it.
    BillingPlace,
    /// The host chose it explicitly, over the customer's billing place.
    HostChoice,
    /// Nothing named a place: the strictest enabled profile stands in.
    Default,
    /// No billing place: the browser's country or the host's choice, as the browser reported.
    BrowserCountryOrHostChoice,
}

/// Explains `applied` for this customer: what [`session_profile`] would pick from what the server
/// knows (the customer's billing place, the app's settings), compared with what was applied.
pub fn profile_basis(
    config: &AppConfig,
    customer: &Customer,
    applied: PolicyProfile,
) -> ProfileBasis {
    let derived = session_profile(config, customer, None, None);
    let has_place = customer
        .country
        .as_deref()
        .is_some_and(|c| !c.trim().is_empty());
    match (config.policy.audience, derived == applied, has_place) {
        (Audience::Business, true, _) => ProfileBasis::BusinessAudience,
        (Audience::Consumer, true, true) => ProfileBasis::BillingPlace,
        (Audience::Consumer, true, false) => ProfileBasis::Default,
        (_, false, true) | (Audience::Business, false, false) => ProfileBasis::HostChoice,
        (Audience::Consumer, false, false) => ProfileBasis::BrowserCountryOrHostChoice,
    }
}

/// Writes the plan for one session.
pub fn build(config: &AppConfig, input: &PlanInput<'_>) -> CancelPlan {
    let customer = input.customer;
    let mut wanted = input.locales.to_vec();
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
    let text = Text {
        lang: &lang,
        overrides: &overrides,
    };
    let plan = config.plan(&customer.plan);
    let currency = customer
        .currency
        .clone()
        .or_else(|| plan.map(|p| p.currency.clone()))
        .unwrap_or_else(|| "USD".into());
    let writer = OfferWriter {
        config,
        text: &text,
        price: plan.map_or(customer.mrr_cents, |p| p.price_cents),
        now: input.now,
    };
    let offers_for = |reason: Option<&str>| {
        let ctx = OfferContext {
            config,
            customer,
            reason,
            variants: input.variants,
            ledger: input.ledger,
            now: input.now,
        };
        let offers = select_offer(&ctx)
            .map(|s| {
                s.offers
                    .into_iter()
                    .take(2)
                    .map(|o| writer.write(o))
                    .collect()
            })
            .unwrap_or_default();
        ReasonOffers {
            reason: reason.map(str::to_string),
            offers,
        }
    };
    let mut offers: Vec<ReasonOffers> = config
        .reasons
        .iter()
        .map(|r| offers_for(Some(&r.id)))
        .collect();
    offers.push(offers_for(None));
    let profile = session_profile(config, customer, input.profile, input.browser_country);
    CancelPlan {
        rtl: lang.rtl,
        currency,
        profile,
        max_offer_screens: config.policy.max_offer_screens,
        theme: theme(config),
        messages: overrides
            .iter()
            .filter(|(k, _)| DIALOG.iter().any(|(d, ..)| d == k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        reasons: config
            .reasons
            .iter()
            .map(|r| PlanReason {
                id: r.id.clone(),
                label: r
                    .label
                    .clone()
                    .unwrap_or_else(|| text.get(&["reason.", &r.id].concat())),
            })
            .collect(),
        plan_name: plan.map_or_else(|| customer.plan.clone(), |p| p.name.clone()),
        offers,
        locale: lang.tag.clone(),
    }
}

pub(crate) fn theme(config: &AppConfig) -> PlanTheme {
    let t = &config.theme;
    let mut style = [
        "--hf-primary:",
        &t.primary,
        ";--hf-font:",
        &t.font,
        ";--hf-radius:",
        &t.radius_px.to_string(),
        "px",
    ]
    .concat();
    // In auto mode the stylesheet's light and dark palettes follow the system preference.
    if t.mode != ThemeMode::Auto {
        style.push_str(&[";--hf-bg:", &t.background, ";--hf-text:", &t.text].concat());
    }
    let class = match t.mode {
        ThemeMode::Light => "hf-dialog",
        ThemeMode::Dark => "hf-dialog hf-dark",
        ThemeMode::Auto => "hf-dialog hf-auto",
    };
    PlanTheme {
        class: class.into(),
        style,
    }
}

/// Strings in the session's language: the app's override, else the built-in catalog, else the
/// key itself (visible, so a missing string is noticed rather than blank).
pub(crate) struct Text<'a> {
    pub(crate) lang: &'a Lang,
    pub(crate) overrides: &'a BTreeMap<String, String>,
}

impl Text<'_> {
    fn find(&self, key: &str) -> Option<String> {
        self.overrides.get(key).cloned().or_else(|| {
            [DIALOG, OFFERS, PROMPTS]
                .iter()
                .find_map(|t| self.lang.builtin(t, key))
                .map(str::to_string)
        })
    }

    pub(crate) fn get(&self, key: &str) -> String {
        self.find(key).unwrap_or_else(|| key.to_string())
    }

    pub(crate) fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        fill(&self.get(key), args)
    }

    /// `key.one` or `key.other`, by the language's plural rule.
    pub(crate) fn plural(&self, key: &str, n: u32, args: &[(&str, &str)]) -> String {
        let one = [key, ".one"].concat();
        match self.find(&one).filter(|_| self.lang.is_one(n)) {
            Some(template) => fill(&template, args),
            None => self.fill(&[key, ".other"].concat(), args),
        }
    }
}

struct OfferWriter<'a> {
    config: &'a AppConfig,
    text: &'a Text<'a>,
    /// The customer's monthly price.
    price: i64,
    now: UnixSeconds,
}

impl OfferWriter<'_> {
    /// The headline and complete terms: price during and after a discount, the pause's end date,
    /// what a downgrade keeps and loses.
    fn write(&self, offer: &Offer) -> PlanOffer {
        let m = self.text;
        let price = money_token(self.price);
        let link = |url: &str| {
            Some(PlanLink {
                url: url.to_string(),
                label: m.get("offer.open"),
            })
        };
        let (headline, terms, link) = match &offer.terms {
            OfferTerms::Discount { percent, months } => {
                let (p, n) = (percent.to_string(), months.to_string());
                let discounted = money_token(self.price * i64::from(100 - *percent) / 100);
                let args = [
                    ("percent", p.as_str()),
                    ("months", &n),
                    ("discounted", &discounted),
                    ("price", &price),
                ];
                let months = u32::from(*months);
                (
                    m.plural("offer.discount", months, &args),
                    vec![m.plural("offer.discount.terms", months, &args)],
                    None,
                )
            }
            OfferTerms::Pause { months } => {
                let resumes = date_token(add_months(self.now, u32::from(*months)));
                (
                    m.plural(
                        "offer.pause",
                        u32::from(*months),
                        &[("months", &months.to_string())],
                    ),
                    vec![m.fill(
                        "offer.pause.terms",
                        &[("date", &resumes), ("price", &price)],
                    )],
                    None,
                )
            }
            OfferTerms::Downgrade {
                to_plan,
                keep,
                lose,
            } => {
                let (name, target) = self
                    .config
                    .plan(to_plan)
                    .map_or((to_plan.clone(), 0), |p| (p.name.clone(), p.price_cents));
                let mut terms = Vec::new();
                for (key, list) in [
                    ("offer.downgrade.keep", keep),
                    ("offer.downgrade.lose", lose),
                ] {
                    if !list.is_empty() {
                        terms.push([m.get(key), ": ".into(), list.join(", ")].concat());
                    }
                }
                let price = money_token(target);
                (
                    m.fill("offer.downgrade", &[("plan", &name), ("price", &price)]),
                    terms,
                    None,
                )
            }
            OfferTerms::TrialExtension { days } => (
                m.plural(
                    "offer.trial_extension",
                    u32::from(*days),
                    &[("days", &days.to_string())],
                ),
                vec![],
                None,
            ),
            OfferTerms::Credit { amount_cents } => (
                m.fill("offer.credit", &[("amount", &money_token(*amount_cents))]),
                vec![],
                None,
            ),
            OfferTerms::Support { url } => (m.get("offer.support"), vec![], link(url)),
            OfferTerms::Call { booking_url } => (m.get("offer.call"), vec![], link(booking_url)),
            OfferTerms::Roadmap { url } => (m.get("offer.roadmap"), vec![], link(url)),
            OfferTerms::Link { url, label } => (label.clone(), vec![], link(url)),
        };
        PlanOffer {
            id: offer.id.clone(),
            kind: offer.terms.kind(),
            lines: std::iter::once(offer.headline.clone().unwrap_or(headline))
                .chain(terms)
                .collect(),
            link,
            terms: offer.terms.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(plan: &str, mrr: i64) -> Customer {
        let mut c = Customer::new("cus_1", plan, mrr, 1_700_000_000);
        c.currency = Some("EUR".into());
        c
    }

    #[test]
    fn the_profile_basis_says_what_picked_the_profile() {
        let config = AppConfig::default();
        let mut mn = customer("pro", 4900);
        mn.country = Some("US".into());
        mn.region = Some("MN".into());
        let nowhere = customer("pro", 4900);
        let strictest = session_profile(&config, &nowhere, None, None);
        assert_eq!(
            [
                profile_basis(&config, &mn, PolicyProfile::Minnesota),
                profile_basis(&config, &mn, PolicyProfile::Standard),
                profile_basis(&config, &nowhere, strictest),
                profile_basis(&config, &nowhere, PolicyProfile::Standard),
            ],
            [
                ProfileBasis::BillingPlace,
                ProfileBasis::HostChoice,
                ProfileBasis::Default,
                ProfileBasis::BrowserCountryOrHostChoice,
            ]
        );
        let mut business = config.clone();
        business.policy.audience = Audience::Business;
        assert_eq!(
            profile_basis(&business, &mn, PolicyProfile::Standard),
            ProfileBasis::BusinessAudience
        );
    }

    fn plan_for(config: &AppConfig, customer: &Customer, locales: &[&str]) -> CancelPlan {
        let locales: Vec<String> = locales.iter().map(|s| s.to_string()).collect();
        build(
            config,
            &PlanInput {
                customer,
                locales: &locales,
                profile: None,
                browser_country: None,
                variants: &[],
                ledger: &[],
                now: 1_790_000_000,
            },
        )
    }

    #[test]
    fn the_default_config_offers_a_complete_discount_for_too_expensive() {
        let config = AppConfig::default();
        let c = customer("pro", 4900);
        let plan = plan_for(&config, &c, &["en-GB"]);
        assert_eq!(plan.locale, "en");
        assert_eq!(plan.currency, "EUR");
        assert_eq!(plan.reasons.len(), config.reasons.len());
        assert_eq!(plan.offers.len(), config.reasons.len() + 1);
        let expensive = &plan.offers[0];
        assert_eq!(expensive.reason.as_deref(), Some("too_expensive"));
        assert_eq!(
            plan.offers_for(Some("too_expensive")),
            &expensive.offers[..]
        );
        let offer = &expensive.offers[0];
        assert_eq!(offer.kind, OfferKind::Discount);
        // The terms state the price during and after, as money tokens for the browser's Intl.
        assert!(
            offer.lines[1].contains(&money_token(4900)),
            "{:?}",
            offer.lines
        );
        assert!(offer.lines[1].contains("\u{1}m"), "{:?}", offer.lines);
        assert!(plan.offers.last().is_some_and(|o| o.reason.is_none()));
    }

    #[test]
    fn chinese_and_overrides_reach_the_plan() {
        let mut config = AppConfig::default();
        config.locale.messages.insert(
            "zh-CN".into(),
            [
                ("confirm.title".to_string(), "确认？".to_string()),
                ("offer.pause.terms".to_string(), "{date} 恢复".to_string()),
            ]
            .into_iter()
            .collect(),
        );
        let c = customer("pro", 4900);
        let plan = plan_for(&config, &c, &["zh-CN"]);
        assert_eq!(plan.locale, "zh-CN");
        assert_eq!(
            plan.messages.get("confirm.title").map(String::as_str),
            Some("确认？")
        );
        // Offer strings are written here, so only dialog strings travel as overrides.
        assert!(!plan.messages.contains_key("offer.pause.terms"));
        assert_eq!(plan.reasons[0].label, "价格太高");
    }

    #[test]
    fn a_business_app_is_standard_and_an_explicit_profile_wins() {
        let mut config = AppConfig::default();
        let mut c = customer("pro", 4900);
        c.country = Some("DE".into());
        assert_eq!(
            session_profile(&config, &c, None, None),
            PolicyProfile::Germany
        );
        assert_eq!(
            session_profile(&config, &c, Some(PolicyProfile::France), None),
            PolicyProfile::France
        );
        config.policy.audience = Audience::Business;
        assert_eq!(
            session_profile(&config, &c, None, None),
            PolicyProfile::Standard
        );
    }

    #[test]
    fn the_plan_round_trips_through_json() {
        let config = AppConfig::default();
        let plan = plan_for(&config, &customer("pro", 4900), &["en"]);
        let json = serde_json::to_string(&plan).unwrap();
        assert_eq!(serde_json::from_str::<CancelPlan>(&json).unwrap(), plan);
    }
}
