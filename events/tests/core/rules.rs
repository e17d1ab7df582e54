//! One test per rule a case worker can hit (domain.md), plus the valid paths.

use stod_events::case::{Action, Command, RejectionKind as K, TrainingRef};
use stod_events::event::*;
use stod_events::ids::{CaseId, ParticipantRef};
use stod_events::reference::CodeKind;

use crate::support::*;

// ----- valid paths -------------------------------------------------------------------

#[test]
fn a_whole_journey_emits_one_fact_per_command() {
    let mut t = given(&[]);
    let steps = [
        at("2025-01-10", enroll()),
        at("2025-01-20", start_placement()),
        at("2025-02-01", start_training()),
        at("2025-03-01", complete_training(1)),
        at("2025-03-05", assess(6)),
        at("2025-05-30", end_placement(1)),
        at("2025-06-01", exit()),
        at("2025-09-01", follow_up(FollowUpPoint::Months3)),
    ];
    for step in &steps {
        t.apply(step).unwrap_or_else(|r| panic!("{step:?}: {r}"));
    }
    let types: Vec<EventType> = t.log.iter().map(|e| e.event.event_type()).collect();
    assert_eq!(
        types,
        [
            EventType::Enrolled,
            EventType::PlacementStarted,
            EventType::TrainingStarted,
            EventType::TrainingCompleted,
            EventType::ProgressAssessed,
            EventType::PlacementEnded,
            EventType::Exited,
            EventType::FollowedUp,
        ]
    );
    let s = &t.state.summary;
    assert_eq!(s.exit.as_ref().map(|x| x.outcome), Some(ExitOutcome::EmploymentUnsubsidised));
    assert_eq!(s.placements[&PlacementNo(1)].ended, Some(d("2025-05-30")));
    assert_eq!(s.trainings[&TrainingNo(1)].closed, Some(d("2025-03-01")));
    assert_eq!(s.assessments, 1);
    assert!(s.follow_ups.contains_key(&FollowUpPoint::Months3));
}

#[test]
fn placements_and_trainings_are_numbered_by_the_case() {
    let t = given(&[at("2025-01-10", enroll()), at("2025-01-11", start_placement())]);
    let (_, fact) = emits_fact(t.when(&at("2025-01-12", start_placement())));
    assert!(matches!(fact, Fact::PlacementStarted(PlacementStarted { placement: PlacementNo(2), .. })));
    let t = given(&[at("2025-01-10", enroll()), at("2025-01-11", start_training())]);
    let (_, fact) = emits_fact(t.when(&at("2025-02-01", complete_new_training())));
    assert!(matches!(fact, Fact::TrainingCompleted(TrainingCompleted { training: TrainingNo(2), .. })));
}

#[test]
fn completing_a_started_training_takes_its_course_and_provider() {
    let t = given(&[at("2025-01-10", enroll()), at("2025-01-11", start_training())]);
    let (_, fact) = emits_fact(t.when(&at("2025-02-01", complete_training(1))));
    let Fact::TrainingCompleted(c) = fact else { panic!("{fact:?}") };
    assert_eq!((c.course, c.provider, c.training), (code("sfi"), code("vbu-komvux"), TrainingNo(1)));
}

#[test]
fn an_anonymous_participant_keeps_only_gender_and_start() {
    let t = given(&[at("2025-01-10", enroll_anonymous())]);
    let s = t.state.summary.intake.as_ref().unwrap();
    assert!(s.anonymous);
    assert_eq!(s.date.year(), 2025);
    let Fact::Enrolled(e) = &t.state.facts[0].fact else { panic!() };
    assert!(matches!(e.registration, Registration::Anonymous(_)));
    // An anonymous exit has no support source...
    emits_fact(t.when(&at("2025-03-01", exit_anonymous())));
    // ...and may not be given one.
    rejects(t.when(&at("2025-03-01", exit())), K::InvalidValue);
}

// ----- rules -------------------------------------------------------------------------

