//! The cancel flow's server-side steps, shared by the JSON routes and the no-JavaScript page, so
//! both plan, accept and record the same way and route modules never call each other.

use crate::storage::Scope;
use holdfast_core::Customer;
use holdfast_core::calendar::iso_day;
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
    if !app.config.experiments.iter().any(|e| e.active) {
        // Nothing to be exposed to: no read, so a plan costs one query (the ledger).
        return Ok((Vec::new(), Vec::new()));
    }
    state.settle_for(app_id, live, &customer.id).await;
    let recorded = state
        .inner
        .storage
        .exposures(Scope::new(app_id, live), &customer.id)
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
        .ledger(Scope::new(&app.record.id, mode.is_live()), &customer.id)
        .await?)
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

/// A save to record: the acceptance call's fields, checked.
#[derive(Debug, Clone)]
pub struct SaveRequest {
    /// The cancel session (a UUID).
    pub session_id: String,
    /// The idempotency key (a UUID).
    pub event_id: String,
    /// The survey answer.
    pub reason: Option<String>,
    /// The offer accepted.
    pub offer_id: String,
}

/// The answer to an accepted offer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// Always true: refusals are errors.
    pub accepted: bool,
    /// Always `saved`.
    pub outcome: &'static str,
    /// The offer, as in the config (core's `Offer`).
    #[schema(value_type = Object)]
    pub offer: holdfast_core::offer::Offer,
    /// The id of the rule that selected it.
    pub rule: String,
    /// When the server recorded the save, Unix seconds.
    pub received_at: i64,
}

