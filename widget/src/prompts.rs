//! Upgrade prompts: `Holdfast.usage` and `Holdfast.gate`.
//!
//! `holdfast-core` decides ([`holdfast_core::prompts::evaluate`]); this module supplies what it
//! decides from (the config, the customer's prompt history from the server, cached in
//! `localStorage` so caps hold offline and across reloads) and renders the answer: a quiet
//! non-modal nudge announced through an `aria-live` region, or a modal dialog for the 100% limit and
//! the locked feature. Only one prompt is on screen at a time, and never over the cancel flow.

use std::cell::RefCell;
use std::sync::Arc;

use holdfast_core::caps::{History, Impression, Snooze, Trigger};
use holdfast_core::config::AppConfig;
use holdfast_core::customer::{Customer, DAY};
use holdfast_core::prompts::{Ask, Prompt, PromptKind, evaluate};
use js_sys::{Function, JSON, Object};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

use crate::decode::{self, field};
use crate::i18n::Messages;
use crate::outbox::{self, set};
use crate::session::{self, Target};
use crate::{net, shadow_root};

/// Days a "remind me later" snoozes a prompt.
const SNOOZE_DAYS: u32 = 7;

/// The prompt on screen.
struct OnScreen {
    mounted: Box<dyn std::any::Any>,
    container: web_sys::Element,
    restore: Option<web_sys::HtmlElement>,
}

thread_local! {
    static ON_SCREEN: RefCell<Option<OnScreen>> = const { RefCell::new(None) };
}

/// Whether a prompt is showing.
pub fn is_showing() -> bool {
    ON_SCREEN.with(|s| s.borrow().is_some())
}

fn cache_key(app: &str, customer: &str) -> String {
    ["holdfast:prompts:", app, ":", customer].concat()
}

/// The customer's prompt state: impressions, snoozes and gate hits.
#[derive(Default)]
struct State {
    history: History,
    gate_hits: Vec<(String, u32)>,
}

fn read_state(v: &JsValue) -> State {
    let num = |v: JsValue| v.as_f64().unwrap_or(0.0) as i64;
    let text = |v: JsValue| v.as_string().unwrap_or_default();
    let list = |k: &str| decode::list(&field(v, k), k).unwrap_or_default();
    State {
        history: History {
            impressions: list("impressions")
                .iter()
                .map(|i| Impression {
                    prompt: text(field(i, "prompt")),
                    at: num(field(i, "at")),
                    trigger_key: text(field(i, "trigger_key")),
                })
                .collect(),
            snoozes: list("snoozes")
                .iter()
                .map(|s| Snooze {
                    prompt: text(field(s, "prompt")),
                    until: num(field(s, "until")),
                })
                .collect(),
        },
        gate_hits: decode_hits(&field(v, "gate_hits")),
    }
}

fn decode_hits(v: &JsValue) -> Vec<(String, u32)> {
    if !v.is_object() {
        return Vec::new();
    }
    Object::entries(v.unchecked_ref())
        .iter()
        .filter_map(|pair| {
            let pair: js_sys::Array = pair.unchecked_into();
            Some((pair.get(0).as_string()?, pair.get(1).as_f64()? as u32))
        })
        .collect()
}

