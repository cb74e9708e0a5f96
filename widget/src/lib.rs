//! # holdfast-widget
//!
//! The part of Holdfast that runs in the subscriber's browser. The host page loads a tiny loader
//! (`holdfast.js`), which fetches this WebAssembly bundle on idle or at the first call; the bundle
//! mounts its views inside an open Shadow DOM root on a host element appended to `body`, so the
//! host's CSS cannot break the widget and the widget's CSS cannot leak into the host.
//!
//! Decisions (which step comes next, which offer, which policy profile) are made by
//! `holdfast-core`; this crate turns them into DOM, talks to the server and reports outcomes.
//!
//! - [`cancel`]: `Holdfast.cancel(options)`, the cancel flow ([`dialog`]).
//! - [`session`]: the open flow's promise, events and focus.
//! - [`outbox`]: events kept in `localStorage` until the server has them.
//! - [`decode`]: config and options from JavaScript values into core's types.
//! - [`i18n`]: the message catalog and locale formatting.

pub mod decode;
pub mod dialog;
pub mod i18n;
pub mod net;
pub mod outbox;
pub mod plan;
pub mod prompts;
pub mod session;
pub mod text;

use std::sync::Arc;

use holdfast_core::config::AppConfig;
use holdfast_core::policy::PolicyProfile;
use js_sys::{Function, Promise};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{Document, HtmlElement, ShadowRoot, ShadowRootInit, ShadowRootMode};

use crate::decode::field;
use crate::dialog::{CancelDialog, Setup};
use crate::session::{Session, Target};

/// The id of the host element the widget appends to `body`; host pages can use it to find us.
pub const HOST_ID: &str = "holdfast-root";

/// How long the flow waits for the config before it falls back to built-in reasons.
const CONFIG_TIMEOUT_MS: i32 = 3_000;

/// The widget's stylesheet, injected once into the shadow root (never into the host document).
const STYLESHEET: &str = include_str!("../../style/widget.css");

thread_local! {
    /// A plan given by [`use_plan`], used instead of asking the server.
    static PLAN: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    static CONFIG: std::cell::RefCell<Option<Arc<AppConfig>>> = const { std::cell::RefCell::new(None) };
    /// A cancel flow is being opened (its config is loading): a second call must not open another.
    static OPENING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn document() -> Result<Document, JsValue> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("holdfast: no document"))
}

/// Finds or creates the widget's shadow root, so calling it twice never mounts twice.
pub fn shadow_root(document: &Document) -> Result<ShadowRoot, JsValue> {
    if let Some(existing) = document
        .get_element_by_id(HOST_ID)
        .and_then(|host| host.shadow_root())
    {
        return Ok(existing);
    }
    let host = document.create_element("div")?;
    host.set_id(HOST_ID);
    let body = document
        .body()
        .ok_or_else(|| JsValue::from_str("holdfast: the page has no <body> to mount into"))?;
    body.append_child(&host)?;
    let root = host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?;
    let style = document.create_element("style")?;
    style.set_text_content(Some(STYLESHEET));
    root.append_child(&style)?;
    // One polite live region for non-modal prompts: it exists before anything is announced.
    let live = document.create_element("div")?;
    live.set_id("hf-live");
    live.set_class_name("hf-sr");
    live.set_attribute("aria-live", "polite")?;
    live.set_attribute("role", "status")?;
    root.append_child(&live)?;
    Ok(root)
}

/// Mounts the widget's root view into the shadow root and leaves it mounted for the page's life.
pub fn mount(document: &Document) -> Result<ShadowRoot, JsValue> {
    let root = shadow_root(document)?;
    if root.query_selector(".hf-app")?.is_some() {
        return Ok(root);
    }
    let container: HtmlElement = document.create_element("div")?.unchecked_into();
    container.set_class_name("hf-app");
    root.append_child(&container)?;
    // The widget lives as long as the page: the handle is kept alive on purpose.
    std::mem::forget(leptos::mount::mount_to(container, || {
        view! { <div class="hf-root" data-testid="holdfast-ready" data-version=env!("CARGO_PKG_VERSION")></div> }
    }));
    Ok(root)
}

