//! The cancel dialog's strings in the session's language: the app's overrides (from the plan),
//! else the built-in dialog table of `holdfast-core`'s catalog. Money and dates are formatted by
//! the browser's `Intl`, so the bundle ships no formatting tables.

use holdfast_core::i18n::{DIALOG, Lang, expand_tokens};
use holdfast_core::screen::Words;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::js::set;

/// Strings and formats for one session.
#[derive(Debug, Clone)]
pub struct Texts {
    /// The resolved language.
    pub lang: Lang,
    /// The app's overrides of dialog strings for this language.
    pub overrides: Vec<(String, String)>,
    /// ISO 4217 currency for money.
    pub currency: String,
}

/// The dialog's words for core's [`Screen`](holdfast_core::screen::Screen), with money and dates
/// in the browser's `Intl`.
impl Words for Texts {
    /// The string for `key` (the key itself if nothing has it, so a gap is visible, not blank).
    fn text(&self, key: &str) -> String {
        self.overrides
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .or_else(|| self.lang.builtin(DIALOG, key))
            .unwrap_or(key)
            .to_string()
    }

    /// A calendar date in the session's locale (`14 December 2026`, `2026年12月14日`).
    fn date(&self, unix_seconds: i64) -> String {
        date(&self.lang.tag, unix_seconds)
    }

    /// Server-written text with its money and date tokens formatted for this session.
    fn expand(&self, text: &str) -> String {
        let money = |cents| money(&self.lang.tag, cents, &self.currency);
        expand_tokens(text, &money, &|at| self.date(at))
    }
}

/// Money in the locale and currency (`$49.00`, `49,00 €`).
pub fn money(locale: &str, cents: i64, currency: &str) -> String {
    let options = Object::new();
    set(&options, "style", &"currency".into());
    set(&options, "currency", &currency.into());
    intl("NumberFormat", locale, &options)
        .and_then(|f| call1(&f, "format", &JsValue::from(cents as f64 / 100.0)))
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| [currency, " ", &whole_units(cents)].concat())
}

/// `cents / 100` in digits, without pulling number formatting into the bundle.
fn whole_units(cents: i64) -> String {
    let mut n = (cents / 100).unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if cents < 0 {
        digits.push(b'-');
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

/// A long calendar date in the locale, in UTC (dates of billing periods, not moments).
pub fn date(locale: &str, unix_seconds: i64) -> String {
    let options = Object::new();
    set(&options, "dateStyle", &"long".into());
    set(&options, "timeZone", &"UTC".into());
    let date = js_sys::Date::new(&JsValue::from(unix_seconds as f64 * 1000.0));
    intl("DateTimeFormat", locale, &options)
        .and_then(|f| call1(&f, "format", &date))
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| date.to_iso_string().as_string().unwrap_or_default())
}

/// `new Intl[name](locale, options)`, looked up dynamically so the bundle carries no bindings for
/// the many `Intl` methods it never calls.
pub fn intl(name: &str, locale: &str, options: &Object) -> Option<JsValue> {
    let ctor: js_sys::Function = Reflect::get(&js_sys::global(), &"Intl".into())
        .and_then(|intl| Reflect::get(&intl, &name.into()))
        .ok()?
        .dyn_into()
        .ok()?;
    let args = Array::of2(&locale.into(), options);
    Reflect::construct(&ctor, &args).ok()
}

/// `target[method](arg)`.
pub fn call1(target: &JsValue, method: &str, arg: &JsValue) -> Option<JsValue> {
    let f: js_sys::Function = Reflect::get(target, &method.into()).ok()?.dyn_into().ok()?;
    f.call1(target, arg).ok()
}
