//! The cancel dialog: renders whatever step `holdfast-core`'s [`Flow`] is in. The flow is the single
//! source of truth; core describes each step as data ([`Screen`]: title, blocks, buttons, the same
//! description the no-JavaScript page renders as HTML), this module draws it with a handful of DOM
//! calls, and every button only sends the flow an [`Act`].
//!
//! The cancel bundle draws its DOM directly rather than through Leptos: the dialog re-renders only
//! when the step changes, which needs no fine-grained reactivity, and leaving Leptos's renderer and
//! reactive runtime out saves the cancel bundle more than half its size (the upgrade prompts,
//! fetched separately, keep Leptos's views).
//!
//! One [`Dialog`] owns everything an open flow holds: its [`Session`] (the host's promise, the
//! events, the server calls), the flow, the offers, and its elements. It lives in this module's
//! one thread-local, as the page's single cancel flow (idle, opening while its plan loads, or
//! open); the event handlers and the server's answers reach it through one function, which also
//! delivers the outcome to the host once the dialog is no longer borrowed.

use std::cell::RefCell;

use holdfast_core::UnixSeconds;
use holdfast_core::events::EventType;
use holdfast_core::flow::{Action, Flow, Outcome, Step, offers_available};
use holdfast_core::policy::PolicyRules;
use holdfast_core::screen::{Act, Block, Notice, OfferCard, Screen, ScreenInput, Words};
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, HtmlElement};

use crate::dom::{append, document, el, focus, keydown, shadow, text};
use crate::js::later;
use crate::plan::{Plan, PlanOffer};
use crate::session::{Acceptance, Report, Session};

/// The widget's test id of a button (the no-JavaScript page's are `hf-` and the act's name).
fn testid(act: Act) -> &'static str {
    match act {
        Act::Submit => "hf-survey-continue",
        Act::Accept => "hf-accept",
        Act::Decline => "hf-decline",
        Act::Confirm => "hf-confirm",
        Act::Keep => "hf-keep",
        Act::WantOffer => "hf-want-offer",
        Act::NoOffer => "hf-no-offer",
        Act::Close => "hf-done-close",
    }
}

/// Everything a cancel session is decided from, fixed when the dialog opens.
#[derive(Debug)]
pub struct Setup {
    /// What the server planned (or the built-in plan when it was unreachable).
    pub plan: Plan,
    /// The policy profile's rules for this session.
    pub rules: PolicyRules,
    /// When the paid period ends, if the host said: the honest "ends on" date.
    pub period_end: Option<UnixSeconds>,
    /// When the session opened.
    pub now: UnixSeconds,
}

/// The open cancel flow: its session, the flow's state and the elements that show it. The one
/// owner of everything a flow on screen holds; nothing else keeps a piece of it.
pub struct Dialog {
    /// The session as the host and the server know it.
    session: Session,
    setup: Setup,
    flow: Flow,
    /// The reason picked on the survey (sent with it, then kept by the session).
    reason: Option<String>,
    details: String,
    /// The offers for the session's reason, in screen order.
    offers: Vec<PlanOffer>,
    notice: Option<Notice>,
    busy: bool,
    /// The outcome to report once the dialog's state is no longer borrowed.
    report: Option<Report>,
    /// The element the dialog is mounted in, inside the shadow root.
    container: Element,
    /// Where focus was before the dialog opened (the trigger), restored on close.
    restore: Option<HtmlElement>,
    /// The `role=dialog` element.
    root: Element,
    /// Where the current step is drawn.
    step: Element,
    /// "Continue to cancel", present on every step before the confirmation (core's rule).
    continue_control: Element,
    /// The dialog's event listeners; dropped with it.
    _listeners: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

/// The page's one cancel flow: none, one being opened (its plan is loading), or one on screen.
enum State {
    Idle,
    Opening,
    Open(Box<Dialog>),
}

thread_local! {
    /// The cancel flow's state: the only thread-local of the open flow.
    static STATE: RefCell<State> = const { RefCell::new(State::Idle) };
}

/// Claims the page's one cancel flow while its plan loads; `false` if one is already open or
/// opening (then the caller refuses the second call).
pub fn reserve() -> bool {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let idle = matches!(*s, State::Idle);
        if idle {
            *s = State::Opening;
        }
        idle
    })
}

