//! # holdfast-server
//!
//! The axum server the Holdfast widget reports to and growth teams read from. It serves the built
//! widget, its loader and the demo host page; holds each app's config (validated and versioned);
//! records widget events and offer acceptances; and answers stats. Every decision (is this config
//! valid, was this customer eligible for this offer, which variant is this customer in) is
//! delegated to `holdfast-core`, the same code the widget runs, so the two never disagree.
//!
//! Map of the crate:
//!
//! - [`routes`]: one module per resource; handlers extract, call core or storage, map the result.
//! - [`apps`]: loading the app a request names, CORS, the public guard and the config cache
//!   (the admin guard is `routes::auth`'s, over [`auth`]'s key check).
//! - [`error`] and [`extract`]: one error body for every failure, and extractors that produce it.
//! - [`storage`]: the storage trait and its SQLite and PostgreSQL backends.
//! - [`outcomes`]: how events become the session aggregates stats read; [`session_log`]: those
//!   sessions one by one, with the survey's free text, as growth teams read them.
//! - [`auth`], [`ratelimit`], [`metrics`], [`demo`]: the rest of what running a server takes.
//!
//! [`app`] builds the whole router from an [`AppState`], so tests run it in-process on port 0.

pub mod accounts;
pub mod admission;
pub mod apps;
pub mod audit;
pub mod auth;
pub mod cancel;
pub mod changes;
pub mod clock;
pub mod customers;
pub mod demo;
pub mod error;
pub mod experiments;
pub mod extract;
pub mod funnel;
#[doc(hidden)]
pub mod fuzzing;
pub mod keys;
pub mod metrics;
pub mod operator;
pub mod outcomes;
pub mod ratelimit;
pub mod routes;
pub mod session_log;
pub mod storage;
pub mod text;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use ratelimit::RateLimit;
pub use storage::Storage;

/// The demo app's public id, the one the demo page's script tag names.
pub const DEMO_APP_ID: &str = "app_demo";

/// Tunables that tests and benchmarks change; the defaults suit production.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Per client address and app.
    pub rate_limit: RateLimit,
    /// A request taking longer is answered 408 so slow clients cannot pin connections.
    pub request_timeout: Duration,
    /// Reverse proxies in front of the server. A request from one of them is rate limited by
    /// the client address it reports in `X-Forwarded-For`, so clients behind one proxy do not
    /// share one bucket; from anyone else that header is ignored, so it cannot be forged.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How webhooks are sent.
    pub webhooks: webhooks::WebhookSettings,
    /// Beyond this many unfolded batches, event ingest answers 503 with `Retry-After`.
    pub max_backlog_rows: i64,
    /// A connection must send a request's headers within this time, so slow-header clients
    /// and idle keep-alive connections cannot hold sockets.
    pub header_read_timeout: Duration,
    /// At most this many connections at once; the next wait in the kernel's backlog.
    pub max_connections: usize,
    /// Event batches handled at once (default: one per two cores); the next waits at most a few
    /// milliseconds (without using the CPU, before its body is read) and is then answered 503
    /// with `Retry-After`, so a flood of events leaves the cores to the cancel plan.
    pub ingest_concurrency: usize,
    /// The server runs the demo (`--demo`): the demo page may have customer tokens signed for
    /// the demo app (`POST /demo/token`).
    pub demo: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rate_limit: RateLimit::default(),
            request_timeout: Duration::from_secs(15),
            trusted_proxies: Vec::new(),
            webhooks: webhooks::WebhookSettings::default(),
            max_backlog_rows: storage::MAX_BACKLOG_ROWS,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            // Enough to keep the group commit and every core busy, no more.
            ingest_concurrency: (std::thread::available_parallelism().map_or(2, |n| n.get()) / 2)
                .max(1),
            demo: false,
        }
    }
}

/// What every handler shares; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    storage: Storage,
    dist: PathBuf,
    settings: Settings,
    apps: apps::AppCache,
    limiter: ratelimit::Limiter,
    /// Shared with the storage's aggregator, which counts stored and duplicate events.
    metrics: Arc<metrics::Metrics>,
    /// The demo's webhook inbox (used only with `--demo`).
    inbox: routes::demo::Inbox,
    /// The ingest backlog as last measured, and when (unix ms): measured at most once a second,
    /// so backpressure costs the hot path one atomic load (PostgreSQL counts rows to measure).
    backlog: (std::sync::atomic::AtomicI64, std::sync::atomic::AtomicI64),
    /// Customers whose events were appended to the ingest log lately, and when.
    writers: RecentWriters,
    /// Sign-in attempts per client: ten, then one every six seconds.
    sign_in: ratelimit::Limiter,
    /// The flow editor's draft configs being previewed, by token (memory only).
    previews: routes::preview::Drafts,
}

