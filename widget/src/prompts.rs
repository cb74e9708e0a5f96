//! Upgrade prompts: rendering the server's prompt plan for `Holdfast.usage` and `Holdfast.gate`.
//!
//! The server decides (`POST .../prompts/plan`, core's `write_plan` over the customer's history
//! and the app's caps) and writes the prompt out; the loader asks it before this bundle is ever
//! fetched, so a report that earns nothing costs one small answer. This module renders a plan:
//! it weighs the prompt against what is on screen ([`holdfast_core::priority`]: the cancel flow
//! outranks every prompt, a caused or more urgent prompt replaces a lower one), shows it (a quiet
//! non-modal nudge announced through an `aria-live` region, or a modal dialog for the 100% limit
//! and the locked feature), reports `prompt_shown` (the server's impression), and keeps the
//! numbers of the prompt on screen fresh as later reports arrive.

use std::cell::RefCell;
use std::sync::Arc;

use holdfast_core::caps::UsageThreshold;
use holdfast_core::events::EventType;
use holdfast_core::i18n::expand_tokens;
use holdfast_core::priority::{AfterReport, Arbitration, Screen, Showing};
use holdfast_core::priority::{after_quiet_report, arbitrate};
use holdfast_core::prompts::{Choice, PromptKind};
use js_sys::{Array, Function, Object, Reflect};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

use crate::dom::{self, shadow_root};
use crate::js::{field, set, text};
use crate::outbox;

/// Days a "remind me later" snoozes a prompt.
const SNOOZE_DAYS: u32 = 7;

/// A prompt as the server wrote it (core's `PlannedPrompt`, read from `JSON.parse` output).
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// Prompt id for caps and stats.
    pub id: String,
    /// How it looks.
    pub kind: PromptKind,
    /// The trigger key: the impression's key.
    pub trigger: String,
    /// Usage prompts: the metric and the threshold reached, in percent.
    pub usage: Option<(String, u32)>,
    /// Gate prompts: the feature.
    pub feature: Option<String>,
    /// The numbers `{used}` and `{limit}` stand for.
    pub numbers: Option<(u64, u64)>,
    /// The plan suggested, for `onUpgrade`.
    pub suggested_plan: Option<String>,
    /// Locale, for `Intl` and `lang`.
    pub locale: String,
    /// Right to left.
    pub rtl: bool,
    /// Currency of the money tokens.
    pub currency: String,
    /// The theme's class and custom properties.
    pub class: String,
    /// Theme custom properties.
    pub style: String,
    /// The heading.
    pub title: String,
    /// The lines under it.
    pub lines: Vec<String>,
    /// Buttons, the first primary.
    pub actions: Vec<(Choice, String)>,
    /// The close button's label.
    pub dismiss: String,
}

fn whole(v: &JsValue, key: &str) -> Option<u64> {
    field(v, key).as_f64().map(|n| n as u64)
}

