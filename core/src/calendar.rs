//! Dates without a date crate: civil dates from day counts and back, months added the way a
//! subscription counts them, ISO days and weeks, and the ISO 8601 dates a host may send for a
//! customer's `created_at` ([`parse_iso8601`], the server's; the widget never parses a date, and
//! a function it does not call costs its bundles nothing).
//!
//! Proleptic Gregorian, UTC, after Howard Hinnant's algorithms. The offer copy ("your subscription
//! resumes on"), the server's breakdowns by week, its outcome and webhook dates and the dashboard's
//! tables all read dates from here, so they cannot disagree about a day.

use crate::customer::{DAY, UnixSeconds};

/// The date `months` calendar months after `from`, clamped to the month's last day (31 Jan + 1
/// month = 28/29 Feb): what "your subscription resumes on" must say.
pub fn add_months(from: UnixSeconds, months: u32) -> UnixSeconds {
    let days = from.div_euclid(DAY);
    let secs = from.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let total = i64::from(m) - 1 + i64::from(months);
    let y = y + total.div_euclid(12);
    let m = (total.rem_euclid(12) + 1) as u32;
    let d = d.min(days_in_month(y, m));
    days_from_civil(y, m, d) * DAY + secs
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (year, month 1-12, day 1-31).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` of a moment, UTC.
pub fn iso_day(at: UnixSeconds) -> String {
    let (y, m, d) = civil_from_days(at.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The Monday of the week containing `at`, as `YYYY-MM-DD` (the server's weekly breakdowns).
pub fn week_of(at: UnixSeconds) -> String {
    let days = at.div_euclid(DAY);
    // 1970-01-01 was a Thursday: Monday is three days before.
    let monday = days - (days + 3).rem_euclid(7);
    iso_day(monday * DAY)
}

/// Unix seconds of an ISO 8601 date (`2026-01-31`) or date and time (`2026-01-31T09:30:00Z`,
/// seconds and a fraction optional, `Z` or `+02:00`; no offset reads as UTC): what a host may pass
/// as a customer's `created_at` instead of Unix seconds. `None` for anything else.
pub fn parse_iso8601(text: &str) -> Option<UnixSeconds> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let (y, m, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&m) {
        return None;
    }
    let (m, d) = (m as u32, d as u32);
    if d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let day = days_from_civil(y, m, d) * DAY;
    let Some(&sep) = b.get(10) else {
        return Some(day);
    };
    if !matches!(sep, b'T' | b't' | b' ') || b.get(13) != Some(&b':') {
        return None;
    }
    let (h, min) = (num(11, 2)?, num(14, 2)?);
    let mut at = 16;
    let mut sec = 0;
    if b.get(at) == Some(&b':') {
        sec = num(17, 2)?;
        at = 19;
        if b.get(at) == Some(&b'.') {
            at += 1;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
        }
    }
    if h > 23 || min > 59 || sec > 60 {
        return None;
    }
    let offset = match b.get(at..) {
        Some([]) | Some([b'Z' | b'z']) => 0,
        Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
            let (oh, om) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    Some(day + h * 3600 + min * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn iso_8601_dates_and_times_read_as_unix_seconds() {
        assert_eq!(parse_iso8601("1970-01-01"), Some(0));
        assert_eq!(parse_iso8601("2026-01-31"), Some(1_769_817_600));
        assert_eq!(
            parse_iso8601("2026-01-31T09:30:00Z"),
            Some(1_769_817_600 + 34_200)
        );
        assert_eq!(
            parse_iso8601("2026-01-31T09:30Z"),
            Some(1_769_817_600 + 34_200)
        );
        assert_eq!(
            parse_iso8601("2026-01-31T09:30:00.123+02:00"),
            Some(1_769_817_600 + 27_000)
        );
        assert_eq!(
            parse_iso8601("2026-01-31T09:30:00-01:30"),
            Some(1_769_817_600 + 39_600)
        );
        assert_eq!(parse_iso8601("2000-02-29"), Some(951_782_400));
        for bad in [
            "",
            "2026",
            "2026-13-01",
            "2027-02-29",
            "2026-01-00",
            "2026-01-31T25:00Z",
            "2026-01-31T09:30:00+2",
            "31/01/2026",
            "2026-01-31Tnoon",
            "１９７０-01-01",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_month_later_is_clamped_to_the_last_day() {
        // 2027-01-31 00:00 UTC
        let jan31 = days_from_civil(2027, 1, 31) * DAY;
        assert_eq!(civil_from_days(add_months(jan31, 1) / DAY), (2027, 2, 28));
        assert_eq!(civil_from_days(add_months(jan31, 13) / DAY), (2028, 2, 29));
        assert_eq!(civil_from_days(add_months(jan31, 3) / DAY), (2027, 4, 30));
    }

    #[test]
    fn days_and_weeks_read_as_iso_dates() {
        assert_eq!(iso_day(0), "1970-01-01");
        assert_eq!(iso_day(951_782_400 + 86_399), "2000-02-29");
        assert_eq!(iso_day(-1), "1969-12-31");
        // 1970-01-01 was a Thursday; its week began on Monday 1969-12-29.
        assert_eq!(week_of(0), "1969-12-29");
        assert_eq!(week_of(4 * DAY), "1970-01-05");
    }

    proptest! {
        #[test]
        fn every_iso_day_reads_back_as_its_own_midnight(days in -700_000i64..2_000_000) {
            prop_assert_eq!(parse_iso8601(&iso_day(days * DAY)), Some(days * DAY));
        }

        #[test]
        fn civil_dates_round_trip(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn adding_months_moves_forward_by_28_to_31_days_a_month(ts in 0i64..4_000_000_000, months in 0u32..24) {
            let later = add_months(ts, months);
            let diff = (later - ts) / DAY;
            prop_assert!(diff >= 28 * i64::from(months) - 3 && diff <= 31 * i64::from(months));
        }
    }
}
