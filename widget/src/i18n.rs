//! The message catalog: every string the widget shows, in English and Simplified Chinese, with
//! per-app overrides from the config, plus locale-aware money and dates through the browser's
//! `Intl` (no formatting tables shipped in the bundle).

use std::collections::BTreeMap;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

/// Built-in catalog: (key, English, Simplified Chinese). Keys are what config overrides name.
const CATALOG: &[(&str, &str, &str)] = &[
    ("dialog.title", "Cancel subscription", "取消订阅"),
    ("dialog.close", "Close", "关闭"),
    (
        "survey.question",
        "What's the main reason you're cancelling?",
        "您取消订阅的主要原因是什么？",
    ),
    (
        "survey.details",
        "Anything else you'd like to tell us? (optional)",
        "还有什么想告诉我们的吗？（可选）",
    ),
    ("survey.continue", "Continue", "继续"),
    ("reason.too_expensive", "It's too expensive", "价格太高"),
    (
        "reason.not_using",
        "I'm not using it enough",
        "使用得不够多",
    ),
    (
        "reason.missing_feature",
        "It's missing a feature I need",
        "缺少我需要的功能",
    ),
    (
        "reason.switching",
        "I'm switching to another product",
        "我要换用其他产品",
    ),
    ("reason.technical_issues", "Technical issues", "技术问题"),
    (
        "reason.temporary",
        "I only needed it temporarily",
        "我只是临时需要",
    ),
    ("reason.other", "Other", "其他"),
    ("cancel.continue", "Continue to cancel", "继续取消"),
    ("offer.title", "Before you go", "在您离开之前"),
    ("offer.accept", "Accept offer", "接受优惠"),
    (
        "offer.decline",
        "No thanks, continue to cancel",
        "不用了，继续取消",
    ),
    (
        "offer.discount.one",
        "{percent}% off your next invoice",
        "下一期账单享 {percent}% 折扣",
    ),
    (
        "offer.discount.other",
        "{percent}% off your next {months} invoices",
        "接下来 {months} 期账单享 {percent}% 折扣",
    ),
    (
        "offer.discount.terms.one",
        "You pay {discounted} for the next month, then {price} a month.",
        "下个月支付 {discounted}，之后每月 {price}。",
    ),
    (
        "offer.discount.terms.other",
        "You pay {discounted} a month for {months} months, then {price} a month.",
        "接下来 {months} 个月每月支付 {discounted}，之后每月 {price}。",
    ),
    (
        "offer.pause.one",
        "Pause your subscription for a month",
        "暂停订阅 1 个月",
    ),
    (
        "offer.pause.other",
        "Pause your subscription for {months} months",
        "暂停订阅 {months} 个月",
    ),
    (
        "offer.pause.terms",
        "No charges until {date}, when your plan resumes at {price} a month.",
        "{date} 之前不收费，届时以每月 {price} 自动恢复。",
    ),
    (
        "offer.downgrade",
        "Switch to {plan} for {price} a month",
        "改用 {plan}，每月 {price}",
    ),
    ("offer.downgrade.keep", "You keep", "您将保留"),
    ("offer.downgrade.lose", "You lose", "您将失去"),
    (
        "offer.trial_extension.one",
        "One more day free",
        "再免费使用 1 天",
    ),
    (
        "offer.trial_extension.other",
        "{days} more days free",
        "再免费使用 {days} 天",
    ),
    (
        "offer.credit",
        "{amount} credit on your next invoices",
        "下期账单抵扣 {amount}",
    ),
    (
        "offer.support",
        "Let our support team fix it first",
        "先让我们的支持团队帮您解决",
    ),
    (
        "offer.call",
        "Talk to us: book a short call",
        "与我们聊聊：预约一次简短通话",
    ),
    (
        "offer.roadmap",
        "See what's coming on our roadmap",
        "查看我们的产品路线图",
    ),
    ("offer.open", "Open", "打开"),
    (
        "offer.refused",
        "This offer can't be applied to your account.",
        "此优惠无法用于您的账户。",
    ),
    (
        "offer.error",
        "We couldn't reach the server. Try again, or continue to cancel.",
        "无法连接服务器。请重试，或继续取消。",
    ),
    ("confirm.title", "Confirm cancellation", "确认取消"),
    (
        "confirm.ends_on",
        "Your subscription ends on {date}. You keep access until then.",
        "您的订阅将于 {date} 结束，在此之前仍可使用。",
    ),
    (
        "confirm.ends_period",
        "Your subscription ends at the end of the current billing period.",
        "您的订阅将在当前计费周期结束时终止。",
    ),
    ("confirm.button", "Confirm cancellation", "确认取消"),
    ("confirm.keep", "Keep my subscription", "保留我的订阅"),
    (
        "question.body",
        "Would you like to see an offer to stay?",
        "您想看看继续订阅的优惠吗？",
    ),
    ("question.yes", "Show me the offer", "查看优惠"),
    ("question.no", "No thanks", "不用了"),
    ("done.saved", "Thanks for staying!", "感谢您继续使用！"),
    (
        "done.cancelled",
        "Your subscription is cancelled.",
        "您的订阅已取消。",
    ),
    (
        "done.comeback",
        "You can come back anytime from your billing settings.",
        "您可以随时在账单设置中重新订阅。",
    ),
    ("receipt.title", "Cancellation receipt", "取消回执"),
    (
        "receipt.what",
        "Cancelled: {plan} subscription",
        "已取消：{plan} 订阅",
    ),
    ("receipt.received", "Received: {date}", "收到时间：{date}"),
    ("receipt.ends", "Contract ends: {date}", "合同终止：{date}"),
    (
        "prompt.banner",
        "You've used {percent}% of your {metric} this period.",
        "本周期您已使用 {percent}% 的{metric}。",
    ),
    (
        "prompt.compare.title",
        "You're close to your {metric} limit",
        "您的{metric}即将达到上限",
    ),
    (
        "prompt.usage.body",
        "{used} of {limit} {metric} used.",
        "已使用 {used}/{limit} {metric}。",
    ),
    (
        "prompt.limit.title",
        "You've reached your {metric} limit",
        "您的{metric}已达上限",
    ),
    (
        "prompt.limit.body",
        "Upgrade to keep going, or take a few days of grace to decide.",
        "升级即可继续使用，或先获得几天宽限期再决定。",
    ),
    ("prompt.grace.one", "Give me one more day", "再给我 1 天"),
    (
        "prompt.grace.other",
        "Give me {days} more days",
        "再给我 {days} 天",
    ),
    ("prompt.upgrade", "Upgrade to {plan}", "升级到 {plan}"),
    ("prompt.upgrade_generic", "See plans", "查看套餐"),
    ("prompt.snooze", "Remind me in a week", "一周后提醒我"),
    ("prompt.dismiss", "Dismiss", "关闭"),
    (
        "prompt.gate.title",
        "{feature} is part of a higher plan",
        "{feature} 属于更高级的套餐",
    ),
    (
        "prompt.gate.body.one",
        "Try it free for a day. Nothing is charged unless you upgrade.",
        "免费试用 1 天。除非升级，否则不收费。",
    ),
    (
        "prompt.gate.body.other",
        "Try it free for {days} days. Nothing is charged unless you upgrade.",
        "免费试用 {days} 天。除非升级，否则不收费。",
    ),
    ("prompt.gate.trial", "Start free trial", "开始免费试用"),
    ("prompt.not_now", "Not now", "以后再说"),
    (
        "prompt.seats.title",
        "Your team is growing",
        "您的团队在壮大",
    ),
    (
        "prompt.seats.body",
        "{used} of {limit} seats in use.",
        "已使用 {used}/{limit} 个席位。",
    ),
    ("prompt.current", "Your plan", "当前套餐"),
    ("prompt.suggested", "Suggested", "推荐"),
    ("prompt.per_month", "{price} a month", "每月 {price}"),
];

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
        CATALOG
            .iter()
            .find(|(k, ..)| *k == key)
            .map(|(_, en, zh)| if self.builtin == 1 { *zh } else { *en })
            .unwrap_or(key)
            .to_string()
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
        self.overrides.contains_key(key) || CATALOG.iter().any(|(k, ..)| *k == key)
    }

    /// Money in the customer's locale and currency (`$49.00`, `US$49.00`).
    pub fn money(&self, cents: i64, currency: &str) -> String {
        let options = Object::new();
        set(&options, "style", &"currency".into());
        set(&options, "currency", &currency.into());
        intl("NumberFormat", &self.locale, &options)
            .and_then(|f| call1(&f, "format", &JsValue::from(cents as f64 / 100.0)))
            .and_then(|s| s.as_string())
            .unwrap_or_else(|| [currency, " ", &(cents / 100).to_string()].concat())
    }

    /// A calendar date in the customer's locale (`14 December 2026`, `2026年12月14日`).
    pub fn date(&self, unix_seconds: i64) -> String {
        let options = Object::new();
        set(&options, "dateStyle", &"long".into());
        set(&options, "timeZone", &"UTC".into());
        let date = js_sys::Date::new(&JsValue::from(unix_seconds as f64 * 1000.0));
        intl("DateTimeFormat", &self.locale, &options)
            .and_then(|f| call1(&f, "format", &date))
            .and_then(|s| s.as_string())
            .unwrap_or_else(|| date.to_iso_string().as_string().unwrap_or_default())
    }
}