/// Records a save: core re-checks that this customer would be offered this offer for this
/// reason (variants sticky, real ledger), then the save is recorded as the session's outcome,
/// re-checked again against the ledger inside the transaction. Returns the response body (the
/// first one for a retry).
pub async fn record_save(
    state: &AppState,
    app: &LoadedApp,
    verified: &VerifiedCustomer,
    req: &SaveRequest,
) -> Result<String, ApiError> {
    use holdfast_core::targeting::{OfferContext, Refusal, check_acceptance, select_offer};
    let (customer, mode) = (&verified.customer, verified.mode);
    let storage = &state.inner.storage;
    let app_id = app.record.id.as_str();
    if let Some(previous) = storage.acceptance(app_id, &req.event_id).await? {
        return Ok(previous);
    }
    // The ledger is read before the session's outcome: both are written in one transaction, so a
    // save of this session that the ledger shows is always found below, and answered from, rather
    // than counted against itself.
    let ledger = customer_ledger(state, app, mode, customer).await?;
    // The session's outcome may be recorded already (a repeat, or a second tab).
    if let Some(recorded) = storage
        .outcome(Scope::new(app_id, mode.is_live()), &req.session_id)
        .await?
    {
        let same = recorded.outcome == "saved"
            && recorded.offer_id.as_deref() == Some(req.offer_id.as_str())
            && recorded.customer_id == customer.id;
        if same {
            return Ok(recorded.response_json);
        }
        if !(recorded.outcome == "cancelled" && save_after_cancel(recorded.profile.as_deref())) {
            return Err(ApiError::outcome_conflict(outcome_view(&recorded)));
        }
    }
    let now = crate::clock::now();
    let (variants, first_exposures) = customer_variants(state, app, mode, customer).await?;
    let refs = variant_refs(&variants);
    let ctx = OfferContext {
        config: &app.config,
        customer,
        reason: req.reason.as_deref(),
        variants: &refs,
        ledger: &ledger,
        now,
    };
    let refused = |refusal: Refusal| {
        crate::metrics::Metrics::add(&state.inner.metrics.offers_refused, 1);
        let code = match refusal {
            Refusal::Ineligible(_) => "offer_not_eligible",
            Refusal::NoOffer | Refusal::NotSelected => "offer_not_selected",
        };
        ApiError::new(axum::http::StatusCode::FORBIDDEN, code, refusal.to_string())
            .field("offer_id")
    };
    let offer = check_acceptance(&ctx, &req.offer_id).map_err(refused)?;
    let rule = select_offer(&ctx).map_or_else(String::new, |s| s.rule.to_string());
    if !first_exposures.is_empty() {
        storage
            .record_exposures(
                Scope::new(app_id, mode.is_live()),
                &customer.id,
                &first_exposures,
                now,
            )
            .await?;
    }
    let response = serde_json::to_string(&Accepted {
        accepted: true,
        outcome: "saved",
        offer: offer.clone(),
        rule,
        received_at: now,
    })
    .map_err(anyhow::Error::from)?;
    let exposures: Vec<(String, String)> = variants
        .iter()
        .map(|(e, v, _)| (e.clone(), v.clone()))
        .collect();
    let mut session = crate::outcomes::with_offer(
        crate::outcomes::base_facts(customer, &exposures, now),
        &app.config,
        offer,
        customer,
    );
    session.reason.clone_from(&req.reason);
    session.saved = true;
    session.saved_at = Some(now);
    let profile = holdfast_core::plan::session_profile(&app.config, customer, None, None);
    let base = crate::webhooks::session_data(&app.record.id, mode, &customer.id, &req.session_id);
    let accepted = crate::webhooks::message(
        "offer.accepted",
        now,
        offer_data(base.clone(), offer, &req.reason, now),
    );
    let mut revoked_data = base;
    revoked_data["revoked_at"] = now.into();
    let revoked = crate::webhooks::message("subscription.cancel_revoked", now, revoked_data);
    let new = crate::storage::outcomes::NewOutcome {
        webhooks: vec![accepted],
        on_replace: Some(revoked),
        session_id: req.session_id.clone(),
        customer_id: customer.id.clone(),
        outcome: "saved",
        profile: Some(profile.as_str().to_string()),
        reason: req.reason.clone(),
        offer_id: Some(offer.id.clone()),
        offer_json: Some(serde_json::to_string(offer).map_err(anyhow::Error::from)?),
        effective_date: None,
        receipt_json: None,
        at: now,
        response_json: response,
        session,
        redemption: Some((req.event_id.clone(), offer.terms.kind())),
    };
    // Inside the transaction the ledger is read again: a concurrent save may have redeemed.
    let recheck = |ledger: &[Redemption]| -> Result<(), String> {
        let ctx = OfferContext { ledger, ..ctx };
        check_acceptance(&ctx, &req.offer_id)
            .map(|_| ())
            .map_err(|r| r.to_string())
    };
    let policy = crate::storage::outcomes::OutcomePolicy {
        save_after_cancel,
        recheck: Some(&recheck),
    };
    match storage
        .record_outcome(Scope::new(app_id, mode.is_live()), &new, &policy)
        .await?
    {
        crate::storage::outcomes::Recorded::New(body) => {
            crate::metrics::Metrics::add(&state.inner.metrics.offers_accepted, 1);
            Ok(body)
        }
        crate::storage::outcomes::Recorded::Repeat(body) => Ok(body),
        crate::storage::outcomes::Recorded::Conflict(recorded) => {
            Err(ApiError::outcome_conflict(outcome_view(&recorded)))
        }
        crate::storage::outcomes::Recorded::Refused(reason) => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "offer_not_eligible",
            reason,
        )
        .field("offer_id")),
    }
}

/// A cancellation to record.
#[derive(Debug, Clone)]
pub struct CancelRequest {
    /// The cancel session (a UUID).
    pub session_id: String,
    /// The survey answer.
    pub reason: Option<String>,
    /// The profile the host chose for the session, if any.
    pub profile: Option<PolicyProfile>,
    /// Test mode only: when the paid period ends (a token carries it signed).
    pub period_end: Option<i64>,
}

/// The answer to a recorded cancellation.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Cancelled {
    /// Always `cancelled`.
    pub outcome: &'static str,
    /// The session.
    pub session_id: String,
    /// The last day of the subscription (`YYYY-MM-DD`, UTC): the end of the paid period, or
    /// today when none was given.
    pub effective_date: String,
    /// When the server received the cancellation, Unix seconds.
    pub received_at: i64,
    /// The profile the cancellation was made under.
    pub profile: &'static str,
    /// What the receipt says, where the profile requires one (Germany): the plan, when the
    /// request was received and when the contract ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub receipt: Option<serde_json::Value>,
}

