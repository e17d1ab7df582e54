//! Given/when/then for cases, and builders for commands.

use stod_events::case::{decide, Action, CaseState, Command, Context, NewEvent, Rejection, RejectionKind, TrainingRef};
use stod_events::codec;
use stod_events::event::*;
use stod_events::ids::*;
use stod_events::reference::Catalogue;
use stod_events::{RecordedEvent, SealedEvent};

pub fn d(s: &str) -> Date {
    s.parse().expect("test date")
}

pub fn code(s: &str) -> Code {
    Code::parse(s).expect("test code")
}

pub fn user() -> UserId {
    UserId::parse("handlaggare-1").unwrap()
}

/// A case under test: its events so far, and the world `decide` sees.
pub struct CaseTest {
    pub case_id: CaseId,
    pub catalogue: Catalogue,
    pub today: Date,
    pub open_case_of_participant: Option<CaseId>,
    pub state: CaseState,
    pub log: Vec<SealedEvent>,
}

/// Starts a case with the given commands applied; each must be accepted.
pub fn given(commands: &[Command]) -> CaseTest {
    let mut t = CaseTest {
        case_id: CaseId::new(),
        catalogue: Catalogue::default_catalogue(),
        today: d("2025-12-31"),
        open_case_of_participant: None,
        state: CaseState::default(),
        log: Vec::new(),
    };
    for c in commands {
        if let Err(r) = t.apply(c) {
            panic!("given: {c:?} was rejected: {r}");
        }
    }
    t
}

impl CaseTest {
    pub fn ctx(&self) -> Context<'_> {
        Context {
            today: self.today,
            catalogue: &self.catalogue,
            open_case_of_participant: self.open_case_of_participant,
        }
    }

    pub fn when(&self, command: &Command) -> Result<Vec<NewEvent>, Rejection> {
        decide(&self.state, command, &self.ctx())
    }

    /// Decides, seals, decodes and folds, exactly as the write path will.
    pub fn apply(&mut self, command: &Command) -> Result<Vec<EventId>, Rejection> {
        let new = self.when(command)?;
        let mut ids = Vec::new();
        let submission = SubmissionId::new();
        for n in new {
            let rec: RecordedEvent = n.record(self.case_id, submission, user(), Timestamp::now());
            let sealed = codec::seal(rec, &self.state.last_hash).expect("encodable");
            let decoded = codec::decode(&sealed.bytes).expect("decodable");
            assert_eq!(decoded, sealed, "codec round trip");
            ids.push(decoded.event.event_id);
            self.state.evolve(&decoded);
            self.log.push(decoded);
        }
        Ok(ids)
    }

    pub fn last_event_id(&self) -> EventId {
        self.log.last().expect("an event").event.event_id
    }

    /// The id of the first event of this type.
    pub fn event_of(&self, ty: EventType) -> EventId {
        self.log.iter().find(|e| e.event.event_type() == ty).expect("event of type").event.event_id
    }
}

/// Asserts a rejection of the given kind, and returns it for further checks.
#[track_caller]
pub fn rejects(result: Result<Vec<NewEvent>, Rejection>, kind: RejectionKind) -> Rejection {
    match result {
        Err(r) => {
            assert_eq!(r.kind(), kind, "rejected, but as {:?}: {r}", r.kind());
            r
        }
        Ok(events) => panic!("expected {kind:?}, but it emitted {events:?}"),
    }
}

/// Asserts exactly one emitted fact, and returns it.
#[track_caller]
pub fn emits_fact(result: Result<Vec<NewEvent>, Rejection>) -> (Date, Fact) {
    match result {
        Ok(mut events) if events.len() == 1 => match events.remove(0) {
            NewEvent { occurred_on, event: Event::Fact(f) } => (occurred_on, f),
            other => panic!("expected a fact, got {other:?}"),
        },
        other => panic!("expected one fact, got {other:?}"),
    }
}

pub fn at(date: &str, action: Action) -> Command {
    Command::Record { occurred_on: d(date), action }
}

pub fn details() -> EnrolmentDetails {
    EnrolmentDetails {
        municipality: code("2084"),
        referrer: code("ame-ludvika"),
        support_at_start: code("forsorjningsstod"),
        birth_year: 1985,
        region_of_birth: Some(RegionOfBirth::OutsideEurope),
    }
}

pub fn enroll_with(participant: ParticipantRef, registration: Registration) -> Action {
    Action::Enroll { participant, gender: Gender::Woman, registration }
}

pub fn enroll() -> Action {
    enroll_with(ParticipantRef::new(), Registration::Consented(details()))
}

pub fn enroll_anonymous() -> Action {
    enroll_with(ParticipantRef::new(), Registration::Anonymous(AnonymityReason::NoConsent))
}

pub fn start_placement() -> Action {
    Action::StartPlacement { site: code("industrisparet"), work_area: code("montering"), hours_per_week: 20 }
}

pub fn end_placement(n: u16) -> Action {
    Action::EndPlacement { placement: PlacementNo(n), reason: PlacementEndReason::Completed }
}

pub fn start_training() -> Action {
    Action::StartTraining { course: code("sfi"), provider: code("vbu-komvux") }
}

pub fn complete_training(n: u16) -> Action {
    Action::CompleteTraining { training: TrainingRef::Started(TrainingNo(n)), hours: 40, credential_earned: true }
}

pub fn complete_new_training() -> Action {
    Action::CompleteTraining {
        training: TrainingRef::New { course: code("truckkort"), provider: code("af-leverantor") },
        hours: 24,
        credential_earned: true,
    }
}

pub fn assess(score: u8) -> Action {
    Action::AssessProgress {
        instrument: code("work-star"),
        assessor: Assessor::Joint,
        scores: vec![AreaScore { area: code("stability"), score }, AreaScore { area: code("motivation"), score }],
    }
}

pub fn exit() -> Action {
    Action::Exit { outcome: ExitOutcome::EmploymentUnsubsidised, support_at_exit: Some(code("lon")) }
}

pub fn exit_anonymous() -> Action {
    Action::Exit { outcome: ExitOutcome::MovedCloser, support_at_exit: None }
}

pub fn follow_up(point: FollowUpPoint) -> Action {
    Action::FollowUp { point, status: FollowUpStatus::Employed }
}
