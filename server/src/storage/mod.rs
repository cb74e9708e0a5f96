//! Where the server keeps apps, configs, sessions and outcomes.
//!
//! [`Store`] is the one storage trait; each method is a use case the API needs ("record this event
//! batch", "the stats for this range"), not a table operation, so handlers never see SQL. Two
//! backends implement it, picked from the database URL by [`Storage::open`]:
//!
//! - [`sqlite`]: the default, one file in WAL mode, nothing to install.
//! - [`postgres`]: for running several stateless replicas on one database.
//!
//! Each backend owns its migrations (`migrations/sqlite`, `migrations/postgres`), applied by sqlx's
//! migrator from the binary, which records their checksums (see the private `migrations` module
//! for databases made before it). The queries themselves are written once, in the SQL both
//! engines speak; every query is checked at runtime (`query_as` + `bind`), none at compile time.
//! Most use cases ([`apps`], [`changes`], [`experiments`], [`prompts`], [`users`],
//! [`session_log`], [`webhooks`]) have one plain generic implementation over a backend's pool
//! (`backend::Pooled`), with rows read into `sqlx::FromRow` types where they have many columns; so
//! do the events, stats and outcome use cases ([`Store`] itself and [`outcomes::OutcomeStore`]),
//! over the shared write helpers of the private `sql` module (the fold, rollup snapshots and
//! settlement, session upserts). What differs between the databases is a trait item of
//! `backend::Driver` (how a transaction begins, `SKIP LOCKED`, rows changed, per-customer locks), not
//! a second copy of the code. Each use case takes a [`Scope`], and the ingest log's plumbing is
//! [`IngestLog`], written per backend.
//!
//! Event ingest is split in two so a request pays only for durability. The request appends its
//! validated batch as one record to an append-only ingest log and is answered once it is durable:
//! on PostgreSQL an `ingest_log` table shared by the replicas, through a group-commit writer
//! (`batch`); on SQLite append-only files next to the database (`filelog`). A background
//! aggregator per store (`aggregate`) drains the log in large transactions: it stores the events
//! (dropping retried event ids), maintains the `sessions` table (one row per cancel session, so a
//! stats report groups sessions instead of scanning raw events), the prompt tables of
//! [`prompts`] (one row per impression) and first exposures, and marks the records folded in the
//! same transaction (PostgreSQL deletes the rows; SQLite advances a folded key). Reads whose
//! answer depends on events call [`IngestLog::settle`] first (the backends' read methods do it
//! themselves), so they see every batch that was answered before them.

pub mod aggregate;
pub mod apps;
pub mod arms;
mod backend;
mod batch;
pub mod changes;
pub mod experiments;
mod facts;
pub(crate) mod filelog;
mod migrations;
pub mod outcomes;
pub mod postgres;
pub mod prompts;
pub mod rollup;
pub mod session_log;
mod sql;
pub mod sqlite;
mod statement;
mod store;
pub mod users;
pub mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use aggregate::IngestOptions;

/// How long a public read waits for the fold before answering from what is folded.
pub const PUBLIC_READ_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a report waits for the fold before answering [`Backlogged`].
pub const REPORT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Beyond this many unfolded batches, event ingest answers 503 (backpressure): the default of
/// `Settings::max_backlog_rows`.
pub const MAX_BACKLOG_ROWS: i64 = 100_000;

/// The fold is too far behind for an exact answer now: a 503 with `Retry-After`, never a hang.
#[derive(Debug, thiserror::Error)]
#[error("the ingest log is being folded; retry shortly")]
pub struct Backlogged;

/// The storage handle the server shares: the backend the URL picked.
#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn Store>,
}

