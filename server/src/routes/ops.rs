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
        super::sessions::list,
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
        super::auth::sign_in,
        super::auth::sign_out,
        super::auth::me,
        super::auth::accept,
        super::people::list,
        super::people::invite,
        super::people::reset,
        super::people::remove,
        super::keys::list,
        super::keys::create,
        super::keys::revoke,
        super::experiments::list,
        super::experiments::create,
        super::experiments::get,
        super::experiments::start,
        super::experiments::stop,
        super::experiments::ship,
        super::experiments::preview,
        super::audit::evidence,
        crate::routes::preview::make_page,
        crate::changes::list,
        super::prompts::plan,
        super::prompts::state,
        super::prompts::trial,
        super::prompts::stats,
    ),
    components(schemas(crate::error::ErrorResponse, crate::error::ErrorBody)),
    modifiers(&BearerAuth, &CommonResponses, &TaggedPromptPlan),
)]
pub struct ApiDoc;

/// `POST .../prompts/plan`'s body says which fields each call needs, tagged by `ask`: a usage call
/// its `metric` and `used` (a `seats` call reads seats from the customer, so `used` may be left
/// out), a gate call its `feature`. The server reads one struct with every field optional and
/// checks them in the handler; the document gives the same JSON as the alternatives it accepts,
/// so a client (or schemathesis) generating a body from it makes one the server takes.
struct TaggedPromptPlan;

impl utoipa::Modify for TaggedPromptPlan {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use serde_json::{Value, json};
        use utoipa::openapi::schema::{AnyOfBuilder, Schema};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let Some(base) = components
            .schemas
            .get("PromptPlanRequest")
            .and_then(|s| serde_json::to_value(s).ok())
        else {
            return;
        };
        // A variant: the request's properties, `ask` fixed, `fields` required and not null.
        let variant = |ask: &str, fields: &[&str], metric: Option<&str>| -> Option<Schema> {
            let mut v = base.clone();
            let description = format!(
                "A `{ask}` call{}",
                metric.map_or(String::new(), |m| format!(" on `{m}`"))
            );
            v["description"] = json!(description);
            v["properties"]["ask"] = json!({ "type": "string", "enum": [ask] });
            let mut required = vec!["customer", "ask"];
            for field in fields {
                let property = &mut v["properties"][*field];
                let kind = match property["type"].as_array() {
                    Some(kinds) => kinds.iter().find(|k| *k != "null").cloned(),
                    None => Some(property["type"].clone()),
                };
                property["type"] = kind.unwrap_or(Value::Null);
                required.push(field);
            }
            if let Some(m) = metric {
                v["properties"]["metric"] = json!({ "type": "string", "enum": [m] });
            }
            v["required"] = json!(required);
            serde_json::from_value(v).ok()
        };
        let variants = [
            variant("usage", &["metric", "used"], None),
            variant("usage", &["metric"], Some("seats")),
            variant("gate", &["feature"], None),
        ];
        let mut tagged = AnyOfBuilder::new().description(
            base["description"]
                .as_str()
                .map(|d| format!("{d} Which fields are required depends on `ask`.")),
        );
        for v in variants {
            let Some(v) = v else {
                return;
            };
            tagged = tagged.item(v);
        }
        components.schemas.insert(
            "PromptPlanRequest".into(),
            Schema::AnyOf(tagged.build()).into(),
        );
    }
}

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

/// The answers any route of a kind can give, added where a route's annotation leaves them out,
/// so a client generated from the document handles every status it can meet: every `/v1` route
/// is rate limited (429) and answers 503 with `Retry-After` while the server is busy; a route
/// with a body refuses malformed JSON (400) and an oversized one (413); an admin route refuses a
/// missing or wrong key (401) and the other mode's data (403); a public route refuses an origin
/// not allowed (403) and an unknown app (404).
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name(
                                "ErrorResponse",
                            )))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let admin = path.starts_with("/v1/admin/");
            for (method, operation) in [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ] {
                let Some(operation) = operation else {
                    continue;
                };
                operation.operation_id = Some(operation_id(method, path));
                let query = operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query);
                let mut add = |status: &str, description: &str| {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error(description));
                };
                if operation.request_body.is_some() {
                    add("400", "The body is not JSON");
                    add("413", "The body is too large");
                    add(
                        "422",
                        "A field is refused (unknown, missing or of the wrong type); `field` names it",
                    );
                }
                if query {
                    add("400", "A query parameter is malformed; `field` names it");
                }
                let ids = operation.parameters.iter().flatten().any(|p| {
                    p.parameter_in == utoipa::openapi::path::ParameterIn::Path && p.name != "app_id"
                });
                if ids {
                    add("422", "A path parameter is refused; `field` names it");
                }
                if admin {
                    add("401", "Missing or wrong admin key");
                    add("403", "The key's mode is not the mode asked for");
                } else {
                    add("403", "Origin not allowed");
                }
                add("404", "No such app");
                add("429", "Rate limited");
                add(
                    "503",
                    "Busy (a backlog of events, or database contention): retry after `Retry-After`",
                );
            }
        }
    }
}

/// A unique, readable operation id from the method and path (handlers share names such as
/// `get`, which generated clients cannot): `GET /v1/admin/apps/{app_id}/sessions/{session_id}`
/// is `get_admin_sessions_by_session_id`.
fn operation_id(method: &str, path: &str) -> String {
    let mut parts = vec![method.to_string()];
    let rest = path.trim_start_matches("/v1/");
    let admin = rest.starts_with("admin/");
    if admin {
        parts.push("admin".into());
    }
    let segments: Vec<&str> = rest
        .split('/')
        .filter(|s| !matches!(*s, "admin" | "apps" | "{app_id}") && !s.is_empty())
        .collect();
    if segments.is_empty() {
        parts.push("app".into());
    }
    for s in segments {
        match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => parts.push(format!("by_{param}")),
            None => parts.push(s.replace('-', "_")),
        }
    }
    parts.join("_")
}
