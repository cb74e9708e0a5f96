//! Strings for the upgrade prompts: `holdfast-core`'s catalog in the customer's language with the
//! app's overrides from the config, plural forms through the browser's `Intl.PluralRules`.

use std::collections::BTreeMap;

use holdfast_core::i18n::{DIALOG, OFFERS, PROMPTS, Table};
use js_sys::Object;
use wasm_bindgen::JsValue;

use crate::text::{call1, intl};

/// Every built-in table: the prompts' strings plus the dialog's, which prompts share.
const TABLES: [Table; 3] = [PROMPTS, DIALOG, OFFERS];

fn builtin(key: &str, zh: bool) -> Option<&'static str> {
    TABLES
        .iter()
        .flat_map(|t| t.iter())
        .find(|(k, ..)| *k == key)
        .map(|(_, en, cn)| if zh { *cn } else { *en })
}

/// The locale a session speaks, with the app's overrides: resolved once when a flow opens.
#[derive(Clone, Debug, PartialEq)]
pub struct Messages {
    /// BCP 47 tag passed to `Intl` (e.g. `en`, `zh-CN`).
    pub locale: String,
    /// Column of [`CATALOG`]: 0 English, 1 Chinese.
    builtin: usize,
    overrides: BTreeMap<String, String>,
    /// Text direction of the locale, for the dialog's `dir` attribute.
    pub rtl: bool,
}

impl Messages {
    /// Picks the first supported locale among `wanted` (customer, host option, browser, app
    /// default, in that order) and attaches the app's overrides for it.
    pub fn resolve(wanted: &[String], config: &BTreeMap<String, BTreeMap<String, String>>) -> Self {
        let supported = |tag: &str| -> Option<(String, usize)> {
            let lower = tag.to_ascii_lowercase();
            let lang = lower.split('-').next().unwrap_or_default();
            if let Some(k) = config.keys().find(|k| k.eq_ignore_ascii_case(tag)) {
                return Some((k.clone(), if lang == "zh" { 1 } else { 0 }));
            }
            match lang {
                "en" => Some(("en".into(), 0)),
                "zh" if !lower.contains("hant")
                    && !lower.ends_with("-tw")
                    && !lower.ends_with("-hk") =>
                {
                    Some(("zh-CN".into(), 1))
                }
                _ => config
                    .keys()
                    .find(|k| {
                        k.split('-')
                            .next()
                            .is_some_and(|l| l.eq_ignore_ascii_case(lang))
                    })
                    .map(|k| (k.clone(), 0)),
            }
        };
        let (locale, builtin) = wanted
            .iter()
            .find_map(|w| supported(w))
            .unwrap_or_else(|| ("en".into(), 0));
        let mut overrides = BTreeMap::new();
        for (tag, messages) in config {
            let same = tag.eq_ignore_ascii_case(&locale);
            if same {
                overrides.extend(messages.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let lang = locale.split('-').next().unwrap_or_default();
        let rtl = matches!(lang, "ar" | "he" | "fa" | "ur");
        Self {
            locale,
            builtin,
            overrides,
            rtl,
        }
    }

    /// The string for `key`: the app's override, else the built-in catalog, else the key itself
    /// (visible, so a missing string is noticed rather than blank).
    pub fn get(&self, key: &str) -> String {
        if let Some(v) = self.overrides.get(key) {
            return v.clone();
        }
        builtin(key, self.builtin == 1).unwrap_or(key).to_string()
    }

    /// `key` with `{name}` placeholders filled.
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.get(key);
        for (name, value) in args {
            s = s.replace(&["{", name, "}"].concat(), value);
        }
        s
    }

    /// Plural-aware lookup through `Intl.PluralRules`: `key.one` or `key.other`.
    pub fn plural(&self, key: &str, n: u32, args: &[(&str, &str)]) -> String {
        let category = intl("PluralRules", &self.locale, &Object::new())
            .and_then(|rules| call1(&rules, "select", &JsValue::from(n)))
            .and_then(|c| c.as_string())
            .unwrap_or_else(|| if n == 1 { "one".into() } else { "other".into() });
        let one = [key, ".one"].concat();
        let key = if category == "one" && self.has(&one) {
            one
        } else {
            [key, ".other"].concat()
        };
        self.fill(&key, args)
    }

    fn has(&self, key: &str) -> bool {
        self.overrides.contains_key(key) || builtin(key, false).is_some()
    }

    /// Money in the customer's locale and currency (`$49.00`, `US$49.00`).
    pub fn money(&self, cents: i64, currency: &str) -> String {
        crate::text::money(&self.locale, cents, currency)
    }

    /// A calendar date in the customer's locale (`14 December 2026`, `2026年12月14日`).
    pub fn date(&self, unix_seconds: i64) -> String {
        crate::text::date(&self.locale, unix_seconds)
    }
}
