//! What an experiment report reads: every customer first exposed to one experiment, and what
//! happened to those customers after their exposure (recorded outcomes, lifecycle events the
//! host reported, the variant their cancel sessions were credited to). The report's arithmetic
//! lives in `crate::experiments` and core's `stats`.
//!
//! Every per-customer read starts from the experiment's exposures (`CROSS JOIN`, which SQLite
//! keeps in the written order): its cost grows with the exposed customers, never with the app's
//! sessions or outcomes (SQLite otherwise walked every session of the app and probed exposures).
//!
//! `impl_experiment_store!` implements [`ExperimentStore`] once for both backends.

use async_trait::async_trait;

/// A customer's first exposure to the experiment (the unit of every experiment metric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// The customer.
    pub customer_id: String,
    /// The variant first exposed.
    pub variant: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// A recorded outcome of an exposed customer, at or after the exposure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedOutcome {
    /// The customer.
    pub customer_id: String,
    /// `saved`, `cancelled` or `abandoned`.
    pub outcome: String,
    /// A cancellation's last day (`YYYY-MM-DD`).
    pub effective_date: Option<String>,
    /// When it was recorded, Unix seconds.
    pub recorded_at: i64,
}

/// A lifecycle event of an exposed customer, at or after the exposure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedLifecycle {
    /// The customer.
    pub customer_id: String,
    /// `upgraded`, `resumed` or `churned`.
    pub kind: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// Everything a report of one experiment is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExperimentFacts {
    /// First exposures.
    pub exposures: Vec<Exposure>,
    /// Their outcomes since exposure.
    pub outcomes: Vec<ExposedOutcome>,
    /// Their lifecycle events since exposure.
    pub lifecycle: Vec<ExposedLifecycle>,
    /// `(customer, variant)` of each of their cancel sessions credited to another variant of the
    /// experiment than the first exposure's: multiple exposures, a health problem.
    pub crossed: Vec<(String, String)>,
    /// `(customer, MRR in cents, what their accepted offers cost)` from their cancel sessions
    /// since the day before exposure, for the revenue metric.
    pub revenue: Vec<(String, i64, i64)>,
}

/// Which facts a report's metric reads beyond the exposures and multiple exposures: each costs a
/// read per exposed customer, so a report reads only its metric's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactsNeeded {
    /// Recorded outcomes (saves, and cancellations for churn).
    pub outcomes: bool,
    /// Lifecycle events (churn, resumption, upgrades).
    pub lifecycle: bool,
    /// MRR and offer cost from the customers' sessions.
    pub revenue: bool,
}

impl FactsNeeded {
    /// Every fact.
    pub const ALL: Self = Self {
        outcomes: true,
        lifecycle: true,
        revenue: true,
    };
}

/// What the growth team wrote about an experiment it created through the API.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentNote {
    /// The experiment.
    pub key: String,
    /// What it expects and why.
    pub hypothesis: String,
    /// The metric its report defaults to (`save_rate`, `net_revenue_90d`, ...).
    pub primary_metric: String,
    /// The smallest relative effect worth detecting (0.05: 5%).
    pub minimum_detectable_effect: Option<f64>,
    /// When it was created, Unix seconds.
    pub created_at: i64,
}

/// The experiment use cases; a supertrait of [`super::Store`].
#[async_trait]
pub trait ExperimentStore: Send + Sync {
    /// Keeps an experiment's note, replacing an earlier one of the same key.
    async fn save_experiment_note(&self, app_id: &str, note: &ExperimentNote)
    -> anyhow::Result<()>;

    /// The app's experiment notes.
    async fn experiment_notes(&self, app_id: &str) -> anyhow::Result<Vec<ExperimentNote>>;

    /// The facts of one experiment's report, read after the fold settled: the exposures and
    /// multiple exposures always, the rest as `needs` says (the others stay empty).
    async fn experiment_facts(
        &self,
        app_id: &str,
        live: bool,
        experiment: &str,
        needs: FactsNeeded,
    ) -> anyhow::Result<ExperimentFacts>;
}

