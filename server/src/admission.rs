//! Admission control for event ingest: subscribers on screen come before telemetry.
//!
//! Events are deferrable (the widget's outbox keeps a refused batch and sends it again after
//! `Retry-After`); a cancel plan, an offer acceptance or a prompt plan has a subscriber waiting.
//! So `/events` is admitted only while the server answers promptly:
//!
//! - at most `ingest_concurrency` batches are parsed and appended at once, and a batch that finds
//!   no place within [`QUEUE_WAIT`] is shed (a flood queues nowhere);
//! - a probe measures how long a task that has just become ready waits for the runtime to poll
//!   it (the wait every request's connection task has before its handler runs). While batches
//!   contend for the places, a subscriber's request arrived within the last [`WINDOW`], and that
//!   wait is above
//!   [`LAG_LIMIT`] in [`HOT_PROBES`] probes in a row, every new batch is shed at once, before its
//!   body is read, until [`CALM_PROBES`] probes in a row are under the limit. So a flood gives the cores back to
//!   the requests a subscriber waits on, and the widgets' outboxes back off; with nobody waiting,
//!   ingest keeps every core.
//!
//! A shed batch is answered `503` with `Retry-After` and nothing is lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// How long a batch may wait for one of the limited places before it is shed.
pub const QUEUE_WAIT: Duration = Duration::from_millis(5);

/// The runtime's scheduling delay above which new batches are shed at once.
pub const LAG_LIMIT: Duration = Duration::from_micros(200);

/// How long a subscriber's request, or batches contending for the places, count as recent.
pub const WINDOW: Duration = Duration::from_secs(1);

/// Probes in a row above the limit before batches are shed: a sustained overload, not one
/// long poll.
pub const HOT_PROBES: u32 = 3;

/// Probes in a row under the limit before batches are admitted again: about a fifth of a second,
/// so a flood stays refused while it lasts instead of flickering back in between probes (the
/// widgets that were refused wait out `Retry-After` meanwhile).
pub const CALM_PROBES: u32 = 200;

/// How long a batch refused under a flood waits for its `503`: a client that ignores
/// `Retry-After` (the widget's outbox does not) cannot send its next batch on the connection
/// sooner, so it stops costing the server CPU while the flood lasts.
pub const REFUSAL_PAUSE: Duration = Duration::from_secs(1);

/// How often the probe measures the scheduling delay.
const PROBE_EVERY: Duration = Duration::from_millis(1);

/// The ingest gate: places for batches and the runtime's latest scheduling delay.
#[derive(Debug)]
pub struct IngestGate {
    places: Arc<Semaphore>,
    /// The probe found the runtime overloaded and has not seen it calm since.
    overloaded: AtomicBool,
    /// When the last subscriber's request arrived, in microseconds since `born`.
    interactive_at: AtomicU64,
    /// When a batch last found every place taken, in microseconds since `born`.
    contended_at: AtomicU64,
    born: Instant,
    probe: std::sync::Once,
}

impl IngestGate {
    /// A gate with `places` batches admitted at once.
    pub fn new(places: usize) -> Arc<Self> {
        Arc::new(Self {
            places: Arc::new(Semaphore::new(places.max(1))),
            overloaded: AtomicBool::new(false),
            interactive_at: AtomicU64::new(0),
            contended_at: AtomicU64::new(0),
            born: Instant::now(),
            probe: std::sync::Once::new(),
        })
    }

    /// Whether the probe saw [`HOT_PROBES`] delays in a row above [`LAG_LIMIT`], and not yet
    /// [`CALM_PROBES`] in a row under it.
    pub fn overloaded(&self) -> bool {
        self.overloaded.load(Ordering::Relaxed)
    }

    /// Notes a request a subscriber waits on (a cancel plan, an acceptance, a prompt, the
    /// no-JavaScript page).
    pub fn interactive(&self) {
        self.mark(&self.interactive_at);
    }

    fn mark(&self, at: &AtomicU64) {
        at.store(micros(self.born.elapsed()).max(1), Ordering::Relaxed);
    }

    /// Whether `at` was marked within [`WINDOW`].
    fn recent(&self, at: &AtomicU64) -> bool {
        let at = at.load(Ordering::Relaxed);
        at != 0 && micros(self.born.elapsed()).saturating_sub(at) < micros(WINDOW)
    }

    /// Whether new batches are shed at once, for the subscriber's sake: under a flood (batches
    /// contend for the places and a subscriber waits) while the runtime is overloaded. The
    /// server asks before anything else, so a refusal costs as little as it can.
    pub fn shedding(&self) -> bool {
        self.recent(&self.contended_at) && self.recent(&self.interactive_at) && self.overloaded()
    }

