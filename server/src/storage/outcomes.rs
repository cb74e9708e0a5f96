//! Recorded outcomes: one per cancel session, written only by the server's acceptance and
//! cancellation calls (see `crate::cancel`), read by stats (through the session row they update)
//! and by the host's backend before it acts.
//!
//! The rules live in one transaction, so concurrent calls cannot break them: the first outcome
//! recorded for a session wins, a repeat of it returns the first answer, a conflicting one is
//! refused with the recorded outcome, and a save is re-checked against the customer's ledger
//! under a per-customer lock (PostgreSQL: an advisory lock; SQLite: its single writer), so two
//! concurrent acceptances can never both redeem. The one change allowed is a save after a
//! cancellation where the session's profile offers after cancelling (Minnesota); the earlier step
//! stays in the outcome's history.
//!
//! [`OutcomeStore`] has one implementation for both backends, over their pools.

use async_trait::async_trait;
use holdfast_core::targeting::Redemption;
use serde::Serialize;

use super::SessionFacts;
use super::backend::Driver;
use super::sql::Queries;
use super::webhooks::enqueue_webhooks;

/// An outcome to record.
#[derive(Debug, Clone)]
pub struct NewOutcome {
    /// The session.
    pub session_id: String,
    /// Its customer.
    pub customer_id: String,
    /// `saved` or `cancelled`.
    pub outcome: &'static str,
    /// The policy profile the session ran under.
    pub profile: Option<String>,
    /// The survey answer.
    pub reason: Option<String>,
    /// A save's offer id.
    pub offer_id: Option<String>,
    /// A save's offer with its terms, as JSON.
    pub offer_json: Option<String>,
    /// A cancellation's last day (`YYYY-MM-DD`).
    pub effective_date: Option<String>,
    /// What the profile requires a receipt to say, as JSON.
    pub receipt_json: Option<String>,
    /// When the server recorded it, Unix seconds.
    pub at: i64,
    /// The answer to give, and to give again to a retry.
    pub response_json: String,
    /// The session row's change (saved or cancelled, with the offer's cost).
    pub session: SessionFacts,
    /// A save's ledger entry: `(idempotency key, offer kind)`.
    pub redemption: Option<(String, holdfast_core::offer::OfferKind)>,
    /// The webhook messages the outcome causes, written in the same transaction.
    pub webhooks: Vec<super::webhooks::NewMessage>,
    /// Sent first when this save replaces a recorded cancellation (its revocation).
    pub on_replace: Option<super::webhooks::NewMessage>,
}

/// A feature trial to record.
#[derive(Debug, Clone)]
pub struct NewTrial {
    /// The customer.
    pub customer_id: String,
    /// The gated feature.
    pub feature: String,
    /// Its length.
    pub days: i64,
    /// When it starts, Unix seconds.
    pub started_at: i64,
    /// The prompt session it was started from.
    pub session_id: String,
    /// `trial.started`.
    pub webhook: super::webhooks::NewMessage,
}

/// An outcome carried by an event through the ingest log and recorded when the aggregator folds
/// it, unless the session has an outcome by then (the widget's direct call usually came first).
/// Recording it in the fold keeps event ingest an append: no write transaction per request.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PendingOutcome {
    /// `cancelled`.
    pub outcome: String,
    /// The profile it was made under.
    pub profile: Option<String>,
    /// The survey answer.
    pub reason: Option<String>,
    /// Its last day.
    pub effective_date: Option<String>,
    /// The receipt, as JSON.
    pub receipt: Option<String>,
    /// When it was received, Unix seconds.
    pub at: i64,
    /// The answer a later call for the session gets.
    pub response: String,
    /// The webhook it causes: type and body.
    pub webhook: Option<(String, String)>,
}

/// An outcome as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredOutcome {
    /// The session.
    pub session_id: String,
    /// Its customer.
    pub customer_id: String,
    /// Live or test data.
    pub live: bool,
    /// `saved` or `cancelled`.
    pub outcome: String,
    /// The policy profile the session ran under.
    pub profile: Option<String>,
    /// The survey answer.
    pub reason: Option<String>,
    /// A save's offer id.
    pub offer_id: Option<String>,
    /// A save's offer with its terms, as JSON.
    pub offer_json: Option<String>,
    /// A cancellation's last day.
    pub effective_date: Option<String>,
    /// The receipt, as JSON.
    pub receipt_json: Option<String>,
    /// When it was first recorded.
    pub recorded_at: i64,
    /// When it last changed.
    pub updated_at: i64,
    /// The answer given.
    pub response_json: String,
    /// Earlier steps, as a JSON array.
    pub history_json: String,
}