fn set(target: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &key.into(), value);
}

/// `new Intl[name](locale, options)`, looked up dynamically so the bundle carries no bindings for
/// the many `Intl` methods it never calls.
fn intl(name: &str, locale: &str, options: &Object) -> Option<JsValue> {
    let ctor: js_sys::Function = Reflect::get(&js_sys::global(), &"Intl".into())
        .and_then(|intl| Reflect::get(&intl, &name.into()))
        .ok()?
        .dyn_into_function()?;
    let args = Array::of2(&locale.into(), options);
    Reflect::construct(&ctor, &args).ok()
}

fn call1(target: &JsValue, method: &str, arg: &JsValue) -> Option<JsValue> {
    let f = Reflect::get(target, &method.into())
        .ok()?
        .dyn_into_function()?;
    f.call1(target, arg).ok()
}

trait IntoFunction {
    fn dyn_into_function(self) -> Option<js_sys::Function>;
}

impl IntoFunction for JsValue {
    fn dyn_into_function(self) -> Option<js_sys::Function> {
        wasm_bindgen::JsCast::dyn_into(self).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::CATALOG;

    #[test]
    fn every_catalog_key_is_unique_and_translated() {
        for (i, (key, en, zh)) in CATALOG.iter().enumerate() {
            assert!(
                !en.is_empty() && !zh.is_empty(),
                "{key} has an empty translation"
            );
            assert!(
                CATALOG[i + 1..].iter().all(|(k, ..)| k != key),
                "{key} appears twice"
            );
            let placeholders = |s: &str| {
                let mut v: Vec<String> = s
                    .split('{')
                    .skip(1)
                    .filter_map(|p| p.split_once('}'))
                    .map(|(n, _)| n.to_string())
                    .collect();
                v.sort();
                v
            };
            assert_eq!(
                placeholders(en),
                placeholders(zh),
                "{key}: both languages use the same placeholders"
            );
        }
    }
}
