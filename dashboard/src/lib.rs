//! # holdfast-dashboard: the growth team's dashboard
//!
//! A Leptos app in the browser over the admin API, served by `holdfast-server` at `/dashboard/`.
//! It signs in with a person's account (a session cookie, never a key in the page), reads the
//! numbers `METRICS.md` defines, runs experiments to a decision and edits the flow's config with
//! core's own validation, so a problem shows at its field, worded as the server words it.

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod charts;
#[cfg(target_arch = "wasm32")]
mod nav;
#[cfg(target_arch = "wasm32")]
mod pages;
pub mod text;

/// Mounts the dashboard on the page's body.
#[cfg(target_arch = "wasm32")]
pub fn start() {
    leptos::mount::mount_to_body(app::App);
}
