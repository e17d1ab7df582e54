//! The events: immutable facts about one participant's journey.
//!
//! # Wire contract
//!
//! Each payload struct here **is** version 1 of its event type on the wire: the codec
//! encodes it field by field, in declaration order, with the configuration in
//! [`crate::codec`]. So:
//!
//! - never reorder, rename-with-retype, add or remove a field of a shipped struct;
//! - enums are encoded as their variant index: only **append** variants, never reorder;
//! - a changed shape is a new version: copy the old struct to a `legacy` module, add an
//!   upcaster in [`crate::codec`], and add a golden fixture for the new version.
//!
//! The golden fixtures in `events/tests/fixtures/` fail the build when this is broken.
//!
//! No field may hold a name, personal identity number, address or free text: the log is
//! kept for years and cannot be edited, so it holds codes, numbers and dates only.

use serde::{Deserialize, Serialize};

use crate::ids::{Code, EventId, ParticipantRef, UserId};

/// Stable numeric code of each event type, written into every envelope.
///
/// The numbers are part of the wire contract and are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum EventType {
    Enrolled = 1,
    PlacementStarted = 2,
    PlacementEnded = 3,
    TrainingStarted = 4,
    TrainingCompleted = 5,
    TrainingDiscontinued = 6,
    ProgressAssessed = 7,
    Exited = 8,
    FollowedUp = 9,
    Corrected = 10,
    Retracted = 11,
    ResponsibleChanged = 12,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::Enrolled,
        EventType::PlacementStarted,
        EventType::PlacementEnded,
        EventType::TrainingStarted,
        EventType::TrainingCompleted,
        EventType::TrainingDiscontinued,
        EventType::ProgressAssessed,
        EventType::Exited,
        EventType::FollowedUp,
        EventType::Corrected,
        EventType::Retracted,
        EventType::ResponsibleChanged,
    ];

    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|t| *t as u16 == code)
    }

    pub fn code(self) -> u16 {
        self as u16
    }

    /// The schema version new events of this type are written with.
    pub fn current_version(self) -> u16 {
        1
    }

    /// English identifier, as used in JSON, subjects and file names.
    pub fn name(self) -> &'static str {
        match self {
            EventType::Enrolled => "enrolled",
            EventType::PlacementStarted => "placement_started",
            EventType::PlacementEnded => "placement_ended",
            EventType::TrainingStarted => "training_started",
            EventType::TrainingCompleted => "training_completed",
            EventType::TrainingDiscontinued => "training_discontinued",
            EventType::ProgressAssessed => "progress_assessed",
            EventType::Exited => "exited",
            EventType::FollowedUp => "followed_up",
            EventType::Corrected => "corrected",
            EventType::Retracted => "retracted",
            EventType::ResponsibleChanged => "responsible_changed",
        }
    }

    /// Swedish label, as case workers and auditors see it.
    pub fn label_sv(self) -> &'static str {
        match self {
            EventType::Enrolled => "Inskrivning",
            EventType::PlacementStarted => "Praktik påbörjad",
            EventType::PlacementEnded => "Praktik avslutad",
            EventType::TrainingStarted => "Utbildning påbörjad",
            EventType::TrainingCompleted => "Utbildning genomförd",
            EventType::TrainingDiscontinued => "Utbildning avbruten",
            EventType::ProgressAssessed => "Stegförflyttning bedömd",
            EventType::Exited => "Avslut",
            EventType::FollowedUp => "Uppföljning efter avslut",
            EventType::Corrected => "Rättelse",
            EventType::Retracted => "Makulering",
            EventType::ResponsibleChanged => "Ny ansvarig",
        }
    }
}

/// An event's content: a fact about the journey, or a correction of an earlier one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Fact(Fact),
    Corrected(Corrected),
    Retracted(Retracted),
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Event::Fact(f) => f.event_type(),
            Event::Corrected(_) => EventType::Corrected,
            Event::Retracted(_) => EventType::Retracted,
        }
    }

    /// The event this one corrects or retracts, if any.
    pub fn target(&self) -> Option<EventId> {
        match self {
            Event::Fact(_) => None,
            Event::Corrected(c) => Some(c.target),
            Event::Retracted(r) => Some(r.target),
        }
    }
}

/// A fact about the journey: everything that can be corrected or retracted.
///
/// Not itself a wire type (the codec writes the type code and the payload struct), so
/// its serde form is only the JSON one, used in correction requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fact {
    Enrolled(Enrolled),
    PlacementStarted(PlacementStarted),
    PlacementEnded(PlacementEnded),
    TrainingStarted(TrainingStarted),
    TrainingCompleted(TrainingCompleted),
    TrainingDiscontinued(TrainingDiscontinued),
    ProgressAssessed(ProgressAssessed),
    Exited(Exited),
    FollowedUp(FollowedUp),
    ResponsibleChanged(ResponsibleChanged),
}

