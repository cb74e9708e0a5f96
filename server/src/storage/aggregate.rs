//! The aggregator: folds the ingest log into the tables reads use.
//!
//! Event ingest only appends each accepted batch to `ingest_log` (see `batch`). One aggregator
//! task per store drains the log in key order, many rows per transaction, and does what ingest
//! used to do per request: drops events whose `(app, event id)` is already stored, inserts the new
//! ones sorted by key (one multi-row statement per thousand events, so index pages are touched
//! once per transaction rather than once per event), folds them into one upsert per cancel session,
//! records prompt changes and first exposures, and deletes the rows it folded, all in one
//! transaction. A crash before the commit leaves the rows in the log, and the next start drains
//! them: every accepted event is folded exactly once. (Folding a row twice would not count twice
//! either: every effect is keyed by the event id.)
//!
//! Reads whose answer depends on ingested events call `settle` first: it waits until the log is
//! drained up to the newest row committed when it was called, so a client that got a 200 for a
//! batch sees it in the next read (read-your-writes), without waiting for the next scheduled pass.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use holdfast_core::events::EventType;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc, oneshot};

use super::prompts::PromptEvent;
use super::{IngestBatch, SessionFacts, StoredEvent};
use crate::metrics::Metrics;

/// How a store runs its aggregator.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions {
    /// Run the aggregator. Off only in tests that simulate a crash between the 200 and the fold:
    /// a store without it accepts batches but never folds them, and `settle` fails.
    pub aggregate: bool,
    /// Open the ingest log. Off for administration (`holdfast-server apps ...`), which runs beside
    /// a server that holds the log (SQLite's log files admit one process): such a store refuses
    /// event ingest and folds nothing.
    pub log: bool,
    /// After the log runs dry, the next pass waits for a new row and then this long, so a
    /// pass folds many requests' batches at once; a `settle` call cuts the wait short.
    pub interval: Duration,
    /// At most this many log rows per pass (one transaction): bounds how long a pass holds the
    /// database's write lock, which on SQLite the ingest writer waits for.
    pub max_rows_per_pass: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            aggregate: true,
            log: true,
            interval: Duration::from_millis(100),
            max_rows_per_pass: 4000,
        }
    }
}

/// A batch as encoded in the log: short keys, since every accepted request writes one.
#[derive(Serialize)]
struct WireOut<'a> {
    c: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    e: &'a [StoredEvent],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    p: &'a [PromptEvent],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    x: &'a [(String, String)],
}

/// The same, decoded.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireIn {
    c: String,
    #[serde(default)]
    e: Vec<LoggedEvent>,
    #[serde(default)]
    p: Vec<PromptEvent>,
    #[serde(default)]
    x: Vec<(String, String)>,
}

/// A [`StoredEvent`] read back from the log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedEvent {
    /// Client-generated UUID: the idempotency key.
    pub id: String,
    /// The session it belongs to.
    pub session_id: String,
    /// Event type.
    pub kind: String,
    /// When it happened, unix seconds.
    pub at: i64,
    /// The event as received.
    pub payload: String,
    /// The customer.
    pub customer_id: String,
    /// Its effect on the cancel session.
    #[serde(default)]
    pub session: Option<SessionFacts>,
    /// The outcome to record when folded, if the session has none.
    #[serde(default)]
    pub outcome: Option<super::outcomes::PendingOutcome>,
}

/// Encodes a batch as a log row's body.
pub fn encode(batch: &IngestBatch<'_>) -> anyhow::Result<String> {
    Ok(serde_json::to_string(&WireOut {
        c: batch.customer_id,
        e: batch.events,
        p: batch.prompt_events,
        x: batch.exposures,
    })?)
}