/// A cancellation as the server records it: the effective date (from the signed `period_end`,
/// else today), the receipt the profile requires, the answer and the `cancel_confirmed`
/// webhook. Shared by the cancellation call and the confirmation that waited in the outbox.
pub fn cancellation(
    app: &LoadedApp,
    verified: &VerifiedCustomer,
    req: &CancelRequest,
    now: i64,
) -> Result<crate::storage::outcomes::NewOutcome, ApiError> {
    let (customer, mode) = (&verified.customer, verified.mode);
    let profile = holdfast_core::plan::session_profile(&app.config, customer, req.profile, None);
    let period_end = verified.period_end.or(req.period_end);
    let effective_date = iso_day(period_end.filter(|end| *end > now).unwrap_or(now));
    let receipt = profile
        .rules(app.config.policy.max_offer_screens)
        .receipt_required
        .then(|| {
            serde_json::json!({
                "plan": customer.plan,
                "received_at": now,
                "effective_date": effective_date,
            })
        });
    let response = serde_json::to_string(&Cancelled {
        outcome: "cancelled",
        session_id: req.session_id.clone(),
        effective_date: effective_date.clone(),
        received_at: now,
        profile: profile.as_str(),
        receipt: receipt.clone(),
    })
    .map_err(anyhow::Error::from)?;
    let variants = crate::outcomes::assigned_variants(&app.config, &customer.id);
    let mut session = crate::outcomes::base_facts(customer, &variants, now);
    session.reason.clone_from(&req.reason);
    session.cancelled = true;
    let mut data =
        crate::webhooks::session_data(&app.record.id, mode, &customer.id, &req.session_id);
    data["profile"] = profile.as_str().into();
    data["reason"] = req.reason.clone().into();
    data["received_at"] = crate::webhooks::rfc3339(now).into();
    data["effective_date"] = effective_date.clone().into();
    data["receipt"] = receipt.clone().unwrap_or(serde_json::Value::Null);
    let confirmed = crate::webhooks::message("subscription.cancel_confirmed", now, data);
    Ok(crate::storage::outcomes::NewOutcome {
        webhooks: vec![confirmed],
        on_replace: None,
        session_id: req.session_id.clone(),
        customer_id: customer.id.clone(),
        outcome: "cancelled",
        profile: Some(profile.as_str().to_string()),
        reason: req.reason.clone(),
        offer_id: None,
        offer_json: None,
        effective_date: Some(effective_date),
        receipt_json: receipt.map(|r| r.to_string()),
        at: now,
        response_json: response,
        session,
        redemption: None,
    })
}

/// The same cancellation, carried by its event through the ingest log and recorded when folded.
pub fn pending_cancellation(
    app: &LoadedApp,
    verified: &VerifiedCustomer,
    req: &CancelRequest,
    now: i64,
) -> Result<crate::storage::outcomes::PendingOutcome, ApiError> {
    let new = cancellation(app, verified, req, now)?;
    Ok(crate::storage::outcomes::PendingOutcome {
        outcome: new.outcome.to_string(),
        profile: new.profile,
        reason: new.reason,
        effective_date: new.effective_date,
        receipt: new.receipt_json,
        at: new.at,
        response: new.response_json,
        webhook: new.webhooks.into_iter().next().map(|m| (m.kind, m.payload)),
    })
}

