//! `GET /v1/apps/{app_id}/config`: the app's public config (core's `PublicConfig`: reasons, plans,
//! theme, copy; never its offers, rules, prompt thresholds or experiment weights, which only the
//! cancel and prompt plans apply), served from the in-memory cache with an ETag so a returning
//! browser gets a 304.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::apps::{LoadedApp, add_cors, admit_public, preflight_response};

/// The app's public config.
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/config",
    tag = "public",
    params(("app_id" = String, Path, description = "Public app id")),
    responses(
        (status = 200, description = "The app's public config (core's PublicConfig); carries an ETag", body = holdfast_core::config::PublicConfig),
        (status = 304, description = "Unchanged since the If-None-Match ETag"),
        (status = 403, description = "Origin not allowed", body = crate::error::ErrorResponse),
        (status = 404, description = "No such app", body = crate::error::ErrorResponse),
    )
)]
pub async fn get(State(state): State<AppState>, req: Request) -> Response {
    // The busiest public route runs the public guard's checks itself rather than behind the
    // guard middleware: the same checks and headers, one layer less per request.
    let (app, origin) = match admit_public(&state, &req).await {
        Ok(admitted) => admitted,
        Err(e) => return e.into_response(),
    };
    let mut response = if req.method() == axum::http::Method::OPTIONS {
        preflight_response()
    } else {
        respond(&app, &req)
    };
    add_cors(&mut response, origin);
    response
}

fn respond(app: &LoadedApp, req: &Request) -> Response {
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
