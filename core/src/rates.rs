//! The ratios reports show: a count over the count it is out of, written once so the cancel stats
//! and the prompt stats cannot round or guard differently.
//!
//! Two shapes, because the API has both: a headline rate that reads 0 before anything happened
//! (`save_rate`, a prompt's `conversion`), and a share that is unknown (`null`) until its base
//! has a member (retention, durability, a reason's share of answers).

/// `part / whole`, or 0 when `whole` is 0: a headline rate such as `save_rate = saves / sessions`.
pub fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// `part / whole` when `whole` is above 0, else unknown: a share such as `retained / measured`.
pub fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_before_any_session_is_zero() {
        assert_eq!(rate(0, 0), 0.0);
        assert_eq!(rate(1, 4), 0.25);
    }

    #[test]
    fn a_share_of_nothing_is_unknown() {
        assert_eq!(share(0, 0), None);
        assert_eq!(share(3, 4), Some(0.75));
    }
}
