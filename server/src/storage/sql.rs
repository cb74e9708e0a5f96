//! The queries, written once in the SQL that SQLite and PostgreSQL both speak: `$n` parameters,
//! `ON CONFLICT`, `CASE`, `COALESCE` and `CAST(... AS BIGINT)` around sums (PostgreSQL widens
//! `SUM(bigint)` to `numeric`), and [`Queries`], the write helpers the use cases share (the
//! fold, rollup snapshots and settlement, session upserts). What differs between the databases
//! is a `backend::Driver` item.

use super::backend::Driver;
use super::prompts::apply_prompt_events;
use super::statement::{Statement, Value};
use super::webhooks::enqueue_webhooks;

/// Recorded first exposures by `(app, live, customer)`: `(experiment, variant)` pairs.
pub type Exposed = std::collections::HashMap<(String, bool, String), Vec<(String, String)>>;

/// A session's variant label (`experiment:variant`, from the customer's assignment when the
/// event was accepted) made sticky: when the customer's first exposure to that experiment is
/// recorded, the label names the variant of that exposure, so a session is never credited to an
/// arm the customer did not see (after a rerun re-randomised the hash, say).
pub fn sticky_label(
    label: Option<String>,
    exposed: Option<&Vec<(String, String)>>,
) -> Option<String> {
    let label = label?;
    let Some((experiment, _)) = label.split_once(':') else {
        return Some(label);
    };
    match exposed.and_then(|e| e.iter().find(|(x, _)| x == experiment)) {
        Some((x, v)) => Some(format!("{x}:{v}")),
        None => Some(label),
    }
}

/// The session columns, in bind order.
pub const SESSION_COLUMNS: &str = "INSERT INTO sessions (app_id, session_id, live, customer_id, \
     started_at, week, plan, mrr_cents, tenure_band, variant, reason, offer_id, offer_kind, \
     offer_cost_cents, saved, saved_at, cancelled, abandoned, trail, free_text, offer_months, \
     interacted, closed_at) ";

/// How an incoming session row folds into the stored one: order-independent, so retries and
/// events that arrive out of order give the same row. The customer's facts (week, plan, MRR,
/// tenure) are those at the session's earliest moment; the latest survey answer (reason and free
/// text) wins; a save fixes the session's offer.
pub const SESSION_CONFLICT: &str = " ON CONFLICT (app_id, session_id) DO UPDATE SET \
     started_at = CASE WHEN excluded.started_at < sessions.started_at THEN excluded.started_at ELSE sessions.started_at END, \
     week = CASE WHEN excluded.started_at < sessions.started_at THEN excluded.week ELSE sessions.week END, \
     plan = CASE WHEN excluded.started_at < sessions.started_at THEN excluded.plan ELSE sessions.plan END, \
     mrr_cents = CASE WHEN excluded.started_at < sessions.started_at THEN excluded.mrr_cents ELSE sessions.mrr_cents END, \
     tenure_band = CASE WHEN excluded.started_at < sessions.started_at THEN excluded.tenure_band ELSE sessions.tenure_band END, \
     variant = COALESCE(sessions.variant, excluded.variant), \
     reason = COALESCE(excluded.reason, sessions.reason), \
     free_text = COALESCE(excluded.free_text, sessions.free_text), \
     offer_id = CASE WHEN sessions.saved = 1 THEN sessions.offer_id WHEN excluded.saved = 1 THEN excluded.offer_id ELSE COALESCE(excluded.offer_id, sessions.offer_id) END, \
     offer_kind = CASE WHEN sessions.saved = 1 THEN sessions.offer_kind WHEN excluded.saved = 1 THEN excluded.offer_kind ELSE COALESCE(excluded.offer_kind, sessions.offer_kind) END, \
     offer_cost_cents = CASE WHEN sessions.saved = 1 THEN sessions.offer_cost_cents WHEN excluded.saved = 1 THEN excluded.offer_cost_cents ELSE sessions.offer_cost_cents END, \
     saved = CASE WHEN excluded.saved > sessions.saved THEN excluded.saved ELSE sessions.saved END, \
     saved_at = COALESCE(sessions.saved_at, excluded.saved_at), \
     cancelled = CASE WHEN excluded.cancelled > sessions.cancelled THEN excluded.cancelled ELSE sessions.cancelled END, \
     abandoned = CASE WHEN excluded.abandoned > sessions.abandoned THEN excluded.abandoned ELSE sessions.abandoned END, \
     trail = sessions.trail || excluded.trail, \
     offer_months = CASE WHEN sessions.saved = 1 THEN sessions.offer_months WHEN excluded.saved = 1 THEN excluded.offer_months ELSE sessions.offer_months END, \
     interacted = CASE WHEN excluded.interacted > sessions.interacted THEN excluded.interacted ELSE sessions.interacted END, \
     closed_at = CASE WHEN sessions.closed_at IS NULL OR excluded.closed_at < sessions.closed_at THEN COALESCE(excluded.closed_at, sessions.closed_at) ELSE sessions.closed_at END";

