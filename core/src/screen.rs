//! What each step of the cancel flow shows, described once as data.
//!
//! A [`Screen`] is a step's title, its [`Block`]s of content and its [`Button`]s, made from the
//! [`Flow`] and the session's plan by [`Screen::describe`]. The widget draws it as DOM, the
//! no-JavaScript page as HTML, so the two differ only in how they draw (a radio group or a
//! fieldset, a button that closes the dialog or none on a page that cannot close itself), never
//! in what a step says: which offer is on screen, which one was taken, what the confirmation and
//! the receipt state, which label the law prescribes for the confirm button, and which button is
//! the primary one are decided here.
//!
//! The words come through [`Words`], because each edge spells them its own way: the widget formats
//! money and dates with the browser's `Intl`, the page writes ISO dates and plain amounts.
//! Everything else a screen is made from is in [`ScreenInput`].

use crate::UnixSeconds;
use crate::flow::{Flow, Outcome, Step};
use crate::i18n::fill;
use crate::plan::{PlanLink, PlanOffer, PlanReason};

/// The session's strings, as the edge drawing the screen spells them.
pub trait Words {
    /// The dialog string for `key`: the app's override, else the built-in catalog (else the key
    /// itself, so a gap is visible rather than blank).
    fn text(&self, key: &str) -> String;

    /// A calendar date (the end of the paid period, the day a request was received).
    fn date(&self, at: UnixSeconds) -> String;

    /// Server-written text (an offer's lines) with its money and date tokens spelled out.
    fn expand(&self, line: &str) -> String;

    /// `key` with its `{name}` placeholders filled.
    fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        fill(&self.text(key), args)
    }
}

/// A problem with what the subscriber just did, announced above the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The server re-checked the offer and refused it (the flow moves on as if declined).
    OfferRefused,
    /// The acceptance did not reach the server: try again, or continue to cancel.
    OfferUnreachable,
    /// The cancellation is queued but the server has not recorded it yet.
    CancelPending,
}

impl Notice {
    /// The dialog string that says it.
    pub const fn key(self) -> &'static str {
        match self {
            Self::OfferRefused => "offer.refused",
            Self::OfferUnreachable => "offer.error",
            Self::CancelPending => "cancel.pending",
        }
    }
}

/// What a button asks the flow for; each edge carries it back its own way (the widget in a
/// `data-act` attribute, the page as the form's `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Send the survey (with or without a reason).
    Submit,
    /// Accept the offer on screen (the server re-checks it first).
    Accept,
    /// Decline the offer on screen.
    Decline,
    /// Confirm the cancellation.
    Confirm,
    /// Keep the subscription: leave without cancelling.
    Keep,
    /// After a cancellation on request (Minnesota): show me the offer.
    WantOffer,
    /// After a cancellation on request: no thanks.
    NoOffer,
    /// Close the finished dialog.
    Close,
}

impl Act {
    /// Every act, in declaration order (so an act's position is `act as usize`).
    pub const ALL: [Act; 8] = [
        Act::Submit,
        Act::Accept,
        Act::Decline,
        Act::Confirm,
        Act::Keep,
        Act::WantOffer,
        Act::NoOffer,
        Act::Close,
    ];

    /// A stable name: the no-JavaScript page's form `action` and `data-testid` suffix.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "survey",
            Self::Accept => "accept",
            Self::Decline => "decline",
            Self::Confirm => "confirm",
            Self::Keep => "keep",
            Self::WantOffer => "want",
            Self::NoOffer => "no_thanks",
            Self::Close => "close",
        }
    }

    /// The act named `name` by [`Act::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// How much a button stands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emphasis {
    /// The step's suggested way on.
    Primary,
    /// The button that cancels, styled as the weighty choice it is.
    Danger,
    /// Everything else.
    Plain,
}

impl Emphasis {
    /// The class the shared stylesheet (`style/widget.css`) styles it by, after `hf-btn`.
    pub const fn class(self) -> &'static str {
        match self {
            Self::Primary => "hf-primary",
            Self::Danger => "hf-danger",
            Self::Plain => "",
        }
    }
}

/// One button of a screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// What it reads (a label the law prescribes where there is one).
    pub label: String,
    /// What it does.
    pub act: Act,
    /// How much it stands out.
    pub emphasis: Emphasis,
}

/// An offer as a screen needs it, borrowed from either edge's copy of the plan (the widget keeps
/// its own, decoded by hand; the server has core's [`PlanOffer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferCard<'a> {
    /// Offer id.
    pub id: &'a str,
    /// Offer kind, as [`crate::offer::OfferKind::as_str`] names it.
    pub kind: &'a str,
    /// The headline, then the complete terms, with money and date tokens.
    pub lines: &'a [String],
    /// Where a link-type offer leads.
    pub link: Option<&'a PlanLink>,
}