/// One log row, decoded.
#[derive(Debug)]
pub struct Entry {
    /// Its key in the log.
    pub id: i64,
    /// The row as written, kept so a row that cannot be folded can be set aside as it was.
    pub body: String,
    /// The app.
    pub app_id: String,
    /// Live or test data.
    pub live: bool,
    /// When the server accepted the batch, unix seconds: the time of its exposures.
    pub received_at: i64,
    /// The customer of the prompt changes and exposures.
    pub customer_id: String,
    /// The events.
    pub events: Vec<LoggedEvent>,
    /// Their effect on the customer's prompt state.
    pub prompt_events: Vec<PromptEvent>,
    /// The customer's experiment variants, to record as first exposures.
    pub exposures: Vec<(String, String)>,
}

/// Decodes a log row's body.
pub fn decode(
    id: i64,
    app_id: String,
    live: bool,
    received_at: i64,
    body: String,
) -> Result<Entry, (String, serde_json::Error)> {
    let wire: WireIn = match serde_json::from_str(&body) {
        Ok(wire) => wire,
        Err(e) => return Err((body, e)),
    };
    Ok(Entry {
        id,
        body,
        app_id,
        live,
        received_at,
        customer_id: wire.c,
        events: wire.e,
        prompt_events: wire.p,
        exposures: wire.x,
    })
}

/// A log row set aside: `(id, app, live, received_at, body, error)`.
pub type FailedRow = (i64, String, bool, i64, String, String);

/// A pass's log rows, decoded: what `fold_rows` folds.
#[derive(Debug, Default)]
pub struct Decoded {
    /// How many rows were read.
    pub rows: usize,
    /// The highest key among them.
    pub max_id: i64,
    /// The rows that decoded, in key order.
    pub entries: Vec<Entry>,
    /// The rows that did not, `(id, app, live, received_at, body, error)`: set aside.
    pub failed: Vec<FailedRow>,
}

/// Decodes a pass's rows `(id, app, live, received_at, body)`, read in key order. CPU work that
/// grows with the pass: the SQLite backend runs it on a blocking thread, off the request threads.
pub fn decode_rows(rows: Vec<(i64, String, bool, i64, String)>) -> Decoded {
    let mut decoded = Decoded {
        rows: rows.len(),
        max_id: rows.last().map_or(0, |r| r.0),
        entries: Vec::with_capacity(rows.len()),
        failed: Vec::new(),
    };
    for (id, app_id, live, received_at, body) in rows {
        match decode(id, app_id.clone(), live, received_at, body) {
            Ok(entry) => decoded.entries.push(entry),
            Err((body, e)) => {
                decoded
                    .failed
                    .push((id, app_id, live, received_at, body, e.to_string()))
            }
        }
    }
    decoded
}

/// One event of a pass, with where it came from.
#[derive(Debug, Clone, Copy)]
pub struct PassEvent<'a> {
    /// The app.
    pub app_id: &'a str,
    /// Live or test data.
    pub live: bool,
    /// Its place in log order.
    pub position: usize,
    /// The event.
    pub event: &'a LoggedEvent,
}

/// The distinct events of a pass, sorted by `(app, event id)` (the primary key's order, for the
/// insert): of events sharing an id, the first in log order. Sorting rather than hashing: the
/// insert needs the order anyway.
pub fn distinct_by_key(entries: &[Entry]) -> Vec<PassEvent<'_>> {
    let mut events: Vec<PassEvent<'_>> = entries
        .iter()
        .flat_map(|entry| entry.events.iter().map(move |event| (entry, event)))
        .enumerate()
        .map(|(position, (entry, event))| PassEvent {
            app_id: &entry.app_id,
            live: entry.live,
            position,
            event,
        })
        .collect();
    events.sort_unstable_by(|a, b| {
        (a.app_id, a.event.id.as_str(), a.position).cmp(&(
            b.app_id,
            b.event.id.as_str(),
            b.position,
        ))
    });
    events
        .dedup_by(|later, first| first.app_id == later.app_id && first.event.id == later.event.id);
    events
}

