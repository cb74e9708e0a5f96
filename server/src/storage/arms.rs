//! The experiments' rollup: what each exposed customer (the unit) contributes to every report
//! metric, summed per `(experiment, variant, hour of first exposure)`, so a report reads rows in
//! proportion to arms times hours instead of exposed customers.
//!
//! A unit's contribution ([`Unit`]) depends only on stored facts: its first exposure, the
//! outcomes Holdfast recorded and the lifecycle events the host reported since then, and its
//! cancel sessions (their MRR, their accepted offers' cost, the variant they were credited to).
//! What depends on the clock (a unit exposed too recently for the metric's window is pending) is
//! decided when the report is read, by [`ArmTotals::add_unit`] and [`ArmTotals::add_hour`]. As for
//! the stats ([`super::rollup`]), every write that can change a unit's contribution (the fold, a
//! recorded outcome, a lifecycle event, a first exposure) reads the contributions of the
//! customers it touches before and after, in its transaction, and adds the difference; a report
//! sums the hours before the metric's cut from the rollup, reads the hour the cut falls in from
//! the facts with the same [`units`] function, and counts later hours as pending. A test reads
//! every report both ways and compares.

use std::collections::{BTreeMap, HashMap, HashSet};

use holdfast_core::customer::DAY;

use super::facts::{ExperimentFacts, ExposedLifecycle, ExposedOutcome, Exposure};
use super::rollup::{
    SessionRow, Sums, bucket_of, cancellation_change, churned_at, lifecycle_change,
};

/// The window of the 30-day metrics.
pub const WINDOW: i64 = 30 * DAY;
/// Revenue is counted from the sessions started this long before the exposure (the session that
/// exposed the customer may have started just before the exposure was recorded).
pub const REVENUE_LOOKBACK: i64 = DAY;

/// What one exposed customer contributes to each metric, from stored facts only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unit {
    /// An offer was accepted (an outcome `saved` recorded) after the exposure.
    pub saved: bool,
    /// Not churned 30 days after the exposure (a churn undone by a later `resumed` or `upgraded`
    /// is no churn).
    pub retained_30d: bool,
    /// Upgraded within 30 days of the exposure.
    pub upgraded_30d: bool,
    /// Revenue kept over the 90 days after the exposure less the accepted offers' cost, in whole
    /// cents.
    pub net_revenue_90d_cents: i64,
    /// A cancel session of the customer was credited to another arm: a multiple exposure.
    pub crossed: bool,
}

/// Sums of [`Unit`]s: one row of the rollup, or an arm's total in a report.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ArmSums {
    /// Exposed customers.
    pub units: i64,
    /// Of them, saved.
    pub saved: i64,
    /// Retained at 30 days.
    pub retained_30d: i64,
    /// Upgraded within 30 days.
    pub upgraded_30d: i64,
    /// Multiple exposures.
    pub crossed: i64,
    /// Sum of net revenue kept over 90 days, cents.
    pub revenue_cents: i64,
    /// Sum of its squares (a float: the squares of a million customers' cents exceed `i64`).
    pub revenue_squares: f64,
}

impl ArmSums {
    /// The column names in the rollup table: [`ArmSums::integers`], then the sum of squares.
    pub const COLUMNS: [&'static str; 7] = [
        "units",
        "saved",
        "retained_30d",
        "upgraded_30d",
        "crossed",
        "revenue_cents",
        "revenue_squares",
    ];

    /// One unit's contribution.
    pub fn of(unit: &Unit) -> Self {
        let revenue = unit.net_revenue_90d_cents;
        Self {
            units: 1,
            saved: i64::from(unit.saved),
            retained_30d: i64::from(unit.retained_30d),
            upgraded_30d: i64::from(unit.upgraded_30d),
            crossed: i64::from(unit.crossed),
            revenue_cents: revenue,
            revenue_squares: (revenue as f64) * (revenue as f64),
        }
    }

    fn combine(&self, other: &Self, sign: i64) -> Self {
        Self {
            units: self.units + sign * other.units,
            saved: self.saved + sign * other.saved,
            retained_30d: self.retained_30d + sign * other.retained_30d,
            upgraded_30d: self.upgraded_30d + sign * other.upgraded_30d,
            crossed: self.crossed + sign * other.crossed,
            revenue_cents: self.revenue_cents + sign * other.revenue_cents,
            revenue_squares: self.revenue_squares + sign as f64 * other.revenue_squares,
        }
    }