/// How long after a customer's events were appended their own reads wait for the fold.
const RECENT_WRITE: std::time::Duration = std::time::Duration::from_secs(10);

/// Customers whose events were appended lately (`(app, live, customer)` to when): a read that
/// must see a customer's own events (a plan's sticky variants, prompt caps, a trial's gate hits)
/// waits for the fold only when that customer wrote lately, so a flood of other customers'
/// events never slows it. Bounded: past 100,000 entries the stale ones are dropped.
#[derive(Debug, Default)]
struct RecentWriters(
    std::sync::Mutex<std::collections::HashMap<(String, bool, String), std::time::Instant>>,
);

impl RecentWriters {
    fn note(&self, app_id: &str, live: bool, customer_id: &str) {
        let now = std::time::Instant::now();
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= 100_000 {
            map.retain(|_, at| now.duration_since(*at) < RECENT_WRITE);
        }
        map.insert((app_id.to_string(), live, customer_id.to_string()), now);
    }

    fn wrote_lately(&self, app_id: &str, live: bool, customer_id: &str) -> bool {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(app_id.to_string(), live, customer_id.to_string()))
            .is_some_and(|at| at.elapsed() < RECENT_WRITE)
    }
}

impl AppState {
    /// State over `storage`, serving the built widget and demo page from `dist`.
    pub fn new(storage: Storage, dist: impl Into<PathBuf>) -> Self {
        Self::with_settings(storage, dist, Settings::default())
    }

    /// As [`AppState::new`], with explicit settings.
    pub fn with_settings(storage: Storage, dist: impl Into<PathBuf>, settings: Settings) -> Self {
        let metrics = Arc::new(metrics::Metrics::default());
        storage.attach_metrics(metrics.clone());
        let limiter = ratelimit::Limiter::new(settings.rate_limit);
        Self {
            inner: Arc::new(Inner {
                storage,
                dist: dist.into(),
                settings,
                apps: apps::AppCache::default(),
                limiter,
                metrics,
                inbox: routes::demo::Inbox::default(),
                backlog: Default::default(),
                writers: RecentWriters::default(),
                sign_in: ratelimit::Limiter::new(RateLimit {
                    per_second: 1.0 / 6.0,
                    burst: 10.0,
                }),
                previews: routes::preview::Drafts::default(),
            }),
        }
    }

    /// Whether a client may try to sign in now (ten attempts, then one every six seconds).
    pub fn sign_in_allowed(&self, client: std::net::IpAddr) -> bool {
        self.inner.sign_in.allow(client, "sign-in")
    }

    /// Notes that a customer's events were appended to the ingest log (see [`AppState::settle_for`]).
    pub fn note_write(&self, app_id: &str, live: bool, customer_id: &str) {
        self.inner.writers.note(app_id, live, customer_id);
    }

    /// Waits (at most [`storage::PUBLIC_READ_WAIT`]) for the fold when this customer's own events
    /// were appended lately, so the customer reads what it wrote; otherwise returns at once: a
    /// backlog of other customers' events never delays anyone's plan.
    pub async fn settle_for(&self, app_id: &str, live: bool, customer_id: &str) {
        if self.inner.writers.wrote_lately(app_id, live, customer_id) {
            self.inner
                .storage
                .settle_within(storage::PUBLIC_READ_WAIT)
                .await;
        }
    }

    /// Unfolded batches in the ingest log, measured at most once a second.
    pub async fn backlog_rows(&self) -> anyhow::Result<i64> {
        use std::sync::atomic::Ordering;
        let (rows, at) = &self.inner.backlog;
        let now = clock::now_ms();
        if now - at.load(Ordering::Relaxed) < 1000 {
            return Ok(rows.load(Ordering::Relaxed));
        }
        at.store(now, Ordering::Relaxed);
        let measured = self.inner.storage.ingest_status().await?.backlog_rows;
        rows.store(measured, Ordering::Relaxed);
        Ok(measured)
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The storage, for setup code such as `--demo`.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }
}

/// The whole HTTP surface: API routes first, then the built widget and demo page as static files.
pub fn app(state: AppState) -> Router {
    let dist = state.inner.dist.clone();
    // The build writes `.br` and `.gz` beside each asset: served by `Accept-Encoding`.
    let static_files = ServeDir::new(&dist)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(
            ServeFile::new(dist.join("index.html"))
                .precompressed_br()
                .precompressed_gzip(),
        );
    // The loader's validator: a weak ETag (its compressed copies are the same content).
    let loader_etag = std::fs::read(dist.join("holdfast.js")).ok().map(|bytes| {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(&bytes));
        format!("W/\"{}\"", &digest[..16])
    });
    let static_files = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(loader_etag),
            asset_cache,
        ))
        .service(static_files);
    // The dashboard is a single-page app: every path below /dashboard/ that is not a file is
    // one of its pages, answered with its index.html.
    let dashboard_dir = dist.join("dashboard");
    let dashboard = ServeDir::new(&dashboard_dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(
            ServeFile::new(dashboard_dir.join("index.html"))
                .precompressed_br()
                .precompressed_gzip(),
        );
    let dashboard = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(None),
            asset_cache,
        ))
        .service(dashboard);
    server_layers(
        routes::router(state.clone())
            .nest_service("/dashboard", dashboard)
            .fallback_service(static_files),
        state,
    )
}

