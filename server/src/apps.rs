//! Apps as handlers see them, and the guards in front of the public and admin routes.
//!
//! Every request names an app in its path. [`public_guard`] and `routes::auth::admin_guard` load it once
//! (through a small in-memory cache that also holds the serialized widget config and its ETag),
//! apply the rate limit, then check the caller: the browser's `Origin` against the app's allow-list
//! for public routes, the bearer secret for admin routes. Handlers receive the loaded app as an
//! `Extension<Arc<LoadedApp>>`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use holdfast_core::config::AppConfig;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::check_id;
use crate::storage::AppRecord;

pub use crate::auth::AdminCaller;

/// An app with its parsed config and the widget config response, ready to serve.
#[derive(Debug)]
pub struct LoadedApp {
    /// The stored app.
    pub record: AppRecord,
    /// Its signing secrets, current and retiring, both modes: what verifies customer tokens.
    pub signing: Vec<crate::keys::SigningSecret>,
    /// The reason and offer ids of every config version: what an event may name.
    pub known: Arc<KnownIds>,
    /// Its current config, parsed once.
    pub config: AppConfig,
    /// The public config body (core's `PublicConfig`), serialized once per version.
    pub config_body: Bytes,
    /// Strong ETag of `config_body`.
    pub etag: HeaderValue,
    loaded_at: Instant,
}

impl LoadedApp {
    pub(crate) fn new(
        record: AppRecord,
        signing: Vec<crate::keys::SigningSecret>,
        known: Arc<KnownIds>,
    ) -> anyhow::Result<Self> {
        let config: AppConfig = serde_json::from_str(&record.config_json)?;
        let body = serde_json::to_vec(&holdfast_core::config::PublicConfig::from(&config))?;
        let digest = Sha256::digest(&body);
        let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12])))?;
        Ok(Self {
            record,
            signing,
            known,
            config,
            config_body: Bytes::from(body),
            etag,
            loaded_at: Instant::now(),
        })
    }
}

/// The reason and offer ids an app's events may name: those of any of its config versions (so
/// events queued before a config edit are still accepted) and the built-in reasons (what the
/// widget offers when the server is down). Anything else would be a label nobody configured.
#[derive(Debug, Default)]
pub struct KnownIds {
    reasons: std::collections::HashSet<String>,
    offers: std::collections::HashSet<String>,
}

impl KnownIds {
    /// Gathers the ids of every config document (unreadable ones are skipped).
    pub fn gather(configs: &[String]) -> Self {
        let mut known = Self::default();
        known.reasons.extend(
            holdfast_core::config::BUILT_IN_REASONS
                .iter()
                .map(|r| (*r).to_string()),
        );
        for json in configs {
            if let Ok(config) = serde_json::from_str::<AppConfig>(json) {
                known
                    .reasons
                    .extend(config.reasons.into_iter().map(|r| r.id));
                known.offers.extend(config.offers.into_iter().map(|o| o.id));
            }
        }
        known
    }

    /// Whether a reason id is known.
    pub fn reason(&self, id: &str) -> bool {
        self.reasons.contains(id)
    }

    /// Whether an offer id is known.
    pub fn offer(&self, id: &str) -> bool {
        self.offers.contains(id)
    }
}

/// Apps by id, each kept for a short time so that replicas pick up another replica's config
/// change quickly; a change made through this replica invalidates at once.
#[derive(Debug, Default)]
pub struct AppCache {
    apps: RwLock<HashMap<String, Arc<LoadedApp>>>,
    /// Known ids per app, with the config version they were gathered at: gathered again only
    /// when the config changed.
    known: RwLock<HashMap<String, (i64, Arc<KnownIds>)>>,
    /// App ids recently found missing, so a flood of made-up ids costs no database lookups.
    missing: RwLock<HashMap<String, Instant>>,
}

/// At most this many missing ids are remembered; beyond it the oldest half is forgotten.
const MAX_MISSING: usize = 10_000;

/// How long a cached app is trusted before it is read again.
const CACHE_TTL: Duration = Duration::from_secs(5);

impl AppCache {
    /// The app if it is cached and fresh: no allocation, only a shared lock.
    pub fn cached(&self, app_id: &str) -> Option<Arc<LoadedApp>> {
        self.apps
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(app_id)
            .filter(|a| a.loaded_at.elapsed() < CACHE_TTL)
            .cloned()
    }

    /// The app, from the cache or storage; `None` when there is no such app.
    pub async fn get(
        &self,
        storage: &crate::Storage,
        app_id: &str,
    ) -> Result<Option<Arc<LoadedApp>>, ApiError> {
        if let Some(app) = self.cached(app_id) {
            return Ok(Some(app));
        }
        let known_missing = self
            .missing
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(app_id)
            .is_some_and(|at| at.elapsed() < CACHE_TTL);
        if known_missing {
            return Ok(None);
        }
        let Some(record) = storage.app(app_id).await? else {
            let mut missing = self
                .missing
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if missing.len() >= MAX_MISSING {
                missing.retain(|_, at| at.elapsed() < CACHE_TTL);
            }
            if missing.len() < MAX_MISSING {
                missing.insert(app_id.to_string(), Instant::now());
            }
            return Ok(None);
        };
        let signing = storage.signing_secrets(app_id).await?;
        let cached_known = self
            .known
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(app_id)
            .filter(|(version, _)| *version == record.config_version)
            .map(|(_, k)| k.clone());
        let known = match cached_known {
            Some(known) => known,
            None => {
                let known = Arc::new(KnownIds::gather(&storage.all_configs(app_id).await?));
                self.known
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(app_id.to_string(), (record.config_version, known.clone()));
                known
            }
        };
        let app = Arc::new(LoadedApp::new(record, signing, known)?);
        self.apps
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(app_id.to_string(), app.clone());
        Ok(Some(app))
    }