fn strings(v: &JsValue) -> Vec<JsValue> {
    v.dyn_ref::<Array>()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

const KINDS: [PromptKind; 5] = [
    PromptKind::Banner,
    PromptKind::Compare,
    PromptKind::LimitReached,
    PromptKind::GateTrial,
    PromptKind::SeatsTeam,
];

const CHOICES: [(Choice, &str, &str); 5] = [
    (Choice::Upgrade, "upgrade", "hf-prompt-upgrade"),
    (Choice::Grace, "grace", "hf-prompt-grace"),
    (Choice::Trial, "trial", "hf-prompt-trial"),
    (Choice::Snooze, "snooze", "hf-prompt-snooze"),
    (Choice::Dismiss, "dismiss", "hf-prompt-not-now"),
];

/// Reads the `prompt` of a plan that shows; `None` if anything it needs is missing.
pub fn decode(v: &JsValue) -> Option<Planned> {
    let theme = field(v, "theme");
    // The strings a prompt needs are checked first, so reading them below has no way out to
    // clean up after (one early return per field costs the bundle its drop code each time).
    let needed = [
        (v, "id"),
        (v, "trigger"),
        (v, "locale"),
        (v, "currency"),
        (&theme, "class"),
        (&theme, "style"),
        (v, "title"),
        (v, "dismiss"),
    ];
    if needed.iter().any(|(o, k)| !field(o, k).is_string()) {
        return None;
    }
    let kind = text(v, "kind")?;
    let kind = KINDS.into_iter().find(|k| k.as_str() == kind)?;
    let read = |o: &JsValue, k| text(o, k).unwrap_or_default();
    let usage = text(v, "metric").zip(field(v, "threshold").as_f64().map(|t| t as u32));
    Some(Planned {
        id: read(v, "id"),
        kind,
        trigger: read(v, "trigger"),
        usage,
        feature: text(v, "feature"),
        numbers: whole(v, "used").zip(whole(v, "limit")),
        suggested_plan: text(v, "suggested_plan"),
        locale: read(v, "locale"),
        rtl: field(v, "rtl").as_bool().unwrap_or(false),
        currency: read(v, "currency"),
        class: read(&theme, "class"),
        style: read(&theme, "style"),
        title: read(v, "title"),
        lines: strings(&field(v, "lines"))
            .iter()
            .filter_map(JsValue::as_string)
            .collect(),
        actions: strings(&field(v, "actions"))
            .iter()
            .filter_map(|a| {
                let choice = text(a, "choice")?;
                let (c, ..) = CHOICES.into_iter().find(|(_, n, _)| *n == choice)?;
                Some((c, text(a, "label")?))
            })
            .collect(),
        dismiss: read(v, "dismiss"),
    })
}

impl Planned {
    /// What the screen needs to know of it.
    fn showing(&self) -> Showing {
        let threshold = self.usage.as_ref().and_then(|(m, t)| {
            UsageThreshold::ALL
                .into_iter()
                .find(|x| x.percent() == *t)
                .map(|x| (m.clone(), x))
        });
        Showing {
            kind: self.kind,
            usage: threshold,
        }
    }
}

/// The prompt on screen.
struct OnScreen {
    mounted: Box<dyn std::any::Any>,
    /// The one listener for the prompt's clicks and keys, on its container (see [`on_event`]).
    _listener: Closure<dyn FnMut(JsValue)>,
    container: web_sys::Element,
    restore: Option<web_sys::HtmlElement>,
    showing: Showing,
    /// Its `{used}` and `{limit}`, refreshed by later reports of its metric.
    numbers: RwSignal<(u64, u64)>,
}

/// What a shown prompt's buttons need.
struct Current {
    /// Shared with the view's reactive text, which reads it on every refresh.
    planned: Arc<Planned>,
    customer: JsValue,
    on_upgrade: Option<Function>,
    on_trial: Option<Function>,
}

thread_local! {
    static ON_SCREEN: RefCell<Option<OnScreen>> = const { RefCell::new(None) };
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// The polite live region non-modal prompts are announced through (`#hf-live`), made once.
pub fn live_region(
    document: &web_sys::Document,
    root: &web_sys::ShadowRoot,
) -> Result<web_sys::Element, JsValue> {
    if let Some(live) = root.get_element_by_id("hf-live") {
        return Ok(live);
    }
    let live = document.create_element("div")?;
    live.set_id("hf-live");
    live.set_class_name("hf-sr");
    live.set_attribute("aria-live", "polite")?;
    live.set_attribute("role", "status")?;
    root.append_child(&live)?;
    Ok(live)
}

/// Whether a prompt is showing.
pub fn is_showing() -> bool {
    ON_SCREEN.with(|s| s.borrow().is_some())
}

fn result(status: &str, key: &str, value: &JsValue) -> JsValue {
    let o = Object::new();
    set(&o, "status", &status.into());
    set(&o, key, value);
    o.into()
}

fn suppressed(reason: &str) -> JsValue {
    result("suppressed", "reason", &reason.into())
}

/// What the prompt needs of the host's options, which the server has already checked (the
/// loader's plan request): the customer, as events carry it, and a usage report's numbers.
struct Call {
    customer: JsValue,
    /// A usage report's metric and numbers (`None`: a gate hit, or seats without numbers).
    report: Option<(String, u64, u64)>,
}

fn read_call(call: &str, options: &JsValue) -> Call {
    let num = |k| field(options, k).as_f64();
    let report = text(options, "metric")
        .filter(|_| call == "usage")
        .and_then(|metric| {
            let (used, limit) = (num("used"), num("limit"));
            let limit = if metric == "seats" {
                limit?
            } else {
                limit.unwrap_or(0.0)
            };
            Some((metric, used? as u64, limit as u64))
        });
    Call {
        customer: field(options, "customer"),
        report,
    }
}

/// What a prompt call answers: its result, or the message of the `TypeError` it rejects with.
pub type Answer = Box<dyn FnOnce(Result<JsValue, String>)>;

/// `Holdfast.usage` and `Holdfast.gate` with the server's `plan` for them (the loader asks for it:
/// the server checks the call, so a wrong one never reaches this bundle); `done` gets the answer.
pub fn run(call: &str, options: JsValue, plan: JsValue, done: Answer) {
    done(present(read_call(call, &options), &options, plan))
}

/// Weighs a plan against the screen and shows its prompt, or settles the one on screen.
fn present(checked: Call, options: &JsValue, plan: JsValue) -> Result<JsValue, String> {
    let Call { customer, report } = checked;
    if !plan.is_object() {
        return Ok(suppressed("unavailable"));
    }
    if field(&plan, "show").as_bool() != Some(true) {
        if let Some((metric, used, limit)) = &report {
            settle_quiet(metric, *used, *limit);
        }
        return Ok(suppressed(
            &text(&plan, "reason").unwrap_or_else(|| "unavailable".into()),
        ));
    }
    let planned = decode(&field(&plan, "prompt")).ok_or("the server's plan could not be read")?;
    let incoming = planned.showing();
    let verdict = ON_SCREEN.with(|s| {
        let on = s.borrow();
        let screen = if dom::cancel_on_screen() {
            Screen::CancelFlow
        } else if let Some(on) = on.as_ref() {
            Screen::Prompt(&on.showing)
        } else {
            Screen::Clear
        };
        arbitrate(screen, &incoming)
    });
    match verdict {
        Arbitration::HoldBack => return Ok(suppressed("another_prompt_on_screen")),
        Arbitration::Replace => hide(),
        Arbitration::Show => {}
    }
    let now_ms = js_sys::Date::now();
    let e = event(EventType::PromptShown.as_str(), &planned);
    // The impression's own instant: its second is the impression's, its millisecond orders two
    // impressions of one second when an upgrade is credited to the latest.
    set(&e, "at", &JsValue::from_f64(now_ms));
    let numbers = report
        .as_ref()
        .map(|(_, u, l)| (*u, *l))
        .or(planned.numbers)
        .unwrap_or_default();
    if planned.usage.is_some() {
        set(
            &e,
            "step",
            &[digits(numbers.0), "/".into(), digits(numbers.1)]
                .concat()
                .into(),
        );
    }
    outbox::push(&customer, e);
    let summary = Object::new();
    set(&summary, "id", &planned.id.as_str().into());
    set(&summary, "kind", &planned.kind.as_str().into());
    set(&summary, "trigger", &planned.trigger.as_str().into());
    if let Some(plan) = &planned.suggested_plan {
        set(&summary, "suggested_plan", &plan.as_str().into());
    }
    let callback = |k: &str| field(options, k).dyn_into::<Function>().ok();
    show(
        Current {
            planned: Arc::new(planned),
            customer,
            on_upgrade: callback("onUpgrade"),
            on_trial: callback("onTrial"),
        },
        incoming,
        numbers,
    )?;
    Ok(result("shown", "prompt", &summary.into()))
}

/// A report of `metric` that earned no prompt: the prompt on screen shows its numbers, or goes.
fn settle_quiet(metric: &str, used: u64, limit: u64) {
    let change = ON_SCREEN.with(|s| {
        s.borrow().as_ref().map(|on| {
            let change = after_quiet_report(&on.showing, metric, used, limit);
            if change == AfterReport::Refresh {
                on.numbers.set((used, limit));
            }
            change
        })
    });
    if change == Some(AfterReport::Remove) {
        hide();
    }
}

fn event(kind: &str, p: &Planned) -> Object {
    let e = outbox::event(kind, "");
    set(&e, "prompt", &p.id.as_str().into());
    set(&e, "trigger", &p.trigger.as_str().into());
    if let Some((metric, threshold)) = &p.usage {
        set(&e, "metric", &metric.as_str().into());
        set(&e, "threshold", &(*threshold).into());
    }
    if let Some(feature) = &p.feature {
        set(&e, "feature", &feature.as_str().into());
    }
    e
}

fn choose(choice: Choice) {
    let Some(current) = CURRENT.with(|c| c.borrow_mut().take()) else {
        return;
    };
    let p = &current.planned;
    let (kind, call) = match choice {
        Choice::Upgrade => (
            EventType::PromptClicked.as_str(),
            current.on_upgrade.clone(),
        ),
        Choice::Grace => (EventType::PromptClicked.as_str(), None),
        Choice::Trial => (EventType::TrialStarted.as_str(), current.on_trial.clone()),
        Choice::Snooze | Choice::Dismiss => (EventType::PromptDismissed.as_str(), None),
    };
    let e = event(kind, p);
    if choice == Choice::Grace {
        set(&e, "step", &"grace".into());
    }
    if choice == Choice::Snooze {
        set(&e, "snooze_days", &SNOOZE_DAYS.into());
    }
    let session = Reflect::get(&e, &"session_id".into()).unwrap_or_default();
    outbox::push(&current.customer, e);
    if let (Choice::Trial, Some(feature)) = (choice, &p.feature) {
        // The server records the trial (one per feature, re-checked by core) before the host
        // grants it: `onTrial` runs only once the server said yes.
        start_trial(&current.customer, feature, session, call);
        hide();
        return;
    }
    if let Some(f) = call {
        let arg: JsValue = p
            .suggested_plan
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from);
        if let Err(e) = f.call1(&JsValue::NULL, &arg) {
            web_sys::console::error_2(&"Holdfast: callback threw".into(), &e);
        }
    }
    hide();
}

/// Asks the server to start a trial of `feature` (through the loader), which calls `on_trial`
/// with it only if the server did.
fn start_trial(customer: &JsValue, feature: &str, session: JsValue, on_trial: Option<Function>) {
    let body = Object::new();
    set(&body, "customer", customer);
    set(&body, "feature", &feature.into());
    set(&body, "session_id", &session);
    let then = on_trial.map_or(JsValue::UNDEFINED, |f| {
        f.bind1(&JsValue::NULL, &feature.into()).into()
    });
    if let Some(post) = outbox::loader_fn("post") {
        let _ = post.call3(&JsValue::NULL, &"/prompts/trial".into(), &body, &then);
    }
}

/// Removes the prompt on screen, if any (the cancel flow always takes precedence).
pub fn hide() {
    let Some(on) = ON_SCREEN.with(|s| s.borrow_mut().take()) else {
        return;
    };
    CURRENT.with(|c| c.borrow_mut().take());
    drop(on.mounted);
    on.container.remove();
    if let Some(el) = on.restore {
        let _ = el.focus();
    }
}

/// `n` in decimal digits, without pulling `core::fmt` into the bundle.
fn digits(mut n: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.iter().rev().map(|&d| char::from(d)).collect()
}

/// Server-written text: money tokens in the prompt's locale and currency, `{used}` and `{limit}`
/// from the newest numbers.
fn spell(p: &Planned, text: &str, (used, limit): (u64, u64)) -> String {
    let money = |cents| crate::text::money(&p.locale, cents, &p.currency);
    let date = |at| crate::text::date(&p.locale, at);
    let text = expand_tokens(text, &money, &date);
    holdfast_core::i18n::fill(&text, &[("used", &digits(used)), ("limit", &digits(limit))])
}

/// `text` spelled with the newest numbers, as the view's reactive text: one closure type for the
/// title and every line, so the bundle carries one copy of its rendering code.
fn spelled(
    p: &Arc<Planned>,
    text: &str,
    numbers: RwSignal<(u64, u64)>,
) -> impl Fn() -> String + Send + Sync + use<> {
    let (p, text) = (Arc::clone(p), text.to_string());
    move || spell(&p, &text, numbers.get())
}

/// One of the prompt's buttons (the close button too): one view type for all of them, so the
/// bundle carries one copy of a button's rendering. Its `data-choice` is what [`on_event`] acts on.
fn button(
    choice: &'static str,
    class: &'static str,
    testid: &'static str,
    text: String,
    label: Option<String>,
) -> impl IntoView + use<> {
    view! {
        <button class=class type="button" aria-label=label data-testid=testid data-choice=choice>
            {text}
        </button>
    }
}

/// A click on one of the prompt's buttons chooses its `data-choice`; a key in a modal prompt follows
/// the modal's keys (Esc dismisses, Tab stays inside).
fn on_event(ev: &JsValue, modal: bool) {
    if let Some(key) = ev.dyn_ref::<web_sys::KeyboardEvent>() {
        if modal {
            dom::keydown(key, || choose(Choice::Dismiss));
        }
        return;
    }
    let choice = ev
        .unchecked_ref::<web_sys::Event>()
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|t| t.closest("[data-choice]").ok().flatten())
        .and_then(|b| b.get_attribute("data-choice"));
    if let Some((c, ..)) = CHOICES
        .into_iter()
        .find(|(_, n, _)| Some(*n) == choice.as_deref())
    {
        choose(c);
    }
}