    /// Adds `other` to these sums.
    pub fn add(&mut self, other: &Self) {
        *self = self.combine(other, 1);
    }

    /// Whether every sum is zero (nothing to write).
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// The integer sums in [`ArmSums::COLUMNS`] order (the last column is
    /// [`ArmSums::revenue_squares`]).
    pub fn integers(&self) -> [i64; 6] {
        [
            self.units,
            self.saved,
            self.retained_30d,
            self.upgraded_30d,
            self.crossed,
            self.revenue_cents,
        ]
    }

    /// From [`ArmSums::integers`] and the sum of squares.
    pub fn from_parts(a: [i64; 6], revenue_squares: f64) -> Self {
        Self {
            units: a[0],
            saved: a[1],
            retained_30d: a[2],
            upgraded_30d: a[3],
            crossed: a[4],
            revenue_cents: a[5],
            revenue_squares,
        }
    }
}

/// Each first exposure of `facts` (one experiment's) with what it contributes:
/// `(customer, variant, exposed at, unit)`. `facts` must hold every kind of fact
/// (`FactsNeeded::ALL`) for the units to be whole.
pub fn units(facts: &ExperimentFacts) -> Vec<(&str, &str, i64, Unit)> {
    let first: HashMap<&str, i64> = facts
        .exposures
        .iter()
        .map(|e| (e.customer_id.as_str(), e.at))
        .collect();
    let saved: HashSet<&str> = facts
        .outcomes
        .iter()
        .filter(|o| o.outcome == "saved")
        .map(|o| o.customer_id.as_str())
        .collect();
    let upgraded: HashSet<&str> = facts
        .lifecycle
        .iter()
        .filter(|l| l.kind == "upgraded")
        .filter(|l| {
            first
                .get(l.customer_id.as_str())
                .is_some_and(|at| l.at <= at + WINDOW)
        })
        .map(|l| l.customer_id.as_str())
        .collect();
    let crossed: HashSet<&str> = facts.crossed.iter().map(|(c, _)| c.as_str()).collect();
    let money: HashMap<&str, (i64, i64)> = facts
        .revenue
        .iter()
        .map(|(c, mrr, cost)| (c.as_str(), (*mrr, *cost)))
        .collect();
    // Each customer's churn history since exposure, sorted.
    let mut changes: HashMap<&str, Vec<(i64, bool)>> = HashMap::new();
    for o in &facts.outcomes {
        if o.outcome == "cancelled"
            && let Some(change) = cancellation_change(o.effective_date.as_deref(), o.recorded_at)
        {
            changes
                .entry(o.customer_id.as_str())
                .or_default()
                .push(change);
        }
    }
    for l in &facts.lifecycle {
        if let Some(change) = lifecycle_change(&l.kind, l.at) {
            changes
                .entry(l.customer_id.as_str())
                .or_default()
                .push(change);
        }
    }
    for list in changes.values_mut() {
        list.sort_unstable();
    }
    facts
        .exposures
        .iter()
        .map(|e| {
            let customer = e.customer_id.as_str();
            let history = changes.get(customer).map_or(&[][..], Vec::as_slice);
            let churned_30 = churned_at(history, i64::MIN, e.at + WINDOW);
            let horizon = e.at + 3 * WINDOW;
            let end = churned_at(history, i64::MIN, horizon).map_or(horizon, |c| c.min(horizon));
            let (mrr, cost) = money.get(customer).copied().unwrap_or_default();
            let months = (end - e.at).max(0) as f64 / WINDOW as f64;
            let unit = Unit {
                saved: saved.contains(customer),
                retained_30d: churned_30.is_none(),
                upgraded_30d: upgraded.contains(customer),
                net_revenue_90d_cents: (mrr as f64 * months - cost as f64).round() as i64,
                crossed: crossed.contains(customer),
            };
            (customer, e.variant.as_str(), e.at, unit)
        })
        .collect()
}

