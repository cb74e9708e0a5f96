//! The cancel dialog: one Leptos component that renders whatever step `holdfast-core`'s [`Flow`]
//! is in. The flow is the single source of truth (one signal); everything on screen is derived from
//! it, and every button only sends the flow an [`Event`].

use std::sync::Arc;

use holdfast_core::UnixSeconds;
use holdfast_core::flow::{Event, Flow, Outcome, Step};
use holdfast_core::policy::PolicyRules;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::plan::{Plan, PlanOffer};
use crate::session::{self, Acceptance};

/// What a button does; one dispatcher handles them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
                    m.get("done.cancelled"),
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

/// The signals one dialog shares between its views and its actions.
#[derive(Clone, Copy)]
struct State {
    flow: RwSignal<Flow>,
    reason: RwSignal<Option<String>>,
    details: RwSignal<String>,
    /// The offers for the session, in screen order (the accepted one first once saved).
    offers: RwSignal<Vec<PlanOffer>>,
    notice: RwSignal<Option<&'static str>>,
    busy: RwSignal<bool>,
}

impl State {
    fn step(&self) -> Step {
        self.flow.with(|f| *f.step())
    }

    /// Moves the flow on, then does what entering the new step requires: log an offer exposure
    /// when an offer renders, report the outcome when the flow ends, focus the new heading.
    fn go(self, event: Event) {
        let before = self.flow.with_untracked(|f| f.history().len());
        self.flow.update(|f| {
            f.next(event);
        });
        let (step, after) = self.flow.with_untracked(|f| (*f.step(), f.history().len()));
        if after == before {
            return;
        }
        let shown = match step {
            Step::Offer { screen } => Some(usize::from(screen.max(1) - 1)),
            Step::OfferAfterCancel => Some(0),
            _ => None,
        };
        if let Some(id) = shown.and_then(|i| {
            self.offers
                .with_untracked(|o| o.get(i).map(|o| o.id.clone()))
        }) {
            session::emit("offer_shown", &[("offer_id", &id)]);
        }
        if let Step::Done(outcome) = step {
            let offer = self.offers.with_untracked(|o| o.first().cloned());
            session::finish(outcome, offer);
        }
        session::focus_heading_soon();
    }

    /// The offer on screen now.
    fn current(&self) -> Option<PlanOffer> {
        let index = match self.flow.with_untracked(|f| *f.step()) {
            Step::Offer { screen } => usize::from(screen.max(1) - 1),
            _ => 0,
        };
        self.offers.with_untracked(|o| o.get(index).cloned())
    }

    fn act(self, act: Act, setup: &Setup) {
        match act {
            Act::Submit => {
                let Some(r) = self.reason.get_untracked() else {
                    return;
                };
                let text = self.details.get_untracked();
                session::emit(
                    "reason_selected",
                    &[("reason", &r), ("free_text", text.trim())],
                );
                session::set_reason(&r);
                let found = setup.plan.offers_for(Some(&r));
                let available = found.len().min(2) as u8;
                self.offers.set(found);
                self.go(Event::ReasonChosen {
                    offers_available: available,
                });
            }
            Act::Accept => {
                let Some(offer) = self.current() else { return };
                self.busy.set(true);
                self.notice.set(None);
                wasm_bindgen_futures::spawn_local(async move {
                    let answer = session::accept(&offer.id, self.reason.get_untracked()).await;
                    // The dialog may have been closed while the server answered.
                    if self.flow.try_with_untracked(|_| ()).is_none() {
                        return;
                    }
                    match answer {
                        Acceptance::Accepted => {
                            // The accepted offer goes first: the saved screen and outcome use it.
                            self.offers.update(|o| {
                                o.retain(|x| x.id != offer.id);
                                o.insert(0, offer);
                            });
                            self.go(Event::OfferAccepted);
                        }
                        Acceptance::Refused => {
                            self.notice.set(Some("offer.refused"));
                            self.go(Event::OfferDeclined);
                        }
                        Acceptance::Failed => self.notice.set(Some("offer.error")),
                    }
                    self.busy.set(false);
                });
            }
            Act::Decline => {
                if let Some(offer) = self.current() {
                    session::emit("offer_declined", &[("offer_id", &offer.id)]);
                }
                self.notice.set(None);
                self.go(Event::OfferDeclined);
            }
            Act::Confirm => {
                session::emit("cancel_confirmed", &[]);
                self.go(Event::CancelConfirmed);
            }
            Act::Keep => self.go(Event::Closed),
            Act::WantOffer => self.go(Event::WantsOffer),
            Act::NoOffer => self.go(Event::NoOfferThanks),
            Act::Close => session::close(),
        }
    }
}

