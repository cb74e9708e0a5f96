//! # holdfast-widget
//!
//! The part of Holdfast that runs in the subscriber's browser. The host page loads a tiny loader
//! (`holdfast.js`), which fetches this WebAssembly bundle at the first cancel call; the bundle
//! mounts its views inside an open Shadow DOM root on a host element appended to `body`, so the
//! host's CSS cannot break the widget and the widget's CSS cannot leak into the host.
//!
//! Decisions (which step comes next, which offer, which policy profile) are made by
//! `holdfast-core`; this crate turns them into DOM, talks to the server and reports outcomes.
//!
//! - [`cancel`]: `Holdfast.cancel(options)`, the cancel flow ([`dialog`]).
//! - [`session`]: the open flow's promise, events and focus.
//! - [`outbox`]: events kept in `localStorage` until the server has them.
//! - [`decode`]: config and options from JavaScript values into core's types.
//! - [`i18n`]: the message catalog and locale formatting.

pub mod customer;
pub mod decode;
pub mod dialog;
#[cfg(feature = "cancel")]
mod flow;
pub mod i18n;
pub mod net;
pub mod outbox;
pub mod plan;
#[cfg(feature = "prompts")]
pub mod prompts;
pub mod session;
pub mod text;

#[cfg(feature = "prompts")]
use std::sync::Arc;

#[cfg(feature = "prompts")]
use holdfast_core::config::AppConfig;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::{Document, ShadowRoot, ShadowRootInit, ShadowRootMode};

use crate::decode::field;
use crate::session::Target;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// The id of the host element the widget appends to `body`; host pages can use it to find us.
pub const HOST_ID: &str = "holdfast-root";

/// How long the flow waits for the config before it falls back to built-in reasons.
pub(crate) const CONFIG_TIMEOUT_MS: i32 = 3_000;

/// The widget's stylesheet, injected once into the shadow root (never into the host document).
const STYLESHEET: &str = include_str!(concat!(env!("OUT_DIR"), "/widget.min.css"));

thread_local! {
    #[cfg(feature = "prompts")]
    static CONFIG: std::cell::RefCell<Option<Arc<AppConfig>>> = const { std::cell::RefCell::new(None) };
}

pub(crate) fn document() -> Result<Document, JsValue> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("holdfast: no document"))
}

/// Finds or creates the widget's shadow root, so calling it twice never mounts twice.
pub fn shadow_root(document: &Document) -> Result<ShadowRoot, JsValue> {
    if let Some(existing) = document
        .get_element_by_id(HOST_ID)
        .and_then(|host| host.shadow_root())
    {
        return Ok(existing);
    }
    let host = document.create_element("div")?;
    host.set_id(HOST_ID);
    let body = document
        .body()
        .ok_or_else(|| JsValue::from_str("holdfast: the page has no <body> to mount into"))?;
    body.append_child(&host)?;
    let root = host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?;
    let style = document.create_element("style")?;
    style.set_text_content(Some(STYLESHEET));
    root.append_child(&style)?;
    // One polite live region for non-modal prompts: it exists before anything is announced.
    let live = document.create_element("div")?;
    live.set_id("hf-live");
    live.set_class_name("hf-sr");
    live.set_attribute("aria-live", "polite")?;
    live.set_attribute("role", "status")?;
    root.append_child(&live)?;
    Ok(root)
}

/// Mounts the widget's root view into the shadow root and leaves it mounted for the page's life.
pub fn mount(document: &Document) -> Result<ShadowRoot, JsValue> {
    let root = shadow_root(document)?;
    if root.query_selector(".hf-app")?.is_some() {
        return Ok(root);
    }
    let container = document.create_element("div")?;
    container.set_class_name("hf-app");
    let ready = document.create_element("div")?;
    ready.set_class_name("hf-root");
    ready.set_attribute("data-testid", "holdfast-ready")?;
    ready.set_attribute("data-version", env!("CARGO_PKG_VERSION"))?;
    container.append_child(&ready)?;
    root.append_child(&container)?;
    Ok(root)
}

/// Entry point run by the loader once the bundle is instantiated.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    mount(&document()?).map(|_| ())
}

/// `Holdfast` loader hand-off: `{ app, endpoint }` from the script tag, and later `token`, the
/// newest customer token the page handed to `Holdfast.identify` (read when events are sent).
#[wasm_bindgen]
pub fn configure(options: JsValue) {
    outbox::watch_loader(options.clone());
    let endpoint = field(&options, "endpoint").as_string().unwrap_or_default();
    let app = field(&options, "app").as_string().unwrap_or_default();
    session::set_target(Target {
        endpoint: endpoint.trim_end_matches('/').to_string(),
        app,
    });
}

