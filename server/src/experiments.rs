//! Experiment reports: per-customer metrics of one experiment's arms, analysed by core's
//! statistics engine (`holdfast_core::stats`, cross-checked against GrowthBook's `gbstats`), with
//! the health checks and the verdict a growth team decides on.
//!
//! The unit is the customer, counted in the variant of their first exposure (the sticky one the
//! plans and acceptances use). A metric counts what happened to the customer after that
//! exposure, from the server's own records: outcomes it recorded and lifecycle events the host
//! reported. A customer whose cancel sessions were credited to another arm of the same experiment
//! (the config's weights changed under them) is a multiple exposure: still counted in the first
//! arm, and reported as a health problem above 1%.

use holdfast_core::assignment::Experiment;
use holdfast_core::stats::{AnalysisOptions, ArmData, ArmResult, Metric, analyse, data_progress};
use serde::{Deserialize, Serialize};

use crate::storage::arms::{ArmTotals, WINDOW};
use crate::storage::experiments::{ExperimentFacts, FactsNeeded};
use crate::storage::rollup::BUCKET;
/// Above this share of multiple exposures the experiment is unhealthy.
const MULTIPLE_EXPOSURE_LIMIT: f64 = 0.01;
/// An uplift above +50% is more often a bug than a win.
const SUSPICIOUS_UPLIFT: f64 = 0.5;

/// What a report measures per exposed customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportMetric {
    /// Exposed customers who accepted an offer after their exposure.
    #[default]
    SaveRate,
    /// Exposed customers still subscribed 30 days after their first exposure: not churned by the
    /// effective date of a cancellation Holdfast recorded or a `churned` lifecycle event, unless a
    /// later `resumed` or `upgraded` undid it. Customers exposed less than 30 days ago are pending.
    #[serde(rename = "retained_30d")]
    Retained30d,
    /// Exposed customers who upgraded (a lifecycle event) within 30 days of their first exposure.
    PromptConversion,
    /// Per exposed customer, in cents: the revenue kept over the 90 days after exposure (MRR for
    /// each month still subscribed, churn as for `retained_30d`) less what their accepted offers
    /// cost. A revenue metric (mean and variance): a deep discount that only delays churn loses
    /// to a smaller one that keeps customers. Customers exposed less than 90 days ago are pending.
    #[serde(rename = "net_revenue_90d")]
    NetRevenue90d,
}

impl ReportMetric {
    /// The facts the metric is computed from, beyond exposures.
    pub fn needs(self) -> FactsNeeded {
        match self {
            Self::SaveRate => FactsNeeded {
                outcomes: true,
                lifecycle: false,
                revenue: false,
            },
            Self::Retained30d => FactsNeeded {
                outcomes: true,
                lifecycle: true,
                revenue: false,
            },
            Self::PromptConversion => FactsNeeded {
                outcomes: false,
                lifecycle: true,
                revenue: false,
            },
            Self::NetRevenue90d => FactsNeeded::ALL,
        }
    }

    /// How long after exposure a customer must be before they count (0: at once).
    fn window(self) -> i64 {
        match self {
            Self::SaveRate => 0,
            Self::Retained30d | Self::PromptConversion => WINDOW,
            Self::NetRevenue90d => 3 * WINDOW,
        }
    }

    /// The last exposure time counted at `now`: customers exposed later are pending.
    pub fn cut(self, now: i64) -> i64 {
        now - self.window()
    }
}

/// One arm in the report: core's numbers plus what a holdout comparison adds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ArmReport {
    /// Core's analysis of the arm (`uplift`, `ci`, `p_value`, `chance_to_win`, ...), against the
    /// control, the first arm that is not a holdout.
    #[serde(flatten)]
    pub result: ArmResult,
    /// Units that converted (a rate metric; 0 for a revenue metric).
    pub conversions: u64,
    /// conversions / units, or for a revenue metric the mean per customer in cents.
    pub rate: Option<f64>,
    /// Against the holdout, when the experiment has one: `{ absolute, relative }`.
    pub lift_vs_holdout: Option<Lift>,
}

/// A difference of rates against the holdout.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct Lift {
    /// The rate minus the holdout's.
    pub absolute: f64,
    /// That difference over the holdout's rate (`None` when the holdout's rate is 0).
    pub relative: Option<f64>,
}

/// How the experiment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A treatment beat the control, always-valid sequential test below alpha.
    Won,
    /// The best treatment lost to the control, just as surely.
    Lost,
    /// Enough data and healthy, but no difference is sure yet.
    Inconclusive,
    /// Some arm has not reached the minimum sample.
    NotEnoughData,
    /// The split or the exposures are broken: no number can be trusted.
    Unhealthy,
}