/// Entry point run by the loader once the bundle is instantiated.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    mount(&document()?).map(|_| ())
}

/// `Holdfast` loader hand-off: `{ app, endpoint }` from the script tag.
#[wasm_bindgen]
pub fn configure(options: JsValue) {
    let endpoint = field(&options, "endpoint").as_string().unwrap_or_default();
    let app = field(&options, "app").as_string().unwrap_or_default();
    session::set_target(Target {
        endpoint: endpoint.trim_end_matches('/').to_string(),
        app,
    });
}

/// Uses `config` for the next flows instead of fetching it: for hosts that embed the crate
/// directly, and for tests.
pub fn use_config(config: AppConfig) {
    CONFIG.with(|c| *c.borrow_mut() = Some(Arc::new(config)));
}

/// Uses `plan` (JSON as the server writes it) for the next cancel flows instead of asking the
/// server: for hosts that embed the crate directly, and for tests.
pub fn use_plan(plan: &str) {
    PLAN.with(|p| *p.borrow_mut() = Some(plan.to_string()));
}

/// Forgets the cached config, so the next flow fetches it again (after an admin edit, in tests).
#[wasm_bindgen]
pub fn reset_config() {
    CONFIG.with(|c| *c.borrow_mut() = None);
    PLAN.with(|p| *p.borrow_mut() = None);
}

/// `Holdfast.cancel({ customer, locale?, profile?, period_end?, onOutcome? })`: opens the cancel
/// flow and resolves with `{ outcome: "saved", offer }`, `{ outcome: "cancelled", effective_date? }`
/// or `{ outcome: "abandoned" }`. A wrong call rejects with a `TypeError` naming the field.
#[cfg(feature = "cancel")]
#[wasm_bindgen]
pub fn cancel(options: JsValue) -> Promise {
    let mut fns = None;
    let promise = Promise::new(&mut |resolve, reject| fns = Some((resolve, reject)));
    if let Some((resolve, reject)) = fns {
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(message) = open_cancel(options, resolve).await {
                let message = ["Holdfast.cancel: ", &message].concat();
                web_sys::console::error_1(&message.as_str().into());
                let _ = reject.call1(&JsValue::NULL, &js_sys::TypeError::new(&message));
            }
        });
    }
    promise
}

/// `Holdfast.usage({ customer, metric, used, limit, unlimited?, period_end?, onUpgrade? })`:
/// reports usage of a metric; at 50 and 75% a quiet banner, at 90% a plan comparison, at 100% a
/// "limit reached" dialog. `metric: "seats"` takes `used`/`limit` from the customer's seats and
/// accepts `invites`. Resolves with `{ status: "shown", prompt }` or
/// `{ status: "suppressed", reason }`; a wrong call rejects with a `TypeError` naming the field.
#[cfg(feature = "prompts")]
#[wasm_bindgen]
pub fn usage(options: JsValue) -> Promise {
    prompt_call("usage", options)
}

/// `Holdfast.gate({ customer, feature, onTrial?, onUpgrade? })`: the customer tried a locked
/// feature; from the configured hit on, shows the feature with a free trial offer.
#[cfg(feature = "prompts")]
#[wasm_bindgen]
pub fn gate(options: JsValue) -> Promise {
    prompt_call("gate", options)
}

/// Takes any upgrade prompt off the screen: the loader calls it when the cancel flow opens, since
/// the two bundles share the page but not their memory.
#[cfg(feature = "prompts")]
#[wasm_bindgen]
pub fn hide_prompts() {
    prompts::hide();
}

#[cfg(feature = "prompts")]
fn prompt_call(call: &'static str, options: JsValue) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        prompts::run(call, options).await.map_err(|message| {
            let message = ["Holdfast.", call, ": ", &message].concat();
            web_sys::console::error_1(&message.as_str().into());
            JsValue::from(js_sys::TypeError::new(&message))
        })
    })
}

