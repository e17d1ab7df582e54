//! What a case worker asks for. Commands are requests, not facts: they may be refused.
//!
//! Their serde form is the JSON request schema of the write path. Unknown fields are
//! refused: a misspelt field must not be silently dropped from what is recorded.

use serde::{Deserialize, Serialize};

use crate::event::{
    AreaScore, Assessor, CorrectionReason, ExitOutcome, Fact, FollowUpPoint, FollowUpStatus, Gender,
    PlacementEndReason, PlacementNo, Registration, TrainingDiscontinuedReason, TrainingNo,
};
use crate::ids::{Code, Date, EventId, ParticipantRef, UserId};

/// A request to change one case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Record a new fact that happened on `occurred_on`.
    Record { occurred_on: Date, action: Action },
    /// Replace an earlier fact with a corrected one of the same type. `occurred_on` is
    /// the corrected business date (repeat the old one if only the content was wrong).
    Correct { target: EventId, reason: CorrectionReason, occurred_on: Date, replacement: Fact },
    /// Withdraw an earlier fact as if it had never been recorded.
    Retract { target: EventId, reason: CorrectionReason },
}

/// The facts a case worker records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Intake (*inskrivning*).
    Enroll {
        participant: ParticipantRef,
        gender: Gender,
        registration: Registration,
    },
    /// Start a placement (*praktik*); the case assigns its number.
    StartPlacement {
        site: Code,
        work_area: Code,
        hours_per_week: u8,
    },
    EndPlacement {
        placement: PlacementNo,
        reason: PlacementEndReason,
    },
    /// Start a course; the case assigns its number.
    StartTraining {
        course: Code,
        provider: Code,
    },
    CompleteTraining {
        training: TrainingRef,
        hours: u16,
        credential_earned: bool,
    },
    DiscontinueTraining {
        training: TrainingNo,
        reason: TrainingDiscontinuedReason,
    },
    /// Progress assessment (*stegförflyttning*).
    AssessProgress {
        instrument: Code,
        assessor: Assessor,
        scores: Vec<AreaScore>,
    },
    /// Exit (*avslut*).
    Exit {
        outcome: ExitOutcome,
        support_at_exit: Option<Code>,
    },
    FollowUp {
        point: FollowUpPoint,
        status: FollowUpStatus,
    },
    /// A new responsible case worker (*ny ansvarig*).
    Reassign {
        responsible: UserId,
    },
}

/// Which training a completion closes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingRef {
    /// A training recorded as started on this case.
    Started(TrainingNo),
    /// A course completed without a recorded start.
    New { course: Code, provider: Code },
}
