//! The per-session rules of `../shared/METRICS.md`, and the hourly rollups that let a stats report
//! read rows in proportion to hours times dimensions instead of sessions.
//!
//! Every number a report shows is a sum over sessions of what one session contributes. What a
//! session contributes ([`Counters`]) depends only on stored facts: the session row, the
//! customer's other sessions opened within [`DUPLICATE_WINDOW`] after it, and the customer's churn
//! history ([`Change`]s: recorded cancellations at their effective date, `churned`, `resumed`
//! and `upgraded` lifecycle events). What depends on the clock (a session still `pending` after
//! less than [`PENDING_FOR`]; retention not yet measurable for a session younger than its
//! window) is decided when the report is read, by [`Tally::add`] with the session's [`Age`].
//!
//! So the rollup table keeps, per `(app, mode, hour, dimension, key)`, the sum of [`Counters`] of
//! the sessions started in that hour; every write that can change a session's contribution (the
//! fold of events, a recorded outcome, a lifecycle event) reads the contributions of the
//! customers it touches before and after the write, in the same transaction, and adds the
//! difference ([`contributions`]). A report sums the hours that lie entirely on one side of each
//! clock cut from the rollup, and computes the few hours a cut or a range edge falls in from the
//! sessions themselves, with the same functions: so both paths agree by construction, and a
//! property test checks that they do.
//!
//! The rules:
//! - A **bounce** is a flow closed within [`BOUNCE_SECONDS`] of its start with no step after
//!   `flow_started` (no reason, offer or outcome): reported as `bounces`, never a session.
//! - A **duplicate** is a session of a customer who opened another (non-bounce) session within
//!   [`DUPLICATE_WINDOW`] after it: the reopened flow continues the earlier one, so the group
//!   counts once, as its latest session (whose outcome is the group's last word).
//! - The **outcome** of a counted session is exactly one of saved, cancelled, abandoned (closed,
//!   or open for [`PENDING_FOR`]) or pending (open, younger than that).
//! - **Retained at N days**: no churn in force N days after the session started, where a churn is
//!   undone by a later `resumed` or `upgraded` (the experiments' `retained_30d` rule, per
//!   session: [`churned_at`]).
//! - **Net revenue kept (90 days)**: MRR times the months still subscribed within 90 days after
//!   the session, less the part of a saved session's offer cost that falls inside those months
//!   (the cost accrues evenly over the offer's term), so it is never negative for an offer that
//!   gives away at most the MRR (a pause).

use std::collections::{BTreeMap, HashMap};

use holdfast_core::calendar::days_from_civil;
use holdfast_core::customer::DAY;

/// A flow closed this soon after it started, with no step, is a bounce.
pub const BOUNCE_SECONDS: i64 = 5;
/// Sessions of one customer opened within this of each other count once.
pub const DUPLICATE_WINDOW: i64 = 30 * 60;
/// An open session is pending this long, then abandoned (as the stale-session sweeper records).
pub const PENDING_FOR: i64 = DAY;
/// The retention horizons, in days.
pub const HORIZONS: [i64; 3] = [30, 60, 90];
/// A month, for net revenue: 30 days.
pub const MONTH: i64 = 30 * DAY;
/// The rollup's time bucket: an hour.
pub const BUCKET: i64 = 3600;
/// The dimension of the totals row in the rollup (its key is empty).
pub const TOTAL: &str = "total";

/// The hour a time falls in.
pub fn bucket_of(at: i64) -> i64 {
    at.div_euclid(BUCKET)
}

/// The first second of a `YYYY-MM-DD` day, UTC; `None` unless it reads as a date (the month
/// within 1 to 12, the day within 1 to 31). The arithmetic is core's calendar.
pub fn day_start(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m as u32, d as u32) * DAY)
}

/// A change of a customer's subscription: `(when, churned)`; `false` undoes an earlier churn.
pub type Change = (i64, bool);