#[test]
fn nothing_before_an_intake() {
    let t = given(&[]);
    for action in
        [start_placement(), end_placement(1), start_training(), assess(5), exit(), follow_up(FollowUpPoint::Months3)]
    {
        rejects(t.when(&at("2025-02-01", action)), K::NoIntake);
    }
}

#[test]
fn no_second_intake_on_a_case() {
    let t = given(&[at("2025-01-10", enroll())]);
    rejects(t.when(&at("2025-02-01", enroll())), K::AlreadyEnrolled);
    // Not even after exit: re-entry opens a new case.
    let t = given(&[at("2025-01-10", enroll()), at("2025-02-01", exit())]);
    rejects(t.when(&at("2025-03-01", enroll())), K::AlreadyEnrolled);
}

#[test]
fn one_open_case_per_participant() {
    let mut t = given(&[]);
    let other = CaseId::new();
    t.open_case_of_participant = Some(other);
    let r = rejects(t.when(&at("2025-01-10", enroll())), K::ParticipantHasOpenCase);
    assert!(r.to_string().contains(&other.to_string()), "names the open case: {r}");
    // The index pointing at this very case (a retried intake) is no obstacle.
    t.open_case_of_participant = Some(t.case_id);
    t.state.case_id = Some(t.case_id);
    emits_fact(t.when(&at("2025-01-10", enroll())));
}

#[test]
fn nothing_after_exit_but_follow_ups_and_corrections() {
    let t = given(&[at("2025-01-10", enroll()), at("2025-02-01", exit())]);
    for action in [start_placement(), start_training(), complete_new_training(), assess(5), exit()] {
        rejects(t.when(&at("2025-03-01", action)), K::CaseExited);
    }
    emits_fact(t.when(&at("2025-05-01", follow_up(FollowUpPoint::Months3))));
    let target = t.event_of(EventType::Exited);
    let fix = Command::Correct {
        target,
        reason: CorrectionReason::WrongDate,
        occurred_on: d("2025-02-02"),
        replacement: Fact::Exited(Exited { outcome: ExitOutcome::Studies, support_at_exit: Some(code("studiemedel")) }),
    };
    assert!(t.when(&fix).is_ok());
}

#[test]
fn follow_up_only_after_exit_once_per_point_and_not_before_exit() {
    let t = given(&[at("2025-01-10", enroll())]);
    rejects(t.when(&at("2025-03-01", follow_up(FollowUpPoint::Months3))), K::NotExited);
    let t = given(&[
        at("2025-01-10", enroll()),
        at("2025-02-01", exit()),
        at("2025-05-01", follow_up(FollowUpPoint::Months3)),
    ]);
    rejects(t.when(&at("2025-05-02", follow_up(FollowUpPoint::Months3))), K::FollowUpAlreadyRecorded);
    emits_fact(t.when(&at("2025-08-01", follow_up(FollowUpPoint::Months6))));
    let t = given(&[at("2025-01-10", enroll()), at("2025-02-01", exit())]);
    rejects(t.when(&at("2025-01-31", follow_up(FollowUpPoint::Months3))), K::DateBeforeExit);
}

#[test]
fn a_placement_ends_only_if_started_and_only_once() {
    let t = given(&[at("2025-01-10", enroll()), at("2025-01-11", start_placement())]);
    let r = rejects(t.when(&at("2025-02-01", end_placement(7))), K::PlacementNotFound);
    assert_eq!(r.valid_values(), ["1"], "lists the open placements");
    let t =
        given(&[at("2025-01-10", enroll()), at("2025-01-11", start_placement()), at("2025-02-01", end_placement(1))]);
    rejects(t.when(&at("2025-02-02", end_placement(1))), K::PlacementAlreadyEnded);
}

