//! The cancel flow's server-side steps, shared by the JSON routes and the no-JavaScript page, so
//! both plan, accept and record the same way and route modules never call each other.

use holdfast_core::Customer;
use holdfast_core::offer::OfferKind;
use holdfast_core::plan::{CancelPlan, PlanInput, build};
use holdfast_core::policy::PolicyProfile;
use holdfast_core::targeting::{Redemption, VariantRef};

use crate::AppState;
use crate::apps::LoadedApp;
use crate::customers::VerifiedCustomer;
use crate::error::ApiError;
use crate::keys::Mode;

/// A customer's experiment variants `(experiment, variant, holdout)`: the first recorded exposure
/// wins, so editing an experiment never re-randomises anyone; experiments without one are assigned
/// now and returned apart, for the caller to record when the customer is really exposed.
pub async fn customer_variants(
    state: &AppState,
    app: &LoadedApp,
    mode: Mode,
    customer: &Customer,
) -> Result<(Vec<(String, String, bool)>, Vec<(String, String)>), ApiError> {
    let (app_id, live) = (app.record.id.as_str(), mode.is_live());
    let recorded = state
        .inner
        .storage
        .exposures(app_id, live, &customer.id)
        .await?;
    let mut variants = Vec::new();
    let mut first_exposures = Vec::new();
    for experiment in app.config.experiments.iter().filter(|e| e.active) {
        let sticky = recorded
            .iter()
            .find(|(e, _)| *e == experiment.key)
            .and_then(|(_, v)| experiment.variants.iter().find(|x| x.key == *v));
        let variant = match sticky {
            Some(v) => v,
            None => match holdfast_core::assignment::assign(experiment, &customer.id) {
                Some(a) => {
                    first_exposures.push((experiment.key.clone(), a.variant.key.clone()));
                    a.variant
                }
                None => continue,
            },
        };
        variants.push((experiment.key.clone(), variant.key.clone(), variant.holdout));
    }
    Ok((variants, first_exposures))
}

/// Borrowed views of [`customer_variants`] for core's offer context.
pub fn variant_refs(variants: &[(String, String, bool)]) -> Vec<VariantRef<'_>> {
    variants
        .iter()
        .map(|(e, v, holdout)| VariantRef {
            experiment: e,
            variant: v,
            holdout: *holdout,
        })
        .collect()
}

/// The customer's earlier redemptions, for the offer cooldowns.
pub async fn customer_ledger(
    state: &AppState,
    app: &LoadedApp,
    mode: Mode,
    customer: &Customer,
) -> Result<Vec<Redemption>, ApiError> {
    Ok(state
        .inner
        .storage
        .ledger(&app.record.id, mode.is_live(), &customer.id)
        .await?
        .into_iter()
        .filter_map(|(kind, at)| {
            let kind: OfferKind = serde_json::from_value(serde_json::Value::String(kind)).ok()?;
            Some(Redemption { kind, at })
        })
        .collect())
}

/// The plan for one session, from the customer's sticky variants and redemption ledger: what
/// this route answers and what the no-JavaScript page renders.
pub async fn write_plan(
    state: &AppState,
    app: &LoadedApp,
    verified: &VerifiedCustomer,
    locales: &[String],
    profile: Option<PolicyProfile>,
    browser_country: Option<&str>,
) -> Result<CancelPlan, ApiError> {
    let (customer, mode) = (&verified.customer, verified.mode);
    let (variants, _) = customer_variants(state, app, mode, customer).await?;
    let ledger = customer_ledger(state, app, mode, customer).await?;
    let refs = variant_refs(&variants);
    Ok(build(
        &app.config,
        &PlanInput {
            customer,
            locales,
            profile,
            browser_country,
            variants: &refs,
            ledger: &ledger,
            now: crate::clock::now(),
        },
    ))
}
