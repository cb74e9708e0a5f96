//! # holdfast-core: where Holdfast decides
//!
//! Every product decision lives here, once, with no IO: the widget (WebAssembly in the subscriber's
//! browser) and the server (which re-checks what the browser claims) call the same functions, so the
//! two can never disagree about which offer a customer may get or whether a prompt may show.
//!
//! The model, module by module:
//!
//! - [`customer`]: the subscriber as the host describes them.
//! - [`events`]: the event vocabulary the widget, the no-JavaScript page and the server share.
//! - [`validation`]: a leaf that imports nothing of the crate: [`validation::Problem`] (a field
//!   path and a reason), [`validation::Validation`], and the field checks the config and its parts
//!   share (ids, text, colours, locale tags, https links).
//! - [`config`]: an app's configuration (reasons, offers, targeting rules, policy, theme, copy,
//!   prompts, caps, experiments), one file per idea: the types, their validation with field
//!   paths, and the defaults that make a new app work before anyone edits it (including
//!   [`config::BUILT_IN_REASONS`], the one list of default survey reasons).
//! - [`calendar`]: civil dates from day counts and back, months added as a subscription counts
//!   them, ISO days and weeks; the server and the dashboard format dates with it.
//! - [`offer`]: the nine offer kinds and the guard rails on each.
//! - [`targeting`]: choosing the one offer for a customer, reason and experiment variant.
//! - [`plan`]: the cancel plan the server writes for one session and the widget renders.
//! - [`policy`]: per-jurisdiction policy profiles (how many offers, which labels, when an offer may
//!   appear) and how a session's profile is resolved.
//! - [`flow`]: the cancel flow as a state machine whose invariants are property-tested; its
//!   input is an [`flow::Action`] (what the subscriber did), not a wire event.
//! - [`screen`]: what each step shows, described once as data ([`screen::Screen`]: a title,
//!   blocks, buttons), made from the flow and the plan; the widget draws it as DOM and the
//!   no-JavaScript page as HTML, so the two can only differ in how they draw.
//! - [`assignment`]: deterministic experiment assignment, identical in browser and server.
//! - [`experiment`]: an experiment's lifecycle as config changes (a running split is frozen;
//!   shipping a variant writes its rules in for everyone).
//! - [`caps`]: frequency caps for upgrade prompts.
//! - [`i18n`]: the message catalog, locale resolution and plural choice.
//! - [`prompts`]: whether a usage report, gate hit or seat count earns an upgrade prompt, and the
//!   prompt plan the server writes for the widget to render.
//! - [`priority`]: which prompt has the screen when a second one is earned.
//! - [`rates`]: the ratios reports show (a save rate, a conversion, a share), written once.
//! - `stats` (feature `stats`, for the server only): the experiment statistics engine, uplift,
//!   intervals, chance to win, always-valid sequential tests, sample ratio mismatch and the minimum
//!   data rule, cross-checked against GrowthBook's `gbstats`.
//!
//! Imports point one way: the parts a config is made of (offers, experiments, caps) report
//! problems through the leaf [`validation`], never by importing [`config`], which imports them.
//!
//! Time is always [`customer::UnixSeconds`] passed in by the caller (`now`), never read from a clock,
//! so every decision is reproducible in tests and on the server.

pub mod assignment;
pub mod calendar;
pub mod caps;
pub mod config;
pub mod customer;
pub mod events;
pub mod experiment;
pub mod flow;
pub mod i18n;
pub mod offer;
pub mod plan;
pub mod policy;
pub mod priority;
pub mod prompts;
pub mod rates;
pub mod screen;
#[cfg(feature = "stats")]
pub mod stats;
pub mod targeting;
pub mod validation;

pub use customer::{AttributeValue, Customer, UnixSeconds};