/// Folds the facts of newly stored events into one row per session, in log order, with the same
/// meaning as the session upsert, so a pass and the same events folded one by one give the same
/// row. The rows come sorted by `(app, session)`, the primary key's order.
pub fn fold_sessions<'a>(new: &[PassEvent<'a>]) -> Vec<(&'a str, bool, &'a str, SessionFacts)> {
    let mut events: Vec<&PassEvent<'a>> =
        new.iter().filter(|e| e.event.session.is_some()).collect();
    events.sort_unstable_by(|a, b| {
        (a.app_id, a.event.session_id.as_str(), a.position).cmp(&(
            b.app_id,
            b.event.session_id.as_str(),
            b.position,
        ))
    });
    let mut rows: Vec<(&'a str, bool, &'a str, SessionFacts)> = Vec::new();
    for e in events {
        let Some(facts) = &e.event.session else {
            continue;
        };
        let facts = with_steps(facts.clone(), &e.event.kind, e.event.at);
        match rows.last_mut() {
            Some((app_id, _, session_id, acc))
                if *app_id == e.app_id && *session_id == e.event.session_id =>
            {
                merge(acc, &facts);
            }
            _ => rows.push((e.app_id, e.live, &e.event.session_id, facts)),
        }
    }
    rows
}

/// What the event's type says about the flow: `flow_abandoned` closes it (the bounce rule reads
/// when), any other step but `flow_started` is an interaction.
fn with_steps(mut facts: SessionFacts, kind: &str, at: i64) -> SessionFacts {
    match EventType::parse(kind) {
        Some(EventType::FlowStarted) => {}
        Some(EventType::FlowAbandoned) => facts.closed_at = Some(at),
        _ => facts.interacted = true,
    }
    facts
}

/// Folds `new` into `acc`: the session-merge rule, written twice, here (for the events of one
/// pass) and as SQL in `sql::SESSION_CONFLICT` (for a pass against the stored row). The rule is
/// order-independent where it can be: the customer's facts are those of the earliest event; the
/// first variant stays; the latest reason wins, and so does the latest survey free text (an
/// answer without text is `""`, so it replaces an earlier answer's text); a save fixes the offer
/// and its cost (before a save, the latest offer shown); saved, cancelled and abandoned only ever
/// turn on, and so does an interaction; the earliest close stays; the trail is appended. The test `one_pass_and_many_passes_give_the_same_session_row`
/// folds random events both ways against SQLite and compares the rows.
fn merge(acc: &mut SessionFacts, new: &SessionFacts) {
    if new.started_at < acc.started_at {
        acc.started_at = new.started_at;
        acc.week.clone_from(&new.week);
        acc.plan.clone_from(&new.plan);
        acc.mrr_cents = new.mrr_cents;
        acc.tenure_band.clone_from(&new.tenure_band);
    }
    if acc.variant.is_none() {
        acc.variant.clone_from(&new.variant);
    }
    if new.reason.is_some() {
        acc.reason.clone_from(&new.reason);
    }
    if new.free_text.is_some() {
        acc.free_text.clone_from(&new.free_text);
    }
    if !acc.saved {
        if new.saved {
            acc.offer_id.clone_from(&new.offer_id);
            acc.offer_kind.clone_from(&new.offer_kind);
            acc.offer_cost_cents = new.offer_cost_cents;
            acc.offer_months = new.offer_months;
        } else if new.offer_id.is_some() {
            acc.offer_id.clone_from(&new.offer_id);
            acc.offer_kind.clone_from(&new.offer_kind);
        }
    }
    acc.saved |= new.saved;
    if acc.saved_at.is_none() {
        acc.saved_at = new.saved_at;
    }
    acc.cancelled |= new.cancelled;
    acc.abandoned |= new.abandoned;
    acc.interacted |= new.interacted;
    acc.closed_at = match (acc.closed_at, new.closed_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    acc.trail.push_str(&new.trail);
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Log rows folded (and deleted).
    pub rows: usize,
    /// The highest key among them (0 when none).
    pub max_id: i64,
    /// Whether the pass stopped at its row limit: more rows may be waiting.
    pub full: bool,
    /// Events newly stored.
    pub stored: u64,
    /// Events already stored (retries), ignored.
    pub duplicates: u64,
    /// Rows set aside in `ingest_log_failed`: they could not be decoded, or folding them alone
    /// failed on their data.
    pub failed: usize,
}

impl Pass {
    /// Adds what folding another part of the same pass stored.
    pub fn absorb(&mut self, other: &Pass) {
        self.stored += other.stored;
        self.duplicates += other.duplicates;
    }
}

/// Whether a failed fold may succeed if retried unchanged: the database was unreachable, busy,
/// out of resources or had to abort the transaction. Anything else (a value the database refuses,
/// a constraint, an encoding error) fails again on the same row, so the aggregator folds the
/// pass's rows one by one and sets aside the rows that fail on their own, rather than retrying
/// a pass that can never commit while every read waits for it.
pub fn is_transient(error: &anyhow::Error) -> bool {
    let Some(error) = error.chain().find_map(|e| e.downcast_ref::<sqlx::Error>()) else {
        return false;
    };
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let postgres = db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some();
            db.code()
                .is_some_and(|code| transient_code(&code, postgres))
        }
        _ => false,
    }
}

