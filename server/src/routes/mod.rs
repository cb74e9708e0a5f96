//! The API, one module per resource. Paths are a contract with the widget and the host's
//! backend; keep them exactly.
//!
//! Public routes (`/v1/apps/{app_id}/...`) sit behind [`crate::apps::public_guard`] (origin
//! allow-list, CORS), admin routes (`/v1/admin/apps/{app_id}/...`) behind
//! [`auth::admin_guard`] (an admin key of the app, whose mode is the call's, or a signed-in
//! person's session). Both are rate limited per client and app. The flow editor's live preview
//! ([`preview`]) answers the widget's calls from a draft, through the same handlers.

pub mod admin_config;
pub mod app_settings;
pub mod audit;
pub mod auth;
pub mod cancel_page;
pub mod cancel_plan;
pub mod demo;
pub mod events;
pub mod experiments;
pub mod keys;
pub mod lifecycle;
pub mod offers;
pub mod ops;
pub mod people;
pub mod preview;
pub mod prompts;
pub mod sessions;
pub mod stats;
pub mod webhooks;
pub mod widget_config;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::AppState;
use crate::admission::IngestGate;
use crate::apps::public_guard;
use crate::extract::PUBLIC_BODY_LIMIT;
use auth::admin_guard;

/// The largest config document the admin API accepts.
const ADMIN_BODY_LIMIT: usize = 1024 * 1024;