/// Records a cancellation as the session's outcome: the server computes the effective date
/// (from the signed `period_end`) and the receipt the profile requires. Idempotent per session; a
/// session already saved answers 409 with that save.
pub async fn record_cancel(
    state: &AppState,
    app: &LoadedApp,
    verified: &VerifiedCustomer,
    req: &CancelRequest,
) -> Result<String, ApiError> {
    let mode = verified.mode;
    let new = cancellation(app, verified, req, crate::clock::now())?;
    let policy = crate::storage::outcomes::OutcomePolicy {
        save_after_cancel,
        recheck: None,
    };
    match state
        .inner
        .storage
        .record_outcome(Scope::new(&app.record.id, mode.is_live()), &new, &policy)
        .await?
    {
        crate::storage::outcomes::Recorded::New(body)
        | crate::storage::outcomes::Recorded::Repeat(body) => Ok(body),
        crate::storage::outcomes::Recorded::Conflict(recorded) => {
            Err(ApiError::outcome_conflict(outcome_view(&recorded)))
        }
        crate::storage::outcomes::Recorded::Refused(reason) => {
            Err(anyhow::anyhow!("a cancellation has no re-check to refuse it: {reason}").into())
        }
    }
}

/// That a session ended without an outcome (the subscriber closed the flow), carried by its
/// event through the ingest log and recorded when folded unless the session has an outcome by
/// then; the host learns it through `flow.abandoned`.
pub fn pending_abandon(
    app: &LoadedApp,
    verified: &VerifiedCustomer,
    session_id: &str,
    now: i64,
) -> crate::storage::outcomes::PendingOutcome {
    let (customer, mode) = (&verified.customer, verified.mode);
    let mut data = crate::webhooks::session_data(&app.record.id, mode, &customer.id, session_id);
    data["closed_at"] = crate::webhooks::rfc3339(now).into();
    data["why"] = "closed".into();
    let message = crate::webhooks::message("flow.abandoned", now, data);
    crate::storage::outcomes::PendingOutcome {
        outcome: "abandoned".into(),
        profile: None,
        reason: None,
        effective_date: None,
        receipt: None,
        at: now,
        response: "{}".into(),
        webhook: Some((message.kind, message.payload)),
    }
}

/// Whether a save may follow a cancellation recorded under `profile`: where core's flow offers
/// after the cancellation (Minnesota), accepting that offer turns the cancellation into a save.
fn save_after_cancel(profile: Option<&str>) -> bool {
    profile
        .and_then(|p| p.parse::<PolicyProfile>().ok())
        .is_some_and(|p| {
            p.rules(2).offer_timing == holdfast_core::policy::OfferTiming::AfterCancelOnRequest
        })
}

/// `offer.accepted`'s data: the offer with its terms exactly as configured, and what they mean in
/// dates (a pause's resume date, a discount's last discounted invoice).
fn offer_data(
    mut data: serde_json::Value,
    offer: &holdfast_core::offer::Offer,
    reason: &Option<String>,
    now: i64,
) -> serde_json::Value {
    use holdfast_core::calendar::add_months;
    use holdfast_core::offer::OfferTerms;
    let mut o = serde_json::json!({
        "id": offer.id,
        "kind": offer.terms.kind().as_str(),
        "terms": serde_json::to_value(&offer.terms).unwrap_or_default(),
    });
    match &offer.terms {
        OfferTerms::Pause { months } => {
            o["resume_date"] = iso_day(add_months(now, u32::from(*months))).into();
        }
        OfferTerms::Discount { months, .. } => {
            let last = add_months(now, u32::from(*months).saturating_sub(1));
            o["last_discounted_invoice"] = iso_day(last).into();
        }
        _ => {}
    }
    data["offer"] = o;
    data["reason"] = reason.clone().into();
    data["accepted_at"] = crate::webhooks::rfc3339(now).into();
    data
}

/// A recorded outcome as the host's backend reads it (and as a 409 shows it).
pub fn outcome_view(o: &crate::storage::outcomes::StoredOutcome) -> serde_json::Value {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
    };
    serde_json::json!({
        "session_id": o.session_id,
        "customer_id": o.customer_id,
        "mode": Mode::from_live(o.live),
        "outcome": o.outcome,
        "profile": o.profile,
        "reason": o.reason,
        "offer": parse(&o.offer_json),
        "effective_date": o.effective_date,
        "receipt": parse(&o.receipt_json),
        "recorded_at": o.recorded_at,
        "updated_at": o.updated_at,
        "history": serde_json::from_str::<serde_json::Value>(&o.history_json).unwrap_or_default(),
    })
}