impl<'a> From<&'a PlanOffer> for OfferCard<'a> {
    fn from(offer: &'a PlanOffer) -> Self {
        Self {
            id: &offer.id,
            kind: offer.kind.as_str(),
            lines: &offer.lines,
            link: offer.link.as_ref(),
        }
    }
}

/// One block of a screen's content, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block<'a> {
    /// A problem with the last action ([`Notice`]), announced to screen readers.
    Notice(String),
    /// The survey's reasons, one to pick.
    Reasons(&'a [PlanReason]),
    /// The survey's optional free-text follow-up; its label.
    Details(String),
    /// The offer on screen: its card with the lines spelled out.
    Offer {
        /// The offer.
        card: OfferCard<'a>,
        /// Headline first, then the complete terms.
        lines: Vec<String>,
    },
    /// The terms of the offer taken, stated once more on the saved screen.
    Terms(Vec<String>),
    /// When the subscription ends.
    Ends(String),
    /// The summary page's account of the request: a heading, then its lines.
    Summary(Vec<String>),
    /// The receipt of a cancellation: a heading, then what, when received, when it ends.
    Receipt(Vec<String>),
    /// A plain paragraph.
    Text(String),
}

/// Everything one step shows: a title (which names the dialog and takes focus), content and
/// buttons, in order. The "Continue to cancel" control is not part of it: it stays on screen
/// across steps ([`Flow::continue_control_shown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen<'a> {
    /// The step's heading.
    pub title: String,
    /// Content, top to bottom.
    pub blocks: Vec<Block<'a>>,
    /// Buttons, in order.
    pub buttons: Vec<Button>,
}

/// What a screen is made from besides the flow and the words.
#[derive(Debug, Clone, Copy)]
pub struct ScreenInput<'a> {
    /// The session's offers for the reason given, in screen order (`CancelPlan::offers_for`).
    pub offers: &'a [OfferCard<'a>],
    /// The survey's reasons.
    pub reasons: &'a [PlanReason],
    /// The customer's plan, named in the summary and the receipt.
    pub plan_name: &'a str,
    /// When the paid period ends, if known: the honest "ends on" date.
    pub period_end: Option<UnixSeconds>,
    /// When the session opened, the receipt's "received" date.
    pub now: UnixSeconds,
    /// A problem with the last action to announce.
    pub notice: Option<Notice>,
}

