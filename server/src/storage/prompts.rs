//! Upgrade prompts in storage: each customer's prompt state and the rows prompt stats group.
//!
//! The widget decides whether a prompt may show with core's `caps::decide`, from the customer's
//! history; the server keeps that history so caps hold across devices. Every row here is keyed by
//! the widget event that created it (`prompt_impressions`, `prompt_actions`, `prompt_snoozes`,
//! `gate_hits`), so recording the prompt events of a retried batch again changes nothing: these
//! tables are idempotent by themselves, independent of how the raw events are stored.
//!
//! Stats read `prompt_impressions`, one row per display, into which ingest folds what the
//! subscriber did in the same prompt session (clicked, dismissed, started a trial) and lifecycle
//! reports fold conversions: an upgrade counts for the latest impression at most
//! [`ATTRIBUTION_WINDOW`] before it. Attribution is recomputed per customer whenever an upgrade or
//! an earlier impression arrives, so it does not depend on the order reports come in.
//!
//! One plain generic implementation of [`PromptStore`] serves both backends, in the SQL both
//! speak; the aggregator's fold applies prompt events through the same `apply_prompt_events`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use holdfast_core::caps::{Impression, Snooze};
use serde::{Deserialize, Serialize};

use super::StatsRange;

/// An upgrade counts for a prompt shown at most this long before it (30 days, in seconds).
pub const ATTRIBUTION_WINDOW: i64 = 30 * 86_400;

/// The dimensions prompt stats are broken down by, `(name in the report, column)`: never user
/// input.
pub const PROMPT_DIMENSIONS: [(&str, &str); 5] = [
    ("prompt", "prompt"),
    ("trigger", "trigger_kind"),
    ("threshold", "threshold"),
    ("plan", "plan"),
    ("variant", "variant"),
];

/// What a displayed prompt is recorded with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownPrompt {
    /// The prompt id: `usage`, `gate` or `seats`.
    pub prompt: String,
    /// Core's `Trigger::key` of what fired it (`usage:projects:90:1767571200`, `gate:sso`,
    /// `seats`): the once-per-period rule compares these.
    pub trigger_key: String,
    /// The trigger without its period (`usage:projects`, `gate:sso`, `seats`), for breakdowns.
    pub trigger_kind: String,
    /// The usage threshold in percent, for usage prompts.
    pub threshold: Option<String>,
    /// The customer's plan when it showed.
    pub plan: String,
    /// `experiment:variant`, when the customer is in an experiment.
    pub variant: Option<String>,
}

/// What one prompt event does to the customer's prompt state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromptChange {
    /// `prompt_shown`: an impression.
    Shown(ShownPrompt),
    /// `prompt_clicked`: the impression of its session was clicked.
    Clicked,
    /// `prompt_dismissed`, with the snooze the subscriber chose, if any.
    Dismissed(Option<Snooze>),
    /// `trial_started`: a trial began from the prompt of its session.
    TrialStarted,
    /// `gate_hit`: the customer tried a feature their plan locks.
    GateHit {
        /// The feature.
        feature: String,
    },
}

/// A validated prompt event, ready to store (and to carry in the ingest log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptEvent {
    /// The widget's event id: the idempotency key.
    pub id: String,
    /// The prompt session (the widget's page session): with `prompt` and `trigger_key`, links
    /// clicks, dismissals and trials to their impression.
    pub session_id: String,
    /// When it happened, unix seconds.
    pub at: i64,
    /// When it happened, unix milliseconds: orders impressions within one second.
    pub at_ms: i64,
    /// The prompt the event concerns, when it says.
    pub prompt: Option<String>,
    /// The trigger key of the prompt the event concerns, when it says.
    pub trigger_key: Option<String>,
    /// What it changes.
    pub change: PromptChange,
}

/// A customer's prompt state, as the widget's caps need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptState {
    /// Displays since the requested time, oldest first.
    pub impressions: Vec<Impression>,
    /// Per prompt, the latest snooze still running.
    pub snoozes: Vec<Snooze>,
    /// Gate hits per feature, ever.
    pub gate_hits: BTreeMap<String, i64>,
}

