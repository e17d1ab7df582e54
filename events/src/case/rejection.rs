//! Why a command was refused: the case worker's mistake, said so they can act on it.
//!
//! Messages are Swedish (case workers read them); [`RejectionKind`] is what programs and
//! tests match on.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::{EventType, FollowUpPoint, PlacementNo, TrainingNo};
use crate::ids::{CaseId, Code, Date, EventId};
use crate::reference::CodeKind;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("ärendet har ingen inskrivning: skriv in deltagaren först")]
    NoIntake,
    #[error("ärendet har redan en inskrivning: en ny period för samma deltagare blir ett nytt ärende")]
    AlreadyEnrolled,
    #[error("ärendets inskrivning är makulerad: ärendet är ogiltigt och tar inte emot fler händelser")]
    CaseVoided,
    #[error("deltagaren har redan ett öppet ärende ({case_id}): avsluta det innan ett nytt öppnas")]
    ParticipantHasOpenCase { case_id: CaseId },
    #[error("ärendet avslutades {exited_on}: efter avslut kan bara uppföljning och rättelser registreras")]
    CaseExited { exited_on: Date },
    #[error("uppföljning kan bara registreras efter avslut")]
    NotExited,
    #[error("uppföljningen efter {} månader är redan registrerad", point.months())]
    FollowUpAlreadyRecorded { point: FollowUpPoint },
    #[error("praktik {} finns inte i ärendet; {}", placement.0, list_numbers("pågående praktik", open))]
    PlacementNotFound { placement: PlacementNo, open: Vec<u16> },
    #[error("praktik {} avslutades redan {ended_on}", placement.0)]
    PlacementAlreadyEnded { placement: PlacementNo, ended_on: Date },
    #[error("utbildning {} finns inte i ärendet; {}", training.0, list_numbers("pågående utbildningar", open))]
    TrainingNotFound { training: TrainingNo, open: Vec<u16> },
    #[error("utbildning {} är redan avslutad {closed_on}", training.0)]
    TrainingAlreadyClosed { training: TrainingNo, closed_on: Date },
    #[error("slutdatum {end} ligger före startdatum {start}")]
    EndBeforeStart { start: Date, end: Date },
    #[error("datumet {date} ligger i framtiden (i dag är det {today})")]
    DateInFuture { date: Date, today: Date },
    #[error("datumet {date} ligger före inskrivningen {intake}")]
    DateBeforeIntake { date: Date, intake: Date },
    #[error("datumet {date} ligger före avslutet {exited_on}")]
    DateBeforeExit { date: Date, exited_on: Date },
    #[error("okänd {kind}: {given:?}; giltiga koder: {}", join(valid))]
    UnknownCode { kind: CodeKind, given: String, valid: Vec<Code> },
    #[error("ogiltigt värde för {field}: {given}; giltigt: {valid}")]
    InvalidValue { field: &'static str, given: String, valid: String },
    #[error("avsluta först {}", open_activities(placements, trainings))]
    OpenActivitiesAtExit { placements: Vec<u16>, trainings: Vec<u16> },
    #[error("händelsen {event_id} finns inte i ärendet")]
    UnknownEvent { event_id: EventId },
    #[error("händelsen {event_id} är en rättelse eller makulering; rätta den ursprungliga händelsen i stället")]
    NotCorrectable { event_id: EventId },
    #[error("händelsen {event_id} är redan makulerad")]
    AlreadyRetracted { event_id: EventId },
    #[error("rättelsen måste vara av samma typ som händelsen: {} (inte {})", expected.label_sv(), given.label_sv())]
    CorrectionTypeMismatch { expected: EventType, given: EventType },
    #[error("{what} kan inte ändras genom rättelse; makulera och registrera på nytt")]
    CorrectionChangesIdentity { what: &'static str },
    #[error("rättelsen ändrar ingenting")]
    NothingToCorrect,
    #[error("ändringen skulle göra ärendet motsägelsefullt: {cause}")]
    CorrectionBreaksCase { cause: Box<Rejection> },
}

fn join(codes: &[Code]) -> String {
    codes.iter().map(Code::as_str).collect::<Vec<_>>().join(", ")
}

fn list_numbers(what: &str, numbers: &[u16]) -> String {
    if numbers.is_empty() {
        format!("det finns inga {what}")
    } else {
        let list: Vec<String> = numbers.iter().map(u16::to_string).collect();
        format!("{what}: {}", list.join(", "))
    }
}

fn open_activities(placements: &[u16], trainings: &[u16]) -> String {
    let mut parts = Vec::new();
    if !placements.is_empty() {
        parts.push(list_numbers("pågående praktik", placements));
    }
    if !trainings.is_empty() {
        parts.push(list_numbers("pågående utbildningar", trainings));
    }
    parts.join(" och ")
}

/// What a program matches on. Stable names: they appear in the JSON replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionKind {
    NoIntake,
    AlreadyEnrolled,
    CaseVoided,
    ParticipantHasOpenCase,
    CaseExited,
    NotExited,
    FollowUpAlreadyRecorded,
    PlacementNotFound,
    PlacementAlreadyEnded,
    TrainingNotFound,
    TrainingAlreadyClosed,
    EndBeforeStart,
    DateInFuture,
    DateBeforeIntake,
    DateBeforeExit,
    UnknownCode,
    InvalidValue,
    OpenActivitiesAtExit,
    UnknownEvent,
    NotCorrectable,
    AlreadyRetracted,
    CorrectionTypeMismatch,
    CorrectionChangesIdentity,
    NothingToCorrect,
    CorrectionBreaksCase,
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The serde name, so logs and JSON agree.
        let name = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned));
        f.write_str(name.as_deref().unwrap_or("unknown"))
    }
}