impl<'a> Screen<'a> {
    /// The screen for the step `flow` is in.
    pub fn describe(flow: &Flow, input: &ScreenInput<'a>, words: &impl Words) -> Self {
        let rules = flow.rules();
        let step = *flow.step();
        let button = |key: &str, act, emphasis| Button {
            label: words.text(key),
            act,
            emphasis,
        };
        let close = || vec![button("dialog.close", Act::Close, Emphasis::Primary)];
        let ends = || match input.period_end {
            Some(at) => words.fill("confirm.ends_on", &[("date", &words.date(at))]),
            None => words.text("confirm.ends_period"),
        };
        let what = || words.fill("receipt.what", &[("plan", input.plan_name)]);
        let lines = |card: &OfferCard<'_>| card.lines.iter().map(|l| words.expand(l)).collect();
        let mut blocks = Vec::new();
        if let Some(notice) = input.notice {
            blocks.push(Block::Notice(words.text(notice.key())));
        }
        let (title, buttons) = match step {
            Step::Survey => {
                blocks.push(Block::Reasons(input.reasons));
                blocks.push(Block::Details(words.text("survey.details")));
                (
                    "survey.question",
                    vec![button("survey.continue", Act::Submit, Emphasis::Primary)],
                )
            }
            Step::Offer { .. } | Step::OfferAfterCancel => {
                if let Some(card) = step.offer_index().and_then(|i| input.offers.get(i)) {
                    blocks.push(Block::Offer {
                        card: *card,
                        lines: lines(card),
                    });
                }
                (
                    "offer.title",
                    vec![
                        button("offer.accept", Act::Accept, Emphasis::Primary),
                        button("offer.decline", Act::Decline, Emphasis::Plain),
                    ],
                )
            }
            Step::Confirm => {
                blocks.push(Block::Ends(ends()));
                let label = if rules.summary_page {
                    blocks.push(Block::Summary(vec![
                        words.text("receipt.title"),
                        what(),
                        ends(),
                    ]));
                    rules.labels.summary_confirm
                } else {
                    rules.labels.confirm_button
                };
                let mut confirm = button("confirm.button", Act::Confirm, Emphasis::Danger);
                if let Some(label) = label {
                    confirm.label = label.to_string();
                }
                (
                    "confirm.title",
                    vec![confirm, button("confirm.keep", Act::Keep, Emphasis::Plain)],
                )
            }
            Step::OfferQuestion => {
                blocks.push(Block::Text(words.text("question.body")));
                (
                    "done.cancelled",
                    vec![
                        button("question.yes", Act::WantOffer, Emphasis::Primary),
                        button("question.no", Act::NoOffer, Emphasis::Plain),
                    ],
                )
            }
            Step::Done(Outcome::Saved) => {
                if let Some(card) = flow.offer_taken().and_then(|i| input.offers.get(i)) {
                    blocks.push(Block::Terms(lines(card)));
                }
                ("done.saved", close())
            }
            Step::Done(Outcome::Cancelled) => {
                blocks.push(Block::Ends(ends()));
                if rules.receipt_required {
                    let ends = input.period_end.map_or_else(ends, |at| {
                        words.fill("receipt.ends", &[("date", &words.date(at))])
                    });
                    blocks.push(Block::Receipt(vec![
                        words.text("receipt.title"),
                        what(),
                        words.fill("receipt.received", &[("date", &words.date(input.now))]),
                        ends,
                    ]));
                }
                blocks.push(Block::Text(words.text("done.comeback")));
                // Not recorded yet (the server did not answer): said plainly.
                let title = if input.notice == Some(Notice::CancelPending) {
                    "cancel.pending_title"
                } else {
                    "done.cancelled"
                };
                (title, close())
            }
            // Nothing was cancelled: the subscription is kept.
            Step::Done(Outcome::Abandoned) => ("confirm.keep", close()),
        };
        Self {
            title: words.text(title),
            blocks,
            buttons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Action;
    use crate::plan::PlanOffer;
    use crate::policy::PolicyProfile;

    /// Keys as the words, so the tests read which string goes where.
    struct Keys;

    impl Words for Keys {
        fn text(&self, key: &str) -> String {
            key.to_string()
        }
        fn date(&self, at: UnixSeconds) -> String {
            ["day ", &at.to_string()].concat()
        }
        fn expand(&self, line: &str) -> String {
            ["expanded ", line].concat()
        }
        fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
            let args: Vec<String> = args.iter().map(|(k, v)| [k, "=", v].concat()).collect();
            [key, " ", &args.join(" ")].concat()
        }
    }

    fn offer(id: &str) -> PlanOffer {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "kind": "pause",
            "lines": [format!("{id} headline"), format!("{id} terms")],
            "terms": { "type": "pause", "months": 1 },
        }))
        .unwrap_or_else(|e| panic!("a plan offer: {e}"))
    }

    fn reasons() -> Vec<PlanReason> {
        vec![PlanReason {
            id: "too_expensive".into(),
            label: "Too expensive".into(),
        }]
    }

    fn describe<'a>(flow: &Flow, input: &ScreenInput<'a>) -> Screen<'a> {
        Screen::describe(flow, input, &Keys)
    }

    fn input<'a>(offers: &'a [OfferCard<'a>], reasons: &'a [PlanReason]) -> ScreenInput<'a> {
        ScreenInput {
            offers,
            reasons,
            plan_name: "Pro",
            period_end: Some(100),
            now: 7,
            notice: None,
        }
    }

    fn acts(screen: &Screen<'_>) -> Vec<Act> {
        screen.buttons.iter().map(|b| b.act).collect()
    }

    #[test]
    fn the_survey_asks_for_a_reason_with_an_optional_follow_up() {
        let reasons = reasons();
        let flow = Flow::new(PolicyProfile::Standard.rules(2));
        let screen = describe(&flow, &input(&[], &reasons));
        assert_eq!(screen.title, "survey.question");
        assert_eq!(
            screen.blocks,
            [
                Block::Reasons(&reasons),
                Block::Details("survey.details".into())
            ]
        );
        assert_eq!(acts(&screen), [Act::Submit]);
        assert_eq!(screen.buttons[0].emphasis, Emphasis::Primary);
    }

    #[test]
    fn each_offer_screen_shows_its_own_offer_and_the_saved_screen_the_one_taken() {
        let (primary, fallback) = (offer("primary"), offer("fallback"));
        let offers = [OfferCard::from(&primary), OfferCard::from(&fallback)];
        let reasons = reasons();
        let mut flow = Flow::new(PolicyProfile::Standard.rules(2));
        flow.next(Action::ReasonChosen {
            offers_available: 2,
        });
        let card = |screen: &Screen<'_>| match &screen.blocks[..] {
            [Block::Offer { card, lines }] => (card.id.to_string(), lines[0].clone()),
            other => panic!("one offer card, not {other:?}"),
        };
        let first = describe(&flow, &input(&offers, &reasons));
        assert_eq!(card(&first).0, "primary");
        assert_eq!(acts(&first), [Act::Accept, Act::Decline]);
        flow.next(Action::OfferDeclined);
        let second = describe(&flow, &input(&offers, &reasons));
        assert_eq!(
            card(&second),
            ("fallback".into(), "expanded fallback headline".into()),
            "the second screen shows the fallback, its lines spelled out"
        );
        flow.next(Action::OfferAccepted);
        let saved = describe(&flow, &input(&offers, &reasons));
        assert_eq!(saved.title, "done.saved");
        assert_eq!(
            saved.blocks,
            [Block::Terms(vec![
                "expanded fallback headline".into(),
                "expanded fallback terms".into()
            ])],
            "the saved screen states the offer taken, not the primary"
        );
        assert_eq!(acts(&saved), [Act::Close]);
    }

    #[test]
    fn the_confirmation_states_the_end_and_uses_the_prescribed_label() {
        let flow = Flow::new(PolicyProfile::Germany.rules(1));
        let screen = describe(&flow, &input(&[], &[]));
        assert_eq!(screen.title, "confirm.title");
        assert_eq!(
            screen.blocks,
            [Block::Ends("confirm.ends_on date=day 100".into())]
        );
        assert_eq!(acts(&screen), [Act::Confirm, Act::Keep]);
        assert_eq!(screen.buttons[0].label, "jetzt kündigen");
        assert_eq!(screen.buttons[0].emphasis, Emphasis::Danger);
    }

    #[test]
    fn a_summary_page_profile_confirms_on_a_summary_of_the_request() {
        let mut flow = Flow::new(PolicyProfile::France.rules(1));
        flow.next(Action::ContinueToCancel);
        let screen = describe(&flow, &input(&[], &[]));
        assert!(
            screen
                .blocks
                .iter()
                .any(|b| matches!(b, Block::Summary(lines) if lines.len() == 3)),
            "{screen:?}"
        );
        assert_eq!(
            screen.buttons[0].label,
            "confirmer ma demande de résiliation"
        );
    }

    #[test]
    fn a_cancellation_gives_the_receipt_the_profile_requires() {
        let mut flow = Flow::new(PolicyProfile::Germany.rules(1));
        flow.next(Action::CancelConfirmed);
        let screen = describe(&flow, &input(&[], &[]));
        assert_eq!(screen.title, "done.cancelled");
        assert_eq!(
            screen.blocks,
            [
                Block::Ends("confirm.ends_on date=day 100".into()),
                Block::Receipt(vec![
                    "receipt.title".into(),
                    "receipt.what plan=Pro".into(),
                    "receipt.received date=day 7".into(),
                    "receipt.ends date=day 100".into(),
                ]),
                Block::Text("done.comeback".into()),
            ]
        );
    }

    #[test]
    fn an_unrecorded_cancellation_says_so_in_its_title() {
        let mut flow = Flow::new(PolicyProfile::Standard.rules(1));
        flow.next(Action::ContinueToCancel);
        flow.next(Action::CancelConfirmed);
        let screen = describe(
            &flow,
            &ScreenInput {
                notice: Some(Notice::CancelPending),
                ..input(&[], &[])
            },
        );
        assert_eq!(screen.title, "cancel.pending_title");
        assert_eq!(screen.blocks[0], Block::Notice("cancel.pending".into()));
    }

    #[test]
    fn after_a_cancellation_on_request_the_offer_is_asked_for_first() {
        let mut flow = Flow::new(PolicyProfile::Minnesota.rules(1));
        flow.next(Action::ReasonChosen {
            offers_available: 1,
        });
        flow.next(Action::CancelConfirmed);
        let screen = describe(&flow, &input(&[], &[]));
        assert_eq!(screen.title, "done.cancelled");
        assert_eq!(acts(&screen), [Act::WantOffer, Act::NoOffer]);
    }

    #[test]
    fn every_act_has_a_name_that_reads_back() {
        for act in Act::ALL {
            assert_eq!(Act::from_name(act.as_str()), Some(act));
            assert_eq!(Act::ALL[act as usize], act, "ALL is in declaration order");
        }
        assert_eq!(Act::from_name("continue"), None);
    }
}