impl Storage {
    /// Opens the database `url` names (`sqlite://FILE`, created if missing, or `postgres://...`)
    /// and applies its migrations.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        Self::open_with(url, IngestOptions::default()).await
    }

    /// Opens the database for administration only: apps, keys and configs, with no ingest log,
    /// so it can run while a server uses the same database.
    pub async fn open_admin(url: &str) -> anyhow::Result<Self> {
        Self::open_with(
            url,
            IngestOptions {
                aggregate: false,
                log: false,
                ..IngestOptions::default()
            },
        )
        .await
    }

    /// As [`Storage::open`], with explicit aggregator options (tests simulate a crash before the
    /// aggregator ran by turning it off).
    pub async fn open_with(url: &str, options: IngestOptions) -> anyhow::Result<Self> {
        let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
            Arc::new(sqlite::SqliteStore::open_with(url, options).await?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Arc::new(postgres::PostgresStore::open_with(url, options).await?)
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:");
        };
        let moved = store.adopt_legacy_secrets(crate::clock::now()).await?;
        if moved > 0 {
            tracing::info!(
                apps = moved,
                "moved apps' single secrets to signing secrets and admin keys"
            );
        }
        Ok(Self { store })
    }
}

impl std::ops::Deref for Storage {
    type Target = dyn Store;

    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// An app to create at startup if missing (or whose origins to update), such as the demo app.
/// Its keys are added separately ([`apps::AppStore`]).
#[derive(Debug, Clone)]
pub struct NewApp {
    /// Public id, as in the script tag.
    pub id: String,
    /// What the operator calls it.
    pub name: String,
    /// Browser origins allowed to call the public endpoints.
    pub origins: Vec<String>,
    /// The config to start with, as JSON (only used when the app is created).
    pub config_json: String,
    /// Creation time.
    pub now: i64,
}

/// An app as stored. Its keys are apart ([`apps::AppStore::signing_secrets`]).
#[derive(Debug, Clone)]
pub struct AppRecord {
    /// Public id.
    pub id: String,
    /// Name and origins: they serve both modes.
    pub settings: apps::AppSettings,
    /// The current config document.
    pub config_json: String,
    /// The current config's version number.
    pub config_version: i64,
}

/// One accepted version of an app's config, for the history list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigVersion {
    /// Version number, from 1, increasing with every accepted change.
    pub version: i64,
    /// When it was accepted.
    pub created_at: i64,
}

/// What an event does to its cancel session's aggregate row. Serialized into the ingest log, so
/// empty fields are left out: every accepted request writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionFacts {
    /// The customer of the session.
    pub customer_id: String,
    /// When the session started (the event's time; the earliest wins).
    pub started_at: i64,
    /// Monday of the session's week, `YYYY-MM-DD`, for weekly breakdowns.
    pub week: String,
    /// The customer's plan.
    pub plan: String,
    /// The customer's MRR, what a save keeps.
    pub mrr_cents: i64,
    /// Tenure band label (`0-30d`, ...).
    pub tenure_band: String,
    /// `experiment:variant` the customer is in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The survey answer, when this event carries it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The survey's free-text answer, on a `reason_selected` event only: `Some("")` when that
    /// answer came without text, so a later answer without text replaces an earlier one's (the
    /// latest answer wins, as `reason` does); `None` on every other event, which keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_text: Option<String>,
    /// The offer shown or accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<String>,
    /// Its kind, for breakdowns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_kind: Option<String>,
    /// What the offer costs over its whole term (`OfferTerms::cost_cents`), reported beside
    /// saved MRR.
    #[serde(skip_serializing_if = "is_zero")]
    pub offer_cost_cents: i64,
    /// The offer's term in months (a discount's or a pause's; 0 for a one-off), so net revenue
    /// counts only the part of its cost inside a window.
    #[serde(skip_serializing_if = "is_zero")]
    pub offer_months: i64,
    /// The session ended with an accepted offer.
    #[serde(skip_serializing_if = "is_false")]
    pub saved: bool,
    /// When it was saved (durability is measured from here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_at: Option<i64>,
    /// The subscriber confirmed the cancellation.
    #[serde(skip_serializing_if = "is_false")]
    pub cancelled: bool,
    /// The subscriber closed the flow.
    #[serde(skip_serializing_if = "is_false")]
    pub abandoned: bool,
    /// A step after `flow_started` happened (set by the fold from the event's type): a flow
    /// closed quickly without one is a bounce.
    #[serde(skip_serializing_if = "is_false")]
    pub interacted: bool,
    /// When the flow was closed (the earliest `flow_abandoned`; set by the fold).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
    /// Audit trail lines this event adds to the session (see `crate::audit::TrailEntry`), each
    /// a JSON object ending in a newline: appended, never rewritten.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub trail: String,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A validated widget event, ready to store.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    /// Client-generated UUID: the idempotency key.
    pub id: String,
    /// The session it belongs to.
    pub session_id: String,
    /// Event type (`flow_started`, ...).
    pub kind: &'static str,
    /// When it happened, unix seconds.
    pub at: i64,
    /// The event as received, kept as the session's audit record.
    pub payload: String,
    /// The customer.
    pub customer_id: String,
    /// Its effect on the cancel session, for cancel-flow events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionFacts>,
    /// The outcome it records when folded, if the session has none by then (a confirmation
    /// that waited in the outbox): computed at ingest, written by the aggregator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<outcomes::PendingOutcome>,
}

