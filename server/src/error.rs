//! The one error type every handler returns.
//!
//! Handlers return `Result<_, ApiError>` and build errors with the named constructors below, so
//! every refusal has the same body, `{ "error": { "code", "message", "field"? } }`, and a status
//! chosen in one place. Storage and other unexpected failures go through [`ApiError::internal`]:
//! they are logged with their cause and answered with an opaque 500, never leaking internals.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use holdfast_core::config::Problem;
use serde::Serialize;

/// An API failure: the HTTP status and the JSON body the client gets.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    /// The cause of a 500, logged when the response is built and never sent.
    cause: Option<anyhow::Error>,
}

/// The `error` object of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code (`invalid_json`, `origin_not_allowed`, ...).
    pub code: &'static str,
    /// Human-readable explanation naming what was wrong.
    pub message: String,
    /// Path of the offending field (`events[3].id`), when one field is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem of a refused config, with its path.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub problems: Option<Vec<Problem>>,
    /// On a 409: the outcome recorded first, which stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub recorded: Option<Box<serde_json::Value>>,
}

/// The envelope: `{ "error": ErrorBody }`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    /// What went wrong.
    pub error: ErrorBody,
}

impl ApiError {
    /// An error with any status and code; prefer the named constructors.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                field: None,
                problems: None,
                recorded: None,
            },
            cause: None,
        }
    }

    /// Names the field to blame.
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The field blamed, if any: what a 422's body names.
    pub fn field_name(&self) -> Option<&str> {
        self.body.field.as_deref()
    }

    /// The stable code, for tests and metrics.
    pub fn code(&self) -> &'static str {
        self.body.code
    }

    /// 400: the request cannot be read (bad JSON, unknown field, wrong type).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: the request is well-formed but a value is refused; `field` names it.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).field(field)
    }

    /// 422: core refused a config; every problem is listed with its path.
    pub fn invalid_config(problems: Vec<Problem>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config",
            format!("the config has {} problem(s)", problems.len()),
        );
        e.body.field = problems.first().map(|p| p.path.clone());
        e.body.problems = Some(problems);
        e
    }

    /// 409: the session already has another outcome; the body carries the recorded one.
    pub fn outcome_conflict(recorded: serde_json::Value) -> Self {
        Self::conflict(
            "outcome_recorded",
            "this session already has a recorded outcome; the first one stands",
            recorded,
        )
    }

    /// 409: something recorded first stands; the body carries it.
    pub fn conflict(
        code: &'static str,
        message: impl Into<String>,
        recorded: serde_json::Value,
    ) -> Self {
        let mut e = Self::new(StatusCode::CONFLICT, code, message);
        e.body.recorded = Some(Box::new(recorded));
        e
    }

    /// 404: no app with this id.
    pub fn app_not_found(app_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "app_not_found",
            format!("no app {app_id:?}"),
        )
        .field("app_id")
    }

    /// 404: something other than an app is missing.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 401: no `Authorization: Bearer` header on an admin request.
    pub fn missing_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "admin requests need `Authorization: Bearer <admin key>`",
        )
        .field("authorization")
    }

    /// 401: the bearer key is not an admin key of this app.
    pub fn wrong_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "the bearer key is not an admin key of this app",
        )
        .field("authorization")
    }

    /// 401: the admin key was revoked.
    pub fn revoked_key(key_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "revoked_api_key",
            format!("the admin key {key_id} was revoked"),
        )
        .field("authorization")
    }

    /// 403: a browser origin the app does not allow.
    pub fn origin_not_allowed(origin: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!("origin {origin:?} is not in this app's allowed origins"),
        )
        .field("origin")
    }

    /// 413: the body is larger than the endpoint accepts.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 429: this client sent too many requests to this app.
    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests from this address; slow down and retry",
        )
    }

    /// 503 with `Retry-After`: events arrive faster than they are folded; the request is not
    /// lost to a hang, and the client retries (the widget's outbox does).
    pub fn busy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is busy (a backlog of events, or a moment of database contention); retry after Retry-After seconds",
        )
    }

    /// 500: an unexpected failure; `cause` is logged, the client learns nothing about it.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; it has been logged",
        );
        e.cause = Some(cause.into());
        e
    }
}

impl ApiError {
    /// The message the client gets.
    pub fn message(&self) -> &str {
        &self.body.message
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        if e.downcast_ref::<crate::storage::Backlogged>().is_some() {
            return Self::busy();
        }
        // A busy database (SQLite's writer lock, a PostgreSQL serialization failure or lost
        // connection) is a moment's contention, not a fault: the client retries after
        // `Retry-After`.
        if crate::storage::aggregate::is_transient(&e) {
            tracing::warn!(error = %e, "the database is busy; answered 503");
            return Self::busy();
        }
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let busy = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let mut response = (self.status, Json(ErrorResponse { error: self.body })).into_response();
        if busy {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        response
    }
}
