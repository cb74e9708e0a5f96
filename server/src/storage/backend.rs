//! What ties a backend to its database: its pool, its sqlx database, and the few things the
//! shared code needs to know of each database (how a transaction begins, `SKIP LOCKED`, rows
//! changed, per-customer locks). A leaf: it imports nothing else of the storage.

/// A backend's connection pool, for the use cases implemented once for both backends.
pub trait Pooled: Backend {
    /// The pool every use case runs on.
    fn pool(&self) -> &sqlx::Pool<Self::Db>;
}

/// Ties a backend struct to its sqlx database, so the shared code can name its transaction type.
/// Each backend implements its own ingest log ([`super::IngestLog`]) in plain code.
pub trait Backend {
    /// The sqlx database.
    type Db: Driver;
    /// How a use case's transaction starts (the database's [`Driver::BEGIN`]).
    const BEGIN: &'static str = <Self::Db as Driver>::BEGIN;
    /// What a claim of queued rows appends to its `SELECT` so replicas claim different rows
    /// (the database's [`Driver::SKIP_LOCKED`]).
    const SKIP_LOCKED: &'static str = <Self::Db as Driver>::SKIP_LOCKED;
    /// How many rows a statement changed.
    fn rows_affected(result: &<Self::Db as sqlx::Database>::QueryResult) -> u64 {
        <Self::Db as Driver>::rows_affected(result)
    }
}

/// What the generic use cases need of a database that sqlx has no trait for.
pub trait Driver: sqlx::Database {
    /// The backend's name, as `/v1/health` reports it.
    const NAME: &'static str;
    /// How a use case's transaction starts. SQLite's `BEGIN IMMEDIATE` takes the write lock
    /// first (waiting up to the busy timeout): a deferred transaction that reads and then writes
    /// fails at once with `SQLITE_BUSY_SNAPSHOT` when another connection wrote in between.
    const BEGIN: &'static str;
    /// What a claim of queued rows appends to its `SELECT` so replicas claim different rows
    /// (`FOR UPDATE SKIP LOCKED` on PostgreSQL; nothing on SQLite, whose writer is alone).
    const SKIP_LOCKED: &'static str;
    /// How many rows a statement changed (each driver answers it in its own result type).
    fn rows_affected(result: &Self::QueryResult) -> u64;
    /// Takes the per-customer locks (keyed `app\ncustomer`, see `sql::Touched::lock_keys`) for the
    /// rest of the transaction on `conn`: a write reads a customer's contributions before and
    /// after it, and nothing else may change them in between.
    fn lock_customers<'a>(
        conn: &'a mut Self::Connection,
        keys: &'a [String],
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send + 'a;
}

impl Driver for sqlx::Sqlite {
    const NAME: &'static str = "sqlite";
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const SKIP_LOCKED: &'static str = "";
    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
    /// None: SQLite's one writer holds the database for the transaction (`BEGIN IMMEDIATE`).
    async fn lock_customers(_: &mut sqlx::SqliteConnection, _: &[String]) -> anyhow::Result<()> {
        Ok(())
    }
}

impl Driver for sqlx::Postgres {
    const NAME: &'static str = "postgres";
    const BEGIN: &'static str = "BEGIN";
    const SKIP_LOCKED: &'static str = "FOR UPDATE SKIP LOCKED";
    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }
    /// Transaction-scoped advisory locks, taken in the order of their lock ids so two writers
    /// never wait on each other in a cycle.
    async fn lock_customers(conn: &mut sqlx::PgConnection, keys: &[String]) -> anyhow::Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtext(k)) FROM \
             (SELECT k FROM unnest($1::text[]) AS k ORDER BY hashtext(k)) AS sorted",
        )
        .bind(keys)
        .execute(conn)
        .await?;
        Ok(())
    }
}
