//! Talking to the Holdfast server with the browser's own `fetch` (no HTTP crate in the bundle),
//! always with a timeout so a slow server can never hold a subscriber in the flow.
//!
//! Requests take a callback rather than returning a future: neither bundle needs an async executor
//! of its own for them. Only the cancel bundle sends requests of its own; the prompt bundle's go
//! through the loader (`crate::outbox::loader_fn`), and it reads only [`target`] here.

use std::cell::RefCell;
#[cfg(feature = "cancel")]
use std::rc::Rc;

#[cfg(feature = "cancel")]
use js_sys::{Object, Promise, Reflect};
#[cfg(feature = "cancel")]
use wasm_bindgen::prelude::*;
#[cfg(feature = "cancel")]
use web_sys::{AbortController, RequestInit, Response};

/// Where the widget's server is and which app it speaks for (the loader's script tag).
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// Base URL of the server, no trailing slash.
    pub endpoint: String,
    /// Public app id.
    pub app: String,
}

impl Target {
    /// The URL of one of the app's API routes.
    pub fn url(&self, route: &str) -> String {
        api_url(&self.endpoint, &self.app, route)
    }
}

thread_local! {
    /// The page's one server and app, set by `configure` and read by every request and by the
    /// outbox; `None` until the loader has configured the bundle.
    static TARGET: RefCell<Option<Target>> = const { RefCell::new(None) };
}

/// Sets the server and app.
pub fn set_target(target: Target) {
    TARGET.with(|t| *t.borrow_mut() = Some(target));
}

/// The server and app, once configured.
pub fn target() -> Option<Target> {
    TARGET.with(|t| t.borrow().clone())
}

/// The URL of an app's API route, `{endpoint}/v1/apps/{app}{route}`: every request the widget
/// sends is addressed here (through [`Target::url`]).
fn api_url(endpoint: &str, app: &str, route: &str) -> String {
    [endpoint, "/v1/apps/", app, route].concat()
}

#[cfg(feature = "cancel")]
/// Why a call brought no answer to act on. Callers decide from this, never from status numbers.
pub enum Failure {
    /// Nothing came back (offline, a network error, the timeout), or the server asked for a
    /// later try (408, 429, 5xx): the same request may succeed later.
    Later,
    /// The server refused the request for good (any other 4xx), with its error body.
    Refused(JsValue),
}

#[cfg(feature = "cancel")]
/// A call's answer: a 2xx's parsed JSON body (`undefined` when there was none), or why not.
pub type Answer = Result<JsValue, Failure>;

#[cfg(feature = "cancel")]
/// The answer a status and its body make.
fn answer(status: u16, body: JsValue) -> Answer {
    match status {
        200..=299 => Ok(body),
        408 | 429 => Err(Failure::Later),
        400..=499 => Err(Failure::Refused(body)),
        _ => Err(Failure::Later),
    }
}

#[cfg(feature = "cancel")]
/// What waits on a promise: one boxed callback, so there is one copy of the code below.
type Callback = Box<dyn FnOnce(Option<JsValue>)>;

#[cfg(feature = "cancel")]
/// Two callbacks waiting on one promise; the first to run takes the callback and releases both.
type Waiting = Rc<RefCell<(Option<Callback>, Vec<Closure<dyn FnMut(JsValue)>>)>>;

#[cfg(feature = "cancel")]
/// Calls `f` once with the promise's value, or with `None` if it rejects.
pub fn then(promise: &Promise, f: impl FnOnce(Option<JsValue>) + 'static) {
    then_boxed(promise, Box::new(f));
}

#[cfg(feature = "cancel")]
fn then_boxed(promise: &Promise, f: Callback) {
    let waiting: Waiting = Rc::new(RefCell::new((Some(f), Vec::new())));
    let settle = |fulfilled: bool| {
        let waiting = waiting.clone();
        Closure::new(move |v: JsValue| {
            let (f, closures) = {
                let mut w = waiting.borrow_mut();
                (w.0.take(), std::mem::take(&mut w.1))
            };
            // Dropping the closures here is safe: wasm-bindgen frees a running one after it returns.
            drop(closures);
            if let Some(f) = f {
                f(fulfilled.then_some(v));
            }
        })
    };
    let (ok, err) = (settle(true), settle(false));
    let _ = promise.then2(&ok, &err);
    waiting.borrow_mut().1 = vec![ok, err];
}

#[cfg(feature = "cancel")]
/// `fetch(url)` with a JSON body (when given), aborted after `timeout_ms`; `done` gets the
/// [`Answer`]. `keepalive` lets the request outlive
/// the page (the outbox's last flush on `pagehide`).
pub fn request(
    method: &str,
    url: &str,
    body: Option<&str>,
    timeout_ms: i32,
    keepalive: bool,
    done: impl FnOnce(Answer) + 'static,
) {
    // One copy of the body below for every caller's callback type.
    request_boxed(method, url, body, timeout_ms, keepalive, Box::new(done));
}

#[cfg(feature = "cancel")]
fn request_boxed(
    method: &str,
    url: &str,
    body: Option<&str>,
    timeout_ms: i32,
    keepalive: bool,
    done: Box<dyn FnOnce(Answer)>,
) {
    let Some(window) = web_sys::window() else {
        return done(Err(Failure::Later));
    };
    let Ok(controller) = AbortController::new() else {
        return done(Err(Failure::Later));
    };
    let init = RequestInit::new();
    init.set_method(method);
    init.set_signal(Some(&controller.signal()));
    if keepalive {
        let _ = Reflect::set(&init, &"keepalive".into(), &true.into());
    }
    if let Some(body) = body {
        let headers = Object::new();
        let _ = Reflect::set(&headers, &"content-type".into(), &"application/json".into());
        init.set_headers(&headers);
        init.set_body(&body.into());
    }
    let abort = Closure::once_into_js(move || controller.abort());
    let timer = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(abort.unchecked_ref(), timeout_ms)
        .unwrap_or_default();
    then(
        &window.fetch_with_str_and_init(url, &init),
        move |response| {
            window.clear_timeout_with_handle(timer);
            let Some(response) = response.and_then(|r| r.dyn_into::<Response>().ok()) else {
                return done(Err(Failure::Later));
            };
            let status = response.status();
            let Ok(text) = response.text() else {
                return done(answer(status, JsValue::UNDEFINED));
            };
            then(&text, move |text| {
                let body = text
                    .and_then(|t| t.as_string())
                    .filter(|t| !t.is_empty())
                    .and_then(|t| js_sys::JSON::parse(&t).ok())
                    .unwrap_or(JsValue::UNDEFINED);
                done(answer(status, body));
            });
        },
    );
}