/// A recorded cancellation's churn: the first second of its effective day, not before it was
/// recorded.
pub fn cancellation_change(effective_date: Option<&str>, recorded_at: i64) -> Option<Change> {
    let day = day_start(effective_date?)?;
    Some((day.max(recorded_at), true))
}

/// A lifecycle event's change: `churned` churns, `resumed` and `upgraded` undo a churn.
pub fn lifecycle_change(kind: &str, at: i64) -> Option<Change> {
    match kind {
        "churned" => Some((at, true)),
        "resumed" | "upgraded" => Some((at, false)),
        _ => None,
    }
}

/// When the customer churned for good as of `until`, counting changes from `since` on: the last
/// change in `[since, until]` decides (a churn, or its undoing). `changes` sorted by time.
pub fn churned_at(changes: &[Change], since: i64, until: i64) -> Option<i64> {
    let mut churned = None;
    for &(when, churn) in changes {
        if when < since {
            continue;
        }
        if when > until {
            break;
        }
        churned = churn.then_some(when);
    }
    churned
}

/// A session row as the stats read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The session.
    pub session_id: String,
    /// Its customer.
    pub customer_id: String,
    /// When it started.
    pub started_at: i64,
    /// Monday of its week.
    pub week: String,
    /// The customer's plan then.
    pub plan: String,
    /// The customer's MRR then.
    pub mrr_cents: i64,
    /// Tenure band then.
    pub tenure_band: String,
    /// `experiment:variant`, if any.
    pub variant: Option<String>,
    /// The survey answer.
    pub reason: Option<String>,
    /// The offer's kind (accepted, or else the latest shown).
    pub offer_kind: Option<String>,
    /// A save's offer cost over its whole term.
    pub offer_cost_cents: i64,
    /// The offer's term in months (0: a one-off).
    pub offer_months: i64,
    /// Saved.
    pub saved: bool,
    /// Cancelled.
    pub cancelled: bool,
    /// Closed without an outcome.
    pub abandoned: bool,
    /// Some step after `flow_started` happened.
    pub interacted: bool,
    /// When the flow was closed, if it was.
    pub closed_at: Option<i64>,
}

/// The columns a [`SessionRow`] is read from, in order (the four flags in one number, as sqlx
/// decodes rows of up to 16 columns).
pub const SESSION_ROW_COLUMNS: &str = "session_id, customer_id, started_at, week, plan, mrr_cents, \
     tenure_band, variant, reason, offer_kind, offer_cost_cents, offer_months, \
     saved + 2 * cancelled + 4 * abandoned + 8 * interacted, closed_at";

/// A row of [`SESSION_ROW_COLUMNS`].
pub type SessionTuple = (
    String,
    String,
    i64,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    Option<i64>,
);

impl SessionRow {
    /// From the decoded columns.
    pub fn from_tuple(
        (
            session_id,
            customer_id,
            started_at,
            week,
            plan,
            mrr_cents,
            tenure_band,
            variant,
            reason,
            offer_kind,
            offer_cost_cents,
            offer_months,
            flags,
            closed_at,
        ): SessionTuple,
    ) -> Self {
        Self {
            session_id,
            customer_id,
            started_at,
            week,
            plan,
            mrr_cents,
            tenure_band,
            variant,
            reason,
            offer_kind,
            offer_cost_cents,
            offer_months,
            saved: flags & 1 != 0,
            cancelled: flags & 2 != 0,
            abandoned: flags & 4 != 0,
            interacted: flags & 8 != 0,
            closed_at,
        }
    }

    /// A flow closed within [`BOUNCE_SECONDS`] with no step after `flow_started`.
    pub fn is_bounce(&self) -> bool {
        !self.saved
            && !self.cancelled
            && !self.interacted
            && self
                .closed_at
                .is_some_and(|closed| closed - self.started_at <= BOUNCE_SECONDS)
    }

