//! [`super::Store`]'s use cases on events, configs, exposures, acceptances, lifecycle and stats,
//! implemented once for every backend over its pool ([`super::backend::Pooled`]), with the
//! shared write helpers of [`super::sql::Queries`].

use super::backend::{Driver, Pooled};
use super::sql::Queries;
use super::statement::Statement;

/// One implementation of [`super::Store`] for both backends, over their pools.
#[async_trait::async_trait]
impl<S> crate::storage::Store for S
where
    S: Pooled
        + super::IngestLog
        + super::prompts::PromptStore
        + super::apps::AppStore
        + super::outcomes::OutcomeStore
        + super::webhooks::WebhookStore
        + super::experiments::ExperimentStore
        + super::users::UserStore
        + super::session_log::SessionLogStore
        + super::changes::ChangeStore
        + std::fmt::Debug
        + Send
        + Sync,
    for<'c> &'c sqlx::Pool<S::Db>: sqlx::Executor<'c, Database = S::Db>,
    for<'c> &'c mut <S::Db as sqlx::Database>::Connection: sqlx::Executor<'c, Database = S::Db>,
    for<'q> <S::Db as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, S::Db>,
    for<'q> &'q str: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> i64: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> String: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> bool: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    usize: sqlx::ColumnIndex<<S::Db as sqlx::Database>::Row>,
    for<'q> Option<i64>: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> Option<String>: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> f64: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'r> super::outcomes::RedemptionRow: sqlx::FromRow<'r, <S::Db as sqlx::Database>::Row>,
{
    fn backend(&self) -> &'static str {
        <S::Db as Driver>::NAME
    }

    async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(self.pool()).await.is_ok()
    }

    async fn ensure_app(&self, app: &crate::storage::NewApp) -> anyhow::Result<()> {
        let origins = serde_json::to_string(&app.origins)?;
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        let created = S::rows_affected(&sqlx::query(
            "INSERT INTO apps (id, secret, live, origins, config, config_version, created_at, name) \
             VALUES ($1, '', $2, $3, $4, 1, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&app.id)
        .bind(false)
        .bind(&origins)
        .bind(&app.config_json)
        .bind(app.now)
        .bind(&app.name)
        .execute(&mut *tx)
        .await?);
        if created == 1 {
            sqlx::query(
                "INSERT INTO config_versions (app_id, version, config, created_at) \
                 VALUES ($1, 1, $2, $3)",
            )
            .bind(&app.id)
            .bind(&app.config_json)
            .bind(app.now)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query("UPDATE apps SET origins = $1 WHERE id = $2")
                .bind(&origins)
                .bind(&app.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn app(&self, app_id: &str) -> anyhow::Result<Option<crate::storage::AppRecord>> {
        let row: Option<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, name, origins, config, config_version FROM apps WHERE id = $1",
        )
        .bind(app_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|(id, name, origins, config_json, config_version)| {
            Ok(crate::storage::AppRecord {
                id,
                settings: crate::storage::apps::AppSettings {
                    name,
                    origins: serde_json::from_str(&origins)?,
                },
                config_json,
                config_version,
            })
        })
        .transpose()
    }

    async fn replace_config(
        &self,
        app_id: &str,
        config_json: &str,
        now: i64,
    ) -> anyhow::Result<i64> {
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        let (version,): (i64,) = sqlx::query_as(
            "UPDATE apps SET config = $1, config_version = config_version + 1 \
             WHERE id = $2 RETURNING config_version",
        )
        .bind(config_json)
        .bind(app_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO config_versions (app_id, version, config, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(app_id)
        .bind(version)
        .bind(config_json)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    async fn config_versions(
        &self,
        app_id: &str,
    ) -> anyhow::Result<Vec<crate::storage::ConfigVersion>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT version, created_at FROM config_versions WHERE app_id = $1 \
             ORDER BY version DESC",
        )
        .bind(app_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(version, created_at)| crate::storage::ConfigVersion {
                version,
                created_at,
            })
            .collect())
    }

    async fn all_configs(&self, app_id: &str) -> anyhow::Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT config FROM config_versions WHERE app_id = $1 ORDER BY version")
                .bind(app_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn config_version(&self, app_id: &str, version: i64) -> anyhow::Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT config FROM config_versions WHERE app_id = $1 AND version = $2")
                .bind(app_id)
                .bind(version)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| r.0))
    }

    async fn exposures(
        &self,
        scope: crate::storage::Scope<'_>,
        customer_id: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let crate::storage::Scope { app_id, live } = scope;
        // Offers and prompts shown through event ingest record exposures when folded:
        // callers that need the customer's own latest ones settle first
        // (`AppState::settle_for`); a variant is deterministic besides.
        Ok(sqlx::query_as(
            "SELECT experiment, variant FROM exposures \
             WHERE app_id = $1 AND live = $2 AND customer_id = $3",
        )
        .bind(app_id)
        .bind(live)
        .bind(customer_id)
        .fetch_all(self.pool())
        .await?)
    }

    async fn record_exposures(
        &self,
        scope: crate::storage::Scope<'_>,
        customer_id: &str,
        exposures: &[(String, String)],
        at: i64,
    ) -> anyhow::Result<()> {
        let crate::storage::Scope { app_id, live } = scope;
        if exposures.is_empty() {
            return Ok(());
        }
        // A first exposure adds a unit to the experiments' rollup.
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        let scope = crate::storage::sql::Touched::of([(app_id, live, customer_id)]);
        let before = Queries::<S::Db>::snapshot(&mut tx, &scope).await?;
        for (experiment, variant) in exposures {
            sqlx::query(
                "INSERT INTO exposures (app_id, live, customer_id, experiment, variant, at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (app_id, live, customer_id, experiment) DO NOTHING",
            )
            .bind(app_id)
            .bind(live)
            .bind(customer_id)
            .bind(experiment)
            .bind(variant)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        Queries::<S::Db>::settle_rollups(&mut tx, &scope, before).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn ledger(
        &self,
        scope: crate::storage::Scope<'_>,
        customer_id: &str,
    ) -> anyhow::Result<Vec<holdfast_core::targeting::Redemption>> {
        let crate::storage::Scope { app_id, live } = scope;
        let rows = sqlx::query_as(
            "SELECT kind, at FROM redemptions \
             WHERE app_id = $1 AND live = $2 AND customer_id = $3 ORDER BY at",
        )
        .bind(app_id)
        .bind(live)
        .bind(customer_id)
        .fetch_all(self.pool())
        .await?;
        Ok(crate::storage::outcomes::redemptions(rows))
    }

    async fn acceptance(&self, app_id: &str, event_id: &str) -> anyhow::Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT response FROM redemptions WHERE app_id = $1 AND event_id = $2")
                .bind(app_id)
                .bind(event_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| r.0))
    }

    async fn record_acceptance(
        &self,
        scope: crate::storage::Scope<'_>,
        customer_id: &str,
        a: &crate::storage::AcceptanceRecord,
    ) -> anyhow::Result<String> {
        let crate::storage::Scope { app_id, live } = scope;
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        let inserted = S::rows_affected(
            &sqlx::query(
                "INSERT INTO redemptions (app_id, event_id, live, customer_id, session_id, \
             offer_id, kind, at, response) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (app_id, event_id) DO NOTHING",
            )
            .bind(app_id)
            .bind(&a.event_id)
            .bind(live)
            .bind(customer_id)
            .bind(&a.session_id)
            .bind(&a.offer_id)
            .bind(&a.kind)
            .bind(a.at)
            .bind(&a.response_json)
            .execute(&mut *tx)
            .await?,
        );
        if inserted == 0 {
            let (response,): (String,) = sqlx::query_as(
                "SELECT response FROM redemptions WHERE app_id = $1 AND event_id = $2",
            )
            .bind(app_id)
            .bind(&a.event_id)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(response);
        }
        let scope = crate::storage::sql::Touched::of([(app_id, live, customer_id)]);
        let before = Queries::<S::Db>::snapshot(&mut tx, &scope).await?;
        Queries::<S::Db>::upsert_session(
            &mut tx,
            crate::storage::Scope::new(app_id, live),
            &a.session_id,
            &a.session,
        )
        .await?;
        Queries::<S::Db>::settle_rollups(&mut tx, &scope, before).await?;
        tx.commit().await?;
        Ok(a.response_json.clone())
    }

    async fn record_lifecycle(
        &self,
        scope: crate::storage::Scope<'_>,
        e: &crate::storage::LifecycleRecord,
    ) -> anyhow::Result<()> {
        let crate::storage::Scope { app_id, live } = scope;
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        let scope = crate::storage::sql::Touched::of([(app_id, live, e.customer_id.as_str())]);
        let before = Queries::<S::Db>::snapshot(&mut tx, &scope).await?;
        sqlx::query(
            "INSERT INTO lifecycle (app_id, live, customer_id, type, at, plan, mrr_cents) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(app_id)
        .bind(live)
        .bind(&e.customer_id)
        .bind(&e.kind)
        .bind(e.at)
        .bind(&e.plan)
        .bind(e.mrr_cents)
        .execute(&mut *tx)
        .await?;
        Queries::<S::Db>::settle_rollups(&mut tx, &scope, before).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn stats(
        &self,
        app_id: &str,
        r: &crate::storage::StatsRange,
    ) -> anyhow::Result<crate::storage::StatsData> {
        use crate::storage::rollup::{
            Age, BUCKET, Counters, HORIZONS, PENDING_FOR, Tallies, bucket_of,
        };
        use crate::storage::sql::rollup_sums;
        if !crate::storage::IngestLog::settle_within(self, crate::storage::REPORT_WAIT).await {
            return Err(crate::storage::Backlogged.into());
        }
        let mut tallies = Tallies::default();
        if r.from >= r.to {
            return Ok(crate::storage::StatsData::from_tallies(tallies));
        }
        let (first, last) = (bucket_of(r.from), bucket_of(r.to - 1));
        // The hours a clock cut falls in, and partial hours at the range's edges, are
        // read from the sessions; every other hour lies on one side of each cut.
        let cuts = [
            bucket_of(r.now - PENDING_FOR),
            bucket_of(r.now - HORIZONS[0] * 86_400),
            bucket_of(r.now - HORIZONS[1] * 86_400),
            bucket_of(r.now - HORIZONS[2] * 86_400),
        ];
        let mut direct: std::collections::BTreeSet<i64> = cuts.into_iter().collect();
        if r.from.rem_euclid(BUCKET) != 0 {
            direct.insert(first);
        }
        if r.to.rem_euclid(BUCKET) != 0 {
            direct.insert(last);
        }
        direct.retain(|h| (first..=last).contains(h));
        // Per dimension and key, and per side of each cut (at most five groups each).
        let mut q = Statement::new("SELECT dimension, key");
        for cut in cuts {
            q.push(", CAST(CASE WHEN hour < ").push_bind(cut);
            q.push(" THEN 1 ELSE 0 END AS BIGINT)");
        }
        q.push(", ");
        q.push(rollup_sums());
        q.push(" FROM stats_rollup WHERE app_id = ")
            .push_bind(app_id);
        q.push(" AND live = ").push_bind(r.live);
        q.push(" AND hour >= ").push_bind(first);
        q.push(" AND hour <= ").push_bind(last);
        for hour in &direct {
            q.push(" AND hour <> ").push_bind(*hour);
        }
        q.push(" GROUP BY 1, 2, 3, 4, 5, 6");
        let rows = Queries::<S::Db>::fetch_rows(q, self.pool()).await?;
        for row in rows {
            use sqlx::Row as _;
            let (dimension, key): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            let flag = |i: usize| row.try_get::<i64, _>(i).map(|f| f == 1);
            let age = Age {
                past_pending: flag(2)?,
                measured: [flag(3)?, flag(4)?, flag(5)?],
            };
            let mut sums = [0_i64; 16];
            for (i, sum) in sums.iter_mut().enumerate() {
                *sum = row.try_get(6 + i)?;
            }
            tallies.add(&dimension, &key, &Counters::from_array(sums), age);
        }
        let ranges: Vec<(i64, i64)> = direct
            .iter()
            .map(|h| ((h * BUCKET).max(r.from), ((h + 1) * BUCKET).min(r.to)))
            .collect();
        Queries::<S::Db>::tally_range(
            self.pool(),
            crate::storage::Scope::new(app_id, r.live),
            &ranges,
            r.now,
            &mut tallies,
        )
        .await?;
        Ok(crate::storage::StatsData::from_tallies(tallies))
    }

    async fn stats_from_sessions(
        &self,
        app_id: &str,
        r: &crate::storage::StatsRange,
    ) -> anyhow::Result<crate::storage::StatsData> {
        if !crate::storage::IngestLog::settle_within(self, crate::storage::REPORT_WAIT).await {
            return Err(crate::storage::Backlogged.into());
        }
        let mut tallies = crate::storage::rollup::Tallies::default();
        Queries::<S::Db>::tally_range(
            self.pool(),
            crate::storage::Scope::new(app_id, r.live),
            &[(r.from, r.to)],
            r.now,
            &mut tallies,
        )
        .await?;
        Ok(crate::storage::StatsData::from_tallies(tallies))
    }

    async fn import_sessions(
        &self,
        scope: crate::storage::Scope<'_>,
        sessions: &[(String, crate::storage::SessionFacts)],
    ) -> anyhow::Result<()> {
        let crate::storage::Scope { app_id, live } = scope;
        for chunk in sessions.chunks(5000) {
            let mut tx = self.pool().begin_with(S::BEGIN).await?;
            let rows: Vec<(&str, bool, &str, crate::storage::SessionFacts)> = chunk
                .iter()
                .map(|(id, f)| (app_id, live, id.as_str(), f.clone()))
                .collect();
            let scope = crate::storage::sql::Touched::of(
                rows.iter()
                    .map(|(a, l, _, f)| (*a, *l, f.customer_id.as_str())),
            );
            let before = Queries::<S::Db>::snapshot(&mut tx, &scope).await?;
            Queries::<S::Db>::upsert_sessions(&mut tx, &rows).await?;
            Queries::<S::Db>::settle_rollups(&mut tx, &scope, before).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    async fn session_count(&self, app_id: &str) -> anyhow::Result<i64> {
        crate::storage::IngestLog::settle(self).await?;
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE app_id = $1")
            .bind(app_id)
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }
}