/// Prompt outcome counts over a set of impressions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromptTally {
    /// Impressions.
    pub shown: i64,
    /// Impressions whose prompt was clicked.
    pub clicked: i64,
    /// Impressions that were dismissed.
    pub dismissed: i64,
    /// Impressions that led to a trial.
    pub trials: i64,
    /// Impressions an upgrade was attributed to.
    pub upgraded: i64,
}

/// Everything a prompt stats report is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptStatsData {
    /// All impressions shown in range.
    pub totals: PromptTally,
    /// Per dimension of [`PROMPT_DIMENSIONS`]: the tally per value, `none` when absent.
    pub breakdowns: Vec<(&'static str, Vec<(String, PromptTally)>)>,
}

/// The prompt use cases; a supertrait of [`super::Store`], so every backend has them.
#[async_trait]
pub trait PromptStore: Send + Sync {
    /// Records a customer's prompt events at once, outside the ingest log; events already
    /// recorded change nothing. Attributes upgrades reported earlier to impressions that arrive
    /// late. (Event ingest carries prompt events in the log; the aggregator applies them the
    /// same way.)
    async fn record_prompt_events(
        &self,
        scope: super::Scope<'_>,
        customer_id: &str,
        events: &[PromptEvent],
    ) -> anyhow::Result<()>;

    /// The customer's prompt state: at most `limit` of the latest impressions shown at or after
    /// `since` (oldest first), the snoozes still running at `now`, and gate hits per feature.
    /// Settles the ingest log first.
    async fn prompt_state(
        &self,
        scope: super::Scope<'_>,
        customer_id: &str,
        since: i64,
        now: i64,
        limit: i64,
    ) -> anyhow::Result<PromptState>;

    /// Recomputes which of the customer's impressions converted: each `upgraded` lifecycle event
    /// counts for the latest impression at most [`ATTRIBUTION_WINDOW`] before it. Settles the
    /// ingest log first, so impressions accepted before the upgrade was reported are there.
    async fn attribute_upgrades(
        &self,
        scope: super::Scope<'_>,
        customer_id: &str,
    ) -> anyhow::Result<()>;

    /// The impression an upgrade reported at `upgraded_at` converted, if one did:
    /// `(session, prompt, trigger key, shown at)`.
    async fn converted_by(
        &self,
        scope: super::Scope<'_>,
        customer_id: &str,
        upgraded_at: i64,
    ) -> anyhow::Result<Option<(String, String, String, i64)>>;

    /// Tallies and breakdowns of the impressions shown in the range (`now` is unused). Settles
    /// the ingest log first.
    async fn prompt_stats(
        &self,
        app_id: &str,
        range: &StatsRange,
    ) -> anyhow::Result<PromptStatsData>;
}

/// The outcome counts over `prompt_impressions`; `WHERE` and grouping are appended by the caller.
pub const PROMPT_TALLY_COLUMNS: &str = "COUNT(*), \
     CAST(COALESCE(SUM(clicked), 0) AS BIGINT), \
     CAST(COALESCE(SUM(dismissed), 0) AS BIGINT), \
     CAST(COALESCE(SUM(trial), 0) AS BIGINT), \
     CAST(COALESCE(SUM(upgraded), 0) AS BIGINT)";

/// The range filter of prompt stats.
pub const PROMPT_IN_RANGE: &str = "app_id = $1 AND live = $2 AND at >= $3 AND at < $4";

/// Whether an action of `kind` counts for the impression being updated: one in its session, for
/// its prompt and trigger (when the action names them), at or after it, with no later matching
/// impression before the action. `kind` is one of [`REFRESH_ACTIONS`]'s constants, never input.
fn action_of(kind: &str) -> String {
    format!(
        "CASE WHEN EXISTS (SELECT 1 FROM prompt_actions a WHERE a.app_id = $1 \
         AND a.session_id = $2 AND a.kind = '{kind}' \
         AND (a.prompt IS NULL OR a.prompt = prompt_impressions.prompt) \
         AND (a.trigger_key IS NULL OR a.trigger_key = prompt_impressions.trigger_key) \
         AND a.at >= prompt_impressions.at \
         AND NOT EXISTS (SELECT 1 FROM prompt_impressions j WHERE j.app_id = $1 \
             AND j.session_id = $2 AND j.prompt = prompt_impressions.prompt \
             AND j.trigger_key = prompt_impressions.trigger_key \
             AND j.at > prompt_impressions.at AND j.at <= a.at)) THEN 1 ELSE 0 END"
    )
}

