//! The facts an experiment report is computed from, per exposed customer: read by
//! [`super::experiments`] for a report and folded into the experiments' rollup by
//! [`super::arms`]. A leaf, so those two never import each other.

/// A customer's first exposure to the experiment (the unit of every experiment metric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// The customer.
    pub customer_id: String,
    /// The variant first exposed.
    pub variant: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// A recorded outcome of an exposed customer, at or after the exposure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedOutcome {
    /// The customer.
    pub customer_id: String,
    /// `saved`, `cancelled` or `abandoned`.
    pub outcome: String,
    /// A cancellation's last day (`YYYY-MM-DD`).
    pub effective_date: Option<String>,
    /// When it was recorded, Unix seconds.
    pub recorded_at: i64,
}

/// A lifecycle event of an exposed customer, at or after the exposure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedLifecycle {
    /// The customer.
    pub customer_id: String,
    /// `upgraded`, `resumed` or `churned`.
    pub kind: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// Everything a report of one experiment is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExperimentFacts {
    /// First exposures.
    pub exposures: Vec<Exposure>,
    /// Their outcomes since exposure.
    pub outcomes: Vec<ExposedOutcome>,
    /// Their lifecycle events since exposure.
    pub lifecycle: Vec<ExposedLifecycle>,
    /// `(customer, variant)` of each of their cancel sessions credited to another variant of the
    /// experiment than the first exposure's: multiple exposures, a health problem.
    pub crossed: Vec<(String, String)>,
    /// `(customer, MRR in cents, what their accepted offers cost)` from their cancel sessions
    /// since the day before exposure, for the revenue metric.
    pub revenue: Vec<(String, i64, i64)>,
}
