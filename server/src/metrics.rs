//! Prometheus metrics, rendered in the text exposition format at `/metrics`.
//!
//! A handful of counters kept in memory per replica (Prometheus sums replicas): requests by route
//! and status, and the outcomes growth teams watch live.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::Method;

/// Request counters by route, then by method and status. Looked up by `&str` under a read lock,
/// so counting a request whose counter exists allocates nothing and takes no exclusive lock.
type RequestCounters = HashMap<String, HashMap<(Method, u16), AtomicU64>>;

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: RwLock<RequestCounters>,
    /// Widget events stored.
    pub events_accepted: AtomicU64,
    /// Widget events ignored as retries.
    pub events_duplicate: AtomicU64,
    /// Ingest log rows the aggregator could not fold and set aside in `ingest_log_failed`.
    pub ingest_rows_set_aside: AtomicU64,
    /// Offer acceptances recorded.
    pub offers_accepted: AtomicU64,
    /// Offer acceptances refused by core's re-check.
    pub offers_refused: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, method: &Method, route: &str, status: u16) {
        // A client picks the method: any but the standard ones counts as one label, so a flood
        // of made-up methods cannot grow the series without bound.
        let method = match *method {
            Method::GET
            | Method::POST
            | Method::PUT
            | Method::PATCH
            | Method::DELETE
            | Method::OPTIONS
            | Method::HEAD => method.clone(),
            _ => Method::from_bytes(b"OTHER").unwrap_or(Method::GET),
        };
        let key = (method, status);
        {
            let requests = self
                .requests
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(counter) = requests.get(route).and_then(|r| r.get(&key)) {
                counter.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.requests
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(route.to_string())
            .or_default()
            .entry(key)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP holdfast_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE holdfast_http_requests_total counter\n");
        let requests = self
            .requests
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let sorted: BTreeMap<(&str, &str, u16), u64> = requests
            .iter()
            .flat_map(|(route, by)| {
                by.iter().map(move |((method, status), n)| {
                    (
                        (method.as_str(), route.as_str(), *status),
                        n.load(Ordering::Relaxed),
                    )
                })
            })
            .collect();
        for ((method, route, status), n) in sorted {
            let _ = writeln!(
                out,
                "holdfast_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        drop(requests);
        for (name, help, counter) in [
            (
                "holdfast_events_accepted_total",
                "Widget events stored.",
                &self.events_accepted,
            ),
            (
                "holdfast_events_duplicate_total",
                "Widget events ignored as retries.",
                &self.events_duplicate,
            ),
            (
                "holdfast_ingest_rows_set_aside_total",
                "Ingest log rows that could not be folded, set aside in ingest_log_failed.",
                &self.ingest_rows_set_aside,
            ),
            (
                "holdfast_offers_accepted_total",
                "Offer acceptances recorded.",
                &self.offers_accepted,
            ),
            (
                "holdfast_offers_refused_total",
                "Offer acceptances refused as not eligible.",
                &self.offers_refused,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}
