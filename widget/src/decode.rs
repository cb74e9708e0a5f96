//! Reading fields of values the browser already parsed (`JSON.parse`, `response.json()`, the
//! host's options) without serde, which would cost the bundles about a third of their size.
//!
//! The app config is no longer decoded in the browser: the server writes a cancel plan and a
//! prompt plan (core's `CancelPlan` and `PromptPlan`), and the widget reads only those
//! (`crate::plan`, `crate::prompts`), each tested against what core writes.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// A field of an object (`undefined` when the value is not an object or lacks it).
pub fn field(v: &JsValue, key: &str) -> JsValue {
    if v.is_object() {
        Reflect::get(v, &key.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}