    /// Whether `other` (of the same customer) was opened after this one and within
    /// [`DUPLICATE_WINDOW`]: ordered by start, then by session id.
    fn reopened_by(&self, other: &SessionRow) -> bool {
        (other.started_at, other.session_id.as_str()) > (self.started_at, self.session_id.as_str())
            && other.started_at - self.started_at <= DUPLICATE_WINDOW
    }

    /// The key of each dimension, `none` when absent.
    fn keys(&self) -> [(&'static str, &str); 7] {
        [
            (TOTAL, ""),
            ("reason", self.reason.as_deref().unwrap_or("none")),
            ("offer_kind", self.offer_kind.as_deref().unwrap_or("none")),
            ("plan", &self.plan),
            ("tenure_band", &self.tenure_band),
            ("variant", self.variant.as_deref().unwrap_or("none")),
            ("week", &self.week),
        ]
    }
}

/// What one session contributes, independent of the clock; summed per rollup row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Counted sessions (not bounces, not duplicates).
    pub sessions: i64,
    /// Bounces.
    pub bounces: i64,
    /// Duplicates (reopened within the window).
    pub duplicates: i64,
    /// Saved.
    pub saved: i64,
    /// Cancelled.
    pub cancelled: i64,
    /// Closed without an outcome.
    pub abandoned: i64,
    /// Still open: pending or, after [`PENDING_FOR`], abandoned.
    pub open: i64,
    /// MRR of saved sessions.
    pub saved_mrr_cents: i64,
    /// Offer cost of saved sessions, over the offers' whole terms.
    pub offer_cost_cents: i64,
    /// Sessions not churned 30, 60 and 90 days after they started (as far as known).
    pub retained: [i64; 3],
    /// Of saved sessions, the same.
    pub saves_retained: [i64; 3],
    /// Net revenue kept over the 90 days after the session.
    pub net_revenue_90d_cents: i64,
}

impl Counters {
    /// The column names in the rollup table, in the order of [`Counters::to_array`].
    pub const COLUMNS: [&'static str; 16] = [
        "sessions",
        "bounces",
        "duplicates",
        "saved",
        "cancelled",
        "abandoned",
        "open",
        "saved_mrr_cents",
        "offer_cost_cents",
        "retained_30",
        "retained_60",
        "retained_90",
        "saves_retained_30",
        "saves_retained_60",
        "saves_retained_90",
        "net_revenue_90d_cents",
    ];

    /// The counters in [`Counters::COLUMNS`] order.
    pub fn to_array(&self) -> [i64; 16] {
        [
            self.sessions,
            self.bounces,
            self.duplicates,
            self.saved,
            self.cancelled,
            self.abandoned,
            self.open,
            self.saved_mrr_cents,
            self.offer_cost_cents,
            self.retained[0],
            self.retained[1],
            self.retained[2],
            self.saves_retained[0],
            self.saves_retained[1],
            self.saves_retained[2],
            self.net_revenue_90d_cents,
        ]
    }

    /// From [`Counters::COLUMNS`] order.
    pub fn from_array(a: [i64; 16]) -> Self {
        Self {
            sessions: a[0],
            bounces: a[1],
            duplicates: a[2],
            saved: a[3],
            cancelled: a[4],
            abandoned: a[5],
            open: a[6],
            saved_mrr_cents: a[7],
            offer_cost_cents: a[8],
            retained: [a[9], a[10], a[11]],
            saves_retained: [a[12], a[13], a[14]],
            net_revenue_90d_cents: a[15],
        }
    }

    fn combine(&self, other: &Self, sign: i64) -> Self {
        let (a, b) = (self.to_array(), other.to_array());
        Self::from_array(std::array::from_fn(|i| a[i] + sign * b[i]))
    }

    /// Adds `other` to these counters.
    pub fn add(&mut self, other: &Self) {
        *self = self.combine(other, 1);
    }

