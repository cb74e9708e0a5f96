//! Webhooks to the host's billing, following the Standard Webhooks specification: each message is
//! `{ "type", "timestamp", "data" }`, sent with `webhook-id` (the same on every attempt),
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`
//! (two signatures while a rotated secret's grace runs), so receivers verify them with the
//! official libraries.
//!
//! Messages are caused only by what the server recorded (an outcome, a test ping) and written in
//! the same transaction (the outbox in `storage::webhooks`). A sender task per server claims due
//! messages, posts them (no redirects followed, 10 s timeout, private addresses refused unless
//! allowed) and schedules retries with jitter along [`WebhookSettings::retry_schedule`]; a `410
//! Gone` or three days of failures disables the endpoint.

use crate::storage::Scope;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Storage;
use crate::keys::Mode;
use crate::storage::webhooks::{AfterAttempt, Attempt, Endpoint, Message, NewMessage};

/// How the sender behaves; server settings.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The wait before each retry, in seconds: the first after the first failure, and so on;
    /// after the last the message is given up. The default adds up to more than three days.
    pub retry_schedule: Vec<i64>,
    /// Allow `http://` URLs and private, loopback and link-local addresses (the demo, tests).
    pub allow_private: bool,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// How often an idle sender looks for due messages.
    pub poll: Duration,
}

/// The default retry schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then a day three times.
pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,24h,24h,24h";

/// An endpoint failing this long is disabled.
pub const FAILING_LIMIT: i64 = 3 * 86_400;

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            retry_schedule: parse_schedule(DEFAULT_RETRY_SCHEDULE).unwrap_or_default(),
            allow_private: false,
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
        }
    }
}

/// Parses `5s,5m,2h,1d` into seconds.
pub fn parse_schedule(s: &str) -> Result<Vec<i64>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, unit) = p.split_at(p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len()));
            let n: i64 = n
                .parse()
                .map_err(|_| format!("{p:?}: a number and a unit (s, m, h, d)"))?;
            let unit = match unit {
                "s" | "" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return Err(format!("{p:?}: the unit is s, m, h or d")),
            };
            Ok(n * unit)
        })
        .collect()
}

/// The longest webhook URL accepted, as the OpenAPI document says.
pub const MAX_URL: usize = 2048;

/// The event types and what each means.
pub const EVENT_TYPES: [&str; 7] = [
    "offer.accepted",
    "trial.started",
    "subscription.cancel_confirmed",
    "subscription.cancel_revoked",
    "prompt.converted",
    "flow.abandoned",
    "webhook.test",
];

/// The event types as the OpenAPI document lists them (the same names as [`EVENT_TYPES`]), so
/// a generated client offers only names an endpoint accepts.
#[derive(utoipa::ToSchema)]
pub enum EventName {
    /// An offer was accepted.
    #[schema(rename = "offer.accepted")]
    OfferAccepted,
    /// A gate trial started.
    #[schema(rename = "trial.started")]
    TrialStarted,
    /// A cancellation was confirmed.
    #[schema(rename = "subscription.cancel_confirmed")]
    CancelConfirmed,
    /// A cancellation was revoked by a later save.
    #[schema(rename = "subscription.cancel_revoked")]
    CancelRevoked,
    /// An upgrade was credited to a prompt.
    #[schema(rename = "prompt.converted")]
    PromptConverted,
    /// A cancel session closed without an outcome.
    #[schema(rename = "flow.abandoned")]
    FlowAbandoned,
    /// A test ping.
    #[schema(rename = "webhook.test")]
    Test,
}

/// A message body: `{ "type", "timestamp" (RFC 3339), "data" }`.
pub fn message(kind: &str, at: i64, data: Value) -> NewMessage {
    NewMessage {
        kind: kind.to_string(),
        payload: json!({ "type": kind, "timestamp": rfc3339(at), "data": data }).to_string(),
    }
}

/// `data` common to every event of a cancel session.
pub fn session_data(app_id: &str, mode: Mode, customer_id: &str, session_id: &str) -> Value {
    json!({ "app_id": app_id, "mode": mode, "customer_id": customer_id, "session_id": session_id })
}

