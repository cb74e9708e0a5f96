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
//! - [`cancel`]: `Holdfast.cancel(options)`, the cancel flow: checks the call, loads the plan and
//!   opens the [`dialog`], which owns everything one open flow holds (its [`session`], the core
//!   `Flow`, its elements) in one place; it draws core's `Screen` for each step.
//! - [`session`]: one session's conversations with the host and the server (events, the offer
//!   acceptance, the cancellation, the outcome), a plain value the dialog owns; it never calls
//!   the dialog back.
//! - [`net`]: the typed API client: where the server is ([`net::Target`]), the URLs, and requests
//!   whose failures are a [`net::Failure`].
//! - [`outbox`]: events kept in `localStorage` until the server has them (sent by the loader when
//!   it is on the page, by the cancel bundle itself otherwise).
//! - [`prompts`]: `Holdfast.usage` and `Holdfast.gate`, rendering the server's prompt plan.
//! - [`dom`] and [`js`]: the leaves: the shadow root, element builders, focus and the modal's keys;
//!   reading and setting fields of JavaScript values, running something later.
//!
//! Imports point one way, from the entry points down to the leaves: no module imports one that
//! imports it back.

#[cfg(feature = "cancel")]
pub mod customer;
#[cfg(feature = "cancel")]
pub mod dialog;
pub mod dom;
#[cfg(feature = "cancel")]
mod flow;
pub mod js;
pub mod net;
pub mod outbox;
#[cfg(feature = "cancel")]
pub mod plan;
#[cfg(feature = "prompts")]
pub mod prompts;
#[cfg(feature = "cancel")]
pub mod session;
pub mod text;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::{Document, ShadowRoot};

use crate::dom::document;
pub use crate::dom::{HOST_ID, shadow_root};
use crate::js::field;
use crate::net::Target;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

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
    net::set_target(Target {
        endpoint: endpoint.trim_end_matches('/').to_string(),
        app,
    });
    outbox::start();
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
/// `prompt("usage" | "gate", options, plan)` with the server's prompt plan for them: the server has
/// checked the call (a wrong one is rejected by the loader with the server's message and never
/// reaches the bundle). Usage at 50 and 75% earns a quiet banner, at 90% a plan comparison, at 100%
/// a "limit reached" dialog (`metric: "seats"` suggests the team plan); a gate from its configured
/// hit on shows the feature with a free trial. Resolves with `{ status: "shown", prompt }` or
/// `{ status: "suppressed", reason }`; a plan the bundle cannot read rejects with a `TypeError`.
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