/// One accepted request's batch, as appended to the ingest log: everything the aggregator needs
/// to fold it later, computed at request time (with the app config of that moment).
#[derive(Debug, Clone, Copy)]
pub struct IngestBatch<'a> {
    /// The customer of the prompt changes and exposures.
    pub customer_id: &'a str,
    /// The events, validated; each is stored once per `(app, id)`.
    pub events: &'a [StoredEvent],
    /// Their effect on the customer's prompt state.
    pub prompt_events: &'a [prompts::PromptEvent],
    /// Experiment variants the customer was exposed to (an offer or prompt was shown), recorded
    /// as first exposures unless already recorded.
    pub exposures: &'a [(String, String)],
    /// When the server accepted the batch, unix seconds: the exposures' time.
    pub received_at: i64,
}

/// The answer to an ingest: what was durably received. Whether an event was new is only known
/// once the aggregator folds the batch; a retried event id is dropped there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Events durably received (retries included: they are dropped when folded).
    pub accepted: u64,
}

/// The state of a store's ingest log, for operators and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStatus {
    /// Log rows (accepted batches) not folded yet.
    pub backlog_rows: i64,
    /// Events in those rows.
    pub backlog_events: i64,
    /// Events this process's aggregator has folded since the store was opened.
    pub folded_events: u64,
}

/// An accepted offer, to record in the ledger and as the session's save.
#[derive(Debug, Clone)]
pub struct AcceptanceRecord {
    /// The idempotency key sent by the widget.
    pub event_id: String,
    /// The session it saves.
    pub session_id: String,
    /// The accepted offer.
    pub offer_id: String,
    /// Its kind, for the abuse ledger.
    pub kind: String,
    /// When it was accepted.
    pub at: i64,
    /// The exact response body, replayed for a retried request.
    pub response_json: String,
    /// The session's save.
    pub session: SessionFacts,
}

/// A customer lifecycle event reported by the host's backend.
#[derive(Debug, Clone)]
pub struct LifecycleRecord {
    /// The customer.
    pub customer_id: String,
    /// `upgraded`, `resumed` or `churned`.
    pub kind: String,
    /// When it happened, unix seconds.
    pub at: i64,
    /// The plan after the change, if reported.
    pub plan: Option<String>,
    /// MRR after the change, if reported.
    pub mrr_cents: Option<i64>,
}

/// The range and mode of a stats report.
#[derive(Debug, Clone, Copy)]
pub struct StatsRange {
    /// Live or test data.
    pub live: bool,
    /// Sessions started at or after (unix seconds).
    pub from: i64,
    /// Sessions started before (unix seconds).
    pub to: i64,
    /// The current time, for durability windows that have not elapsed yet.
    pub now: i64,
}

pub use rollup::{RetentionCount, Tally};

/// Of the saves whose window has elapsed, how many were still subscribed `days` later.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DurabilityCount {
    /// The window: 30, 60 or 90 days.
    pub days: i64,
    /// Saves at least `days` old.
    pub measured: i64,
    /// Of those, not churned at the window's end.
    pub retained: i64,
}