/// PostgreSQL's SQLSTATE classes for connection loss (08), rollbacks such as serialization
/// failures and deadlocks (40), exhausted resources (53), operator intervention (57), system
/// errors (58) and internal errors (XX); SQLite's primary result codes (the low byte of its
/// extended codes) for a busy or locked database (5, 6), no memory (7), I/O (10), a full disk
/// (13), a file it cannot open (14) and a locking protocol error (15).
fn transient_code(code: &str, postgres: bool) -> bool {
    if postgres {
        return ["08", "40", "53", "57", "58", "XX"]
            .iter()
            .any(|class| code.starts_with(class));
    }
    code.parse::<u32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6 | 7 | 10 | 13 | 14 | 15))
}

#[cfg(test)]
mod tests {
    use super::transient_code;

    #[test]
    fn a_postgresql_data_error_is_not_transient_even_when_its_code_is_all_digits() {
        // 22021: a NUL in text. Read as a SQLite code its low byte would be 5 (busy).
        assert!(!transient_code("22021", true));
        assert!(transient_code("40001", true), "serialization failure");
        assert!(transient_code("08006", true), "connection failure");
    }

    #[test]
    fn sqlite_busy_and_locked_are_transient_constraints_are_not() {
        assert!(transient_code("5", false));
        assert!(transient_code("517", false), "SQLITE_BUSY_SNAPSHOT");
        assert!(!transient_code("2067", false), "SQLITE_CONSTRAINT_UNIQUE");
    }
}

/// Counters shared by a store, its writer and its aggregator task.
#[derive(Debug, Default)]
pub struct Shared {
    /// Signalled by the writer after each commit, so an idle aggregator wakes for new rows only.
    pub appended: Notify,
    metrics: OnceLock<Arc<Metrics>>,
    folded: AtomicU64,
}

impl Shared {
    fn record(&self, pass: &Pass) {
        self.folded
            .fetch_add(pass.stored + pass.duplicates, Ordering::Relaxed);
        if let Some(metrics) = self.metrics.get() {
            Metrics::add(&metrics.events_accepted, pass.stored);
            Metrics::add(&metrics.events_duplicate, pass.duplicates);
            Metrics::add(&metrics.ingest_rows_set_aside, pass.failed as u64);
        }
    }
}

/// A settle request: answered once the log is drained up to `target`.
#[derive(Debug)]
struct Waiter {
    target: i64,
    reply: oneshot::Sender<anyhow::Result<()>>,
}

/// The handle a store keeps on its aggregator task; the task ends when the handle is dropped and
/// the log is drained.
#[derive(Debug, Clone)]
pub struct Aggregator {
    requests: Option<mpsc::UnboundedSender<Waiter>>,
    /// Shared with the writer and the task.
    pub shared: Arc<Shared>,
}

