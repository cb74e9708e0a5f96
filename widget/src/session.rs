//! The open cancel session and everything it touches outside Leptos: the host's promise and
//! callback, the outbox, the offer-acceptance request, focus handling and unmounting.
//!
//! Kept in a thread-local so that the dialog's reactive closures (which must be `Send`) never
//! capture a `JsValue`; they call these functions instead.

use std::cell::RefCell;

use holdfast_core::events::EventType;
use holdfast_core::flow::Outcome;
use js_sys::{Function, Object};
use wasm_bindgen::prelude::*;

use crate::js::{later, set, text};
use crate::outbox;
use crate::plan::PlanOffer;
use crate::{HOST_ID, net};

/// Where the widget's server is and which app it speaks for.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// Base URL of the server, no trailing slash.
    pub endpoint: String,
    /// Public app id.
    pub app: String,
}

/// One open cancel flow.
pub struct Session {
    /// The session's UUID, on every event.
    pub id: String,
    /// The customer, normalised for the server.
    pub customer: JsValue,
    /// Resolves the host's promise.
    pub resolve: Function,
    /// The host's `onOutcome` callback.
    pub on_outcome: Option<Function>,
    /// The element the dialog is mounted in, inside the shadow root.
    pub container: web_sys::Element,
    /// Where focus was before the dialog opened (the trigger), restored on close.
    pub restore: Option<web_sys::HtmlElement>,
    /// The survey answer, for the acceptance re-check.
    pub reason: Option<String>,
    /// ISO date the paid period ends, for the `cancelled` outcome (the server's, once recorded).
    pub effective_date: Option<String>,
    /// The server recorded the cancellation (`recorded` in the `cancelled` outcome).
    pub recorded: bool,
    /// The outcome has been reported.
    pub finished: bool,
}

thread_local! {
    static TARGET: RefCell<Target> = RefCell::new(Target::default());
    static CURRENT: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// Sets the server and app (from the loader's script tag).
pub fn set_target(target: Target) {
    outbox::configure(&target.endpoint, &target.app);
    TARGET.with(|t| *t.borrow_mut() = target);
}

/// The server and app.
pub fn target() -> Target {
    TARGET.with(|t| t.borrow().clone())
}

/// Whether a cancel flow is on screen.
pub fn is_open() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

/// Makes `session` the open one.
pub fn open(session: Session) {
    CURRENT.with(|c| *c.borrow_mut() = Some(session));
}

/// Records an event of the open session in the outbox; empty values are left out.
pub fn emit(kind: &str, fields: &[(&str, &str)]) {
    CURRENT.with(|c| {
        let c = c.borrow();
        let Some(s) = c.as_ref() else { return };
        let event = outbox::event(kind, &s.id);
        for (k, v) in fields {
            if !v.is_empty() {
                set(&event, k, &(*v).into());
            }
        }
        outbox::push(&s.customer, event);
    });
}

/// Remembers the survey answer.
pub fn set_reason(reason: &str) {
    CURRENT.with(|c| {
        if let Some(s) = c.borrow_mut().as_mut() {
            s.reason = Some(reason.to_string());
        }
    });
}

/// What the server said to an acceptance.
pub enum Acceptance {
    /// Recorded: the customer is saved.
    Accepted,
    /// The server re-checked and refused (not eligible).
    Refused,
    /// No answer: the subscriber may retry or continue to cancel.
    Failed,
}

/// Asks the server to record the acceptance (it re-runs offer selection before it agrees) and
/// tells `done` what it said.
pub fn accept(offer_id: &str, reason: Option<String>, done: Box<dyn FnOnce(Acceptance)>) {
    let body = Object::new();
    set(&body, "event_id", &outbox::uuid().into());
    set(
        &body,
        "reason",
        &reason.map_or(JsValue::NULL, JsValue::from),
    );
    set(&body, "offer_id", &offer_id.into());
    let offer_id = offer_id.to_string();
    post(
        "/offers/accept",
        &body,
        true,
        8_000,
        Box::new(move |answer| {
            done(match answer {
                Ok(_) => {
                    emit(
                        EventType::OfferAccepted.as_str(),
                        &[("offer_id", &offer_id)],
                    );
                    Acceptance::Accepted
                }
                Err(net::Failure::Refused(_)) => Acceptance::Refused,
                Err(net::Failure::Later) => Acceptance::Failed,
            });
        }),
    );
}

/// Asks the server to record the confirmed cancellation, waiting at most a few seconds, and
/// tells `done` whether it did. Either way the `cancel_confirmed` event is in the outbox, and the
/// server records the cancellation from it when it arrives (the call is idempotent per session).
pub fn cancel(profile: &str, period_end: Option<i64>, done: Box<dyn FnOnce(bool)>) {
    emit(EventType::CancelConfirmed.as_str(), &[("profile", profile)]);
    let reason = CURRENT.with(|c| c.borrow().as_ref().and_then(|s| s.reason.clone()));
    let body = Object::new();
    set(&body, "profile", &profile.into());
    if let Some(r) = reason {
        set(&body, "reason", &r.into());
    }
    if let Some(end) = period_end {
        set(&body, "period_end", &(end as f64).into());
    }
    post(
        "/cancel",
        &body,
        false,
        4_000,
        Box::new(move |answer| {
            let body = answer.ok();
            let recorded = body.is_some();
            CURRENT.with(|c| {
                if let Some(s) = c.borrow_mut().as_mut() {
                    s.recorded = recorded;
                    if let Some(date) = body.and_then(|b| text(&b, "effective_date")) {
                        s.effective_date = Some(date);
                    }
                }
            });
            done(recorded);
        }),
    );
}

/// Posts `body` with the open session's customer to the app's `path`: `/offers/accept` (with
/// the session id in the body) or the session's `/cancel`.
fn post(
    path: &str,
    body: &Object,
    session_in_body: bool,
    timeout_ms: i32,
    done: Box<dyn FnOnce(net::Answer)>,
) {
    let Some((customer, session_id)) = CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|s| (s.customer.clone(), s.id.clone()))
    }) else {
        return done(Err(net::Failure::Later));
    };
    // Test mode's plain object may give the period end; a token signs its own.
    if customer.is_string() {
        let _ = js_sys::Reflect::delete_property(body, &"period_end".into());
    }
    set(body, "customer", &customer);
    let Target { endpoint, app } = target();
    let url = if session_in_body {
        set(body, "session_id", &session_id.into());
        net::api_url(&endpoint, &app, path)
    } else {
        net::api_url(&endpoint, &app, &["/sessions/", &session_id, path].concat())
    };
    let Some(payload) = js_sys::JSON::stringify(body)
        .ok()
        .and_then(|s| s.as_string())
    else {
        return done(Err(net::Failure::Later));
    };
    net::request("POST", &url, Some(&payload), timeout_ms, false, done);
}

