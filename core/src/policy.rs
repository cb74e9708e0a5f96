//! Per-jurisdiction policy profiles: what a cancel flow may and must do for this session.
//!
//! Cancellation law differs by place, and regulators fine flows that make cancelling hard. Rather
//! than a toggle per rule, a session gets one [`PolicyProfile`], resolved from where the customer
//! is ([`resolve_profile`]), and the profile expands into [`PolicyRules`]: plain data that the
//! [`flow`](crate::flow) state machine and the widget read. Keeping the rules as data means the
//! audit record can state exactly which rules a session ran under.
//!
//! Some rules hold for every profile and so are not fields: the "Continue to cancel" control is
//! visible on every step until the cancellation is confirmed, and declining an offer is as easy and
//! as prominent as accepting it.

use serde::{Deserialize, Serialize};

/// The most offer screens any profile allows in one session: a second screen (the fallback after
/// a decline) is the most a growth team may configure before the flow stops being short.
pub const MAX_OFFER_SCREENS: u8 = 2;

/// A jurisdiction's cancellation rules, applied to one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PolicyProfile {
    /// The default: cancel visible everywhere, survey skippable, one offer screen.
    Standard,
    /// California's auto-renewal law: as standard, and any offer sits beside a cancel button.
    California,
    /// Minnesota: no offer until the cancellation is complete; afterwards one may be asked for.
    Minnesota,
    /// Germany's cancellation button (§ 312k BGB): mandatory German labels, only identifying
    /// data asked, and a receipt.
    Germany,
    /// France's three-click rule: mandatory French labels and a summary page to confirm.
    France,
}

impl PolicyProfile {
    /// Every profile, for config validation, admin pickers and exhaustive tests.
    pub const ALL: [Self; 5] = [
        Self::Standard,
        Self::California,
        Self::Minnesota,
        Self::Germany,
        Self::France,
    ];

    /// The stable name used in config, the audit record and the API (same as the serde form).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::California => "california",
            Self::Minnesota => "minnesota",
            Self::Germany => "germany",
            Self::France => "france",
        }
    }

    /// The names every profile is known by, for messages that list them.
    pub const NAMES: &'static str = "standard, california, minnesota, germany or france";

    /// How strict the profile is, higher is stricter; used when a session's place is unknown.
    ///
    /// The order is Minnesota > Germany > France > California > Standard. Minnesota tops it
    /// because it is the strictest rule that reads correctly in any language: no offer at all
    /// before the cancellation. Germany forbids the survey and pre-cancel offers too, but its
    /// mandatory German labels would be wrong for a subscriber of unknown place, so it comes
    /// second. France still allows an offer but adds a summary to confirm; California only asks
    /// for a cancel button beside the offer, which every profile already shows.
    pub const fn strictness(self) -> u8 {
        match self {
            Self::Standard => 0,
            Self::California => 1,
            Self::France => 2,
            Self::Germany => 3,
            Self::Minnesota => 4,
        }
    }

    /// The profile that the law of a billing place calls for, ignoring what the app enabled.
    ///
    /// `country` is ISO 3166-1 alpha-2 and `region` the subdivision (`CA` or `US-CA`), both
    /// case-insensitive. `None` when the place does not say enough: a US place without a state
    /// could be Minnesota or California, so [`resolve_profile`] treats it as unknown within the US.
    pub fn for_place(country: &str, region: Option<&str>) -> Option<Self> {
        let country = country.trim();
        if country.eq_ignore_ascii_case("DE") {
            Some(Self::Germany)
        } else if country.eq_ignore_ascii_case("FR") {
            Some(Self::France)
        } else if country.eq_ignore_ascii_case("US") {
            let region = non_empty(region)?;
            let state = strip_prefix_ignore_case(region, "US-").unwrap_or(region);
            if state.eq_ignore_ascii_case("CA") {
                Some(Self::California)
            } else if state.eq_ignore_ascii_case("MN") {
                Some(Self::Minnesota)
            } else {
                Some(Self::Standard)
            }
        } else {
            Some(Self::Standard)
        }
    }

    /// The rules this profile imposes, given the app's configured number of offer screens.
    ///
    /// The configured number is clamped to [`MAX_OFFER_SCREENS`]; profiles that restrict offers
    /// lower it further, so a config can never loosen the law.
    pub fn rules(self, configured_max_offer_screens: u8) -> PolicyRules {
        let configured = configured_max_offer_screens.min(MAX_OFFER_SCREENS);
        let standard = PolicyRules {
            profile: self,
            labels: MandatoryLabels::NONE,
            survey: SurveyRule::Skippable,
            max_offer_screens: configured,
            offer_timing: OfferTiming::BeforeCancel,
            cancel_beside_offer: false,
            summary_page: false,
            receipt_required: false,
        };
        match self {
            Self::Standard => standard,
            Self::California => PolicyRules {
                cancel_beside_offer: true,
                ..standard
            },
            Self::Minnesota => PolicyRules {
                // Asked for after the cancellation, one offer is the whole answer to the question.
                max_offer_screens: configured.min(1),
                offer_timing: OfferTiming::AfterCancelOnRequest,
                ..standard
            },
            Self::Germany => PolicyRules {
                labels: MandatoryLabels {
                    entry: Some("Verträge hier kündigen"),
                    confirm_button: Some("jetzt kündigen"),
                    summary_confirm: None,
                },
                survey: SurveyRule::NotAsked,
                max_offer_screens: 0,
                offer_timing: OfferTiming::Never,
                receipt_required: true,
                ..standard
            },
            Self::France => PolicyRules {
                labels: MandatoryLabels {
                    entry: Some("résilier votre contrat"),
                    confirm_button: None,
                    summary_confirm: Some("confirmer ma demande de résiliation"),
                },
                summary_page: true,
                ..standard
            },
        }
    }
}

