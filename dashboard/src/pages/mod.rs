//! The dashboard's pages, one module per area, and what they share.

pub mod compliance;
pub mod experiments;
pub mod flow;
pub mod overview;
pub mod prompts;
pub mod sessions;
pub mod settings;
pub mod webhooks;

use leptos::prelude::*;
use serde_json::Value;

use crate::api::Load;

/// Shows a request's answer with `ready`, a busy note while it loads, and the server's words
/// when it fails.
pub fn show(
    load: RwSignal<Load>,
    ready: impl Fn(Value) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    move || match load.get() {
        Load::Loading => view! { <p class="muted" aria-busy="true">"Loading…"</p> }.into_any(),
        Load::Failed(f) => view! { <p class="error" role="alert">{f.message}</p> }.into_any(),
        Load::Ready(v) => ready(v),
    }
}

/// A headline number with its definition (from METRICS.md) beside it.
#[component]
pub fn Kpi(
    /// What it is.
    name: &'static str,
    /// The number, written.
    value: String,
    /// How it is computed.
    formula: &'static str,
) -> impl IntoView {
    // Several numbers in one (30 · 60 · 90 days) are set smaller so they fit a card.
    let class = if value.contains('·') {
        "value multi"
    } else {
        "value"
    };
    view! {
        <div class="kpi">
            <dt>{name}</dt>
            <dd><span class=class>{value}</span><span class="formula">{formula}</span></dd>
        </div>
    }
}

/// An array field of a JSON value, or none.
pub fn rows(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
}

/// A string field, or empty.
pub fn s(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An integer field, or 0.
pub fn i(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or(0)
}

/// A number field, if present.
pub fn f(v: &Value, key: &str) -> Option<f64> {
    v[key].as_f64()
}

/// A message after an action: what happened, or why it was refused.
#[derive(Clone, PartialEq)]
pub enum Notice {
    /// Done.
    Done(String),
    /// Refused, in the server's words.
    Refused(String),
}

/// Where a page's [`Notice`] appears: a polite live region, so screen readers hear it.
pub fn notice_view(n: RwSignal<Option<Notice>>) -> impl IntoView {
    view! {
        <div aria-live="polite" class="notice-region">
            {move || n.get().map(|n| match n {
                Notice::Done(m) => view! { <p class="done">{m}</p> }.into_any(),
                Notice::Refused(m) => view! { <p class="error" role="alert">{m}</p> }.into_any(),
            })}
        </div>
    }
}
