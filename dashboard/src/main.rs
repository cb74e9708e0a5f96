//! The dashboard's entry point in the browser (see `lib.rs`).

#[cfg(target_arch = "wasm32")]
fn main() {
    holdfast_dashboard::start();
}

/// Natively there is nothing to run: the dashboard is a browser app (see `dashboard/Trunk.toml`).
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("holdfast-dashboard runs in the browser: build it with Trunk (scripts/run does)");
}