fn write_state(state: &State) -> JsValue {
    let o = Object::new();
    let impressions = js_sys::Array::new();
    for i in &state.history.impressions {
        let e = Object::new();
        set(&e, "prompt", &i.prompt.as_str().into());
        set(&e, "at", &(i.at as f64).into());
        set(&e, "trigger_key", &i.trigger_key.as_str().into());
        impressions.push(&e);
    }
    let snoozes = js_sys::Array::new();
    for s in &state.history.snoozes {
        let e = Object::new();
        set(&e, "prompt", &s.prompt.as_str().into());
        set(&e, "until", &(s.until as f64).into());
        snoozes.push(&e);
    }
    let hits = Object::new();
    for (k, n) in &state.gate_hits {
        set(&hits, k, &(*n).into());
    }
    set(&o, "impressions", &impressions);
    set(&o, "snoozes", &snoozes);
    set(&o, "gate_hits", &hits);
    o.into()
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn load_cached(key: &str) -> State {
    storage()
        .and_then(|s| s.get_item(key).ok()?)
        .and_then(|t| JSON::parse(&t).ok())
        .map(|v| read_state(&v))
        .unwrap_or_default()
}

fn save_cached(key: &str, state: &State) {
    if let (Some(s), Some(text)) = (
        storage(),
        JSON::stringify(&write_state(state))
            .ok()
            .and_then(|t| t.as_string()),
    ) {
        let _ = s.set_item(key, &text);
    }
}

/// The server's state for the customer merged with what this browser recorded and has not yet
/// delivered (the union, so a prompt shown offline still counts against the caps).
async fn load_state(customer: &JsValue, id: &str) -> State {
    let Target { endpoint, app } = session::target();
    let key = cache_key(&app, id);
    let mut state = load_cached(&key);
    let body = Object::new();
    set(&body, "customer", customer);
    let url = [endpoint.as_str(), "/v1/apps/", &app, "/prompts/state"].concat();
    if let Some(payload) = JSON::stringify(&body).ok().and_then(|s| s.as_string())
        && let Ok(reply) = net::fetch("POST", &url, Some(&payload), 1_500).await
        && reply.ok()
    {
        let server = read_state(&reply.body);
        for i in server.history.impressions {
            if !state.history.impressions.contains(&i) {
                state.history.impressions.push(i);
            }
        }
        for s in server.history.snoozes {
            if !state.history.snoozes.contains(&s) {
                state.history.snoozes.push(s);
            }
        }
        for (k, n) in server.gate_hits {
            match state.gate_hits.iter_mut().find(|(f, _)| *f == k) {
                Some((_, local)) => *local = (*local).max(n),
                None => state.gate_hits.push((k, n)),
            }
        }
        state.history.impressions.sort_by_key(|i| i.at);
        save_cached(&key, &state);
    }
    state
}

/// `Holdfast.usage` and `Holdfast.gate`: evaluates, shows if earned, and reports what happened.
pub async fn run(call: &str, options: JsValue) -> Result<JsValue, String> {
    if !options.is_object() {
        return Err("expected an options object { customer, ... }".into());
    }
    let (customer, customer_js) = decode::customer(&field(&options, "customer"), "customer")?;
    let callback = |k: &str| field(&options, k).dyn_into::<Function>().ok();
    let num = |k: &str| -> Result<Option<f64>, String> {
        let v = field(&options, k);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        match v.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
            _ => Err([k, ": expected a number of 0 or more"].concat()),
        }
    };
    let metric = field(&options, "metric").as_string();
    let feature = field(&options, "feature").as_string();
    let now_ms = js_sys::Date::now();
    let now = (now_ms / 1000.0) as i64;
    let config = crate::load_config()
        .await
        .unwrap_or_else(|| Arc::new(AppConfig::default()));
    let Target { app, .. } = session::target();
    let key = cache_key(&app, &customer.id);
    let mut state = load_state(&customer_js, &customer.id).await;

    let ask = match call {
        "gate" => {
            let feature = feature
                .as_deref()
                .filter(|f| !f.is_empty())
                .ok_or("feature: expected a non-empty string")?;
            let hits = match state.gate_hits.iter_mut().find(|(f, _)| f == feature) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    state.gate_hits.push((feature.to_string(), 1));
                    1
                }
            };
            save_cached(&key, &state);
            let e = outbox::event("gate_hit", "");
            set(&e, "feature", &feature.into());
            outbox::push(&customer_js, e);
            Ask::Gate { feature, hits }
        }
        _ => {
            let metric = metric
                .as_deref()
                .filter(|m| !m.is_empty())
                .ok_or("metric: expected a non-empty string")?;
            if metric == "seats" {
                Ask::Seats {
                    used: num("used")?.map_or(customer.seats_used.unwrap_or(0), |n| n as u32),
                    limit: num("limit")?.map_or(customer.seats_limit.unwrap_or(0), |n| n as u32),
                    invites: num("invites")?.unwrap_or(0.0) as u32,
                }
            } else {
                Ask::Usage {
                    metric,
                    used: num("used")?.ok_or("used: expected a number of 0 or more")? as u64,
                    limit: num("limit")?.unwrap_or(0.0) as u64,
                    unlimited: field(&options, "unlimited").as_bool().unwrap_or(false),
                    period_end: num("period_end")?.map(|n| n as i64),
                }
            }
        }
    };
    let on_screen = is_showing() || session::cancel_on_screen();
    let result = Object::new();
    match evaluate(&config, &customer, &ask, &state.history, on_screen, now) {
        Err(quiet) => {
            set(&result, "status", &"suppressed".into());
            set(&result, "reason", &quiet.code().into());
        }
        Ok(prompt) => {
            state
                .history
                .impressions
                .push(Impression::new(prompt.id, &prompt.trigger, now));
            save_cached(&key, &state);
            let e = event("prompt_shown", &prompt);
            // The impression's own instant, so the server's copy of it falls in the second cached
            // here (a server state fetched across a second boundary would otherwise count it
            // twice) and keeps its millisecond, which orders two impressions of one second when
            // an upgrade is credited to the latest.
            set(&e, "at", &JsValue::from_f64(now_ms));
            if let Ask::Usage { used, limit, .. } = &ask {
                set(
                    &e,
                    "step",
                    &[used.to_string(), "/".into(), limit.to_string()]
                        .concat()
                        .into(),
                );
            }
            outbox::push(&customer_js, e);
            let summary = Object::new();
            set(&summary, "id", &prompt.id.into());
            set(&summary, "kind", &prompt.kind.as_str().into());
            set(&summary, "trigger", &prompt.trigger.key().into());
            if let Some(plan) = &prompt.suggest {
                set(&summary, "suggested_plan", &plan.id.as_str().into());
            }
            set(&result, "status", &"shown".into());
            set(&result, "prompt", &summary);
            let mut wanted: Vec<String> = Vec::new();
            wanted.extend(field(&options, "locale").as_string());
            wanted.extend(customer.locale.clone());
            wanted.push(config.locale.default.clone());
            let messages = Messages::resolve(&wanted, &config.locale.messages);
            show(Shown {
                prompt,
                ask_used: match ask {
                    Ask::Usage {
                        used,
                        limit,
                        metric,
                        ..
                    } => Some((used, limit, metric.to_string())),
                    Ask::Seats { used, limit, .. } => {
                        Some((u64::from(used), u64::from(limit), "seats".into()))
                    }
                    Ask::Gate { .. } => None,
                },
                feature,
                messages,
                customer,
                customer_js,
                state_key: key,
                on_upgrade: callback("onUpgrade"),
                on_trial: callback("onTrial"),
            })?;
        }
    }
    Ok(result.into())
}

