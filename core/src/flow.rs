//! The cancel flow as a state machine: survey, offer, confirmation, done.
//!
//! The flow is an enum, not a bag of booleans: [`Step`] alone says what the widget shows and
//! whether the cancellation has happened yet, and every transition is an exhaustive `match` in one
//! function, so the never-trapped guarantees (a cancel control on every step before the
//! cancellation, cancel reachable in
//! one step, closing is never a cancellation) are checked by the compiler and by property tests
//! rather than by convention. The [`PolicyRules`] of the session's profile decide whether a survey
//! or an offer appears at all; an event that makes no sense in a step leaves it unchanged.

use serde::{Deserialize, Serialize};

use crate::policy::{OfferTiming, PolicyRules, SurveyRule};

/// The most offers the widget's selection can produce for one session: a primary and a fallback.
const MAX_OFFERS_AVAILABLE: u8 = 2;

/// What a session's offer selection makes available to the flow, from the number of offers the
/// plan has for the reason (`CancelPlan::offers_for`): at most a primary and a fallback. The
/// widget and the no-JavaScript page pass it in [`Action::ReasonChosen`] and
/// [`Action::SurveySkipped`].
#[inline]
pub const fn offers_available(planned: usize) -> u8 {
    if planned < MAX_OFFERS_AVAILABLE as usize {
        planned as u8
    } else {
        MAX_OFFERS_AVAILABLE
    }
}

/// Where the subscriber is in the cancel flow.
///
/// The first three steps come before the cancellation; [`Step::OfferQuestion`] and
/// [`Step::OfferAfterCancel`] come after it (Minnesota), so the widget can word them honestly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// "What's the main reason you're cancelling?", always skippable.
    Survey,
    /// A save offer before the cancellation; `screen` counts from 1 (2 is the fallback offer).
    Offer {
        /// Which offer screen of the session this is, starting at 1.
        screen: u8,
    },
    /// States exactly what happens and asks to confirm the cancellation (the summary page where
    /// the profile requires one).
    Confirm,
    /// The cancellation is complete; "would you like to see an offer?" (Minnesota).
    OfferQuestion,
    /// An offer shown on request after the cancellation; accepting it reverses the cancellation.
    OfferAfterCancel,
    /// The flow is over; nothing moves it on.
    Done(Outcome),
}

impl Step {
    /// Which of the session's offers (`CancelPlan::offers_for` the reason) is on screen: the
    /// screen's own on an offer step, the primary after a cancellation, none elsewhere. The
    /// widget draws it, the no-JavaScript page renders it, and both report it shown.
    #[inline]
    pub const fn offer_index(self) -> Option<usize> {
        match self {
            Self::Offer { screen } => Some(screen.saturating_sub(1) as usize),
            Self::OfferAfterCancel => Some(0),
            _ => None,
        }
    }

    /// A stable name for the audit record, events and `data-testid`s.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Survey => "survey",
            Self::Offer { .. } => "offer",
            Self::Confirm => "confirm",
            Self::OfferQuestion => "offer_question",
            Self::OfferAfterCancel => "offer_after_cancel",
            Self::Done(_) => "done",
        }
    }

    /// How the session ended, once it has.
    pub const fn outcome(self) -> Option<Outcome> {
        match self {
            Self::Done(outcome) => Some(outcome),
            Self::Survey
            | Self::Offer { .. }
            | Self::Confirm
            | Self::OfferQuestion
            | Self::OfferAfterCancel => None,
        }
    }

    /// Whether the flow has ended.
    pub const fn is_done(self) -> bool {
        self.outcome().is_some()
    }

    /// Whether the step shows an offer (before or after the cancellation), for counting screens.
    pub const fn shows_offer(self) -> bool {
        matches!(self, Self::Offer { .. } | Self::OfferAfterCancel)
    }
}

/// How a cancel session ended: the basis of save rates and of the audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The subscriber accepted an offer and stays subscribed.
    Saved,
    /// The subscriber confirmed the cancellation.
    Cancelled,
    /// The subscriber closed the dialog before confirming: nothing was cancelled.
    Abandoned,
}