/// The config for this app: cached after the first fetch; `None` when the server does not answer
/// in time or answers something unusable.
pub(crate) async fn load_config() -> Option<Arc<AppConfig>> {
    if let Some(c) = CONFIG.with(|c| c.borrow().clone()) {
        return Some(c);
    }
    let Target { endpoint, app } = session::target();
    let url = [endpoint.as_str(), "/v1/apps/", &app, "/config"].concat();
    let reply = net::request("GET", &url, None, CONFIG_TIMEOUT_MS, false)
        .await
        .ok()?;
    if !reply.ok() {
        return None;
    }
    match decode::config(&reply.body) {
        Ok(config) => {
            let config = Arc::new(config);
            CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
            Some(config)
        }
        Err(e) => {
            web_sys::console::warn_1(
                &["Holdfast: unusable config, using defaults: ", &e.message()]
                    .concat()
                    .into(),
            );
            None
        }
    }
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

async fn open_cancel(options: JsValue, resolve: Function) -> Result<(), String> {
    if !options.is_object() {
        return Err("expected an options object { customer, ... }".into());
    }
    let customer =
        decode::customer(&field(&options, "customer"), "customer").map_err(|e| e.message())?;
    let on_outcome = match field(&options, "onOutcome") {
        f if f.is_undefined() || f.is_null() => None,
        f => Some(
            f.dyn_into::<Function>()
                .map_err(|_| "onOutcome: expected a function".to_string())?,
        ),
    };
    let explicit_profile = match field(&options, "profile") {
        p if p.is_undefined() || p.is_null() => None,
        p => Some(decode::profile(&p, "profile").map_err(|e| e.message())?),
    };
    let period_end = match field(&options, "period_end") {
        p if p.is_undefined() || p.is_null() => None,
        p => match p.as_string() {
            Some(s) => {
                let ms = js_sys::Date::parse(&s);
                if ms.is_nan() {
                    return Err("period_end: expected Unix seconds or an ISO 8601 date".into());
                }
                Some((ms / 1000.0) as i64)
            }
            None => Some(
                p.as_f64()
                    .ok_or("period_end: expected Unix seconds or an ISO 8601 date")?
                    as i64,
            ),
        },
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

/// The part of [`open_cancel`] after the options are valid; only one runs at a time.
async fn open_session(
    options: JsValue,
    customer: holdfast_core::Customer,
    on_outcome: Option<Function>,
    explicit_profile: Option<PolicyProfile>,
    period_end: Option<i64>,
    resolve: Function,
) -> Result<(), String> {
    #[cfg(feature = "prompts")]
    prompts::hide();

    let languages = browser_languages();
    let browser_country = languages
        .first()
        .and_then(|l| l.split('-').nth(1))
        .map(str::to_string);
    let mut locales: Vec<String> = Vec::new();
    locales.extend(field(&options, "locale").as_string());
    locales.extend(customer.locale.clone());
    locales.extend(languages);
    let customer_js = decode::customer_to_js(&customer);
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
            country: customer.country,
            region: customer.region,
            browser_country,
            plan: customer.plan,
            currency: customer.currency,
        }),
    };
    let setup = Arc::new(Setup {
        rules: plan.profile.rules(plan.max_offer_screens),
        plan,
        period_end,
        now: (js_sys::Date::now() / 1000.0) as i64,
    });

    let document = document().map_err(|_| "no document".to_string())?;
    let root = mount(&document).map_err(|_| "could not mount".to_string())?;
    let container: HtmlElement = document
        .create_element("div")
        .map_err(|_| "could not create the dialog".to_string())?
        .unchecked_into();
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
        mounted: None,
        container: container.clone().into(),
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
    let view_setup = setup.clone();
    let handle = leptos::mount::mount_to(
        container,
        move || view! { <CancelDialog setup=view_setup.clone() /> },
    );
    session::keep_mounted(Box::new(handle));
    Ok(())
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
