//! The message catalog: every built-in string, in English and Simplified Chinese, in three
//! tables so each bundle carries only the strings it shows (the cancel dialog's chrome, the offer
//! terms the server writes, the upgrade prompts), plus locale resolution and plural choice shared by
//! the widget and the server.
//!
//! Apps override or add strings per locale in their config (`locale.messages`); a locale the app
//! adds speaks English for any string it does not override.

/// One table: (key, English, Simplified Chinese). Keys are what config overrides name.
pub type Table = &'static [(&'static str, &'static str, &'static str)];

/// The cancel dialog's own strings: the only table the cancel bundle carries.
pub const DIALOG: Table = &[
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
    (
        "cancel.pending_title",
        "Your cancellation is not confirmed yet",
        "您的取消尚未确认",
    ),
    (
        "cancel.pending",
        "We'll send your request as soon as we can reach the server. You can close this window.",
        "连接服务器后我们会自动发送您的请求。您可以关闭此窗口。",
    ),
    ("receipt.title", "Cancellation receipt", "取消回执"),
    (
        "receipt.what",
        "Cancelled: {plan} subscription",
        "已取消：{plan} 订阅",
    ),
    ("receipt.received", "Received: {date}", "收到时间：{date}"),
    ("receipt.ends", "Contract ends: {date}", "合同终止：{date}"),
];

/// Offer headlines and terms, written by the server into the cancel plan.
pub const OFFERS: Table = &[
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
];

/// The server-rendered cancel page's own pages (the widget never shows them, so they cost it
/// nothing).
pub const PAGE: Table = &[
    (
        "page.error.title",
        "This cancellation page could not go on",
        "此取消页面无法继续",
    ),
    (
        "page.error.body",
        "Open the cancellation link again from your account or your email. If this keeps happening, contact support and mention the reason below.",
        "请从您的账户或邮件中重新打开取消链接。如果问题持续出现，请联系客服并提供以下原因。",
    ),
    (
        "link.expired.title",
        "This cancellation link has expired",
        "此取消链接已过期",
    ),
    (
        "link.expired.body",
        "To protect your account, cancellation links work for a limited time. Sign in to your account and open the cancellation page from your account settings, or contact support for a new link.",
        "为保护您的账户，取消链接仅在有限时间内有效。请登录您的账户，在账户设置中重新打开取消页面，或联系客服获取新的链接。",
    ),
];

/// Upgrade prompts.
pub const PROMPTS: Table = &[
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

/// The language a session speaks, resolved once from what the customer, the host and the browser
/// ask for and what the app supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lang {
    /// BCP 47 tag for `Intl` and the dialog's `lang` (`en`, `zh-CN`, or a tag the app added).
    pub tag: String,
    /// Built-in strings come from the Chinese column.
    pub zh: bool,
    /// Written right to left (the dialog's `dir`).
    pub rtl: bool,
}

impl Lang {
    /// The first of `wanted` (customer, host option, browser, app default, in that order) that is
    /// built in or that the app has strings for (`configured`); English otherwise.
    pub fn resolve<'a>(
        wanted: &[String],
        configured: impl Iterator<Item = &'a str> + Clone,
    ) -> Self {
        let same_lang = |a: &str, b: &str| {
            a.split('-')
                .next()
                .zip(b.split('-').next())
                .is_some_and(|(x, y)| x.eq_ignore_ascii_case(y))
        };
        let supported = |tag: &str| -> Option<String> {
            if let Some(k) = configured.clone().find(|k| k.eq_ignore_ascii_case(tag)) {
                return Some(k.to_string());
            }
            let lower = tag.to_ascii_lowercase();
            match lower.split('-').next().unwrap_or_default() {
                "en" => Some("en".into()),
                // Traditional Chinese (zh-Hant, zh-TW, zh-HK) is not built in.
                "zh" if !lower
                    .split('-')
                    .any(|part| matches!(part, "hant" | "tw" | "hk")) =>
                {
                    Some("zh-CN".into())
                }
                _ => configured
                    .clone()
                    .find(|k| same_lang(k, tag))
                    .map(str::to_string),
            }
        };
        let tag = wanted
            .iter()
            .find_map(|w| supported(w))
            .unwrap_or_else(|| "en".into());
        let lang = tag
            .split('-')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Self {
            zh: lang == "zh",
            rtl: matches!(lang.as_str(), "ar" | "he" | "fa" | "ur"),
            tag,
        }
    }

    /// The built-in string for `key` in `table`, in this language's column.
    pub fn builtin(&self, table: Table, key: &str) -> Option<&'static str> {
        table
            .iter()
            .find(|(k, ..)| *k == key)
            .map(|(_, en, zh)| if self.zh { *zh } else { *en })
    }

    /// Whether `n` takes the `one` form in this language (CLDR cardinal rules for the common
    /// cases: none in Chinese, Japanese, Korean, Thai, Vietnamese and Indonesian; 0 and 1 in
    /// French and Portuguese; exactly 1 elsewhere).
    pub fn is_one(&self, n: u32) -> bool {
        let lang = self.tag.split('-').next().unwrap_or_default();
        match lang.to_ascii_lowercase().as_str() {
            "zh" | "ja" | "ko" | "th" | "vi" | "id" | "ms" => false,
            "fr" | "pt" => n <= 1,
            _ => n == 1,
        }
    }
}

