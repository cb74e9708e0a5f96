//! `GET /v1/apps/{app_id}/config`: the widget's config, exactly core's `AppConfig`, served from
//! the in-memory cache with an ETag so a returning browser gets a 304.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::apps::LoadedApp;

/// The widget config.
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/config",
    tag = "public",
    params(("app_id" = String, Path, description = "Public app id")),
    responses(
        (status = 200, description = "The app's config (core's AppConfig); carries an ETag", body = Object),
        (status = 304, description = "Unchanged since the If-None-Match ETag"),
        (status = 403, description = "Origin not allowed", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
    )
)]
pub async fn get(req: Request) -> Response {
    // Taking the request whole borrows its headers and the app the guard put in its extensions
    // instead of cloning them.
    let Some(app) = req.extensions().get::<Arc<LoadedApp>>() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == app.etag || t.trim() == "*")
        });
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if unchanged {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, app.etag.clone()), cache],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, app.etag.clone()),
            cache,
        ],
        app.config_body.clone(),
    )
        .into_response()
}