#[test]
fn an_end_date_is_not_before_its_start() {
    let t =
        given(&[at("2025-01-10", enroll()), at("2025-01-20", start_placement()), at("2025-01-20", start_training())]);
    rejects(t.when(&at("2025-01-19", end_placement(1))), K::EndBeforeStart);
    rejects(t.when(&at("2025-01-19", complete_training(1))), K::EndBeforeStart);
    let discontinue =
        Action::DiscontinueTraining { training: TrainingNo(1), reason: TrainingDiscontinuedReason::Health };
    rejects(t.when(&at("2025-01-19", discontinue.clone())), K::EndBeforeStart);
    // The same day is fine.
    emits_fact(t.when(&at("2025-01-20", end_placement(1))));
    emits_fact(t.when(&at("2025-01-20", discontinue)));
}

#[test]
fn a_training_closes_only_if_started_and_only_once() {
    let t = given(&[at("2025-01-10", enroll())]);
    rejects(t.when(&at("2025-02-01", complete_training(1))), K::TrainingNotFound);
    let discontinue =
        Action::DiscontinueTraining { training: TrainingNo(1), reason: TrainingDiscontinuedReason::Other };
    rejects(t.when(&at("2025-02-01", discontinue.clone())), K::TrainingNotFound);
    let t = given(&[
        at("2025-01-10", enroll()),
        at("2025-01-11", start_training()),
        at("2025-02-01", complete_training(1)),
    ]);
    rejects(t.when(&at("2025-02-02", complete_training(1))), K::TrainingAlreadyClosed);
    rejects(t.when(&at("2025-02-02", discontinue)), K::TrainingAlreadyClosed);
}

#[test]
fn no_business_date_in_the_future() {
    let mut t = given(&[]);
    t.today = d("2025-06-01");
    let r = rejects(t.when(&at("2025-06-02", enroll())), K::DateInFuture);
    assert!(r.to_string().contains("2025-06-01"), "says what today is: {r}");
    emits_fact(t.when(&at("2025-06-01", enroll())));
}

#[test]
fn no_business_date_before_2000() {
    let t = given(&[]);
    for date in ["0001-01-01", "1025-03-14", "1999-12-31"] {
        let r = rejects(t.when(&at(date, enroll())), K::InvalidValue);
        assert!(r.to_string().contains("2000-01-01"), "says what is valid: {r}");
    }
    emits_fact(t.when(&at("2000-01-01", enroll())));
}

#[test]
fn no_business_date_before_the_intake() {
    let t = given(&[at("2025-01-10", enroll())]);
    for action in [start_placement(), start_training(), complete_new_training(), assess(3), exit()] {
        rejects(t.when(&at("2025-01-09", action)), K::DateBeforeIntake);
    }
}

#[test]
fn unknown_codes_are_refused_with_the_valid_codes_listed() {
    let t = given(&[at("2025-01-10", enroll())]);
    let bad_site = Action::StartPlacement { site: code("nowhere"), work_area: code("montering"), hours_per_week: 20 };
    let r = rejects(t.when(&at("2025-02-01", bad_site)), K::UnknownCode);
    assert!(r.valid_values().contains(&"atervinningsbutiken".to_string()), "{:?}", r.valid_values());
    assert!(matches!(r, stod_events::case::Rejection::UnknownCode { kind: CodeKind::Site, .. }));

    let bad_course = Action::StartTraining { course: code("juggling"), provider: code("vbu-komvux") };
    rejects(t.when(&at("2025-02-01", bad_course)), K::UnknownCode);

    let mut bad_municipality = details();
    bad_municipality.municipality = code("0180");
    let fresh = given(&[]);
    let r = rejects(
        fresh.when(&at("2025-01-10", enroll_with(ParticipantRef::new(), Registration::Consented(bad_municipality)))),
        K::UnknownCode,
    );
    assert_eq!(r.valid_values(), ["2061", "2084"]);

    let bad_area = Action::AssessProgress {
        instrument: code("work-star"),
        assessor: Assessor::Staff,
        scores: vec![AreaScore { area: code("happiness"), score: 5 }],
    };
    rejects(t.when(&at("2025-02-01", bad_area)), K::UnknownCode);
    let bad_support = Action::Exit { outcome: ExitOutcome::Studies, support_at_exit: Some(code("lottery")) };
    rejects(t.when(&at("2025-02-01", bad_support)), K::UnknownCode);
}