/// `2026-12-01T17:30:00Z`.
pub fn rfc3339(at: i64) -> String {
    let s = at.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        holdfast_core::calendar::iso_day(at),
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// A new endpoint secret: `whsec_` and 32 random bytes in base64, as the specification writes it.
pub fn new_secret() -> anyhow::Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// The `webhook-signature` value for a message: one `v1,` signature per secret that signs now.
pub fn signature(
    endpoint: &Endpoint,
    id: &str,
    timestamp: i64,
    body: &str,
) -> anyhow::Result<String> {
    let mut secrets = vec![endpoint.secret.as_str()];
    if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_until)
        && timestamp < until
    {
        secrets.push(previous);
    }
    let mut signatures = Vec::new();
    for secret in secrets {
        let wh = standardwebhooks::Webhook::new(secret)
            .map_err(|e| anyhow::anyhow!("endpoint {}: bad secret: {e:?}", endpoint.id))?;
        signatures.push(
            wh.sign(id, timestamp, body.as_bytes())
                .map_err(|e| anyhow::anyhow!("signing: {e:?}"))?,
        );
    }
    Ok(signatures.join(" "))
}

/// Checks an endpoint URL when it is set: `https://` (or, with private addresses allowed,
/// `http://`), a host, and no literal private address unless allowed.
pub fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    if url.len() > MAX_URL {
        return Err(format!("at most {MAX_URL} bytes"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        other => return Err(format!("the scheme must be https, not {other}")),
    }
    let Some(host) = parsed.host_str() else {
        return Err("the URL has no host".into());
    };
    if !allow_private
        && let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>()
        && !is_public(ip)
    {
        return Err(format!("{ip} is a private, loopback or link-local address"));
    }
    Ok(())
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// A resolver that refuses names resolving only to private addresses, so DNS cannot point a
/// webhook at the server's own network.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client of the sender: no redirects, the attempt's timeout, and (unless private
/// addresses are allowed) the public-only resolver.
fn client(settings: &WebhookSettings) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .user_agent(concat!("Holdfast-Webhooks/", env!("CARGO_PKG_VERSION")));
    if !settings.allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    Ok(builder.build()?)
}

/// A session left open this long without an outcome is closed as abandoned.
pub const ABANDON_AFTER: i64 = crate::storage::rollup::PENDING_FOR;

/// Closes sessions left open for a day without an outcome, as abandoned (`flow.abandoned` with
/// `why: timed_out`); sessions older than a week are left alone (history from before outcomes
/// were recorded). Returns how many it closed.
pub async fn close_stale_sessions(storage: &Storage, now: i64) -> anyhow::Result<usize> {
    let stale = storage
        .sessions_without_outcome(now - 7 * 86_400, now - ABANDON_AFTER, 500)
        .await?;
    let policy = crate::storage::outcomes::OutcomePolicy {
        save_after_cancel: |_| false,
        recheck: None,
    };
    for (app_id, live, session_id, facts) in &stale {
        let mut data = session_data(
            app_id,
            Mode::from_live(*live),
            &facts.customer_id,
            session_id,
        );
        data["closed_at"] = rfc3339(now).into();
        data["why"] = "timed_out".into();
        let new = crate::storage::outcomes::NewOutcome {
            session_id: session_id.clone(),
            customer_id: facts.customer_id.clone(),
            outcome: "abandoned",
            profile: None,
            reason: None,
            offer_id: None,
            offer_json: None,
            effective_date: None,
            receipt_json: None,
            at: now,
            response_json: "{}".into(),
            session: facts.clone(),
            redemption: None,
            webhooks: vec![message("flow.abandoned", now, data)],
            on_replace: None,
        };
        storage
            .record_outcome(Scope::new(app_id, *live), &new, &policy)
            .await?;
    }
    Ok(stale.len())
}

/// Starts the sender task; it runs until the process ends.
pub fn spawn_sender(storage: Storage, settings: WebhookSettings) -> anyhow::Result<()> {
    let client = client(&settings)?;
    let sweeper = storage.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = close_stale_sessions(&sweeper, crate::clock::now()).await {
                tracing::error!(error = %format!("{e:#}"), "closing stale sessions failed");
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    });
    tokio::spawn(async move {
        loop {
            let now = crate::clock::now();
            let due = match storage.claim_due(now, 20, 60).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "claiming webhook messages failed");
                    Vec::new()
                }
            };
            if due.is_empty() {
                tokio::time::sleep(settings.poll).await;
                continue;
            }
            for (message, endpoint) in due {
                if let Err(e) = send(&client, &storage, &settings, &message, &endpoint).await {
                    tracing::error!(error = %format!("{e:#}"), message = %message.id, "recording a webhook attempt failed");
                }
            }
        }
    });
    Ok(())
}

