//! Where the dashboard is: the context every page reads (the person, the app, the mode, the
//! range, the page) and the links between pages. A leaf, so the shell and its pages never import
//! each other.

use leptos::prelude::*;
use serde_json::Value;

use crate::api;

/// Where the dashboard is served.
pub const BASE: &str = "/dashboard";

/// What every page reads: the person, the app, the mode, the range and the current page.
#[derive(Clone, Copy)]
pub struct Ctx {
    /// `/v1/auth/me`, once known; `None` while signed out.
    pub me: RwSignal<Option<Value>>,
    /// The app shown.
    pub app: RwSignal<String>,
    /// `test` or `live`.
    pub mode: RwSignal<&'static str>,
    /// The range shown, in days back from now.
    pub days: RwSignal<i64>,
    /// The page's path below [`BASE`] (`/experiments/too_expensive_depth`).
    pub route: RwSignal<String>,
    /// Bumped after a change, so pages read again.
    pub version: RwSignal<u32>,
}

impl Ctx {
    /// The context every component below `app::App` finds.
    pub fn get() -> Self {
        expect_context::<Ctx>()
    }

    /// The admin API path of the current app: `/v1/admin/apps/{app}{rest}`.
    pub fn admin(&self, rest: &str) -> String {
        format!("/v1/admin/apps/{}{rest}", api::enc(&self.app.get()))
    }

    /// `from=…&to=…&mode=…` for the range and mode shown (tracked).
    pub fn range_query(&self) -> String {
        let now = (js_sys::Date::now() / 1000.0) as i64;
        let to = now + 60;
        let from = to - self.days.get() * 86_400;
        format!("from={from}&to={to}&mode={}", self.mode.get())
    }

    /// The signed-in person's role in the current app (`viewer`, `editor`, `owner`).
    pub fn role(&self) -> String {
        let app = self.app.get();
        self.me
            .get()
            .and_then(|me| {
                me["apps"].as_array().and_then(|apps| {
                    apps.iter()
                        .find(|a| a["app_id"] == app.as_str())
                        .and_then(|a| a["role"].as_str().map(str::to_string))
                })
            })
            .unwrap_or_default()
    }

    /// Whether the person may change config and experiments.
    pub fn can_edit(&self) -> bool {
        matches!(self.role().as_str(), "editor" | "owner")
    }

    /// Whether the person may manage keys, webhooks and people.
    pub fn is_owner(&self) -> bool {
        self.role() == "owner"
    }

    /// Goes to `path` (below [`BASE`]) without reloading.
    pub fn go(&self, path: &str) {
        if let Some(w) = web_sys::window()
            && let Ok(history) = w.history()
        {
            let _ = history.push_state_with_url(
                &wasm_bindgen::JsValue::NULL,
                "",
                Some(&format!("{BASE}{path}")),
            );
        }
        self.route.set(path.to_string());
        scroll_to_top();
    }

    /// Tells every page to read again.
    pub fn changed(&self) {
        self.version.update(|v| *v = v.wrapping_add(1));
    }
}

fn scroll_to_top() {
    if let Some(w) = web_sys::window() {
        w.scroll_to_with_x_and_y(0.0, 0.0);
    }
}

pub(crate) fn current_path() -> String {
    let path = web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_default();
    let rest = path.strip_prefix(BASE).unwrap_or("/");
    if rest.is_empty() {
        "/".into()
    } else {
        rest.into()
    }
}

pub(crate) fn hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// A link inside the dashboard: a real `href` (open in a new tab works) that navigates in place.
#[component]
pub fn Link(
    /// Path below [`BASE`].
    to: String,
    /// The link's content.
    children: Children,
) -> impl IntoView {
    let ctx = Ctx::get();
    let target = to.clone();
    let current = to.clone();
    view! {
        <a
            href=format!("{BASE}{to}")
            aria-current=move || {
                let route = ctx.route.get();
                let here = route == current
                    || (current != "/" && route.starts_with(&format!("{current}/")));
                here.then_some("page")
            }
            on:click=move |ev: leptos::ev::MouseEvent| {
                if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.button() != 0 {
                    return;
                }
                ev.prevent_default();
                ctx.go(&target);
            }
        >
            {children()}
        </a>
    }
}
