//! # holdfast-core: where Holdfast decides
//!
//! Every product decision lives here, once, with no IO: the widget (WebAssembly in the subscriber's
//! browser) and the server (which re-checks what the browser claims) call the same functions, so the
//! two can never disagree about which offer a customer may get or whether a prompt may show.
//!
//! The model, module by module:
//!
//! - [`customer`]: the subscriber as the host describes them.
//! - [`config`]: an app's configuration (reasons, offers, targeting rules, policy, theme, copy,
//!   prompts, caps, experiments), its validation with field paths, and the default config that makes
//!   a new app work before anyone edits it.
//! - [`offer`]: the nine offer kinds and the guard rails on each.
//! - [`targeting`]: choosing the one offer for a customer, reason and experiment variant.
//! - [`plan`]: the cancel plan the server writes for one session and the widget renders.
//! - [`policy`]: per-jurisdiction policy profiles (how many offers, which labels, when an offer may
//!   appear) and how a session's profile is resolved.
//! - [`flow`]: the cancel flow as a state machine whose invariants are property-tested.
//! - [`assignment`]: deterministic experiment assignment, identical in browser and server.
//! - [`experiment`]: an experiment's lifecycle as config changes (a running split is frozen;
//!   shipping a variant writes its rules in for everyone).
//! - [`caps`]: frequency caps for upgrade prompts.
//! - [`i18n`]: the message catalog, locale resolution and plural choice.
//! - [`prompts`]: whether a usage report, gate hit or seat count earns an upgrade prompt, and the
//!   prompt plan the server writes for the widget to render.
//! - [`priority`]: which prompt has the screen when a second one is earned.
//! - `stats` (feature `stats`, for the server only): the experiment statistics engine, uplift,
//!   intervals, chance to win, always-valid sequential tests, sample ratio mismatch and the minimum
//!   data rule, cross-checked against GrowthBook's `gbstats`.
//!
//! Time is always [`customer::UnixSeconds`] passed in by the caller (`now`), never read from a clock,
//! so every decision is reproducible in tests and on the server.

pub mod assignment;
pub mod caps;
pub mod config;
pub mod customer;
pub mod experiment;
pub mod flow;
pub mod i18n;
pub mod offer;
pub mod plan;
pub mod policy;
pub mod priority;
pub mod prompts;
#[cfg(feature = "stats")]
pub mod stats;
pub mod targeting;

pub use customer::{AttributeValue, Customer, UnixSeconds};
