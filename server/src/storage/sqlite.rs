//! The SQLite backend: the default, one file in WAL mode so readers never wait for the writer,
//! with its migrations embedded in the binary.
//!
//!
//! The ingest log is not a table here but append-only files in `<file>.ingest-log/` (see
//! `filelog` for why and how): a request appends its batch from its own thread, never waiting for
//! a connection thread or for the aggregator's write lock. The aggregator reads the records past
//! the folded key, folds them and advances the key in `ingest_progress` in one transaction,
//! then deletes the segment files it has folded entirely; a record at or below the key is never
//! folded again, even if the process stopped before its segment was deleted.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqliteConnection, SqlitePool};

use super::filelog::FileLog;

/// SQLite's migrations (`migrations/sqlite`), embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Storage on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The ingest log's files (none when opened for administration).
    log: Option<Arc<FileLog>>,
    /// How far the log is folded, and what is left.
    progress: Arc<Progress>,
    /// Folds the ingest log into events, sessions and prompt state.
    aggregator: super::aggregate::Aggregator,
}

/// The folded key and the backlog, kept in memory: `settle` and `ingest_status` need no query.
#[derive(Debug, Default)]
struct Progress {
    /// `ingest_progress.folded_up_to` as last committed by this store.
    folded_up_to: AtomicI64,
    /// Records appended and not folded yet.
    backlog_rows: AtomicI64,
    /// Events in them.
    backlog_events: AtomicI64,
}

impl super::backend::Backend for SqliteStore {
    type Db = sqlx::Sqlite;
}

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
            // Durability: with WAL, NORMAL survives a crash of the process (a commit is in the
            // WAL before it returns); an OS crash or power loss may lose the last commits since
            // the previous checkpoint's sync. The ingest log gives the same guarantee.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A local file does not drop connections; a ping per acquire would only add latency.
            .test_before_acquire(false)
            .connect_with(main.clone())
            .await
            .context("opening the SQLite database")?;
        migrate(&pool).await.context("applying SQLite migrations")?;
        if options.log {
            super::sql::Queries::<sqlx::Sqlite>::build_rollups_if_missing(&pool)
                .await
                .context("building the stats rollups")?;
        }
        let (folded_up_to,): (i64,) =
            sqlx::query_as("SELECT folded_up_to FROM ingest_progress WHERE id = 1")
                .fetch_one(&pool)
                .await?;
        if !options.log {
            let aggregator = super::aggregate::Aggregator::spawn(options, |_| async {
                anyhow::bail!("this store was opened without its ingest log")
            });
            return Ok(Self {
                pool,
                log: None,
                progress: Arc::new(Progress::default()),
                aggregator,
            });
        }
        let dir = sibling(main.get_filename(), ".ingest-log");
        let (log, backlog) = FileLog::open(&dir, folded_up_to)
            .with_context(|| format!("opening the ingest log in {}", dir.display()))?;
        let log = Arc::new(log);
        let progress = Arc::new(Progress {
            folded_up_to: AtomicI64::new(folded_up_to),
            backlog_rows: AtomicI64::new(backlog.rows),
            backlog_events: AtomicI64::new(backlog.events),
        });
        import_table_log(
            &sibling(main.get_filename(), ".ingest"),
            folded_up_to,
            &log,
            &progress,
        )
        .await
        .context("moving the ingest log table to the ingest log files")?;

        // The aggregator's connection: inserting thousands of events keyed by random UUIDs per
        // pass touches many index pages; a 64 MiB page cache keeps them in memory across passes,
        // and checkpointing every 10,000 pages rather than 1,000 copies a page rewritten by
        // several passes into the database once.
        // Its commits are synced (`FULL`): a segment is deleted only after the folded key that
        // covers it is on disk, so no crash can leave the key behind a deleted segment.
        let folder = main
            .clone()
            .synchronous(SqliteSynchronous::Full)
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "10000")
            .connect()
            .await
            .context("opening the SQLite aggregator connection")?;
        let folder = Arc::new(tokio::sync::Mutex::new(folder));
        let (pass_log, pass_progress) = (log.clone(), progress.clone());
        let aggregator = super::aggregate::Aggregator::spawn(options, move |max_rows| {
            let (folder, log, progress) = (folder.clone(), pass_log.clone(), pass_progress.clone());
            async move { fold_pass(&mut *folder.lock().await, &log, &progress, max_rows).await }
        });
        Ok(Self {
            pool,
            log: Some(log),
            progress,
            aggregator,
        })
    }

    /// Appends a row to the log files, from the calling thread: one positional write of a few
    /// kilobytes under a mutex, durable against a process crash once it returns.
    fn append_to_log(&self, row: &super::batch::LogRow) -> anyhow::Result<()> {
        self.log
            .as_ref()
            .context("this store was opened for administration, without its ingest log")?
            .append(
                &row.app_id,
                row.live,
                row.received_at,
                row.events,
                &row.body,
            )
            .context("appending to the ingest log")?;
        self.progress.backlog_rows.fetch_add(1, Ordering::Relaxed);
        self.progress
            .backlog_events
            .fetch_add(row.events, Ordering::Relaxed);
        self.aggregator.shared.appended.notify_one();
        Ok(())
    }
}

