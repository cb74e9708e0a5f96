use super::*;
use crate::offer::OfferTerms;

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
