//! Ingest and config throughput over loopback, against an axum no-op route measured in the same
//! run on the same machine, so the ratios say what Holdfast's own work costs.
//!
//! Run with `cargo bench -p holdfast-server`. Each scenario runs `CONCURRENCY` keep-alive clients
//! for `DURATION` and reports requests per second and p50/p99 latency:
//!
//! - no-op GET and no-op POST (the same event body, ignored): the ceiling, measured twice: on
//!   bare axum, and behind the layers every Holdfast route has (connect info, tracing, timeout,
//!   request metrics; see `holdfast_server::server_layers`). The targets are against the second,
//!   so they measure the routes' own work; the ratio against bare axum is printed too;
//! - `GET /v1/apps/{app}/config`: served from the in-memory cache (target: at least 0.8x no-op);
//! - `POST /v1/apps/{app}/events`: 5 new events per request, durably appended to the SQLite
//!   backend's ingest log (target: at least 0.5x no-op). The aggregator folds the log into events
//!   and session aggregates concurrently, on the same cores; the bench reports how many events it
//!   folded during the run, the backlog left at the end and how fast a settle drains it;
//! - flood: one client asks for cancel plans (`POST /v1/apps/{app}/cancel-plan`), paced as
//!   subscribers ask, first alone, then while `/events` is flooded: by `WIDGETS` connections that
//!   back off after a refusal as the widget's outbox does, by `CONCURRENCY` that ignore
//!   `Retry-After`, and by `CONCURRENCY` from one source under the default rate limits; the
//!   plan's p99 under the flood against its unloaded p99 (goal: under 3x, or a clean 503 with
//!   `Retry-After`).
//!
//! The server runs on its own runtime (as in its own process), the clients on another; the
//! flood's clients on a third, at the lowest CPU priority, standing in for other machines.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use holdfast_core::Customer;
use holdfast_server::storage::NewApp;
use holdfast_server::{AppState, RateLimit, Settings, Storage, serve, server_layers};
use serde_json::json;

const CONCURRENCY: usize = 32;
/// Connections in the flood of well-behaved widgets (each backs off after a refusal).
const WIDGETS: usize = 256;
const DURATION: Duration = Duration::from_secs(4);
/// Each half of a flood scenario: long enough for a p99 of about 1,500 paced plans.
const FLOOD_DURATION: Duration = Duration::from_secs(10);
const EVENTS_PER_REQUEST: usize = 5;
const APP: &str = "app_bench";

struct Report {
    name: &'static str,
    rps: f64,
    p50: Duration,
    p99: Duration,
    /// Cores this process kept busy (server, clients and aggregator together).
    cores: f64,
    /// Cores the whole machine kept busy: more than `cores` means something else competed.
    machine: f64,
    /// Requests shed with `503` and `Retry-After` (event ingest's admission control: the
    /// widget's outbox sends them again), per second; not counted in `rps`.
    shed: f64,
}

/// CPU seconds this process has used, from `/proc/self/stat` (Linux; 0 elsewhere).
fn process_cpu() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds the machine has spent busy, from `/proc/stat` (Linux; 0 elsewhere).
fn machine_cpu() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(cpu) = stat.lines().next() else {
        return 0.0;
    };
    let ticks: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    let busy: f64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    busy / 100.0
}