impl Aggregator {
    /// Starts the aggregator task; `pass(max_rows)` folds up to `max_rows` of the oldest log rows
    /// in one transaction. The first pass runs at once: it drains what an earlier run left.
    pub fn spawn<F, Fut>(options: IngestOptions, pass: F) -> Self
    where
        F: Fn(usize) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<Pass>> + Send,
    {
        let shared = Arc::new(Shared::default());
        if !options.aggregate || !options.log {
            return Self {
                requests: None,
                shared,
            };
        }
        let (requests, mut rx) = mpsc::unbounded_channel::<Waiter>();
        let task_shared = shared.clone();
        let max_rows = options.max_rows_per_pass.max(1);
        tokio::spawn(async move {
            let shared = task_shared;
            let mut waiters: Vec<Waiter> = Vec::new();
            let mut failures = 0_u32;
            loop {
                // Every settle request made so far is answered by this pass or a later one: its
                // rows were committed before the pass began.
                while let Ok(w) = rx.try_recv() {
                    waiters.push(w);
                }
                match pass(max_rows).await {
                    Ok(p) => {
                        failures = 0;
                        shared.record(&p);
                        if p.failed > 0 {
                            tracing::error!(
                                rows = p.failed,
                                "ingest log rows could not be folded; set aside in ingest_log_failed"
                            );
                        }
                        let (done, waiting): (Vec<_>, Vec<_>) = waiters
                            .into_iter()
                            .partition(|w| !p.full || w.target <= p.max_id);
                        waiters = waiting;
                        for w in done {
                            let _ = w.reply.send(Ok(()));
                        }
                        if p.full {
                            // A backlog: keep folding, letting the writer commit in between.
                            tokio::task::yield_now().await;
                            continue;
                        }
                    }
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        tracing::error!(error = %format!("{e:#}"), "folding the ingest log failed; will retry");
                        for w in waiters.drain(..) {
                            let _ = w
                                .reply
                                .send(Err(anyhow::anyhow!("folding the ingest log failed: {e:#}")));
                        }
                        let backoff = Duration::from_millis(50)
                            .saturating_mul(2_u32.saturating_pow(failures.min(7)));
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                }
                // Drained: wait for a settle request, or for new rows and then the interval.
                tokio::select! {
                    w = rx.recv() => match w {
                        Some(w) => waiters.push(w),
                        None => break,
                    },
                    () = shared.appended.notified() => {
                        tokio::select! {
                            w = rx.recv() => match w {
                                Some(w) => waiters.push(w),
                                None => break,
                            },
                            () = tokio::time::sleep(options.interval) => {}
                        }
                    }
                }
            }
        });
        Self {
            requests: Some(requests),
            shared,
        }
    }

    /// Waits until every log row up to key `target` is folded.
    pub async fn settle(&self, target: i64) -> anyhow::Result<()> {
        let Some(requests) = &self.requests else {
            anyhow::bail!(
                "this store does not aggregate its ingest log (IngestOptions::aggregate)"
            );
        };
        let (reply, answer) = oneshot::channel();
        requests
            .send(Waiter { target, reply })
            .map_err(|_| anyhow::anyhow!("the ingest aggregator has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the ingest aggregator stopped before settling"))?
    }

    /// Counts what the aggregator folds into the server's metrics from now on (the first
    /// registry attached wins: one store, one process's metrics).
    pub fn attach_metrics(&self, metrics: Arc<Metrics>) {
        let _ = self.shared.metrics.set(metrics);
    }

