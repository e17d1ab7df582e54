//! The caseload of the model on a hand-made log: who is responsible (the intake's
//! recorder, then the latest live reassignment), lookups by the start of an id, and an
//! answer cut to fit one NATS message.

// Test code: a failed unwrap is a failed test, with its backtrace.
#![allow(clippy::unwrap_used)]

use stod_events::event::*;
use stod_events::ids::*;
use stod_events::RecordedEvent;
use stod_projections::{CaseStatus, Caseload, CaseloadQuery, Model};

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn user(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

#[derive(Default)]
struct Log {
    events: Vec<(u64, RecordedEvent)>,
}

impl Log {
    fn push(&mut self, case: CaseId, by: &str, date: &str, event: Event) -> EventId {
        let id = EventId::new();
        let seq = self.events.len() as u64 + 1;
        self.events.push((
            seq,
            RecordedEvent {
                event_id: id,
                case_id: case,
                occurred_on: d(date),
                recorded_at: Timestamp::from_micros(1_735_689_600_000_000 + seq as i64 * 1_000_000).unwrap(),
                recorded_by: user(by),
                submission_id: SubmissionId::new(),
                event,
            },
        ));
        id
    }

    fn enroll(&mut self, case: CaseId, by: &str, date: &str) -> EventId {
        let fact = Fact::Enrolled(Enrolled {
            participant: ParticipantRef::new(),
            gender: Gender::Woman,
            registration: Registration::Anonymous(AnonymityReason::NoConsent),
        });
        self.push(case, by, date, Event::Fact(fact))
    }

    fn reassign(&mut self, case: CaseId, by: &str, date: &str, to: &str) -> EventId {
        self.push(case, by, date, Event::Fact(Fact::ResponsibleChanged(ResponsibleChanged { responsible: user(to) })))
    }

    fn model(&self) -> Model {
        let mut m = Model::new();
        m.apply(self.events.iter().map(|(s, e)| (*s, e)));
        m
    }
}

fn responsible_of(m: &Model, case: CaseId, today: &str) -> Option<String> {
    let q = CaseloadQuery { prefix: Some(case.to_string()), ..CaseloadQuery::default() };
    let c = m.caseload(&q, d(today));
    assert_eq!(c.total, 1, "{c:?}");
    c.cases[0].responsible.as_ref().map(|u| u.as_str().to_owned())
}

#[test]
fn the_responsible_is_the_intake_recorder_until_a_live_reassignment() {
    let mut log = Log::default();
    let case = CaseId::new();
    let intake = log.enroll(case, "anna", "2025-01-10");
    assert_eq!(responsible_of(&log.model(), case, "2025-02-01").as_deref(), Some("anna"));
    // Another worker's correction of the intake does not make them responsible.
    log.push(
        case,
        "bertil",
        "2025-01-11",
        Event::Corrected(Corrected {
            target: intake,
            reason: CorrectionReason::WrongDate,
            replacement: Fact::Enrolled(Enrolled {
                participant: ParticipantRef::new(),
                gender: Gender::Woman,
                registration: Registration::Anonymous(AnonymityReason::NoConsent),
            }),
        }),
    );
    assert_eq!(responsible_of(&log.model(), case, "2025-02-01").as_deref(), Some("anna"));
    let to_bertil = log.reassign(case, "anna", "2025-03-01", "bertil");
    log.reassign(case, "bertil", "2025-04-01", "cecilia");
    let m = log.model();
    assert_eq!(responsible_of(&m, case, "2025-05-01").as_deref(), Some("cecilia"));
    // As the case stood before the second handover, and before the first.
    assert_eq!(responsible_of(&m, case, "2025-03-15").as_deref(), Some("bertil"));
    assert_eq!(responsible_of(&m, case, "2025-02-15").as_deref(), Some("anna"));
    // Cecilia's list has it, Anna's does not.
    let of = |who: &str| {
        m.caseload(&CaseloadQuery { responsible: Some(user(who)), ..CaseloadQuery::default() }, d("2025-05-01"))
    };
    assert_eq!((of("cecilia").total, of("anna").total), (1, 0));
    // The last handover retracted: back to the one before it.
    let last = log.events.last().unwrap().1.event_id;
    log.push(
        case,
        "anna",
        "2025-04-02",
        Event::Retracted(Retracted { target: last, reason: CorrectionReason::EntryError }),
    );
    assert_eq!(responsible_of(&log.model(), case, "2025-05-01").as_deref(), Some("bertil"));
    log.push(
        case,
        "anna",
        "2025-04-03",
        Event::Retracted(Retracted { target: to_bertil, reason: CorrectionReason::EntryError }),
    );
    assert_eq!(responsible_of(&log.model(), case, "2025-05-01").as_deref(), Some("anna"));
}

#[test]
fn a_lookup_by_the_start_of_an_id_counts_every_case_with_or_without_dashes() {
    let mut log = Log::default();
    let a = CaseId::from_uuid(uuid::Uuid::from_u128(0x0195_b8a2_7c4e_7d31_9a56_3f1e_2b4c_5d6e));
    let b = CaseId::from_uuid(uuid::Uuid::from_u128(0x0195_b8a2_7c4e_7d31_9a56_3f1e_2b4c_0000));
    log.enroll(a, "anna", "2025-01-10");
    let voided = log.enroll(b, "anna", "2025-01-10");
    log.push(
        b,
        "anna",
        "2025-01-10",
        Event::Retracted(Retracted { target: voided, reason: CorrectionReason::Duplicate }),
    );
    let m = log.model();
    let lookup =
        |p: &str| m.caseload(&CaseloadQuery { prefix: Some(p.into()), ..CaseloadQuery::default() }, d("2025-02-01"));
    // The voided case has no live fact, yet it shares the start: not unique.
    assert_eq!(lookup("0195b8a2-7c4e").total, 2);
    assert_eq!(lookup("0195B8A27C4E").total, 2, "without dashes, in capitals");
    let only = lookup("0195b8a2-7c4e-7d31-9a56-3f1e2b4c5d");
    assert_eq!((only.total, only.cases[0].case_id), (1, a));
    let void = lookup("0195b8a27c4e7d319a563f1e2b4c0000");
    assert_eq!((void.total, void.cases[0].status), (1, CaseStatus::NoIntake));
    // Without a prefix the voided case is on no list.
    assert_eq!(m.caseload(&CaseloadQuery::default(), d("2025-02-01")).total, 1);
}

#[test]
fn an_answer_is_cut_to_fit_and_says_so() {
    let mut log = Log::default();
    for _ in 0..50 {
        log.enroll(CaseId::new(), "anna", "2024-01-10");
    }
    let mut c: Caseload = log.model().caseload(&CaseloadQuery::default(), d("2025-06-01"));
    assert_eq!((c.total, c.cases.len(), c.truncated), (50, 50, false));
    let one = serde_json::to_vec(&c.cases[0]).unwrap().len();
    // Ten cases: the brackets, ten cases and their commas.
    let budget = 2 + 10 * (one + 1);
    c.fit(budget);
    assert_eq!((c.total, c.cases.len(), c.truncated), (50, 10, true));
    assert!(serde_json::to_vec(&c.cases).unwrap().len() <= budget);
}