    /// Waits for a place for one batch; `None` means shed it (answer 503 with `Retry-After`).
    pub async fn admit(self: &Arc<Self>) -> Option<tokio::sync::OwnedSemaphorePermit> {
        // The probe starts with the first batch, on the runtime that serves them, and ends
        // when the gate is dropped.
        self.probe.call_once(|| {
            tokio::spawn(probe(Arc::downgrade(self)));
        });
        if self.shedding() {
            return None;
        }
        if let Ok(place) = self.places.clone().try_acquire_owned() {
            return Some(place);
        }
        self.mark(&self.contended_at);
        match tokio::time::timeout(QUEUE_WAIT, self.places.clone().acquire_owned()).await {
            Ok(Ok(place)) => Some(place),
            _ => None,
        }
    }
}

/// Measures, every [`PROBE_EVERY`], how long a task that yields waits to be polled again.
async fn probe(gate: Weak<IngestGate>) {
    // Probes in a row above the limit, and under it.
    let (mut hot, mut calm) = (0, 0);
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let started = Instant::now();
        tokio::task::yield_now().await;
        let lag = started.elapsed();
        let Some(gate) = gate.upgrade() else { return };
        if lag > LAG_LIMIT {
            (hot, calm) = (hot + 1, 0);
            if hot >= HOT_PROBES {
                gate.overloaded.store(true, Ordering::Relaxed);
            }
        } else {
            (hot, calm) = (0, calm + 1);
            if calm >= CALM_PROBES {
                gate.overloaded.store(false, Ordering::Relaxed);
            }
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gate the test says is overloaded or not (its probe never starts).
    fn gate(places: usize, overloaded: bool) -> Arc<IngestGate> {
        let gate = IngestGate::new(places);
        gate.probe.call_once(|| {});
        gate.overloaded.store(overloaded, Ordering::Relaxed);
        gate
    }

    #[tokio::test]
    async fn an_overloaded_runtime_sheds_a_flood_only_while_a_subscriber_waits() {
        let gate = gate(1, true);
        let held = gate
            .admit()
            .await
            .expect("nobody waits: ingest keeps the cores");
        assert!(gate.admit().await.is_none(), "no place within the wait");
        drop(held);
        assert!(
            gate.admit().await.is_some(),
            "batches contend, but nobody waits"
        );
        assert!(!gate.shedding(), "batches contend, but nobody waits");
        gate.interactive();
        assert!(
            gate.shedding(),
            "a flood, a subscriber waits and the runtime lags: refused at once (after the pause)"
        );
        assert!(
            gate.admit().await.is_none(),
            "a flood, a subscriber waits and the runtime lags: shed"
        );
        gate.overloaded.store(false, Ordering::Relaxed);
        assert!(!gate.shedding(), "the runtime caught up");
        assert!(
            gate.admit().await.is_some(),
            "the runtime caught up: admitted"
        );

        let quiet = self::gate(4, true);
        quiet.interactive();
        assert!(
            quiet.admit().await.is_some(),
            "a subscriber waits on a busy runtime, but no batches contend: admitted"
        );
    }

    #[tokio::test]
    async fn a_batch_that_finds_no_place_within_the_queue_wait_is_shed() {
        let gate = gate(1, false);
        let held = gate.admit().await.expect("the one place");
        let started = Instant::now();
        assert!(gate.admit().await.is_none(), "no place: shed");
        let waited = started.elapsed();
        assert!(
            waited >= QUEUE_WAIT && waited < Duration::from_secs(1),
            "shed after the queue wait, not a hang: {waited:?}"
        );
        drop(held);
        assert!(gate.admit().await.is_some(), "the place is free again");
    }

    #[test]
    fn the_probe_sees_a_runtime_whose_tasks_hog_it() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let gate = IngestGate::new(1);
            let calm = gate.admit().await;
            drop(calm);
            tokio::time::sleep(PROBE_EVERY * 20).await;
            assert!(!gate.overloaded(), "an idle runtime");
            // A task that keeps the only worker busy for 3 ms between yields.
            let hog = tokio::spawn(async {
                loop {
                    std::thread::sleep(Duration::from_millis(3));
                    tokio::task::yield_now().await;
                }
            });
            let started = Instant::now();
            while !gate.overloaded() && started.elapsed() < Duration::from_secs(1) {
                tokio::time::sleep(PROBE_EVERY).await;
            }
            let seen = gate.overloaded();
            hog.abort();
            assert!(seen, "a hogged runtime");
            let started = Instant::now();
            while gate.overloaded() && started.elapsed() < Duration::from_secs(2) {
                tokio::time::sleep(PROBE_EVERY).await;
            }
            assert!(!gate.overloaded(), "calm again");
        });
    }
}
