//! What an experiment report reads: every customer first exposed to one experiment, and what
//! happened to those customers after their exposure (recorded outcomes, lifecycle events the
//! host reported, the variant their cancel sessions were credited to). The report's arithmetic
//! lives in `crate::experiments` and core's `stats`.
//!
//! Every per-customer read starts from the experiment's exposures (`CROSS JOIN`, which SQLite
//! keeps in the written order): its cost grows with the exposed customers, never with the app's
//! sessions or outcomes (SQLite otherwise walked every session of the app and probed exposures).
//!
//! One plain generic implementation of [`ExperimentStore`] serves both backends.

use async_trait::async_trait;

pub use super::facts::{ExperimentFacts, ExposedLifecycle, ExposedOutcome, Exposure};

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
        scope: super::Scope<'_>,
        experiment: &str,
        needs: FactsNeeded,
    ) -> anyhow::Result<ExperimentFacts>;

    /// What a report at `cut` is computed from (see [`super::arms`]), read after the fold
    /// settled: the rollup's hours before the cut's hour as counted and after it as pending, the
    /// customers exposed in the cut's hour from their facts.
    async fn experiment_totals(
        &self,
        scope: super::Scope<'_>,
        experiment: &str,
        cut: i64,
    ) -> anyhow::Result<super::arms::ArmTotals>;
}

/// One implementation for both backends, over their pools: the SQL is the same.
#[async_trait::async_trait]
impl<S> ExperimentStore for S
where
    S: super::backend::Pooled + super::IngestLog + Send + Sync,
    for<'c> &'c sqlx::Pool<S::Db>: sqlx::Executor<'c, Database = S::Db>,
    for<'c> &'c mut <S::Db as sqlx::Database>::Connection: sqlx::Executor<'c, Database = S::Db>,
    for<'q> <S::Db as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, S::Db>,
    for<'q> &'q str: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> i64: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> String: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> bool: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    usize: sqlx::ColumnIndex<<S::Db as sqlx::Database>::Row>,
    for<'q> f64: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> Option<f64>: sqlx::Encode<'q, S::Db>,
{
    async fn save_experiment_note(
        &self,
        app_id: &str,
        note: &crate::storage::experiments::ExperimentNote,
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
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn experiment_notes(
        &self,
        app_id: &str,
    ) -> anyhow::Result<Vec<crate::storage::experiments::ExperimentNote>> {
        let rows: Vec<(String, String, String, Option<f64>, i64)> = sqlx::query_as(
            "SELECT key, hypothesis, primary_metric, minimum_detectable_effect, created_at \
             FROM experiment_notes WHERE app_id = $1 ORDER BY key",
        )
        .bind(app_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(key, hypothesis, primary_metric, minimum_detectable_effect, created_at)| {
                    crate::storage::experiments::ExperimentNote {
                        key,
                        hypothesis,
                        primary_metric,
                        minimum_detectable_effect,
                        created_at,
                    }
                },
            )
            .collect())
    }

    async fn experiment_facts(
        &self,
        scope: crate::storage::Scope<'_>,
        experiment: &str,
        needs: crate::storage::experiments::FactsNeeded,
    ) -> anyhow::Result<crate::storage::experiments::ExperimentFacts> {
        let crate::storage::Scope { app_id, live } = scope;
        if !crate::storage::IngestLog::settle_within(self, crate::storage::REPORT_WAIT).await {
            return Err(crate::storage::Backlogged.into());
        }
        experiment_facts_in(
            self.pool(),
            crate::storage::Scope::new(app_id, live),
            experiment,
            needs,
            (i64::MIN, i64::MAX),
        )
        .await
    }

    async fn experiment_totals(
        &self,
        scope: crate::storage::Scope<'_>,
        experiment: &str,
        cut: i64,
    ) -> anyhow::Result<crate::storage::arms::ArmTotals> {
        let crate::storage::Scope { app_id, live } = scope;
        use crate::storage::arms::{ArmSums, ArmTotals};
        use crate::storage::rollup::{BUCKET, bucket_of};
        if !crate::storage::IngestLog::settle_within(self, crate::storage::REPORT_WAIT).await {
            return Err(crate::storage::Backlogged.into());
        }
        let edge = bucket_of(cut);
        let rows: Vec<(String, i64, Option<i64>, i64, i64, i64, i64, i64, i64, f64)> =
            sqlx::query_as(
                "SELECT variant, CAST(CASE WHEN hour < $4 THEN 1 ELSE 0 END AS BIGINT), \
                 CAST(MIN(CASE WHEN units > 0 THEN hour END) AS BIGINT), \
                 CAST(COALESCE(SUM(units), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(saved), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(retained_30d), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(upgraded_30d), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(crossed), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(revenue_cents), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(revenue_squares), 0) AS DOUBLE PRECISION) \
                 FROM experiment_rollup \
                 WHERE app_id = $1 AND live = $2 AND experiment = $3 AND hour <> $4 \
                 GROUP BY 1, 2",
            )
            .bind(app_id)
            .bind(live)
            .bind(experiment)
            .bind(edge)
            .fetch_all(self.pool())
            .await?;
        let mut totals = ArmTotals::default();
        for (variant, counted, first, units, saved, retained, upgraded, crossed, cents, squares) in
            rows
        {
            let sums =
                ArmSums::from_parts([units, saved, retained, upgraded, crossed, cents], squares);
            totals.add_hour(&variant, first.unwrap_or(i64::MAX), &sums, counted == 1);
        }
        // The hour the cut falls in: its customers one by one, as the facts say.
        let facts = experiment_facts_in(
            self.pool(),
            crate::storage::Scope::new(app_id, live),
            experiment,
            crate::storage::experiments::FactsNeeded::ALL,
            (edge * BUCKET, (edge + 1) * BUCKET),
        )
        .await?;
        for (_, variant, at, unit) in crate::storage::arms::units(&facts) {
            totals.add_unit(variant, at, &unit, cut);
        }
        Ok(totals)
    }
}

