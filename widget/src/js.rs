//! The leaf every other module uses to touch JavaScript values: reading fields of values the
//! browser already parsed (`JSON.parse`, `response.json()`, the host's options) without serde,
//! which would cost the bundles about a third of their size; setting fields of objects the widget
//! sends; and running something later. Written once here, imported by the rest, importing
//! nothing of the crate.
//!
//! The app config is not decoded in the browser: the server writes a cancel plan and a prompt
//! plan (core's `CancelPlan` and `PromptPlan`), and the widget reads only those (`crate::plan`,
//! `crate::prompts`), each tested against what core writes.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

/// A field of an object (`undefined` when the value is not an object or lacks it).
pub fn field(v: &JsValue, key: &str) -> JsValue {
    if v.is_object() {
        Reflect::get(v, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// A string field of an object, if it is one.
pub fn text(v: &JsValue, key: &str) -> Option<String> {
    field(v, key).as_string()
}

/// Sets `key` on a JS object.
pub fn set(o: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(o, &key.into(), value);
}

/// Runs `f` after `ms` milliseconds (0: once the current event and render have finished).
pub fn later(ms: i32, f: impl FnOnce() + 'static) {
    if let Some(w) = web_sys::window() {
        let f = Closure::once_into_js(f);
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(f.unchecked_ref(), ms);
    }
}
