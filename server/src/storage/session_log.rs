//! The sessions log: cancel sessions one by one, newest first, with the survey's free text beside
//! the reason, the offer and the outcome, which is what growth teams read most.
//!
//! A read touches `sessions` only, the row per session the aggregator keeps, so a page costs the
//! same however many events its sessions had. Pages are keyset-paginated on
//! `(started_at, session_id)`, descending: each page starts strictly after the previous page's
//! last key, so paging through never repeats a session and never skips one that was there when
//! the first page was read, whatever is folded in between.
//!
//! The filters become one `WHERE` clause with numbered parameters, built once in plain Rust by
//! [`page_query`] and [`count_query`], so both backends run the same SQL; the one generic
//! implementation of [`SessionLogStore`] only binds the values ([`Arg`]) and decodes the rows.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// How a session ended, from its folded flags: a save wins over a cancellation (a save may
/// replace a recorded cancellation), a cancellation over an abandon; `open` has none of them yet.
/// The same precedence as the stats' tallies, so a filter's count equals the report's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionOutcome {
    /// Ended with an accepted offer.
    Saved,
    /// Ended with a confirmed cancellation.
    Cancelled,
    /// Closed without either.
    Abandoned,
    /// Nothing recorded yet.
    Open,
}

impl SessionOutcome {
    /// The outcome of a session row's flags.
    pub fn of(saved: bool, cancelled: bool, abandoned: bool) -> Self {
        match (saved, cancelled, abandoned) {
            (true, _, _) => SessionOutcome::Saved,
            (false, true, _) => SessionOutcome::Cancelled,
            (false, false, true) => SessionOutcome::Abandoned,
            (false, false, false) => SessionOutcome::Open,
        }
    }

    /// The name on the wire and in the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionOutcome::Saved => "saved",
            SessionOutcome::Cancelled => "cancelled",
            SessionOutcome::Abandoned => "abandoned",
            SessionOutcome::Open => "open",
        }
    }

    /// The rows with this outcome, in SQL: [`SessionOutcome::of`] as a condition.
    fn condition(self) -> &'static str {
        match self {
            SessionOutcome::Saved => "saved = 1",
            SessionOutcome::Cancelled => "saved = 0 AND cancelled = 1",
            SessionOutcome::Abandoned => "saved = 0 AND cancelled = 0 AND abandoned = 1",
            SessionOutcome::Open => "saved = 0 AND cancelled = 0 AND abandoned = 0",
        }
    }
}

/// A filter value that matches sessions without a value (no reason given, no offer shown, no
/// experiment): the key the stats' breakdowns show for them, so a breakdown's row can be opened
/// as a filter.
pub const NONE: &str = "none";

/// Which sessions a log read covers, checked by the route. Each `Some` narrows the read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Live or test data.
    pub live: bool,
    /// Sessions started at or after, Unix seconds.
    pub from: i64,
    /// Sessions started before, Unix seconds.
    pub to: i64,
    /// Text to find in the free text, the customer id or the session id, ignoring case (ASCII
    /// letters on SQLite, whose `LOWER` knows no others; every letter on PostgreSQL).
    pub search: Option<String>,
    /// The reason id, or [`NONE`].
    pub reason: Option<String>,
    /// How the session ended.
    pub outcome: Option<SessionOutcome>,
    /// The offer's kind (`discount`, `pause`, ...), or [`NONE`].
    pub offer_kind: Option<String>,
    /// The customer's plan.
    pub plan: Option<String>,
    /// `experiment:variant`, or [`NONE`].
    pub variant: Option<String>,
}

/// A session's place in the log's order, `(started_at, session_id)`: where a page ends.
pub type LogKey = (i64, String);

/// One session of the log, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLogRow {
    /// The cancel session.
    pub session_id: String,
    /// Its customer.
    pub customer_id: String,
    /// When it started, Unix seconds.
    pub started_at: i64,
    /// The customer's plan then.
    pub plan: String,
    /// The customer's MRR then.
    pub mrr_cents: i64,
    /// The customer's tenure band then (`0-30d`, ...).
    pub tenure_band: String,
    /// `experiment:variant`, if any.
    pub variant: Option<String>,
    /// The survey answer.
    pub reason: Option<String>,
    /// What the subscriber wrote with it: `None` when they wrote nothing.
    pub free_text: Option<String>,
    /// The offer shown, or the one accepted.
    pub offer_id: Option<String>,
    /// Its kind.
    pub offer_kind: Option<String>,
    /// How it ended.
    pub outcome: SessionOutcome,
    /// The audit trail lines (`crate::audit::TrailEntry`): the start's line holds the profile.
    pub trail: String,
}

/// The columns a [`LogRow`] is read from.
const LOG_COLUMNS: &str = "session_id, customer_id, started_at, plan, mrr_cents, tenure_band, \
     variant, reason, free_text, offer_id, offer_kind, saved, cancelled, abandoned, trail";