    /// Whether every counter is zero.
    pub fn is_zero(&self) -> bool {
        self.to_array().iter().all(|c| *c == 0)
    }
}

/// What a session contributes, given the customer's other sessions (any order, itself included
/// or not) and churn history (sorted).
pub fn session_counters(
    row: &SessionRow,
    neighbours: &[&SessionRow],
    changes: &[Change],
) -> Counters {
    if row.is_bounce() {
        return Counters {
            bounces: 1,
            ..Counters::default()
        };
    }
    if neighbours
        .iter()
        .any(|n| row.reopened_by(n) && !n.is_bounce())
    {
        return Counters {
            duplicates: 1,
            ..Counters::default()
        };
    }
    let start = row.started_at;
    let retained =
        HORIZONS.map(|days| i64::from(churned_at(changes, start, start + days * DAY).is_none()));
    let horizon = start + 3 * MONTH;
    let end = churned_at(changes, start, horizon).map_or(horizon, |churn| churn.min(horizon));
    let months = (end - start).max(0) as f64 / MONTH as f64;
    let cost_inside = if row.saved {
        let term = row.offer_months.max(1) as f64;
        row.offer_cost_cents as f64 * (months / term).min(1.0)
    } else {
        0.0
    };
    let saved = i64::from(row.saved);
    let cancelled = i64::from(!row.saved && row.cancelled);
    let abandoned = i64::from(!row.saved && !row.cancelled && row.abandoned);
    Counters {
        sessions: 1,
        saved,
        cancelled,
        abandoned,
        open: 1 - saved - cancelled - abandoned,
        saved_mrr_cents: saved * row.mrr_cents,
        offer_cost_cents: saved * row.offer_cost_cents,
        retained,
        saves_retained: retained.map(|r| r * saved),
        net_revenue_90d_cents: (row.mrr_cents as f64 * months - cost_inside).round() as i64,
        ..Counters::default()
    }
}

/// A rollup row's key: `(hour, dimension, key)`.
pub type RollupKey = (i64, &'static str, String);

/// The contributions of `rows` to the rollup, each judged against `all` (the customers' sessions
/// read, `rows` among them or not) and the customers' `changes`. The rows emitted are those of
/// `rows` only: a report's edge hours pass the sessions in them as `rows` and their neighbours as
/// `all`; a write passes the same set as both.
pub fn contributions(
    rows: &[SessionRow],
    all: &[SessionRow],
    changes: &HashMap<String, Vec<Change>>,
) -> BTreeMap<RollupKey, Counters> {
    let mut out: BTreeMap<RollupKey, Counters> = BTreeMap::new();
    for_each_session(rows, all, changes, |row, c| {
        let hour = bucket_of(row.started_at);
        for (dimension, key) in row.keys() {
            let entry = out.entry((hour, dimension, key.to_string())).or_default();
            *entry = entry.combine(c, 1);
        }
    });
    out
}

/// Adds `rows` to a report read at `now`, each with its own age (judged as in [`contributions`]):
/// how a report reads the hours a clock cut or a range edge falls in, and how the equality test
/// reads a whole range.
pub fn tally_sessions(
    rows: &[SessionRow],
    all: &[SessionRow],
    changes: &HashMap<String, Vec<Change>>,
    now: i64,
    into: &mut Tallies,
) {
    for_each_session(rows, all, changes, |row, c| {
        let age = Age::of(row.started_at, now);
        for (dimension, key) in row.keys() {
            into.add(dimension, key, c, age);
        }
    });
}

fn for_each_session(
    rows: &[SessionRow],
    all: &[SessionRow],
    changes: &HashMap<String, Vec<Change>>,
    mut each: impl FnMut(&SessionRow, &Counters),
) {
    let mut by_customer: HashMap<&str, Vec<&SessionRow>> = HashMap::new();
    for r in all {
        by_customer
            .entry(r.customer_id.as_str())
            .or_default()
            .push(r);
    }
    for row in rows {
        let neighbours = by_customer
            .get(row.customer_id.as_str())
            .map_or(&[][..], Vec::as_slice);
        let history = changes
            .get(row.customer_id.as_str())
            .map_or(&[][..], Vec::as_slice);
        each(row, &session_counters(row, neighbours, history));
    }
}

/// The sums a rollup row keeps ([`Counters`], the experiments' `ArmSums`): what a write's
/// difference of two snapshots needs.
pub trait Sums: Copy + Default + PartialEq {
    /// `self - other`, sum by sum.
    fn minus(&self, other: &Self) -> Self;
}

impl Sums for Counters {
    fn minus(&self, other: &Self) -> Self {
        self.combine(other, -1)
    }
}

/// `after - before`, per rollup row, without the rows that did not change.
pub fn difference<K: Ord + Clone, V: Sums>(
    before: &BTreeMap<K, V>,
    after: &BTreeMap<K, V>,
) -> Vec<(K, V)> {
    let mut out = Vec::new();
    for (key, a) in after {
        let d = a.minus(before.get(key).unwrap_or(&V::default()));
        if d != V::default() {
            out.push((key.clone(), d));
        }
    }
    for (key, b) in before {
        if !after.contains_key(key) && *b != V::default() {
            out.push((key.clone(), V::default().minus(b)));
        }
    }
    out
}

/// Where a group of sessions stands against the clock: which windows have elapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Age {
    /// Open for [`PENDING_FOR`] or more: abandoned, no longer pending.
    pub past_pending: bool,
    /// Started at least 30, 60 and 90 days ago: retention measurable.
    pub measured: [bool; 3],
}

