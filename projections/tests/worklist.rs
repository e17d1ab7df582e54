//! The worklist rules (`docs/worklist.md`) on dated histories: each rule's due date,
//! worked out by hand in the comments, the day before it (not due), the day itself (due),
//! and that it clears when the fact that resolves it is recorded.

// Test code: a failed unwrap is a failed test, with its backtrace.
#![allow(clippy::unwrap_used)]

use stod_events::event::*;
use stod_events::ids::*;
use stod_projections::record::{Assessment, Exit, FollowUp, Intake, Placement};
use stod_projections::{due_items, CaseStatus, CaseloadEntry, DueItem, DueRule, Journey};

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

fn enrolled(on: &str) -> Journey {
    Journey {
        case_id: Some(CaseId::from_uuid(uuid::Uuid::from_u128(7))),
        intake: Some(Intake {
            date: d(on),
            participant: ParticipantRef::from_uuid(uuid::Uuid::from_u128(1)),
            gender: Gender::Woman,
            anonymous: false,
            municipality: Some(code("ludvika")),
            referrer: None,
            support_at_start: None,
            birth_year: Some(1990),
            region_of_birth: None,
        }),
        ..Journey::default()
    }
}

fn placement(number: u16, start: &str, end: Option<&str>) -> Placement {
    Placement {
        number,
        site: code("verkstan"),
        work_area: code("industri"),
        hours_per_week: 20,
        start: d(start),
        end: end.map(d),
        end_reason: end.map(|_| PlacementEndReason::Completed),
    }
}

fn assessed(on: &str) -> Assessment {
    Assessment { date: d(on), instrument: code("work-star"), assessor: Assessor::Joint, mean_x100: 500 }
}

fn rules(j: &Journey, today: &str) -> Vec<DueRule> {
    due_items(j, d(today)).into_iter().map(|i| i.rule).collect()
}

fn item(j: &Journey, today: &str, rule: DueRule) -> Option<DueItem> {
    due_items(j, d(today)).into_iter().find(|i| i.rule == rule)
}

#[test]
fn no_placement_is_due_30_days_after_the_intake_and_clears_with_a_placement() {
    let mut j = enrolled("2025-01-10");
    // 2025-01-10 + 30 days = 2025-02-09 (21 days left of January, 9 of February).
    assert_eq!(item(&j, "2025-02-08", DueRule::NoPlacement), None);
    let due = item(&j, "2025-02-09", DueRule::NoPlacement).unwrap();
    assert_eq!((due.since, due.overdue), (d("2025-02-09"), false));
    j.placements.push(placement(1, "2025-02-20", None));
    assert_eq!(item(&j, "2025-02-20", DueRule::NoPlacement), None);
    // An ended placement is still a placement: the rule stays clear.
    j.placements[0] = placement(1, "2025-02-20", Some("2025-03-01"));
    assert_eq!(item(&j, "2025-03-05", DueRule::NoPlacement), None);
}

#[test]
fn a_placement_open_over_six_months_is_due_and_clears_when_it_ends() {
    let mut j = enrolled("2025-01-02");
    j.placements.push(placement(1, "2025-01-06", None));
    j.assessments.push(assessed("2025-06-01"));
    // Over 182 days: 2025-01-06 + 183 days = 2025-07-08 (25 days left of January,
    // then 28 + 31 + 30 + 31 + 30 = 150, 175 by 30 June, 8 more).
    assert_eq!(item(&j, "2025-07-07", DueRule::LongPlacement), None);
    let due = item(&j, "2025-07-08", DueRule::LongPlacement).unwrap();
    assert_eq!((due.since, due.placement), (d("2025-07-08"), Some(1)));
    j.placements[0] = placement(1, "2025-01-06", Some("2025-07-10"));
    assert_eq!(item(&j, "2025-07-10", DueRule::LongPlacement), None);
}

#[test]
fn an_assessment_is_due_three_months_after_the_intake_or_the_latest_one() {
    let mut j = enrolled("2025-01-10");
    j.placements.push(placement(1, "2025-01-15", None));
    assert_eq!(item(&j, "2025-04-09", DueRule::NoAssessment), None);
    assert_eq!(item(&j, "2025-04-10", DueRule::NoAssessment).unwrap().since, d("2025-04-10"));
    j.assessments.push(assessed("2025-03-01"));
    // From the latest assessment: 2025-03-01 + 3 months = 2025-06-01.
    assert_eq!(item(&j, "2025-05-31", DueRule::NoAssessment), None);
    assert_eq!(item(&j, "2025-06-01", DueRule::NoAssessment).unwrap().since, d("2025-06-01"));
    j.assessments.push(assessed("2025-06-03"));
    assert_eq!(item(&j, "2025-06-03", DueRule::NoAssessment), None);
}