/// Everything a stats report is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsData {
    /// All sessions in range.
    pub totals: Tally,
    /// Per dimension (`reason`, `offer_kind`, `plan`, `tenure_band`, `variant`, `week`): the
    /// tally per value, `none` for sessions without one.
    pub breakdowns: Vec<(&'static str, Vec<(String, Tally)>)>,
    /// Save durability at 30, 60 and 90 days.
    pub durability: Vec<DurabilityCount>,
}

impl StatsData {
    /// The report's data from its tallies.
    pub fn from_tallies(mut tallies: rollup::Tallies) -> Self {
        let totals = tallies.totals;
        Self {
            durability: rollup::HORIZONS
                .iter()
                .zip(totals.durability)
                .map(|(days, d)| DurabilityCount {
                    days: *days,
                    measured: d.measured,
                    retained: d.retained,
                })
                .collect(),
            totals,
            breakdowns: DIMENSIONS
                .iter()
                .map(|d| {
                    let rows = tallies.breakdowns.remove(d).unwrap_or_default();
                    (*d, rows.into_iter().collect())
                })
                .collect(),
        }
    }
}

/// The dimensions stats are broken down by: session columns, never user input.
pub const DIMENSIONS: [&str; 6] = [
    "reason",
    "offer_kind",
    "plan",
    "tenure_band",
    "variant",
    "week",
];

/// Whose data a storage call reads or writes: one app's live or test data, never both. Every
/// use case that touches an app's data takes one, so the two can never be passed apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    /// The app.
    pub app_id: &'a str,
    /// Live data (`true`) or test data.
    pub live: bool,
}

impl<'a> Scope<'a> {
    /// `app_id`'s live or test data.
    pub fn new(app_id: &'a str, live: bool) -> Self {
        Self { app_id, live }
    }
}

/// The ingest log's plumbing, apart from the use cases: a batch appended durably, the wait for
/// the aggregator to fold what was appended before, and its progress. Each backend implements it
/// over its own log (files beside the SQLite database, a shared table on PostgreSQL) in plain
/// code; [`Store`] builds on it.
#[async_trait]
pub trait IngestLog: Send + Sync {
    /// Appends a batch to the ingest log, durably, as one row; all or nothing. The aggregator
    /// folds it later: events whose id is already stored are dropped, the others stored and
    /// folded into their sessions, prompt state and exposures.
    async fn ingest(
        &self,
        scope: Scope<'_>,
        batch: &IngestBatch<'_>,
    ) -> anyhow::Result<IngestOutcome>;

    /// Ingests events without prompt changes or exposures (the demo's seeding uses it).
    async fn record_events(
        &self,
        scope: Scope<'_>,
        events: &[StoredEvent],
    ) -> anyhow::Result<IngestOutcome> {
        let Scope { app_id, live } = scope;
        let batch = IngestBatch {
            customer_id: "",
            events,
            prompt_events: &[],
            exposures: &[],
            received_at: crate::clock::now(),
        };
        self.ingest(crate::storage::Scope::new(app_id, live), &batch)
            .await
    }

    /// Waits until every batch appended before the call is folded: read-your-writes for the
    /// reads that depend on events. The backends' event-dependent reads (stats, prompt state and
    /// stats, exposures, session counts, upgrade attribution) call it themselves.
    async fn settle(&self) -> anyhow::Result<()>;

    /// As [`IngestLog::settle`], waiting at most `limit`: whether it settled. Reads that can do with
    /// an answer a moment old (a plan's sticky variants, a prompt state) never wait for a
    /// backlog; reports that must be exact answer [`Backlogged`] instead of hanging.
    async fn settle_within(&self, limit: std::time::Duration) -> bool {
        matches!(tokio::time::timeout(limit, self.settle()).await, Ok(Ok(())))
    }

    /// The ingest log's backlog and the aggregator's progress.
    async fn ingest_status(&self) -> anyhow::Result<IngestStatus>;

    /// Counts the aggregator's stored and duplicate events into the server's metrics, which can
    /// only know them once a batch is folded.
    fn attach_metrics(&self, metrics: Arc<crate::metrics::Metrics>);
}

