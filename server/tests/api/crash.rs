//! Crash durability: clients send event batches while the server process is killed with SIGKILL
//! several times and restarted on the same database. Every acknowledged batch must be counted,
//! and resending every batch (acknowledged or not) must leave the counts exact. On SQLite, and on
//! the real PostgreSQL of `scripts/test`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{cli, customer, event, now, server_process, uuid};

/// The server as a process on `db`, without rate limits in the way; its base URL.
fn start(db: &str) -> (std::process::Child, String) {
    server_process(
        db,
        &[
            ("HOLDFAST_RATE_LIMIT_PER_SECOND", "100000"),
            ("HOLDFAST_RATE_LIMIT_BURST", "100000"),
            ("RUST_LOG", "error"),
        ],
    )
}

/// One cancel session as a batch: started, then confirmed (the server records the outcome).
fn batch(i: usize) -> Value {
    let s = uuid();
    let t = now() * 1000 - 60_000;
    json!({ "customer": customer(&format!("cus_{i}")), "events": [
        event("flow_started", &s, t, json!({})),
        event("cancel_confirmed", &s, t + 1000, json!({})),
    ]})
}

async fn totals(base: &str, app_id: &str, key: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{base}/v1/admin/apps/{app_id}/stats"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    body["totals"].clone()
}

async fn killed_mid_load_loses_nothing(db: &str) {
    let created: Value =
        serde_json::from_str(&cli(db, &["apps", "create", "--name", "Crash", "--json"])).unwrap();
    let app_id = created["app_id"].as_str().unwrap().to_string();
    let key = created["test"]["admin_key"].as_str().unwrap().to_string();
    let sent: Arc<Mutex<Vec<(Value, bool)>>> = Arc::default();
    let mut next = 0_usize;
    for _round in 0..3 {
        let (mut server, base) = start(db);
        let deadline = Instant::now() + Duration::from_millis(700);
        let clients: Vec<_> = (0..4)
            .map(|c| {
                let (base, app_id, sent) = (base.clone(), app_id.clone(), sent.clone());
                let first = next + c * 10_000;
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    for i in first.. {
                        let body = batch(i);
                        let r = http
                            .post(format!("{base}/v1/apps/{app_id}/events"))
                            .json(&body)
                            .timeout(Duration::from_secs(5))
                            .send()
                            .await;
                        let acked = r.is_ok_and(|r| r.status() == 200);
                        sent.lock().unwrap().push((body, acked));
                        if !acked || Instant::now() > deadline + Duration::from_secs(2) {
                            break;
                        }
                    }
                })
            })
            .collect();
        next += 40_000;
        tokio::time::sleep(deadline - Instant::now()).await;
        server.kill().unwrap();
        server.wait().unwrap();
        for c in clients {
            c.await.unwrap();
        }
    }
    let sent = sent.lock().unwrap().clone();
    let acked = sent.iter().filter(|(_, a)| *a).count() as i64;
    assert!(acked > 20, "the load got through between kills: {acked}");

    let (mut server, base) = start(db);
    let t = totals(&base, &app_id, &key).await;
    let (sessions, cancels) = (
        t["sessions"].as_i64().unwrap(),
        t["cancels"].as_i64().unwrap(),
    );
    assert!(
        sessions >= acked,
        "every acknowledged session is counted: {sessions} < {acked}"
    );
    assert!(
        cancels >= acked,
        "and its recorded cancellation: {cancels} < {acked}"
    );
    // Resending everything, acknowledged or not, makes the counts exact.
    let http = reqwest::Client::new();
    for (body, _) in &sent {
        let r = http
            .post(format!("{base}/v1/apps/{app_id}/events"))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let t = totals(&base, &app_id, &key).await;
    let all = sent.len() as i64;
    let backend = if db.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    println!(
        "{backend}: {acked} of {all} batches acknowledged across 3 kills; all counted once after resending"
    );
    assert_eq!(
        (t["sessions"].as_i64(), t["cancels"].as_i64()),
        (Some(all), Some(all)),
        "each session once, however often it was sent"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_acknowledged_batch_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("crash.db").display());
    killed_mid_load_loses_nothing(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_acknowledged_batch_on_postgres() {
    let Ok(db) = std::env::var("HOLDFAST_TEST_POSTGRES_URL") else {
        println!(
            "skipped PostgreSQL: HOLDFAST_TEST_POSTGRES_URL is not set (scripts/test sets it)"
        );
        return;
    };
    killed_mid_load_loses_nothing(&db).await;
}