impl Rejection {
    pub fn kind(&self) -> RejectionKind {
        use RejectionKind as K;
        match self {
            Rejection::NoIntake => K::NoIntake,
            Rejection::AlreadyEnrolled => K::AlreadyEnrolled,
            Rejection::CaseVoided => K::CaseVoided,
            Rejection::ParticipantHasOpenCase { .. } => K::ParticipantHasOpenCase,
            Rejection::CaseExited { .. } => K::CaseExited,
            Rejection::NotExited => K::NotExited,
            Rejection::FollowUpAlreadyRecorded { .. } => K::FollowUpAlreadyRecorded,
            Rejection::PlacementNotFound { .. } => K::PlacementNotFound,
            Rejection::PlacementAlreadyEnded { .. } => K::PlacementAlreadyEnded,
            Rejection::TrainingNotFound { .. } => K::TrainingNotFound,
            Rejection::TrainingAlreadyClosed { .. } => K::TrainingAlreadyClosed,
            Rejection::EndBeforeStart { .. } => K::EndBeforeStart,
            Rejection::DateInFuture { .. } => K::DateInFuture,
            Rejection::DateBeforeIntake { .. } => K::DateBeforeIntake,
            Rejection::DateBeforeExit { .. } => K::DateBeforeExit,
            Rejection::UnknownCode { .. } => K::UnknownCode,
            Rejection::InvalidValue { .. } => K::InvalidValue,
            Rejection::OpenActivitiesAtExit { .. } => K::OpenActivitiesAtExit,
            Rejection::UnknownEvent { .. } => K::UnknownEvent,
            Rejection::NotCorrectable { .. } => K::NotCorrectable,
            Rejection::AlreadyRetracted { .. } => K::AlreadyRetracted,
            Rejection::CorrectionTypeMismatch { .. } => K::CorrectionTypeMismatch,
            Rejection::CorrectionChangesIdentity { .. } => K::CorrectionChangesIdentity,
            Rejection::NothingToCorrect => K::NothingToCorrect,
            Rejection::CorrectionBreaksCase { .. } => K::CorrectionBreaksCase,
        }
    }

    /// The valid values, where the rejection knows them (codes, open numbers), so a
    /// client can offer them.
    pub fn valid_values(&self) -> Vec<String> {
        match self {
            Rejection::UnknownCode { valid, .. } => valid.iter().map(|c| c.to_string()).collect(),
            Rejection::PlacementNotFound { open, .. } | Rejection::TrainingNotFound { open, .. } => {
                open.iter().map(u16::to_string).collect()
            }
            Rejection::CorrectionBreaksCase { cause } => cause.valid_values(),
            _ => Vec::new(),
        }
    }
}