/// A name that is not one of [`PolicyProfile::NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownProfile;

impl std::fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("expected ")?;
        f.write_str(PolicyProfile::NAMES)
    }
}

/// A profile by its stable name ([`PolicyProfile::as_str`]): the one lookup the widget, the
/// cancel page, the audit record and the server's outcome rules share.
impl std::str::FromStr for PolicyProfile {
    type Err = UnknownProfile;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or(UnknownProfile)
    }
}

/// What a profile requires of one session, read by the flow (steps, offers) and the widget
/// (labels, summary, receipt), and recorded in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PolicyRules {
    /// The profile these rules come from, named in the audit record.
    pub profile: PolicyProfile,
    /// Labels the law fixes word for word; they override the app's copy and the catalog.
    pub labels: MandatoryLabels,
    /// Whether the exit survey is shown, and that it can always be skipped when it is.
    pub survey: SurveyRule,
    /// Offer screens allowed in the session, counting before and after the cancellation.
    pub max_offer_screens: u8,
    /// When an offer may appear relative to the cancellation.
    pub offer_timing: OfferTiming,
    /// An offer may only be shown with a cancel button right beside it, not just somewhere on it.
    pub cancel_beside_offer: bool,
    /// The confirmation is a summary page of the request, confirmed with
    /// [`MandatoryLabels::summary_confirm`].
    pub summary_page: bool,
    /// The done step must give a receipt: what was cancelled, when the request was received and
    /// when the contract ends.
    pub receipt_required: bool,
}

/// Wording a jurisdiction prescribes; `None` leaves the app's own copy in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MandatoryLabels {
    /// The entry point that opens the cancel flow (the host's "Cancel subscription" button).
    pub entry: Option<&'static str>,
    /// The button that confirms the cancellation.
    pub confirm_button: Option<&'static str>,
    /// The button on the summary page that confirms the request.
    pub summary_confirm: Option<&'static str>,
}

impl MandatoryLabels {
    /// No prescribed wording: the app's copy and the catalog apply.
    pub const NONE: Self = Self {
        entry: None,
        confirm_button: None,
        summary_confirm: None,
    };
}

/// Whether the exit survey is part of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyRule {
    /// Shown, and skippable: a reason helps the app but is never a price of cancelling.
    Skippable,
    /// Not shown at all, where only identifying data may be asked.
    NotAsked,
}

/// When an offer may be shown relative to the cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferTiming {
    /// Between the survey and the confirmation, the usual save attempt.
    BeforeCancel,
    /// Only once the cancellation is complete, and only if the subscriber says they want one.
    AfterCancelOnRequest,
    /// Never: the flow is the cancellation and nothing else.
    Never,
}

