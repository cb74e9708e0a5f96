//! Webhook endpoints and the transactional outbox of their messages.
//!
//! A message is written in the same transaction as the outcome that causes it (see
//! `outcomes`), one per enabled endpoint of the app and mode that takes its type, so a crash can
//! lose none. Senders claim due messages by moving `locked_until` forward in one statement
//! (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so replicas never send one message at the same time),
//! send, and record the attempt with the message's next state in one transaction: at least once,
//! with the same `webhook-id` on every attempt.
//!
//! One plain generic implementation of [`WebhookStore`] serves both backends; a claim of queued
//! messages adds the backend's `SKIP_LOCKED` clause, so replicas claim different ones.

use async_trait::async_trait;
use serde::Serialize;

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Its id (`whep_...`).
    pub id: String,
    /// The app.
    pub app_id: String,
    /// Live or test mode.
    pub live: bool,
    /// Where messages go.
    pub url: String,
    /// What the operator wrote about it.
    pub description: String,
    /// The event types it takes; empty: every type.
    pub events: Vec<String>,
    /// The signing secret (`whsec_...`).
    #[serde(skip)]
    pub secret: String,
    /// The secret before a rotation, signing too until `previous_until`.
    #[serde(skip)]
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing.
    pub previous_until: Option<i64>,
    /// Whether messages are sent.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// The first failure of the current run of failures.
    pub failing_since: Option<i64>,
    /// Created, Unix seconds.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
}

impl Endpoint {
    /// Whether it takes messages of `kind`.
    pub fn takes(&self, kind: &str) -> bool {
        self.enabled && (self.events.is_empty() || self.events.iter().any(|e| e == kind))
    }
}

/// A message to enqueue: its type and the exact body to send.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The event type (`offer.accepted`).
    pub kind: String,
    /// `{ "type", "timestamp", "data" }`, as sent.
    pub payload: String,
}

/// A message as stored, with its last attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The `webhook-id`.
    pub id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The body sent.
    #[serde(skip)]
    pub payload: String,
    /// Enqueued, Unix seconds.
    pub created_at: i64,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: i64,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// Which attempt, from 1.
    pub attempt: i64,
    /// When it was made.
    pub at: i64,
    /// The HTTP status, when a response came.
    pub status_code: Option<i64>,
    /// How long it took.
    pub latency_ms: i64,
    /// The first bytes of the response body.
    pub response: Option<String>,
    /// What went wrong, when no response came.
    pub error: Option<String>,
}

/// What an attempt decided for its message and endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAttempt {
    /// A 2xx: done; the endpoint is healthy again.
    Delivered,
    /// Try again then.
    Retry(i64),
    /// Retries exhausted, or the endpoint is gone: give up on the message; with a reason, the
    /// endpoint is disabled too.
    GiveUp(Option<String>),
}