/// The report of one experiment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// The experiment.
    pub key: String,
    /// What was measured.
    pub metric: ReportMetric,
    /// Per variant, in the config's order.
    pub variants: Vec<ArmReport>,
    /// Chi-square p-value of the split against the configured weights.
    pub srm_p_value: Option<f64>,
    /// The split is not the configured one (p < 0.001 once every arm has 8 units).
    pub srm_warning: bool,
    /// Share of exposed customers credited to more than one arm.
    pub multiple_exposure_rate: f64,
    /// Customers exposed too recently for the metric's 30-day window, not counted yet.
    pub pending_units: u64,
    /// Every arm has the minimum sample (150 conversions for a rate metric).
    pub enough_data: bool,
    /// Share of the minimum reached by the furthest-behind arm, 0 to 1.
    pub progress: f64,
    /// When the minimum is expected at the pace so far (Unix seconds), while it is not reached.
    pub estimated_enough_data_at: Option<i64>,
    /// Some arm's uplift is above +50%: check the setup before believing it.
    pub suspicious_uplift: bool,
    /// `won`, `lost`, `inconclusive`, `not_enough_data` or `unhealthy`.
    pub verdict: Verdict,
    /// The verdict in plain words, naming the number that governs it.
    pub verdict_reason: String,
}

/// Computes the report of `experiment` from its facts at `now` (every exposure read; the
/// facts of `metric.needs()` at least).
pub fn report(
    experiment: &Experiment,
    metric: ReportMetric,
    facts: &ExperimentFacts,
    now: i64,
) -> Report {
    report_of(
        experiment,
        metric,
        &ArmTotals::of_facts(facts, metric.cut(now)),
        now,
    )
}

/// Computes the report of `experiment` from its arms' totals at the metric's cut (see
/// [`ReportMetric::cut`]): what the rollup answers, and what [`report`] sums from the facts.
pub fn report_of(
    experiment: &Experiment,
    metric: ReportMetric,
    totals: &ArmTotals,
    now: i64,
) -> Report {
    let options = AnalysisOptions::default();
    let arms: Vec<ArmData> = experiment
        .variants
        .iter()
        .map(|v| {
            let s = totals.counted.get(&v.key).copied().unwrap_or_default();
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            ArmData {
                key: v.key.clone(),
                holdout: v.holdout,
                units: count(s.units),
                metric: match metric {
                    ReportMetric::SaveRate => Metric::Proportion {
                        conversions: count(s.saved),
                    },
                    ReportMetric::Retained30d => Metric::Proportion {
                        conversions: count(s.retained_30d),
                    },
                    ReportMetric::PromptConversion => Metric::Proportion {
                        conversions: count(s.upgraded_30d),
                    },
                    ReportMetric::NetRevenue90d => Metric::Mean {
                        sum: s.revenue_cents as f64,
                        sum_squares: s.revenue_squares,
                    },
                },
            }
        })
        .collect();
    let weights: Vec<f64> = experiment.variants.iter().map(|v| v.weight).collect();
    let mut analysis = analyse(&arms, &weights, &options);
    // The minimum sample is for the arms compared: a holdout sees no offer, so for the save rate
    // it would never reach 150 conversions and hold every verdict back.
    let compared: Vec<ArmData> = arms.iter().filter(|a| !a.holdout).cloned().collect();
    let progress = data_progress(&compared, &options.minimum);
    (analysis.enough_data, analysis.progress) = (progress.enough_data, progress.progress);
    // The rate of a rate metric, the mean (cents per customer) of a revenue metric.
    let rate = |a: &ArmData| match a.metric {
        _ if a.units == 0 => None,
        Metric::Proportion { conversions } => Some(conversions as f64 / a.units as f64),
        Metric::Mean { sum, .. } => Some(sum / a.units as f64),
    };
    let holdout_rate = arms.iter().find(|a| a.holdout).and_then(rate);
    let variants: Vec<ArmReport> = arms
        .iter()
        .zip(analysis.arms)
        .map(|(arm, result)| {
            let r = rate(arm);
            let conversions = match arm.metric {
                Metric::Proportion { conversions } => conversions,
                Metric::Mean { .. } => 0,
            };
            ArmReport {
                lift_vs_holdout: match (r, holdout_rate) {
                    (Some(r), Some(h)) if !arm.holdout => Some(Lift {
                        absolute: r - h,
                        relative: (h > 0.0).then(|| (r - h) / h),
                    }),
                    _ => None,
                },
                result,
                conversions,
                rate: r,
            }
        })
        .collect();
    let multiple_exposure_rate = if totals.exposed > 0 {
        totals.crossed as f64 / totals.exposed as f64
    } else {
        0.0
    };
    // The pace is measured from the hour of the first exposure.
    let started = totals.first_hour.map(|h| h * BUCKET);
    let estimated_enough_data_at = match started {
        Some(start) if !analysis.enough_data && analysis.progress > 0.0 && now > start => {
            Some(start + ((now - start) as f64 / analysis.progress) as i64)
        }
        _ => None,
    };
    let suspicious_uplift = variants
        .iter()
        .any(|v| v.result.uplift.is_some_and(|u| u > SUSPICIOUS_UPLIFT));
    let (verdict, verdict_reason) = verdict(
        &variants,
        analysis.srm_warning,
        analysis.srm_p_value,
        multiple_exposure_rate,
        analysis.enough_data,
        analysis.progress,
        &options,
    );
    Report {
        key: experiment.key.clone(),
        metric,
        variants,
        srm_p_value: analysis.srm_p_value,
        srm_warning: analysis.srm_warning,
        multiple_exposure_rate,
        pending_units: u64::try_from(totals.pending).unwrap_or(0),
        enough_data: analysis.enough_data,
        progress: analysis.progress,
        estimated_enough_data_at,
        suspicious_uplift,
        verdict,
        verdict_reason,
    }
}