/// The profile for a session: the customer's billing place, else the browser's country, else the
/// strictest enabled profile.
///
/// A profile the app has not enabled is never chosen; the strictest enabled one stands in for it
/// (and [`PolicyProfile::Standard`] when nothing is enabled). A US place without a state picks
/// the strictest enabled US profile, since the subscriber may be in any state.
pub fn resolve_profile(
    customer_country: Option<&str>,
    customer_region: Option<&str>,
    browser_country: Option<&str>,
    enabled: &[PolicyProfile],
) -> PolicyProfile {
    let (country, region) = match non_empty(customer_country) {
        Some(country) => (Some(country), customer_region),
        // The browser reports a country, never the billing state.
        None => (non_empty(browser_country), None),
    };
    let strictest_enabled = |candidates: &[PolicyProfile]| {
        candidates
            .iter()
            .copied()
            .filter(|p| enabled.contains(p))
            .max_by_key(|p| p.strictness())
    };
    let fallback = strictest_enabled(&PolicyProfile::ALL).unwrap_or(PolicyProfile::Standard);
    let Some(country) = country else {
        return fallback;
    };
    match PolicyProfile::for_place(country, region) {
        Some(profile) if enabled.contains(&profile) => profile,
        Some(_) => fallback,
        None => {
            let us = [
                PolicyProfile::Standard,
                PolicyProfile::California,
                PolicyProfile::Minnesota,
            ];
            strictest_enabled(&us).unwrap_or(fallback)
        }
    }
}

