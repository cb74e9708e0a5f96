//! One cancel session's conversations beyond the dialog's DOM: its events into the outbox, the
//! offer acceptance and the cancellation sent to the server, and the outcome reported to the
//! host's promise and `onOutcome`.
//!
//! A [`Session`] is a plain value owned by the open dialog (`crate::dialog`), which is the only
//! place that keeps it; this module imports nothing of the flow, so nothing here calls back into
//! the dialog: the server's answers come back through the callbacks the dialog passes in, and the
//! outcome through a [`Report`] the dialog delivers once it no longer holds its own state (the
//! host's `onOutcome` may call the widget again).

use holdfast_core::events::EventType;
use holdfast_core::flow::Outcome;
use js_sys::{Function, Object};
use wasm_bindgen::prelude::*;

use crate::js::{set, text};
use crate::plan::PlanOffer;
use crate::{net, outbox};

/// One open cancel flow, as the host and the server know it.
pub struct Session {
    /// The session's UUID, on every event.
    pub id: String,
    /// The customer, normalised for the server.
    pub customer: JsValue,
    /// Resolves the host's promise.
    pub resolve: Function,
    /// The host's `onOutcome` callback.
    pub on_outcome: Option<Function>,
    /// The survey answer sent, for the acceptance re-check and the cancellation.
    pub reason: Option<String>,
    /// ISO date the paid period ends, for the `cancelled` outcome (the server's, once recorded).
    pub effective_date: Option<String>,
    /// The server recorded the cancellation (`recorded` in the `cancelled` outcome).
    pub recorded: bool,
    /// The outcome has been reported.
    pub finished: bool,
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

/// The outcome for the host, to deliver once the dialog's state is no longer borrowed.
pub struct Report {
    /// How the flow ended.
    pub outcome: Outcome,
    result: Object,
    resolve: Function,
    on_outcome: Option<Function>,
}

impl Report {
    /// Calls `onOutcome` with the result, then resolves the host's promise with it.
    pub fn deliver(self) {
        if let Some(f) = self.on_outcome
            && let Err(e) = f.call1(&JsValue::NULL, &self.result)
        {
            web_sys::console::error_2(&"Holdfast: onOutcome threw".into(), &e);
        }
        let _ = self.resolve.call1(&JsValue::NULL, &self.result);
    }
}

impl Session {
    /// Records an event of the session in the outbox; empty values are left out.
    pub fn emit(&self, kind: EventType, fields: &[(&str, &str)]) {
        let event = outbox::event(kind.as_str(), &self.id);
        for (k, v) in fields {
            if !v.is_empty() {
                set(&event, k, &(*v).into());
            }
        }
        outbox::push(&self.customer, event);
    }

    /// Asks the server to record the acceptance (it re-runs offer selection before it agrees) and
    /// tells `done` what it said.
    pub fn accept(&self, offer_id: &str, done: Box<dyn FnOnce(Acceptance)>) {
        let body = Object::new();
        set(&body, "event_id", &outbox::uuid().into());
        set(
            &body,
            "reason",
            &self.reason.clone().map_or(JsValue::NULL, JsValue::from),
        );
        set(&body, "offer_id", &offer_id.into());
        self.post(
            "/offers/accept",
            &body,
            true,
            8_000,
            Box::new(move |answer| {
                done(match answer {
                    Ok(_) => Acceptance::Accepted,
                    Err(net::Failure::Refused(_)) => Acceptance::Refused,
                    Err(net::Failure::Later) => Acceptance::Failed,
                });
            }),
        );
    }

    /// Asks the server to record the confirmed cancellation, waiting at most a few seconds, and
    /// gives `done` its answer for [`Session::cancelled`] (`None`: no answer). Either way the
    /// `cancel_confirmed` event is in the outbox, and the server records the cancellation from it
    /// when it arrives (the call is idempotent per session).
    pub fn cancel(
        &self,
        profile: &str,
        period_end: Option<i64>,
        done: Box<dyn FnOnce(Option<JsValue>)>,
    ) {
        self.emit(EventType::CancelConfirmed, &[("profile", profile)]);
        let body = Object::new();
        set(&body, "profile", &profile.into());
        if let Some(r) = &self.reason {
            set(&body, "reason", &r.as_str().into());
        }
        if let Some(end) = period_end {
            set(&body, "period_end", &(end as f64).into());
        }
        self.post(
            "/cancel",
            &body,
            false,
            4_000,
            Box::new(move |answer| done(answer.ok())),
        );
    }

    /// Takes in the server's answer to [`Session::cancel`]; returns whether it recorded it.
    pub fn cancelled(&mut self, answer: Option<JsValue>) -> bool {
        self.recorded = answer.is_some();
        if let Some(date) = answer.and_then(|b| text(&b, "effective_date")) {
            self.effective_date = Some(date);
        }
        self.recorded
    }

    /// Posts `body` with the session's customer to the app's `path`: `/offers/accept` (with the
    /// session id in the body) or the session's `/cancel`.
    fn post(
        &self,
        path: &str,
        body: &Object,
        session_in_body: bool,
        timeout_ms: i32,
        done: Box<dyn FnOnce(net::Answer)>,
    ) {
        // Test mode's plain object may give the period end; a token signs its own.
        if self.customer.is_string() {
            let _ = js_sys::Reflect::delete_property(body, &"period_end".into());
        }
        set(body, "customer", &self.customer);
        let target = net::target().unwrap_or_default();
        let url = if session_in_body {
            set(body, "session_id", &self.id.as_str().into());
            target.url(path)
        } else {
            target.url(&["/sessions/", &self.id, path].concat())
        };
        let Some(payload) = js_sys::JSON::stringify(body)
            .ok()
            .and_then(|s| s.as_string())
        else {
            return done(Err(net::Failure::Later));
        };
        net::request("POST", &url, Some(&payload), timeout_ms, false, done);
    }

    /// The outcome for the host, once: `{ outcome: "saved", offer }`,
    /// `{ outcome: "cancelled", effective_date?, recorded }` or `{ outcome: "abandoned" }` (which
    /// also records `flow_abandoned`). `None` if it was already reported.
    pub fn finish(&mut self, outcome: Outcome, offer: Option<&PlanOffer>) -> Option<Report> {
        if self.finished {
            return None;
        }
        self.finished = true;
        let result = Object::new();
        set(&result, "outcome", &outcome.as_str().into());
        if outcome == Outcome::Cancelled {
            if let Some(date) = &self.effective_date {
                set(&result, "effective_date", &date.as_str().into());
            }
            set(&result, "recorded", &self.recorded.into());
        }
        if let Some(offer) = offer.filter(|_| outcome == Outcome::Saved) {
            set(&result, "offer", &offer_to_js(offer));
        }
        if outcome == Outcome::Abandoned {
            self.emit(EventType::FlowAbandoned, &[]);
        }
        Some(Report {
            outcome,
            result,
            resolve: self.resolve.clone(),
            on_outcome: self.on_outcome.clone(),
        })
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