/// The customers whose sessions' contributions a write may change, per `(app, live)`: their
/// whole history is read before and after the write (a customer has few sessions, and a churn
/// reaches back 90 days, a recorded cancellation's effective date months ahead).
#[derive(Debug, Default)]
pub struct Touched {
    /// Customer ids per `(app, live)`.
    pub customers: std::collections::BTreeMap<(String, bool), std::collections::BTreeSet<String>>,
}

impl Touched {
    /// The scope of these `(app, live, customer)`s.
    pub fn of<'a>(customers: impl IntoIterator<Item = (&'a str, bool, &'a str)>) -> Self {
        let mut scope = Self::default();
        for (app_id, live, customer_id) in customers {
            scope
                .customers
                .entry((app_id.to_string(), live))
                .or_default()
                .insert(customer_id.to_string());
        }
        scope
    }

    /// The per-customer lock keys (`app\ncustomer`, as the outcome store's lock), sorted, so
    /// writers that lock several customers always take them in one order.
    pub fn lock_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .customers
            .iter()
            .flat_map(|((app_id, _), customers)| {
                customers.iter().map(move |c| format!("{app_id}\n{c}"))
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// Contributions per `(app, live)`, read in a write's transaction: the sessions' to the stats
/// rollup, the exposed customers' to the experiments' rollup.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Per `(app, live)`, the stats rollup rows of the scope's sessions.
    pub sessions: std::collections::BTreeMap<
        (String, bool),
        std::collections::BTreeMap<super::rollup::RollupKey, super::rollup::Counters>,
    >,
    /// Per `(app, live)`, the experiments' rollup rows of the scope's exposed customers.
    pub arms: std::collections::BTreeMap<
        (String, bool),
        std::collections::BTreeMap<super::arms::ArmKey, super::arms::ArmSums>,
    >,
}

/// Each `(app, live)` key's rows' differences between two snapshots' maps, in key order.
pub fn differences<'a, K: Ord + Clone, V: super::rollup::Sums>(
    before: &'a std::collections::BTreeMap<(String, bool), std::collections::BTreeMap<K, V>>,
    after: &'a std::collections::BTreeMap<(String, bool), std::collections::BTreeMap<K, V>>,
) -> Vec<(&'a str, bool, K, V)> {
    use super::rollup::difference;
    let empty = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for ((app_id, live), rows) in after {
        let old = before.get(&(app_id.clone(), *live)).unwrap_or(&empty);
        for (key, d) in difference(old, rows) {
            out.push((app_id.as_str(), *live, key, d));
        }
    }
    for ((app_id, live), old) in before {
        if !after.contains_key(&(app_id.clone(), *live)) {
            for (key, d) in difference(old, &empty) {
                out.push((app_id.as_str(), *live, key, d));
            }
        }
    }
    // In key order, so two writers touching the same rows take their locks in one order.
    out.sort_unstable_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    out
}

/// The upsert that adds a difference to an experiments' rollup row.
pub fn arm_rollup_upsert() -> String {
    let add: Vec<String> = super::arms::ArmSums::COLUMNS
        .iter()
        .map(|c| format!("{c} = experiment_rollup.{c} + excluded.{c}"))
        .collect();
    format!(
        " ON CONFLICT (app_id, live, experiment, variant, hour) DO UPDATE SET {}",
        add.join(", ")
    )
}

/// The upsert that adds a difference to a rollup row.
pub fn rollup_upsert() -> String {
    use super::rollup::Counters;
    let add: Vec<String> = Counters::COLUMNS
        .iter()
        .map(|c| format!("{c} = stats_rollup.{c} + excluded.{c}"))
        .collect();
    format!(
        " ON CONFLICT (app_id, live, hour, dimension, key) DO UPDATE SET {}",
        add.join(", ")
    )
}

