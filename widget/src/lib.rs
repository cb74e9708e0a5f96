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
//! - [`prompts`]: `Holdfast.usage` and `Holdfast.gate`, rendering the server's prompt plan.
//! - [`js`]: the leaf for JavaScript values: reading and setting fields, running something later.

pub mod customer;
pub mod dialog;
#[cfg(feature = "cancel")]
mod flow;
pub mod js;
pub mod net;
pub mod outbox;
pub mod plan;
#[cfg(feature = "prompts")]
pub mod prompts;
pub mod session;
pub mod text;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::{Document, ShadowRoot, ShadowRootInit, ShadowRootMode};

use crate::js::field;
use crate::session::Target;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// The id of the host element the widget appends to `body`; host pages can use it to find us.
pub const HOST_ID: &str = "holdfast-root";

/// The widget's stylesheet, injected once into the shadow root (never into the host document).
const STYLESHEET: &str = include_str!(concat!(env!("OUT_DIR"), "/widget.min.css"));

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
    Ok(root)
}

/// Mounts the widget's root view into the shadow root and leaves it mounted for the page's life.
pub fn mount(document: &Document) -> Result<ShadowRoot, JsValue> {
    let root = shadow_root(document)?;
    // The prompts' polite live region, made when their bundle starts so it exists before anything
    // is announced (whichever bundle made the root: the cancel bundle announces nothing).
    #[cfg(feature = "prompts")]
    prompts::live_region(document, &root)?;
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

/// Forgets a cancel plan set with [`use_plan`], so the next flow asks the server again.
#[wasm_bindgen]
pub fn reset_config() {
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

/// `Holdfast.usage({ customer, metric, used, limit, unlimited?, period_end?, onUpgrade? })` and
/// `Holdfast.gate({ customer, feature, onTrial?, onUpgrade? })`, called by the loader as
/// `prompt("usage" | "gate", options, plan)` with the server's prompt plan (or `undefined`: then
/// the bundle asks the server itself). Usage at 50 and 75% earns a quiet banner, at 90% a plan
/// comparison, at 100% a "limit reached" dialog (`metric: "seats"` suggests the team plan); a gate
/// from its configured hit on shows the feature with a free trial. Resolves with
/// `{ status: "shown", prompt }` or `{ status: "suppressed", reason }`; a wrong call rejects with a
/// `TypeError` naming the field.
#[cfg(feature = "prompts")]
#[wasm_bindgen]
pub fn prompt(call: String, options: JsValue, plan: JsValue) -> Promise {
    let call: &'static str = if call == "gate" { "gate" } else { "usage" };
    let mut fns = None;
    let promise = Promise::new(&mut |resolve, reject| fns = Some((resolve, reject)));
    if let Some((resolve, reject)) = fns {
        prompts::run(
            call,
            options,
            plan,
            Box::new(move |answer| {
                let _ = match answer {
                    Ok(result) => resolve.call1(&JsValue::NULL, &result),
                    Err(message) => {
                        let message = ["Holdfast.", call, ": ", &message].concat();
                        web_sys::console::error_1(&message.as_str().into());
                        reject.call1(&JsValue::NULL, &js_sys::TypeError::new(&message))
                    }
                };
            }),
        );
    }
    promise
}

/// Takes any upgrade prompt off the screen: the loader calls it when the cancel flow opens, since
/// the two bundles share the page but not their memory.
#[cfg(feature = "prompts")]
#[wasm_bindgen]
pub fn hide_prompts() {
    prompts::hide();
}
