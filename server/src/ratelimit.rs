//! A small keyed token-bucket limiter: per client address and app, so one noisy client cannot
//! starve an app's other visitors or other apps. In memory per replica, which is enough to stop
//! floods; exact global quotas would need shared state.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// How fast a client may call one app.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed in a burst.
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 50.0,
            burst: 200.0,
        }
    }
}

/// Buckets keyed by app id, then client address: nested so that a lookup borrows the app id
/// instead of allocating a key per request.
#[derive(Debug)]
pub struct Limiter {
    limit: RateLimit,
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_app: HashMap<String, HashMap<IpAddr, (f64, Instant)>>,
    keys: usize,
}

/// Beyond this many keys, idle full buckets are dropped so memory stays bounded.
const MAX_KEYS: usize = 100_000;

impl Limiter {
    /// A limiter with `limit` for every key.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// Takes a token for this client and app; false when the bucket is empty.
    pub fn allow(&self, client: IpAddr, app_id: &str) -> bool {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let buckets = &mut *buckets;
        if buckets.keys > MAX_KEYS {
            let limit = self.limit;
            buckets.by_app.retain(|_, clients| {
                clients.retain(|_, (tokens, at)| {
                    *tokens + now.duration_since(*at).as_secs_f64() * limit.per_second < limit.burst
                });
                !clients.is_empty()
            });
            buckets.keys = buckets.by_app.values().map(HashMap::len).sum();
        }
        if !buckets.by_app.contains_key(app_id) {
            buckets.by_app.insert(app_id.to_string(), HashMap::new());
        }
        let clients = buckets.by_app.get_mut(app_id).expect("inserted above");
        let (tokens, at) = clients.entry(client).or_insert_with(|| {
            buckets.keys += 1;
            (self.limit.burst, now)
        });
        let refill = now.duration_since(*at).as_secs_f64() * self.limit.per_second;
        *tokens = (*tokens + refill).min(self.limit.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