impl Fact {
    pub fn event_type(&self) -> EventType {
        match self {
            Fact::Enrolled(_) => EventType::Enrolled,
            Fact::PlacementStarted(_) => EventType::PlacementStarted,
            Fact::PlacementEnded(_) => EventType::PlacementEnded,
            Fact::TrainingStarted(_) => EventType::TrainingStarted,
            Fact::TrainingCompleted(_) => EventType::TrainingCompleted,
            Fact::TrainingDiscontinued(_) => EventType::TrainingDiscontinued,
            Fact::ProgressAssessed(_) => EventType::ProgressAssessed,
            Fact::Exited(_) => EventType::Exited,
            Fact::FollowedUp(_) => EventType::FollowedUp,
            Fact::ResponsibleChanged(_) => EventType::ResponsibleChanged,
        }
    }
}

/// Intake (*inskrivning*): opens a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    /// Who, pseudonymously. Anonymous participants get a fresh random reference too, so
    /// the case can still be followed, but it links to nobody outside the log.
    pub participant: ParticipantRef,
    /// Kept for every participant, anonymous ones included: SUS reports by gender.
    pub gender: Gender,
    pub registration: Registration,
}

/// Whether the participant consented to registration with details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Consent given: the follow-up details are recorded.
    Consented(EnrolmentDetails),
    /// No consent, or protected identity: as in SUS, only gender and the year the
    /// participant started (the intake date) are kept.
    Anonymous(AnonymityReason),
}

/// Intake details recorded with consent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentDetails {
    /// Municipality code (*kommunkod*), from reference data.
    pub municipality: Code,
    /// Who referred the participant (*remittent*), from reference data.
    pub referrer: Code,
    /// Source of support at start (*försörjningskälla vid start*), from reference data.
    pub support_at_start: Code,
    /// Birth year only: enough for SUS age bands, not enough to identify.
    pub birth_year: u16,
    /// Region of birth, optional; the programme targets women born outside Europe.
    pub region_of_birth: Option<RegionOfBirth>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnonymityReason {
    NoConsent,
    ProtectedIdentity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Woman,
    Man,
    /// Non-binary, or the participant prefers not to say.
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionOfBirth {
    Sweden,
    Europe,
    OutsideEurope,
}

/// Number of a placement within its case: 1, 2, 3... Assigned by the case rules, so a
/// case worker can say "end placement 2".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlacementNo(pub u16);

/// Number of a training within its case, assigned like [`PlacementNo`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TrainingNo(pub u16);

/// A work-training placement (*praktik/arbetsträning*) started; `occurred_on` is the
/// start date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementStarted {
    pub placement: PlacementNo,
    pub site: Code,
    pub work_area: Code,
    /// Whole hours per week, 1–40 (in SUS, 40 hours is 100 %).
    pub hours_per_week: u8,
}

/// A placement ended; `occurred_on` is the end date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementEnded {
    pub placement: PlacementNo,
    pub reason: PlacementEndReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementEndReason {
    /// The planned period ended.
    Completed,
    /// Moved on to another placement.
    NewPlacement,
    /// Got a job.
    Employment,
    /// Started studies.
    Studies,
    Health,
    /// The participant broke it off.
    Discontinued,
    Other,
}

/// A course started; `occurred_on` is the start date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingStarted {
    pub training: TrainingNo,
    pub course: Code,
    pub provider: Code,
}

/// A course completed; `occurred_on` is the completion date. Either closes a started
/// training of the same number, or records a completed course on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingCompleted {
    pub training: TrainingNo,
    pub course: Code,
    pub provider: Code,
    /// Course hours attended.
    pub hours: u16,
    /// Whether the course's credential (licence, certificate) was earned.
    pub credential_earned: bool,
}

/// A started course broken off; `occurred_on` is the date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingDiscontinued {
    pub training: TrainingNo,
    pub reason: TrainingDiscontinuedReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingDiscontinuedReason {
    Health,
    /// Left the course for a job.
    Employment,
    /// The course did not suit the participant.
    NotSuitable,
    /// The participant broke it off.
    Discontinued,
    Other,
}