fn event(kind: &str, prompt: &Prompt) -> Object {
    let e = outbox::event(kind, "");
    set(&e, "prompt", &prompt.id.into());
    set(&e, "trigger", &prompt.trigger.key().into());
    match &prompt.trigger {
        Trigger::Usage {
            metric, threshold, ..
        } => {
            set(&e, "metric", &metric.as_str().into());
            set(&e, "threshold", &threshold.percent().into());
        }
        Trigger::Gate { feature } => set(&e, "feature", &feature.as_str().into()),
        Trigger::Seats => {}
    }
    e
}

/// What a shown prompt needs after the decision.
struct Shown {
    prompt: Prompt,
    ask_used: Option<(u64, u64, String)>,
    feature: Option<String>,
    messages: Messages,
    customer: Customer,
    customer_js: JsValue,
    state_key: String,
    on_upgrade: Option<Function>,
    on_trial: Option<Function>,
}

/// What a prompt button does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Choice {
    Upgrade,
    Grace,
    Trial,
    Snooze,
    Dismiss,
}

thread_local! {
    static CURRENT: RefCell<Option<Shown>> = const { RefCell::new(None) };
}

fn choose(choice: Choice) {
    let Some(shown) = CURRENT.with(|c| c.borrow_mut().take()) else {
        return;
    };
    let p = &shown.prompt;
    let (kind, call) = match choice {
        Choice::Upgrade => ("prompt_clicked", shown.on_upgrade.clone()),
        Choice::Grace => ("prompt_clicked", None),
        Choice::Trial => ("trial_started", shown.on_trial.clone()),
        Choice::Snooze | Choice::Dismiss => ("prompt_dismissed", None),
    };
    let e = event(kind, p);
    if choice == Choice::Grace {
        set(&e, "step", &"grace".into());
    }
    if choice == Choice::Snooze {
        set(&e, "snooze_days", &SNOOZE_DAYS.into());
        let mut state = load_cached(&shown.state_key);
        let now = (js_sys::Date::now() / 1000.0) as i64;
        state.history.snoozes.push(Snooze {
            prompt: p.id.to_string(),
            until: now + i64::from(SNOOZE_DAYS) * DAY,
        });
        save_cached(&shown.state_key, &state);
    }
    let session = js_sys::Reflect::get(&e, &"session_id".into()).unwrap_or_default();
    outbox::push(&shown.customer_js, e);
    if let (Choice::Trial, Some(feature)) = (choice, &shown.feature) {
        // The server records the trial (one per feature, re-checked by core) before the host
        // grants it: `onTrial` runs only once the server said yes.
        start_trial(&shown.customer_js, feature, session, call);
        hide();
        return;
    }
    if let Some(f) = call {
        let arg: JsValue = match (&p.suggest, &shown.feature) {
            (_, Some(feature)) if choice == Choice::Trial => feature.as_str().into(),
            (Some(plan), _) => plan.id.as_str().into(),
            _ => JsValue::NULL,
        };
        if let Err(e) = f.call1(&JsValue::NULL, &arg) {
            web_sys::console::error_2(&"Holdfast: callback threw".into(), &e);
        }
    }
    let _ = &shown.customer;
    hide();
}