/// One attempt: post, record what happened and what follows.
async fn send(
    client: &reqwest::Client,
    storage: &Storage,
    settings: &WebhookSettings,
    message: &Message,
    endpoint: &Endpoint,
) -> anyhow::Result<()> {
    let now = crate::clock::now();
    let number = message.attempts + 1;
    let started = Instant::now();
    let mut attempt = Attempt {
        attempt: number,
        at: now,
        status_code: None,
        latency_ms: 0,
        response: None,
        error: None,
    };
    let result = match (
        endpoint.enabled,
        check_url(&endpoint.url, settings.allow_private),
    ) {
        (false, _) => Err("the endpoint is disabled".to_string()),
        (true, Err(e)) => Err(e),
        (true, Ok(())) => {
            let sig = signature(endpoint, &message.id, now, &message.payload)?;
            client
                .post(&endpoint.url)
                .header("content-type", "application/json")
                .header("webhook-id", &message.id)
                .header("webhook-timestamp", now.to_string())
                .header("webhook-signature", sig)
                .body(message.payload.clone())
                .send()
                .await
                .map_err(|e| format!("{e}"))
        }
    };
    attempt.latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let status = match result {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            attempt.status_code = Some(i64::from(status));
            attempt.response = Some(body.chars().take(256).collect());
            Some(status)
        }
        Err(e) => {
            attempt.error = Some(e);
            None
        }
    };
    let after = match status {
        Some(200..=299) => AfterAttempt::Delivered,
        Some(410) => AfterAttempt::GiveUp(Some("the endpoint answered 410 Gone".into())),
        _ if !endpoint.enabled => AfterAttempt::GiveUp(None),
        _ if endpoint
            .failing_since
            .is_some_and(|since| now - since >= FAILING_LIMIT) =>
        {
            AfterAttempt::GiveUp(Some("failing for 3 days".into()))
        }
        _ => match usize::try_from(message.attempts)
            .ok()
            .and_then(|i| settings.retry_schedule.get(i))
        {
            Some(wait) => AfterAttempt::Retry(now + wait + jitter(*wait)),
            None => AfterAttempt::GiveUp(None),
        },
    };
    storage
        .record_attempt(message, endpoint, &attempt, &after)
        .await
}

/// Up to a tenth of the wait, so retries of many messages spread out.
fn jitter(wait: i64) -> i64 {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let r = i64::from(u16::from_le_bytes(b));
    (wait / 10) * r / i64::from(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_retries_for_more_than_three_days() {
        let total: i64 = parse_schedule(DEFAULT_RETRY_SCHEDULE).unwrap().iter().sum();
        assert!(total > 3 * 86_400, "{total}");
        assert_eq!(parse_schedule("1s, 2m").unwrap(), [1, 120]);
        assert!(parse_schedule("5y").is_err());
    }

    #[test]
    fn urls_are_https_to_public_hosts_unless_private_ones_are_allowed() {
        assert!(check_url("https://billing.acme.com/hooks", false).is_ok());
        assert!(check_url("http://billing.acme.com/hooks", false).is_err());
        assert!(check_url("https://127.0.0.1/x", false).is_err());
        assert!(check_url("https://10.1.2.3/x", false).is_err());
        assert!(check_url("https://[::1]/x", false).is_err());
        assert!(check_url("https://169.254.169.254/latest", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/x", true).is_ok());
    }

    #[test]
    fn timestamps_are_rfc_3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_146_200), "2026-12-01T17:30:00Z");
    }
}