/// Cache lifetimes of the built assets. A bundle's name carries a hash of its content
/// (`holdfast-widget-<16 hex>.js`, `..._bg.wasm`), so it never changes: a year, immutable. The
/// loader keeps one URL on every host page: five minutes, then revalidated by its ETag (a 304
/// costs no body), so a release reaches every page within minutes. Everything else (the demo
/// page) is revalidated each time.
async fn asset_cache(
    State(etag): State<Arc<Option<String>>>,
    req: Request,
    next: Next,
) -> Response {
    use axum::http::{HeaderValue, StatusCode, header};
    let path = req.uri().path().to_string();
    let loader = path == "/holdfast.js";
    let etag = etag.as_deref().filter(|_| loader);
    if let Some(etag) = etag
        && req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        let mut response = axum::response::IntoResponse::into_response(StatusCode::NOT_MODIFIED);
        if let Ok(v) = HeaderValue::from_str(etag) {
            response.headers_mut().insert(header::ETAG, v);
        }
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(LOADER_CACHE),
        );
        return response;
    }
    let mut response = next.run(req).await;
    if !response.status().is_success() {
        return response;
    }
    let cache = if hashed_asset(&path) {
        "public, max-age=31536000, immutable"
    } else if loader || path == "/holdfast.d.ts" {
        LOADER_CACHE
    } else {
        "no-cache"
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        h.insert(header::ETAG, v);
    }
    response
}

/// How long a host page keeps the loader before revalidating it.
const LOADER_CACHE: &str = "public, max-age=300";

/// Whether a path names a content-hashed bundle file: `-<16 hex>` before `.js`, `_bg.wasm` or
/// (the dashboard's stylesheet) `.css`.
fn hashed_asset(path: &str) -> bool {
    let stem = path
        .strip_suffix("_bg.wasm")
        .or_else(|| path.strip_suffix(".js"))
        .or_else(|| path.strip_suffix(".css"));
    stem.and_then(|s| s.rsplit_once('-'))
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The layers every route of the server goes through, outermost last: request metrics, the
/// request timeout and tracing. Public so the benchmark can put its no-op baseline behind the
/// same stack and measure what Holdfast's own routes add.
pub fn server_layers(router: Router<AppState>, state: AppState) -> Router {
    router
        // API answers (a config, a plan, stats) compressed when the client accepts it;
        // precompressed assets pass through as they are.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_request,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.inner.settings.request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Headers every response carries: no MIME sniffing, no URL (which may carry a customer token)
/// in a `Referer` to another site (`same-origin`: with `no-referrer` browsers send `Origin:
/// null` on the page's own form posts, which the cancel page must refuse); and for HTML that set no policy of its own (the demo page), a Content
/// Security Policy that allows only this server's scripts (with the page's inline ones and
/// WebAssembly) and no framing.
async fn security_headers(req: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let mut response = next.run(req).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let h = response.headers_mut();
    // Every answer may differ by encoding (precompressed assets, compressed API answers).
    let varies = h.get_all(header::VARY).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
    });
    if !varies {
        h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if html && !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; \
                 style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'self'",
            ),
        );
    }
    response
}

async fn count_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // `MatchedPath` holds an `Arc<str>`: cloning it allocates nothing.
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    state.inner.metrics.request(
        &method,
        route.as_ref().map_or("static", MatchedPath::as_str),
        response.status().as_u16(),
    );
    response
}

/// Serves the whole app on `listener` until `shutdown` completes, then drains open requests: the
/// one entry point shared by the binary and the tests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The webhook sender runs beside the HTTP server, on the same storage.
    webhooks::spawn_sender(
        state.inner.storage.clone(),
        state.inner.settings.webhooks.clone(),
    )
    .map_err(std::io::Error::other)?;
    let limits = (
        state.inner.settings.header_read_timeout,
        state.inner.settings.max_connections,
    );
    serve_connections(listener, app(state), limits, shutdown).await
}

/// The connection loop: at most `max_connections` at once (the next waits in the kernel's
/// backlog, never an unbounded task list), each connection's request headers read within
/// `header_read_timeout` (slow-header clients and idle keep-alive connections are closed), every
/// request with the peer address as `ConnectInfo`; on `shutdown`, open requests are drained for
/// up to 10 s.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    (header_read_timeout, max_connections): (Duration, usize),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A failed accept (out of file descriptors, a reset) must not stop the server.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    Ok(())
}