/// Every API route, with its guards.
pub fn router(state: AppState) -> Router<AppState> {
    let state_demo = state.settings().demo;
    // The config route applies the public guard's checks itself (see `widget_config::get`).
    let config = Router::new().route(
        "/v1/apps/{app_id}/config",
        get(widget_config::get).options(widget_config::get),
    );
    // Event ingest yields to the requests a subscriber waits on (see `crate::admission`).
    let gate = IngestGate::new(state.settings().ingest_concurrency);
    let ingest = Router::new().route(
        "/v1/apps/{app_id}/events",
        post(events::post)
            .layer(axum::middleware::from_fn_with_state(
                gate.clone(),
                admit_ingest,
            ))
            .options(ops::preflight),
    );
    let interactive = Router::new()
        .route(
            "/v1/apps/{app_id}/cancel-plan",
            post(cancel_plan::post).options(ops::preflight),
        )
        .route(
            "/v1/apps/{app_id}/offers/accept",
            post(offers::accept).options(ops::preflight),
        )
        .route(
            "/v1/apps/{app_id}/prompts/plan",
            post(prompts::plan).options(ops::preflight),
        )
        .route(
            "/v1/apps/{app_id}/prompts/state",
            post(prompts::state).options(ops::preflight),
        )
        .route(
            "/v1/apps/{app_id}/prompts/trial",
            post(prompts::trial).options(ops::preflight),
        )
        .route(
            "/v1/apps/{app_id}/sessions/{session_id}/cancel",
            post(sessions::cancel).options(ops::preflight),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            gate.clone(),
            mark_interactive,
        ));
    let public = ingest
        .merge(interactive)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            public_guard,
        ))
        .layer(DefaultBodyLimit::max(PUBLIC_BODY_LIMIT));
    let admin = Router::new()
        .route(
            "/v1/admin/apps/{app_id}",
            get(app_settings::get).patch(app_settings::patch),
        )
        .route(
            "/v1/admin/apps/{app_id}/config",
            get(admin_config::get).put(admin_config::put),
        )
        .route(
            "/v1/admin/apps/{app_id}/config/versions",
            get(admin_config::versions),
        )
        .route(
            "/v1/admin/apps/{app_id}/config/versions/{version}/restore",
            post(admin_config::restore),
        )
        .route(
            "/v1/admin/apps/{app_id}/customers/{customer_id}/lifecycle",
            post(lifecycle::post),
        )
        .route("/v1/admin/apps/{app_id}/sessions", get(sessions::list))
        .route(
            "/v1/admin/apps/{app_id}/sessions/{session_id}",
            get(sessions::get),
        )
        .route(
            "/v1/admin/apps/{app_id}/customers/{customer_id}/sessions",
            get(sessions::for_customer),
        )
        .route(
            "/v1/admin/apps/{app_id}/webhooks/endpoints",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/v1/admin/apps/{app_id}/webhooks/endpoints/{id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/v1/admin/apps/{app_id}/webhooks/endpoints/{id}/rotate-secret",
            post(webhooks::rotate),
        )
        .route(
            "/v1/admin/apps/{app_id}/webhooks/endpoints/{id}/test",
            post(webhooks::test),
        )
        .route(
            "/v1/admin/apps/{app_id}/webhooks/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/v1/admin/apps/{app_id}/webhooks/deliveries/{id}/retry",
            post(webhooks::retry),
        )
        .route("/v1/admin/apps/{app_id}/stats", get(stats::get))
        .route(
            "/v1/admin/apps/{app_id}/experiments",
            get(experiments::list).post(experiments::create),
        )
        .route(
            "/v1/admin/apps/{app_id}/preview",
            post(experiments::preview),
        )
        .route(
            "/v1/admin/apps/{app_id}/keys",
            get(keys::list).post(keys::create),
        )
        .route(
            "/v1/admin/apps/{app_id}/keys/{id}",
            axum::routing::delete(keys::revoke),
        )
        .route("/v1/admin/apps/{app_id}/people", get(people::list))
        .route(
            "/v1/admin/apps/{app_id}/people/invitations",
            post(people::invite),
        )
        .route(
            "/v1/admin/apps/{app_id}/people/{email}/reset",
            post(people::reset),
        )
        .route(
            "/v1/admin/apps/{app_id}/people/{email}",
            axum::routing::delete(people::remove),
        )
        .route(
            "/v1/admin/apps/{app_id}/experiments/{key}/report",
            get(experiments::get),
        )
        .route(
            "/v1/admin/apps/{app_id}/experiments/{key}/start",
            post(experiments::start),
        )
        .route(
            "/v1/admin/apps/{app_id}/experiments/{key}/stop",
            post(experiments::stop),
        )
        .route(
            "/v1/admin/apps/{app_id}/experiments/{key}/ship",
            post(experiments::ship),
        )
        .route("/v1/admin/apps/{app_id}/audit", get(audit::export))
        .route("/v1/admin/apps/{app_id}/evidence", get(audit::evidence))
        .route("/v1/admin/apps/{app_id}/changes", get(crate::changes::list))
        .route(
            "/v1/admin/apps/{app_id}/preview/page",
            post(crate::routes::preview::make_page),
        )
        .route("/v1/admin/apps/{app_id}/prompts/stats", get(prompts::stats))
        .route_layer(axum::middleware::from_fn_with_state(state, admin_guard))
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT));
    // The no-JavaScript cancel page checks the app and the rate limit itself (its forms post
    // from the server's own origin, so there is no allow-list to check).
    let page = Router::new()
        .route(
            "/cancel/{app_id}",
            get(cancel_page::page).post(cancel_page::page),
        )
        .route_layer(axum::middleware::from_fn_with_state(gate, mark_interactive));
    // The demo page's stand-in for a host backend: only when the server runs the demo.
    let demo = if state_demo {
        Router::new()
            .route("/demo/token", post(demo::sign))
            .route("/demo/webhooks/inbox", post(demo::receive))
            .route("/demo/webhooks", get(demo::inbox))
    } else {
        Router::new()
    };
    // The flow editor's live preview: a page and the widget's calls against a draft, recording
    // nothing (see `crate::routes::preview`).
    let preview = Router::new()
        .route("/preview/{token}/", get(crate::routes::preview::page))
        .route(
            "/preview/{token}/v1/apps/{app_id}/cancel-plan",
            post(crate::routes::preview::cancel_plan),
        )
        .route(
            "/preview/{token}/v1/apps/{app_id}/events",
            post(crate::routes::preview::events),
        )
        .route(
            "/preview/{token}/v1/apps/{app_id}/offers/accept",
            post(crate::routes::preview::accept),
        )
        .route(
            "/preview/{token}/v1/apps/{app_id}/sessions/{session_id}/cancel",
            post(crate::routes::preview::cancel),
        );
    Router::new()
        .merge(demo)
        .merge(preview)
        .route("/v1/auth/sign-in", post(auth::sign_in))
        .route("/v1/auth/sign-out", post(auth::sign_out))
        .route("/v1/auth/me", get(auth::me))
        .route("/v1/auth/accept", post(auth::accept))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .merge(config)
        .merge(page)
        .merge(public)
        .merge(admin)
        .route("/v1/{*rest}", axum::routing::any(ops::no_such_route))
        .method_not_allowed_fallback(ops::method_not_allowed)
}

/// Event ingest behind [`crate::admission::IngestGate`]: a shed batch is answered 503 with
/// `Retry-After` at once (its outbox keeps it and sends it again).
async fn admit_ingest(
    axum::extract::State(gate): axum::extract::State<Arc<IngestGate>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if gate.shedding() {
        // Refused after a pause: a client that ignores `Retry-After` still sends no sooner on
        // this connection, and a paused task costs no CPU.
        tokio::time::sleep(crate::admission::REFUSAL_PAUSE).await;
        return crate::error::ApiError::busy().into_response();
    }
    match gate.admit().await {
        Some(_place) => next.run(req).await,
        None => crate::error::ApiError::busy().into_response(),
    }
}

/// Tells the ingest gate that a subscriber is waiting on a request, so ingest yields to it.
async fn mark_interactive(
    axum::extract::State(gate): axum::extract::State<Arc<IngestGate>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    gate.interactive();
    next.run(req).await
}