#[test]
fn a_retired_code_is_refused_for_new_facts() {
    let mut t = given(&[at("2025-01-10", enroll())]);
    let ext = toml::from_str("[[sites]]\ncode = 'industrisparet'\nname = 'Industrispåret'\nactive = false\n").unwrap();
    t.catalogue = t.catalogue.extend(ext).unwrap();
    let r = rejects(t.when(&at("2025-02-01", start_placement())), K::UnknownCode);
    assert!(!r.valid_values().contains(&"industrisparet".to_string()));
}

#[test]
fn values_out_of_range_are_refused_with_the_valid_range() {
    let t = given(&[at("2025-01-10", enroll())]);
    for hours in [0, 41] {
        let a = Action::StartPlacement { site: code("vaderbacken"), work_area: code("odling"), hours_per_week: hours };
        rejects(t.when(&at("2025-02-01", a)), K::InvalidValue);
    }
    let a = Action::CompleteTraining {
        training: TrainingRef::New { course: code("sfi"), provider: code("vbu-komvux") },
        hours: 0,
        credential_earned: false,
    };
    rejects(t.when(&at("2025-02-01", a)), K::InvalidValue);
    for score in [0, 11] {
        rejects(t.when(&at("2025-02-01", assess(score))), K::InvalidValue);
    }
    let empty = Action::AssessProgress { instrument: code("work-star"), assessor: Assessor::Staff, scores: vec![] };
    rejects(t.when(&at("2025-02-01", empty)), K::InvalidValue);
    let twice = Action::AssessProgress {
        instrument: code("work-star"),
        assessor: Assessor::Staff,
        scores: vec![AreaScore { area: code("stability"), score: 3 }, AreaScore { area: code("stability"), score: 4 }],
    };
    rejects(t.when(&at("2025-02-01", twice)), K::InvalidValue);
    let mut child = details();
    child.birth_year = 2015;
    rejects(
        given(&[]).when(&at("2025-01-10", enroll_with(ParticipantRef::new(), Registration::Consented(child)))),
        K::InvalidValue,
    );
}

#[test]
fn exit_needs_placements_and_trainings_ended_and_support_for_consented() {
    let t =
        given(&[at("2025-01-10", enroll()), at("2025-01-11", start_placement()), at("2025-01-12", start_training())]);
    let r = rejects(t.when(&at("2025-03-01", exit())), K::OpenActivitiesAtExit);
    assert!(matches!(r, stod_events::case::Rejection::OpenActivitiesAtExit { ref placements, ref trainings }
        if placements == &[1] && trainings == &[1]));
    let t = given(&[at("2025-01-10", enroll())]);
    rejects(
        t.when(&at("2025-03-01", Action::Exit { outcome: ExitOutcome::Health, support_at_exit: None })),
        K::InvalidValue,
    );
}

// ----- corrections and retractions ---------------------------------------------------

fn placement_fact(site: &str, n: u16) -> Fact {
    Fact::PlacementStarted(PlacementStarted {
        placement: PlacementNo(n),
        site: code(site),
        work_area: code("montering"),
        hours_per_week: 20,
    })
}

#[test]
fn a_correction_replaces_the_fact_and_the_case_follows() {
    let mut t = given(&[at("2025-01-10", enroll()), at("2025-01-20", start_placement())]);
    let target = t.event_of(EventType::PlacementStarted);
    t.apply(&Command::Correct {
        target,
        reason: CorrectionReason::EntryError,
        occurred_on: d("2025-01-21"),
        replacement: placement_fact("vaderbacken", 1),
    })
    .unwrap();
    let p = &t.state.summary.placements[&PlacementNo(1)];
    assert_eq!((p.site.as_str(), p.started), ("vaderbacken", d("2025-01-21")));
    assert_eq!(t.state.fact(&target).unwrap().corrections, 1);
    // The original stays in the log; the correction is a new event naming it.
    assert_eq!(t.log.len(), 3);
    assert_eq!(t.log[2].event.event.target(), Some(target));
}

