//! The PostgreSQL backend: for several stateless server replicas on one database. Its migrations
//! are its own (native types), embedded in the binary.

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// PostgreSQL's migrations (`migrations/postgres`), embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// An arbitrary constant key for the advisory lock that serialises migrations across replicas.
const MIGRATION_LOCK: i64 = 0x686f_6c64_6661_7374;

/// Another constant key: replicas' aggregators take turns folding the shared ingest log, so two
/// never upsert the same sessions at once.
const AGGREGATOR_LOCK: i64 = 0x686f_6c64_6c6f_6721;

/// Storage on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The group-commit writer that appends event batches to the ingest log.
    ingest: tokio::sync::mpsc::Sender<super::batch::Job>,
    /// Folds the ingest log into events, sessions and prompt state.
    aggregator: super::aggregate::Aggregator,
}

impl super::backend::Backend for PostgresStore {
    type Db = sqlx::Postgres;
}

impl PostgresStore {
    /// Connects to `url` and applies migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        Self::open_with(url, super::IngestOptions::default()).await
    }

    /// As [`PostgresStore::open`], with explicit aggregator options.
    pub async fn open_with(url: &str, options: super::IngestOptions) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .context("connecting to PostgreSQL")?;
        migrate(&pool)
            .await
            .context("applying PostgreSQL migrations")?;
        if options.log {
            super::sql::Queries::<sqlx::Postgres>::build_rollups_if_missing(&pool)
                .await
                .context("building the stats rollups")?;
        }
        let folder = pool.clone();
        let aggregator = super::aggregate::Aggregator::spawn(options, move |max_rows| {
            let pool = folder.clone();
            async move { fold_pass(&pool, max_rows).await }
        });
        let (writer, shared) = (pool.clone(), aggregator.shared.clone());
        let ingest = super::batch::spawn(move |jobs| {
            let (pool, shared) = (writer.clone(), shared.clone());
            async move {
                append_log(&pool, jobs).await;
                shared.appended.notify_one();
            }
        });
        Ok(Self {
            pool,
            ingest,
            aggregator,
        })
    }
}

#[async_trait::async_trait]
impl super::IngestLog for PostgresStore {
    /// Appends the batch's row to the shared `ingest_log` through the group-commit writer.
    async fn ingest(
        &self,
        scope: super::Scope<'_>,
        batch: &super::IngestBatch<'_>,
    ) -> anyhow::Result<super::IngestOutcome> {
        let row = super::batch::LogRow::of(scope, batch)?;
        let outcome = row.outcome()?;
        super::batch::submit(&self.ingest, row).await?;
        Ok(outcome)
    }

    /// Waits until the aggregators folded every row committed before the call. Cheap when the
    /// log is empty: no round trip to the aggregator.
    async fn settle(&self) -> anyhow::Result<()> {
        let (newest,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM ingest_log")
            .fetch_one(&self.pool)
            .await?;
        match newest {
            None => Ok(()),
            Some(target) => self.aggregator.settle(target).await,
        }
    }

    /// The shared log's backlog (all replicas' rows) and this replica's folding.
    async fn ingest_status(&self) -> anyhow::Result<super::IngestStatus> {
        let (backlog_rows, backlog_events): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(events), 0) AS BIGINT) FROM ingest_log",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(super::IngestStatus {
            backlog_rows,
            backlog_events,
            folded_events: self.aggregator.folded(),
        })
    }

    fn attach_metrics(&self, metrics: std::sync::Arc<crate::metrics::Metrics>) {
        self.aggregator.attach_metrics(metrics);
    }
}

/// Appends a group of log rows (at most `batch::MAX_ROWS_PER_FLUSH`) with one multi-row insert,
/// a transaction by itself, and answers each job after the commit (see `batch`).
async fn append_log(pool: &PgPool, jobs: Vec<super::batch::Job>) {
    let mut q = sqlx::QueryBuilder::new(
        "INSERT INTO ingest_log (app_id, live, received_at, events, body) ",
    );
    q.push_values(&jobs, |mut row, job| {
        row.push_bind(&job.row.app_id)
            .push_bind(job.row.live)
            .push_bind(job.row.received_at)
            .push_bind(job.row.events)
            .push_bind(&job.row.body);
    });
    let result = q
        .build()
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(anyhow::Error::from);
    super::batch::answer(jobs, &result);
}

/// One aggregator pass, in one transaction under the replicas' aggregator lock: reads up to
/// `max_rows` of the oldest log rows, folds them, and deletes exactly the rows it read (an
/// identity key may commit after a higher one, so never a key range).
async fn fold_pass(pool: &PgPool, max_rows: usize) -> anyhow::Result<super::aggregate::Pass> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AGGREGATOR_LOCK)
        .execute(&mut *tx)
        .await?;
    let rows: Vec<(i64, String, bool, i64, String)> = sqlx::query_as(
        "SELECT id, app_id, live, received_at, body FROM ingest_log ORDER BY id LIMIT $1",
    )
    .bind(i64::try_from(max_rows)?)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(super::aggregate::Pass::default());
    }
    let full = rows.len() >= max_rows;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut pass = super::sql::Queries::<sqlx::Postgres>::fold_rows(
        &mut tx,
        super::aggregate::decode_rows(rows),
    )
    .await?;
    sqlx::query("DELETE FROM ingest_log WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    pass.full = full;
    Ok(pass)
}

/// Moves a database the old runner migrated over to sqlx's table (see
/// [`super::migrations`]), then applies what is newer. Replicas starting together take turns
/// on the move (an advisory lock held by its transaction); sqlx's migrator takes its own lock.
async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    let old: bool = sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL")
        .fetch_one(&mut *tx)
        .await?;
    if old {
        super::migrations::move_versions(&mut tx, &MIGRATOR).await?;
    }
    tx.commit().await?;
    MIGRATOR.run(pool).await?;
    Ok(())
}

impl super::backend::Pooled for PostgresStore {
    fn pool(&self) -> &sqlx::Pool<sqlx::Postgres> {
        &self.pool
    }
}
