//! An app's configuration: what growth teams edit, what the widget renders from and what the
//! server re-checks against.
//!
//! The config is one serde document with a `schema` number so stored versions stay readable as it
//! evolves. [`AppConfig::validate`] reports every problem at once, each with the field path a person
//! would type (`offers[2].terms.percent`) and a reason, and keeps warnings apart, so an editor can
//! show them all in one round trip. [`AppConfig::default`] encodes the product's default
//! reason-to-offer mapping, so a new app works before anyone edits anything.
//!
//! One file per idea: `types` (the document and its parts), `validate` (the whole-config checks,
//! which call each part's own), `defaults` (what a new app gets: its reasons, offers, rules and plans). [`Problem`] and [`Validation`]
//! live in the leaf [`crate::validation`] and are re-exported here, so the parts of a config
//! (offers, experiments, caps) report problems without importing the config back.

mod defaults;
mod types;
mod validate;

pub use crate::validation::{Problem, Validation, is_locale_tag};
pub use defaults::BUILT_IN_REASONS;
pub use types::*;

#[cfg(test)]
mod tests;