impl Outcome {
    /// The stable name used in events and the audit record (same as the serde form).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Saved => "saved",
            Self::Cancelled => "cancelled",
            Self::Abandoned => "abandoned",
        }
    }
}

/// Something the subscriber did in the cancel dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A reason was picked; the widget then ran offer selection for it.
    ReasonChosen {
        /// Offers selection found for this customer and reason: primary plus fallback (0..=2).
        offers_available: u8,
    },
    /// The survey was skipped; offer selection ran without a reason.
    SurveySkipped {
        /// Offers selection found for this customer: primary plus fallback (0..=2).
        offers_available: u8,
    },
    /// The offer on screen was taken.
    OfferAccepted,
    /// The offer on screen was turned down.
    OfferDeclined,
    /// The always-visible "Continue to cancel" control.
    ContinueToCancel,
    /// The cancellation was confirmed on the confirmation step.
    CancelConfirmed,
    /// After a Minnesota cancellation: yes, show me an offer.
    WantsOffer,
    /// After a Minnesota cancellation: no, thanks.
    NoOfferThanks,
    /// Esc or the close button.
    Closed,
}

/// One step shown to the subscriber, as the append-only audit record keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step that was shown.
    pub step: Step,
    /// Whether the cancel control was visible on it: the evidence that no one was trapped.
    pub cancel_control_visible: bool,
}

/// One subscriber's pass through the cancel flow under one policy profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Where the subscriber is now.
    step: Step,
    /// The rules of the session's profile, fixed for the whole session.
    rules: PolicyRules,
    /// Offers the widget's selection found once the survey was answered (0 until then).
    offers_available: u8,
    /// Offer screens shown so far, before and after the cancellation.
    offers_shown: u8,
    /// Every step shown, in order, starting with the first.
    history: Vec<StepRecord>,
}

impl Flow {
    /// A new session: at the survey, or straight at the confirmation where no survey is asked.
    pub fn new(rules: PolicyRules) -> Self {
        let step = match rules.survey {
            SurveyRule::Skippable => Step::Survey,
            SurveyRule::NotAsked => Step::Confirm,
        };
        let mut flow = Self {
            step,
            rules,
            offers_available: 0,
            offers_shown: 0,
            history: vec![],
        };
        flow.record(step);
        flow
    }

    /// Applies what the subscriber did and returns the step to show now.
    pub fn next(&mut self, event: Action) -> &Step {
        if let (
            Step::Survey,
            Action::ReasonChosen { offers_available } | Action::SurveySkipped { offers_available },
        ) = (self.step, event)
        {
            self.offers_available = offers_available.min(MAX_OFFERS_AVAILABLE);
        }
        let next = self.step_after(event);
        if next != self.step {
            if next.shows_offer() {
                self.offers_shown += 1;
            }
            self.step = next;
            self.record(next);
        }
        &self.step
    }

    /// The step to show now.
    pub fn step(&self) -> &Step {
        &self.step
    }

    /// The rules the session runs under, for the widget's labels, summary and receipt.
    pub fn rules(&self) -> &PolicyRules {
        &self.rules
    }

    /// Offer screens shown so far, never more than the profile allows.
    pub fn offers_shown(&self) -> u8 {
        self.offers_shown
    }

    /// Whether the "Continue to cancel" control shows: on every step until the cancellation is
    /// confirmed. After it (Minnesota's offer question and the offer shown on request) there is
    /// nothing left to continue to, and every way out keeps the cancellation.
    pub fn cancel_control_visible(&self) -> bool {
        !matches!(
            self.step,
            Step::OfferQuestion | Step::OfferAfterCancel | Step::Done(_)
        )
    }

    /// Whether the separate "Continue to cancel" control shows: wherever the cancel control is
    /// visible except the confirmation, whose own button is the cancel control. The widget and the
    /// no-JavaScript page both ask this.
    pub fn continue_control_shown(&self) -> bool {
        matches!(self.step, Step::Survey | Step::Offer { .. })
    }

