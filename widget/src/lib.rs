//! # holdfast-widget
//!
//! The part of Holdfast that runs in the subscriber's browser. The host page loads a tiny loader
//! (`holdfast.js`), which fetches this WebAssembly bundle on idle or at the first call; the bundle
//! mounts a Leptos view inside an open Shadow DOM root on a host element appended to `body`, so the
//! host's CSS cannot break the widget and the widget's CSS cannot leak into the host.
//!
//! Decisions (which step comes next, which offer, whether a prompt may show) are made by
//! `holdfast-core`; this crate only turns them into DOM.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{Document, HtmlElement, ShadowRoot, ShadowRootInit, ShadowRootMode};

/// The id of the host element the widget appends to `body`; host pages can use it to find us.
pub const HOST_ID: &str = "holdfast-root";

/// The widget's stylesheet, injected once into the shadow root (never into the host document).
const STYLESHEET: &str = include_str!("../../style/widget.css");

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
    if root.query_selector(".hf-app")?.is_some() {
        return Ok(root);
    }
    let container: HtmlElement = document.create_element("div")?.unchecked_into();
    container.set_class_name("hf-app");
    root.append_child(&container)?;
    // The widget lives as long as the page: the handle is kept alive on purpose.
    std::mem::forget(leptos::mount::mount_to(container, Widget));
    Ok(root)
}

/// The widget's root view. Flows and prompts render inside it as they are requested.
#[component]
fn Widget() -> impl IntoView {
    view! { <div class="hf-root" data-testid="holdfast-ready" data-version=env!("CARGO_PKG_VERSION")></div> }
}

/// Entry point run by the loader once the bundle is instantiated.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("holdfast: no document"))?;
    mount(&document).map(|_| ())
}