/// The modal cancel dialog.
#[component]
pub fn CancelDialog(
    /// The session's decided inputs.
    setup: Arc<Setup>,
) -> impl IntoView {
    let st = State {
        flow: RwSignal::new(Flow::new(setup.rules)),
        reason: RwSignal::new(None),
        details: RwSignal::new(String::new()),
        offers: RwSignal::new(Vec::new()),
        notice: RwSignal::new(None),
        busy: RwSignal::new(false),
    };
    session::focus_heading_soon();
    let view_setup = setup.clone();
    let body = move || {
        let screen = st
            .offers
            .with_untracked(|o| view_setup.screen(st.step(), o, st.notice.get()));
        render(screen, st, view_setup.clone())
    };
    let m = &setup.plan.texts;
    let continue_label = m.get("cancel.continue");
    let continue_control = move || {
        (st.flow.with(|f| f.cancel_control_visible()) && st.step() != Step::Confirm).then(|| {
            view! {
                <button class="hf-continue" type="button" data-testid="hf-continue-cancel" on:click=move |_| st.go(Event::ContinueToCancel)>
                    {continue_label.clone()}
                </button>
            }
        })
    };
    let close = move || {
        if st.flow.with_untracked(|f| f.step().is_done()) {
            session::close()
        } else {
            st.go(Event::Closed)
        }
    };
    view! {
        <div class="hf-backdrop">
            <div
                class=setup.plan.class.clone()
                role="dialog"
                aria-modal="true"
                aria-labelledby="hf-title"
                data-testid="hf-dialog"
                data-step=move || st.step().as_str()
                data-outcome=move || st.step().outcome().map_or("", |o| o.as_str())
                data-profile=setup.rules.profile.as_str()
                lang=m.lang.tag.clone()
                dir=if m.lang.rtl { "rtl" } else { "ltr" }
                style=setup.plan.style.clone()
                on:keydown=move |ev| session::keydown(&ev, close)
            >
                <button class="hf-close" type="button" aria-label=m.get("dialog.close") data-testid="hf-close" on:click=move |_| close()>
                    "×"
                </button>
                {body}
                {continue_control}
            </div>
        </div>
    }
}

fn render(screen: Screen, st: State, setup: Arc<Setup>) -> impl IntoView {
    let blocks = screen
        .blocks
        .into_iter()
        .map(|b| render_block(b, st))
        .collect_view();
    let buttons = screen
        .buttons
        .into_iter()
        .map(|b| {
            let setup = setup.clone();
            let act = b.act;
            let disabled = move || match act {
                Act::Submit => st.reason.with(Option::is_none),
                Act::Accept => st.busy.get(),
                _ => false,
            };
            view! {
                <button class=["hf-btn ", b.class].concat() type="button" data-testid=b.testid disabled=disabled on:click=move |_| st.act(act, &setup)>
                    {b.label}
                </button>
            }
        })
        .collect_view();
    view! {
        <h2 id="hf-title" tabindex="-1">{screen.title}</h2>
        {blocks}
        <div class="hf-actions">{buttons}</div>
    }
}

fn render_block(block: Block, st: State) -> AnyView {
    match block {
        Block::Text(testid, text) => {
            let role = (testid == "hf-notice").then_some("alert");
            view! { <p class=testid data-testid=testid role=role>{text}</p> }.into_any()
        }
        Block::Reasons(reasons) => {
            let items = reasons
                .into_iter()
                .map(|(id, label)| {
                    let testid = ["hf-reason-", &id].concat();
                    let pick = id.clone();
                    view! {
                        <label class="hf-reason">
                            <input type="radio" name="hf-reason" value=id data-testid=testid on:change=move |_| st.reason.set(Some(pick.clone())) />
                            <span>{label}</span>
                        </label>
                    }
                })
                .collect_view();
            view! { <div class="hf-reasons" role="radiogroup" aria-labelledby="hf-title">{items}</div> }.into_any()
        }
        Block::Details(label) => (move || {
            st.reason.with(Option::is_some).then(|| {
                view! {
                    <label class="hf-details">
                        <span>{label.clone()}</span>
                        <textarea maxlength="2000" rows="3" data-testid="hf-details" on:input=move |ev| st.details.set(event_target_value(&ev))></textarea>
                    </label>
                }
            })
        })
        .into_any(),
        Block::Offer { id, kind, lines, link } => {
            let lines = lines
                .into_iter()
                .enumerate()
                .map(|(i, l)| view! { <p class=if i == 0 { "hf-offer-head" } else { "hf-terms" }>{l}</p> })
                .collect_view();
            let link = link.map(|(url, label)| view! { <a class="hf-link" href=url target="_blank" rel="noopener noreferrer">{label}</a> });
            view! { <div class="hf-offer" data-testid="hf-offer" data-offer=id data-kind=kind>{lines}{link}</div> }.into_any()
        }
        Block::Summary(testid, lines) => {
            let mut lines = lines.into_iter();
            let head = lines.next().unwrap_or_default();
            let rest = lines.map(|l| view! { <dd>{l}</dd> }).collect_view();
            view! { <dl class="hf-summary" data-testid=testid><dt>{head}</dt>{rest}</dl> }.into_any()
        }
    }
}

/// Moves focus to `el` if it is an element that can take it.
pub fn focus(el: &web_sys::Element) {
    if let Some(el) = el.dyn_ref::<web_sys::HtmlElement>() {
        let _ = el.focus();
    }
}