/// A progress assessment (*stegförflyttning*) on a named instrument.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressAssessed {
    /// Instrument code from reference data (e.g. `work-star`).
    pub instrument: Code,
    pub assessor: Assessor,
    /// One score per assessed area of the instrument, each within its scale.
    pub scores: Vec<AreaScore>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assessor {
    /// Self-assessment (*självskattning*).
    Participant,
    Staff,
    /// Participant and staff together.
    Joint,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaScore {
    pub area: Code,
    pub score: u8,
}

/// Exit (*avslut*); `occurred_on` is the exit date. Closes the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exited {
    pub outcome: ExitOutcome,
    /// Source of support at exit. Required for consented participants; never recorded
    /// for anonymous ones.
    pub support_at_exit: Option<Code>,
}

/// Outcome at exit. See [`ExitOutcome::sus_group`] for how SUS groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitOutcome {
    /// Job without wage subsidy.
    EmploymentUnsubsidised,
    /// Job with wage subsidy (*lönebidrag, nystartsjobb, ...*).
    EmploymentSubsidised,
    /// Studies, labour-market training included.
    Studies,
    /// Moved on to another programme or intervention.
    OtherProgramme,
    /// No job yet, but clearly closer to the labour market; now job-seeking.
    MovedCloser,
    Health,
    /// Moved away from the area.
    Moved,
    /// Broke off the programme.
    Discontinued,
    Other,
}

/// SUS's outcome groups (*avslutsanledning*, grouped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SusOutcomeGroup {
    /// *Förvärvsarbete*.
    Employment,
    /// *Studier* (labour-market training counts as studies).
    Studies,
    /// *Aktivt arbetssökande*.
    JobSeeking,
    /// *Övriga*.
    Other,
}

impl ExitOutcome {
    pub const ALL: [ExitOutcome; 9] = [
        ExitOutcome::EmploymentUnsubsidised,
        ExitOutcome::EmploymentSubsidised,
        ExitOutcome::Studies,
        ExitOutcome::OtherProgramme,
        ExitOutcome::MovedCloser,
        ExitOutcome::Health,
        ExitOutcome::Moved,
        ExitOutcome::Discontinued,
        ExitOutcome::Other,
    ];

    pub fn sus_group(self) -> SusOutcomeGroup {
        match self {
            ExitOutcome::EmploymentUnsubsidised | ExitOutcome::EmploymentSubsidised => SusOutcomeGroup::Employment,
            ExitOutcome::Studies => SusOutcomeGroup::Studies,
            // Closer to the labour market without a job means registered and job-seeking.
            ExitOutcome::MovedCloser => SusOutcomeGroup::JobSeeking,
            ExitOutcome::OtherProgramme
            | ExitOutcome::Health
            | ExitOutcome::Moved
            | ExitOutcome::Discontinued
            | ExitOutcome::Other => SusOutcomeGroup::Other,
        }
    }

    /// Counts toward the goal: a job, studies, or clearly closer to the labour market.
    pub fn is_throughput(self) -> bool {
        matches!(self.sus_group(), SusOutcomeGroup::Employment | SusOutcomeGroup::Studies | SusOutcomeGroup::JobSeeking)
    }
}

/// The case worker responsible for the case (*ansvarig*) is now `responsible`; until
/// the first such event it is whoever recorded the intake. Allowed on an exited case
/// too (its follow-ups are still due).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsibleChanged {
    pub responsible: UserId,
}

/// Follow-up after exit: is the person still in work or studies?
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowedUp {
    pub point: FollowUpPoint,
    pub status: FollowUpStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpPoint {
    Months3,
    Months6,
    Months12,
}

impl FollowUpPoint {
    pub fn months(self) -> u32 {
        match self {
            FollowUpPoint::Months3 => 3,
            FollowUpPoint::Months6 => 6,
            FollowUpPoint::Months12 => 12,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpStatus {
    Employed,
    Studying,
    NeitherEmployedNorStudying,
    /// The person could not be reached.
    NoContact,
}

/// A later event that supersedes an earlier fact. The replacement is the whole corrected
/// fact, of the same type; `occurred_on` of the correction is the corrected business date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrected {
    pub target: EventId,
    pub reason: CorrectionReason,
    pub replacement: Fact,
}

/// A later event that withdraws an earlier fact as if it had never been recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retracted {
    pub target: EventId,
    pub reason: CorrectionReason,
}

/// Why a fact was corrected or retracted. A code, never free text: the log must not hold
/// notes about people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionReason {
    /// A typing or selection mistake.
    EntryError,
    /// The business date was wrong.
    WrongDate,
    /// Recorded on the wrong case (SUS: *felregistrerad*).
    WrongCase,
    /// The same fact was recorded twice.
    Duplicate,
    /// New information changed what is known.
    LateInformation,
    Other,
}
