//! Reports at scale: `GET /v1/admin/apps/{app}/stats` and an experiment's report over a million
//! cancel sessions started in the last 30 days (a large B2C app's month), each against a
//! `count(*)` of the same range measured in the same run on the same database, so the ratio says
//! what the report costs beyond touching the range once (goal: at most 10x).
//!
//! The experiment report reads the experiments' rollup (`storage::arms`): rows per arm and hour,
//! plus the customers exposed in the hour its metric's cut falls in.
//!
//! Run with `BENCH_ONLY=stats cargo bench -p holdfast-server --bench stats` (the other
//! scenarios' `BENCH_ONLY` values skip it). SQLite always; PostgreSQL too when
//! `HOLDFAST_TEST_POSTGRES_URL` is set (`scripts/postgres start`; `STATS_BACKEND=postgres` for it
//! alone). `STATS_SESSIONS` changes the million.
//!
//! The sessions are loaded through `Store::import_sessions`, the fold's own upsert with its
//! rollup bookkeeping, many thousands per transaction (the same rows and rollups the event fold
//! writes, without a million HTTP requests); a share of customers reopen within 30 minutes
//! (duplicates) or bounce; a quarter of the customers are exposed to the demo's experiment, and
//! some churn (lifecycle events, recorded one by one as the API does).

use holdfast_server::storage::Scope;
use std::time::{Duration, Instant};

use holdfast_server::keys::{Mode, admin_key_from};
use holdfast_server::storage::{LifecycleRecord, NewApp, SessionFacts, Storage};
use holdfast_server::{AppState, Settings, serve};

const APP: &str = "app_stats_bench";
const DAY: i64 = 86_400;
const RUNS: usize = 5;

fn main() -> anyhow::Result<()> {
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if !only.is_empty() && only != "stats" {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sessions: usize = std::env::var("STATS_SESSIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000);
        let dir = tempfile::tempdir()?;
        let sqlite = format!("sqlite://{}", dir.path().join("stats.db").display());
        // `STATS_BACKEND=postgres` measures PostgreSQL only.
        if std::env::var("STATS_BACKEND")
            .ok()
            .is_none_or(|b| b == "sqlite")
        {
            run("sqlite", &sqlite, sessions, dir.path()).await?;
        }
        if let Ok(url) = std::env::var("HOLDFAST_TEST_POSTGRES_URL") {
            run("postgres", &url, sessions, dir.path()).await?;
        }
        Ok(())
    })
}

