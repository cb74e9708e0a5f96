//! Group commit for the ingest log.
//!
//! Concurrent event batches are queued to one writer task per store, which drains the queue and
//! appends everything waiting to `ingest_log` with one multi-row insert (a transaction by itself:
//! one round trip to the database, one commit). Each
//! caller is answered only after the commit: a batch is durable before its request gets a 200,
//! but a hundred concurrent batches cost one commit instead of a hundred. The log rows have an
//! increasing integer key, so the insert appends to the end of one B-tree; folding the events into
//! `events`, `sessions` and the rest is the aggregator's job (see `aggregate`).

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

/// Stop draining the queue once this many rows are waiting: bounds a statement's size (five
/// parameters a row, well within SQLite's and PostgreSQL's limits).
pub const MAX_ROWS_PER_FLUSH: usize = 256;

/// One accepted event batch, as appended to `ingest_log`.
#[derive(Debug)]
pub struct LogRow {
    /// The app.
    pub app_id: String,
    /// Live or test data.
    pub live: bool,
    /// When the server accepted it, unix seconds.
    pub received_at: i64,
    /// How many events it holds.
    pub events: i64,
    /// The encoded batch (see `aggregate::encode`).
    pub body: String,
}

impl LogRow {
    /// The row a batch of `scope` is appended as.
    pub fn of(scope: super::Scope<'_>, batch: &super::IngestBatch<'_>) -> anyhow::Result<Self> {
        Ok(Self {
            app_id: scope.app_id.to_string(),
            live: scope.live,
            received_at: batch.received_at,
            events: i64::try_from(batch.events.len())?,
            body: super::aggregate::encode(batch)?,
        })
    }

    /// What the caller is told once the row is durable.
    pub fn outcome(&self) -> anyhow::Result<super::IngestOutcome> {
        Ok(super::IngestOutcome {
            accepted: u64::try_from(self.events)?,
        })
    }
}

/// One caller's row and where to send its answer.
#[derive(Debug)]
pub struct Job {
    /// What to append.
    pub row: LogRow,
    /// The caller's answer: `Ok` once the row is committed.
    pub reply: oneshot::Sender<anyhow::Result<()>>,
}

/// Starts the writer task; `flush` appends a group of jobs in one transaction and answers each.
pub fn spawn<F, Fut>(flush: F) -> mpsc::Sender<Job>
where
    F: Fn(Vec<Job>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (tx, mut rx) = mpsc::channel::<Job>(4096);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut jobs = vec![first];
            while jobs.len() < MAX_ROWS_PER_FLUSH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            flush(jobs).await;
        }
    });
    tx
}

/// Sends a row to the writer and waits until it is committed.
pub async fn submit(writer: &mpsc::Sender<Job>, row: LogRow) -> anyhow::Result<()> {
    let (reply, answer) = oneshot::channel();
    writer
        .send(Job { row, reply })
        .await
        .map_err(|_| anyhow::anyhow!("the ingest writer has stopped"))?;
    answer
        .await
        .map_err(|_| anyhow::anyhow!("the ingest writer dropped a batch"))?
}

/// Answers every job of a group with the group's result.
pub fn answer(jobs: Vec<Job>, result: &anyhow::Result<()>) {
    for job in jobs {
        let _ = job.reply.send(match result {
            Ok(()) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("appending to the ingest log: {e:#}")),
        });
    }
}