/// Gives up a flow that [`reserve`] claimed but that could not open.
pub fn release() {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if matches!(*s, State::Opening) {
            *s = State::Idle;
        }
    });
}

/// What a handler leaves to do once the dialog's state is no longer borrowed.
enum After {
    Nothing,
    Close,
}

/// Opens the dialog for `session` and `setup` inside `container` (focus goes back to `restore`
/// when it closes).
pub fn open(
    container: Element,
    restore: Option<HtmlElement>,
    session: Session,
    setup: Setup,
) -> Result<(), JsValue> {
    let doc = document()?;
    let m = &setup.plan.texts;
    let backdrop = el(&doc, "div", "hf-backdrop", &[])?;
    let root = el(
        &doc,
        "div",
        &setup.plan.class,
        &[
            ("role", "dialog"),
            ("aria-modal", "true"),
            ("aria-labelledby", "hf-title"),
            ("data-testid", "hf-dialog"),
            ("data-profile", setup.rules.profile.as_str()),
            ("lang", &m.lang.tag),
            ("dir", if m.lang.rtl { "rtl" } else { "ltr" }),
            ("style", &setup.plan.style),
        ],
    )?;
    let close_label = m.text("dialog.close");
    append(
        &root,
        text(
            &doc,
            "button",
            "hf-close",
            &[
                ("type", "button"),
                ("aria-label", &close_label),
                ("data-testid", "hf-close"),
                ("data-act", "x"),
            ],
            "×",
        ),
    )?;
    let step = el(&doc, "div", "hf-step", &[])?;
    root.append_child(&step)?;
    let continue_control = text(
        &doc,
        "button",
        "hf-continue",
        &[
            ("type", "button"),
            ("data-testid", "hf-continue-cancel"),
            ("data-act", "c"),
        ],
        &m.text("cancel.continue"),
    )?;
    backdrop.append_child(&root)?;
    container.append_child(&backdrop)?;

    let mut listeners = Vec::new();
    for (kind, handler) in [
        ("click", on_click as fn(&web_sys::Event)),
        ("change", on_change),
        ("input", on_input),
        ("keydown", on_keydown),
    ] {
        let f = Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| handler(&ev));
        root.add_event_listener_with_callback(kind, f.as_ref().unchecked_ref())?;
        listeners.push(f);
    }
    let dialog = Dialog {
        session,
        flow: Flow::new(setup.rules),
        setup,
        reason: None,
        details: String::new(),
        offers: Vec::new(),
        notice: None,
        busy: false,
        report: None,
        container,
        restore,
        root,
        step,
        continue_control,
        _listeners: listeners,
    };
    dialog.render();
    STATE.with(|s| *s.borrow_mut() = State::Open(Box::new(dialog)));
    focus_heading_soon();
    Ok(())
}

/// Runs `f` on the open dialog, then, once the dialog is no longer borrowed (the host's
/// `onOutcome` may call the widget again), reports an outcome it reached and does what it asks.
fn with_dialog(f: impl FnOnce(&mut Dialog) -> After) {
    let done = STATE.with(|s| match &mut *s.borrow_mut() {
        State::Open(d) => {
            let after = f(d);
            Some((after, d.report.take()))
        }
        State::Idle | State::Opening => None,
    });
    let Some((after, report)) = done else { return };
    if let Some(report) = report {
        let abandoned = report.outcome == Outcome::Abandoned;
        report.deliver();
        if abandoned {
            // An abandoned flow also closes; not from inside the click handler of the view
            // being unmounted.
            later(0, close);
        }
    }
    if let After::Close = after {
        close();
    }
}

/// Unmounts the dialog and gives focus back to where it was; an unfinished flow is reported
/// abandoned first (closing is never a cancellation), which closes it in turn.
fn close() {
    let unfinished = STATE.with(|s| matches!(&*s.borrow(), State::Open(d) if !d.session.finished));
    if unfinished {
        with_dialog(|d| {
            d.report = d.session.finish(Outcome::Abandoned, None);
            After::Nothing
        });
        return;
    }
    let open = STATE.with(|s| {
        let mut s = s.borrow_mut();
        match std::mem::replace(&mut *s, State::Idle) {
            State::Open(d) => Some(d),
            other => {
                *s = other;
                None
            }
        }
    });
    let Some(dialog) = open else { return };
    dialog.container.remove();
    if let Some(el) = &dialog.restore {
        let _ = el.focus();
    }
}