/// What a report of one metric is computed from: per variant, the sums over the units exposed
/// at or before the metric's cut (`now` less its window), and the units after it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArmTotals {
    /// Per variant, the units counted.
    pub counted: BTreeMap<String, ArmSums>,
    /// Units exposed after the cut: not counted yet.
    pub pending: i64,
    /// Every exposed customer.
    pub exposed: i64,
    /// Of them, multiple exposures.
    pub crossed: i64,
    /// The hour of the first exposure.
    pub first_hour: Option<i64>,
}

impl ArmTotals {
    /// Adds one unit exposed at `at`: counted when `at <= cut`.
    pub fn add_unit(&mut self, variant: &str, at: i64, unit: &Unit, cut: i64) {
        self.add_hour(variant, bucket_of(at), &ArmSums::of(unit), at <= cut);
    }

    /// Adds the sums of the units of one arm exposed in `hour`, all counted or all pending.
    pub fn add_hour(&mut self, variant: &str, hour: i64, sums: &ArmSums, counted: bool) {
        if sums.is_zero() {
            return;
        }
        self.exposed += sums.units;
        self.crossed += sums.crossed;
        if sums.units > 0 {
            self.first_hour = Some(self.first_hour.map_or(hour, |h| h.min(hour)));
        }
        if counted {
            self.counted
                .entry(variant.to_string())
                .or_default()
                .add(sums);
        } else {
            self.pending += sums.units;
        }
    }

    /// The totals of `facts` read at a cut: how the report's cut hour is read, and how tests
    /// read a whole experiment.
    pub fn of_facts(facts: &ExperimentFacts, cut: i64) -> Self {
        let mut totals = Self::default();
        for (_, variant, at, unit) in units(facts) {
            totals.add_unit(variant, at, &unit, cut);
        }
        totals
    }
}

/// A rollup row's key: `(experiment, variant, hour)`.
pub type ArmKey = (String, String, i64);

/// A customer's first exposure as a write reads it: `(customer, experiment, variant, at)`.
pub type ExposureRow = (String, String, String, i64);

/// The contributions of the exposed customers among those a write touches: their first
/// exposures, their recorded outcomes `(customer, outcome, effective date, recorded at)`, their
/// lifecycle events `(customer, kind, at)` and their cancel sessions, each experiment's facts
/// selected as the report's queries select them.
pub fn contributions(
    exposures: &[ExposureRow],
    outcomes: &[(String, String, Option<String>, i64)],
    lifecycle: &[(String, String, i64)],
    sessions: &[SessionRow],
) -> BTreeMap<ArmKey, ArmSums> {
    let mut out: BTreeMap<ArmKey, ArmSums> = BTreeMap::new();
    let mut by_experiment: BTreeMap<&str, Vec<&ExposureRow>> = BTreeMap::new();
    for e in exposures {
        by_experiment.entry(e.1.as_str()).or_default().push(e);
    }
    let mut sessions_of: HashMap<&str, Vec<&SessionRow>> = HashMap::new();
    for s in sessions {
        sessions_of
            .entry(s.customer_id.as_str())
            .or_default()
            .push(s);
    }
    for (experiment, exposed) in by_experiment {
        let at: HashMap<&str, (&str, i64)> = exposed
            .iter()
            .map(|(c, _, v, at)| (c.as_str(), (v.as_str(), *at)))
            .collect();
        let mut facts = ExperimentFacts {
            exposures: exposed
                .iter()
                .map(|(customer_id, _, variant, at)| Exposure {
                    customer_id: customer_id.clone(),
                    variant: variant.clone(),
                    at: *at,
                })
                .collect(),
            ..ExperimentFacts::default()
        };
        for (customer_id, outcome, effective_date, recorded_at) in outcomes {
            if at
                .get(customer_id.as_str())
                .is_some_and(|(_, at)| recorded_at >= at)
            {
                facts.outcomes.push(ExposedOutcome {
                    customer_id: customer_id.clone(),
                    outcome: outcome.clone(),
                    effective_date: effective_date.clone(),
                    recorded_at: *recorded_at,
                });
            }
        }
        for (customer_id, kind, when) in lifecycle {
            if at
                .get(customer_id.as_str())
                .is_some_and(|(_, at)| when >= at)
            {
                facts.lifecycle.push(ExposedLifecycle {
                    customer_id: customer_id.clone(),
                    kind: kind.clone(),
                    at: *when,
                });
            }
        }
        let prefix = format!("{experiment}:");
        for (customer, (variant, exposed_at)) in &at {
            let own = format!("{experiment}:{variant}");
            let mine = sessions_of.get(customer).map_or(&[][..], Vec::as_slice);
            let mut other: Vec<&str> = mine
                .iter()
                .filter_map(|s| s.variant.as_deref())
                .filter(|v| v.starts_with(&prefix) && *v != own)
                .collect();
            other.sort_unstable();
            other.dedup();
            facts.crossed.extend(
                other
                    .into_iter()
                    .map(|v| (customer.to_string(), v.to_string())),
            );
            let since: Vec<&&SessionRow> = mine
                .iter()
                .filter(|s| s.started_at >= exposed_at - REVENUE_LOOKBACK)
                .collect();
            if let Some(mrr) = since.iter().map(|s| s.mrr_cents).max() {
                let cost = since
                    .iter()
                    .filter(|s| s.saved)
                    .map(|s| s.offer_cost_cents)
                    .sum();
                facts.revenue.push((customer.to_string(), mrr, cost));
            }
        }
        for (_, variant, at, unit) in units(&facts) {
            out.entry((experiment.to_string(), variant.to_string(), bucket_of(at)))
                .or_default()
                .add(&ArmSums::of(&unit));
        }
    }
    out
}

