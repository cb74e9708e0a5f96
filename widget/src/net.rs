//! Talking to the Holdfast server with the browser's own `fetch` (no HTTP crate in the bundle),
//! always with a timeout so a slow server can never hold a subscriber in the flow.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, RequestInit, Response};

/// What came back: the status and the parsed JSON body (`undefined` when there was none).
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Parsed body.
    pub body: JsValue,
}

impl Reply {
    /// A 2xx answer.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// `fetch(url)` with a JSON body (when given), aborted after `timeout_ms`. `keepalive` lets the
/// request outlive the page (the outbox's last flush on `pagehide`).
pub async fn request(
    method: &str,
    url: &str,
    body: Option<&str>,
    timeout_ms: i32,
    keepalive: bool,
) -> Result<Reply, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let controller = AbortController::new()?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_signal(Some(&controller.signal()));
    if keepalive {
        Reflect::set(&init, &"keepalive".into(), &true.into())?;
    }
    if let Some(body) = body {
        let headers = Object::new();
        Reflect::set(&headers, &"content-type".into(), &"application/json".into())?;
        init.set_headers(&headers);
        init.set_body(&body.into());
    }
    let abort = Closure::once(move || controller.abort());
    let timer = window.set_timeout_with_callback_and_timeout_and_arguments_0(
        abort.as_ref().unchecked_ref(),
        timeout_ms,
    )?;
    let result = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await;
    window.clear_timeout_with_handle(timer);
    drop(abort);
    let response: Response = result?.dyn_into()?;
    let status = response.status();
    let body = match response.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    let body = if body.is_empty() {
        JsValue::UNDEFINED
    } else {
        js_sys::JSON::parse(&body).unwrap_or(JsValue::UNDEFINED)
    };
    Ok(Reply { status, body })
}

/// Waits `ms` milliseconds (retry backoff).
pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}