/// The sums of a rollup read, in `Counters::COLUMNS` order.
pub fn rollup_sums() -> String {
    super::rollup::Counters::COLUMNS
        .iter()
        .map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The write helpers every use case shares (the fold, rollup snapshots and settlement, session
/// upserts), for database `DB`: one impl block, so its sqlx bounds are written once.
pub struct Queries<DB>(std::marker::PhantomData<DB>);

impl<DB> Queries<DB>
where
    DB: Driver,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    /// A [`Statement`]'s SQL, with this database's placeholders, and its arguments.
    fn prepare(statement: Statement<'_>) -> anyhow::Result<(String, DB::Arguments<'_>)> {
        use sqlx::Arguments as _;
        let Statement {
            text,
            holes,
            values,
        } = statement;
        let mut sql = String::with_capacity(text.len() + 4 * holes.len());
        let mut args = DB::Arguments::default();
        let mut at = 0;
        for (hole, value) in holes.into_iter().zip(values) {
            sql.push_str(&text[at..hole]);
            at = hole;
            match value {
                Value::Str(v) => args.add(v),
                Value::OptStr(v) => args.add(v),
                Value::Int(v) => args.add(v),
                Value::OptInt(v) => args.add(v),
                Value::Bool(v) => args.add(v),
                Value::Real(v) => args.add(v),
            }
            .map_err(|e| anyhow::anyhow!(e))?;
            args.format_placeholder(&mut sql)?;
        }
        sql.push_str(&text[at..]);
        Ok((sql, args))
    }

    /// Runs `statement` and decodes its rows as `T`.
    pub(super) async fn fetch_all<'c, T, E>(
        statement: Statement<'_>,
        executor: E,
    ) -> anyhow::Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, DB::Row> + Send + Unpin,
        E: sqlx::Executor<'c, Database = DB>,
    {
        let (text, args) = Self::prepare(statement)?;
        Ok(sqlx::query_as_with::<DB, T, _>(&text, args)
            .fetch_all(executor)
            .await?)
    }

    /// Runs `statement` and answers its rows.
    pub(super) async fn fetch_rows<'c, E>(
        statement: Statement<'_>,
        executor: E,
    ) -> anyhow::Result<Vec<DB::Row>>
    where
        E: sqlx::Executor<'c, Database = DB>,
    {
        let (text, args) = Self::prepare(statement)?;
        Ok(sqlx::query_with::<DB, _>(&text, args)
            .fetch_all(executor)
            .await?)
    }

    /// Runs `statement` and answers how many rows it changed.
    pub(super) async fn execute<'c, E>(statement: Statement<'_>, executor: E) -> anyhow::Result<u64>
    where
        E: sqlx::Executor<'c, Database = DB>,
    {
        let (text, args) = Self::prepare(statement)?;
        Ok(DB::rows_affected(
            &sqlx::query_with::<DB, _>(&text, args)
                .execute(executor)
                .await?,
        ))
    }

    /// Folds a pass's decoded log rows (read by the backend in key order, see
    /// `aggregate::decode_rows`) in `tx` and sets aside the rows it cannot fold: those that
    /// did not decode, and those that fail on their own data. The whole pass is tried first
    /// in a savepoint; if the database refuses it for a reason that a retry would not cure,
    /// each row is folded in its own savepoint and the ones that fail are moved to
    /// `ingest_log_failed` with the error, so one bad row never stops the aggregator (and
    /// with it every read that waits for the fold). A transient error fails the pass: the
    /// aggregator retries it. The backend deletes the rows and commits. See `aggregate`.
    pub(super) async fn fold_rows(
        tx: &mut sqlx::Transaction<'_, DB>,
        decoded: crate::storage::aggregate::Decoded,
    ) -> anyhow::Result<crate::storage::aggregate::Pass> {
        use crate::storage::aggregate::{Decoded, Pass, is_transient};
        use sqlx::Connection as _;
        let Decoded {
            rows,
            max_id,
            entries,
            mut failed,
        } = decoded;
        let mut pass = Pass {
            rows,
            max_id,
            ..Pass::default()
        };
        let mut whole = (**tx).begin().await?;
        match Self::fold_entries(&mut whole, &entries).await {
            Ok(folded) => {
                whole.commit().await?;
                pass.absorb(&folded);
            }
            Err(e) if is_transient(&e) => return Err(e),
            Err(e) => {
                whole.rollback().await?;
                tracing::warn!(error = %format!("{e:#}"), rows, "a pass could not be folded; folding its rows one by one");
                for entry in entries {
                    let mut one = (**tx).begin().await?;
                    match Self::fold_entries(&mut one, std::slice::from_ref(&entry)).await {
                        Ok(folded) => {
                            one.commit().await?;
                            pass.absorb(&folded);
                        }
                        Err(e) if is_transient(&e) => return Err(e),
                        Err(e) => {
                            one.rollback().await?;
                            failed.push((
                                entry.id,
                                entry.app_id,
                                entry.live,
                                entry.received_at,
                                entry.body,
                                format!("{e:#}").replace('\0', "\\0"),
                            ));
                        }
                    }
                }
            }
        }

        pass.failed = failed.len();
        for (id, app_id, live, received_at, body, error) in &failed {
            sqlx::query(
                "INSERT INTO ingest_log_failed (id, app_id, live, received_at, body, error, \
                 failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(app_id)
            .bind(live)
            .bind(received_at)
            .bind(body)
            .bind(error)
            .bind(crate::clock::now())
            .execute(&mut **tx)
            .await?;
        }
        Ok(pass)
    }

    /// Folds decoded log rows in `tx`: stores their new events sorted by key, upserts the
    /// sessions they touch, records prompt changes and first exposures. Counts only what
    /// was stored; [`fold_rows`] fills in the rest of the pass.
    pub(super) async fn fold_entries(
        tx: &mut sqlx::Transaction<'_, DB>,
        entries: &[crate::storage::aggregate::Entry],
    ) -> anyhow::Result<crate::storage::aggregate::Pass> {
        use crate::storage::aggregate::{Pass, distinct_by_key, fold_sessions};
        let mut pass = Pass::default();

        // Events: the first occurrence of each id, in key order. Which are stored already is
        // asked first (usually none: only retries are), so the insert needs no RETURNING,
        // whose rows would all have to be copied back.
        let distinct = distinct_by_key(entries);
        let mut new = vec![true; distinct.len()];
        let mut start = 0;
        for app in distinct.chunk_by(|a, b| a.app_id == b.app_id) {
            let app_id = app.first().map_or("", |e| e.app_id);
            for ids in app.chunks(1000) {
                let mut q = Statement::new("SELECT id FROM events WHERE app_id = ");
                q.push_bind(app_id).push(" AND id IN (");
                let mut list = q.separated(", ");
                for e in ids {
                    list.push_bind(e.event.id.as_str());
                }
                q.push(")");
                let found: Vec<(String,)> = Self::fetch_all(q, &mut **tx).await?;
                if !found.is_empty() {
                    let found: std::collections::HashSet<String> =
                        found.into_iter().map(|(id,)| id).collect();
                    for (i, e) in ids.iter().enumerate() {
                        if found.contains(&e.event.id) {
                            new[start + i] = false;
                        }
                    }
                }
                start += ids.len();
            }
        }
        let new: Vec<_> = distinct
            .iter()
            .zip(new)
            .filter_map(|(e, new)| new.then_some(*e))
            .collect();
        for chunk in new.chunks(1000) {
            let mut q = Statement::new(
                "INSERT INTO events (app_id, id, live, session_id, customer_id, type, at, payload) ",
            );
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.app_id)
                    .push_bind(e.event.id.as_str())
                    .push_bind(e.live)
                    .push_bind(e.event.session_id.as_str())
                    .push_bind(e.event.customer_id.as_str())
                    .push_bind(e.event.kind.as_str())
                    .push_bind(e.event.at)
                    .push_bind(e.event.payload.as_str());
            });
            // The aggregator is the only writer of `events` (on PostgreSQL, under its lock).
            q.push(" ON CONFLICT (app_id, id) DO NOTHING");
            Self::execute(q, &mut **tx).await?;
        }
        let total: usize = entries.iter().map(|e| e.events.len()).sum();
        pass.stored = u64::try_from(new.len())?;
        pass.duplicates = u64::try_from(total.saturating_sub(new.len()))?;

        // Sessions: the new events' facts, folded in log order, one upsert per session. The
        // customers they touch (and those whose cancellation is recorded below) have their
        // rollup contributions read before and after, and the difference added.
        let sessions = fold_sessions(&new);
        let scope = crate::storage::sql::Touched::of(
            sessions
                .iter()
                .map(|(app_id, live, _, f)| (*app_id, *live, f.customer_id.as_str()))
                .chain(
                    new.iter()
                        .filter(|e| e.event.outcome.is_some())
                        .map(|e| (e.app_id, e.live, e.event.customer_id.as_str())),
                )
                .chain(
                    entries
                        .iter()
                        .filter(|e| !e.exposures.is_empty())
                        .map(|e| (e.app_id.as_str(), e.live, e.customer_id.as_str())),
                ),
        );
        let before = Self::snapshot(tx, &scope).await?;
        Self::upsert_sessions(tx, &sessions).await?;

        // Outcomes that waited in the outbox: recorded unless the session has one, many per
        // statement; the sessions they record are marked, and their webhooks enqueued per app.
        let pending: Vec<_> = new
            .iter()
            .filter_map(|e| e.event.outcome.as_ref().map(|o| (e, o)))
            .collect();
        for chunk in pending.chunks(300) {
            let mut q = Statement::new(
                "INSERT INTO outcomes (app_id, session_id, live, customer_id, outcome, profile, \
                 reason, effective_date, receipt, recorded_at, updated_at, response, history) ",
            );
            q.push_values(chunk, |mut row, (e, o)| {
                row.push_bind(e.app_id)
                    .push_bind(e.event.session_id.as_str())
                    .push_bind(e.live)
                    .push_bind(e.event.customer_id.as_str())
                    .push_bind(o.outcome.as_str())
                    .push_bind(o.profile.as_deref())
                    .push_bind(o.reason.as_deref())
                    .push_bind(o.effective_date.as_deref())
                    .push_bind(o.receipt.as_deref())
                    .push_bind(o.at)
                    .push_bind(o.at)
                    .push_bind(o.response.as_str())
                    .push_bind("[]");
            });
            q.push(" ON CONFLICT (app_id, session_id) DO NOTHING RETURNING app_id, session_id");
            let recorded: Vec<(String, String)> = Self::fetch_all(q, &mut **tx).await?;
            if recorded.is_empty() {
                continue;
            }
            let recorded: std::collections::HashSet<(String, String)> =
                recorded.into_iter().collect();
            // A recorded cancellation marks its session; an abandon is already in its facts.
            let mut by_session: std::collections::BTreeMap<&str, Vec<&str>> =
                std::collections::BTreeMap::new();
            for (e, o) in chunk {
                if o.outcome == "cancelled"
                    && recorded.contains(&(e.app_id.to_string(), e.event.session_id.clone()))
                {
                    by_session
                        .entry(e.app_id)
                        .or_default()
                        .push(&e.event.session_id);
                }
            }
            for (app_id, sessions) in by_session {
                let mut marked =
                    Statement::new("UPDATE sessions SET cancelled = 1 WHERE app_id = ");
                marked.push_bind(app_id).push(" AND session_id IN (");
                let mut list = marked.separated(", ");
                for session_id in sessions {
                    list.push_bind(session_id);
                }
                marked.push(")");
                Self::execute(marked, &mut **tx).await?;
            }
            let mut by_app: std::collections::BTreeMap<
                (&str, bool),
                Vec<crate::storage::webhooks::NewMessage>,
            > = std::collections::BTreeMap::new();
            for (e, o) in chunk {
                if !recorded.contains(&(e.app_id.to_string(), e.event.session_id.clone())) {
                    continue;
                }
                if let Some((kind, payload)) = &o.webhook {
                    by_app.entry((e.app_id, e.live)).or_default().push(
                        crate::storage::webhooks::NewMessage {
                            kind: kind.clone(),
                            payload: payload.clone(),
                        },
                    );
                }
            }
            let now = crate::clock::now();
            for ((app_id, live), messages) in &by_app {
                enqueue_webhooks(
                    tx,
                    crate::storage::Scope::new(app_id, *live),
                    None,
                    messages,
                    now,
                )
                .await?;
            }
        }

        // First exposures: the earliest batch wins, as sticky assignment requires. Written
        // after the sessions (whose labels read the exposures recorded before this pass)
        // and inside the scope, so the experiments' rollup counts them.
        let exposures: Vec<_> = entries
            .iter()
            .flat_map(|e| {
                e.exposures
                    .iter()
                    .map(move |(experiment, variant)| (e, experiment, variant))
            })
            .collect();
        for chunk in exposures.chunks(500) {
            let mut q = Statement::new(
                "INSERT INTO exposures (app_id, live, customer_id, experiment, variant, at) ",
            );
            q.push_values(chunk, |mut row, (e, experiment, variant)| {
                row.push_bind(&e.app_id)
                    .push_bind(e.live)
                    .push_bind(&e.customer_id)
                    .push_bind(*experiment)
                    .push_bind(*variant)
                    .push_bind(e.received_at);
            });
            q.push(" ON CONFLICT (app_id, live, customer_id, experiment) DO NOTHING");
            Self::execute(q, &mut **tx).await?;
        }

        Self::settle_rollups(tx, &scope, before).await?;

        // Prompt state: idempotent by event id on its own.
        for e in entries.iter().filter(|e| !e.prompt_events.is_empty()) {
            apply_prompt_events(
                tx,
                crate::storage::Scope::new(&e.app_id, e.live),
                &e.customer_id,
                &e.prompt_events,
            )
            .await?;
        }
        Ok(pass)
    }

    /// The contributions of the scope's customers, after taking their locks (PostgreSQL;
    /// SQLite's writer is alone): what `settle_rollups` compares with.
    pub(super) async fn snapshot(
        tx: &mut sqlx::Transaction<'_, DB>,
        scope: &crate::storage::sql::Touched,
    ) -> anyhow::Result<crate::storage::sql::Snapshot> {
        DB::lock_customers(&mut **tx, &scope.lock_keys()).await?;
        Self::contributions_of(tx, scope).await
    }

    pub(super) async fn contributions_of(
        tx: &mut sqlx::Transaction<'_, DB>,
        scope: &crate::storage::sql::Touched,
    ) -> anyhow::Result<crate::storage::sql::Snapshot> {
        let mut out = crate::storage::sql::Snapshot::default();
        for ((app_id, live), customers) in &scope.customers {
            let customers: Vec<&str> = customers.iter().map(String::as_str).collect();
            let sessions = out.sessions.entry((app_id.clone(), *live)).or_default();
            let arms = out.arms.entry((app_id.clone(), *live)).or_default();
            for chunk in customers.chunks(400) {
                let (rows, changes) = Self::customer_facts(
                    &mut **tx,
                    crate::storage::Scope::new(app_id, *live),
                    chunk,
                    None,
                )
                .await?;
                // Chunks of customers share hours: their contributions add up.
                for (key, c) in crate::storage::rollup::contributions(&rows, &rows, &changes) {
                    sessions.entry(key).or_default().add(&c);
                }
                for (key, c) in Self::arm_contributions(
                    &mut **tx,
                    crate::storage::Scope::new(app_id, *live),
                    chunk,
                    &rows,
                )
                .await?
                {
                    arms.entry(key).or_default().add(&c);
                }
            }
        }
        Ok(out)
    }

    /// The experiments' rollup rows of the exposed customers among `customers`, whose
    /// sessions are `sessions`: nothing more is read when none of them is exposed.
    pub(super) async fn arm_contributions(
        conn: &mut <DB as sqlx::Database>::Connection,
        scope: crate::storage::Scope<'_>,
        customers: &[&str],
        sessions: &[crate::storage::rollup::SessionRow],
    ) -> anyhow::Result<
        std::collections::BTreeMap<crate::storage::arms::ArmKey, crate::storage::arms::ArmSums>,
    > {
        let crate::storage::Scope { app_id, live } = scope;
        if customers.is_empty() {
            return Ok(std::collections::BTreeMap::new());
        }
        fn in_list<'x>(
            sql: &str,
            app_id: &'x str,
            live: bool,
            customers: &[&'x str],
        ) -> Statement<'x> {
            let mut q = Statement::new(sql);
            q.push_bind(app_id).push(" AND live = ").push_bind(live);
            q.push(" AND customer_id IN (");
            let mut list = q.separated(", ");
            for c in customers {
                list.push_bind(*c);
            }
            q.push(")");
            q
        }
        let exposures: Vec<crate::storage::arms::ExposureRow> = Self::fetch_all(
            in_list(
                "SELECT customer_id, experiment, variant, at FROM exposures WHERE app_id = ",
                app_id,
                live,
                customers,
            ),
            &mut *conn,
        )
        .await?;
        if exposures.is_empty() {
            return Ok(std::collections::BTreeMap::new());
        }
        let mut exposed: Vec<&str> = exposures.iter().map(|e| e.0.as_str()).collect();
        exposed.sort_unstable();
        exposed.dedup();
        let outcomes: Vec<(String, String, Option<String>, i64)> = Self::fetch_all(
            in_list(
                "SELECT customer_id, outcome, effective_date, recorded_at FROM outcomes \
             WHERE app_id = ",
                app_id,
                live,
                &exposed,
            ),
            &mut *conn,
        )
        .await?;
        let lifecycle: Vec<(String, String, i64)> = Self::fetch_all(
            in_list(
                "SELECT customer_id, type, at FROM lifecycle WHERE app_id = ",
                app_id,
                live,
                &exposed,
            ),
            &mut *conn,
        )
        .await?;
        Ok(crate::storage::arms::contributions(
            &exposures, &outcomes, &lifecycle, sessions,
        ))
    }

    /// Adds to the rollups what changed since `before` for the scope's customers.
    pub(super) async fn settle_rollups(
        tx: &mut sqlx::Transaction<'_, DB>,
        scope: &crate::storage::sql::Touched,
        before: crate::storage::sql::Snapshot,
    ) -> anyhow::Result<()> {
        let after = Self::contributions_of(tx, scope).await?;
        let changes = crate::storage::sql::differences(&before.sessions, &after.sessions);
        for chunk in changes.chunks(200) {
            let mut q = Statement::new(format!(
                "INSERT INTO stats_rollup (app_id, live, hour, dimension, key, {}) ",
                crate::storage::rollup::Counters::COLUMNS.join(", ")
            ));
            q.push_values(
                chunk,
                |mut row, (app_id, live, (hour, dimension, key), d)| {
                    row.push_bind(*app_id)
                        .push_bind(*live)
                        .push_bind(*hour)
                        .push_bind(*dimension)
                        .push_bind(key.as_str());
                    for value in d.to_array() {
                        row.push_bind(value);
                    }
                },
            );
            q.push(crate::storage::sql::rollup_upsert());
            Self::execute(q, &mut **tx).await?;
        }
        let changes = crate::storage::sql::differences(&before.arms, &after.arms);
        for chunk in changes.chunks(200) {
            let mut q = Statement::new(format!(
                "INSERT INTO experiment_rollup (app_id, live, experiment, variant, hour, {}) ",
                crate::storage::arms::ArmSums::COLUMNS.join(", ")
            ));
            q.push_values(
                chunk,
                |mut row, (app_id, live, (experiment, variant, hour), d)| {
                    row.push_bind(*app_id)
                        .push_bind(*live)
                        .push_bind(experiment.as_str())
                        .push_bind(variant.as_str())
                        .push_bind(*hour);
                    for value in d.integers() {
                        row.push_bind(value);
                    }
                    row.push_bind(d.revenue_squares);
                },
            );
            q.push(crate::storage::sql::arm_rollup_upsert());
            Self::execute(q, &mut **tx).await?;
        }
        Ok(())
    }

    /// The sessions of `customers` (started within `range` when given, else all) and their
    /// churn history (recorded cancellations and lifecycle changes), sorted.
    pub(super) async fn customer_facts(
        conn: &mut <DB as sqlx::Database>::Connection,
        scope: crate::storage::Scope<'_>,
        customers: &[&str],
        range: Option<(i64, i64)>,
    ) -> anyhow::Result<(
        Vec<crate::storage::rollup::SessionRow>,
        std::collections::HashMap<String, Vec<crate::storage::rollup::Change>>,
    )> {
        let crate::storage::Scope { app_id, live } = scope;
        use crate::storage::rollup::{
            SESSION_ROW_COLUMNS, SessionRow, SessionTuple, cancellation_change, lifecycle_change,
        };
        let mut rows = Vec::new();
        let mut changes: std::collections::HashMap<String, Vec<_>> =
            std::collections::HashMap::new();
        if customers.is_empty() {
            return Ok((rows, changes));
        }
        let mut q = Statement::new(format!(
            "SELECT {SESSION_ROW_COLUMNS} FROM sessions WHERE app_id = "
        ));
        q.push_bind(app_id).push(" AND live = ").push_bind(live);
        if let Some((lo, hi)) = range {
            q.push(" AND started_at >= ").push_bind(lo);
            q.push(" AND started_at <= ").push_bind(hi);
        }
        q.push(" AND customer_id IN (");
        let mut list = q.separated(", ");
        for c in customers {
            list.push_bind(*c);
        }
        q.push(")");
        let found: Vec<SessionTuple> = Self::fetch_all(q, &mut *conn).await?;
        rows.extend(found.into_iter().map(SessionRow::from_tuple));

        let mut q = Statement::new(
            "SELECT customer_id, effective_date, recorded_at FROM outcomes WHERE app_id = ",
        );
        q.push_bind(app_id).push(" AND live = ").push_bind(live);
        q.push(" AND outcome = 'cancelled' AND customer_id IN (");
        let mut list = q.separated(", ");
        for c in customers {
            list.push_bind(*c);
        }
        q.push(")");
        let cancelled: Vec<(String, Option<String>, i64)> = Self::fetch_all(q, &mut *conn).await?;
        for (customer_id, effective_date, recorded_at) in cancelled {
            if let Some(change) = cancellation_change(effective_date.as_deref(), recorded_at) {
                changes.entry(customer_id).or_default().push(change);
            }
        }
        let mut q = Statement::new("SELECT customer_id, type, at FROM lifecycle WHERE app_id = ");
        q.push_bind(app_id).push(" AND live = ").push_bind(live);
        q.push(" AND customer_id IN (");
        let mut list = q.separated(", ");
        for c in customers {
            list.push_bind(*c);
        }
        q.push(")");
        let lifecycle: Vec<(String, String, i64)> = Self::fetch_all(q, &mut *conn).await?;
        for (customer_id, kind, at) in lifecycle {
            if let Some(change) = lifecycle_change(&kind, at) {
                changes.entry(customer_id).or_default().push(change);
            }
        }
        for list in changes.values_mut() {
            list.sort_unstable();
        }
        Ok((rows, changes))
    }

    /// Adds the sessions started in `ranges` to a report, each judged against its
    /// customer's neighbouring sessions and churn history, with its own age at `now`.
    pub(super) async fn tally_range(
        pool: &sqlx::Pool<DB>,
        scope: crate::storage::Scope<'_>,
        ranges: &[(i64, i64)],
        now: i64,
        into: &mut crate::storage::rollup::Tallies,
    ) -> anyhow::Result<()> {
        let crate::storage::Scope { app_id, live } = scope;
        use crate::storage::rollup::{
            DUPLICATE_WINDOW, SESSION_ROW_COLUMNS, SessionRow, SessionTuple, tally_sessions,
        };
        let mut conn = pool.acquire().await?;
        let mut rows: Vec<SessionRow> = Vec::new();
        for (from, to) in ranges.iter().filter(|(from, to)| from < to) {
            let found: Vec<SessionTuple> = sqlx::query_as(&format!(
                "SELECT {SESSION_ROW_COLUMNS} FROM sessions WHERE app_id = $1 AND live = $2 \
                 AND started_at >= $3 AND started_at < $4"
            ))
            .bind(app_id)
            .bind(live)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *conn)
            .await?;
            rows.extend(found.into_iter().map(SessionRow::from_tuple));
        }
        let (Some(lo), Some(hi)) = (
            rows.iter().map(|r| r.started_at).min(),
            rows.iter().map(|r| r.started_at).max(),
        ) else {
            return Ok(());
        };
        rows.sort_unstable_by(|a, b| a.customer_id.cmp(&b.customer_id));
        for group in rows
            .chunk_by(|a, b| a.customer_id == b.customer_id)
            .collect::<Vec<_>>()
            .chunks(400)
        {
            let customers: Vec<&str> = group.iter().map(|g| g[0].customer_id.as_str()).collect();
            let (all, changes) = Self::customer_facts(
                &mut *conn,
                crate::storage::Scope::new(app_id, live),
                &customers,
                Some((lo, hi + DUPLICATE_WINDOW)),
            )
            .await?;
            let mine: Vec<SessionRow> = group.iter().flat_map(|g| g.iter().cloned()).collect();
            tally_sessions(&mine, &all, &changes, now, into);
        }
        Ok(())
    }

    /// Builds the rollups from the stored sessions and exposures once (the first start
    /// after a migration that added or reset them): in one transaction, before the
    /// aggregator starts.
    pub(super) async fn build_rollups_if_missing(pool: &sqlx::Pool<DB>) -> anyhow::Result<()> {
        let mut tx = pool.begin_with(DB::BEGIN).await?;
        let marked = DB::rows_affected(
            &sqlx::query(
                "INSERT INTO stats_rollup_built (id, built_at) VALUES (1, $1) \
             ON CONFLICT (id) DO NOTHING",
            )
            .bind(crate::clock::now())
            .execute(&mut *tx)
            .await?,
        );
        if marked == 0 {
            tx.commit().await?;
            return Ok(());
        }
        sqlx::query("DELETE FROM stats_rollup")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM experiment_rollup")
            .execute(&mut *tx)
            .await?;
        let customers: Vec<(String, bool, String)> = sqlx::query_as(
            "SELECT app_id, live, customer_id FROM sessions \
             UNION SELECT app_id, live, customer_id FROM exposures ORDER BY 1, 2, 3",
        )
        .fetch_all(&mut *tx)
        .await?;
        for chunk in customers.chunks(2000) {
            let scope = crate::storage::sql::Touched::of(
                chunk.iter().map(|(a, l, c)| (a.as_str(), *l, c.as_str())),
            );
            Self::settle_rollups(&mut tx, &scope, crate::storage::sql::Snapshot::default()).await?;
        }
        tx.commit().await?;
        if !customers.is_empty() {
            tracing::info!(
                customers = customers.len(),
                "built the stats rollups from the stored sessions"
            );
        }
        Ok(())
    }

    /// The recorded first exposures of the customers of `chunk` whose sessions carry a
    /// variant label: `(app, live, customer)` to `(experiment, variant)` pairs.
    pub(super) async fn sticky_variants(
        tx: &mut sqlx::Transaction<'_, DB>,
        chunk: &[(&str, bool, &str, crate::storage::SessionFacts)],
    ) -> anyhow::Result<crate::storage::sql::Exposed> {
        let mut customers: Vec<(&str, bool, &str)> = chunk
            .iter()
            .filter(|(_, _, _, f)| f.variant.is_some())
            .map(|(a, l, _, f)| (*a, *l, f.customer_id.as_str()))
            .collect();
        customers.sort_unstable();
        customers.dedup();
        let mut found = crate::storage::sql::Exposed::new();
        if customers.is_empty() {
            return Ok(found);
        }
        let mut q = Statement::new(
            "SELECT app_id, live, customer_id, experiment, variant FROM exposures \
             WHERE (app_id, live, customer_id) IN (",
        );
        q.push_values(customers, |mut row, (a, l, c)| {
            row.push_bind(a).push_bind(l).push_bind(c);
        });
        q.push(")");
        let rows: Vec<(String, bool, String, String, String)> =
            Self::fetch_all(q, &mut **tx).await?;
        for (a, l, c, experiment, variant) in rows {
            found
                .entry((a, l, c))
                .or_default()
                .push((experiment, variant));
        }
        Ok(found)
    }

    pub(super) async fn upsert_session(
        tx: &mut sqlx::Transaction<'_, DB>,
        scope: crate::storage::Scope<'_>,
        session_id: &str,
        f: &crate::storage::SessionFacts,
    ) -> anyhow::Result<()> {
        let crate::storage::Scope { app_id, live } = scope;
        Self::upsert_sessions(tx, &[(app_id, live, session_id, f.clone())]).await
    }

    pub(super) async fn upsert_sessions(
        tx: &mut sqlx::Transaction<'_, DB>,
        sessions: &[(&str, bool, &str, crate::storage::SessionFacts)],
    ) -> anyhow::Result<()> {
        for chunk in sessions.chunks(500) {
            let sticky = Self::sticky_variants(tx, chunk).await?;
            let relabelled: Vec<_>;
            let chunk = if sticky.is_empty() {
                chunk
            } else {
                relabelled = chunk
                    .iter()
                    .map(|(app_id, live, session_id, f)| {
                        let mut f = f.clone();
                        f.variant = crate::storage::sql::sticky_label(
                            f.variant.take(),
                            sticky.get(&(app_id.to_string(), *live, f.customer_id.clone())),
                        );
                        (*app_id, *live, *session_id, f)
                    })
                    .collect();
                &relabelled[..]
            };
            let mut q = Statement::new(crate::storage::sql::SESSION_COLUMNS);
            q.push_values(chunk, |mut row, (app_id, live, session_id, f)| {
                row.push_bind(*app_id)
                    .push_bind(*session_id)
                    .push_bind(*live)
                    .push_bind(&f.customer_id)
                    .push_bind(f.started_at)
                    .push_bind(&f.week)
                    .push_bind(&f.plan)
                    .push_bind(f.mrr_cents)
                    .push_bind(&f.tenure_band)
                    .push_bind(&f.variant)
                    .push_bind(&f.reason)
                    .push_bind(&f.offer_id)
                    .push_bind(&f.offer_kind)
                    .push_bind(f.offer_cost_cents)
                    .push_bind(i64::from(f.saved))
                    .push_bind(f.saved_at)
                    .push_bind(i64::from(f.cancelled))
                    .push_bind(i64::from(f.abandoned))
                    .push_bind(&f.trail)
                    .push_bind(&f.free_text)
                    .push_bind(f.offer_months)
                    .push_bind(i64::from(f.interacted))
                    .push_bind(f.closed_at);
            });
            q.push(crate::storage::sql::SESSION_CONFLICT);
            Self::execute(q, &mut **tx).await?;
        }
        Ok(())
    }
}