/// Uses `config` for the next flows instead of fetching it: for hosts that embed the crate
/// directly, and for tests.
#[cfg(feature = "prompts")]
pub fn use_config(config: AppConfig) {
    CONFIG.with(|c| *c.borrow_mut() = Some(Arc::new(config)));
}

/// Forgets the cached config, so the next flow fetches it again (after an admin edit, in tests).
#[wasm_bindgen]
pub fn reset_config() {
    #[cfg(feature = "prompts")]
    CONFIG.with(|c| *c.borrow_mut() = None);
    #[cfg(feature = "cancel")]
    flow::use_plan(None);
}

/// Uses `plan` (JSON as the server writes it) for the next cancel flows instead of asking the
/// server: for hosts that embed the crate directly, and for tests.
#[cfg(feature = "cancel")]
pub fn use_plan(plan: &str) {
    flow::use_plan(Some(plan.to_string()));
}

/// `Holdfast.cancel({ customer, locale?, profile?, period_end?, onOutcome? })`: opens the cancel
/// flow and resolves with `{ outcome: "saved", offer }`, `{ outcome: "cancelled", effective_date? }`
/// or `{ outcome: "abandoned" }`. A wrong call rejects with a `TypeError` naming the field.
#[cfg(feature = "cancel")]
#[wasm_bindgen]
pub fn cancel(options: JsValue) -> Promise {
    let mut fns = None;
    let promise = Promise::new(&mut |resolve, reject| fns = Some((resolve, reject)));
    if let Some((resolve, reject)) = fns {
        flow::open(options, resolve, reject);
    }
    promise
}

/// `Holdfast.usage({ customer, metric, used, limit, unlimited?, period_end?, onUpgrade? })`:
/// reports usage of a metric; at 50 and 75% a quiet banner, at 90% a plan comparison, at 100% a
/// "limit reached" dialog. `metric: "seats"` takes `used`/`limit` from the customer's seats and
/// accepts `invites`. Resolves with `{ status: "shown", prompt }` or
/// `{ status: "suppressed", reason }`; a wrong call rejects with a `TypeError` naming the field.
#[cfg(feature = "prompts")]
#[wasm_bindgen]
pub fn usage(options: JsValue) -> Promise {
    prompt_call("usage", options)
}

/// `Holdfast.gate({ customer, feature, onTrial?, onUpgrade? })`: the customer tried a locked
/// feature; from the configured hit on, shows the feature with a free trial offer.
#[cfg(feature = "prompts")]
#[wasm_bindgen]
pub fn gate(options: JsValue) -> Promise {
    prompt_call("gate", options)
}

/// Takes any upgrade prompt off the screen: the loader calls it when the cancel flow opens, since
/// the two bundles share the page but not their memory.
#[cfg(feature = "prompts")]
#[wasm_bindgen]
pub fn hide_prompts() {
    prompts::hide();
}

#[cfg(feature = "prompts")]
fn prompt_call(call: &'static str, options: JsValue) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        prompts::run(call, options).await.map_err(|message| {
            let message = ["Holdfast.", call, ": ", &message].concat();
            web_sys::console::error_1(&message.as_str().into());
            JsValue::from(js_sys::TypeError::new(&message))
        })
    })
}

#[cfg(feature = "prompts")]
/// The config for this app: cached after the first fetch; `None` when the server does not answer
/// in time or answers something unusable.
pub(crate) async fn load_config() -> Option<Arc<AppConfig>> {
    if let Some(c) = CONFIG.with(|c| c.borrow().clone()) {
        return Some(c);
    }
    let Target { endpoint, app } = session::target();
    let url = [endpoint.as_str(), "/v1/apps/", &app, "/config"].concat();
    let reply = net::fetch("GET", &url, None, CONFIG_TIMEOUT_MS)
        .await
        .ok()?;
    if !reply.ok() {
        return None;
    }
    match decode::config(&reply.body) {
        Ok(config) => {
            let config = Arc::new(config);
            CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
            Some(config)
        }
        Err(e) => {
            web_sys::console::warn_1(
                &["Holdfast: unusable config, using defaults: ", &e.message()]
                    .concat()
                    .into(),
            );
            None
        }
    }
}