    /// Events folded (stored or found to be duplicates) since the store was opened.
    pub fn folded(&self) -> u64 {
        self.shared.folded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod merge_rule {
    //! The session-merge rule, checked: the same events folded in one pass (Rust's `merge`, then
    //! one upsert) and one pass each (the SQL conflict rule against the stored row) must leave
    //! the same session row.

    use holdfast_core::events::EventType;
    use proptest::prelude::*;

    use crate::storage::{SessionFacts, Storage, StoredEvent};

    fn facts() -> impl Strategy<Value = SessionFacts> {
        (
            (
                0i64..5,
                prop::sample::select(vec!["starter", "pro"]),
                0i64..10_000,
            ),
            prop::option::of(prop::sample::select(vec!["x:a", "x:b"])),
            prop::option::of(prop::sample::select(vec!["too_expensive", "not_using"])),
            prop::option::of(prop::sample::select(vec!["", "too pricey", "we moved"])),
            prop::option::of(prop::sample::select(vec![
                ("discount_25", "discount"),
                ("pause_2", "pause"),
            ])),
            (0i64..5000, any::<bool>(), any::<bool>(), any::<bool>()),
        )
            .prop_map(
                |(
                    (start, plan, mrr),
                    variant,
                    reason,
                    free_text,
                    offer,
                    (cost, saved, cancelled, abandoned),
                )| {
                    let started_at = 1_700_000_000 + start * 60;
                    SessionFacts {
                        customer_id: "cus_1".into(),
                        started_at,
                        week: format!("w{start}"),
                        plan: plan.into(),
                        mrr_cents: mrr,
                        tenure_band: format!("t{start}"),
                        variant: variant.map(str::to_string),
                        reason: reason.map(str::to_string),
                        free_text: free_text.map(str::to_string),
                        offer_id: offer.map(|o| o.0.to_string()),
                        offer_kind: offer.map(|o| o.1.to_string()),
                        offer_cost_cents: if saved { cost } else { 0 },
                        offer_months: if saved { cost % 4 } else { 0 },
                        interacted: cost % 2 == 0,
                        closed_at: abandoned.then_some(started_at + cost % 7),
                        saved,
                        saved_at: saved.then_some(started_at + 30),
                        cancelled,
                        abandoned,
                        trail: format!("{{\"at\":{started_at}}}\n"),
                    }
                },
            )
    }

    fn event(i: usize, facts: &SessionFacts) -> StoredEvent {
        StoredEvent {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            session_id: "00000000-0000-4000-8000-aaaaaaaaaaaa".into(),
            kind: EventType::OfferShown.as_str(),
            at: facts.started_at,
            payload: "{}".into(),
            customer_id: facts.customer_id.clone(),
            session: Some(facts.clone()),
            outcome: None,
        }
    }

    /// The session row, in three parts (tuples compare up to twelve fields).
    type Row = (
        (
            i64,
            String,
            String,
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        ),
        (
            Option<String>,
            Option<String>,
            i64,
            i64,
            Option<i64>,
            i64,
            i64,
            String,
        ),
        (i64, i64, Option<i64>),
    );

    /// The session row after folding `passes` (each a list of events, one log record each).
    async fn fold(passes: &[Vec<StoredEvent>]) -> Row {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("merge.db").display());
        let storage = Storage::open(&url).await.unwrap();
        for pass in passes {
            storage
                .record_events(crate::storage::Scope::new("app_merge", false), pass)
                .await
                .unwrap();
            storage.settle().await.unwrap();
        }
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let first = sqlx::query_as(
            "SELECT started_at, week, plan, mrr_cents, tenure_band, variant, reason, free_text \
             FROM sessions",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let second = sqlx::query_as(
            "SELECT offer_id, offer_kind, offer_cost_cents, saved, saved_at, cancelled, abandoned, \
             trail FROM sessions",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let third = sqlx::query_as("SELECT offer_months, interacted, closed_at FROM sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
        (first, second, third)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn one_pass_and_many_passes_give_the_same_session_row(all in prop::collection::vec(facts(), 1..6)) {
            let events: Vec<StoredEvent> = all.iter().enumerate().map(|(i, f)| event(i, f)).collect();
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (one, many) = runtime.block_on(async {
                let one = fold(std::slice::from_ref(&events)).await;
                let separate: Vec<Vec<StoredEvent>> = events.iter().map(|e| vec![e.clone()]).collect();
                (one, fold(&separate).await)
            });
            prop_assert_eq!(one, many);
        }
    }
}
