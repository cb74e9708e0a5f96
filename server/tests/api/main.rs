//! The API's integration tests: one binary, one module per resource. Each test starts its own
//! server on port 0 over a fresh SQLite file ([`helpers::spawn_app`]) and talks HTTP to it.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails by panicking; an unexpected error is exactly that"
)]

mod accounts;
mod admin_config;
mod audit;
mod cancel_page;
mod cancel_plan;
mod crash;
mod events;
mod experiments;
mod going_live;
mod helpers;
mod offers;
mod ops;
mod outcomes;
mod preview;
mod prompts;
mod sessions_log;
mod stats;
mod story;
mod tokens;
mod upgrade;
mod webhooks;
mod widget_config;
