//! The leaf for the DOM: the shadow root the widget lives in, the few element builders the cancel
//! dialog draws with, focus, and the modal's keyboard rules that the cancel dialog and the upgrade
//! prompts share. It imports nothing of the crate: the other modules build on it, so it never calls
//! back into them.

use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, ShadowRoot, ShadowRootInit, ShadowRootMode};

/// The id of the host element the widget appends to `body`; host pages can use it to find us.
pub const HOST_ID: &str = "holdfast-root";

/// The widget's stylesheet, injected once into the shadow root (never into the host document).
const STYLESHEET: &str = include_str!(concat!(env!("OUT_DIR"), "/widget.min.css"));

/// The page's document.
pub fn document() -> Result<Document, JsValue> {
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

/// The widget's shadow root if it is mounted.
pub fn shadow() -> Option<ShadowRoot> {
    web_sys::window()?
        .document()?
        .get_element_by_id(HOST_ID)?
        .shadow_root()
}

/// Whether a cancel dialog is on screen, looked up in the DOM so the prompt bundle, which shares
/// the page but not the cancel bundle's memory, sees the cancel bundle's dialog too.
pub fn cancel_on_screen() -> bool {
    shadow()
        .and_then(|r| r.query_selector("[data-testid=hf-dialog]").ok().flatten())
        .is_some()
}

/// An element with a class and attributes.
pub fn el(
    doc: &Document,
    tag: &str,
    class: &str,
    attrs: &[(&str, &str)],
) -> Result<Element, JsValue> {
    let e = doc.create_element(tag)?;
    if !class.is_empty() {
        e.set_class_name(class);
    }
    for (k, v) in attrs {
        e.set_attribute(k, v)?;
    }
    Ok(e)
}

/// An element with text.
pub fn text(
    doc: &Document,
    tag: &str,
    class: &str,
    attrs: &[(&str, &str)],
    text: &str,
) -> Result<Element, JsValue> {
    let e = el(doc, tag, class, attrs)?;
    e.set_text_content(Some(text));
    Ok(e)
}

/// Appends a freshly built child.
pub fn append(parent: &Element, child: Result<Element, JsValue>) -> Result<(), JsValue> {
    let child = child?;
    parent.append_child(&child).map(drop)
}

/// Moves focus to `el` if it is an element that can take it.
pub fn focus(el: &Element) {
    if let Some(el) = el.dyn_ref::<web_sys::HtmlElement>() {
        let _ = el.focus();
    }
}

/// A modal's keys: Esc closes (`on_close`); Tab and Shift+Tab cycle inside the dialog (the focus
/// trap).
pub fn keydown(ev: &web_sys::KeyboardEvent, on_close: impl FnOnce()) {
    match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            on_close();
        }
        "Tab" => {
            let Some(root) = shadow() else { return };
            let Ok(list) = root.query_selector_all(
                ".hf-dialog button:not([disabled]), .hf-dialog a[href], .hf-dialog input:checked, .hf-dialog textarea",
            ) else {
                return;
            };
            let n = list.length();
            if n == 0 {
                return;
            }
            let (first, last) = (list.get(0), list.get(n - 1));
            let active = root.active_element().map(JsValue::from);
            let at = |node: &Option<web_sys::Node>| node.as_ref().map(JsValue::from) == active;
            let target = if ev.shift_key() && (at(&first) || active.is_none()) {
                last
            } else if !ev.shift_key() && at(&last) {
                first
            } else {
                None
            };
            if let Some(el) = target.and_then(|t| t.dyn_into::<Element>().ok()) {
                ev.prevent_default();
                focus(&el);
            }
        }
        _ => {}
    }
}
