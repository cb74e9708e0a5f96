//! The SQLite backend: the default, one file in WAL mode so readers never wait for the writer,
//! with its migrations embedded in the binary.

use std::str::FromStr;

use std::sync::Arc;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};

/// SQLite's migrations, applied in order, each once.
const MIGRATIONS: [(i64, &str); 6] = [
    (1, include_str!("../../migrations/sqlite/0001_apps.sql")),
    (2, include_str!("../../migrations/sqlite/0002_outcomes.sql")),
    (3, include_str!("../../migrations/sqlite/0003_prompts.sql")),
    (
        4,
        include_str!("../../migrations/sqlite/0004_prompt_actions_target.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_impression_order.sql"),
    ),
    (
        6,
        include_str!("../../migrations/sqlite/0006_drop_events_by_session.sql"),
    ),
];

/// Storage on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The group-commit writer for event batches.
    ingest: tokio::sync::mpsc::Sender<super::batch::Job>,
}

impl super::sql::Backend for SqliteStore {
    type Db = sqlx::Sqlite;
}

impl SqliteStore {
    /// Opens (creating if missing) the SQLite database at `url` and applies migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid SQLite URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Durability: with WAL, NORMAL survives a crash of the process (a committed batch is
            // in the WAL before the 200), which is what ingest promises; an OS crash or power loss
            // may lose the last commits since the previous checkpoint's sync.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5))
            // A group commit inserts hundreds of events with `RETURNING`; the default buffer of 50
            // rows would make the connection's thread wait for the writer task mid-statement.
            .row_buffer_size(4096);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A local file does not drop connections; a ping per acquire would only add latency.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .context("opening the SQLite database")?;
        migrate(&pool).await.context("applying SQLite migrations")?;
        // Event ingest writes through one connection of its own, outside the pool: SQLite has
        // one writer at a time anyway, and the group-commit task never waits for the pool.
        let writer = Arc::new(tokio::sync::Mutex::new(
            options
                .connect()
                .await
                .context("opening the SQLite ingest connection")?,
        ));
        let ingest = super::batch::spawn(move |jobs| {
            let writer = writer.clone();
            async move {
                let mut conn = writer.lock().await;
                flush_events(conn.begin().await, jobs).await;
            }
        });
        Ok(Self { pool, ingest })
    }
}

async fn migrate(pool: &SqlitePool) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .execute(pool)
    .await?;
    for (version, sql) in MIGRATIONS {
        let mut tx = pool.begin().await?;
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
        tx.commit().await?;
    }
    Ok(())
}

impl_store!(SqliteStore, "sqlite");
impl_prompt_store!(SqliteStore);
