//! Where the server keeps apps and outcomes.
//!
//! SQLite is the default (one file, WAL, migrations embedded in the binary) so `scripts/run` needs
//! nothing installed; the database URL picks the backend.

use std::str::FromStr;

use anyhow::Context;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// The server's storage: a pool over the database the URL names.
#[derive(Clone, Debug)]
pub struct Storage {
    pool: SqlitePool,
}

impl Storage {
    /// Opens (creating if missing) the database at `url` and applies migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        if !url.starts_with("sqlite:") {
            anyhow::bail!("DATABASE_URL {url:?}: only sqlite: URLs are supported by this build");
        }
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("DATABASE_URL {url:?} is not a valid SQLite URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {url}"))?;
        sqlx::raw_sql(include_str!("../migrations/sqlite/0001_apps.sql"))
            .execute(&pool)
            .await
            .context("applying SQLite migrations")?;
        Ok(Self { pool })
    }

    /// Whether the database answers: the readiness probe.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Makes sure the demo app exists with the default config (idempotent).
    pub async fn ensure_app(
        &self,
        id: &str,
        secret: &str,
        config_json: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO apps (id, secret, live, origins, config, created_at) VALUES (?, ?, 0, '[]', ?, ?)
             ON CONFLICT (id) DO UPDATE SET secret = excluded.secret",
        )
        .bind(id)
        .bind(secret)
        .bind(config_json)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("creating the demo app")?;
        Ok(())
    }

    /// The stored config document of an app, if the app exists.
    pub async fn app_config(&self, id: &str) -> anyhow::Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT config FROM apps WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.0))
    }
}