#[test]
fn a_stay_over_twelve_months_is_due_and_clears_with_the_exit() {
    let mut j = enrolled("2025-01-10");
    j.placements.push(placement(1, "2025-01-15", Some("2025-03-01")));
    j.assessments.push(assessed("2025-12-01"));
    // Over 365 days: 2025-01-10 + 366 days = 2026-01-11.
    assert_eq!(item(&j, "2026-01-10", DueRule::LongStay), None);
    assert_eq!(item(&j, "2026-01-11", DueRule::LongStay).unwrap().since, d("2026-01-11"));
    j.exit = Some(Exit { date: d("2026-01-20"), outcome: ExitOutcome::EmploymentUnsubsidised, support_at_exit: None });
    assert!(!rules(&j, "2026-01-20").contains(&DueRule::LongStay));
}

#[test]
fn follow_ups_are_due_at_3_6_and_12_months_after_the_exit_and_overdue_30_days_later() {
    let mut j = enrolled("2025-01-10");
    j.placements.push(placement(1, "2025-01-15", Some("2025-03-20")));
    j.exit = Some(Exit { date: d("2025-03-31"), outcome: ExitOutcome::EmploymentUnsubsidised, support_at_exit: None });
    // Nothing on the exit day: the active case's rules end with it, no follow-up yet.
    assert_eq!(rules(&j, "2025-03-31"), Vec::<DueRule>::new());
    // 31 March + 3 months: 30 June (June has 30 days); overdue from 30 July.
    assert_eq!(item(&j, "2025-06-29", DueRule::FollowUp3), None);
    let due = item(&j, "2025-06-30", DueRule::FollowUp3).unwrap();
    assert_eq!((due.since, due.overdue_from, due.overdue), (d("2025-06-30"), Some(d("2025-07-30")), false));
    assert!(!item(&j, "2025-07-29", DueRule::FollowUp3).unwrap().overdue);
    assert!(item(&j, "2025-07-30", DueRule::FollowUp3).unwrap().overdue);
    // Recorded: the 3-month one clears; the 6-month one is due 30 September.
    j.follow_ups.push(FollowUp {
        date: d("2025-07-02"),
        point: FollowUpPoint::Months3,
        status: FollowUpStatus::Employed,
    });
    assert_eq!(rules(&j, "2025-09-29"), Vec::<DueRule>::new());
    assert_eq!(rules(&j, "2025-09-30"), vec![DueRule::FollowUp6]);
    // A year on, both still missing follow-ups are listed, oldest first.
    assert_eq!(rules(&j, "2026-03-31"), vec![DueRule::FollowUp6, DueRule::FollowUp12]);
}

#[test]
fn several_rules_at_once_are_listed_oldest_first_and_nothing_is_due_without_an_intake() {
    let j = enrolled("2025-01-10");
    // On 2026-02-01: no placement (since 2025-02-09), no assessment (since
    // 2025-04-10), over 12 months (since 2026-01-11).
    let due = due_items(&j, d("2026-02-01"));
    let got: Vec<(DueRule, Date)> = due.iter().map(|i| (i.rule, i.since)).collect();
    assert_eq!(
        got,
        vec![
            (DueRule::NoPlacement, d("2025-02-09")),
            (DueRule::NoAssessment, d("2025-04-10")),
            (DueRule::LongStay, d("2026-01-11")),
        ]
    );
    let entry = CaseloadEntry::of(&j, None, d("2026-02-01")).unwrap();
    assert_eq!((entry.status, entry.first_due()), (CaseStatus::Active, Some(d("2025-02-09"))));
    // An intake retracted: the case's other facts stand, nothing is due.
    let no_intake =
        Journey { case_id: j.case_id, placements: vec![placement(1, "2025-01-15", None)], ..Journey::default() };
    assert_eq!(due_items(&no_intake, d("2026-02-01")), Vec::new());
    assert_eq!(CaseloadEntry::of(&no_intake, None, d("2026-02-01")).unwrap().status, CaseStatus::NoIntake);
    // No fact yet on that day: not on the caseload.
    assert_eq!(CaseloadEntry::of(&Journey { case_id: j.case_id, ..Journey::default() }, None, d("2026-02-01")), None);
}