/// Filters for the deliveries list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// One endpoint's.
    pub endpoint_id: Option<String>,
    /// One event type's.
    pub kind: Option<String>,
    /// One status's.
    pub status: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// The webhook use cases; a supertrait of [`super::Store`].
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint.
    async fn create_endpoint(&self, endpoint: &Endpoint) -> anyhow::Result<()>;
    /// An app's endpoints in one mode, oldest first.
    async fn endpoints(&self, scope: super::Scope<'_>) -> anyhow::Result<Vec<Endpoint>>;
    /// One endpoint.
    async fn endpoint(&self, scope: super::Scope<'_>, id: &str)
    -> anyhow::Result<Option<Endpoint>>;
    /// Replaces an endpoint's fields; false when there is none.
    async fn update_endpoint(&self, endpoint: &Endpoint) -> anyhow::Result<bool>;
    /// Deletes an endpoint and its pending messages; false when there is none.
    async fn delete_endpoint(&self, scope: super::Scope<'_>, id: &str) -> anyhow::Result<bool>;
    /// Enqueues messages for the app and mode's endpoints that take them (a test ping: one
    /// endpoint only). Returns the message ids.
    async fn enqueue(
        &self,
        scope: super::Scope<'_>,
        only_endpoint: Option<&str>,
        messages: &[NewMessage],
        now: i64,
    ) -> anyhow::Result<Vec<String>>;
    /// Claims up to `limit` due messages for `lock_secs`, with their endpoints.
    async fn claim_due(
        &self,
        now: i64,
        limit: i64,
        lock_secs: i64,
    ) -> anyhow::Result<Vec<(Message, Endpoint)>>;
    /// Records an attempt and what follows from it, in one transaction.
    async fn record_attempt(
        &self,
        message: &Message,
        endpoint: &Endpoint,
        attempt: &Attempt,
        after: &AfterAttempt,
    ) -> anyhow::Result<()>;
    /// Messages of an app and mode, newest first.
    async fn deliveries(
        &self,
        scope: super::Scope<'_>,
        filter: &DeliveryFilter,
    ) -> anyhow::Result<Vec<Message>>;
    /// A message's attempts, in order.
    async fn attempts(&self, message_id: &str) -> anyhow::Result<Vec<Attempt>>;
    /// Sends a message again now (whatever its status); false when there is none.
    async fn retry_message(&self, scope: super::Scope<'_>, id: &str) -> anyhow::Result<bool>;
}

/// The endpoint columns, in [`EndpointRow`] order.
pub const ENDPOINT_COLUMNS: &str = "id, app_id, live, url, description, events, secret, \
     previous_secret, previous_until, enabled, disabled_reason, failing_since, created_at, updated_at";

/// A row of [`ENDPOINT_COLUMNS`].
pub type EndpointRow = (
    String,
    String,
    bool,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    bool,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

/// Turns a row into an [`Endpoint`].
pub fn endpoint_of(r: EndpointRow) -> Endpoint {
    Endpoint {
        id: r.0,
        app_id: r.1,
        live: r.2,
        url: r.3,
        description: r.4,
        events: serde_json::from_str(&r.5).unwrap_or_default(),
        secret: r.6,
        previous_secret: r.7,
        previous_until: r.8,
        enabled: r.9,
        disabled_reason: r.10,
        failing_since: r.11,
        created_at: r.12,
        updated_at: r.13,
    }
}

/// The message columns, in [`MessageRow`] order.
pub const MESSAGE_COLUMNS: &str =
    "id, endpoint_id, type, payload, created_at, status, attempts, next_attempt_at, delivered_at";

/// A row of [`MESSAGE_COLUMNS`].
pub type MessageRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    Option<i64>,
);

/// Turns a row into a [`Message`].
pub fn message_of(r: MessageRow) -> Message {
    Message {
        id: r.0,
        endpoint_id: r.1,
        kind: r.2,
        payload: r.3,
        created_at: r.4,
        status: r.5,
        attempts: r.6,
        next_attempt_at: r.7,
        delivered_at: r.8,
    }
}

/// One implementation for both backends, over their pools: the SQL is the same.
#[async_trait::async_trait]
impl<S> WebhookStore for S
where
    S: super::backend::Pooled + Send + Sync,
    for<'c> &'c sqlx::Pool<S::Db>: sqlx::Executor<'c, Database = S::Db>,
    for<'c> &'c mut <S::Db as sqlx::Database>::Connection: sqlx::Executor<'c, Database = S::Db>,
    for<'q> <S::Db as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, S::Db>,
    for<'q> &'q str: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> i64: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> String: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> bool: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    usize: sqlx::ColumnIndex<<S::Db as sqlx::Database>::Row>,
    for<'q> Option<i64>: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> Option<String>: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'r> EndpointRow: sqlx::FromRow<'r, <S::Db as sqlx::Database>::Row>,
{
    async fn create_endpoint(&self, e: &crate::storage::webhooks::Endpoint) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, app_id, live, url, description, events, \
             secret, previous_secret, previous_until, enabled, disabled_reason, \
             failing_since, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&e.id)
        .bind(&e.app_id)
        .bind(e.live)
        .bind(&e.url)
        .bind(&e.description)
        .bind(serde_json::to_string(&e.events)?)
        .bind(&e.secret)
        .bind(&e.previous_secret)
        .bind(e.previous_until)
        .bind(e.enabled)
        .bind(&e.disabled_reason)
        .bind(e.failing_since)
        .bind(e.created_at)
        .bind(e.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn endpoints(
        &self,
        scope: crate::storage::Scope<'_>,
    ) -> anyhow::Result<Vec<crate::storage::webhooks::Endpoint>> {
        let crate::storage::Scope { app_id, live } = scope;
        use crate::storage::webhooks::{ENDPOINT_COLUMNS, EndpointRow, endpoint_of};
        let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
             WHERE app_id = $1 AND live = $2 ORDER BY created_at, id"
        ))
        .bind(app_id)
        .bind(live)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(endpoint_of).collect())
    }

    async fn endpoint(
        &self,
        scope: crate::storage::Scope<'_>,
        id: &str,
    ) -> anyhow::Result<Option<crate::storage::webhooks::Endpoint>> {
        let crate::storage::Scope { app_id, live } = scope;
        use crate::storage::webhooks::{ENDPOINT_COLUMNS, EndpointRow, endpoint_of};
        let row: Option<EndpointRow> = sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
             WHERE app_id = $1 AND live = $2 AND id = $3"
        ))
        .bind(app_id)
        .bind(live)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(endpoint_of))
    }

    async fn update_endpoint(
        &self,
        e: &crate::storage::webhooks::Endpoint,
    ) -> anyhow::Result<bool> {
        let n = S::rows_affected(
            &sqlx::query(
                "UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, \
             secret = $4, previous_secret = $5, previous_until = $6, enabled = $7, \
             disabled_reason = $8, failing_since = $9, updated_at = $10 \
             WHERE app_id = $11 AND live = $12 AND id = $13",
            )
            .bind(&e.url)
            .bind(&e.description)
            .bind(serde_json::to_string(&e.events)?)
            .bind(&e.secret)
            .bind(&e.previous_secret)
            .bind(e.previous_until)
            .bind(e.enabled)
            .bind(&e.disabled_reason)
            .bind(e.failing_since)
            .bind(e.updated_at)
            .bind(&e.app_id)
            .bind(e.live)
            .bind(&e.id)
            .execute(self.pool())
            .await?,
        );
        Ok(n == 1)
    }

    async fn delete_endpoint(
        &self,
        scope: crate::storage::Scope<'_>,
        id: &str,
    ) -> anyhow::Result<bool> {
        let crate::storage::Scope { app_id, live } = scope;
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        let n = S::rows_affected(
            &sqlx::query(
                "DELETE FROM webhook_endpoints WHERE app_id = $1 AND live = $2 AND id = $3",
            )
            .bind(app_id)
            .bind(live)
            .bind(id)
            .execute(&mut *tx)
            .await?,
        );
        sqlx::query(
            "UPDATE webhook_messages SET status = 'failed' \
             WHERE endpoint_id = $1 AND status = 'pending'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn enqueue(
        &self,
        scope: crate::storage::Scope<'_>,
        only_endpoint: Option<&str>,
        messages: &[crate::storage::webhooks::NewMessage],
        now: i64,
    ) -> anyhow::Result<Vec<String>> {
        let crate::storage::Scope { app_id, live } = scope;
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        let ids = enqueue_webhooks(
            &mut tx,
            crate::storage::Scope::new(app_id, live),
            only_endpoint,
            messages,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn claim_due(
        &self,
        now: i64,
        limit: i64,
        lock_secs: i64,
    ) -> anyhow::Result<
        Vec<(
            crate::storage::webhooks::Message,
            crate::storage::webhooks::Endpoint,
        )>,
    > {
        use crate::storage::webhooks::{
            ENDPOINT_COLUMNS, EndpointRow, MESSAGE_COLUMNS, MessageRow, endpoint_of, message_of,
        };
        let skip_locked: &str = <S as crate::storage::backend::Backend>::SKIP_LOCKED;
        let claimed: Vec<MessageRow> = sqlx::query_as(&format!(
            "UPDATE webhook_messages SET locked_until = $1 WHERE id IN (\
             SELECT id FROM webhook_messages WHERE status = 'pending' \
             AND next_attempt_at <= $2 AND locked_until <= $2 \
             ORDER BY next_attempt_at LIMIT $3 {skip_locked}) RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(now + lock_secs)
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(claimed.len());
        for row in claimed {
            let message = message_of(row);
            let endpoint: Option<EndpointRow> = sqlx::query_as(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
            ))
            .bind(&message.endpoint_id)
            .fetch_optional(self.pool())
            .await?;
            if let Some(endpoint) = endpoint {
                out.push((message, endpoint_of(endpoint)));
            }
        }
        Ok(out)
    }

    async fn record_attempt(
        &self,
        message: &crate::storage::webhooks::Message,
        endpoint: &crate::storage::webhooks::Endpoint,
        attempt: &crate::storage::webhooks::Attempt,
        after: &crate::storage::webhooks::AfterAttempt,
    ) -> anyhow::Result<()> {
        use crate::storage::webhooks::AfterAttempt;
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (message_id, attempt, at, status_code, \
             latency_ms, response, error) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (message_id, attempt) DO NOTHING",
        )
        .bind(&message.id)
        .bind(attempt.attempt)
        .bind(attempt.at)
        .bind(attempt.status_code)
        .bind(attempt.latency_ms)
        .bind(&attempt.response)
        .bind(&attempt.error)
        .execute(&mut *tx)
        .await?;
        let (status, next, delivered) = match after {
            AfterAttempt::Delivered => ("delivered", attempt.at, Some(attempt.at)),
            AfterAttempt::Retry(at) => ("pending", *at, None),
            AfterAttempt::GiveUp(_) => ("failed", attempt.at, None),
        };
        sqlx::query(
            "UPDATE webhook_messages SET status = $1, attempts = $2, next_attempt_at = $3, \
             delivered_at = $4, locked_until = 0 WHERE id = $5",
        )
        .bind(status)
        .bind(attempt.attempt)
        .bind(next)
        .bind(delivered)
        .bind(&message.id)
        .execute(&mut *tx)
        .await?;
        match after {
            AfterAttempt::Delivered => {
                sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1")
                    .bind(&endpoint.id)
                    .execute(&mut *tx)
                    .await?;
            }
            AfterAttempt::GiveUp(Some(reason)) => {
                sqlx::query(
                    "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = $2, \
                     updated_at = $3 WHERE id = $4",
                )
                .bind(false)
                .bind(reason)
                .bind(attempt.at)
                .bind(&endpoint.id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE webhook_messages SET status = 'failed' \
                     WHERE endpoint_id = $1 AND status = 'pending'",
                )
                .bind(&endpoint.id)
                .execute(&mut *tx)
                .await?;
            }
            _ => {
                sqlx::query(
                    "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1) \
                     WHERE id = $2",
                )
                .bind(attempt.at)
                .bind(&endpoint.id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(
        &self,
        scope: crate::storage::Scope<'_>,
        f: &crate::storage::webhooks::DeliveryFilter,
    ) -> anyhow::Result<Vec<crate::storage::webhooks::Message>> {
        let crate::storage::Scope { app_id, live } = scope;
        use crate::storage::webhooks::{MESSAGE_COLUMNS, MessageRow, message_of};
        let rows: Vec<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM webhook_messages WHERE app_id = $1 AND live = $2 \
             AND ($3 IS NULL OR endpoint_id = $3) AND ($4 IS NULL OR type = $4) \
             AND ($5 IS NULL OR status = $5) ORDER BY created_at DESC, id LIMIT $6"
        ))
        .bind(app_id)
        .bind(live)
        .bind(&f.endpoint_id)
        .bind(&f.kind)
        .bind(&f.status)
        .bind(f.limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(message_of).collect())
    }

    async fn attempts(
        &self,
        message_id: &str,
    ) -> anyhow::Result<Vec<crate::storage::webhooks::Attempt>> {
        let rows: Vec<(i64, i64, Option<i64>, i64, Option<String>, Option<String>)> =
            sqlx::query_as(
                "SELECT attempt, at, status_code, latency_ms, response, error \
                 FROM webhook_attempts WHERE message_id = $1 ORDER BY attempt",
            )
            .bind(message_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(attempt, at, status_code, latency_ms, response, error)| {
                crate::storage::webhooks::Attempt {
                    attempt,
                    at,
                    status_code,
                    latency_ms,
                    response,
                    error,
                }
            })
            .collect())
    }

    async fn retry_message(
        &self,
        scope: crate::storage::Scope<'_>,
        id: &str,
    ) -> anyhow::Result<bool> {
        let crate::storage::Scope { app_id, live } = scope;
        let n = S::rows_affected(
            &sqlx::query(
                "UPDATE webhook_messages SET status = 'pending', next_attempt_at = 0, \
             locked_until = 0 WHERE app_id = $1 AND live = $2 AND id = $3",
            )
            .bind(app_id)
            .bind(live)
            .bind(id)
            .execute(self.pool())
            .await?,
        );
        Ok(n == 1)
    }
}

/// Enqueues `messages` in `tx` for the endpoints that take them: the outbox's write,
/// shared by outcome recording and the test ping.
pub(super) async fn enqueue_webhooks<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    scope: crate::storage::Scope<'_>,
    only_endpoint: Option<&str>,
    messages: &[crate::storage::webhooks::NewMessage],
    now: i64,
) -> anyhow::Result<Vec<String>>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> EndpointRow: sqlx::FromRow<'r, DB::Row>,
{
    let crate::storage::Scope { app_id, live } = scope;
    use crate::storage::webhooks::{ENDPOINT_COLUMNS, EndpointRow, endpoint_of};
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
         WHERE app_id = $1 AND live = $2 AND ($3 IS NULL OR id = $3)"
    ))
    .bind(app_id)
    .bind(live)
    .bind(only_endpoint)
    .fetch_all(&mut **tx)
    .await?;
    let mut ids = Vec::new();
    for endpoint in rows.into_iter().map(endpoint_of) {
        for m in messages {
            if !(endpoint.takes(&m.kind) || only_endpoint.is_some()) {
                continue;
            }
            let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(
                "INSERT INTO webhook_messages (id, app_id, live, endpoint_id, type, payload, \
                 created_at, status, attempts, next_attempt_at, locked_until) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $7, 0)",
            )
            .bind(&id)
            .bind(app_id)
            .bind(live)
            .bind(&endpoint.id)
            .bind(&m.kind)
            .bind(&m.payload)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            ids.push(id);
        }
    }
    Ok(ids)
}