/// The verdict and the sentence that explains it: health first, then the minimum sample, then
/// the always-valid sequential test of the best treatment (safe to read at every look).
fn verdict(
    variants: &[ArmReport],
    srm_warning: bool,
    srm_p_value: Option<f64>,
    multiple_exposure_rate: f64,
    enough_data: bool,
    progress: f64,
    options: &AnalysisOptions,
) -> (Verdict, String) {
    if srm_warning {
        return (
            Verdict::Unhealthy,
            format!(
                "The split of customers is not the configured one (sample ratio mismatch, p = {:.2e} < {}): assignment or exposure is broken, so no result can be trusted.",
                srm_p_value.unwrap_or(0.0),
                options.srm_threshold
            ),
        );
    }
    if multiple_exposure_rate > MULTIPLE_EXPOSURE_LIMIT {
        return (
            Verdict::Unhealthy,
            format!(
                "{:.1}% of customers were credited to more than one variant (above 1%): the weights or coverage changed while it ran.",
                multiple_exposure_rate * 100.0
            ),
        );
    }
    if !enough_data {
        return (
            Verdict::NotEnoughData,
            format!(
                "The smallest variant has {:.0}% of the minimum sample ({} conversions per variant); keep it running.",
                progress * 100.0,
                options.minimum.conversions
            ),
        );
    }
    let best = variants
        .iter()
        .filter(|v| !v.result.holdout && v.result.uplift.is_some())
        .filter_map(|v| v.result.sequential_p_value.map(|p| (v, p)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let Some((arm, p)) = best else {
        return (
            Verdict::Inconclusive,
            "No variant can be compared with the control yet.".to_string(),
        );
    };
    let uplift = arm.result.uplift.unwrap_or(0.0);
    if p < options.alpha {
        let (verdict, word) = if uplift > 0.0 {
            (Verdict::Won, "beats")
        } else {
            (Verdict::Lost, "loses to")
        };
        return (
            verdict,
            format!(
                "Variant {} {word} the control by {:+.1}% (sequential p-value {p:.4} < {}).",
                arm.result.key,
                uplift * 100.0,
                options.alpha
            ),
        );
    }
    (
        Verdict::Inconclusive,
        format!(
            "No variant differs surely from the control: the lowest sequential p-value is {p:.3} ({}, {:+.1}%), above {}.",
            arm.result.key,
            uplift * 100.0,
            options.alpha
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::experiments::{ExposedLifecycle, ExposedOutcome, Exposure};
    use crate::storage::rollup::day_start;
    use holdfast_core::customer::DAY;

    fn experiment() -> Experiment {
        serde_json::from_value(serde_json::json!({
            "key": "x",
            "variants": [{ "key": "a", "weight": 0.5 }, { "key": "b", "weight": 0.5 }]
        }))
        .unwrap()
    }

    /// `n` customers per arm exposed at `at`, the first `saved` of each arm saved.
    fn facts(arms: &[(&str, u64, u64)], at: i64) -> ExperimentFacts {
        let mut f = ExperimentFacts::default();
        for (variant, n, saved) in arms {
            for i in 0..*n {
                let customer_id = format!("{variant}{i}");
                f.exposures.push(Exposure {
                    customer_id: customer_id.clone(),
                    variant: (*variant).into(),
                    at,
                });
                if i < *saved {
                    f.outcomes.push(ExposedOutcome {
                        customer_id,
                        outcome: "saved".into(),
                        effective_date: None,
                        recorded_at: at + 60,
                    });
                }
            }
        }
        f
    }

    #[test]
    fn a_clear_difference_with_enough_data_is_won_and_says_why() {
        let f = facts(&[("a", 2000, 400), ("b", 2000, 560)], 1_000);
        let r = report(&experiment(), ReportMetric::SaveRate, &f, 2_000);
        assert_eq!(r.verdict, Verdict::Won, "{}", r.verdict_reason);
        assert!(
            r.verdict_reason
                .contains("Variant b beats the control by +40.0%"),
            "{}",
            r.verdict_reason
        );
        let reversed = facts(&[("a", 2000, 560), ("b", 2000, 400)], 1_000);
        let r = report(&experiment(), ReportMetric::SaveRate, &reversed, 2_000);
        assert_eq!(r.verdict, Verdict::Lost, "{}", r.verdict_reason);
    }

    #[test]
    fn a_broken_split_is_unhealthy_before_anything_else() {
        let f = facts(&[("a", 3000, 600), ("b", 1000, 400)], 1_000);
        let r = report(&experiment(), ReportMetric::SaveRate, &f, 2_000);
        assert!(r.srm_warning);
        assert_eq!(r.verdict, Verdict::Unhealthy, "{}", r.verdict_reason);
        let mut crossed = facts(&[("a", 100, 10), ("b", 100, 10)], 1_000);
        crossed.crossed = vec![
            ("a1".into(), "x:b".into()),
            ("a2".into(), "x:b".into()),
            ("b3".into(), "x:a".into()),
        ];
        let r = report(&experiment(), ReportMetric::SaveRate, &crossed, 2_000);
        assert_eq!(r.multiple_exposure_rate, 0.015);
        assert_eq!(r.verdict, Verdict::Unhealthy, "{}", r.verdict_reason);
    }

    #[test]
    fn retention_counts_churn_inside_the_window_and_its_undoing() {
        let day = DAY;
        let mut f = facts(&[("a", 4, 0)], 0);
        // a0: cancelled, effective on day 20: churned. a1: cancelled, effective on day 45:
        // retained at 30 days. a2: churned on day 10, resumed on day 12: retained. a3: nothing.
        f.outcomes.push(ExposedOutcome {
            customer_id: "a0".into(),
            outcome: "cancelled".into(),
            effective_date: Some("1970-01-21".into()),
            recorded_at: day,
        });
        f.outcomes.push(ExposedOutcome {
            customer_id: "a1".into(),
            outcome: "cancelled".into(),
            effective_date: Some("1970-02-15".into()),
            recorded_at: day,
        });
        f.lifecycle.push(ExposedLifecycle {
            customer_id: "a2".into(),
            kind: "churned".into(),
            at: 10 * day,
        });
        f.lifecycle.push(ExposedLifecycle {
            customer_id: "a2".into(),
            kind: "resumed".into(),
            at: 12 * day,
        });
        let r = report(&experiment(), ReportMetric::Retained30d, &f, 31 * day);
        assert_eq!(
            (r.variants[0].result.units, r.variants[0].conversions),
            (4, 3)
        );
        let early = report(&experiment(), ReportMetric::Retained30d, &f, 29 * day);
        assert_eq!(
            (early.pending_units, early.variants[0].result.units),
            (4, 0)
        );
    }

    #[test]
    fn net_revenue_counts_months_kept_less_the_offers_cost() {
        let day = DAY;
        let mut f = facts(&[("a", 2, 0), ("b", 2, 0)], 0);
        for c in ["a0", "a1", "b0", "b1"] {
            let cost = if c.starts_with('b') { 500 } else { 0 };
            f.revenue.push((c.into(), 1000, cost));
        }
        // a0 and a1 cancel, effective on day 30: one month kept each.
        for c in ["a0", "a1"] {
            f.outcomes.push(ExposedOutcome {
                customer_id: c.into(),
                outcome: "cancelled".into(),
                effective_date: Some("1970-01-31".into()),
                recorded_at: day,
            });
        }
        let r = report(&experiment(), ReportMetric::NetRevenue90d, &f, 91 * day);
        let means: Vec<Option<f64>> = r.variants.iter().map(|v| v.rate).collect();
        assert_eq!(
            means,
            [Some(1000.0), Some(2500.0)],
            "a: one month; b: three less 500"
        );
        assert_eq!(r.variants[1].result.uplift, Some(1.5));
        let early = report(&experiment(), ReportMetric::NetRevenue90d, &f, 89 * day);
        assert_eq!(early.pending_units, 4, "90 days must pass");
    }

    #[test]
    fn a_date_starts_at_its_first_second() {
        assert_eq!(day_start("1970-01-01"), Some(0));
        assert_eq!(day_start("2030-01-01"), Some(1_893_456_000));
        assert_eq!(day_start("2024-02-29"), Some(1_709_164_800));
        assert_eq!(day_start("2024-13-01"), None);
        assert_eq!(day_start("soon"), None);
    }
}