/// Focuses the current step's heading once it is rendered, so keyboard and screen-reader users
/// start at the top of each step.
fn focus_heading_soon() {
    later(0, || {
        if let Some(h) = shadow().and_then(|r| r.query_selector("#hf-title").ok().flatten()) {
            focus(&h);
        }
    });
}

fn target(ev: &web_sys::Event) -> Option<Element> {
    ev.target()?.dyn_into::<Element>().ok()
}

/// A form control's current value.
fn value(control: &Element) -> String {
    js_sys::Reflect::get(control, &"value".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

fn on_click(ev: &web_sys::Event) {
    let Some(act) = target(ev)
        .and_then(|t| t.closest("[data-act]").ok().flatten())
        .and_then(|b| b.get_attribute("data-act"))
    else {
        return;
    };
    with_dialog(|d| match act.as_str() {
        "x" => d.dismiss(),
        "c" => d.go(Action::ContinueToCancel),
        n => match n.parse::<usize>().ok().and_then(|i| Act::ALL.get(i)) {
            Some(act) => d.act(*act),
            None => After::Nothing,
        },
    });
}

fn on_change(ev: &web_sys::Event) {
    let Some(input) = target(ev) else { return };
    if input.get_attribute("name").as_deref() != Some("hf-reason") {
        return;
    }
    with_dialog(|d| {
        d.reason = Some(value(&input));
        // A reason is chosen: the survey can be sent, and the follow-up question appears.
        for selector in ["[data-act=\"0\"]", ".hf-details"] {
            if let Ok(Some(e)) = d.step.query_selector(selector) {
                let _ = e.remove_attribute(if selector == ".hf-details" {
                    "hidden"
                } else {
                    "disabled"
                });
            }
        }
        After::Nothing
    });
}

fn on_input(ev: &web_sys::Event) {
    if let Some(area) = target(ev).filter(|t| t.tag_name() == "TEXTAREA") {
        with_dialog(|d| {
            d.details = value(&area);
            After::Nothing
        });
    }
}

fn on_keydown(ev: &web_sys::Event) {
    if let Some(ev) = ev.dyn_ref::<web_sys::KeyboardEvent>() {
        let mut close = false;
        keydown(ev, || close = true);
        if close {
            with_dialog(Dialog::dismiss);
        }
    }
}

impl Dialog {
    fn step(&self) -> Step {
        *self.flow.step()
    }

    /// The close button and Esc: a finished flow closes; an unfinished one ends as abandoned.
    fn dismiss(&mut self) -> After {
        if self.step().is_done() {
            After::Close
        } else {
            self.go(Action::Closed)
        }
    }

    /// Moves the flow on, then does what entering the new step requires: log an offer exposure
    /// when an offer renders, report the outcome when the flow ends, draw and focus the new step.
    fn go(&mut self, event: Action) -> After {
        let before = self.flow.history().len();
        self.flow.next(event);
        if self.flow.history().len() == before {
            return After::Nothing;
        }
        let step = self.step();
        if let Some(offer) = step.offer_index().and_then(|i| self.offers.get(i)) {
            self.session
                .emit(EventType::OfferShown, &[("offer_id", &offer.id)]);
        }
        if let Step::Done(outcome) = step {
            let taken = self.flow.offer_taken().and_then(|i| self.offers.get(i));
            self.report = self.session.finish(outcome, taken);
        }
        self.render();
        focus_heading_soon();
        After::Nothing
    }

    /// The id of the offer on screen now.
    fn current(&self) -> Option<String> {
        let index = self.step().offer_index()?;
        Some(self.offers.get(index)?.id.clone())
    }

    fn act(&mut self, act: Act) -> After {
        match act {
            Act::Submit => {
                let Some(r) = self.reason.clone() else {
                    return After::Nothing;
                };
                self.session.emit(
                    EventType::ReasonSelected,
                    &[("reason", &r), ("free_text", self.details.trim())],
                );
                self.session.reason = Some(r.clone());
                self.offers = self.setup.plan.take_offers(Some(&r));
                let available = offers_available(self.offers.len());
                self.go(Action::ReasonChosen {
                    offers_available: available,
                })
            }
            Act::Accept => {
                let Some(id) = self.current() else {
                    return After::Nothing;
                };
                self.busy = true;
                self.notice = None;
                self.render();
                let offer_id = id.clone();
                self.session.accept(
                    &id,
                    Box::new(move |answer| {
                        // The dialog may have been closed while the server answered.
                        with_dialog(|d| {
                            d.busy = false;
                            match answer {
                                Acceptance::Accepted => {
                                    d.session
                                        .emit(EventType::OfferAccepted, &[("offer_id", &offer_id)]);
                                    d.go(Action::OfferAccepted)
                                }
                                Acceptance::Refused => {
                                    d.notice = Some(Notice::OfferRefused);
                                    d.go(Action::OfferDeclined)
                                }
                                Acceptance::Failed => {
                                    d.notice = Some(Notice::OfferUnreachable);
                                    d.render();
                                    After::Nothing
                                }
                            }
                        });
                    }),
                );
                After::Nothing
            }
            Act::Decline => {
                if let Some(id) = self.current() {
                    self.session
                        .emit(EventType::OfferDeclined, &[("offer_id", &id)]);
                }
                self.notice = None;
                self.go(Action::OfferDeclined)
            }
            Act::Confirm => {
                self.busy = true;
                self.notice = None;
                self.render();
                let profile = self.setup.rules.profile.as_str();
                self.session.cancel(
                    profile,
                    self.setup.period_end,
                    Box::new(|answer| {
                        with_dialog(|d| {
                            d.busy = false;
                            if !d.session.cancelled(answer) {
                                d.notice = Some(Notice::CancelPending);
                            }
                            d.go(Action::CancelConfirmed)
                        });
                    }),
                );
                After::Nothing
            }
            Act::Keep => self.go(Action::Closed),
            Act::WantOffer => self.go(Action::WantsOffer),
            Act::NoOffer => self.go(Action::NoOfferThanks),
            Act::Close => After::Close,
        }
    }

    /// Draws the current step.
    fn render(&self) {
        if let Err(e) = self.draw() {
            web_sys::console::error_2(&"Holdfast: could not draw the dialog".into(), &e);
        }
    }

    fn draw(&self) -> Result<(), JsValue> {
        let doc = document()?;
        let step = self.step();
        let plan = &self.setup.plan;
        let cards: Vec<OfferCard<'_>> = self.offers.iter().map(PlanOffer::card).collect();
        let input = ScreenInput {
            offers: &cards,
            reasons: &plan.reasons,
            plan_name: &plan.plan_name,
            period_end: self.setup.period_end,
            now: self.setup.now,
            notice: self.notice,
        };
        let screen = Screen::describe(&self.flow, &input, &plan.texts);
        self.root.set_attribute("data-step", step.as_str())?;
        self.root
            .set_attribute("data-outcome", step.outcome().map_or("", |o| o.as_str()))?;
        let s = &self.step;
        s.set_text_content(None);
        append(
            s,
            text(
                &doc,
                "h2",
                "",
                &[("id", "hf-title"), ("tabindex", "-1")],
                &screen.title,
            ),
        )?;
        for block in screen.blocks {
            self.block(&doc, s, block)?;
        }
        let actions = el(&doc, "div", "hf-actions", &[])?;
        for b in screen.buttons {
            let index = char::from(b'0' + b.act as u8).to_string();
            let button = text(
                &doc,
                "button",
                &["hf-btn ", b.emphasis.class()].concat(),
                &[
                    ("type", "button"),
                    ("data-testid", testid(b.act)),
                    ("data-act", &index),
                ],
                &b.label,
            )?;
            let disabled = match b.act {
                Act::Submit => self.reason.is_none(),
                Act::Accept => self.busy,
                _ => false,
            };
            if disabled {
                button.set_attribute("disabled", "")?;
            }
            actions.append_child(&button)?;
        }
        s.append_child(&actions)?;
        if self.flow.continue_control_shown() {
            self.root.append_child(&self.continue_control)?;
        } else {
            self.continue_control.remove();
        }
        Ok(())
    }

    /// Draws one block of the screen at the end of `parent`.
    fn block(&self, doc: &Document, parent: &Element, block: Block<'_>) -> Result<(), JsValue> {
        // A paragraph whose test id is also its class.
        let para = |testid: &str, line: &str| -> Result<Element, JsValue> {
            let e = text(doc, "p", testid, &[], line)?;
            if !testid.is_empty() {
                e.set_attribute("data-testid", testid)?;
            }
            parent.append_child(&e)?;
            Ok(e)
        };
        // A heading line, then details.
        let list = |testid: &str, lines: Vec<String>| -> Result<(), JsValue> {
            let list = el(doc, "dl", "hf-summary", &[("data-testid", testid)])?;
            for (i, line) in lines.iter().enumerate() {
                append(
                    &list,
                    text(doc, if i == 0 { "dt" } else { "dd" }, "", &[], line),
                )?;
            }
            parent.append_child(&list).map(drop)
        };
        match block {
            Block::Notice(line) => para("hf-notice", &line)?.set_attribute("role", "alert")?,
            Block::Ends(line) => drop(para("hf-ends", &line)?),
            Block::Text(line) => drop(para("", &line)?),
            Block::Terms(lines) => {
                for line in lines {
                    para("hf-saved-terms", &line)?;
                }
            }
            Block::Summary(lines) => list("hf-summary", lines)?,
            Block::Receipt(lines) => list("hf-receipt", lines)?,
            Block::Reasons(reasons) => {
                let group = el(
                    doc,
                    "div",
                    "hf-reasons",
                    &[("role", "radiogroup"), ("aria-labelledby", "hf-title")],
                )?;
                for r in reasons {
                    let row = el(doc, "label", "hf-reason", &[])?;
                    let testid = ["hf-reason-", &r.id].concat();
                    let input = el(
                        doc,
                        "input",
                        "",
                        &[
                            ("type", "radio"),
                            ("name", "hf-reason"),
                            ("value", &r.id),
                            ("data-testid", &testid),
                        ],
                    )?;
                    if self.reason.as_deref() == Some(r.id.as_str()) {
                        input.set_attribute("checked", "")?;
                    }
                    row.append_child(&input)?;
                    append(&row, text(doc, "span", "", &[], &r.label))?;
                    group.append_child(&row)?;
                }
                parent.append_child(&group)?;
            }
            Block::Details(label) => {
                let wrap = el(doc, "label", "hf-details", &[])?;
                if self.reason.is_none() {
                    wrap.set_attribute("hidden", "")?;
                }
                append(&wrap, text(doc, "span", "", &[], &label))?;
                let area = el(
                    doc,
                    "textarea",
                    "",
                    &[
                        ("maxlength", "2000"),
                        ("rows", "3"),
                        ("data-testid", "hf-details"),
                    ],
                )?;
                area.set_text_content(Some(&self.details));
                wrap.append_child(&area)?;
                parent.append_child(&wrap)?;
            }
            Block::Offer { card, lines } => {
                let offer = el(
                    doc,
                    "div",
                    "hf-offer",
                    &[
                        ("data-testid", "hf-offer"),
                        ("data-offer", card.id),
                        ("data-kind", card.kind),
                    ],
                )?;
                for (i, line) in lines.iter().enumerate() {
                    let class = if i == 0 { "hf-offer-head" } else { "hf-terms" };
                    append(&offer, text(doc, "p", class, &[], line))?;
                }
                if let Some(link) = card.link {
                    append(
                        &offer,
                        text(
                            doc,
                            "a",
                            "hf-link",
                            &[
                                ("href", &link.url),
                                ("target", "_blank"),
                                ("rel", "noopener noreferrer"),
                            ],
                            &link.label,
                        ),
                    )?;
                }
                parent.append_child(&offer)?;
            }
        }
        Ok(())
    }
}
