//! What a string from a browser may hold before anything stores it.
//!
//! Two kinds of strings arrive: keys (ids, reasons, plans, locales, offer ids, triggers), which
//! become primary keys, `GROUP BY` labels and metric labels, and free text (a survey answer),
//! which is only stored and shown. Neither may carry NUL or other control characters: PostgreSQL
//! refuses U+0000 in `text`, and such a value accepted with a 200 would later stop the aggregator
//! that folds it. Free text may keep line breaks and tabs. Both are bounded in length, so one
//! request cannot grow a label set or a row without limit. Every refusal is a 422 naming the
//! field.

use crate::error::ApiError;

/// The longest key, in characters: ids and labels, never prose.
pub const MAX_KEY: usize = 128;

/// Checks a key: at most `max` characters, no control character at all.
pub fn key(field: impl FnOnce() -> String, value: &str, max: usize) -> Result<(), ApiError> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(ApiError::invalid(
            field(),
            format!(
                "control character U+{:04X} is not allowed here",
                u32::from(c)
            ),
        ));
    }
    too_long(field, value, max)
}

/// Checks free text: at most `max` characters, control characters only as line breaks and tabs.
pub fn free_text(field: impl FnOnce() -> String, value: &str, max: usize) -> Result<(), ApiError> {
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(
            field(),
            format!(
                "control character U+{:04X} is not allowed (line breaks and tabs are)",
                u32::from(c)
            ),
        ));
    }
    too_long(field, value, max)
}

/// As [`key`] for an optional value.
pub fn optional_key(
    field: impl FnOnce() -> String,
    value: Option<&str>,
    max: usize,
) -> Result<(), ApiError> {
    value.map_or(Ok(()), |v| key(field, v, max))
}

fn too_long(field: impl FnOnce() -> String, value: &str, max: usize) -> Result<(), ApiError> {
    // Bytes bound characters from above: count only when the bytes already exceed the limit.
    if value.len() > max && value.chars().count() > max {
        return Err(ApiError::invalid(
            field(),
            format!("at most {max} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: ApiError) -> (u16, Option<String>) {
        (e.status().as_u16(), e.field_name().map(str::to_string))
    }

    #[test]
    fn a_key_with_a_nul_is_refused_naming_the_field() {
        let e = key(|| "events[0].reason".into(), "x\u{0}y", MAX_KEY).unwrap_err();
        assert_eq!(field(e), (422, Some("events[0].reason".into())));
    }

    #[test]
    fn a_key_refuses_line_breaks_tabs_and_c1_controls() {
        for bad in ["a\nb", "a\tb", "a\u{7f}", "a\u{85}b"] {
            assert!(key(|| "plan".into(), bad, MAX_KEY).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn free_text_keeps_line_breaks_and_tabs_but_not_nul() {
        assert!(free_text(|| "f".into(), "line one\r\nline\ttwo", 2000).is_ok());
        assert!(free_text(|| "f".into(), "a\u{0}", 2000).is_err());
        assert!(free_text(|| "f".into(), "a\u{1b}[31m", 2000).is_err());
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert!(key(|| "k".into(), &"é".repeat(MAX_KEY), MAX_KEY).is_ok());
        assert!(key(|| "k".into(), &"é".repeat(MAX_KEY + 1), MAX_KEY).is_err());
        assert!(key(|| "k".into(), "價格", MAX_KEY).is_ok());
    }
}