impl Age {
    /// The age of a session started at `started_at`, at `now`.
    pub fn of(started_at: i64, now: i64) -> Self {
        Self {
            past_pending: started_at <= now - PENDING_FOR,
            measured: HORIZONS.map(|days| started_at <= now - days * DAY),
        }
    }
}

/// Of counted sessions, retention at one horizon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionCount {
    /// Sessions old enough to know.
    pub measured: i64,
    /// Of those, still subscribed.
    pub retained: i64,
    /// Sessions younger than the horizon: not counted yet.
    pub pending: i64,
}

/// A report's numbers over a set of sessions, read against the clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Counted sessions.
    pub sessions: i64,
    /// Bounces, apart.
    pub bounces: i64,
    /// Sessions merged into a later one of the same customer.
    pub duplicates: i64,
    /// Saved.
    pub saves: i64,
    /// Cancelled.
    pub cancels: i64,
    /// Abandoned (closed, or open past [`PENDING_FOR`]).
    pub abandons: i64,
    /// Open, younger than [`PENDING_FOR`].
    pub pending: i64,
    /// MRR of saved sessions.
    pub saved_mrr_cents: i64,
    /// What the accepted offers give away over their terms.
    pub offer_cost_cents: i64,
    /// Retention of counted sessions at 30, 60 and 90 days.
    pub retention: [RetentionCount; 3],
    /// Retention of saved sessions at 30, 60 and 90 days (save durability).
    pub durability: [RetentionCount; 3],
    /// Sessions at least 90 days old, whose net revenue kept is known.
    pub net_revenue_sessions: i64,
    /// Their net revenue kept over 90 days.
    pub net_revenue_90d_cents: i64,
}