/// A row of the log's columns (`LOG_COLUMNS`), as decoded.
#[derive(Debug, sqlx::FromRow)]
pub struct LogRow {
    session_id: String,
    customer_id: String,
    started_at: i64,
    plan: String,
    mrr_cents: i64,
    tenure_band: String,
    variant: Option<String>,
    reason: Option<String>,
    free_text: Option<String>,
    offer_id: Option<String>,
    offer_kind: Option<String>,
    saved: i64,
    cancelled: i64,
    abandoned: i64,
    trail: String,
}

/// Turns a decoded row into a [`SessionLogRow`]; an answer without text (stored as `''`, see
/// `SessionFacts::free_text`) has none.
pub fn row_of(r: LogRow) -> SessionLogRow {
    SessionLogRow {
        session_id: r.session_id,
        customer_id: r.customer_id,
        started_at: r.started_at,
        plan: r.plan,
        mrr_cents: r.mrr_cents,
        tenure_band: r.tenure_band,
        variant: r.variant,
        reason: r.reason,
        free_text: r.free_text.filter(|t| !t.is_empty()),
        offer_id: r.offer_id,
        offer_kind: r.offer_kind,
        outcome: SessionOutcome::of(r.saved != 0, r.cancelled != 0, r.abandoned != 0),
        trail: r.trail,
    }
}

/// A value for one of a query's numbered parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A text value.
    Text(String),
    /// An integer.
    Int(i64),
    /// A flag (the `live` column).
    Bool(bool),
}

/// The `WHERE` clause for `filter` in `app_id`, its parameters numbered from `$1`, and their
/// values in order; with `before`, only sessions after that key in the log's order (older).
fn matching(app_id: &str, filter: &SessionFilter, before: Option<&LogKey>) -> (String, Vec<Arg>) {
    let mut args = vec![
        Arg::Text(app_id.to_string()),
        Arg::Bool(filter.live),
        Arg::Int(filter.from),
        Arg::Int(filter.to),
    ];
    let mut sql =
        String::from("app_id = $1 AND live = $2 AND started_at >= $3 AND started_at < $4");
    // Adds a value; its parameter's name, the next number.
    fn bind(args: &mut Vec<Arg>, arg: Arg) -> String {
        args.push(arg);
        format!("${}", args.len())
    }
    if let Some(search) = &filter.search {
        let p = bind(&mut args, Arg::Text(like_pattern(search)));
        sql.push_str(&format!(
            " AND (LOWER(COALESCE(free_text, '')) LIKE {p} ESCAPE '\\' \
             OR LOWER(customer_id) LIKE {p} ESCAPE '\\' OR LOWER(session_id) LIKE {p} ESCAPE '\\')"
        ));
    }
    for (column, value, nullable) in [
        ("reason", &filter.reason, true),
        ("offer_kind", &filter.offer_kind, true),
        ("plan", &filter.plan, false),
        ("variant", &filter.variant, true),
    ] {
        match value.as_deref() {
            None => {}
            Some(NONE) if nullable => sql.push_str(&format!(" AND {column} IS NULL")),
            Some(v) => {
                let p = bind(&mut args, Arg::Text(v.to_string()));
                sql.push_str(&format!(" AND {column} = {p}"));
            }
        }
    }
    if let Some(outcome) = filter.outcome {
        sql.push_str(&format!(" AND {}", outcome.condition()));
    }
    if let Some((at, session_id)) = before {
        let a = bind(&mut args, Arg::Int(*at));
        let s = bind(&mut args, Arg::Text(session_id.clone()));
        sql.push_str(&format!(
            " AND (started_at < {a} OR (started_at = {a} AND session_id < {s}))"
        ));
    }
    (sql, args)
}