#[async_trait::async_trait]
impl super::IngestLog for SqliteStore {
    async fn ingest(
        &self,
        scope: super::Scope<'_>,
        batch: &super::IngestBatch<'_>,
    ) -> anyhow::Result<super::IngestOutcome> {
        let row = super::batch::LogRow::of(scope, batch)?;
        self.append_to_log(&row)?;
        row.outcome()
    }

    /// Waits until every record appended before the call is folded; free when nothing is left.
    async fn settle(&self) -> anyhow::Result<()> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let target = log.last_id();
        if self.progress.folded_up_to.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        self.aggregator.settle(target).await
    }

    /// The backlog and the aggregator's progress, from memory.
    async fn ingest_status(&self) -> anyhow::Result<super::IngestStatus> {
        Ok(super::IngestStatus {
            backlog_rows: self.progress.backlog_rows.load(Ordering::Relaxed),
            backlog_events: self.progress.backlog_events.load(Ordering::Relaxed),
            folded_events: self.aggregator.folded(),
        })
    }

    fn attach_metrics(&self, metrics: Arc<crate::metrics::Metrics>) {
        self.aggregator.attach_metrics(metrics);
    }
}

/// `holdfast.db` with `suffix` appended: where the database keeps its ingest log.
fn sibling(main: &Path, suffix: &str) -> PathBuf {
    let mut name = main.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// An earlier version kept the log in a SQLite table in `<file>.ingest`: moves the rows it had
/// not folded to the log files and deletes it. Should the process stop before the deletion, the
/// rows are moved again; folding them twice changes nothing (every effect is keyed by event id).
async fn import_table_log(
    path: &Path,
    folded_up_to: i64,
    log: &FileLog,
    progress: &Progress,
) -> anyhow::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let mut conn = SqliteConnectOptions::new().filename(path).connect().await?;
    let rows: Vec<(String, bool, i64, i64, String)> = sqlx::query_as(
        "SELECT app_id, live, received_at, events, body FROM ingest_log WHERE id > $1 ORDER BY id",
    )
    .bind(folded_up_to)
    .fetch_all(&mut conn)
    .await?;
    conn.close().await?;
    for (app_id, live, received_at, events, body) in rows {
        log.append(&app_id, live, received_at, events, &body)?;
        progress.backlog_rows.fetch_add(1, Ordering::Relaxed);
        progress.backlog_events.fetch_add(events, Ordering::Relaxed);
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = sibling(path, suffix);
        if file.exists() {
            std::fs::remove_file(file)?;
        }
    }
    Ok(())
}

/// One aggregator pass: reads and decodes up to `max_rows` records past the folded key from the
/// log files (on a blocking thread), folds them and advances the key in one transaction (the key's update
/// comes first and only succeeds if nobody else advanced it meanwhile; it also takes the write
/// lock before anything is read inside), then deletes the segments folded entirely.
async fn fold_pass(
    conn: &mut SqliteConnection,
    log: &Arc<FileLog>,
    progress: &Progress,
    max_rows: usize,
) -> anyhow::Result<super::aggregate::Pass> {
    let folded_up_to = progress.folded_up_to.load(Ordering::Acquire);
    let reader = log.clone();
    let (decoded, events) = tokio::task::spawn_blocking(move || {
        let records = reader.read_after(folded_up_to, max_rows)?;
        let events: i64 = records.iter().map(|r| r.events).sum();
        let rows = records
            .into_iter()
            .map(|r| (r.id, r.app_id, r.live, r.received_at, r.body))
            .collect();
        Ok::<_, std::io::Error>((super::aggregate::decode_rows(rows), events))
    })
    .await??;
    if decoded.rows == 0 {
        return Ok(super::aggregate::Pass::default());
    }
    let (max_id, full, count) = (
        decoded.max_id,
        decoded.rows >= max_rows,
        i64::try_from(decoded.rows)?,
    );
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
        drop(tx);
        let (current,): (i64,) =
            sqlx::query_as("SELECT folded_up_to FROM ingest_progress WHERE id = 1")
                .fetch_one(&mut *conn)
                .await?;
        progress.folded_up_to.store(current, Ordering::Release);
        anyhow::bail!("another store advanced the folded key to {current}; resuming from there");
    }
    let mut pass = super::sql::Queries::<sqlx::Sqlite>::fold_rows(&mut tx, decoded).await?;
    tx.commit().await?;
    progress.folded_up_to.store(max_id, Ordering::Release);
    progress.backlog_rows.fetch_sub(count, Ordering::Relaxed);
    progress.backlog_events.fetch_sub(events, Ordering::Relaxed);
    if let Err(e) = log.remove_folded(max_id) {
        tracing::warn!(error = %e, "deleting folded ingest log segments failed; will retry");
    }
    pass.full = full;
    Ok(pass)
}

