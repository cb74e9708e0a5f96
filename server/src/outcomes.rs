//! How widget events and acceptances become session facts: the per-session aggregate that stats
//! read. The server computes everything a breakdown needs (tenure band, week, variant, offer kind
//! and cost) here, at ingest, from the customer and the app's config.

use holdfast_core::Customer;
use holdfast_core::assignment::assign;
use holdfast_core::calendar::week_of;
use holdfast_core::config::AppConfig;
use holdfast_core::offer::Offer;

use crate::storage::SessionFacts;

/// Tenure bands for breakdowns: the first month, the first quarter, the first year, beyond.
pub fn tenure_band(customer: &Customer, now: i64) -> &'static str {
    match customer.tenure_days(now) {
        0..30 => "0-30d",
        30..90 => "30-90d",
        90..365 => "90-365d",
        _ => "365d+",
    }
}

/// The customer's variant in every active experiment of the config, `(experiment, variant)`,
/// computed with core's deterministic assignment.
pub fn assigned_variants(config: &AppConfig, customer_id: &str) -> Vec<(String, String)> {
    config
        .experiments
        .iter()
        .filter_map(|e| assign(e, customer_id).map(|a| (e.key.clone(), a.variant.key.clone())))
        .collect()
}

/// The label of the customer's first experiment variant, for the variant breakdown.
pub fn variant_label(variants: &[(String, String)]) -> Option<String> {
    variants.first().map(|(e, v)| format!("{e}:{v}"))
}

/// The facts every cancel-flow event contributes: who, when, and on which plan.
pub fn base_facts(customer: &Customer, variants: &[(String, String)], at: i64) -> SessionFacts {
    SessionFacts {
        customer_id: customer.id.clone(),
        started_at: at,
        week: week_of(at),
        plan: customer.plan.clone(),
        mrr_cents: customer.mrr_cents,
        tenure_band: tenure_band(customer, at).to_string(),
        variant: variant_label(variants),
        ..SessionFacts::default()
    }
}

/// Adds an offer (shown or accepted) to the facts, with its kind and its cost for this customer.
pub fn with_offer(
    mut facts: SessionFacts,
    config: &AppConfig,
    offer: &Offer,
    customer: &Customer,
) -> SessionFacts {
    let target_price = match &offer.terms {
        holdfast_core::offer::OfferTerms::Downgrade { to_plan, .. } => {
            config.plan(to_plan).map(|p| p.price_cents)
        }
        _ => None,
    };
    facts.offer_id = Some(offer.id.clone());
    facts.offer_kind = Some(offer.terms.kind().as_str().to_string());
    facts.offer_cost_cents = offer.terms.cost_cents(customer.mrr_cents, target_price);
    facts.offer_months = match &offer.terms {
        holdfast_core::offer::OfferTerms::Discount { months, .. }
        | holdfast_core::offer::OfferTerms::Pause { months } => i64::from(*months),
        _ => 0,
    };
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use holdfast_core::customer::DAY;

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-22 is a Sunday; its week began on Monday 2026-11-16.
        let sunday = 20_779 * DAY + 3600;
        assert_eq!(week_of(sunday), "2026-11-16");
        assert_eq!(week_of(20_773 * DAY), "2026-11-16");
    }
}
