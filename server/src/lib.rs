//! # holdfast-server
//!
//! The axum server the Holdfast widget reports to: it serves the built widget, its loader and the
//! demo host page, holds each app's config and answers health probes. Every decision it makes is
//! delegated to `holdfast-core`, the same code the widget runs, so the two never disagree.
//!
//! [`app`] builds the whole router from a [`AppState`], so tests run it in-process on port 0.

pub mod storage;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

pub use storage::Storage;

/// The demo app's public id, the one the demo page's script tag names.
pub const DEMO_APP_ID: &str = "app_demo";

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    storage: Storage,
    dist: PathBuf,
}

impl AppState {
    /// State over `storage`, serving the built widget and demo page from `dist`.
    pub fn new(storage: Storage, dist: impl Into<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                storage,
                dist: dist.into(),
            }),
        }
    }

    /// The storage, for setup code such as `--demo`.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }
}

/// The whole HTTP surface: API routes first, then the built widget and demo page as static files.
pub fn app(state: AppState) -> Router {
    let dist = state.inner.dist.clone();
    let static_files = ServeDir::new(&dist).fallback(ServeFile::new(dist.join("index.html")));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/apps/{app_id}/config", get(widget_config))
        .fallback_service(static_files)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the whole app on `listener` until `shutdown` completes, then drains open requests: the
/// one entry point shared by the binary and the tests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.inner.storage.ping().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
    }
}

async fn widget_config(State(state): State<AppState>, Path(app_id): Path<String>) -> Response {
    match state.inner.storage.app_config(&app_id).await {
        Ok(Some(config)) => ([(header::CONTENT_TYPE, "application/json")], config).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "app_not_found",
            &format!("no app {app_id:?}"),
            Some("app_id"),
        ),
        Err(e) => {
            tracing::error!(error = %e, "reading app config");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "storage is unavailable",
                None,
            )
        }
    }
}

/// The one error body every endpoint uses: `{ "error": { "code", "message", "field"? } }`.
fn error(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    let mut body = serde_json::json!({ "error": { "code": code, "message": message } });
    if let Some(field) = field {
        body["error"]["field"] = field.into();
    }
    (status, Json(body)).into_response()
}
