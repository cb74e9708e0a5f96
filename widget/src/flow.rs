//! `Holdfast.cancel`: checks the host's options, asks the server for the session's plan (or
//! builds one when the server does not answer in time), opens the session and draws the dialog.

use holdfast_core::policy::PolicyProfile;
use js_sys::Function;
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

use crate::decode::field;
use crate::dialog::{self, Setup};
use crate::session::{self, Session, Target};
use crate::{CONFIG_TIMEOUT_MS, customer, document, mount, net, outbox, plan};

thread_local! {
    /// A plan given by [`crate::use_plan`], used instead of asking the server.
    static PLAN: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// A cancel flow is being opened (its config is loading): a second call must not open another.
    static OPENING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
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

fn iso_date(unix_seconds: i64) -> String {
    let (y, m, d) = holdfast_core::offer::civil_from_days(unix_seconds.div_euclid(86_400));
    let two = |n: u32| {
        if n < 10 {
            ["0", &n.to_string()].concat()
        } else {
            n.to_string()
        }
    };
    [y.to_string(), "-".into(), two(m), "-".into(), two(d)].concat()
}

/// Opens the cancel flow for the host's `options`; an `Err` names the field that is wrong.
pub async fn open(options: JsValue, resolve: Function) -> Result<(), String> {
    if !options.is_object() {
        return Err("expected an options object { customer, ... }".into());
    }
    let customer = customer::normalize(&field(&options, "customer"), "customer")?;
    let on_outcome = match field(&options, "onOutcome") {
        f if f.is_undefined() || f.is_null() => None,
        f => Some(
            f.dyn_into::<Function>()
                .map_err(|_| "onOutcome: expected a function".to_string())?,
        ),
    };
    let explicit_profile = match field(&options, "profile") {
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
    if session::is_open() || OPENING.with(|o| o.replace(true)) {
        return Err("a cancel flow is already open".into());
    }
    let opened = open_session(
        options,
        customer,
        on_outcome,
        explicit_profile,
        period_end,
        resolve,
    )
    .await;
    OPENING.with(|o| o.set(false));
    opened
}

/// The part of [`open`] after the options are valid; only one runs at a time.
async fn open_session(
    options: JsValue,
    customer: js_sys::Object,
    on_outcome: Option<Function>,
    explicit_profile: Option<PolicyProfile>,
    period_end: Option<i64>,
    resolve: Function,
) -> Result<(), String> {
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
    let customer_js: JsValue = customer.clone().into();
    let plan = match load_plan(
        &customer_js,
        &locales,
        explicit_profile,
        browser_country.as_deref(),
    )
    .await
    {
        Some(plan) => plan,
        None => plan::offline(&plan::Local {
            locales,
            profile: explicit_profile,
            country: text("country"),
            region: text("region"),
            browser_country,
            plan: text("plan").unwrap_or_default(),
            currency: text("currency"),
        }),
    };
    let setup = Setup {
        rules: plan.profile.rules(plan.max_offer_screens),
        plan,
        period_end,
        now: (js_sys::Date::now() / 1000.0) as i64,
    };

    let document = document().map_err(|_| "no document".to_string())?;
    let root = mount(&document).map_err(|_| "could not mount".to_string())?;
    let container = document
        .create_element("div")
        .map_err(|_| "could not create the dialog".to_string())?;
    root.append_child(&container)
        .map_err(|_| "could not mount the dialog".to_string())?;
    let restore = document
        .active_element()
        .and_then(|e| e.dyn_into::<HtmlElement>().ok());
    session::open(Session {
        id: outbox::uuid(),
        customer: customer_js,
        resolve,
        on_outcome,
        container: container.clone(),
        restore,
        reason: None,
        effective_date: period_end.map(iso_date),
        finished: false,
    });
    session::emit(
        "flow_started",
        &[
            ("profile", setup.rules.profile.as_str()),
            ("locale", &setup.plan.texts.lang.tag),
        ],
    );
    dialog::open(&container, setup).map_err(|_| "could not draw the dialog".to_string())
}
/// Asks the server for this session's plan; `None` when it does not answer in time or answers
/// something unusable (the flow then runs on the built-in plan).
async fn load_plan(
    customer: &JsValue,
    locales: &[String],
    profile: Option<PolicyProfile>,
    country: Option<&str>,
) -> Option<plan::Plan> {
    if let Some(json) = PLAN.with(|p| p.borrow().clone()) {
        return plan::decode(&js_sys::JSON::parse(&json).ok()?);
    }
    let body = js_sys::Object::new();
    outbox::set(&body, "customer", customer);
    let list = js_sys::Array::new();
    for l in locales {
        list.push(&l.as_str().into());
    }
    outbox::set(&body, "locales", &list);
    if let Some(p) = profile {
        outbox::set(&body, "profile", &p.as_str().into());
    }
    if let Some(c) = country.filter(|c| c.len() == 2) {
        outbox::set(&body, "country", &c.into());
    }
    let body = js_sys::JSON::stringify(&body).ok()?.as_string()?;
    let Target { endpoint, app } = session::target();
    let url = [endpoint.as_str(), "/v1/apps/", &app, "/cancel-plan"].concat();
    let reply = net::request("POST", &url, Some(&body), CONFIG_TIMEOUT_MS, false)
        .await
        .ok()?;
    if !reply.ok() {
        return None;
    }
    let plan = plan::decode(&reply.body);
    if plan.is_none() {
        web_sys::console::warn_1(&"Holdfast: unusable cancel plan, using the built-in one".into());
    }
    plan
}
