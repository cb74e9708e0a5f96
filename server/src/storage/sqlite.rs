//! The SQLite backend: the default, one file in WAL mode so readers never wait for the writer,
//! with its migrations embedded in the binary.
//!
//! SQLite has one writer at a time per database file, and folding the ingest log takes the write
//! lock for tens of milliseconds per pass. So the log lives in a file of its own, `<file>.ingest`:
//! the group-commit writer appends to it through a dedicated connection and never waits for the
//! aggregator, whose own connection attaches it (as do the pool's, for `settle`). A pass reads
//! rows past the folded key, folds them and advances the key in `ingest_progress` in one
//! transaction of the main file, then deletes them from the log; rows folded but not yet deleted
//! (the process stopped in between) are never folded again.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqliteConnection, SqlitePool};

/// SQLite's migrations, applied in order, each once.
const MIGRATIONS: [(i64, &str); 7] = [
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
    (
        7,
        include_str!("../../migrations/sqlite/0007_ingest_log.sql"),
    ),
];

/// Storage on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The group-commit writer that appends event batches to the ingest log.
    ingest: tokio::sync::mpsc::Sender<super::batch::Job>,
    /// Folds the ingest log into events, sessions and prompt state.
    aggregator: super::aggregate::Aggregator,
}

impl super::sql::Backend for SqliteStore {
    type Db = sqlx::Sqlite;
    const UNFOLDED: &'static str = "id > (SELECT folded_up_to FROM ingest_progress)";
}

/// The ingest log file's schema.
const LOG_SCHEMA: &str = include_str!("../../migrations/sqlite/ingest_log.sql");

impl SqliteStore {
    /// Opens (creating if missing) the SQLite database at `url` and applies migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        Self::open_with(url, super::IngestOptions::default()).await
    }

    /// As [`SqliteStore::open`], with explicit aggregator options.
    pub async fn open_with(url: &str, options: super::IngestOptions) -> anyhow::Result<Self> {
        let main = SqliteConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid SQLite URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Durability: with WAL, NORMAL survives a crash of the process (a batch's log row is
            // in the WAL before the 200), which is what ingest promises; an OS crash or power loss
            // may lose the last commits since the previous checkpoint's sync. The log file gets
            // the same setting.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let log_path = log_file(main.get_filename());

        // The ingest writer: the log file is its main database.
        let mut writer = main
            .clone()
            .filename(&log_path)
            .connect()
            .await
            .context("opening the SQLite ingest log")?;
        sqlx::raw_sql(LOG_SCHEMA)
            .execute(&mut writer)
            .await
            .context("creating the ingest log")?;

        let attach = log_path.clone();
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A local file does not drop connections; a ping per acquire would only add latency.
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                let path = attach.clone();
                Box::pin(async move { attach_log(conn, &path).await })
            })
            .connect_with(main.clone())
            .await
            .context("opening the SQLite database")?;
        migrate(&pool).await.context("applying SQLite migrations")?;
        let (folded_up_to,): (i64,) =
            sqlx::query_as("SELECT folded_up_to FROM ingest_progress WHERE id = 1")
                .fetch_one(&pool)
                .await?;
        // Keys must keep growing past the folded key even if the log file was replaced.
        sqlx::query("UPDATE sqlite_sequence SET seq = $1 WHERE name = 'ingest_log' AND seq < $1")
            .bind(folded_up_to)
            .execute(&mut writer)
            .await?;
        sqlx::query(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'ingest_log', $1 \
             WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'ingest_log')",
        )
        .bind(folded_up_to)
        .execute(&mut writer)
        .await?;

        // The aggregator: inserting thousands of events keyed by random UUIDs per pass touches
        // many index pages; a 64 MiB page cache keeps them in memory across passes.
        let mut folder = main
            .clone()
            .row_buffer_size(4096)
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "10000")
            .connect()
            .await
            .context("opening the SQLite aggregator connection")?;
        attach_log(&mut folder, &log_path).await?;
        let folder = Arc::new(tokio::sync::Mutex::new(folder));
        let aggregator = super::aggregate::Aggregator::spawn(options, move |max_rows| {
            let folder = folder.clone();
            async move { fold_pass(&mut *folder.lock().await, max_rows).await }
        });

        let writer = Arc::new(tokio::sync::Mutex::new(writer));
        let shared = aggregator.shared.clone();
        let ingest = super::batch::spawn(move |jobs| {
            let (writer, shared) = (writer.clone(), shared.clone());
            async move {
                let mut conn = writer.lock().await;
                append_log(Ok(&mut *conn), jobs).await;
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

/// The ingest log's file for the database file `main`: `holdfast.db` keeps its log in
/// `holdfast.db.ingest`.
fn log_file(main: &Path) -> PathBuf {
    let mut name = main.as_os_str().to_owned();
    name.push(".ingest");
    PathBuf::from(name)
}

/// Attaches the ingest log file as schema `log`; its unqualified table names resolve there, since
/// the main file has no `ingest_log`.
async fn attach_log(conn: &mut SqliteConnection, path: &Path) -> Result<(), sqlx::Error> {
    sqlx::query("ATTACH DATABASE $1 AS log")
        .bind(path.to_string_lossy().into_owned())
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA log.synchronous = NORMAL")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One aggregator pass: reads up to `max_rows` log rows past the folded key (outside any
/// transaction, so the writer keeps appending), then folds them and advances the key in one
/// transaction of the main file (the key's update comes first and only succeeds if nobody else
/// advanced it meanwhile; it also takes the write lock before anything is read inside), then
/// deletes them from the log. Should the process stop between the two commits, the key says
/// those rows are folded and the next pass deletes them.
async fn fold_pass(
    conn: &mut SqliteConnection,
    max_rows: usize,
) -> anyhow::Result<super::aggregate::Pass> {
    let (folded_up_to,): (i64,) =
        sqlx::query_as("SELECT folded_up_to FROM ingest_progress WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
    let rows: Vec<(i64, String, bool, i64, String)> = sqlx::query_as(
        "SELECT id, app_id, live, received_at, body FROM log.ingest_log WHERE id > $1 \
         ORDER BY id LIMIT $2",
    )
    .bind(folded_up_to)
    .bind(i64::try_from(max_rows)?)
    .fetch_all(&mut *conn)
    .await?;
    let Some(&(max_id, ..)) = rows.last() else {
        return Ok(super::aggregate::Pass::default());
    };
    let full = rows.len() >= max_rows;
    let mut tx = conn.begin().await?;
    let claimed = sqlx::query(
        "UPDATE ingest_progress SET folded_up_to = $1 WHERE id = 1 AND folded_up_to = $2",
    )
    .bind(max_id)
    .bind(folded_up_to)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed != 1 {
        anyhow::bail!("another process is folding this database's ingest log");
    }
    let mut pass = fold_rows(&mut tx, rows).await?;
    tx.commit().await?;
    sqlx::query("DELETE FROM log.ingest_log WHERE id <= $1")
        .bind(max_id)
        .execute(&mut *conn)
        .await?;
    pass.full = full;
    Ok(pass)
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