/// Sets the action flags of a session's impressions from the actions recorded for it: idempotent
/// and order-independent, so a click that arrives before its impression still counts.
pub static REFRESH_ACTIONS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "UPDATE prompt_impressions SET clicked = {}, dismissed = {}, trial = {} \
         WHERE app_id = $1 AND session_id = $2",
        action_of("clicked"),
        action_of("dismissed"),
        action_of("trial"),
    )
});

/// A tally from its row.
pub fn prompt_tally((shown, clicked, dismissed, trials, upgraded): TallyRow) -> PromptTally {
    PromptTally {
        shown,
        clicked,
        dismissed,
        trials,
        upgraded,
    }
}

/// The row [`PROMPT_TALLY_COLUMNS`] selects.
pub type TallyRow = (i64, i64, i64, i64, i64);

/// One implementation for both backends, over their pools: the SQL is the same.
#[async_trait::async_trait]
impl<S> PromptStore for S
where
    S: super::backend::Pooled + super::IngestLog + Send + Sync,
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
{
    async fn record_prompt_events(
        &self,
        scope: crate::storage::Scope<'_>,
        customer_id: &str,
        events: &[crate::storage::prompts::PromptEvent],
    ) -> anyhow::Result<()> {
        let crate::storage::Scope { app_id, live } = scope;
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        apply_prompt_events(
            &mut tx,
            crate::storage::Scope::new(app_id, live),
            customer_id,
            events,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn prompt_state(
        &self,
        scope: crate::storage::Scope<'_>,
        customer_id: &str,
        since: i64,
        now: i64,
        limit: i64,
    ) -> anyhow::Result<crate::storage::prompts::PromptState> {
        let crate::storage::Scope { app_id, live } = scope;
        // Callers that need the customer's own latest events settle first
        // (`AppState::settle_for`); the widget merges what it has not sent yet.
        let impressions: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT prompt, at, trigger_key FROM (SELECT event_id, prompt, at, trigger_key \
             FROM prompt_impressions WHERE app_id = $1 AND live = $2 AND customer_id = $3 \
             AND at >= $4 ORDER BY at DESC, event_id DESC LIMIT $5) AS recent \
             ORDER BY at, event_id",
        )
        .bind(app_id)
        .bind(live)
        .bind(customer_id)
        .bind(since)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let snoozes: Vec<(String, i64)> = sqlx::query_as(
            "SELECT prompt, MAX(until_at) FROM prompt_snoozes WHERE app_id = $1 \
             AND live = $2 AND customer_id = $3 GROUP BY prompt \
             HAVING MAX(until_at) > $4 ORDER BY prompt",
        )
        .bind(app_id)
        .bind(live)
        .bind(customer_id)
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        let gate_hits: Vec<(String, i64)> = sqlx::query_as(
            "SELECT feature, COUNT(*) FROM gate_hits WHERE app_id = $1 AND live = $2 \
             AND customer_id = $3 GROUP BY feature ORDER BY feature",
        )
        .bind(app_id)
        .bind(live)
        .bind(customer_id)
        .fetch_all(self.pool())
        .await?;
        Ok(crate::storage::prompts::PromptState {
            impressions: impressions
                .into_iter()
                .map(
                    |(prompt, at, trigger_key)| holdfast_core::caps::Impression {
                        prompt,
                        at,
                        trigger_key,
                    },
                )
                .collect(),
            snoozes: snoozes
                .into_iter()
                .map(|(prompt, until)| holdfast_core::caps::Snooze { prompt, until })
                .collect(),
            gate_hits: gate_hits.into_iter().collect(),
        })
    }

    async fn attribute_upgrades(
        &self,
        scope: crate::storage::Scope<'_>,
        customer_id: &str,
    ) -> anyhow::Result<()> {
        let crate::storage::Scope { app_id, live } = scope;
        crate::storage::IngestLog::settle(self).await?;
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        attribute_prompt_upgrades(
            &mut tx,
            crate::storage::Scope::new(app_id, live),
            customer_id,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn converted_by(
        &self,
        scope: crate::storage::Scope<'_>,
        customer_id: &str,
        upgraded_at: i64,
    ) -> anyhow::Result<Option<(String, String, String, i64)>> {
        let crate::storage::Scope { app_id, live } = scope;
        Ok(sqlx::query_as(
            "SELECT session_id, prompt, trigger_key, at FROM prompt_impressions \
             WHERE app_id = $1 AND live = $2 AND customer_id = $3 AND upgraded = 1 \
             AND upgraded_at = $4 ORDER BY at DESC LIMIT 1",
        )
        .bind(app_id)
        .bind(live)
        .bind(customer_id)
        .bind(upgraded_at)
        .fetch_optional(self.pool())
        .await?)
    }

    async fn prompt_stats(
        &self,
        app_id: &str,
        r: &crate::storage::StatsRange,
    ) -> anyhow::Result<crate::storage::prompts::PromptStatsData> {
        if !crate::storage::IngestLog::settle_within(self, crate::storage::REPORT_WAIT).await {
            return Err(crate::storage::Backlogged.into());
        }
        use crate::storage::prompts::{
            PROMPT_DIMENSIONS, PROMPT_IN_RANGE, PROMPT_TALLY_COLUMNS, TallyRow, prompt_tally,
        };
        let totals: TallyRow = sqlx::query_as(&format!(
            "SELECT {PROMPT_TALLY_COLUMNS} FROM prompt_impressions WHERE {PROMPT_IN_RANGE}"
        ))
        .bind(app_id)
        .bind(r.live)
        .bind(r.from)
        .bind(r.to)
        .fetch_one(self.pool())
        .await?;
        let mut data = crate::storage::prompts::PromptStatsData {
            totals: prompt_tally(totals),
            ..Default::default()
        };
        for (name, column) in PROMPT_DIMENSIONS {
            let rows: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(&format!(
                "SELECT COALESCE({column}, 'none') AS k, {PROMPT_TALLY_COLUMNS} \
                 FROM prompt_impressions WHERE {PROMPT_IN_RANGE} GROUP BY k ORDER BY k"
            ))
            .bind(app_id)
            .bind(r.live)
            .bind(r.from)
            .bind(r.to)
            .fetch_all(self.pool())
            .await?;
            let rows = rows
                .into_iter()
                .map(|(k, a, b, c, d, e)| (k, prompt_tally((a, b, c, d, e))))
                .collect();
            data.breakdowns.push((name, rows));
        }
        Ok(data)
    }
}

/// Applies a customer's prompt events in `tx`: idempotent by event id, so the aggregator
/// and a direct call share it.
pub(super) async fn apply_prompt_events<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    scope: crate::storage::Scope<'_>,
    customer_id: &str,
    events: &[crate::storage::prompts::PromptEvent],
) -> anyhow::Result<()>
where
    DB: super::backend::Driver,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let crate::storage::Scope { app_id, live } = scope;
    use crate::storage::prompts::PromptChange;
    let mut sessions: Vec<&str> = Vec::new();
    let mut earliest_new_impression: Option<i64> = None;
    for e in events {
        let action = match &e.change {
            PromptChange::Shown(s) => {
                let inserted = DB::rows_affected(
                    &sqlx::query(
                        "INSERT INTO prompt_impressions (app_id, event_id, live, \
                     customer_id, session_id, prompt, at, trigger_key, trigger_kind, \
                     threshold, plan, variant, at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                     ON CONFLICT (app_id, event_id) DO NOTHING",
                    )
                    .bind(app_id)
                    .bind(&e.id)
                    .bind(live)
                    .bind(customer_id)
                    .bind(&e.session_id)
                    .bind(&s.prompt)
                    .bind(e.at)
                    .bind(&s.trigger_key)
                    .bind(&s.trigger_kind)
                    .bind(&s.threshold)
                    .bind(&s.plan)
                    .bind(&s.variant)
                    .bind(e.at_ms)
                    .execute(&mut **tx)
                    .await?,
                );
                if inserted == 1 {
                    earliest_new_impression =
                        Some(earliest_new_impression.map_or(e.at, |t| t.min(e.at)));
                }
                None
            }
            PromptChange::Clicked => Some("clicked"),
            PromptChange::Dismissed(snooze) => {
                if let Some(snooze) = snooze {
                    sqlx::query(
                        "INSERT INTO prompt_snoozes (app_id, event_id, live, \
                         customer_id, prompt, until_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (app_id, event_id) DO NOTHING",
                    )
                    .bind(app_id)
                    .bind(&e.id)
                    .bind(live)
                    .bind(customer_id)
                    .bind(&snooze.prompt)
                    .bind(snooze.until)
                    .execute(&mut **tx)
                    .await?;
                }
                Some("dismissed")
            }
            PromptChange::TrialStarted => Some("trial"),
            PromptChange::GateHit { feature } => {
                sqlx::query(
                    "INSERT INTO gate_hits (app_id, event_id, live, customer_id, \
                     feature, at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (app_id, event_id) DO NOTHING",
                )
                .bind(app_id)
                .bind(&e.id)
                .bind(live)
                .bind(customer_id)
                .bind(feature)
                .bind(e.at)
                .execute(&mut **tx)
                .await?;
                continue;
            }
        };
        if let Some(kind) = action {
            sqlx::query(
                "INSERT INTO prompt_actions (app_id, event_id, live, session_id, \
                 kind, at, prompt, trigger_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (app_id, event_id) DO NOTHING",
            )
            .bind(app_id)
            .bind(&e.id)
            .bind(live)
            .bind(&e.session_id)
            .bind(kind)
            .bind(e.at)
            .bind(&e.prompt)
            .bind(&e.trigger_key)
            .execute(&mut **tx)
            .await?;
        }
        if !sessions.contains(&e.session_id.as_str()) {
            sessions.push(e.session_id.as_str());
        }
    }
    for session_id in sessions {
        sqlx::query(&crate::storage::prompts::REFRESH_ACTIONS)
            .bind(app_id)
            .bind(session_id)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(since) = earliest_new_impression {
        // A late impression can take over an upgrade reported before it arrived.
        let (later_upgrades,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM lifecycle WHERE app_id = $1 AND live = $2 \
             AND customer_id = $3 AND type = 'upgraded' AND at >= $4",
        )
        .bind(app_id)
        .bind(live)
        .bind(customer_id)
        .bind(since)
        .fetch_one(&mut **tx)
        .await?;
        if later_upgrades > 0 {
            attribute_prompt_upgrades(tx, crate::storage::Scope::new(app_id, live), customer_id)
                .await?;
        }
    }
    Ok(())
}

/// Recomputes the customer's conversions from scratch: every `upgraded` lifecycle event
/// marks the latest impression at most the attribution window before it.
pub(super) async fn attribute_prompt_upgrades<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    scope: crate::storage::Scope<'_>,
    customer_id: &str,
) -> anyhow::Result<()>
where
    DB: super::backend::Driver,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let crate::storage::Scope { app_id, live } = scope;
    sqlx::query(
        "UPDATE prompt_impressions SET upgraded = 0, upgraded_at = NULL \
         WHERE app_id = $1 AND live = $2 AND customer_id = $3 AND upgraded = 1",
    )
    .bind(app_id)
    .bind(live)
    .bind(customer_id)
    .execute(&mut **tx)
    .await?;
    let upgrades: Vec<(i64,)> = sqlx::query_as(
        "SELECT at FROM lifecycle WHERE app_id = $1 AND live = $2 AND customer_id = $3 \
         AND type = 'upgraded' ORDER BY at",
    )
    .bind(app_id)
    .bind(live)
    .bind(customer_id)
    .fetch_all(&mut **tx)
    .await?;
    for (upgraded_at,) in upgrades {
        let latest: Option<(String,)> = sqlx::query_as(
            "SELECT event_id FROM prompt_impressions WHERE app_id = $1 AND live = $2 \
             AND customer_id = $3 AND at <= $4 AND at >= $5 \
             ORDER BY at DESC, at_ms DESC, event_id DESC LIMIT 1",
        )
        .bind(app_id)
        .bind(live)
        .bind(customer_id)
        .bind(upgraded_at)
        .bind(upgraded_at - crate::storage::prompts::ATTRIBUTION_WINDOW)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some((event_id,)) = latest {
            // Upgrades come in time order: the first one to convert an impression keeps it.
            sqlx::query(
                "UPDATE prompt_impressions SET upgraded = 1, \
                 upgraded_at = COALESCE(upgraded_at, $3) \
                 WHERE app_id = $1 AND event_id = $2",
            )
            .bind(app_id)
            .bind(&event_id)
            .bind(upgraded_at)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
