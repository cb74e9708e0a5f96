//! The PostgreSQL backend: for several stateless server replicas on one database. Its migrations
//! are its own (native types), embedded in the binary.

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// PostgreSQL's migrations, applied in order, each once.
const MIGRATIONS: [(i64, &str); 5] = [
    (1, include_str!("../../migrations/postgres/0001_schema.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_prompts.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_prompt_actions_target.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_impression_order.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_drop_events_by_session.sql"),
    ),
];

/// An arbitrary constant key for the advisory lock that serialises migrations across replicas.
const MIGRATION_LOCK: i64 = 0x686f_6c64_6661_7374;

/// Storage on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The group-commit writer for event batches.
    ingest: tokio::sync::mpsc::Sender<super::batch::Job>,
}

impl super::sql::Backend for PostgresStore {
    type Db = sqlx::Postgres;
}

impl PostgresStore {
    /// Connects to `url` and applies migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .context("connecting to PostgreSQL")?;
        migrate(&pool)
            .await
            .context("applying PostgreSQL migrations")?;
        let writer = pool.clone();
        let ingest = super::batch::spawn(move |jobs| {
            let pool = writer.clone();
            async move { flush_events(pool.begin().await, jobs).await }
        });
        Ok(Self { pool, ingest })
    }
}

async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // Replicas starting together take turns; the lock ends with the transaction.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    for (version, sql) in MIGRATIONS {
        let done: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if done.is_none() {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(crate::clock::now())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

impl_store!(PostgresStore, "postgres");
impl_prompt_store!(PostgresStore);
