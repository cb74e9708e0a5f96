//! What is wrong with an input, and the field checks every part of a config shares.
//!
//! A leaf: it imports nothing of the crate, so the config and the parts it is made of (offers,
//! experiments, caps) can all report [`Problem`]s without importing each other. A problem names the
//! field path a person would type (`offers[2].terms.percent`) and the reason in plain words; the
//! server's 422 bodies and the dashboard's editor show exactly these.

use std::collections::BTreeSet;

/// One thing wrong (or worth a warning) in a config: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// Path to the field, as in `offers[2].terms.percent`.
    pub path: String,
    /// Why it is refused or warned about, in plain words.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The outcome of validating a config (`config::AppConfig::validate`): a config with any error is
/// refused whole; warnings are shown but do not block saving.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validation {
    /// Refusals: the config must not be saved.
    pub errors: Vec<Problem>,
    /// Concerns worth a look (a discount above 30%).
    pub warnings: Vec<Problem>,
}

impl Validation {
    /// True when nothing refuses the config.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Ids appear in URLs, events and CSS-free catalog keys: lowercase slugs, unique.
pub fn check_id<'a>(path: &str, id: &'a str, seen: &mut BTreeSet<&'a str>, e: &mut Vec<Problem>) {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        e.push(Problem::new(
            path,
            format!("{id:?} must be 1 to 64 lowercase letters, digits, '_' or '-'"),
        ));
    } else if !seen.insert(id) {
        e.push(Problem::new(path, format!("{id:?} is used twice")));
    }
}

/// Free text a person reads: not blank, at most `max` characters.
pub fn check_text(path: &str, text: &str, max: usize, e: &mut Vec<Problem>) {
    if text.trim().is_empty() {
        e.push(Problem::new(path, "must not be empty"));
    } else if text.chars().count() > max {
        e.push(Problem::new(
            path,
            format!("is longer than {max} characters"),
        ));
    }
}

/// A CSS hex colour (`#abc` or `#4f46e5`), safe to set as a custom property.
pub fn is_hex_colour(s: &str) -> bool {
    let Some(hex) = s.strip_prefix('#') else {
        return false;
    };
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A BCP 47-ish tag: a 2-3 letter language, then optional alphanumeric subtags.
pub fn is_locale_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let lang_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic()));
    lang_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Links leave the widget for the customer's browser: only https, with a host, no spaces or quotes.
pub fn check_https(path: &str, url: &str, problems: &mut Vec<Problem>) {
    let Some(rest) = url.strip_prefix("https://") else {
        problems.push(Problem::new(
            path,
            format!("{url:?} must start with https://"),
        ));
        return;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty()
        || url
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>')
    {
        problems.push(Problem::new(
            path,
            format!("{url:?} is not a valid https URL"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_tags_are_checked() {
        assert!(is_locale_tag("en"));
        assert!(is_locale_tag("zh-CN"));
        assert!(is_locale_tag("sr-Latn-RS"));
        assert!(!is_locale_tag("english!"));
        assert!(!is_locale_tag(""));
    }
}
