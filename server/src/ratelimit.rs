//! A small keyed token-bucket limiter: per client address and app, so one noisy client cannot
//! starve an app's other visitors or other apps, and per client across apps (at four times the
//! rate), so calling many app ids, real or made up, buys no extra room. An IPv6 client is its
//! /64: one host gets a whole /64 and could rotate through it. In memory per replica, which is
//! enough to stop floods; exact global quotas would need shared state.

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

/// The key of a client's bucket across apps (not a valid app id, so no app can have it).
const ALL_APPS: &str = "*";

/// The address a client is limited as: IPv4 as it is, IPv6 by its /64 (an IPv4-mapped IPv6
/// address as the IPv4 address).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
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

    /// Takes a token for this client and app, and one from the client's bucket across apps;
    /// false when either is empty.
    pub fn allow(&self, client: IpAddr, app_id: &str) -> bool {
        let client = client_key(client);
        self.take(client, ALL_APPS, 4.0) && self.take(client, app_id, 1.0)
    }

    fn take(&self, client: IpAddr, app_id: &str, scale: f64) -> bool {
        let (per_second, burst) = (self.limit.per_second * scale, self.limit.burst * scale);
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
            (burst, now)
        });
        let refill = now.duration_since(*at).as_secs_f64() * per_second;
        *tokens = (*tokens + refill).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> Limiter {
        Limiter::new(RateLimit {
            per_second: 0.001,
            burst: 2.0,
        })
    }

    #[test]
    fn rotating_through_one_ipv6_64_shares_one_bucket() {
        let l = limiter();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.allow(a, "app_x") && l.allow(b, "app_x"));
        assert!(!l.allow(a, "app_x"), "the /64 spent its burst");
        assert!(l.allow(other, "app_x"), "another /64 has its own");
    }

    #[test]
    fn many_app_ids_buy_a_client_no_more_than_four_buckets() {
        let l = limiter();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let allowed = (0..100)
            .filter(|i| l.allow(ip, &format!("app_made_up_{i}")))
            .count();
        assert_eq!(allowed, 8, "four times one app's burst");
    }
}