    /// Forgets an app after its config changed (or it was created).
    pub fn invalidate(&self, app_id: &str) {
        self.missing
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(app_id);
        self.apps
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(app_id);
    }
}

/// The app id of `/v1/apps/{id}/...` or `/v1/admin/apps/{id}/...`.
fn app_id_of(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/v1/apps/")
        .or_else(|| path.strip_prefix("/v1/admin/apps/"))
        .or_else(|| path.strip_prefix("/cancel/"))?;
    rest.split('/').next()
}

/// The client a request is rate limited as: the peer address, or, when the peer is a trusted
/// proxy, the last address in `X-Forwarded-For` that is not itself a trusted proxy (proxies
/// append, so addresses further left could have been written by the client).
pub(crate) fn client_of(req: &Request, trusted: &[IpAddr]) -> IpAddr {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    while let Some(last) = forwarded.pop() {
        match last {
            Some(ip) if trusted.contains(&ip) => continue,
            Some(ip) => return ip,
            // Unreadable: what lies further left cannot be trusted either.
            None => break,
        }
    }
    peer
}

/// What the synchronous part of loading an app found.
pub(crate) enum Lookup {
    /// Cached and fresh.
    Hit(Arc<LoadedApp>),
    /// Not cached: the app id, owned so it can be held while storage is read.
    Miss(String),
}

/// Checks the app id and the rate limit and looks in the cache, borrowing the path: a request's
/// body is not `Sync`, so a borrow of the request must not live across an await, and the common
/// case (a cached app) needs no await and no allocation.
pub(crate) fn lookup(state: &AppState, req: &Request) -> Result<Lookup, ApiError> {
    let app_id = app_id_of(req.uri().path()).unwrap_or_default();
    check_id("app_id", app_id)?;
    let client = client_of(req, &state.inner.settings.trusted_proxies);
    if !state.inner.limiter.allow(client, app_id) {
        return Err(ApiError::rate_limited());
    }
    Ok(match state.inner.apps.cached(app_id) {
        Some(app) => Lookup::Hit(app),
        None => Lookup::Miss(app_id.to_string()),
    })
}

pub(crate) async fn load_app(state: &AppState, found: Lookup) -> Result<Arc<LoadedApp>, ApiError> {
    match found {
        Lookup::Hit(app) => Ok(app),
        Lookup::Miss(app_id) => state
            .inner
            .apps
            .get(&state.inner.storage, &app_id)
            .await?
            .ok_or_else(|| ApiError::app_not_found(&app_id)),
    }
}

/// Public routes: the app must exist, a browser `Origin` must be on its allow-list (403
/// otherwise; requests without one come from servers and are let through), and responses carry
/// CORS headers for exactly that origin. Answers preflights itself.
pub async fn public_guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let (app, origin) = match admit_public(&state, &req).await {
        Ok(admitted) => admitted,
        Err(e) => return e.into_response(),
    };
    let mut response = if req.method() == Method::OPTIONS {
        preflight_response()
    } else {
        req.extensions_mut().insert(app);
        next.run(req).await
    };
    add_cors(&mut response, origin);
    response
}

/// The app and rate limit checks for the server-rendered cancel page: its forms post from the
/// server's own origin, so there is no allow-list to check.
pub fn admit_page<'a>(
    state: &'a AppState,
    req: &Request,
) -> impl std::future::Future<Output = Result<Arc<LoadedApp>, ApiError>> + Send + 'a {
    let found = lookup(state, req);
    async move { load_app(state, found?).await }
}

/// The checks of [`public_guard`] without the middleware around them: the app (cache first),
/// the rate limit, and the `Origin` against the allow-list. Returns the app and the origin to
/// echo in CORS headers. The hot config route calls it directly, saving a middleware hop.
pub fn admit_public<'a>(
    state: &'a AppState,
    req: &Request,
) -> impl std::future::Future<Output = Result<(Arc<LoadedApp>, Option<HeaderValue>), ApiError>> + Send + 'a
{
    // Everything read from the request happens before the first await: a request's body is not
    // `Sync`, so no borrow of it may live across one.
    let found = lookup(state, req);
    let origin = req.headers().get(header::ORIGIN).cloned();
    async move {
        let app = load_app(state, found?).await?;
        if let Some(origin) = &origin {
            let allowed = origin
                .to_str()
                .is_ok_and(|o| app.record.settings.origins.iter().any(|a| a == o));
            if !allowed {
                return Err(ApiError::origin_not_allowed(
                    origin.to_str().unwrap_or("<not text>"),
                ));
            }
        }
        Ok((app, origin))
    }
}

/// The answer to a CORS preflight of a public route.
pub fn preflight_response() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, if-none-match"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// CORS headers for exactly the admitted origin (none for server-to-server calls).
pub fn add_cors(response: &mut Response, origin: Option<HeaderValue>) {
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("etag"),
        );
    }
}