/// The storage use cases. Every backend implements all of them with the same meaning; the story
/// test in `tests/api/story.rs` drives them against each.
#[async_trait]
pub trait Store:
    IngestLog
    + prompts::PromptStore
    + apps::AppStore
    + outcomes::OutcomeStore
    + webhooks::WebhookStore
    + experiments::ExperimentStore
    + users::UserStore
    + session_log::SessionLogStore
    + changes::ChangeStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// `sqlite` or `postgres`, for logs.
    fn backend(&self) -> &'static str;

    /// Whether the database answers: the readiness probe.
    async fn ping(&self) -> bool;

    /// Creates the app if missing (its config becomes version 1); otherwise updates its secret,
    /// mode and origins and keeps its config.
    async fn ensure_app(&self, app: &NewApp) -> anyhow::Result<()>;

    /// The app, if it exists.
    async fn app(&self, app_id: &str) -> anyhow::Result<Option<AppRecord>>;

    /// Makes `config_json` the app's current config as a new version and returns its number.
    async fn replace_config(
        &self,
        app_id: &str,
        config_json: &str,
        now: i64,
    ) -> anyhow::Result<i64>;

    /// Every accepted config version, newest first.
    async fn config_versions(&self, app_id: &str) -> anyhow::Result<Vec<ConfigVersion>>;

    /// The config document of one version.
    async fn config_version(&self, app_id: &str, version: i64) -> anyhow::Result<Option<String>>;

    /// Every config version's document, oldest first: what the reason and offer ids an event may
    /// name are drawn from.
    async fn all_configs(&self, app_id: &str) -> anyhow::Result<Vec<String>>;

    /// The customer's recorded experiment exposures, `(experiment, variant)`.
    async fn exposures(
        &self,
        scope: Scope<'_>,
        customer_id: &str,
    ) -> anyhow::Result<Vec<(String, String)>>;

    /// Records first exposures; an experiment the customer was already exposed to keeps its
    /// variant (sticky).
    async fn record_exposures(
        &self,
        scope: Scope<'_>,
        customer_id: &str,
        exposures: &[(String, String)],
        at: i64,
    ) -> anyhow::Result<()>;

    /// The customer's past redemptions, `(offer kind, accepted at)`: the abuse ledger.
    async fn ledger(
        &self,
        scope: Scope<'_>,
        customer_id: &str,
    ) -> anyhow::Result<Vec<holdfast_core::targeting::Redemption>>;

    /// The stored response of an acceptance already recorded under `event_id`.
    async fn acceptance(&self, app_id: &str, event_id: &str) -> anyhow::Result<Option<String>>;

    /// Records an acceptance in the ledger and as its session's save; returns the response to
    /// send (the earlier one when the event id was already recorded).
    async fn record_acceptance(
        &self,
        scope: Scope<'_>,
        customer_id: &str,
        acceptance: &AcceptanceRecord,
    ) -> anyhow::Result<String>;

    /// Records a lifecycle event from the host's backend.
    async fn record_lifecycle(
        &self,
        scope: Scope<'_>,
        event: &LifecycleRecord,
    ) -> anyhow::Result<()>;

    /// Tallies, breakdowns and durability for sessions started in the range, read from the
    /// hourly rollups (and the sessions of the few hours a clock cut or a range edge falls in).
    async fn stats(&self, app_id: &str, range: &StatsRange) -> anyhow::Result<StatsData>;

    /// The same report computed from every session row in range: what the rollups must equal
    /// (the equality test), and the benchmark's slow reference.
    async fn stats_from_sessions(
        &self,
        app_id: &str,
        range: &StatsRange,
    ) -> anyhow::Result<StatsData>;

    /// Stores cancel sessions as the fold does (upsert by the merge rule, rollups kept), many per
    /// transaction: bulk loads such as the benchmark's million sessions.
    async fn import_sessions(
        &self,
        scope: Scope<'_>,
        sessions: &[(String, SessionFacts)],
    ) -> anyhow::Result<()>;

    /// How many cancel sessions the app has in either mode (demo seeding runs once).
    async fn session_count(&self, app_id: &str) -> anyhow::Result<i64>;
}
