//! The cancel dialog: renders whatever step `holdfast-core`'s [`Flow`] is in. The flow is the single
//! source of truth; each step is described as data ([`Screen`]) and drawn with a handful of DOM
//! calls, and every button only sends the flow an [`Action`].
//!
//! The cancel bundle draws its DOM directly rather than through Leptos: the dialog re-renders only
//! when the step changes, which needs no fine-grained reactivity, and leaving Leptos's renderer and
//! reactive runtime out saves the cancel bundle more than half its size (the upgrade prompts,
//! fetched separately, keep Leptos's views).

use std::cell::RefCell;

use holdfast_core::UnixSeconds;
use holdfast_core::events::EventType;
use holdfast_core::flow::{Action, Flow, Outcome, Step, offers_available};
use holdfast_core::policy::PolicyRules;
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element};

use crate::plan::{Plan, PlanOffer};
use crate::session::{self, Acceptance};

/// What a button does; one dispatcher handles them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Act {
    /// Send the chosen reason.
    Submit,
    /// Accept the offer on screen (the server re-checks it).
    Accept,
    /// Decline the offer on screen.
    Decline,
    /// Confirm the cancellation.
    Confirm,
    /// Keep the subscription: close without cancelling.
    Keep,
    /// Minnesota, after cancelling: show me the offer.
    WantOffer,
    /// Minnesota, after cancelling: no thanks.
    NoOffer,
    /// Close the finished dialog.
    Close,
}

/// Every [`Act`], indexed by its discriminant (a button carries the index in `data-act`).
const ACTS: [Act; 8] = [
    Act::Submit,
    Act::Accept,
    Act::Decline,
    Act::Confirm,
    Act::Keep,
    Act::WantOffer,
    Act::NoOffer,
    Act::Close,
];

/// One button of a screen.
#[derive(Clone, Debug)]
pub struct Button {
    /// Visible label.
    pub label: String,
    /// Stable hook for tests and analytics.
    pub testid: &'static str,
    /// Extra class: `hf-primary`, `hf-danger` or empty.
    pub class: &'static str,
    /// What it does.
    pub act: Act,
}