/// A present, non-blank value; hosts send `""` as often as they omit a field.
fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// `value` without `prefix`, compared ASCII case-insensitively.
fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    // `get` rather than indexing: no panic path (and its formatting code) in the widget's bundle.
    head.eq_ignore_ascii_case(prefix)
        .then(|| value.get(prefix.len()..))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    use PolicyProfile::{California, France, Germany, Minnesota, Standard};

    fn resolve_all(country: Option<&str>, region: Option<&str>) -> PolicyProfile {
        resolve_profile(country, region, None, &PolicyProfile::ALL)
    }

    #[test]
    fn every_profile_is_found_by_its_name_and_nothing_else_is() {
        for profile in PolicyProfile::ALL {
            assert_eq!(profile.as_str().parse(), Ok(profile));
            assert!(PolicyProfile::NAMES.contains(profile.as_str()));
        }
        assert_eq!("Minnesota".parse::<PolicyProfile>(), Err(UnknownProfile));
        assert_eq!(
            UnknownProfile.to_string(),
            "expected standard, california, minnesota, germany or france"
        );
    }

    #[test]
    fn a_californian_customer_gets_the_california_profile() {
        assert_eq!(resolve_all(Some("US"), Some("CA")), California);
        assert_eq!(resolve_all(Some("us"), Some("us-ca")), California);
    }

    #[test]
    fn a_minnesotan_customer_gets_the_minnesota_profile() {
        assert_eq!(resolve_all(Some("US"), Some("MN")), Minnesota);
        assert_eq!(resolve_all(Some(" us "), Some("US-mn")), Minnesota);
    }

    #[test]
    fn a_customer_in_another_us_state_gets_the_standard_profile() {
        assert_eq!(resolve_all(Some("US"), Some("NY")), Standard);
    }

    #[test]
    fn a_us_customer_without_a_state_gets_the_strictest_enabled_us_profile() {
        assert_eq!(resolve_all(Some("US"), None), Minnesota);
        assert_eq!(
            resolve_profile(Some("US"), Some(""), None, &[Standard, California]),
            California
        );
        assert_eq!(
            resolve_profile(Some("US"), None, None, &[Standard, Germany]),
            Standard
        );
    }

    #[test]
    fn a_german_customer_gets_the_germany_profile() {
        assert_eq!(resolve_all(Some("DE"), None), Germany);
        assert_eq!(resolve_all(Some("de"), Some("BY")), Germany);
    }

    #[test]
    fn a_french_customer_gets_the_france_profile() {
        assert_eq!(resolve_all(Some("FR"), None), France);
        assert_eq!(resolve_all(Some("fr"), None), France);
    }

    #[test]
    fn a_customer_elsewhere_gets_the_standard_profile() {
        assert_eq!(resolve_all(Some("GB"), None), Standard);
        assert_eq!(
            resolve_all(Some("CA"), Some("ON")),
            Standard,
            "Canada is not California"
        );
    }

    #[test]
    fn the_browser_country_is_used_only_when_the_customer_has_none() {
        let all = &PolicyProfile::ALL;
        assert_eq!(resolve_profile(None, None, Some("de"), all), Germany);
        assert_eq!(
            resolve_profile(Some(""), Some("MN"), Some("FR"), all),
            France
        );
        assert_eq!(resolve_profile(Some("GB"), None, Some("DE"), all), Standard);
    }

    #[test]
    fn an_unknown_place_gets_the_strictest_enabled_profile() {
        assert_eq!(
            resolve_profile(None, None, None, &PolicyProfile::ALL),
            Minnesota
        );
        assert_eq!(
            resolve_profile(None, None, Some(" "), &[Standard, France, California]),
            France
        );
    }

    #[test]
    fn a_profile_that_is_not_enabled_is_never_chosen() {
        assert_eq!(
            resolve_profile(Some("DE"), None, None, &[Standard, California]),
            California
        );
        assert_eq!(resolve_profile(Some("GB"), None, None, &[France]), France);
        for country in ["US", "DE", "FR", "GB"] {
            for region in [None, Some("CA"), Some("MN")] {
                for profile in PolicyProfile::ALL {
                    let chosen = resolve_profile(Some(country), region, None, &[profile]);
                    assert_eq!(
                        chosen, profile,
                        "{country} {region:?} with only {profile:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn nothing_enabled_falls_back_to_standard() {
        assert_eq!(resolve_profile(Some("DE"), None, None, &[]), Standard);
        assert_eq!(resolve_profile(None, None, None, &[]), Standard);
    }

    #[test]
    fn strictness_is_a_total_order() {
        let mut levels: Vec<u8> = PolicyProfile::ALL.iter().map(|p| p.strictness()).collect();
        levels.sort_unstable();
        levels.dedup();
        assert_eq!(levels.len(), PolicyProfile::ALL.len());
        assert!(Minnesota.strictness() > Germany.strictness());
        assert!(Germany.strictness() > France.strictness());
        assert!(France.strictness() > California.strictness());
        assert!(California.strictness() > Standard.strictness());
    }

    #[test]
    fn standard_allows_the_configured_offer_screens_up_to_two() {
        assert_eq!(Standard.rules(1).max_offer_screens, 1);
        assert_eq!(Standard.rules(2).max_offer_screens, 2);
        assert_eq!(Standard.rules(9).max_offer_screens, 2);
        assert_eq!(Standard.rules(0).max_offer_screens, 0);
        let rules = Standard.rules(1);
        assert_eq!(rules.survey, SurveyRule::Skippable);
        assert_eq!(rules.offer_timing, OfferTiming::BeforeCancel);
        assert_eq!(rules.labels, MandatoryLabels::NONE);
        assert!(!rules.cancel_beside_offer && !rules.summary_page && !rules.receipt_required);
    }

    #[test]
    fn california_puts_a_cancel_button_beside_every_offer() {
        let rules = California.rules(2);
        assert!(rules.cancel_beside_offer);
        assert_eq!(rules.max_offer_screens, 2);
        assert_eq!(rules.offer_timing, OfferTiming::BeforeCancel);
    }

    #[test]
    fn minnesota_offers_only_after_the_cancellation_and_only_once() {
        let rules = Minnesota.rules(2);
        assert_eq!(rules.offer_timing, OfferTiming::AfterCancelOnRequest);
        assert_eq!(rules.max_offer_screens, 1);
        assert_eq!(rules.survey, SurveyRule::Skippable);
    }

    #[test]
    fn germany_asks_nothing_but_the_cancellation_and_gives_a_receipt() {
        let rules = Germany.rules(2);
        assert_eq!(rules.labels.entry, Some("Verträge hier kündigen"));
        assert_eq!(rules.labels.confirm_button, Some("jetzt kündigen"));
        assert_eq!(rules.survey, SurveyRule::NotAsked);
        assert_eq!(rules.max_offer_screens, 0);
        assert_eq!(rules.offer_timing, OfferTiming::Never);
        assert!(rules.receipt_required);
    }

    #[test]
    fn france_confirms_on_a_summary_page_with_the_prescribed_words() {
        let rules = France.rules(1);
        assert_eq!(rules.labels.entry, Some("résilier votre contrat"));
        assert_eq!(
            rules.labels.summary_confirm,
            Some("confirmer ma demande de résiliation")
        );
        assert!(rules.summary_page);
        assert_eq!(rules.max_offer_screens, 1);
    }

    #[test]
    fn profiles_are_named_the_same_in_serde_and_as_str() {
        for profile in PolicyProfile::ALL {
            let json = serde_json::to_string(&profile).unwrap();
            assert_eq!(json, format!("\"{}\"", profile.as_str()));
            assert_eq!(
                serde_json::from_str::<PolicyProfile>(&json).unwrap(),
                profile
            );
            assert_eq!(profile.rules(1).profile, profile);
        }
    }
}