impl Tally {
    /// Adds the counters of sessions of one age.
    pub fn add(&mut self, c: &Counters, age: Age) {
        self.sessions += c.sessions;
        self.bounces += c.bounces;
        self.duplicates += c.duplicates;
        self.saves += c.saved;
        self.cancels += c.cancelled;
        self.abandons += c.abandoned;
        if age.past_pending {
            self.abandons += c.open;
        } else {
            self.pending += c.open;
        }
        self.saved_mrr_cents += c.saved_mrr_cents;
        self.offer_cost_cents += c.offer_cost_cents;
        for i in 0..HORIZONS.len() {
            let (all, saves) = (&mut self.retention[i], &mut self.durability[i]);
            if age.measured[i] {
                all.measured += c.sessions;
                all.retained += c.retained[i];
                saves.measured += c.saved;
                saves.retained += c.saves_retained[i];
            } else {
                all.pending += c.sessions;
                saves.pending += c.saved;
            }
        }
        if age.measured[2] {
            self.net_revenue_sessions += c.sessions;
            self.net_revenue_90d_cents += c.net_revenue_90d_cents;
        }
    }
}

/// A report's tallies: totals and per dimension and key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tallies {
    /// All sessions in range.
    pub totals: Tally,
    /// Per dimension, per key.
    pub breakdowns: BTreeMap<&'static str, BTreeMap<String, Tally>>,
}

impl Tallies {
    /// Adds the counters of one rollup row (or one session's row) of one age.
    pub fn add(&mut self, dimension: &str, key: &str, c: &Counters, age: Age) {
        // A rollup row whose sessions all moved elsewhere sums to zero: no key of its own.
        if c.is_zero() {
            return;
        }
        if dimension == TOTAL {
            self.totals.add(c, age);
            return;
        }
        let Some(dimension) = super::DIMENSIONS.iter().find(|d| **d == dimension) else {
            return;
        };
        self.breakdowns
            .entry(dimension)
            .or_default()
            .entry(key.to_string())
            .or_default()
            .add(c, age);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, start: i64) -> SessionRow {
        SessionRow {
            session_id: id.into(),
            customer_id: "c".into(),
            started_at: start,
            week: "w".into(),
            plan: "pro".into(),
            mrr_cents: 4900,
            tenure_band: "t".into(),
            variant: None,
            reason: Some("too_expensive".into()),
            offer_kind: None,
            offer_cost_cents: 0,
            offer_months: 0,
            saved: false,
            cancelled: false,
            abandoned: false,
            interacted: true,
            closed_at: None,
        }
    }

    #[test]
    fn a_two_month_pause_keeps_one_month_of_revenue_and_never_goes_negative() {
        let mut saved = row("s", 0);
        saved.saved = true;
        saved.offer_cost_cents = 9800;
        saved.offer_months = 2;
        let kept = session_counters(&saved, &[], &[]);
        assert_eq!(kept.net_revenue_90d_cents, 4900);
        for churn_day in [1, 15, 30, 45, 60, 89] {
            let c = session_counters(&saved, &[], &[(churn_day * DAY, true)]);
            assert!(
                c.net_revenue_90d_cents >= 0,
                "churn on day {churn_day}: {c:?}"
            );
        }
    }

    #[test]
    fn a_session_reopened_within_half_an_hour_counts_once_as_the_later_one() {
        let (a, b) = (row("a", 0), row("b", DUPLICATE_WINDOW));
        let all = [a.clone(), b.clone()];
        let c = contributions(&all, &all, &HashMap::new());
        assert_eq!(c[&(0, TOTAL, String::new())].duplicates, 1);
        assert_eq!(c[&(0, TOTAL, String::new())].sessions, 1);
        let late = row("b", DUPLICATE_WINDOW + 1);
        let c = contributions(&[a.clone(), late.clone()], &[a, late], &HashMap::new());
        assert_eq!(c[&(0, TOTAL, String::new())].sessions, 2);
    }

    #[test]
    fn a_churn_undone_later_is_no_churn() {
        let changes = [(10, true), (20, false), (40, true)];
        assert_eq!(churned_at(&changes, 0, 15), Some(10));
        assert_eq!(churned_at(&changes, 0, 30), None);
        assert_eq!(churned_at(&changes, 0, 50), Some(40));
        assert_eq!(
            churned_at(&changes, 11, 15),
            None,
            "before the session: not counted"
        );
    }
}
