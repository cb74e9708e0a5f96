//! `Holdfast.cancel`: checks the host's options, asks the server for the session's plan (or
//! builds one when the server does not answer in time), opens the session and draws the dialog.

use holdfast_core::events::EventType;
use holdfast_core::policy::PolicyProfile;
use js_sys::Function;
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

use crate::dialog::{self, Setup};
use crate::dom::{document, shadow_root};
use crate::js::{field, set};
use crate::session::Session;
use crate::{customer, net, outbox, plan};

/// How long the flow waits for its plan before it falls back to built-in reasons.
const CONFIG_TIMEOUT_MS: i32 = 3_000;

thread_local! {
    /// A plan given by [`crate::use_plan`], used instead of asking the server: the host's setting
    /// for every flow of the page, not a part of one flow's state (that is the dialog's).
    static PLAN: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Sets or clears the plan used instead of the server's.
pub fn use_plan(plan: Option<String>) {
    PLAN.with(|p| *p.borrow_mut() = plan);
}

fn browser_languages() -> Vec<String> {
    web_sys::window()
        .map(|w| {
            w.navigator()
                .languages()
                .iter()
                .filter_map(|l| l.as_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `2026-12-14`: the calendar day (UTC) of a moment, as the outcome's `effective_date`.
fn iso_date(unix_seconds: i64) -> String {
    let date = js_sys::Date::new(&JsValue::from(unix_seconds as f64 * 1000.0));
    let iso: String = date.to_iso_string().into();
    iso.chars().take(10).collect()
}

/// Rejects the host's promise with a `TypeError` that says what is wrong, and logs it.
fn refuse(reject: &Function, message: &str) {
    let message = ["Holdfast.cancel: ", message].concat();
    web_sys::console::error_1(&message.as_str().into());
    let _ = reject.call1(&JsValue::NULL, &js_sys::TypeError::new(&message));
}

/// Opens the cancel flow for the host's `options`; a wrong option rejects naming the field.
pub fn open(options: JsValue, resolve: Function, reject: Function) {
    if let Err(message) = start(options, resolve, &reject) {
        refuse(&reject, &message);
    }
}

fn start(options: JsValue, resolve: Function, reject: &Function) -> Result<(), String> {
    if !options.is_object() {
        return Err("expected an options object { customer, ... }".into());
    }
    let subject = customer::accept(&field(&options, "customer"), "customer")?;
    let customer = subject.view;
    let on_outcome = match field(&options, "onOutcome") {
        f if f.is_undefined() || f.is_null() => None,
        f => Some(
            f.dyn_into::<Function>()
                .map_err(|_| "onOutcome: expected a function".to_string())?,
        ),
    };
    let profile = match field(&options, "profile") {
        p if p.is_undefined() || p.is_null() => None,
        p => Some(
            p.as_string()
                .and_then(|name| PolicyProfile::ALL.into_iter().find(|x| x.as_str() == name))
                .ok_or("profile: expected standard, california, minnesota, germany or france")?,
        ),
    };
    let period_end = match field(&options, "period_end") {
        p if p.is_undefined() || p.is_null() => None,
        p => {
            let seconds = match p.as_string() {
                Some(s) => js_sys::Date::parse(&s) / 1000.0,
                None => p.as_f64().unwrap_or(f64::NAN),
            };
            if !seconds.is_finite() {
                return Err("period_end: expected Unix seconds or an ISO 8601 date".into());
            }
            Some(seconds as i64)
        }
    };
    if !dialog::reserve() {
        return Err("a cancel flow is already open".into());
    }
    #[cfg(feature = "prompts")]
    crate::prompts::hide();

    let languages = browser_languages();
    let browser_country = languages
        .first()
        .and_then(|l| l.split('-').nth(1))
        .map(str::to_string);
    let text = |k| customer::text(&customer, k);
    let mut locales: Vec<String> = Vec::new();
    locales.extend(field(&options, "locale").as_string());
    locales.extend(text("locale"));
    locales.extend(languages);
    let local = plan::Local {
        profile,
        country: text("country"),
        region: text("region"),
        browser_country,
        plan: text("plan").unwrap_or_default(),
        currency: text("currency"),
        locales,
    };
    let customer = subject.wire;
    let reject = reject.clone();
    let request = plan_request(&customer, &local);
    load_plan(request, move |plan| {
        let plan = plan.unwrap_or_else(|| plan::offline(&local));
        let opened = show(Opening {
            customer,
            plan,
            on_outcome,
            period_end,
            resolve,
        });
        if let Err(message) = opened {
            dialog::release();
            refuse(&reject, &message);
        }
    });
    Ok(())
}

/// A valid call, about to open.
struct Opening {
    customer: JsValue,
    plan: plan::Plan,
    on_outcome: Option<Function>,
    period_end: Option<i64>,
    resolve: Function,
}

/// Opens the session and draws the dialog.
fn show(o: Opening) -> Result<(), String> {
    let setup = Setup {
        rules: o.plan.profile.rules(o.plan.max_offer_screens),
        plan: o.plan,
        period_end: o.period_end,
        now: (js_sys::Date::now() / 1000.0) as i64,
    };
    let fail = |_| "could not draw the dialog".to_string();
    let document = document().map_err(fail)?;
    let root = shadow_root(&document).map_err(fail)?;
    let container = document.create_element("div").map_err(fail)?;
    root.append_child(&container).map_err(fail)?;
    let restore = document
        .active_element()
        .and_then(|e| e.dyn_into::<HtmlElement>().ok());
    let session = Session {
        id: outbox::uuid(),
        customer: o.customer,
        resolve: o.resolve,
        on_outcome: o.on_outcome,
        reason: None,
        effective_date: o.period_end.map(iso_date),
        recorded: false,
        finished: false,
    };
    session.emit(
        EventType::FlowStarted,
        &[
            ("profile", setup.rules.profile.as_str()),
            ("locale", &setup.plan.texts.lang.tag),
        ],
    );
    dialog::open(container, restore, session, setup).map_err(fail)
}

/// The body of the plan request: the customer, their locales, the host's profile and the
/// browser's country.
fn plan_request(customer: &JsValue, local: &plan::Local) -> Option<String> {
    let body = js_sys::Object::new();
    set(&body, "customer", customer);
    let list = js_sys::Array::new();
    for l in &local.locales {
        list.push(&l.as_str().into());
    }
    set(&body, "locales", &list);
    if let Some(p) = local.profile {
        set(&body, "profile", &p.as_str().into());
    }
    if let Some(c) = local.browser_country.as_deref().filter(|c| c.len() == 2) {
        set(&body, "country", &c.into());
    }
    js_sys::JSON::stringify(&body).ok()?.as_string()
}

/// Asks the server for this session's plan; `done` gets `None` when it does not answer in time or
/// answers something unusable (the flow then runs on the built-in plan).
fn load_plan(body: Option<String>, done: impl FnOnce(Option<plan::Plan>) + 'static) {
    if let Some(json) = PLAN.with(|p| p.borrow().clone()) {
        return done(
            js_sys::JSON::parse(&json)
                .ok()
                .and_then(|v| plan::decode(&v)),
        );
    }
    let Some(body) = body else {
        return done(None);
    };
    let url = net::target().unwrap_or_default().url("/cancel-plan");
    net::request(
        "POST",
        &url,
        Some(&body),
        CONFIG_TIMEOUT_MS,
        false,
        |answer| {
            let plan = answer.ok().and_then(|body| plan::decode(&body));
            if plan.is_none() {
                web_sys::console::warn_1(
                    &"Holdfast: no cancel plan from the server, using the built-in one".into(),
                );
            }
            done(plan);
        },
    );
}