#[test]
fn a_correction_must_keep_type_and_identity_and_change_something() {
    let t = given(&[at("2025-01-10", enroll()), at("2025-01-20", start_placement())]);
    let target = t.event_of(EventType::PlacementStarted);
    let correct = |occurred_on, replacement| Command::Correct {
        target,
        reason: CorrectionReason::EntryError,
        occurred_on: d(occurred_on),
        replacement,
    };
    rejects(
        t.when(&correct(
            "2025-01-20",
            Fact::PlacementEnded(PlacementEnded { placement: PlacementNo(1), reason: PlacementEndReason::Other }),
        )),
        K::CorrectionTypeMismatch,
    );
    rejects(t.when(&correct("2025-01-20", placement_fact("vaderbacken", 2))), K::CorrectionChangesIdentity);
    rejects(t.when(&correct("2025-01-20", placement_fact("industrisparet", 1))), K::NothingToCorrect);
    rejects(t.when(&correct("2025-01-20", placement_fact("atlantis", 1))), K::UnknownCode);
    rejects(t.when(&correct("2026-01-20", placement_fact("vaderbacken", 1))), K::DateInFuture);
}

#[test]
fn a_correction_that_would_break_the_case_is_refused() {
    let t =
        given(&[at("2025-01-10", enroll()), at("2025-01-20", start_placement()), at("2025-02-20", end_placement(1))]);
    let target = t.event_of(EventType::PlacementStarted);
    let r = rejects(
        t.when(&Command::Correct {
            target,
            reason: CorrectionReason::WrongDate,
            occurred_on: d("2025-03-01"),
            replacement: placement_fact("industrisparet", 1),
        }),
        K::CorrectionBreaksCase,
    );
    assert!(
        matches!(r, stod_events::case::Rejection::CorrectionBreaksCase { ref cause } if cause.kind() == K::EndBeforeStart)
    );
    // Moving the intake after the placement breaks it too.
    let intake = t.event_of(EventType::Enrolled);
    let Fact::Enrolled(e) = t.state.fact(&intake).unwrap().fact.clone() else { panic!() };
    rejects(
        t.when(&Command::Correct {
            target: intake,
            reason: CorrectionReason::WrongDate,
            occurred_on: d("2025-01-25"),
            replacement: Fact::Enrolled(e),
        }),
        K::CorrectionBreaksCase,
    );
}

#[test]
fn corrections_and_retractions_target_facts_only_and_once() {
    let mut t = given(&[at("2025-01-10", enroll()), at("2025-01-20", start_placement())]);
    let target = t.event_of(EventType::PlacementStarted);
    rejects(
        t.when(&Command::Retract { target: stod_events::ids::EventId::new(), reason: CorrectionReason::Duplicate }),
        K::UnknownEvent,
    );
    t.apply(&Command::Retract { target, reason: CorrectionReason::Duplicate }).unwrap();
    assert!(t.state.summary.placements.is_empty(), "a retracted placement is gone from the case");
    let retraction = t.last_event_id();
    rejects(t.when(&Command::Retract { target, reason: CorrectionReason::Duplicate }), K::AlreadyRetracted);
    rejects(t.when(&Command::Retract { target: retraction, reason: CorrectionReason::Other }), K::NotCorrectable);
    rejects(
        t.when(&Command::Correct {
            target,
            reason: CorrectionReason::Other,
            occurred_on: d("2025-01-20"),
            replacement: placement_fact("vaderbacken", 1),
        }),
        K::AlreadyRetracted,
    );
    // The number of a retracted placement is not handed out again.
    let (_, next) = emits_fact(t.when(&at("2025-01-21", start_placement())));
    assert!(matches!(next, Fact::PlacementStarted(PlacementStarted { placement: PlacementNo(2), .. })));
}