/// What recording did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Recorded now; the answer to give.
    New(String),
    /// The same outcome was already recorded: its first answer.
    Repeat(String),
    /// Another outcome was recorded first.
    Conflict(Box<StoredOutcome>),
    /// The save failed its re-check against the ledger (the reason).
    Refused(String),
}

/// A save's ledger re-check: the customer's redemptions, read inside the recording transaction,
/// to `Err(reason)` when the save is no longer allowed.
pub type Recheck<'a> = &'a (dyn Fn(&[Redemption]) -> Result<(), String> + Send + Sync);

/// A `redemptions` row as the abuse ledger reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct RedemptionRow {
    /// The offer kind's name ([`holdfast_core::offer::OfferKind::as_str`]).
    pub kind: String,
    /// When it was accepted, unix seconds.
    pub at: i64,
}

/// The ledger's rows as core's redemptions; a kind this build does not know (written by a newer
/// one) has no cooldown here, so it is left out.
pub fn redemptions(rows: Vec<RedemptionRow>) -> Vec<Redemption> {
    rows.into_iter()
        .filter_map(|r| {
            Some(Redemption {
                kind: holdfast_core::offer::OfferKind::parse(&r.kind)?,
                at: r.at,
            })
        })
        .collect()
}

/// The judgement calls the service makes for the storage.
pub struct OutcomePolicy<'a> {
    /// Whether a save may replace a cancellation recorded under this profile.
    pub save_after_cancel: fn(Option<&str>) -> bool,
    /// For a save: the ledger re-check.
    pub recheck: Option<Recheck<'a>>,
}

/// The outcome use cases; a supertrait of [`super::Store`], so every backend has them.
#[async_trait]
pub trait OutcomeStore: Send + Sync {
    /// Records a session's outcome under the rules in the module doc.
    async fn record_outcome(
        &self,
        scope: super::Scope<'_>,
        new: &NewOutcome,
        policy: &OutcomePolicy<'_>,
    ) -> anyhow::Result<Recorded>;

    /// A session's recorded outcome.
    async fn outcome(
        &self,
        scope: super::Scope<'_>,
        session_id: &str,
    ) -> anyhow::Result<Option<StoredOutcome>>;

