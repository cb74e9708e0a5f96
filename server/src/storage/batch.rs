//! Group commit for event ingest.
//!
//! Concurrent `record_events` calls are queued to one writer task per store, which drains the
//! queue and stores everything waiting in one transaction with a few multi-row statements. Each
//! caller still gets its own answer, and only after the commit: ingest stays durable, but a
//! hundred concurrent batches cost one commit instead of a hundred. On SQLite, whose writers take
//! turns anyway, this turns lock waits into useful work.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use super::{IngestOutcome, SessionFacts, StoredEvent};

/// Stop draining the queue once this many events are waiting: bounds a transaction's size.
pub const MAX_EVENTS_PER_FLUSH: usize = 2000;

/// One caller's batch and where to send its answer.
#[derive(Debug)]
pub struct Job {
    /// The app.
    pub app_id: String,
    /// Live or test data.
    pub live: bool,
    /// The events, validated.
    pub events: Vec<StoredEvent>,
    /// The caller's answer.
    pub reply: oneshot::Sender<anyhow::Result<IngestOutcome>>,
}

/// Starts the writer task; `flush` stores a group of jobs in one transaction and answers each.
pub fn spawn<F, Fut>(flush: F) -> mpsc::Sender<Job>
where
    F: Fn(Vec<Job>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (tx, mut rx) = mpsc::channel::<Job>(4096);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut waiting = first.events.len();
            let mut jobs = vec![first];
            while waiting < MAX_EVENTS_PER_FLUSH {
                match rx.try_recv() {
                    Ok(job) => {
                        waiting += job.events.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            flush(jobs).await;
        }
    });
    tx
}

/// Sends a batch to the writer and waits for its answer.
pub async fn submit(
    writer: &mpsc::Sender<Job>,
    app_id: &str,
    live: bool,
    events: &[StoredEvent],
) -> anyhow::Result<IngestOutcome> {
    let (reply, answer) = oneshot::channel();
    writer
        .send(Job {
            app_id: app_id.to_string(),
            live,
            events: events.to_vec(),
            reply,
        })
        .await
        .map_err(|_| anyhow::anyhow!("the ingest writer has stopped"))?;
    answer
        .await
        .map_err(|_| anyhow::anyhow!("the ingest writer dropped a batch"))?
}

/// The distinct events of a group, first occurrence first: `(job index, app, live, event)`.
pub fn distinct_events(jobs: &[Job]) -> Vec<(usize, &str, bool, &StoredEvent)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        for event in &job.events {
            if seen.insert((job.app_id.as_str(), event.id.as_str())) {
                out.push((i, job.app_id.as_str(), job.live, event));
            }
        }
    }
    out
}

/// Answers each job from the set of `(app, event id)` that were newly stored.
pub fn answer(jobs: Vec<Job>, inserted: &HashSet<(String, String)>) {
    let mut counted = HashSet::new();
    for job in jobs {
        let mut outcome = IngestOutcome::default();
        for event in &job.events {
            let key = (job.app_id.clone(), event.id.clone());
            if inserted.contains(&key) && counted.insert(key) {
                outcome.accepted += 1;
            } else {
                outcome.duplicates += 1;
            }
        }
        let _ = job.reply.send(Ok(outcome));
    }
}

/// Answers every job with the same failure.
pub fn fail(jobs: Vec<Job>, error: &anyhow::Error) {
    for job in jobs {
        let _ = job
            .reply
            .send(Err(anyhow::anyhow!("storing events: {error:#}")));
    }
}

/// Folds the facts of newly stored events into one row per session, with the same meaning as
/// the session upsert, so a group and the same events sent one by one give the same row.
pub fn fold_sessions<'a>(
    events: impl Iterator<Item = (&'a str, bool, &'a StoredEvent)>,
) -> Vec<(&'a str, bool, &'a str, SessionFacts)> {
    let mut order = Vec::new();
    let mut rows: HashMap<(&str, &str), (bool, SessionFacts)> = HashMap::new();
    for (app_id, live, event) in events {
        let Some(new) = &event.session else { continue };
        let key = (app_id, event.session_id.as_str());
        match rows.get_mut(&key) {
            None => {
                order.push(key);
                rows.insert(key, (live, new.clone()));
            }
            Some((_, acc)) => merge(acc, new),
        }
    }
    order
        .into_iter()
        .filter_map(|key| {
            let (live, facts) = rows.remove(&key)?;
            Some((key.0, live, key.1, facts))
        })
        .collect()
}

fn merge(acc: &mut SessionFacts, new: &SessionFacts) {
    if new.started_at < acc.started_at {
        acc.started_at = new.started_at;
        acc.week.clone_from(&new.week);
    }
    if acc.variant.is_none() {
        acc.variant.clone_from(&new.variant);
    }
    if new.reason.is_some() {
        acc.reason.clone_from(&new.reason);
    }
    if !acc.saved {
        if new.saved {
            acc.offer_id.clone_from(&new.offer_id);
            acc.offer_kind.clone_from(&new.offer_kind);
            acc.offer_cost_cents = new.offer_cost_cents;
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
}