/// Lowers the calling thread to the lowest CPU priority (Linux, where `renice` takes a thread
/// id; elsewhere, or without `renice`, the priority stays as it was).
fn lowest_priority() {
    let Ok(thread) = std::fs::read_link("/proc/thread-self") else {
        return;
    };
    let Some(tid) = thread.file_name().and_then(|t| t.to_str()) else {
        return;
    };
    let _ = std::process::Command::new("renice")
        .args(["-n", "19", "-p", tid])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

fn main() -> anyhow::Result<()> {
    // `BENCH_ONLY=stats` is the stats bench's (`benches/stats.rs`).
    if std::env::var("BENCH_ONLY").is_ok_and(|only| only == "stats") {
        return Ok(());
    }
    // The server runs on its own runtime, as it does in its own process in production: the
    // clients' tasks (the flood's among them) never wait in the server's run queue, nor its
    // tasks in theirs. Both have a worker per core and share the machine's cores.
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("server")
        .build()?;
    let clients = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("clients")
        .build()?;
    // The flood's clients stand in for clients on other machines: on one machine they would
    // take half its cores from the server they flood (perf: 51% of the samples during a flood
    // were theirs), so they run at the lowest CPU priority and use only what the server leaves.
    let flooders = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("flooders")
        .on_thread_start(lowest_priority)
        .build()?;
    clients.block_on(run(server.handle().clone(), flooders.handle().clone()))
}

async fn run(
    server: tokio::runtime::Handle,
    flooders: tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    // Opened on the server's runtime, so its log writer and aggregator run there.
    let handle = server.clone();
    let storage = std::thread::spawn(move || handle.block_on(Storage::open(&url)))
        .join()
        .map_err(|_| anyhow::anyhow!("opening the storage panicked"))??;
    storage
        .ensure_app(&NewApp {
            id: APP.into(),
            name: "bench".into(),
            origins: vec![],
            config_json: serde_json::to_string(&holdfast_core::config::AppConfig::default())?,
            now: holdfast_server::clock::now(),
        })
        .await?;
    let settings = Settings {
        rate_limit: RateLimit {
            per_second: 1e9,
            burst: 1e9,
        },
        ..Settings::default()
    };
    let state = AppState::with_settings(storage.clone(), dir.path(), settings);
    let listener = server
        .spawn(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .await??;
    let holdfast = format!("http://{}", listener.local_addr()?);
    server.spawn(serve(listener, state.clone(), std::future::pending()));

    // The baseline twice: bare axum, and behind the layers every Holdfast route has (served with
    // connect info, like the product), so the second ratio isolates the routes' own work.
    fn noop<S: Clone + Send + Sync + 'static>() -> Router<S> {
        Router::new()
            .route("/noop", get(|| async { StatusCode::OK }))
            .route(
                "/noop",
                post(|_: axum::body::Bytes| async { StatusCode::OK }),
            )
    }
    let listener = server
        .spawn(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .await??;
    let bare = format!("http://{}/noop", listener.local_addr()?);
    let bare_router: Router = noop();
    server.spawn(async move { axum::serve(listener, bare_router).await });
    let listener = server
        .spawn(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .await??;
    let stacked = format!("http://{}/noop", listener.local_addr()?);
    let stacked_router = server_layers(noop(), state);
    server.spawn(async move {
        axum::serve(
            listener,
            stacked_router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;
    let config_url = format!("{holdfast}/v1/apps/{APP}/config");
    let events_url = format!("{holdfast}/v1/apps/{APP}/events");

    // Warm up connections and caches.
    let url = config_url.clone();
    measure("warm-up", &client, Duration::from_millis(500), move |c| {
        c.get(&url)
    })
    .await?;

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let get = |url: &String| {
        let url = url.clone();
        move |c: &reqwest::Client| c.get(&url)
    };
    let post = |url: &String| {
        let url = url.clone();
        move |c: &reqwest::Client| c.post(&url).json(&batch())
    };
    // BENCH_ONLY=config, ingest or flood measures that scenario (with its baselines) only.
    let (want_config, want_ingest, want_flood) = match only.as_str() {
        "config" => (true, false, false),
        "ingest" => (false, true, false),
        "flood" => (false, false, true),
        _ => (true, true, true),
    };
    let mut rows = Vec::new();
    let mut config_pair = None;
    if want_config {
        let bare_get = measure("no-op GET bare", &client, DURATION, get(&bare)).await?;
        let noop_get = measure("no-op GET", &client, DURATION, get(&stacked)).await?;
        let config = measure("GET config", &client, DURATION, get(&config_url)).await?;
        config_pair = Some((config.rps, noop_get.rps, bare_get.rps));
        rows.extend([bare_get, noop_get, config]);
    }
    let mut ingest_pair = None;
    let mut aggregation = None;
    if want_ingest {
        let bare_post = measure("no-op POST bare", &client, DURATION, post(&bare)).await?;
        let noop_post = measure("no-op POST", &client, DURATION, post(&stacked)).await?;
        let before = storage.ingest_status().await?;
        let ingest = measure("POST events", &client, DURATION, post(&events_url)).await?;
        // The aggregator ran during the measurement, competing for the same cores; what it had
        // not folded yet is the backlog, drained now by a settle (what a stats read would do).
        let after = storage.ingest_status().await?;
        let settle_started = Instant::now();
        storage.settle().await?;
        let settle_time = settle_started.elapsed();
        let drained = storage.ingest_status().await?;
        ingest_pair = Some((ingest.rps, noop_post.rps, bare_post.rps));
        aggregation = Some((
            after.folded_events - before.folded_events,
            after.backlog_events,
            after.backlog_rows,
            drained.folded_events - after.folded_events,
            settle_time,
        ));
        rows.extend([bare_post, noop_post, ingest]);
    }

    println!();
    println!("What each scenario goes through:");
    println!("  no-op ... bare: axum router, handler returns 200 (POST reads the body)");
    println!("  no-op ...:     the same, behind Holdfast's server layers: connect info, tracing,");
    println!("                request timeout, request metrics");
    println!("  GET config:   server layers + public guard (app id check, rate limit, app cache,");
    println!("                origin check, CORS headers) + ETag check, cached body");
    println!("  POST events:  server layers + public guard + body limit, strict JSON parse,");
    println!(
        "                validation, durable group commit of one ingest-log row per request to"
    );
    println!(
        "                SQLite (WAL, synchronous=NORMAL); meanwhile the aggregator folds the"
    );
    println!("                log into events (idempotent by event id) and session aggregates");
    println!();
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>7} {:>8} {:>8}",
        "scenario", "req/s", "p50", "p99", "cores", "machine", "shed/s"
    );
    for r in &rows {
        println!(
            "{:<16} {:>10.0} {:>10.2?} {:>10.2?} {:>7.2} {:>8.2} {:>8.0}",
            r.name, r.rps, r.p50, r.p99, r.cores, r.machine, r.shed
        );
    }
    println!(
        "(cores: CPU this process used, clients included; machine: CPU used by everything, \
         of {} available)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    if let Some((config, noop, bare)) = config_pair {
        let ratio = config / noop;
        println!(
            "config / no-op GET:  {ratio:.2}x (target >= 0.80x) {} [vs bare: {:.2}x]",
            verdict(ratio, 0.8),
            config / bare
        );
    }
    if want_flood {
        // The flood's own connections, opened from the flooders' runtime.
        let fresh = || {
            reqwest::Client::builder()
                .pool_max_idle_per_host(WIDGETS)
                .build()
        };
        // Many sources at the server's limit (no rate limit): what admission control achieves.
        let plan_url = format!("{holdfast}/v1/apps/{APP}/cancel-plan");
        // Each scenario starts with the log folded: a backlog left by the one before would
        // compete with the "alone" measurement.
        storage.settle().await?;
        flood(
            "many widgets",
            (WIDGETS, true),
            Some(Duration::from_millis(5)),
            &client,
            (&flooders, &fresh()?),
            &plan_url,
            &events_url,
        )
        .await?;
        storage.settle().await?;
        flood(
            "many sources ignoring Retry-After",
            (CONCURRENCY, false),
            Some(Duration::from_millis(5)),
            &client,
            (&flooders, &fresh()?),
            &plan_url,
            &events_url,
        )
        .await?;
        // One source with the default rate limits, from another address than the plan's: the
        // rate limiter answers the flood 429.
        let listener = server
            .spawn(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .await??;
        let limited = format!("http://{}", listener.local_addr()?);
        let defaults = AppState::with_settings(storage.clone(), dir.path(), Settings::default());
        server.spawn(serve(listener, defaults, std::future::pending()));
        let source = reqwest::Client::builder()
            .pool_max_idle_per_host(CONCURRENCY)
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()?;
        // Plans paced at 40 a second: inside the plan client's own rate limit (50 a second).
        storage.settle().await?;
        flood(
            "one source",
            (CONCURRENCY, false),
            Some(Duration::from_millis(25)),
            &client,
            (&flooders, &source),
            &format!("{limited}/v1/apps/{APP}/cancel-plan"),
            &format!("{limited}/v1/apps/{APP}/events"),
        )
        .await?;
    }
    let Some((ingest, noop, bare)) = ingest_pair else {
        return Ok(());
    };
    let ratio = ingest / noop;
    println!(
        "ingest / no-op POST: {ratio:.2}x (target >= 0.50x) {} [vs bare: {:.2}x]",
        verdict(ratio, 0.5),
        ingest / bare
    );
    println!(
        "({EVENTS_PER_REQUEST} events per ingest request: {:.0} events/s durably received)",
        ingest * EVENTS_PER_REQUEST as f64
    );
    if let Some((during, backlog_events, backlog_rows, after, settle_time)) = aggregation {
        println!(
            "aggregator: {during} events folded during the {:.0?} run ({:.0} events/s while \
             competing with ingest); backlog at the end {backlog_events} events in {backlog_rows} \
             log rows, settled in {settle_time:.2?} ({:.0} events/s)",
            DURATION,
            during as f64 / DURATION.as_secs_f64(),
            after as f64 / settle_time.as_secs_f64().max(1e-9),
        );
    }
    Ok(())
}

/// The flood scenario: the cancel plan's latency alone, then while `flooder` floods `/events`
/// from `connections` connections (answered 200, 503 with `Retry-After`, or 429). With `widgets`
/// each connection backs off after a refusal as the widget's outbox does; without, it sends again
/// at once, as a client that ignores `Retry-After` would.
async fn flood(
    label: &str,
    (connections, widgets): (usize, bool),
    pace: Option<Duration>,
    client: &reqwest::Client,
    (flooders, flooder): (&tokio::runtime::Handle, &reqwest::Client),
    plan_url: &str,
    events_url: &str,
) -> anyhow::Result<()> {
    let alone = plans(client, plan_url, Instant::now() + FLOOD_DURATION, pace).await?;
    let deadline = Instant::now() + FLOOD_DURATION;
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let mut tasks = Vec::new();
    for n in 0..connections {
        let (client, url, counts) = (flooder.clone(), events_url.to_string(), counts.clone());
        tasks.push(flooders.spawn(async move {
            // A per-connection xorshift for the widget's jitter.
            let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ (n as u64 + 1);
            let mut failures = 0;
            while Instant::now() < deadline {
                let r = client.post(&url).json(&batch()).send().await?;
                let retry = r.headers().contains_key("retry-after");
                let slot = match r.status() {
                    s if s.is_success() => 0,
                    StatusCode::SERVICE_UNAVAILABLE if retry => 1,
                    StatusCode::TOO_MANY_REQUESTS => 2,
                    s => anyhow::bail!("flood: /events answered {s}"),
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
                let _ = r.bytes().await;
                if !widgets {
                    continue;
                }
                // The widget's outbox: after a refusal, wait 2^attempt seconds times a jitter
                // between 0.5 and 1.5 (at most a minute) before sending again.
                if slot == 0 {
                    failures = 0;
                    continue;
                }
                failures += 1;
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let jitter = 0.5 + (seed % 1000) as f64 / 1000.0;
                let base = f64::from(1u32 << failures.min(6)).min(60.0);
                let wait = Duration::from_secs_f64(base * jitter);
                tokio::time::sleep_until((Instant::now() + wait).min(deadline).into()).await;
            }
            anyhow::Ok(())
        }));
    }
    let flooded = plans(client, plan_url, deadline, pace).await?;
    for f in tasks {
        f.await??;
    }
    let per_second =
        |slot: usize| counts[slot].load(Ordering::Relaxed) as f64 / FLOOD_DURATION.as_secs_f64();
    let ratio = flooded.p99.as_secs_f64() / alone.p99.as_secs_f64().max(1e-9);
    println!(
        "flood, {label}: cancel plan p99 {:.2?} alone, {:.2?} under the flood (/events: {:.0} \
         req/s accepted, {:.0}/s 503 + Retry-After, {:.0}/s 429); plans answered {} alone, {} \
         flooded ({} of them 503 + Retry-After)",
        alone.p99,
        flooded.p99,
        per_second(0),
        per_second(1),
        per_second(2),
        alone.answered,
        flooded.answered,
        flooded.busy,
    );
    println!(
        "flood / alone p99 ({label}): {ratio:.2}x (goal < 3x, or a clean 503 with Retry-After) {}",
        if ratio < 3.0 || flooded.busy > 0 {
            "ok"
        } else {
            "ABOVE GOAL"
        }
    );
    Ok(())
}

/// Cancel plans asked one after another until `deadline`.
struct Plans {
    p99: Duration,
    answered: u64,
    busy: u64,
}

async fn plans(
    client: &reqwest::Client,
    url: &str,
    deadline: Instant,
    pace: Option<Duration>,
) -> anyhow::Result<Plans> {
    let customer = Customer::new("cus_flood_plan", "pro", 4900, 1_600_000_000);
    let body = json!({ "customer": customer, "locales": ["en"] });
    let (mut latencies, mut busy) = (Vec::new(), 0);
    while Instant::now() < deadline {
        if let Some(pace) = pace {
            tokio::time::sleep(pace).await;
        }
        let t = Instant::now();
        let r = client.post(url).json(&body).send().await?;
        let status = r.status();
        let retry_after = r.headers().contains_key("retry-after");
        let _ = r.bytes().await?;
        match status {
            s if s.is_success() => latencies.push(t.elapsed()),
            StatusCode::SERVICE_UNAVAILABLE if retry_after => busy += 1,
            s => anyhow::bail!("flood: the cancel plan answered {s}"),
        }
    }
    latencies.sort();
    let p99 = latencies
        .get(((latencies.len() as f64 * 0.99) as usize).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    Ok(Plans {
        p99,
        answered: latencies.len() as u64 + busy,
        busy,
    })
}

fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio >= target {
        "ok"
    } else {
        "BELOW TARGET"
    }
}

/// A realistic widget flush: one session's events, each with a fresh id so every one is stored.
fn batch() -> serde_json::Value {
    let session = uuid::Uuid::new_v4().to_string();
    let at = holdfast_server::clock::now_ms();
    let kinds = [
        "flow_started",
        "reason_selected",
        "offer_shown",
        "offer_declined",
        "cancel_confirmed",
    ];
    let events: Vec<_> = kinds
        .iter()
        .take(EVENTS_PER_REQUEST)
        .map(|kind| {
            json!({ "id": uuid::Uuid::new_v4().to_string(), "type": kind, "at": at, "session_id": session,
                    "reason": "too_expensive", "offer_id": "discount_25" })
        })
        .collect();
    let customer = Customer::new(format!("cus_{}", &session[..8]), "pro", 4900, 1_600_000_000);
    json!({ "customer": customer, "events": events })
}

async fn measure(
    name: &'static str,
    client: &reqwest::Client,
    duration: Duration,
    request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + 'static + Clone,
) -> anyhow::Result<Report> {
    let deadline = Instant::now() + duration;
    let failures = Arc::new(AtomicU64::new(0));
    let shed = Arc::new(AtomicU64::new(0));
    let (cpu_before, machine_before) = (process_cpu(), machine_cpu());
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, request, failures, shed) = (
            client.clone(),
            request.clone(),
            failures.clone(),
            shed.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                match request(&client).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    Ok(r)
                        if r.status() == StatusCode::SERVICE_UNAVAILABLE
                            && r.headers().contains_key("retry-after") =>
                    {
                        let _ = r.bytes().await;
                        shed.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await?);
    }
    let elapsed = started.elapsed();
    let cores = (process_cpu() - cpu_before) / elapsed.as_secs_f64();
    let machine = (machine_cpu() - machine_before) / elapsed.as_secs_f64();
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        anyhow::bail!("{name}: {failed} requests failed");
    }
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(Report {
        name,
        rps: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        cores,
        machine,
        shed: shed.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
    })
}