/// `search` as a `LIKE` pattern that finds it anywhere: lowercased, its wildcards escaped.
fn like_pattern(search: &str) -> String {
    let mut pattern = String::from("%");
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// One page of the log: the sessions `filter` matches after `before`, newest first, at most
/// `limit`.
pub fn page_query(
    app_id: &str,
    filter: &SessionFilter,
    before: Option<&LogKey>,
    limit: i64,
) -> (String, Vec<Arg>) {
    let (condition, mut args) = matching(app_id, filter, before);
    args.push(Arg::Int(limit));
    let sql = format!(
        "SELECT {LOG_COLUMNS} FROM sessions WHERE {condition} \
         ORDER BY started_at DESC, session_id DESC LIMIT ${}",
        args.len()
    );
    (sql, args)
}

/// How many sessions `filter` matches, whatever the page.
pub fn count_query(app_id: &str, filter: &SessionFilter) -> (String, Vec<Arg>) {
    let (condition, args) = matching(app_id, filter, None);
    (
        format!("SELECT COUNT(*) FROM sessions WHERE {condition}"),
        args,
    )
}

/// The sessions log's use cases; a supertrait of [`super::Store`], so every backend has them.
/// Neither waits for the fold: the caller settles first (the route does, once per request).
#[async_trait]
pub trait SessionLogStore: Send + Sync {
    /// The sessions `filter` matches after `before` in the log's order (`started_at`, then
    /// `session_id`, both descending), at most `limit`.
    async fn session_log_page(
        &self,
        app_id: &str,
        filter: &SessionFilter,
        before: Option<&LogKey>,
        limit: i64,
    ) -> anyhow::Result<Vec<SessionLogRow>>;

    /// How many sessions `filter` matches.
    async fn session_log_count(&self, app_id: &str, filter: &SessionFilter) -> anyhow::Result<i64>;
}

/// One implementation for both backends, over their pools: the SQL is the same.
#[async_trait::async_trait]
impl<S> SessionLogStore for S
where
    S: super::backend::Pooled + Send + Sync,
    for<'c> &'c sqlx::Pool<S::Db>: sqlx::Executor<'c, Database = S::Db>,
    for<'c> &'c mut <S::Db as sqlx::Database>::Connection: sqlx::Executor<'c, Database = S::Db>,
    for<'q> <S::Db as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, S::Db>,
    for<'q> &'q str: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> i64: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> String: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    usize: sqlx::ColumnIndex<<S::Db as sqlx::Database>::Row>,
    for<'q> bool: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'r> LogRow: sqlx::FromRow<'r, <S::Db as sqlx::Database>::Row>,
{
    async fn session_log_page(
        &self,
        app_id: &str,
        filter: &crate::storage::session_log::SessionFilter,
        before: Option<&crate::storage::session_log::LogKey>,
        limit: i64,
    ) -> anyhow::Result<Vec<crate::storage::session_log::SessionLogRow>> {
        use crate::storage::session_log::{Arg, LogRow, page_query, row_of};
        let (sql, args) = page_query(app_id, filter, before, limit);
        let mut query = sqlx::query_as::<_, LogRow>(&sql);
        for arg in args {
            query = match arg {
                Arg::Text(v) => query.bind(v),
                Arg::Int(v) => query.bind(v),
                Arg::Bool(v) => query.bind(v),
            };
        }
        Ok(query
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(row_of)
            .collect())
    }

    async fn session_log_count(
        &self,
        app_id: &str,
        filter: &crate::storage::session_log::SessionFilter,
    ) -> anyhow::Result<i64> {
        use crate::storage::session_log::{Arg, count_query};
        let (sql, args) = count_query(app_id, filter);
        let mut query = sqlx::query_as::<_, (i64,)>(&sql);
        for arg in args {
            query = match arg {
                Arg::Text(v) => query.bind(v),
                Arg::Int(v) => query.bind(v),
                Arg::Bool(v) => query.bind(v),
            };
        }
        Ok(query.fetch_one(self.pool()).await?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The highest `$n` a clause names.
    fn highest_parameter(sql: &str) -> usize {
        sql.split('$')
            .skip(1)
            .filter_map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn every_numbered_parameter_has_its_value_and_no_value_is_left_over() {
        let full = SessionFilter {
            live: true,
            from: 1,
            to: 2,
            search: Some("too_pricey".into()),
            reason: Some(NONE.into()),
            outcome: Some(SessionOutcome::Open),
            offer_kind: Some("discount".into()),
            plan: Some("pro".into()),
            variant: Some("x:a".into()),
        };
        let key = (5, "s".to_string());
        for filter in [SessionFilter::default(), full] {
            for before in [None, Some(&key)] {
                let (sql, args) = page_query("app", &filter, before, 50);
                assert_eq!(highest_parameter(&sql), args.len(), "{sql}");
                let (sql, args) = count_query("app", &filter);
                assert_eq!(highest_parameter(&sql), args.len(), "{sql}");
            }
        }
    }

    #[test]
    fn a_search_is_a_lowercase_substring_whose_wildcards_match_only_themselves() {
        assert_eq!(like_pattern("Too_Pricey 100%"), "%too\\_pricey 100\\%%");
        assert_eq!(like_pattern("a\\b"), "%a\\\\b%");
    }

    #[test]
    fn a_save_outranks_a_cancellation_which_outranks_an_abandon() {
        assert_eq!(SessionOutcome::of(true, true, true), SessionOutcome::Saved);
        assert_eq!(
            SessionOutcome::of(false, true, true),
            SessionOutcome::Cancelled
        );
        assert_eq!(
            SessionOutcome::of(false, false, true),
            SessionOutcome::Abandoned
        );
        assert_eq!(
            SessionOutcome::of(false, false, false),
            SessionOutcome::Open
        );
    }
}