/// A small deterministic generator (xorshift), so every run loads the same story.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn run(
    backend: &str,
    url: &str,
    sessions: usize,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let storage = Storage::open(url).await?;
    // A fresh app per run: a reused PostgreSQL database keeps earlier runs' rows apart.
    let app_id = format!("{APP}_{}", holdfast_server::clock::now());
    let now = holdfast_server::clock::now();
    // Its own admin key too: a key's id is its first characters, unique across apps.
    let key = format!("hfk_{now}_stats_bench_0000000000");
    storage
        .ensure_app(&NewApp {
            id: app_id.clone(),
            name: "stats bench".into(),
            origins: vec![],
            config_json: serde_json::to_string(&holdfast_server::demo::demo_config())?,
            now,
        })
        .await?;
    storage
        .add_admin_key(&admin_key_from(&app_id, Mode::Test, "bench", &key, now).stored)
        .await?;

    let loaded = Instant::now();
    let (customers, exposed) = load(&storage, &app_id, sessions, now).await?;
    let load_time = loaded.elapsed();
    if !url.starts_with("sqlite:") {
        // What autovacuum would do after a bulk load: without statistics the planner takes the
        // freshly filled tables for empty and scans them for each customer lookup.
        let pool = sqlx::PgPool::connect(url).await?;
        sqlx::query("ANALYZE").execute(&pool).await?;
    }

    let state = AppState::with_settings(storage.clone(), dir, Settings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(serve(listener, state, std::future::pending()));
    let client = reqwest::Client::new();

    let from = now - 30 * DAY;
    let count_url = url.to_string();
    let count = median(RUNS, || {
        let (url, app_id) = (count_url.clone(), app_id.clone());
        async move { count_range(&url, &app_id, from, now + 1).await }
    })
    .await?;
    let stats_url = format!(
        "{base}/v1/admin/apps/{app_id}/stats?from={from}&to={}",
        now + 1
    );
    let stats = median(RUNS, || get(&client, &key, &stats_url)).await?;
    let report_url = format!(
        "{base}/v1/admin/apps/{app_id}/experiments/{}/report",
        holdfast_server::demo::DEMO_EXPERIMENT
    );
    let report = median(RUNS, || get(&client, &key, &report_url)).await?;
    let revenue_url = format!("{report_url}?metric=net_revenue_90d");
    let revenue = median(RUNS, || get(&client, &key, &revenue_url)).await?;
    let body: serde_json::Value = client
        .get(&stats_url)
        .bearer_auth(&key)
        .send()
        .await?
        .json()
        .await?;

    let read: serde_json::Value = client
        .get(&report_url)
        .bearer_auth(&key)
        .send()
        .await?
        .json()
        .await?;
    let units: u64 = read["variants"]
        .as_array()
        .map_or(0, |v| v.iter().filter_map(|a| a["units"].as_u64()).sum());
    println!(
        "{backend}: the report counts {units} units and {} pending ({exposed} exposed): {}",
        read["pending_units"], read["verdict_reason"]
    );
    println!(
        "{backend}: {sessions} sessions of {customers} customers ({exposed} exposed) loaded in {:.1}s; \
         the report counts {} sessions, {} bounces, {} duplicates",
        load_time.as_secs_f64(),
        body["totals"]["sessions"],
        body["totals"]["bounces"],
        body["totals"]["duplicates"],
    );
    println!(
        "{backend}: count(*) of the range {:>8.1} ms | GET /stats {:>8.1} ms ({:.1}x) | experiment report (save_rate) {:>8.1} ms ({:.1}x) | (net_revenue_90d) {:>8.1} ms ({:.1}x)   (medians of {RUNS})",
        ms(count),
        ms(stats),
        stats.as_secs_f64() / count.as_secs_f64(),
        ms(report),
        report.as_secs_f64() / count.as_secs_f64(),
        ms(revenue),
        revenue.as_secs_f64() / count.as_secs_f64(),
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn median<F, Fut>(runs: usize, mut f: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    // One warm-up, then the median.
    f().await?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await?;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    Ok(times[runs / 2])
}

async fn get(client: &reqwest::Client, key: &str, url: &str) -> anyhow::Result<()> {
    let r = client.get(url).bearer_auth(key).send().await?;
    anyhow::ensure!(r.status() == 200, "{url}: {}", r.status());
    r.bytes().await?;
    Ok(())
}

/// `SELECT count(*)` of the sessions in range, on its own connection (as a report's pool would).
async fn count_range(url: &str, app_id: &str, from: i64, to: i64) -> anyhow::Result<()> {
    const COUNT: &str = "SELECT COUNT(*) FROM sessions WHERE app_id = $1 AND live = $2 \
         AND started_at >= $3 AND started_at < $4";
    let n: (i64,) = if url.starts_with("sqlite:") {
        let pool = count_pool_sqlite(url).await?;
        sqlx::query_as(COUNT)
            .bind(app_id)
            .bind(false)
            .bind(from)
            .bind(to)
            .fetch_one(&pool)
            .await?
    } else {
        let pool = count_pool_postgres(url).await?;
        sqlx::query_as(COUNT)
            .bind(app_id)
            .bind(false)
            .bind(from)
            .bind(to)
            .fetch_one(&pool)
            .await?
    };
    anyhow::ensure!(n.0 > 0, "the range has sessions");
    Ok(())
}

async fn count_pool_sqlite(url: &str) -> anyhow::Result<sqlx::SqlitePool> {
    static POOL: tokio::sync::OnceCell<sqlx::SqlitePool> = tokio::sync::OnceCell::const_new();
    Ok(POOL
        .get_or_try_init(|| sqlx::SqlitePool::connect(url))
        .await?
        .clone())
}

async fn count_pool_postgres(url: &str) -> anyhow::Result<sqlx::PgPool> {
    static POOL: tokio::sync::OnceCell<sqlx::PgPool> = tokio::sync::OnceCell::const_new();
    Ok(POOL
        .get_or_try_init(|| sqlx::PgPool::connect(url))
        .await?
        .clone())
}

/// Loads `n` sessions over the last 30 days; returns how many customers and how many exposed.
async fn load(
    storage: &Storage,
    app_id: &str,
    n: usize,
    now: i64,
) -> anyhow::Result<(usize, usize)> {
    const REASONS: [&str; 6] = [
        "too_expensive",
        "not_using",
        "missing_feature",
        "switching",
        "temporary",
        "other",
    ];
    const PLANS: [(&str, i64); 3] = [("starter", 1900), ("pro", 4900), ("team", 14_900)];
    const TENURE: [&str; 4] = ["0-30d", "31-90d", "91-365d", "365d+"];
    const VARIANTS: [&str; 3] = ["control", "deeper", "holdout"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let customers = n * 3 / 5;
    let mut batch: Vec<(String, SessionFacts)> = Vec::with_capacity(20_000);
    let mut exposed = std::collections::BTreeMap::<usize, &str>::new();
    let mut i = 0;
    while i < n {
        let customer = rng.below(customers as u64) as usize;
        let started_at = now - 1 - rng.below(30 * DAY as u64) as i64;
        let (plan, mrr) = PLANS[rng.below(3) as usize];
        let reason = REASONS[rng.below(6) as usize];
        let in_experiment = customer.is_multiple_of(4);
        let variant = in_experiment.then(|| VARIANTS[customer % 3]);
        if let Some(v) = variant {
            exposed.insert(customer, v);
        }
        let roll = rng.below(100);
        let mut facts = SessionFacts {
            customer_id: format!("cus_{customer}"),
            started_at,
            week: format!("w{}", (started_at / DAY + 3) / 7),
            plan: plan.into(),
            mrr_cents: mrr,
            tenure_band: TENURE[rng.below(4) as usize].into(),
            variant: variant.map(|v| format!("{}:{v}", holdfast_server::demo::DEMO_EXPERIMENT)),
            interacted: roll >= 3,
            ..SessionFacts::default()
        };
        match roll {
            // A bounce: closed two seconds after it opened.
            0..=2 => {
                facts.abandoned = true;
                facts.closed_at = Some(started_at + 2);
            }
            3..=30 => {
                facts.reason = Some(reason.into());
                facts.saved = true;
                facts.saved_at = Some(started_at + 40);
                let pause = rng.below(3) == 0;
                facts.offer_kind = Some(if pause { "pause" } else { "discount" }.into());
                facts.offer_id = Some(if pause { "pause_2" } else { "discount_25" }.into());
                facts.offer_months = if pause { 2 } else { 3 };
                facts.offer_cost_cents = if pause { 2 * mrr } else { mrr * 25 / 100 * 3 };
            }
            31..=80 => {
                facts.reason = Some(reason.into());
                facts.cancelled = true;
            }
            _ => {
                facts.reason = Some(reason.into());
                facts.abandoned = true;
                facts.closed_at = Some(started_at + 90);
            }
        }
        // One session in twenty is reopened ten minutes later: a duplicate.
        if rng.below(20) == 0 && i + 1 < n {
            let mut again = facts.clone();
            again.started_at += 600;
            again.closed_at = again.closed_at.map(|c| c + 600);
            again.saved_at = again.saved_at.map(|c| c + 600);
            batch.push((format!("s_{i}"), again));
            i += 1;
        }
        batch.push((format!("s_{i}"), facts));
        i += 1;
        if batch.len() >= 20_000 {
            storage
                .import_sessions(Scope::new(app_id, false), &batch)
                .await?;
            batch.clear();
        }
    }
    storage
        .import_sessions(Scope::new(app_id, false), &batch)
        .await?;

    for (customer, variant) in &exposed {
        let at = now - 31 * DAY + (*customer as i64 % (30 * DAY));
        storage
            .record_exposures(
                Scope::new(app_id, false),
                &format!("cus_{customer}"),
                &[(
                    holdfast_server::demo::DEMO_EXPERIMENT.to_string(),
                    (*variant).to_string(),
                )],
                at,
            )
            .await?;
    }
    // Some customers churn within the month; a few of them come back.
    for k in 0..(n / 100) {
        let customer = rng.below(customers as u64);
        let at = now - rng.below(20 * DAY as u64) as i64;
        let record = LifecycleRecord {
            customer_id: format!("cus_{customer}"),
            kind: if k.is_multiple_of(10) {
                "resumed"
            } else {
                "churned"
            }
            .into(),
            at,
            plan: None,
            mrr_cents: None,
        };
        storage
            .record_lifecycle(Scope::new(app_id, false), &record)
            .await?;
    }
    Ok((customers, exposed.len()))
}