fn show(current: Current, showing: Showing, numbers: (u64, u64)) -> Result<(), String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let root = shadow_root(&document).map_err(|_| "could not mount".to_string())?;
    let container = document
        .create_element("div")
        .map_err(|_| "could not mount".to_string())?;
    root.append_child(&container)
        .map_err(|_| "could not mount".to_string())?;
    let p = Arc::clone(&current.planned);
    let kind = p.kind;
    let modal = kind.is_modal();
    // The modal's backdrop is the container itself: one element fewer for the view to build.
    if modal {
        container.set_class_name("hf-backdrop");
    }
    let restore = if modal {
        document
            .active_element()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    } else {
        None
    };
    CURRENT.with(|c| *c.borrow_mut() = Some(current));
    let numbers = RwSignal::new(numbers);
    let dir = if p.rtl { "rtl" } else { "ltr" };
    let view = {
        let p = Arc::clone(&p);
        move || {
            let lines = p
                .lines
                .iter()
                .map(|line| view! { <p class="hf-terms">{spelled(&p, line, numbers)}</p> })
                .collect_view();
            let buttons = p
                .actions
                .iter()
                .enumerate()
                .map(|(i, (choice, label))| {
                    let (name, testid) = CHOICES
                        .into_iter()
                        .find(|(c, ..)| c == choice)
                        .map_or(("", "hf-prompt-action"), |(_, n, t)| (n, t));
                    let class = if i == 0 {
                        "hf-btn hf-primary"
                    } else {
                        "hf-btn"
                    };
                    button(name, class, testid, label.clone(), None)
                })
                .collect_view();
            let close = button(
                "dismiss",
                "hf-close",
                "hf-prompt-dismiss",
                "×".into(),
                Some(p.dismiss.clone()),
            );
            let body = view! {
                {close}
                <h2 id="hf-prompt-title" tabindex="-1">{spelled(&p, &p.title, numbers)}</h2>
                {lines}
                <div class="hf-actions">{buttons}</div>
            };
            // One element for both looks: the modal sits on a backdrop, traps focus and closes on
            // Escape; the nudge is a polite live region in the corner that never takes focus.
            let class = if modal {
                p.class.clone()
            } else {
                [p.class.as_str(), " hf-nudge"].concat()
            };
            view! {
                <div class=class style=p.style.clone() lang=p.locale.clone() dir=dir role=if modal { "dialog" } else { "status" }
                    aria-modal=modal.then_some("true") aria-labelledby=modal.then_some("hf-prompt-title") aria-live=(!modal).then_some("polite")
                    data-testid="hf-prompt" data-kind=kind.as_str()>
                    {body}
                </div>
            }
        }
    };
    if !modal && let Ok(live) = live_region(&document, &root) {
        live.set_text_content(Some(&spell(&p, &p.title, numbers.get_untracked())));
    }
    let mounted = leptos::mount::mount_to(container.clone().unchecked_into(), view);
    // The buttons' clicks and the modal's keys reach one listener on the container, as in the
    // cancel dialog: Leptos's `on:` handlers bring its event machinery, and with it std's thread
    // handle and a second allocator (7 KB brotli of the prompt bundle, measured).
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| on_event(&ev, modal));
    for kind in ["click", "keydown"] {
        let _ = container.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
    }
    ON_SCREEN.with(|s| {
        *s.borrow_mut() = Some(OnScreen {
            mounted: Box::new(mounted),
            _listener: listener,
            container,
            restore,
            showing,
            numbers,
        })
    });
    if modal && let Some(h) = root.query_selector("#hf-prompt-title").ok().flatten() {
        dom::focus(&h);
    }
    Ok(())
}