    /// Sessions started between `from` and `to` that have no outcome and no save or cancellation
    /// folded from events: `(app, live, session, facts)`, at most `limit`, oldest first.
    async fn sessions_without_outcome(
        &self,
        from: i64,
        to: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<(String, bool, String, super::SessionFacts)>>;

    /// Records a feature trial, one per feature per customer and mode, with its webhook in the
    /// same transaction: `Ok(None)` when recorded now, else the trial recorded first
    /// `(days, started_at, session)`.
    async fn record_trial(
        &self,
        scope: super::Scope<'_>,
        trial: &NewTrial,
    ) -> anyhow::Result<Option<(i64, i64, String)>>;

    /// One page of the audit export: cancel sessions started in `[from, to)` after the key
    /// `after` (`started_at`, `session_id`), in that order, at most `limit`, each with its trail
    /// and recorded outcome.
    async fn audit_page(
        &self,
        scope: super::Scope<'_>,
        range: (i64, i64),
        after: Option<(i64, String)>,
        limit: i64,
    ) -> anyhow::Result<Vec<AuditRow>>;

    /// A customer's recorded outcomes, newest first (at most `limit`).
    async fn customer_outcomes(
        &self,
        scope: super::Scope<'_>,
        customer_id: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<StoredOutcome>>;
}

/// A cancel session as the audit export reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    /// The session.
    pub session_id: String,
    /// Its customer.
    pub customer_id: String,
    /// When it started, Unix seconds.
    pub started_at: i64,
    /// The customer's plan then.
    pub plan: String,
    /// The customer's MRR then.
    pub mrr_cents: i64,
    /// `experiment:variant`, if any.
    pub variant: Option<String>,
    /// The survey answer.
    pub reason: Option<String>,
    /// The trail lines (`crate::audit::TrailEntry`), in the order folded.
    pub trail: String,
    /// The recorded outcome, if any.
    pub outcome: Option<StoredOutcome>,
}

/// The columns [`StoredOutcome`] is read from, in order.
pub const OUTCOME_COLUMNS: &str = "session_id, customer_id, live, outcome, profile, reason, \
     offer_id, offer, effective_date, receipt, recorded_at, updated_at, response, history";

/// A row of [`OUTCOME_COLUMNS`].
pub type OutcomeRow = (
    String,
    String,
    bool,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    String,
    String,
);

/// Turns a row into a [`StoredOutcome`].
pub fn outcome_of(r: OutcomeRow) -> StoredOutcome {
    StoredOutcome {
        session_id: r.0,
        customer_id: r.1,
        live: r.2,
        outcome: r.3,
        profile: r.4,
        reason: r.5,
        offer_id: r.6,
        offer_json: r.7,
        effective_date: r.8,
        receipt_json: r.9,
        recorded_at: r.10,
        updated_at: r.11,
        response_json: r.12,
        history_json: r.13,
    }
}

/// The history after `previous` is replaced: its step appended.
pub fn history_with(previous: &StoredOutcome) -> String {
    let mut history: Vec<serde_json::Value> =
        serde_json::from_str(&previous.history_json).unwrap_or_default();
    history.push(serde_json::json!({
        "outcome": previous.outcome,
        "recorded_at": previous.recorded_at,
        "effective_date": previous.effective_date,
        "offer_id": previous.offer_id,
    }));
    serde_json::Value::Array(history).to_string()
}

/// One implementation for both backends, over their pools: the SQL is the same.
#[async_trait::async_trait]
impl<S> OutcomeStore for S
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
    for<'q> Option<i64>: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> Option<String>: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> f64: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'r> RedemptionRow: sqlx::FromRow<'r, <S::Db as sqlx::Database>::Row>,
{
    async fn record_outcome(
        &self,
        scope: crate::storage::Scope<'_>,
        new: &crate::storage::outcomes::NewOutcome,
        policy: &crate::storage::outcomes::OutcomePolicy<'_>,
    ) -> anyhow::Result<crate::storage::outcomes::Recorded> {
        let crate::storage::Scope { app_id, live } = scope;
        use crate::storage::outcomes::{OUTCOME_COLUMNS, OutcomeRow, Recorded, outcome_of};
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        <S::Db as Driver>::lock_customers(&mut tx, &[format!("{app_id}\n{}", new.customer_id)])
            .await?;
        // The customer's stats contributions before the write (the outcome changes the
        // session and, for a cancellation, the customer's churn history); the difference
        // is added to the rollups at the end.
        let scope = crate::storage::sql::Touched::of([(app_id, live, new.customer_id.as_str())]);
        let before = Queries::<S::Db>::snapshot(&mut tx, &scope).await?;
        // A write first: on SQLite it takes the database's write lock, so the reads below
        // see everything committed before and nothing commits in between.
        let inserted = S::rows_affected(
            &sqlx::query(
                "INSERT INTO outcomes (app_id, session_id, live, customer_id, outcome, profile, \
             reason, offer_id, offer, effective_date, receipt, recorded_at, updated_at, \
             response, history) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $12, $13, '[]') ON CONFLICT (app_id, session_id) DO NOTHING",
            )
            .bind(app_id)
            .bind(&new.session_id)
            .bind(live)
            .bind(&new.customer_id)
            .bind(new.outcome)
            .bind(&new.profile)
            .bind(&new.reason)
            .bind(&new.offer_id)
            .bind(&new.offer_json)
            .bind(&new.effective_date)
            .bind(&new.receipt_json)
            .bind(new.at)
            .bind(&new.response_json)
            .execute(&mut *tx)
            .await?,
        ) == 1;
        if !inserted {
            let row: OutcomeRow = sqlx::query_as(&format!(
                "SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE app_id = $1 AND session_id = $2"
            ))
            .bind(app_id)
            .bind(&new.session_id)
            .fetch_one(&mut *tx)
            .await?;
            let existing = outcome_of(row);
            let same = existing.outcome == new.outcome && existing.offer_id == new.offer_id;
            let replaces = existing.outcome == "cancelled"
                && new.outcome == "saved"
                && existing.customer_id == new.customer_id
                && existing.live == live
                && (policy.save_after_cancel)(existing.profile.as_deref());
            if same && existing.customer_id == new.customer_id && existing.live == live {
                tx.commit().await?;
                return Ok(Recorded::Repeat(existing.response_json));
            }
            if !replaces {
                tx.commit().await?;
                return Ok(Recorded::Conflict(Box::new(existing)));
            }
            sqlx::query(
                "UPDATE outcomes SET outcome = $1, offer_id = $2, offer = $3, \
                 reason = COALESCE($4, reason), updated_at = $5, response = $6, history = $7 \
                 WHERE app_id = $8 AND session_id = $9",
            )
            .bind(new.outcome)
            .bind(&new.offer_id)
            .bind(&new.offer_json)
            .bind(&new.reason)
            .bind(new.at)
            .bind(&new.response_json)
            .bind(crate::storage::outcomes::history_with(&existing))
            .bind(app_id)
            .bind(&new.session_id)
            .execute(&mut *tx)
            .await?;
            if let Some(revoked) = &new.on_replace {
                enqueue_webhooks(
                    &mut tx,
                    crate::storage::Scope::new(app_id, live),
                    None,
                    std::slice::from_ref(revoked),
                    new.at,
                )
                .await?;
            }
        }
        if let Some(recheck) = policy.recheck {
            let ledger: Vec<crate::storage::outcomes::RedemptionRow> = sqlx::query_as(
                "SELECT kind, at FROM redemptions \
                 WHERE app_id = $1 AND live = $2 AND customer_id = $3 ORDER BY at",
            )
            .bind(app_id)
            .bind(live)
            .bind(&new.customer_id)
            .fetch_all(&mut *tx)
            .await?;
            if let Err(reason) = recheck(&crate::storage::outcomes::redemptions(ledger)) {
                tx.rollback().await?;
                return Ok(Recorded::Refused(reason));
            }
        }
        if let Some((event_id, kind)) = &new.redemption {
            sqlx::query(
                "INSERT INTO redemptions (app_id, event_id, live, customer_id, session_id, \
                 offer_id, kind, at, response) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (app_id, event_id) DO NOTHING",
            )
            .bind(app_id)
            .bind(event_id)
            .bind(live)
            .bind(&new.customer_id)
            .bind(&new.session_id)
            .bind(&new.offer_id)
            .bind(kind.as_str())
            .bind(new.at)
            .bind(&new.response_json)
            .execute(&mut *tx)
            .await?;
        }
        Queries::<S::Db>::upsert_session(
            &mut tx,
            crate::storage::Scope::new(app_id, live),
            &new.session_id,
            &new.session,
        )
        .await?;
        Queries::<S::Db>::settle_rollups(&mut tx, &scope, before).await?;
        enqueue_webhooks(
            &mut tx,
            crate::storage::Scope::new(app_id, live),
            None,
            &new.webhooks,
            new.at,
        )
        .await?;
        tx.commit().await?;
        Ok(Recorded::New(new.response_json.clone()))
    }

    async fn outcome(
        &self,
        scope: crate::storage::Scope<'_>,
        session_id: &str,
    ) -> anyhow::Result<Option<crate::storage::outcomes::StoredOutcome>> {
        let crate::storage::Scope { app_id, live } = scope;
        use crate::storage::outcomes::{OUTCOME_COLUMNS, OutcomeRow, outcome_of};
        let row: Option<OutcomeRow> = sqlx::query_as(&format!(
            "SELECT {OUTCOME_COLUMNS} FROM outcomes \
             WHERE app_id = $1 AND live = $2 AND session_id = $3"
        ))
        .bind(app_id)
        .bind(live)
        .bind(session_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(outcome_of))
    }

    async fn sessions_without_outcome(
        &self,
        from: i64,
        to: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<(String, bool, String, crate::storage::SessionFacts)>> {
        let rows: Vec<(
            String,
            bool,
            String,
            String,
            i64,
            String,
            String,
            i64,
            String,
        )> = sqlx::query_as(
            "SELECT s.app_id, s.live, s.session_id, s.customer_id, s.started_at, s.week, \
                 s.plan, s.mrr_cents, s.tenure_band FROM sessions s \
                 LEFT JOIN outcomes o ON o.app_id = s.app_id AND o.session_id = s.session_id \
                 WHERE o.session_id IS NULL AND s.saved = 0 AND s.cancelled = 0 \
                 AND s.started_at >= $1 AND s.started_at < $2 \
                 ORDER BY s.started_at LIMIT $3",
        )
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    app_id,
                    live,
                    session_id,
                    customer_id,
                    started_at,
                    week,
                    plan,
                    mrr_cents,
                    tenure_band,
                )| {
                    let facts = crate::storage::SessionFacts {
                        customer_id,
                        started_at,
                        week,
                        plan,
                        mrr_cents,
                        tenure_band,
                        abandoned: true,
                        ..crate::storage::SessionFacts::default()
                    };
                    (app_id, live, session_id, facts)
                },
            )
            .collect())
    }

    async fn record_trial(
        &self,
        scope: crate::storage::Scope<'_>,
        t: &crate::storage::outcomes::NewTrial,
    ) -> anyhow::Result<Option<(i64, i64, String)>> {
        let crate::storage::Scope { app_id, live } = scope;
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        let inserted = S::rows_affected(
            &sqlx::query(
                "INSERT INTO trials (app_id, live, customer_id, feature, days, started_at, \
             session_id) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(app_id)
            .bind(live)
            .bind(&t.customer_id)
            .bind(&t.feature)
            .bind(t.days)
            .bind(t.started_at)
            .bind(&t.session_id)
            .execute(&mut *tx)
            .await?,
        ) == 1;
        if !inserted {
            let first: (i64, i64, String) = sqlx::query_as(
                "SELECT days, started_at, session_id FROM trials WHERE app_id = $1 \
                 AND live = $2 AND customer_id = $3 AND feature = $4",
            )
            .bind(app_id)
            .bind(live)
            .bind(&t.customer_id)
            .bind(&t.feature)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Some(first));
        }
        enqueue_webhooks(
            &mut tx,
            crate::storage::Scope::new(app_id, live),
            None,
            std::slice::from_ref(&t.webhook),
            t.started_at,
        )
        .await?;
        tx.commit().await?;
        Ok(None)
    }

    async fn customer_outcomes(
        &self,
        scope: crate::storage::Scope<'_>,
        customer_id: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<crate::storage::outcomes::StoredOutcome>> {
        let crate::storage::Scope { app_id, live } = scope;
        use crate::storage::outcomes::{OUTCOME_COLUMNS, OutcomeRow, outcome_of};
        let rows: Vec<OutcomeRow> = sqlx::query_as(&format!(
            "SELECT {OUTCOME_COLUMNS} FROM outcomes \
             WHERE app_id = $1 AND live = $2 AND customer_id = $3 \
             ORDER BY recorded_at DESC, session_id LIMIT $4"
        ))
        .bind(app_id)
        .bind(live)
        .bind(customer_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(outcome_of).collect())
    }

    async fn audit_page(
        &self,
        scope: crate::storage::Scope<'_>,
        (from, to): (i64, i64),
        after: Option<(i64, String)>,
        limit: i64,
    ) -> anyhow::Result<Vec<crate::storage::outcomes::AuditRow>> {
        let crate::storage::Scope { app_id, live } = scope;
        use crate::storage::outcomes::{AuditRow, OUTCOME_COLUMNS, OutcomeRow, outcome_of};
        type Row = (
            String,
            String,
            i64,
            String,
            i64,
            Option<String>,
            Option<String>,
            String,
        );
        let (after_at, after_id) = after.unwrap_or((i64::MIN, String::new()));
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT session_id, customer_id, started_at, plan, mrr_cents, variant, reason, trail \
             FROM sessions WHERE app_id = $1 AND live = $2 AND started_at >= $3 AND started_at < $4 \
             AND (started_at > $5 OR (started_at = $5 AND session_id > $6)) \
             ORDER BY started_at, session_id LIMIT $7",
        )
        .bind(app_id)
        .bind(live)
        .bind(from)
        .bind(to)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut outcomes = std::collections::HashMap::new();
        if !rows.is_empty() {
            let mut q = super::statement::Statement::new(format!(
                "SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE app_id = "
            ));
            q.push_bind(app_id).push(" AND live = ").push_bind(live);
            q.push(" AND session_id IN (");
            let mut ids = q.separated(", ");
            for r in &rows {
                ids.push_bind(r.0.as_str());
            }
            q.push(")");
            let found: Vec<OutcomeRow> = Queries::<S::Db>::fetch_all(q, self.pool()).await?;
            outcomes.extend(found.into_iter().map(|r| (r.0.clone(), outcome_of(r))));
        }
        Ok(rows
            .into_iter()
            .map(
                |(session_id, customer_id, started_at, plan, mrr_cents, variant, reason, trail)| {
                    let outcome = outcomes.remove(&session_id);
                    AuditRow {
                        session_id,
                        customer_id,
                        started_at,
                        plan,
                        mrr_cents,
                        variant,
                        reason,
                        trail,
                        outcome,
                    }
                },
            )
            .collect())
    }
}