/// Implements [`ExperimentStore`] for a backend struct with a `pool` field.
macro_rules! impl_experiment_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::experiments::ExperimentStore for $store {
            async fn save_experiment_note(
                &self,
                app_id: &str,
                note: &$crate::storage::experiments::ExperimentNote,
            ) -> anyhow::Result<()> {
                sqlx::query(
                    "INSERT INTO experiment_notes (app_id, key, hypothesis, primary_metric, \
                     minimum_detectable_effect, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (app_id, key) DO UPDATE SET hypothesis = excluded.hypothesis, \
                     primary_metric = excluded.primary_metric, \
                     minimum_detectable_effect = excluded.minimum_detectable_effect, \
                     created_at = excluded.created_at",
                )
                .bind(app_id)
                .bind(&note.key)
                .bind(&note.hypothesis)
                .bind(&note.primary_metric)
                .bind(note.minimum_detectable_effect)
                .bind(note.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn experiment_notes(
                &self,
                app_id: &str,
            ) -> anyhow::Result<Vec<$crate::storage::experiments::ExperimentNote>> {
                let rows: Vec<(String, String, String, Option<f64>, i64)> = sqlx::query_as(
                    "SELECT key, hypothesis, primary_metric, minimum_detectable_effect, created_at \
                     FROM experiment_notes WHERE app_id = $1 ORDER BY key",
                )
                .bind(app_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(key, hypothesis, primary_metric, minimum_detectable_effect, created_at)| {
                        $crate::storage::experiments::ExperimentNote {
                            key,
                            hypothesis,
                            primary_metric,
                            minimum_detectable_effect,
                            created_at,
                        }
                    })
                    .collect())
            }

            async fn experiment_facts(
                &self,
                app_id: &str,
                live: bool,
                experiment: &str,
                needs: $crate::storage::experiments::FactsNeeded,
            ) -> anyhow::Result<$crate::storage::experiments::ExperimentFacts> {
                use $crate::storage::experiments::{
                    ExperimentFacts, ExposedLifecycle, ExposedOutcome, Exposure,
                };
                if !$crate::storage::Store::settle_within(self, $crate::storage::REPORT_WAIT).await
                {
                    return Err($crate::storage::Backlogged.into());
                }
                let exposures: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT customer_id, variant, at FROM exposures \
                     WHERE app_id = $1 AND live = $2 AND experiment = $3",
                )
                .bind(app_id)
                .bind(live)
                .bind(experiment)
                .fetch_all(&self.pool)
                .await?;
                let outcomes: Vec<(String, String, Option<String>, i64)> = if !needs.outcomes {
                    Vec::new()
                } else {
                    sqlx::query_as(
                    "SELECT o.customer_id, o.outcome, o.effective_date, o.recorded_at \
                     FROM exposures e CROSS JOIN outcomes o \
                     WHERE e.app_id = $1 AND e.live = $2 AND e.experiment = $3 \
                     AND o.app_id = e.app_id AND o.live = e.live \
                     AND o.customer_id = e.customer_id AND o.recorded_at >= e.at",
                )
                .bind(app_id)
                .bind(live)
                .bind(experiment)
                .fetch_all(&self.pool)
                .await?
                };
                let lifecycle: Vec<(String, String, i64)> = if !needs.lifecycle {
                    Vec::new()
                } else {
                    sqlx::query_as(
                    "SELECT l.customer_id, l.type, l.at \
                     FROM exposures e CROSS JOIN lifecycle l \
                     WHERE e.app_id = $1 AND e.live = $2 AND e.experiment = $3 \
                     AND l.app_id = e.app_id AND l.live = e.live \
                     AND l.customer_id = e.customer_id AND l.at >= e.at",
                )
                .bind(app_id)
                .bind(live)
                .bind(experiment)
                .fetch_all(&self.pool)
                .await?
                };
                let crossed: Vec<(String, String)> = sqlx::query_as(
                    "SELECT DISTINCT s.customer_id, s.variant \
                     FROM exposures e CROSS JOIN sessions s \
                     WHERE e.app_id = $1 AND e.live = $2 AND e.experiment = $3 \
                     AND s.app_id = e.app_id AND s.live = e.live AND s.customer_id = e.customer_id \
                     AND s.variant LIKE $4 ESCAPE '\\' AND s.variant <> $3 || ':' || e.variant",
                )
                .bind(app_id)
                .bind(live)
                .bind(experiment)
                .bind(format!("{}:%", experiment.replace('%', "\\%").replace('_', "\\_")))
                .fetch_all(&self.pool)
                .await?;
                let revenue: Vec<(String, i64, i64)> = if !needs.revenue {
                    Vec::new()
                } else {
                    sqlx::query_as(
                    "SELECT s.customer_id, MAX(s.mrr_cents), \
                     CAST(COALESCE(SUM(CASE WHEN s.saved = 1 THEN s.offer_cost_cents ELSE 0 END), 0) AS BIGINT) \
                     FROM exposures e CROSS JOIN sessions s \
                     WHERE e.app_id = $1 AND e.live = $2 AND e.experiment = $3 \
                     AND s.app_id = e.app_id AND s.live = e.live \
                     AND s.customer_id = e.customer_id AND s.started_at >= e.at - 86400 \
                     GROUP BY s.customer_id",
                )
                .bind(app_id)
                .bind(live)
                .bind(experiment)
                .fetch_all(&self.pool)
                .await?
                };
                Ok(ExperimentFacts {
                    exposures: exposures
                        .into_iter()
                        .map(|(customer_id, variant, at)| Exposure {
                            customer_id,
                            variant,
                            at,
                        })
                        .collect(),
                    outcomes: outcomes
                        .into_iter()
                        .map(
                            |(customer_id, outcome, effective_date, recorded_at)| ExposedOutcome {
                                customer_id,
                                outcome,
                                effective_date,
                                recorded_at,
                            },
                        )
                        .collect(),
                    lifecycle: lifecycle
                        .into_iter()
                        .map(|(customer_id, kind, at)| ExposedLifecycle {
                            customer_id,
                            kind,
                            at,
                        })
                        .collect(),
                    crossed,
                    revenue,
                })
            }
        }
    };
}
