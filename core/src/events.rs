//! The event vocabulary: what the widget and the no-JavaScript page report and the server stores,
//! one name per thing that happened. The wire and the database carry [`EventType::as_str`]; every
//! writer and reader names an event through this enum, so a name is spelled once.

use serde::{Deserialize, Serialize};

/// What happened in the widget (or on the no-JavaScript page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// The cancel flow opened: a cancel session starts.
    FlowStarted,
    /// The survey was answered.
    ReasonSelected,
    /// An offer rendered (the exposure for experiments).
    OfferShown,
    /// The offer was accepted: the session is saved.
    OfferAccepted,
    /// The offer was declined.
    OfferDeclined,
    /// The cancellation was confirmed.
    CancelConfirmed,
    /// The flow was closed without an outcome.
    FlowAbandoned,
    /// An upgrade prompt rendered.
    PromptShown,
    /// An upgrade prompt's action was taken.
    PromptClicked,
    /// An upgrade prompt was dismissed.
    PromptDismissed,
    /// A feature-gate trial started.
    TrialStarted,
    /// The customer tried a feature their plan locks (`feature` names it).
    GateHit,
}

impl EventType {
    /// Every event type, in the order of the cancel flow, then the prompts.
    pub const ALL: [EventType; 12] = [
        EventType::FlowStarted,
        EventType::ReasonSelected,
        EventType::OfferShown,
        EventType::OfferAccepted,
        EventType::OfferDeclined,
        EventType::CancelConfirmed,
        EventType::FlowAbandoned,
        EventType::PromptShown,
        EventType::PromptClicked,
        EventType::PromptDismissed,
        EventType::TrialStarted,
        EventType::GateHit,
    ];

    /// The name on the wire and in storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::FlowStarted => "flow_started",
            EventType::ReasonSelected => "reason_selected",
            EventType::OfferShown => "offer_shown",
            EventType::OfferAccepted => "offer_accepted",
            EventType::OfferDeclined => "offer_declined",
            EventType::CancelConfirmed => "cancel_confirmed",
            EventType::FlowAbandoned => "flow_abandoned",
            EventType::PromptShown => "prompt_shown",
            EventType::PromptClicked => "prompt_clicked",
            EventType::PromptDismissed => "prompt_dismissed",
            EventType::TrialStarted => "trial_started",
            EventType::GateHit => "gate_hit",
        }
    }

    /// The event type a stored or received name stands for, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether it belongs to a cancel session (and so feeds save-rate stats).
    pub fn is_cancel_flow(self) -> bool {
        !matches!(
            self,
            EventType::PromptShown
                | EventType::PromptClicked
                | EventType::PromptDismissed
                | EventType::TrialStarted
                | EventType::GateHit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_its_serde_name_and_parses_back() {
        for t in EventType::ALL {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("offer_clicked"), None);
    }
}