impl Sums for ArmSums {
    fn minus(&self, other: &Self) -> Self {
        self.combine(other, -1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::rollup::difference;

    fn session(customer: &str, started_at: i64, variant: &str, saved: bool) -> SessionRow {
        SessionRow {
            session_id: format!("s_{customer}_{started_at}"),
            customer_id: customer.into(),
            started_at,
            week: "w".into(),
            plan: "pro".into(),
            mrr_cents: 4900,
            tenure_band: "0-30d".into(),
            variant: Some(variant.into()),
            reason: Some("too_expensive".into()),
            offer_kind: saved.then(|| "discount".into()),
            offer_cost_cents: if saved { 3675 } else { 0 },
            offer_months: if saved { 3 } else { 0 },
            saved,
            cancelled: !saved,
            abandoned: false,
            interacted: true,
            closed_at: None,
        }
    }

    #[test]
    fn a_write_selects_the_facts_the_report_queries_select() {
        let day = DAY;
        let exposures = vec![
            ("c1".to_string(), "x".to_string(), "a".to_string(), 10 * day),
            (
                "c2".to_string(),
                "x".to_string(),
                "b".to_string(),
                10 * day + 7200,
            ),
        ];
        let outcomes = vec![
            // Before c1's exposure: not the experiment's doing.
            ("c1".to_string(), "saved".to_string(), None, 9 * day),
            ("c2".to_string(), "saved".to_string(), None, 11 * day),
        ];
        let lifecycle = vec![("c1".to_string(), "churned".to_string(), 20 * day)];
        let sessions = vec![
            session("c1", 10 * day, "x:a", false),
            // c2's session credited to the other arm: a multiple exposure.
            session("c2", 11 * day, "x:a", true),
            // Long before: its cost is not the experiment's.
            session("c2", 2 * day, "x:b", true),
        ];
        let rows = contributions(&exposures, &outcomes, &lifecycle, &sessions);
        let a = rows[&("x".to_string(), "a".to_string(), 240)];
        let b = rows[&("x".to_string(), "b".to_string(), 242)];
        assert_eq!((a.units, a.saved, a.retained_30d, a.crossed), (1, 0, 0, 0));
        assert_eq!((b.units, b.saved, b.retained_30d, b.crossed), (1, 1, 1, 1));
        // c1: ten days of 49 dollars; c2: three months less one offer.
        assert_eq!(a.revenue_cents, 1633);
        assert_eq!(b.revenue_cents, 3 * 4900 - 3675);
        let before = rows.clone();
        let mut after = rows;
        after.remove(&("x".to_string(), "a".to_string(), 240));
        let d = difference(&before, &after);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].1.units, -1);
    }
}