/// Reports the outcome to the host once: resolves the promise and calls `onOutcome` with
/// `{ outcome: "saved", offer }`, `{ outcome: "cancelled", effective_date? }` or
/// `{ outcome: "abandoned" }`. An abandoned flow also closes.
pub fn finish(outcome: Outcome, offer: Option<&PlanOffer>) {
    let result = Object::new();
    set(&result, "outcome", &outcome.as_str().into());
    let callbacks = CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        let s = c.as_mut()?;
        if s.finished {
            return None;
        }
        s.finished = true;
        if outcome == Outcome::Cancelled {
            if let Some(date) = &s.effective_date {
                set(&result, "effective_date", &date.as_str().into());
            }
            set(&result, "recorded", &s.recorded.into());
        }
        Some((s.resolve.clone(), s.on_outcome.clone()))
    });
    let Some((resolve, on_outcome)) = callbacks else {
        return;
    };
    if let Some(offer) = offer.filter(|_| outcome == Outcome::Saved) {
        set(&result, "offer", &offer_to_js(offer));
    }
    if outcome == Outcome::Abandoned {
        emit(EventType::FlowAbandoned.as_str(), &[]);
    }
    if let Some(f) = on_outcome
        && let Err(e) = f.call1(&JsValue::NULL, &result)
    {
        web_sys::console::error_2(&"Holdfast: onOutcome threw".into(), &e);
    }
    let _ = resolve.call1(&JsValue::NULL, &result);
    if outcome == Outcome::Abandoned {
        // Not from inside the click handler of the view being unmounted.
        later(0, close);
    }
}

/// The offer as the host sees it: `{ id, type, ...terms }`.
pub fn offer_to_js(offer: &PlanOffer) -> JsValue {
    let o = js_sys::JSON::parse(&offer.terms)
        .ok()
        .filter(JsValue::is_object)
        .unwrap_or_else(|| Object::new().into());
    set(o.unchecked_ref(), "id", &offer.id.as_str().into());
    o
}

/// Unmounts the dialog and gives focus back to where it was; an unfinished flow counts as
/// abandoned (closing is never a cancellation).
pub fn close() {
    let unfinished = CURRENT.with(|c| c.borrow().as_ref().is_some_and(|s| !s.finished));
    if unfinished {
        finish(Outcome::Abandoned, None);
        return;
    }
    let Some(session) = CURRENT.with(|c| c.borrow_mut().take()) else {
        return;
    };
    crate::dialog::unmount();
    session.container.remove();
    if let Some(el) = session.restore {
        let _ = el.focus();
    }
}

/// Whether a cancel dialog is on screen, looked up in the DOM so the prompt bundle, which has no
/// session of its own, sees the cancel bundle's dialog too.
pub fn cancel_on_screen() -> bool {
    shadow()
        .and_then(|r| r.query_selector("[data-testid=hf-dialog]").ok().flatten())
        .is_some()
}

fn shadow() -> Option<web_sys::ShadowRoot> {
    web_sys::window()?
        .document()?
        .get_element_by_id(HOST_ID)?
        .shadow_root()
}

/// Focuses the current step's heading once it is rendered, so keyboard and screen-reader users
/// start at the top of each step.
pub fn focus_heading_soon() {
    later(0, || {
        if let Some(h) = shadow().and_then(|r| r.query_selector("#hf-title").ok().flatten()) {
            crate::dialog::focus(&h);
        }
    });
}

/// Esc closes (as abandoned); Tab and Shift+Tab cycle inside the dialog (the modal's focus trap).
pub fn keydown(ev: &web_sys::KeyboardEvent, on_close: impl FnOnce()) {
    match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            on_close();
        }
        "Tab" => {
            let Some(root) = shadow() else { return };
            let Ok(list) = root.query_selector_all(
                ".hf-dialog button:not([disabled]), .hf-dialog a[href], .hf-dialog input:checked, .hf-dialog textarea",
            ) else {
                return;
            };
            let n = list.length();
            if n == 0 {
                return;
            }
            let (first, last) = (list.get(0), list.get(n - 1));
            let active = root.active_element().map(JsValue::from);
            let at = |node: &Option<web_sys::Node>| node.as_ref().map(JsValue::from) == active;
            let target = if ev.shift_key() && (at(&first) || active.is_none()) {
                last
            } else if !ev.shift_key() && at(&last) {
                first
            } else {
                None
            };
            if let Some(el) = target.and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
                ev.prevent_default();
                crate::dialog::focus(&el);
            }
        }
        _ => {}
    }
}
