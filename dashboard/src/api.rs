//! The admin API from the browser: same-origin requests carrying the session cookie, the mode the
//! growth team is looking at, and the CSRF token on every change.

use std::cell::RefCell;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCredentials, RequestInit, Response};

thread_local! {
    /// The session's CSRF token (from sign-in or `/v1/auth/me`), sent on every change.
    static CSRF: RefCell<String> = const { RefCell::new(String::new()) };
    /// The mode the dashboard shows, sent as `X-Holdfast-Mode`.
    static MODE: RefCell<&'static str> = const { RefCell::new("test") };
}

/// Remembers the CSRF token the server gave this session.
pub fn set_csrf(token: &str) {
    CSRF.with(|c| *c.borrow_mut() = token.to_string());
}

/// Sets the mode every later request reads (`test` or `live`).
pub fn set_mode(mode: &'static str) {
    MODE.with(|m| *m.borrow_mut() = mode);
}

/// A refused or failed request, as the server's error body tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// HTTP status, or 0 when the request never reached the server.
    pub status: u16,
    /// The error's code (`invalid_config`, `unauthorized`).
    pub code: String,
    /// What the server said, ready to show.
    pub message: String,
    /// The field the server named, when it named one.
    pub field: Option<String>,
    /// Every problem with its path, for a refused config.
    pub problems: Vec<(String, String)>,
}

impl Failure {
    fn network(e: JsValue) -> Self {
        Self {
            status: 0,
            code: "network".into(),
            message: format!(
                "The server could not be reached ({}).",
                e.as_string().unwrap_or_else(|| "no answer".into())
            ),
            field: None,
            problems: Vec::new(),
        }
    }
}

/// Sends one request to the admin API and returns its JSON body (`null` for an empty one).
pub async fn call(method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    let headers = web_sys::Headers::new().map_err(Failure::network)?;
    headers
        .set("accept", "application/json")
        .map_err(Failure::network)?;
    MODE.with(|m| headers.set("x-holdfast-mode", &m.borrow()))
        .map_err(Failure::network)?;
    if method != "GET" {
        CSRF.with(|c| headers.set("x-csrf-token", &c.borrow()))
            .map_err(Failure::network)?;
    }
    if let Some(body) = body {
        headers
            .set("content-type", "application/json")
            .map_err(Failure::network)?;
        init.set_body(&JsValue::from_str(&body.to_string()));
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(path, &init).map_err(Failure::network)?;
    let window = web_sys::window().ok_or_else(|| Failure::network(JsValue::NULL))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(Failure::network)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(Failure::network)?)
        .await
        .map_err(Failure::network)?
        .as_string()
        .unwrap_or_default();
    let json: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    if response.ok() {
        return Ok(json);
    }
    let error = &json["error"];
    Err(Failure {
        status: response.status(),
        code: error["code"].as_str().unwrap_or("error").to_string(),
        message: error["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("The server answered {}.", response.status())),
        field: error["field"].as_str().map(str::to_string),
        problems: error["problems"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        (
                            p["path"].as_str().unwrap_or_default().to_string(),
                            p["message"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// A request's progress, as a page shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Not answered yet.
    Loading,
    /// The body.
    Ready(Value),
    /// Refused or unreachable.
    Failed(Failure),
}

/// GETs the path `path()` returns, again whenever a signal it reads changes, and keeps the latest
/// answer (a late answer to an older path is dropped).
pub fn fetch(path: impl Fn() -> String + 'static) -> RwSignal<Load> {
    let state = RwSignal::new(Load::Loading);
    let latest = StoredValue::new(0u32);
    Effect::new(move |_| {
        let path = path();
        let ticket = latest.get_value().wrapping_add(1);
        latest.set_value(ticket);
        state.set(Load::Loading);
        spawn_local(async move {
            let result = call("GET", &path, None).await;
            if latest.get_value() == ticket {
                state.set(match result {
                    Ok(v) => Load::Ready(v),
                    Err(f) => Load::Failed(f),
                });
            }
        });
    });
    state
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    js_sys::encode_uri_component(s).into()
}