#[test]
fn retracting_a_fact_others_depend_on_is_refused() {
    let t =
        given(&[at("2025-01-10", enroll()), at("2025-01-20", start_placement()), at("2025-02-20", end_placement(1))]);
    let start = t.event_of(EventType::PlacementStarted);
    let r = rejects(
        t.when(&Command::Retract { target: start, reason: CorrectionReason::WrongCase }),
        K::CorrectionBreaksCase,
    );
    assert!(
        matches!(r, stod_events::case::Rejection::CorrectionBreaksCase { ref cause } if cause.kind() == K::PlacementNotFound)
    );
    let intake = t.event_of(EventType::Enrolled);
    rejects(t.when(&Command::Retract { target: intake, reason: CorrectionReason::WrongCase }), K::CorrectionBreaksCase);
}

#[test]
fn retracting_an_exit_reopens_the_case() {
    let mut t = given(&[at("2025-01-10", enroll()), at("2025-02-01", exit())]);
    t.apply(&Command::Retract { target: t.event_of(EventType::Exited), reason: CorrectionReason::EntryError }).unwrap();
    assert!(t.state.summary.is_open());
    emits_fact(t.when(&at("2025-02-02", start_placement())));
}

#[test]
fn a_retracted_intake_voids_the_case() {
    let mut t = given(&[at("2025-01-10", enroll())]);
    t.apply(&Command::Retract { target: t.event_of(EventType::Enrolled), reason: CorrectionReason::WrongCase })
        .unwrap();
    assert!(t.state.summary.void);
    assert!(!t.state.summary.is_open());
    rejects(t.when(&at("2025-01-11", start_placement())), K::CaseVoided);
    rejects(t.when(&at("2025-01-11", enroll())), K::CaseVoided);
}

#[test]
fn a_retired_code_may_stay_when_an_old_fact_is_corrected() {
    let mut t = given(&[at("2025-01-10", enroll()), at("2025-01-20", start_placement())]);
    let ext = toml::from_str("[[sites]]\ncode = 'industrisparet'\nname = 'Industrispåret'\nactive = false\n").unwrap();
    t.catalogue = t.catalogue.extend(ext).unwrap();
    let target = t.event_of(EventType::PlacementStarted);
    assert!(t
        .when(&Command::Correct {
            target,
            reason: CorrectionReason::WrongDate,
            occurred_on: d("2025-01-19"),
            replacement: placement_fact("industrisparet", 1)
        })
        .is_ok());
}

#[test]
fn rejections_speak_swedish_and_name_what_is_valid() {
    let t = given(&[at("2025-01-10", enroll())]);
    let bad = Action::StartPlacement { site: code("nowhere"), work_area: code("montering"), hours_per_week: 20 };
    let r = t.when(&at("2025-02-01", bad)).unwrap_err();
    let msg = r.to_string();
    assert!(msg.starts_with("okänd arbetsplats"), "{msg}");
    assert!(msg.contains("luddes-hundcenter"), "{msg}");
}

#[test]
fn a_submission_is_remembered_with_its_events() {
    let mut t = given(&[]);
    let ids = t.apply(&at("2025-01-10", enroll())).unwrap();
    let sub = t.log[0].event.submission_id;
    assert_eq!(t.state.already_applied(&sub), Some(ids.as_slice()));
}

#[test]
fn a_case_changes_hands_while_open_and_after_its_exit_but_not_before_its_intake() {
    let reassign = || Action::Reassign { responsible: stod_events::ids::UserId::parse("bertil").unwrap() };
    rejects(given(&[]).when(&at("2025-01-10", reassign())), K::NoIntake);
    let t = given(&[at("2025-01-10", enroll())]);
    rejects(t.when(&at("2025-01-09", reassign())), K::DateBeforeIntake);
    let (on, fact) = emits_fact(t.when(&at("2025-01-20", reassign())));
    assert_eq!(on, d("2025-01-20"));
    assert!(matches!(&fact, Fact::ResponsibleChanged(r) if r.responsible.as_str() == "bertil"), "{fact:?}");
    // After the exit: the follow-ups are still someone's to do.
    let t = given(&[at("2025-01-10", enroll()), at("2025-02-01", exit())]);
    emits_fact(t.when(&at("2025-03-01", reassign())));
}
