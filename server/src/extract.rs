//! Extractors that turn every bad input into an [`ApiError`] naming the field.
//!
//! axum's own `Json`, `Query` and `Path` answer malformed input with plain-text bodies; these
//! wrappers keep the API's one error shape. [`Json`] reads the body itself and deserializes with
//! `serde_path_to_error`, so an unknown field or a wrong type is reported as
//! `events[3].at`, not as a line and column.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest body a public endpoint accepts: 100 events with their free text fit comfortably.
pub const PUBLIC_BODY_LIMIT: usize = 256 * 1024;

/// A JSON body (in) or response (out) whose errors use our error body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(PUBLIC_BODY_LIMIT)
            } else {
                ApiError::bad_request("unreadable_body", e.body_text())
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Deserializes `bytes` as `T`, naming the field at fault: syntax errors are 400 `invalid_json`,
/// well-formed JSON of the wrong shape is 422 `invalid_field` with the path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match parse_exact(bytes) {
        // JSON has one number type: `5.0` is the integer 5 to JSON Schema and to most clients,
        // while serde refuses it for an integer field. Only then is the body read again with
        // integral floats turned into integers, so the common path parses once.
        Err(e) if e.message().contains("invalid type: floating point") => {
            let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
                return Err(e);
            };
            integral_floats_to_integers(&mut value);
            parse_exact(value.to_string().as_bytes()).map_err(|_| e)
        }
        other => other,
    }
}

/// Turns every float with no fractional part (within `i64`) into an integer, in place.
fn integral_floats_to_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0)
                && f >= i64::MIN as f64
                && f < i64::MAX as f64
            {
                *n = serde_json::Number::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(integral_floats_to_integers);
        }
        _ => {}
    }
}

fn parse_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde_json appends the position; the field path says more, so drop it.
        let full = inner.to_string();
        let message = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m)
            .to_string();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return ApiError::bad_request(
                "invalid_json",
                format!("the body is not JSON: {message}"),
            );
        }
        // An unknown or missing field's path is its parent; name the field itself.
        let unknown = message
            .strip_prefix("unknown field `")
            .or_else(|| message.strip_prefix("missing field `"))
            .and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), unknown) {
            (".", Some(name)) => name.to_string(),
            (".", None) => String::new(),
            (parent, Some(name)) if !parent.ends_with(name) => format!("{parent}.{name}"),
            (parent, _) => parent.to_string(),
        };
        if field.is_empty() {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
        } else {
            ApiError::invalid(field, message)
        }
    })?;
    // Trailing garbage after the document is malformed input too.
    de.end().map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body is not one JSON value: {e}"),
        )
    })?;
    Ok(value)
}

/// Query parameters whose errors use our error body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(pairs)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                // An unknown parameter is named by the message; any other error by its path.
                let field = inner
                    .strip_prefix("unknown field `")
                    .and_then(|rest| rest.split('`').next())
                    .map(str::to_string)
                    .or_else(|| (path != ".").then_some(path));
                match field {
                    Some(f) => {
                        ApiError::bad_request("invalid_query", format!("{f}: {inner}")).field(f)
                    }
                    None => ApiError::bad_request("invalid_query", inner),
                }
            })
    }
}

/// The latest time a report's range may name: the last second of the year 9999.
pub const MAX_TIME: i64 = 253_402_300_799;

/// A report's range `[from, to)` in Unix seconds, checked: each bound from 0 to [`MAX_TIME`]
/// (so no default can overflow), `to` defaulting to a day from `now` (events may be stamped up
/// to a day ahead), `from` to `default_len` before `to`, and `from` before `to`.
pub fn time_range(
    from: Option<i64>,
    to: Option<i64>,
    now: i64,
    default_len: i64,
) -> Result<(i64, i64), ApiError> {
    for (name, value) in [("from", from), ("to", to)] {
        if value.is_some_and(|v| !(0..=MAX_TIME).contains(&v)) {
            return Err(ApiError::invalid(
                name,
                format!("`{name}` is Unix seconds from 0 to {MAX_TIME}"),
            ));
        }
    }
    let to = to.unwrap_or(now + 86_400);
    let from = from.unwrap_or_else(|| (to - default_len).max(0));
    if from >= to {
        return Err(ApiError::invalid("from", "`from` must be before `to`"));
    }
    Ok((from, to))
}

/// Ids are short and plain so they are safe in logs, keys and URLs.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b':'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_id",
            format!("{field} must be 1-128 characters of letters, digits and _ - . @ :"),
        )
        .field(field))
    }
}

/// Parses a UUID field, naming it when it is not one.
pub fn uuid_field(field: impl Fn() -> String, value: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(value)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ApiError::invalid(field(), format!("{value:?} is not a UUID")))
}