    /// Which of the session's offers (`CancelPlan::offers_for` the reason) was taken, once the
    /// flow has ended saved: the one on the screen where it was accepted, so the saved screen and
    /// the outcome name the fallback when the fallback was taken.
    pub fn offer_taken(&self) -> Option<usize> {
        match self.step {
            // Only an offer step's acceptance leads here, so the step before it is that screen.
            Step::Done(Outcome::Saved) => self.history.iter().rev().nth(1)?.step.offer_index(),
            _ => None,
        }
    }

    /// Every step shown and whether the cancel control was visible on it, for the audit record.
    pub fn history(&self) -> &[StepRecord] {
        &self.history
    }

    /// The transition table; pure, so that every rule of the flow is in this one `match`.
    fn step_after(&self, event: Action) -> Step {
        match self.step {
            Step::Survey => match event {
                Action::ReasonChosen { .. } | Action::SurveySkipped { .. } => self.first_offer(),
                Action::ContinueToCancel => Step::Confirm,
                Action::Closed => Step::Done(Outcome::Abandoned),
                Action::OfferAccepted
                | Action::OfferDeclined
                | Action::CancelConfirmed
                | Action::WantsOffer
                | Action::NoOfferThanks => self.step,
            },
            Step::Offer { screen } => match event {
                Action::OfferAccepted => Step::Done(Outcome::Saved),
                Action::OfferDeclined if self.may_show_another_offer() => {
                    Step::Offer { screen: screen + 1 }
                }
                Action::OfferDeclined | Action::ContinueToCancel => Step::Confirm,
                Action::Closed => Step::Done(Outcome::Abandoned),
                Action::ReasonChosen { .. }
                | Action::SurveySkipped { .. }
                | Action::CancelConfirmed
                | Action::WantsOffer
                | Action::NoOfferThanks => self.step,
            },
            Step::Confirm => match event {
                Action::CancelConfirmed
                    if self.rules.offer_timing == OfferTiming::AfterCancelOnRequest
                        && self.may_show_another_offer() =>
                {
                    Step::OfferQuestion
                }
                Action::CancelConfirmed => Step::Done(Outcome::Cancelled),
                Action::Closed => Step::Done(Outcome::Abandoned),
                Action::ReasonChosen { .. }
                | Action::SurveySkipped { .. }
                | Action::OfferAccepted
                | Action::OfferDeclined
                | Action::ContinueToCancel
                | Action::WantsOffer
                | Action::NoOfferThanks => self.step,
            },
            // The cancellation is complete: every way out keeps it so.
            Step::OfferQuestion => match event {
                Action::WantsOffer => Step::OfferAfterCancel,
                Action::NoOfferThanks | Action::ContinueToCancel | Action::Closed => {
                    Step::Done(Outcome::Cancelled)
                }
                Action::ReasonChosen { .. }
                | Action::SurveySkipped { .. }
                | Action::OfferAccepted
                | Action::OfferDeclined
                | Action::CancelConfirmed => self.step,
            },
            Step::OfferAfterCancel => match event {
                Action::OfferAccepted => Step::Done(Outcome::Saved),
                Action::OfferDeclined
                | Action::NoOfferThanks
                | Action::ContinueToCancel
                | Action::Closed => Step::Done(Outcome::Cancelled),
                Action::ReasonChosen { .. }
                | Action::SurveySkipped { .. }
                | Action::CancelConfirmed
                | Action::WantsOffer => self.step,
            },
            Step::Done(_) => self.step,
        }
    }

    /// After the survey: the first offer if the profile allows one now and selection found one.
    fn first_offer(&self) -> Step {
        if self.rules.offer_timing == OfferTiming::BeforeCancel && self.may_show_another_offer() {
            Step::Offer { screen: 1 }
        } else {
            Step::Confirm
        }
    }

    /// Whether one more offer screen fits both the profile's limit and the offers selection found.
    fn may_show_another_offer(&self) -> bool {
        self.offers_shown < self.rules.max_offer_screens
            && self.offers_shown < self.offers_available
    }

