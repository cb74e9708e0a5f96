//! Databases made before the server used sqlx's migrator open with today's code. The fixtures
//! (`tests/fixtures`) were written by `make-upgrade-fixtures` with the server as it was then (its
//! hand-written runner recorded versions in `schema_migrations`): an app made by the CLI, a cancel
//! plan, a declined and a cancelled session. Each test opens a copy, checks that the versions moved
//! to `_sqlx_migrations` and nothing was lost, serves it, writes to it, and opens it again.

use serde_json::json;
use sqlx::Connection;

use crate::helpers::{spawn_app_on, uuid};

/// The fixtures' app and customer.
const FIXTURE_ORIGIN: &str = "http://fixture.example";
const CUSTOMER: &str = "cus_fx_1";

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// How many migrations this build has for `backend`.
fn migrations(backend: &str) -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    std::fs::read_dir(dir).unwrap().count() as i64
}

/// What the upgraded database holds: applied migrations, whether the old table is left, and the
/// fixture app's sessions and events.
async fn contents<C>(conn: &mut C, app: &str) -> (i64, bool, i64, i64)
where
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
    C: Connection,
    for<'q> <C::Database as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, C::Database>,
    for<'q> &'q str: sqlx::Encode<'q, C::Database> + sqlx::Type<C::Database>,
    i64: for<'r> sqlx::Decode<'r, C::Database> + sqlx::Type<C::Database>,
    (i64,): for<'r> sqlx::FromRow<'r, <C::Database as sqlx::Database>::Row>,
{
    let count = async |conn: &mut C, sql: &str| -> i64 {
        sqlx::query_as::<_, (i64,)>(sql)
            .bind(app)
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .0
    };
    let applied = count(
        conn,
        "SELECT count(*) FROM _sqlx_migrations WHERE success AND $1 <> ''",
    )
    .await;
    let sessions = count(conn, "SELECT count(*) FROM sessions WHERE app_id = $1").await;
    let events = count(conn, "SELECT count(*) FROM events WHERE app_id = $1").await;
    let old = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await
        .is_ok();
    (applied, old, sessions, events)
}

/// One start of the server: serves the database and writes to it as the widget does (a cancel
/// plan and a cancelled session, folded), then stops, as a process would, with its runtime.
fn start(url: &str, app: &str) {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(serve_and_write(url, app));
}

async fn serve_and_write(url: &str, app: &str) {
    let server = spawn_app_on(url).await;
    let customer =
        json!({ "id": CUSTOMER, "plan": "pro", "mrr_cents": 4900, "created_at": 1_700_000_000 });
    let plan = server
        .post(&format!("/v1/apps/{app}/cancel-plan"))
        .header("origin", FIXTURE_ORIGIN)
        .json(&json!({ "customer": customer, "locales": ["en"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 200, "{}", plan.text().await.unwrap());
    let (s, at) = (uuid(), holdfast_server::clock::now() * 1000);
    let events = server
        .post(&format!("/v1/apps/{app}/events"))
        .header("origin", FIXTURE_ORIGIN)
        .json(&json!({ "customer": customer, "events": [
            { "id": uuid(), "type": "flow_started", "at": at, "session_id": s },
            { "id": uuid(), "type": "cancel_confirmed", "at": at + 1000, "session_id": s },
        ] }))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200, "{}", events.text().await.unwrap());
    server.storage.settle().await.unwrap();
}

#[test]
fn a_sqlite_database_made_by_the_old_migration_runner_opens_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("holdfast.db");
    std::fs::copy(fixture("upgrade.db"), &path).unwrap();
    let app = std::fs::read_to_string(fixture("upgrade.app")).unwrap();
    let app = app.trim();
    let url = format!("sqlite://{}", path.display());
    let read = || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let read = contents(&mut conn, app).await;
            conn.close().await.unwrap();
            read
        })
    };

    start(&url, app);
    let upgraded = read();
    // A second start finds nothing to move and nothing to apply.
    start(&url, app);
    assert_eq!(
        (upgraded, read()),
        (
            (migrations("sqlite"), false, 3, 8),
            (migrations("sqlite"), false, 4, 10)
        ),
        "every migration recorded by sqlx, the old table gone, the fixture's 2 sessions and \
         6 events kept, and each start's session added"
    );
}

#[test]
fn a_postgres_database_made_by_the_old_migration_runner_opens_with_its_data() {
    let Ok(base) = std::env::var("HOLDFAST_TEST_POSTGRES_URL") else {
        eprintln!("skipped: HOLDFAST_TEST_POSTGRES_URL is not set");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A database of its own: the other PostgreSQL tests share theirs.
    let name = format!("holdfast_upgrade_{}", uuid().replace('-', ""));
    let (prefix, _) = base.split_once('?').unwrap_or((&base, ""));
    let url = format!("{}/{name}", prefix.rsplit_once('/').unwrap().0);
    let admin = async |sql: String| {
        let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::raw_sql(&sql).execute(&mut admin).await.unwrap();
        admin.close().await.unwrap();
    };
    let app: String = runtime.block_on(async {
        admin(format!("CREATE DATABASE {name}")).await;
        let mut restore = sqlx::PgConnection::connect(&url).await.unwrap();
        let dump = std::fs::read_to_string(fixture("upgrade.postgres.sql")).unwrap();
        sqlx::raw_sql(&dump).execute(&mut restore).await.unwrap();
        let app = sqlx::query_scalar("SELECT id FROM public.apps")
            .fetch_one(&mut restore)
            .await
            .unwrap();
        restore.close().await.unwrap();
        app
    });
    let read = || {
        runtime.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            let read = contents(&mut conn, &app).await;
            conn.close().await.unwrap();
            read
        })
    };

    start(&url, &app);
    let upgraded = read();
    start(&url, &app);
    let reopened = read();
    runtime.block_on(admin(format!("DROP DATABASE {name} WITH (FORCE)")));
    assert_eq!(
        (upgraded, reopened),
        (
            (migrations("postgres"), false, 3, 8),
            (migrations("postgres"), false, 4, 10)
        ),
        "every migration recorded by sqlx, the old table gone, the fixture's sessions and \
         events kept, and each start's session added"
    );
}