/// One experiment's facts (see `ExperimentStore::experiment_facts`), of the customers
/// first exposed in `[from, to)`.
async fn experiment_facts_in<DB>(
    pool: &sqlx::Pool<DB>,
    scope: crate::storage::Scope<'_>,
    experiment: &str,
    needs: crate::storage::experiments::FactsNeeded,
    (from, to): (i64, i64),
) -> anyhow::Result<crate::storage::experiments::ExperimentFacts>
where
    DB: sqlx::Database,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let crate::storage::Scope { app_id, live } = scope;
    use crate::storage::experiments::{
        ExperimentFacts, ExposedLifecycle, ExposedOutcome, Exposure,
    };
    let exposures: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT customer_id, variant, at FROM exposures \
         WHERE app_id = $1 AND live = $2 AND experiment = $3 AND at >= $4 AND at < $5",
    )
    .bind(app_id)
    .bind(live)
    .bind(experiment)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let outcomes: Vec<(String, String, Option<String>, i64)> = if !needs.outcomes {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT o.customer_id, o.outcome, o.effective_date, o.recorded_at \
         FROM exposures e CROSS JOIN outcomes o \
         WHERE e.app_id = $1 AND e.live = $2 AND e.experiment = $3 AND e.at >= $4 AND e.at < $5 \
         AND o.app_id = e.app_id AND o.live = e.live \
         AND o.customer_id = e.customer_id AND o.recorded_at >= e.at",
        )
        .bind(app_id)
        .bind(live)
        .bind(experiment)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?
    };
    let lifecycle: Vec<(String, String, i64)> = if !needs.lifecycle {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT l.customer_id, l.type, l.at \
         FROM exposures e CROSS JOIN lifecycle l \
         WHERE e.app_id = $1 AND e.live = $2 AND e.experiment = $3 AND e.at >= $4 AND e.at < $5 \
         AND l.app_id = e.app_id AND l.live = e.live \
         AND l.customer_id = e.customer_id AND l.at >= e.at",
        )
        .bind(app_id)
        .bind(live)
        .bind(experiment)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?
    };
    let crossed: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT s.customer_id, s.variant \
         FROM exposures e CROSS JOIN sessions s \
         WHERE e.app_id = $1 AND e.live = $2 AND e.experiment = $3 AND e.at >= $4 AND e.at < $5 \
         AND s.app_id = e.app_id AND s.live = e.live AND s.customer_id = e.customer_id \
         AND s.variant LIKE $6 ESCAPE '\\' AND s.variant <> $3 || ':' || e.variant",
    )
    .bind(app_id)
    .bind(live)
    .bind(experiment)
    .bind(from)
    .bind(to)
    .bind(format!(
        "{}:%",
        experiment.replace('%', "\\%").replace('_', "\\_")
    ))
    .fetch_all(pool)
    .await?;
    let revenue: Vec<(String, i64, i64)> = if !needs.revenue {
        Vec::new()
    } else {
        sqlx::query_as(
        "SELECT s.customer_id, MAX(s.mrr_cents), \
         CAST(COALESCE(SUM(CASE WHEN s.saved = 1 THEN s.offer_cost_cents ELSE 0 END), 0) AS BIGINT) \
         FROM exposures e CROSS JOIN sessions s \
         WHERE e.app_id = $1 AND e.live = $2 AND e.experiment = $3 AND e.at >= $4 AND e.at < $5 \
         AND s.app_id = e.app_id AND s.live = e.live \
         AND s.customer_id = e.customer_id AND s.started_at >= e.at - 86400 \
         GROUP BY s.customer_id",
    )
    .bind(app_id)
    .bind(live)
    .bind(experiment)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
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
