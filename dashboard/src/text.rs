//! How the dashboard writes numbers, money and times: plain functions, tested natively.

/// A share as a percentage with one decimal (`0.2521` is `25.2%`); `–` when unknown.
pub fn pct(share: Option<f64>) -> String {
    match share {
        Some(s) if s.is_finite() => format!("{:.1}%", s * 100.0),
        _ => "–".into(),
    }
}

/// Cents as dollars with thousands separators (`1227900` is `$12,279`; negatives keep their sign).
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let dollars = cents.unsigned_abs() / 100;
    let rest = cents.unsigned_abs() % 100;
    let grouped = group(dollars);
    if dollars >= 1000 || rest == 0 {
        format!("{sign}${grouped}")
    } else {
        format!("{sign}${grouped}.{rest:02}")
    }
}

/// An integer with thousands separators.
pub fn count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group(n.unsigned_abs()))
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Unix seconds as a UTC date and time (`2026-12-01 22:07`).
pub fn when(secs: i64) -> String {
    let rem = secs.rem_euclid(86_400);
    format!("{} {:02}:{:02}", date(secs), rem / 3600, rem % 3600 / 60)
}

/// Unix seconds as a UTC date (`2026-12-01`), by core's calendar.
pub fn date(secs: i64) -> String {
    holdfast_core::calendar::iso_day(secs)
}

/// A machine key (`too_expensive`, `offer_kind`) as words (`Too expensive`, `Offer kind`).
pub fn label(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_percentages_with_one_decimal() {
        assert_eq!(pct(Some(0.25213)), "25.2%");
        assert_eq!(pct(Some(1.0)), "100.0%");
        assert_eq!(pct(None), "–");
        assert_eq!(pct(Some(f64::NAN)), "–");
    }

    #[test]
    fn money_groups_thousands_and_drops_cents_on_large_sums() {
        assert_eq!(money(1_227_900), "$12,279");
        assert_eq!(money(3675), "$36.75");
        assert_eq!(money(-277_900), "-$2,779");
        assert_eq!(money(0), "$0");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(when(0), "1970-01-01 00:00");
        assert_eq!(date(1_796_162_873), "2026-12-01");
        assert_eq!(when(951_782_400), "2000-02-29 00:00");
    }

    #[test]
    fn keys_read_as_words() {
        assert_eq!(label("too_expensive"), "Too expensive");
        assert_eq!(label("0-30d"), "0-30d");
        assert_eq!(label(""), "");
    }
}
