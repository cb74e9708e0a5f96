//! Operating the server: health and readiness probes, Prometheus metrics, the OpenAPI document
//! and CORS preflights.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

use crate::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.inner.storage.ping().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
    }
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.inner.metrics.render(),
    )
        .into_response()
}

/// The whole API, generated from the handlers' annotations.
pub async fn openapi() -> Response {
    axum::Json(ApiDoc::openapi()).into_response()
}

/// Any path under `/v1/` that is no route: the API's 404, never the demo page the static
/// fallback would serve.
pub async fn no_such_route(uri: axum::http::Uri) -> crate::error::ApiError {
    crate::error::ApiError::not_found(
        "no_such_route",
        format!("{} is not a Holdfast API path", uri.path()),
    )
}

/// A route called with a method it does not take: 405 with the API's error body (axum adds
/// `Allow`).
pub async fn method_not_allowed(method: axum::http::Method) -> crate::error::ApiError {
    crate::error::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this path does not take {method}"),
    )
}

/// Preflight requests are answered by the public guard; this only makes the route accept OPTIONS.
pub async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// The OpenAPI document: every route and body.
#[derive(OpenApi)]
#[openapi(
    info(title = "Holdfast", description = "Cancel flows and upgrade prompts: widget config, events, offers, admin and stats."),
    paths(
        super::widget_config::get,
        super::events::post,
        super::cancel_plan::post,
        super::offers::accept,
        super::sessions::cancel,
        super::sessions::get,
        super::sessions::for_customer,
        super::webhooks::create,
        super::webhooks::list,
        super::webhooks::get,
        super::webhooks::update,
        super::webhooks::delete,
        super::webhooks::rotate,
        super::webhooks::test,
        super::webhooks::deliveries,
        super::webhooks::retry,
        super::app_settings::get,
        super::app_settings::patch,
        super::admin_config::get,
        super::admin_config::put,
        super::admin_config::versions,
        super::admin_config::restore,
        super::lifecycle::post,
        super::stats::get,
        super::audit::export,
        super::audit::evidence,
        super::prompts::state,
        super::prompts::trial,
        super::prompts::stats,
    ),
    components(schemas(crate::error::ErrorResponse, crate::error::ErrorBody)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