    fn record(&mut self, step: Step) {
        let cancel_control_visible = self.cancel_control_visible();
        self.history.push(StepRecord {
            step,
            cancel_control_visible,
        });
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::policy::PolicyProfile;

    fn flow(profile: PolicyProfile, max_offer_screens: u8) -> Flow {
        Flow::new(profile.rules(max_offer_screens))
    }

    fn run(flow: &mut Flow, events: &[Action]) -> Step {
        for &event in events {
            flow.next(event);
        }
        *flow.step()
    }

    const REASON_WITH_ONE_OFFER: Action = Action::ReasonChosen {
        offers_available: 1,
    };
    const REASON_WITH_TWO_OFFERS: Action = Action::ReasonChosen {
        offers_available: 2,
    };

    #[test]
    fn the_flow_starts_with_the_survey() {
        assert_eq!(*flow(PolicyProfile::Standard, 1).step(), Step::Survey);
    }

    #[test]
    fn choosing_a_reason_shows_the_offer() {
        let mut f = flow(PolicyProfile::Standard, 1);
        assert_eq!(*f.next(REASON_WITH_ONE_OFFER), Step::Offer { screen: 1 });
        assert_eq!(f.offers_shown(), 1);
    }

    #[test]
    fn skipping_the_survey_still_allows_an_offer() {
        let mut f = flow(PolicyProfile::California, 1);
        assert_eq!(
            *f.next(Action::SurveySkipped {
                offers_available: 1
            }),
            Step::Offer { screen: 1 }
        );
    }

    #[test]
    fn no_offer_is_shown_when_selection_found_none() {
        let mut f = flow(PolicyProfile::Standard, 2);
        assert_eq!(
            *f.next(Action::ReasonChosen {
                offers_available: 0
            }),
            Step::Confirm
        );
        assert_eq!(f.offers_shown(), 0);
    }

    #[test]
    fn declining_the_offer_leads_to_the_cancel_confirmation() {
        let mut f = flow(PolicyProfile::Standard, 1);
        assert_eq!(
            run(&mut f, &[REASON_WITH_TWO_OFFERS, Action::OfferDeclined]),
            Step::Confirm
        );
        assert_eq!(f.offers_shown(), 1);
    }

    #[test]
    fn a_second_offer_follows_a_decline_only_when_allowed_and_available() {
        let mut two_allowed = flow(PolicyProfile::Standard, 2);
        let step = run(
            &mut two_allowed,
            &[REASON_WITH_TWO_OFFERS, Action::OfferDeclined],
        );
        assert_eq!(step, Step::Offer { screen: 2 });
        assert_eq!(*two_allowed.next(Action::OfferDeclined), Step::Confirm);
        assert_eq!(two_allowed.offers_shown(), 2);

        let mut one_available = flow(PolicyProfile::Standard, 2);
        let step = run(
            &mut one_available,
            &[REASON_WITH_ONE_OFFER, Action::OfferDeclined],
        );
        assert_eq!(step, Step::Confirm);
    }

    #[test]
    fn accepting_the_offer_saves_the_subscription() {
        let mut f = flow(PolicyProfile::France, 1);
        let step = run(&mut f, &[REASON_WITH_ONE_OFFER, Action::OfferAccepted]);
        assert_eq!(step, Step::Done(Outcome::Saved));
    }

    #[test]
    fn confirming_the_cancellation_cancels() {
        let mut f = flow(PolicyProfile::Standard, 1);
        let events = [
            REASON_WITH_ONE_OFFER,
            Action::OfferDeclined,
            Action::CancelConfirmed,
        ];
        assert_eq!(run(&mut f, &events), Step::Done(Outcome::Cancelled));
    }

    #[test]
    fn continue_to_cancel_goes_straight_to_the_confirmation() {
        let mut from_survey = flow(PolicyProfile::Standard, 2);
        assert_eq!(*from_survey.next(Action::ContinueToCancel), Step::Confirm);

        let mut from_offer = flow(PolicyProfile::Standard, 2);
        let step = run(
            &mut from_offer,
            &[REASON_WITH_TWO_OFFERS, Action::ContinueToCancel],
        );
        assert_eq!(step, Step::Confirm);
    }

    #[test]
    fn closing_the_dialog_is_abandoned_not_cancelled() {
        let before_confirming: [&[Action]; 3] = [
            &[],
            &[REASON_WITH_ONE_OFFER],
            &[REASON_WITH_ONE_OFFER, Action::OfferDeclined],
        ];
        for events in before_confirming {
            let mut f = flow(PolicyProfile::Standard, 1);
            run(&mut f, events);
            assert_eq!(
                *f.next(Action::Closed),
                Step::Done(Outcome::Abandoned),
                "after {events:?}"
            );
        }
    }

    #[test]
    fn minnesota_shows_no_offer_before_the_cancellation_completes() {
        let mut f = flow(PolicyProfile::Minnesota, 2);
        assert_eq!(*f.next(REASON_WITH_TWO_OFFERS), Step::Confirm);
        assert_eq!(f.offers_shown(), 0);
    }

    #[test]
    fn minnesota_asks_after_the_cancellation_whether_to_show_an_offer() {
        let mut f = flow(PolicyProfile::Minnesota, 1);
        let step = run(&mut f, &[REASON_WITH_ONE_OFFER, Action::CancelConfirmed]);
        assert_eq!(step, Step::OfferQuestion);
        assert_eq!(*f.next(Action::WantsOffer), Step::OfferAfterCancel);
        assert_eq!(f.offers_shown(), 1);
        assert_eq!(
            *f.next(Action::OfferDeclined),
            Step::Done(Outcome::Cancelled)
        );
    }

    #[test]
    fn accepting_the_offer_after_a_minnesota_cancellation_saves_the_subscription() {
        let mut f = flow(PolicyProfile::Minnesota, 1);
        let events = [
            REASON_WITH_ONE_OFFER,
            Action::CancelConfirmed,
            Action::WantsOffer,
            Action::OfferAccepted,
        ];
        assert_eq!(run(&mut f, &events), Step::Done(Outcome::Saved));
    }

    #[test]
    fn declining_to_see_an_offer_after_a_minnesota_cancellation_keeps_it_cancelled() {
        for way_out in [
            Action::NoOfferThanks,
            Action::Closed,
            Action::ContinueToCancel,
        ] {
            let mut f = flow(PolicyProfile::Minnesota, 1);
            let step = run(
                &mut f,
                &[REASON_WITH_ONE_OFFER, Action::CancelConfirmed, way_out],
            );
            assert_eq!(step, Step::Done(Outcome::Cancelled), "{way_out:?}");
        }
    }

    #[test]
    fn minnesota_does_not_ask_about_an_offer_when_there_is_none() {
        let mut f = flow(PolicyProfile::Minnesota, 1);
        let events = [
            Action::ReasonChosen {
                offers_available: 0,
            },
            Action::CancelConfirmed,
        ];
        assert_eq!(run(&mut f, &events), Step::Done(Outcome::Cancelled));
    }

    #[test]
    fn germany_starts_at_the_confirmation_and_shows_no_offer() {
        let mut f = flow(PolicyProfile::Germany, 2);
        assert_eq!(*f.step(), Step::Confirm);
        assert_eq!(
            *f.next(Action::CancelConfirmed),
            Step::Done(Outcome::Cancelled)
        );
        assert_eq!(f.offers_shown(), 0);
    }

    #[test]
    fn events_that_do_not_apply_leave_the_step_unchanged() {
        let mut f = flow(PolicyProfile::Standard, 1);
        for event in [
            Action::OfferAccepted,
            Action::CancelConfirmed,
            Action::WantsOffer,
        ] {
            assert_eq!(*f.next(event), Step::Survey, "{event:?}");
        }
        assert_eq!(f.history().len(), 1, "an ignored event shows no new step");
    }

    #[test]
    fn the_history_records_each_step_and_the_cancel_control() {
        let mut f = flow(PolicyProfile::Standard, 1);
        run(
            &mut f,
            &[
                REASON_WITH_ONE_OFFER,
                Action::OfferDeclined,
                Action::CancelConfirmed,
            ],
        );
        let shown: Vec<(Step, bool)> = f
            .history()
            .iter()
            .map(|r| (r.step, r.cancel_control_visible))
            .collect();
        assert_eq!(
            shown,
            [
                (Step::Survey, true),
                (Step::Offer { screen: 1 }, true),
                (Step::Confirm, true),
                (Step::Done(Outcome::Cancelled), false),
            ]
        );
    }

    #[test]
    fn steps_and_outcomes_serialize_in_snake_case() {
        let json = serde_json::to_string(&[
            Step::Offer { screen: 1 },
            Step::OfferQuestion,
            Step::Done(Outcome::Abandoned),
        ])
        .unwrap();
        assert_eq!(
            json,
            r#"[{"offer":{"screen":1}},"offer_question",{"done":"abandoned"}]"#
        );
        for outcome in [Outcome::Saved, Outcome::Cancelled, Outcome::Abandoned] {
            assert_eq!(
                serde_json::to_string(&outcome).unwrap(),
                format!("\"{}\"", outcome.as_str())
            );
        }
    }

    // Property tests: random sessions under every profile, configured limit and offer count.

    fn any_event() -> impl Strategy<Value = Action> {
        prop_oneof![
            (0..=3u8).prop_map(|offers_available| Action::ReasonChosen { offers_available }),
            (0..=3u8).prop_map(|offers_available| Action::SurveySkipped { offers_available }),
            Just(Action::OfferAccepted),
            Just(Action::OfferDeclined),
            Just(Action::ContinueToCancel),
            Just(Action::CancelConfirmed),
            Just(Action::WantsOffer),
            Just(Action::NoOfferThanks),
            Just(Action::Closed),
        ]
    }

    fn any_session() -> impl Strategy<Value = (PolicyProfile, u8, Vec<Action>)> {
        (
            proptest::sample::select(PolicyProfile::ALL.to_vec()),
            1..=2u8,
            proptest::collection::vec(any_event(), 0..30),
        )
    }

    /// One event of a session, with the step it was applied to and the step it produced.
    struct Transition {
        before: Step,
        event: Action,
        after: Step,
    }

    fn play(profile: PolicyProfile, max: u8, events: &[Action]) -> (Flow, Vec<Transition>) {
        let mut flow = flow(profile, max);
        let transitions = events
            .iter()
            .map(|&event| {
                let before = *flow.step();
                let after = *flow.next(event);
                Transition {
                    before,
                    event,
                    after,
                }
            })
            .collect();
        (flow, transitions)
    }

    fn before_confirmation(step: Step) -> bool {
        matches!(step, Step::Survey | Step::Offer { .. } | Step::Confirm)
    }

    proptest! {
        #[test]
        fn a_cancel_request_reaches_the_confirmation_in_one_step(
            (profile, max, events) in any_session()
        ) {
            let (_, transitions) = play(profile, max, &events);
            for t in transitions.iter().filter(|t| t.event == Action::ContinueToCancel) {
                if before_confirmation(t.before) {
                    prop_assert_eq!(t.after, Step::Confirm, "from {:?}", t.before);
                }
            }
        }

        #[test]
        fn no_session_shows_more_offers_than_its_profile_allows(
            (profile, max, events) in any_session()
        ) {
            let (flow, _) = play(profile, max, &events);
            let rules = profile.rules(max);
            let offer_steps = flow.history().iter().filter(|r| r.step.shows_offer()).count();
            prop_assert_eq!(offer_steps, usize::from(flow.offers_shown()));
            prop_assert!(flow.offers_shown() <= rules.max_offer_screens);
            if rules.offer_timing != OfferTiming::BeforeCancel {
                let early = flow.history().iter().any(|r| matches!(r.step, Step::Offer { .. }));
                prop_assert!(!early, "{profile:?} showed an offer before the cancellation");
            }
            if profile == PolicyProfile::Germany {
                prop_assert_eq!(flow.offers_shown(), 0);
            }
        }

        #[test]
        fn closing_before_confirming_is_abandoned_and_only_a_confirmation_cancels(
            (profile, max, events) in any_session()
        ) {
            let (_, transitions) = play(profile, max, &events);
            let mut confirmed = false;
            for t in &transitions {
                confirmed |= t.event == Action::CancelConfirmed && t.before == Step::Confirm;
                if t.event == Action::Closed && before_confirmation(t.before) {
                    prop_assert_eq!(t.after, Step::Done(Outcome::Abandoned));
                }
                if t.after == Step::Done(Outcome::Cancelled) {
                    prop_assert!(confirmed, "cancelled without a confirmation");
                }
            }
        }

        #[test]
        fn accepting_an_offer_ends_in_saved((profile, max, events) in any_session()) {
            let (_, transitions) = play(profile, max, &events);
            for t in &transitions {
                if t.event == Action::OfferAccepted && t.before.shows_offer() {
                    prop_assert_eq!(t.after, Step::Done(Outcome::Saved));
                }
                if t.after == Step::Done(Outcome::Saved) && !t.before.is_done() {
                    prop_assert_eq!(t.event, Action::OfferAccepted);
                }
            }
        }

        #[test]
        fn a_saved_session_names_the_offer_on_the_screen_where_it_was_accepted(
            (profile, max, events) in any_session()
        ) {
            let (flow, transitions) = play(profile, max, &events);
            let accepted_on = transitions
                .iter()
                .find(|t| t.after == Step::Done(Outcome::Saved) && !t.before.is_done())
                .map(|t| t.before);
            prop_assert_eq!(flow.offer_taken(), accepted_on.and_then(Step::offer_index));
            prop_assert_eq!(flow.offer_taken().is_some(), *flow.step() == Step::Done(Outcome::Saved));
        }

        #[test]
        fn the_cancel_control_is_visible_on_every_step_until_the_cancellation(
            (profile, max, events) in any_session()
        ) {
            let before = |step: &Step| matches!(step, Step::Survey | Step::Offer { .. } | Step::Confirm);
            let (flow, _) = play(profile, max, &events);
            prop_assert_eq!(flow.cancel_control_visible(), before(flow.step()));
            for record in flow.history() {
                prop_assert_eq!(record.cancel_control_visible, before(&record.step));
            }
        }

        #[test]
        fn done_is_terminal((profile, max, events) in any_session()) {
            let (_, transitions) = play(profile, max, &events);
            for t in transitions.iter().filter(|t| t.before.is_done()) {
                prop_assert_eq!(t.after, t.before, "{:?} moved a finished flow", t.event);
            }
        }

        #[test]
        fn no_one_is_ever_trapped((profile, max, events) in any_session()) {
            let (flow, _) = play(profile, max, &events);
            // Closing always ends the session at once.
            let mut closing = flow.clone();
            prop_assert!(closing.next(Action::Closed).is_done());
            // And cancelling always succeeds within three events, unless the session already ended.
            let mut cancelling = flow.clone();
            let was_done = cancelling.step().is_done();
            let end = run(
                &mut cancelling,
                &[Action::ContinueToCancel, Action::CancelConfirmed, Action::NoOfferThanks],
            );
            prop_assert!(end.is_done());
            if !was_done {
                prop_assert_eq!(end, Step::Done(Outcome::Cancelled));
            }
        }
    }

    #[test]
    fn the_offer_on_screen_is_the_screens_own_and_the_primary_after_a_cancellation() {
        assert_eq!(Step::Offer { screen: 1 }.offer_index(), Some(0));
        assert_eq!(Step::Offer { screen: 2 }.offer_index(), Some(1));
        assert_eq!(Step::Offer { screen: 0 }.offer_index(), Some(0));
        assert_eq!(Step::OfferAfterCancel.offer_index(), Some(0));
        assert_eq!(Step::Confirm.offer_index(), None);
        assert_eq!(offers_available(0), 0);
        assert_eq!(offers_available(1), 1);
        assert_eq!(offers_available(5), 2);
    }
}