/// Asks the server to start a trial of `feature`, then calls `on_trial` with it if it did.
fn start_trial(customer: &JsValue, feature: &str, session: JsValue, on_trial: Option<Function>) {
    let body = Object::new();
    set(&body, "customer", customer);
    set(&body, "feature", &feature.into());
    set(&body, "session_id", &session);
    let Some(payload) = js_sys::JSON::stringify(&body)
        .ok()
        .and_then(|s| s.as_string())
    else {
        return;
    };
    let Target { endpoint, app } = session::target();
    let url = [endpoint.as_str(), "/v1/apps/", &app, "/prompts/trial"].concat();
    let feature = feature.to_string();
    wasm_bindgen_futures::spawn_local(async move {
        // The gate hits that earned the trial may still be on their way from the outbox: a
        // refusal for too few hits is asked again a few times.
        let mut answer = net::fetch("POST", &url, Some(&payload), 8_000).await;
        for _ in 0..4 {
            if !matches!(&answer, Ok(r) if r.status == 403) {
                break;
            }
            let wait = js_sys::Promise::new(&mut |resolve, _| {
                net::later(700, move || {
                    let _ = resolve.call0(&JsValue::NULL);
                })
            });
            let _ = wasm_bindgen_futures::JsFuture::from(wait).await;
            answer = net::fetch("POST", &url, Some(&payload), 8_000).await;
        }
        match answer {
            Ok(reply) if reply.ok() => {
                if let Some(f) = on_trial
                    && let Err(e) = f.call1(&JsValue::NULL, &feature.as_str().into())
                {
                    web_sys::console::error_2(&"Holdfast: onTrial threw".into(), &e);
                }
            }
            Ok(reply) => {
                web_sys::console::warn_2(&"Holdfast: the trial was not started".into(), &reply.body)
            }
            Err(e) => {
                web_sys::console::warn_2(&"Holdfast: the trial could not be started".into(), &e)
            }
        }
    });
}