/// One block of content of a screen.
#[derive(Clone, Debug)]
pub enum Block {
    /// A paragraph, with an optional test id.
    Text(&'static str, String),
    /// The survey's radio group: (reason id, label).
    Reasons(Vec<(String, String)>),
    /// The optional free-text follow-up, shown once a reason is picked; its label.
    Details(String),
    /// An offer card.
    Offer {
        /// Offer id.
        id: String,
        /// Offer kind.
        kind: String,
        /// Headline first, then the complete terms.
        lines: Vec<String>,
        /// A destination for link-type offers: (url, label).
        link: Option<(String, String)>,
    },
    /// A summary or receipt: a heading line, then details; with a test id.
    Summary(&'static str, Vec<String>),
}

/// Everything one step shows: pure data, rendered by one small view function.
#[derive(Clone, Debug)]
pub struct Screen {
    /// The step's heading (focused on entry, names the dialog).
    pub title: String,
    /// Content.
    pub blocks: Vec<Block>,
    /// Actions, in order.
    pub buttons: Vec<Button>,
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

impl Setup {
    /// "Ends on 14 December 2026", or the billing-period wording when the host gave no date.
    fn ends_text(&self) -> String {
        let m = &self.plan.texts;
        match self.period_end {
            Some(at) => m.fill("confirm.ends_on", &[("date", &m.date(at))]),
            None => m.get("confirm.ends_period"),
        }
    }

    /// An offer's headline and terms with money and dates formatted for the session.
    fn offer_lines(&self, offer: &PlanOffer) -> Vec<String> {
        offer
            .lines
            .iter()
            .map(|l| self.plan.texts.expand(l))
            .collect()
    }

    /// The screen for `step`, given the offers selected for this session and a notice to show.
    pub fn screen(&self, step: Step, offers: &[PlanOffer], notice: Option<&str>) -> Screen {
        let m = &self.plan.texts;
        let button = |key: &str, testid, class, act| Button {
            label: m.get(key),
            testid,
            class,
            act,
        };
        let mut blocks = Vec::new();
        if let Some(key) = notice {
            blocks.push(Block::Text("hf-notice", m.get(key)));
        }
        let offer_at = |i: usize| offers.get(i);
        let (title, buttons) = match step {
            Step::Survey => {
                blocks.push(Block::Reasons(self.plan.reasons.clone()));
                blocks.push(Block::Details(m.get("survey.details")));
                (
                    m.get("survey.question"),
                    vec![button(
                        "survey.continue",
                        "hf-survey-continue",
                        "hf-primary",
                        Act::Submit,
                    )],
                )
            }
            Step::Offer { .. } | Step::OfferAfterCancel => {
                // `Step::offer_index` written out, as in `Dialog::current` (size).
                let index = match step {
                    Step::Offer { screen } => usize::from(screen.max(1) - 1),
                    _ => 0,
                };
                if let Some(offer) = offer_at(index) {
                    blocks.push(Block::Offer {
                        id: offer.id.clone(),
                        kind: offer.kind.clone(),
                        lines: self.offer_lines(offer),
                        link: offer.link.clone(),
                    });
                }
                (
                    m.get("offer.title"),
                    vec![
                        button("offer.accept", "hf-accept", "hf-primary", Act::Accept),
                        button("offer.decline", "hf-decline", "", Act::Decline),
                    ],
                )
            }
            Step::Confirm => {
                let rules = self.rules;
                let label = if rules.summary_page {
                    rules.labels.summary_confirm
                } else {
                    rules.labels.confirm_button
                };
                blocks.push(Block::Text("hf-ends", self.ends_text()));
                if rules.summary_page {
                    blocks.push(Block::Summary(
                        "hf-summary",
                        vec![
                            m.get("receipt.title"),
                            m.fill("receipt.what", &[("plan", &self.plan.plan_name)]),
                            self.ends_text(),
                        ],
                    ));
                }
                let mut confirm = button("confirm.button", "hf-confirm", "hf-danger", Act::Confirm);
                if let Some(label) = label {
                    confirm.label = label.to_string();
                }
                (
                    m.get("confirm.title"),
                    vec![confirm, button("confirm.keep", "hf-keep", "", Act::Keep)],
                )
            }
            Step::OfferQuestion => {
                blocks.push(Block::Text("", m.get("question.body")));
                (
                    m.get("done.cancelled"),
                    vec![
                        button(
                            "question.yes",
                            "hf-want-offer",
                            "hf-primary",
                            Act::WantOffer,
                        ),
                        button("question.no", "hf-no-offer", "", Act::NoOffer),
                    ],
                )
            }
            Step::Done(Outcome::Saved) => {
                if let Some(offer) = offers.first() {
                    for line in self.offer_lines(offer) {
                        blocks.push(Block::Text("hf-saved-terms", line));
                    }
                }
                (
                    m.get("done.saved"),
                    vec![button(
                        "dialog.close",
                        "hf-done-close",
                        "hf-primary",
                        Act::Close,
                    )],
                )
            }
            Step::Done(Outcome::Cancelled | Outcome::Abandoned) => {
                blocks.push(Block::Text("hf-ends", self.ends_text()));
                if self.rules.receipt_required {
                    let ends = self.period_end.map_or_else(
                        || self.ends_text(),
                        |at| m.fill("receipt.ends", &[("date", &m.date(at))]),
                    );
                    blocks.push(Block::Summary(
                        "hf-receipt",
                        vec![
                            m.get("receipt.title"),
                            m.fill("receipt.what", &[("plan", &self.plan.plan_name)]),
                            m.fill("receipt.received", &[("date", &m.date(self.now))]),
                            ends,
                        ],
                    ));
                }
                blocks.push(Block::Text("", m.get("done.comeback")));
                (
                    // Not recorded yet (the server did not answer): said plainly.
                    m.get(if notice.is_some() {
                        "cancel.pending_title"
                    } else {
                        "done.cancelled"
                    }),
                    vec![button(
                        "dialog.close",
                        "hf-done-close",
                        "hf-primary",
                        Act::Close,
                    )],
                )
            }
        };
        Screen {
            title,
            blocks,
            buttons,
        }
    }
}

/// The open dialog: the flow's state and the elements that show it.
struct Dialog {
    setup: Setup,
    flow: Flow,
    reason: Option<String>,
    details: String,
    /// The offers for the session, in screen order (the accepted one first once saved).
    offers: Vec<PlanOffer>,
    notice: Option<&'static str>,
    busy: bool,
    /// The `role=dialog` element.
    root: Element,
    /// Where the current step is drawn.
    step: Element,
    /// "Continue to cancel", present on every step before the confirmation (core's rule).
    continue_control: Element,
    /// The dialog's event listeners; dropped with it.
    _listeners: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

thread_local! {
    static OPEN: RefCell<Option<Dialog>> = const { RefCell::new(None) };
}

/// What a handler leaves to do once the dialog's state is no longer borrowed.
enum After {
    Nothing,
    Close,
}

fn document() -> Option<Document> {
    web_sys::window()?.document()
}

/// An element with a class and attributes.
fn el(doc: &Document, tag: &str, class: &str, attrs: &[(&str, &str)]) -> Result<Element, JsValue> {
    let e = doc.create_element(tag)?;
    if !class.is_empty() {
        e.set_class_name(class);
    }
    for (k, v) in attrs {
        e.set_attribute(k, v)?;
    }
    Ok(e)
}

/// An element with text.
fn text(
    doc: &Document,
    tag: &str,
    class: &str,
    attrs: &[(&str, &str)],
    text: &str,
) -> Result<Element, JsValue> {
    let e = el(doc, tag, class, attrs)?;
    e.set_text_content(Some(text));
    Ok(e)
}

/// Appends a freshly built child.
fn append(parent: &Element, child: Result<Element, JsValue>) -> Result<(), JsValue> {
    let child = child?;
    parent.append_child(&child).map(drop)
}

/// Opens the dialog for `setup` inside `container`.
pub fn open(container: &Element, setup: Setup) -> Result<(), JsValue> {
    let doc = document().ok_or("no document")?;
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
    let close_label = m.get("dialog.close");
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
        &m.get("cancel.continue"),
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
        flow: Flow::new(setup.rules),
        setup,
        reason: None,
        details: String::new(),
        offers: Vec::new(),
        notice: None,
        busy: false,
        root,
        step,
        continue_control,
        _listeners: listeners,
    };
    dialog.render();
    OPEN.with(|o| *o.borrow_mut() = Some(dialog));
    session::focus_heading_soon();
    Ok(())
}

/// Forgets the dialog (the session removes its elements).
pub fn unmount() {
    let dialog = OPEN.with(|o| o.borrow_mut().take());
    drop(dialog);
}

/// Runs `f` on the open dialog, then what it asks for once the dialog is no longer borrowed.
fn with_dialog(f: impl FnOnce(&mut Dialog) -> After) {
    let after = OPEN.with(|o| o.borrow_mut().as_mut().map(f));
    if let Some(After::Close) = after {
        session::close();
    }
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
        "x" => d.close(),
        "c" => d.go(Action::ContinueToCancel),
        n => match n.parse::<usize>().ok().and_then(|i| ACTS.get(i)) {
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
        session::keydown(ev, || close = true);
        if close {
            with_dialog(Dialog::close);
        }
    }
}

impl Dialog {
    fn step(&self) -> Step {
        *self.flow.step()
    }

    /// The close button and Esc: a finished flow closes; an unfinished one ends as abandoned.
    fn close(&mut self) -> After {
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
            session::emit(EventType::OfferShown.as_str(), &[("offer_id", &offer.id)]);
        }
        if let Step::Done(outcome) = step {
            session::finish(outcome, self.offers.first().cloned());
        }
        self.render();
        session::focus_heading_soon();
        After::Nothing
    }

    /// The offer on screen now.
    fn current(&self) -> Option<PlanOffer> {
        // `Step::offer_index`, with the primary elsewhere; written out because the call costs
        // the cancel bundle 94 bytes (measured with scripts/size-report).
        let index = match self.step() {
            Step::Offer { screen } => usize::from(screen.max(1) - 1),
            _ => 0,
        };
        self.offers.get(index).cloned()
    }

    fn act(&mut self, act: Act) -> After {
        match act {
            Act::Submit => {
                let Some(r) = self.reason.clone() else {
                    return After::Nothing;
                };
                session::emit(
                    EventType::ReasonSelected.as_str(),
                    &[("reason", &r), ("free_text", self.details.trim())],
                );
                session::set_reason(&r);
                self.offers = self.setup.plan.offers_for(Some(&r));
                let available = offers_available(self.offers.len());
                self.go(Action::ReasonChosen {
                    offers_available: available,
                })
            }
            Act::Accept => {
                let Some(offer) = self.current() else {
                    return After::Nothing;
                };
                self.busy = true;
                self.notice = None;
                self.render();
                let reason = self.reason.clone();
                let id = offer.id.clone();
                session::accept(
                    &id,
                    reason,
                    Box::new(move |answer| {
                        // The dialog may have been closed while the server answered.
                        with_dialog(|d| {
                            d.busy = false;
                            match answer {
                                Acceptance::Accepted => {
                                    // The accepted offer goes first: the saved screen and outcome use it.
                                    d.offers.retain(|x| x.id != offer.id);
                                    d.offers.insert(0, offer);
                                    d.go(Action::OfferAccepted)
                                }
                                Acceptance::Refused => {
                                    d.notice = Some("offer.refused");
                                    d.go(Action::OfferDeclined)
                                }
                                Acceptance::Failed => {
                                    d.notice = Some("offer.error");
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
                if let Some(offer) = self.current() {
                    session::emit(
                        EventType::OfferDeclined.as_str(),
                        &[("offer_id", &offer.id)],
                    );
                }
                self.notice = None;
                self.go(Action::OfferDeclined)
            }
            Act::Confirm => {
                self.busy = true;
                self.notice = None;
                self.render();
                let profile = self.setup.rules.profile.as_str();
                session::cancel(
                    profile,
                    self.setup.period_end,
                    Box::new(|recorded| {
                        with_dialog(|d| {
                            d.busy = false;
                            if !recorded {
                                d.notice = Some("cancel.pending");
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
        let doc = document().ok_or("no document")?;
        let step = self.step();
        let screen = self.setup.screen(step, &self.offers, self.notice);
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
            append(s, self.block(&doc, block))?;
        }
        let actions = el(&doc, "div", "hf-actions", &[])?;
        for b in screen.buttons {
            let index = char::from(b'0' + b.act as u8).to_string();
            let button = text(
                &doc,
                "button",
                &["hf-btn ", b.class].concat(),
                &[
                    ("type", "button"),
                    ("data-testid", b.testid),
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

    fn block(&self, doc: &Document, block: Block) -> Result<Element, JsValue> {
        Ok(match block {
            Block::Text(testid, line) => {
                let e = text(doc, "p", testid, &[], &line)?;
                if !testid.is_empty() {
                    e.set_attribute("data-testid", testid)?;
                }
                if testid == "hf-notice" {
                    e.set_attribute("role", "alert")?;
                }
                e
            }
            Block::Reasons(reasons) => {
                let group = el(
                    doc,
                    "div",
                    "hf-reasons",
                    &[("role", "radiogroup"), ("aria-labelledby", "hf-title")],
                )?;
                for (id, label) in reasons {
                    let row = el(doc, "label", "hf-reason", &[])?;
                    let testid = ["hf-reason-", &id].concat();
                    let input = el(
                        doc,
                        "input",
                        "",
                        &[
                            ("type", "radio"),
                            ("name", "hf-reason"),
                            ("value", &id),
                            ("data-testid", &testid),
                        ],
                    )?;
                    if self.reason.as_deref() == Some(id.as_str()) {
                        input.set_attribute("checked", "")?;
                    }
                    row.append_child(&input)?;
                    append(&row, text(doc, "span", "", &[], &label))?;
                    group.append_child(&row)?;
                }
                group
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
                wrap
            }
            Block::Offer {
                id,
                kind,
                lines,
                link,
            } => {
                let card = el(
                    doc,
                    "div",
                    "hf-offer",
                    &[
                        ("data-testid", "hf-offer"),
                        ("data-offer", &id),
                        ("data-kind", &kind),
                    ],
                )?;
                for (i, line) in lines.iter().enumerate() {
                    let class = if i == 0 { "hf-offer-head" } else { "hf-terms" };
                    append(&card, text(doc, "p", class, &[], line))?;
                }
                if let Some((url, label)) = link {
                    append(
                        &card,
                        text(
                            doc,
                            "a",
                            "hf-link",
                            &[
                                ("href", &url),
                                ("target", "_blank"),
                                ("rel", "noopener noreferrer"),
                            ],
                            &label,
                        ),
                    )?;
                }
                card
            }
            Block::Summary(testid, lines) => {
                let list = el(doc, "dl", "hf-summary", &[("data-testid", testid)])?;
                for (i, line) in lines.iter().enumerate() {
                    append(
                        &list,
                        text(doc, if i == 0 { "dt" } else { "dd" }, "", &[], line),
                    )?;
                }
                list
            }
        })
    }
}

/// Moves focus to `el` if it is an element that can take it.
pub fn focus(el: &web_sys::Element) {
    if let Some(el) = el.dyn_ref::<web_sys::HtmlElement>() {
        let _ = el.focus();
    }
}