/// `template` with each `{name}` placeholder replaced by its value (unknown ones stay as written).
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let value = after
            .split_once('}')
            .and_then(|(name, tail)| Some((args.iter().find(|(n, _)| *n == name)?.1, tail)));
        match value {
            Some((value, tail)) => {
                out.push_str(value);
                rest = tail;
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Marks an amount of money (smallest currency unit) inside server-written text; the widget
/// formats it with `Intl.NumberFormat` in the session's locale and currency.
pub fn money_token(cents: i64) -> String {
    ["\u{1}m", &cents.to_string(), "\u{2}"].concat()
}

/// Marks a calendar date (Unix seconds) inside server-written text; the widget formats it with
/// `Intl.DateTimeFormat` in the session's locale.
pub fn date_token(at: i64) -> String {
    ["\u{1}d", &at.to_string(), "\u{2}"].concat()
}

/// Server-written text with its [`money_token`]s and [`date_token`]s spelled out by `money` and
/// `date` (the widget formats with `Intl`, the no-JavaScript page without it).
pub fn expand_tokens(
    text: &str,
    money: &dyn Fn(i64) -> String,
    date: &dyn Fn(i64) -> String,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('\u{1}') {
        out.push_str(before);
        let Some((token, tail)) = after.split_once('\u{2}') else {
            rest = after;
            break;
        };
        let n: i64 = token.get(1..).and_then(|d| d.parse().ok()).unwrap_or(0);
        out.push_str(&if token.starts_with('m') {
            money(n)
        } else {
            date(n)
        });
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_spelled_out_and_plain_text_is_kept() {
        let text = [
            "Pay ",
            &money_token(3675),
            " until ",
            &date_token(86_400),
            ".",
        ]
        .concat();
        let money = |c: i64| format!("${}.{:02}", c / 100, c % 100);
        let date = |d: i64| format!("day {}", d / 86_400);
        assert_eq!(
            expand_tokens(&text, &money, &date),
            "Pay $36.75 until day 1."
        );
        assert_eq!(expand_tokens("no tokens", &money, &date), "no tokens");
    }

    #[test]
    fn every_key_is_unique_and_translated_with_the_same_placeholders() {
        let all: Vec<_> = [DIALOG, OFFERS, PROMPTS].concat();
        for (i, (key, en, zh)) in all.iter().enumerate() {
            assert!(
                !en.is_empty() && !zh.is_empty(),
                "{key} has an empty translation"
            );
            assert!(
                all[i + 1..].iter().all(|(k, ..)| k != key),
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
                "{key}: same placeholders"
            );
        }
    }

    #[test]
    fn the_locale_comes_from_the_first_supported_wish() {
        let wanted = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let none = std::iter::empty::<&str>();
        assert_eq!(
            Lang::resolve(&wanted(&["zh-TW", "zh-Hans-CN", "en"]), none.clone()).tag,
            "zh-CN"
        );
        assert_eq!(
            Lang::resolve(&wanted(&["de-DE", "en-GB"]), none.clone()).tag,
            "en"
        );
        assert_eq!(
            Lang::resolve(&wanted(&["de-AT"]), ["de"].into_iter()).tag,
            "de"
        );
        assert_eq!(Lang::resolve(&wanted(&["xx"]), none.clone()).tag, "en");
        assert!(Lang::resolve(&wanted(&["ar"]), ["ar"].into_iter()).rtl);
        let zh = Lang::resolve(&wanted(&["zh"]), none);
        assert!(zh.zh && !zh.is_one(1));
        assert_eq!(zh.builtin(DIALOG, "reason.other"), Some("其他"));
    }

    #[test]
    fn fill_replaces_known_placeholders_and_keeps_the_rest() {
        assert_eq!(
            fill("{a} and {b}, {unknown} {a}", &[("a", "x"), ("b", "{a}")]),
            "x and {a}, {unknown} x"
        );
        assert_eq!(fill("no braces", &[]), "no braces");
        assert_eq!(fill("open { only", &[("only", "y")]), "open { only");
    }

    #[test]
    fn plural_one_follows_the_language() {
        let lang = |t: &str| Lang {
            tag: t.into(),
            zh: false,
            rtl: false,
        };
        assert!(lang("en").is_one(1) && !lang("en").is_one(0) && !lang("en").is_one(2));
        assert!(lang("fr").is_one(0) && lang("fr").is_one(1) && !lang("fr").is_one(2));
        assert!(!lang("ja").is_one(1));
    }
}