/// Removes the prompt on screen, if any (the cancel flow always takes precedence).
pub fn hide() {
    let Some(on) = ON_SCREEN.with(|s| s.borrow_mut().take()) else {
        return;
    };
    drop(on.mounted);
    on.container.remove();
    if let Some(el) = on.restore {
        let _ = el.focus();
    }
}

/// The lines and buttons of a prompt, from its kind.
/// A button of a prompt: label, test id, what it does.
type PromptButton = (String, &'static str, Choice);

fn content(s: &Shown) -> (String, Vec<String>, Vec<PromptButton>) {
    let m = &s.messages;
    let p = &s.prompt;
    let plan = p.suggest.as_ref();
    let upgrade = (
        plan.map_or_else(
            || m.get("prompt.upgrade_generic"),
            |pl| m.fill("prompt.upgrade", &[("plan", &pl.name)]),
        ),
        "hf-prompt-upgrade",
        Choice::Upgrade,
    );
    let (used, limit, metric) = s.ask_used.clone().unwrap_or_default();
    let (used, limit) = (used.to_string(), limit.to_string());
    let usage_args = [
        ("used", used.as_str()),
        ("limit", limit.as_str()),
        ("metric", metric.as_str()),
    ];
    let price = |pl: &holdfast_core::config::Plan| {
        m.fill(
            "prompt.per_month",
            &[("price", &m.money(pl.price_cents, &pl.currency))],
        )
    };
    let comparison = || {
        let mut lines = Vec::new();
        if let (Some(cur), Some(next)) = (&p.current, plan) {
            lines.push(
                [
                    m.get("prompt.current"),
                    ": ".into(),
                    cur.name.clone(),
                    " · ".into(),
                    price(cur),
                    " · ".into(),
                    cur.features.join(", "),
                ]
                .concat(),
            );
            lines.push(
                [
                    m.get("prompt.suggested"),
                    ": ".into(),
                    next.name.clone(),
                    " · ".into(),
                    price(next),
                    " · ".into(),
                    next.features.join(", "),
                ]
                .concat(),
            );
        }
        lines
    };
    let snooze = (m.get("prompt.snooze"), "hf-prompt-snooze", Choice::Snooze);
    match p.kind {
        PromptKind::Banner => {
            let percent = match &p.trigger {
                Trigger::Usage { threshold, .. } => threshold.percent().to_string(),
                _ => String::new(),
            };
            (
                m.fill(
                    "prompt.banner",
                    &[("percent", &percent), ("metric", &metric)],
                ),
                vec![],
                vec![upgrade, snooze],
            )
        }
        PromptKind::Compare => {
            let mut lines = vec![m.fill("prompt.usage.body", &usage_args)];
            lines.extend(comparison());
            (
                m.fill("prompt.compare.title", &[("metric", &metric)]),
                lines,
                vec![upgrade, snooze],
            )
        }
        PromptKind::LimitReached => {
            let mut lines = vec![
                m.fill("prompt.usage.body", &usage_args),
                m.get("prompt.limit.body"),
            ];
            lines.extend(comparison());
            let mut buttons = vec![upgrade];
            if let Some(days) = p.grace_days {
                buttons.push((
                    m.plural(
                        "prompt.grace",
                        u32::from(days),
                        &[("days", &days.to_string())],
                    ),
                    "hf-prompt-grace",
                    Choice::Grace,
                ));
            }
            (
                m.fill("prompt.limit.title", &[("metric", &metric)]),
                lines,
                buttons,
            )
        }
        PromptKind::GateTrial => {
            let days = p.trial_days.unwrap_or(7);
            let feature = s.feature.clone().unwrap_or_default();
            (
                m.fill("prompt.gate.title", &[("feature", &feature)]),
                vec![m.plural(
                    "prompt.gate.body",
                    u32::from(days),
                    &[("days", &days.to_string())],
                )],
                vec![
                    (m.get("prompt.gate.trial"), "hf-prompt-trial", Choice::Trial),
                    (
                        m.get("prompt.not_now"),
                        "hf-prompt-not-now",
                        Choice::Dismiss,
                    ),
                ],
            )
        }
        PromptKind::SeatsTeam => {
            let mut lines =
                vec![m.fill("prompt.seats.body", &[("used", &used), ("limit", &limit)])];
            lines.extend(comparison());
            (m.get("prompt.seats.title"), lines, vec![upgrade, snooze])
        }
    }
}

fn show(shown: Shown) -> Result<(), String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let root = shadow_root(&document).map_err(|_| "could not mount".to_string())?;
    let container = document
        .create_element("div")
        .map_err(|_| "could not mount".to_string())?;
    root.append_child(&container)
        .map_err(|_| "could not mount".to_string())?;
    let (title, lines, buttons) = content(&shown);
    let title_text = title.clone();
    let kind = shown.prompt.kind;
    let modal = kind.is_modal();
    let dismiss = shown.messages.get("prompt.dismiss");
    let restore = if modal {
        document
            .active_element()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    } else {
        None
    };
    CURRENT.with(|c| *c.borrow_mut() = Some(shown));
    let view = move || {
        let lines = lines
            .iter()
            .map(|l| view! { <p class="hf-terms">{l.clone()}</p> })
            .collect_view();
        let buttons = buttons
            .iter()
            .enumerate()
            .map(|(i, (label, testid, choice))| {
                let choice = *choice;
                let class = if i == 0 { "hf-btn hf-primary" } else { "hf-btn" };
                view! { <button class=class type="button" data-testid=*testid on:click=move |_| choose(choice)>{label.clone()}</button> }
            })
            .collect_view();
        let body = view! {
            <button class="hf-close" type="button" aria-label=dismiss.clone() data-testid="hf-prompt-dismiss" on:click=move |_| choose(Choice::Dismiss)>"×"</button>
            <h2 id="hf-prompt-title" tabindex="-1">{title.clone()}</h2>
            {lines}
            <div class="hf-actions">{buttons}</div>
        };
        if modal {
            view! {
                <div class="hf-backdrop">
                    <div class="hf-dialog" role="dialog" aria-modal="true" aria-labelledby="hf-prompt-title" data-testid="hf-prompt" data-kind=kind.as_str()
                        on:keydown=move |ev| session::keydown(&ev, || choose(Choice::Dismiss))>
                        {body}
                    </div>
                </div>
            }
            .into_any()
        } else {
            view! {
                <div class="hf-nudge hf-dialog" role="status" aria-live="polite" data-testid="hf-prompt" data-kind=kind.as_str()>{body}</div>
            }
            .into_any()
        }
    };
    if !modal && let Some(live) = root.get_element_by_id("hf-live") {
        live.set_text_content(Some(&title_text));
    }
    let mounted = leptos::mount::mount_to(container.clone().unchecked_into(), view);
    ON_SCREEN.with(|s| {
        *s.borrow_mut() = Some(OnScreen {
            mounted: Box::new(mounted),
            container,
            restore,
        })
    });
    if modal && let Some(h) = root.query_selector("#hf-prompt-title").ok().flatten() {
        crate::dialog::focus(&h);
    }
    Ok(())
}