/// Moves a database the old runner migrated over to sqlx's table (see
/// [`super::migrations`]), then applies what is newer.
async fn migrate(pool: &SqlitePool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let old: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    )
    .fetch_one(&mut *tx)
    .await?;
    if old > 0 {
        super::migrations::move_versions(&mut tx, &MIGRATOR).await?;
    }
    tx.commit().await?;
    MIGRATOR.run(pool).await?;
    Ok(())
}

impl super::backend::Pooled for SqliteStore {
    fn pool(&self) -> &sqlx::Pool<sqlx::Sqlite> {
        &self.pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{IngestLog, StatsRange, Store};

    fn url(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}", dir.path().join("t.db").display())
    }

    #[tokio::test]
    async fn a_record_that_cannot_be_decoded_is_set_aside_and_blocks_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&url(&dir)).await.unwrap();
        let metrics = Arc::new(crate::metrics::Metrics::default());
        store.attach_metrics(metrics.clone());
        let bad = crate::storage::batch::LogRow {
            app_id: "app_x".into(),
            live: false,
            received_at: 1,
            events: 1,
            body: "{\"c\":\"c1\",\"e\":[{\"bogus\":1}]}".into(),
        };
        store.append_to_log(&bad).unwrap();
        store.settle().await.unwrap();
        let status = store.ingest_status().await.unwrap();
        assert_eq!((status.backlog_rows, status.backlog_events), (0, 0));
        let (failed, error): (i64, String) =
            sqlx::query_as("SELECT COUNT(*), MAX(error) FROM ingest_log_failed")
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(failed, 1);
        assert!(error.contains("bogus"), "{error}");
        assert_eq!(metrics.ingest_rows_set_aside.load(Ordering::Relaxed), 1);
        assert!(
            metrics
                .render()
                .contains("holdfast_ingest_rows_set_aside_total 1\n")
        );
    }

    #[tokio::test]
    async fn rows_left_in_an_ingest_log_table_are_moved_to_the_files_and_folded() {
        let dir = tempfile::tempdir().unwrap();
        let url = url(&dir);
        drop(SqliteStore::open(&url).await.unwrap());
        // What the table-based log of an earlier version left behind: one folded row, one not.
        let mut conn = SqliteConnectOptions::from_str(&format!("{url}.ingest"))
            .unwrap()
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE ingest_log (id INTEGER PRIMARY KEY AUTOINCREMENT, app_id TEXT NOT NULL, \
             live INTEGER NOT NULL, received_at INTEGER NOT NULL, events INTEGER NOT NULL, \
             body TEXT NOT NULL)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let facts = r#"{"customer_id":"c1","started_at":1767571205,"week":"2026-01-05","plan":"pro","mrr_cents":4900,"tenure_band":"365d+","cancelled":true}"#;
        let event = |id: &str| {
            format!(
                r#"{{"id":"{id}","session_id":"s1","kind":"cancel_confirmed","at":1767571205,"payload":"{{}}","customer_id":"c1","session":{facts}}}"#
            )
        };
        for (id, event_id) in [(1, "e-old"), (2, "e-new")] {
            sqlx::query(
                "INSERT INTO ingest_log (id, app_id, live, received_at, events, body) \
                 VALUES ($1, 'app_t', 0, 1, 1, $2)",
            )
            .bind(id)
            .bind(format!(r#"{{"c":"c1","e":[{}]}}"#, event(event_id)))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
        let pool = SqlitePool::connect(&url).await.unwrap();
        sqlx::query("UPDATE ingest_progress SET folded_up_to = 1")
            .execute(&pool)
            .await
            .unwrap();

        let store = SqliteStore::open(&url).await.unwrap();
        assert!(!sibling(Path::new(&dir.path().join("t.db")), ".ingest").exists());
        let range = StatsRange {
            live: false,
            from: 1_767_571_200,
            to: 1_767_571_300,
            now: 1_767_571_300,
        };
        let totals = store.stats("app_t", &range).await.unwrap().totals;
        assert_eq!((totals.sessions, totals.cancels), (1, 1));
        let (events,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(events, 1, "only the row past the folded key was folded");
    }
}
