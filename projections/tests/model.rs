//! The incrementally maintained read models ([`stod_projections::Model`]) against the
//! plain fold: for random histories, with corrections, retractions, participants with
//! several cases and facts out of order, every report of the model equals the report
//! folded from every case record, for random periods and dates; and the model does not
//! depend on how the events were split into batches.

// Test code: a failed unwrap is a failed test, with its backtrace.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use stod_events::event::*;
use stod_events::ids::*;
use stod_events::RecordedEvent;
use stod_projections::period::Period;
use stod_projections::{
    fold_all, funder, steering, throughput, Caseload, CaseloadEntry, CaseloadQuery, DueRule, Model,
};

fn day(n: u16) -> Date {
    let base = chrono::NaiveDate::from_ymd_opt(2024, 10, 1).unwrap();
    Date::new(base + chrono::Duration::days(i64::from(n)))
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

const SITES: [&str; 3] = ["verkstan", "kafet", "lagret"];
const SUPPORT: [&str; 3] = ["forsorjningsstod", "a-kassa", "sjukpenning"];
const OUTCOMES: [ExitOutcome; 4] =
    [ExitOutcome::EmploymentUnsubsidised, ExitOutcome::Studies, ExitOutcome::MovedCloser, ExitOutcome::Health];

/// One step of a case's history, before it becomes an event.
#[derive(Clone, Debug)]
enum Step {
    Enroll {
        participant: u8,
        gender: u8,
        anonymous: bool,
        support: u8,
        birth: u16,
    },
    Place {
        number: u16,
        site: u8,
        area: u8,
    },
    EndPlacement {
        number: u16,
    },
    StartTraining {
        number: u16,
    },
    CompleteTraining {
        number: u16,
    },
    Assess,
    Exit {
        outcome: u8,
        support: Option<u8>,
    },
    FollowUp,
    /// Corrects the n-th earlier fact of the case: a new date, and for an intake a new
    /// participant, for a placement a new site, for an exit a new outcome.
    Correct {
        target: u8,
        shift: i16,
        other: u8,
    },
    Retract {
        target: u8,
    },
}

fn fact(step: &Step) -> Option<Fact> {
    Some(match step {
        Step::Enroll { participant, gender, anonymous, support, birth } => Fact::Enrolled(Enrolled {
            participant: ParticipantRef::from_uuid(uuid::Uuid::from_u128(u128::from(*participant) + 1)),
            gender: [Gender::Woman, Gender::Man, Gender::Other][usize::from(*gender % 3)],
            registration: if *anonymous {
                Registration::Anonymous(AnonymityReason::NoConsent)
            } else {
                Registration::Consented(EnrolmentDetails {
                    municipality: code(["2084", "2061"][usize::from(*support % 2)]),
                    referrer: code("af"),
                    support_at_start: code(SUPPORT[usize::from(*support % 3)]),
                    birth_year: 1950 + *birth % 60,
                    region_of_birth: None,
                })
            },
        }),
        Step::Place { number, site, area } => Fact::PlacementStarted(PlacementStarted {
            placement: PlacementNo(*number),
            site: code(SITES[usize::from(*site % 3)]),
            work_area: code(["kok", "butik"][usize::from(*area % 2)]),
            hours_per_week: 20,
        }),
        Step::EndPlacement { number } => Fact::PlacementEnded(PlacementEnded {
            placement: PlacementNo(*number),
            reason: PlacementEndReason::Completed,
        }),
        Step::StartTraining { number } => Fact::TrainingStarted(TrainingStarted {
            training: TrainingNo(*number),
            course: code("truckkort"),
            provider: code("vuxenutbildningen"),
        }),
        Step::CompleteTraining { number } => Fact::TrainingCompleted(TrainingCompleted {
            training: TrainingNo(*number),
            course: code("truckkort"),
            provider: code("vuxenutbildningen"),
            hours: 40,
            credential_earned: true,
        }),
        Step::Assess => Fact::ProgressAssessed(ProgressAssessed {
            instrument: code("stegvis"),
            assessor: Assessor::Staff,
            scores: vec![AreaScore { area: code("arbete"), score: 3 }],
        }),
        Step::Exit { outcome, support } => Fact::Exited(Exited {
            outcome: OUTCOMES[usize::from(*outcome % 4)],
            support_at_exit: support.map(|s| code(SUPPORT[usize::from(s % 3)])),
        }),
        Step::FollowUp => {
            Fact::FollowedUp(FollowedUp { point: FollowUpPoint::Months3, status: FollowUpStatus::Employed })
        }
        Step::Correct { .. } | Step::Retract { .. } => return None,
    })
}

/// A case in the order the case rules keep, from an intake day and gaps between facts.
fn orderly(participant: u8) -> impl Strategy<Value = Vec<(u16, Step)>> {
    (
        0u16..500,
        any::<(u8, bool, u8, u16)>(),
        prop::collection::vec((prop_oneof![1u16..3, 1u16..90], 0u8..2, 0u8..2, 0u16..250), 0..4),
        prop::option::of(1u16..200),
        prop::option::of((
            prop_oneof![Just(0u16), 0u16..300],
            any::<u8>(),
            prop::option::of(any::<u8>()),
            any::<bool>(),
        )),
        0u8..3,
    )
        .prop_map(move |(start, (gender, anonymous, support, birth), placements, training, exit, assessments)| {
            let mut steps = vec![(
                start,
                Step::Enroll { participant, gender, anonymous: anonymous && gender % 4 == 0, support, birth },
            )];
            let mut last = start;
            for (n, (gap, site, area, length)) in placements.iter().enumerate() {
                let s = last + gap;
                steps.push((s, Step::Place { number: n as u16 + 1, site: *site, area: *area }));
                last = s + length;
                steps.push((last, Step::EndPlacement { number: n as u16 + 1 }));
            }
            if let Some(t) = training {
                steps.push((start + t, Step::StartTraining { number: 1 }));
                steps.push((start + t + 20, Step::CompleteTraining { number: 1 }));
                last = last.max(start + t + 20);
            }
            for k in 0..assessments {
                steps.push((start + 10 * u16::from(k), Step::Assess));
                last = last.max(start + 10 * u16::from(k));
            }
            if let Some((after, outcome, support, early)) = exit {
                // An exit may be recorded before the last placement's end.
                let x = if early {
                    (last.max(start) + after).saturating_sub(120).max(start)
                } else {
                    last.max(start) + after
                };
                steps.push((x, Step::Exit { outcome, support }));
                steps.push((x + 90, Step::FollowUp));
            } else if placements.len() % 2 == 1 {
                // Sometimes the last placement is still running.
                steps.retain(
                    |(_, s)| !matches!(s, Step::EndPlacement { number } if usize::from(*number) == placements.len()),
                );
            }
            steps
        })
}

/// Anything at all: facts in any order on any day.
fn wild(participant: u8) -> impl Strategy<Value = Vec<(u16, Step)>> {
    let step = prop_oneof![
        any::<(u8, u8, u16)>().prop_map(move |(g, s, b)| Step::Enroll {
            participant,
            gender: g,
            anonymous: false,
            support: s,
            birth: b
        }),
        (1u16..3, any::<u8>(), any::<u8>()).prop_map(|(number, site, area)| Step::Place { number, site, area }),
        (1u16..3).prop_map(|number| Step::EndPlacement { number }),
        (1u16..2).prop_map(|number| Step::StartTraining { number }),
        (1u16..2).prop_map(|number| Step::CompleteTraining { number }),
        Just(Step::Assess),
        (any::<u8>(), prop::option::of(any::<u8>())).prop_map(|(outcome, support)| Step::Exit { outcome, support }),
        Just(Step::FollowUp),
    ];
    prop::collection::vec((0u16..700, step), 1..8)
}

/// Later corrections and retractions of a case's facts.
fn amendments() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            3 => (any::<u8>(), -60i16..60, any::<u8>()).prop_map(|(target, shift, other)| Step::Correct { target, shift, other }),
            1 => any::<u8>().prop_map(|target| Step::Retract { target }),
        ],
        0..3,
    )
}

/// A case: its facts with their days, then its corrections and retractions.
type CaseSteps = (Vec<(u16, Step)>, Vec<Step>);

#[derive(Clone, Debug)]
struct History {
    cases: Vec<CaseSteps>,
    /// Interleaving: which case's next event comes next.
    order: Vec<u8>,
    /// Where batches are cut.
    cuts: Vec<u8>,
}

fn history() -> impl Strategy<Value = History> {
    let case = (0u8..10, any::<bool>(), any::<bool>()).prop_flat_map(|(participant, is_wild, _)| {
        let steps = if is_wild { wild(participant).boxed() } else { orderly(participant).boxed() };
        (steps, amendments())
    });
    (
        prop::collection::vec(case, 1..9),
        prop::collection::vec(any::<u8>(), 0..80),
        prop::collection::vec(1u8..20, 0..10),
    )
        .prop_map(|(cases, order, cuts)| History { cases, order, cuts })
}

/// The events of a history, in a stream order that keeps each case's own order.
fn events(h: &History) -> Vec<(u64, RecordedEvent)> {
    let mut per_case: Vec<Vec<RecordedEvent>> = Vec::new();
    let mut next_id = 1u128;
    let mut id = || {
        next_id += 1;
        next_id
    };
    for (n, (steps, amendments)) in h.cases.iter().enumerate() {
        let case = CaseId::from_uuid(uuid::Uuid::from_u128(1_000_000 + n as u128 * 7919 % 1000));
        let mut evs: Vec<RecordedEvent> = Vec::new();
        let mut facts: Vec<(EventId, u16, Fact)> = Vec::new();
        let make = |event_id: EventId, date: u16, event: Event| RecordedEvent {
            event_id,
            case_id: case,
            occurred_on: day(date),
            recorded_at: Timestamp::from_micros(1_735_689_600_000_000).unwrap(),
            recorded_by: UserId::parse("anna").unwrap(),
            submission_id: SubmissionId::from_uuid(uuid::Uuid::from_u128(event_id.as_uuid().as_u128())),
            event,
        };
        for (date, step) in steps {
            let f = fact(step).unwrap();
            let event_id = EventId::from_uuid(uuid::Uuid::from_u128(id()));
            facts.push((event_id, *date, f.clone()));
            evs.push(make(event_id, *date, Event::Fact(f)));
        }
        for a in amendments {
            let event_id = EventId::from_uuid(uuid::Uuid::from_u128(id()));
            match a {
                Step::Correct { target, shift, other } => {
                    let (target, date, f) = facts[usize::from(*target) % facts.len()].clone();
                    let replacement = match f {
                        Fact::Enrolled(mut e) => {
                            if other % 3 == 0 {
                                e.participant =
                                    ParticipantRef::from_uuid(uuid::Uuid::from_u128(u128::from(other % 6) + 1));
                            }
                            Fact::Enrolled(e)
                        }
                        Fact::PlacementStarted(mut p) => {
                            p.site = code(SITES[usize::from(*other % 3)]);
                            Fact::PlacementStarted(p)
                        }
                        Fact::Exited(mut x) => {
                            x.outcome = OUTCOMES[usize::from(*other % 4)];
                            Fact::Exited(x)
                        }
                        f => f,
                    };
                    let date = (i32::from(date) + i32::from(*shift)).clamp(0, 800) as u16;
                    evs.push(make(
                        event_id,
                        date,
                        Event::Corrected(Corrected { target, reason: CorrectionReason::EntryError, replacement }),
                    ));
                }
                Step::Retract { target } => {
                    let (target, date, _) = facts[usize::from(*target) % facts.len()];
                    evs.push(make(
                        event_id,
                        date,
                        Event::Retracted(Retracted { target, reason: CorrectionReason::EntryError }),
                    ));
                }
                _ => {}
            }
        }
        per_case.push(evs);
    }
    // Interleave the cases' events as `order` says, each case keeping its order.
    let mut at = vec![0usize; per_case.len()];
    let mut out = Vec::new();
    let mut pick = h.order.iter().copied().cycle();
    let total: usize = per_case.iter().map(Vec::len).sum();
    while out.len() < total {
        let mut c = usize::from(pick.next().unwrap_or(0)) % per_case.len();
        while at[c] >= per_case[c].len() {
            c = (c + 1) % per_case.len();
        }
        out.push(per_case[c][at[c]].clone());
        at[c] += 1;
    }
    out.into_iter().enumerate().map(|(i, e)| (i as u64 + 1, e)).collect()
}

fn model_in_batches(events: &[(u64, RecordedEvent)], cuts: &[u8]) -> Model {
    let mut model = Model::new();
    let mut rest = events;
    let mut cuts = cuts.iter().copied().cycle();
    while !rest.is_empty() {
        let n = usize::from(cuts.next().unwrap_or(255)).clamp(1, rest.len());
        let (batch, tail) = rest.split_at(n);
        model.apply(batch.iter().map(|(s, e)| (*s, e)));
        rest = tail;
    }
    model
}

const PERIODS: [&str; 8] = ["2024", "2025", "2026", "2025-Q1", "2025-Q3", "2024-11", "2025-06", "2026-02"];

proptest! {
    // 1000 by default; PROPTEST_CASES=20000 for a long run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_model_answers_as_the_fold(
        h in history(),
        period in 0usize..8,
        dates in any::<(u16, u16, u16)>(),
        offsets in any::<(u8, u8)>(),
        gap in 1u16..200,
    ) {
        let events = events(&h);
        let records = fold_all(events.iter().map(|(s, e)| (*s, e)));
        let model = model_in_batches(&events, &h.cuts);
        let period: Period = PERIODS[period].parse().unwrap();
        // Dates on and next to the thresholds of the history's own days, or anywhere.
        let days: Vec<u16> = events.iter().map(|(_, e)| day(0).days_until(e.occurred_on) as u16).collect();
        let near = |pick: u16, offset: u8| -> u16 {
            const OFFSETS: [i32; 13] = [-1, 0, 1, 29, 30, 31, 182, 183, 184, 365, 366, 367, 0];
            let base = i32::from(days[usize::from(pick) % days.len()]);
            match OFFSETS.get(usize::from(offset % 16)) {
                Some(o) => (base + o).clamp(0, 1200) as u16,
                None => pick % 900,
            }
        };
        let (today, meeting) = (near(dates.0, offsets.0), near(dates.1, offsets.1));
        let today = day(today);
        let on = |d: Date| records.values().map(|r| r.journey_on(d)).collect::<Vec<_>>();

        prop_assert_eq!(model.throughput(period, today), throughput(&on(today), period, today));
        prop_assert_eq!(model.funder(period, today), funder(&on(today), period));
        let as_of = day(meeting);
        let previous = meeting.checked_sub(if dates.2 % 2 == 0 { gap } else { meeting.saturating_sub(near(dates.2, offsets.1 / 16)).max(1) }).map(day);
        prop_assert_eq!(model.steering(as_of, previous), steering(&on(as_of), as_of, previous));
        prop_assert_eq!(model.steering(as_of, None), steering(&on(as_of), as_of, None));
    }

    /// The caseload of the model is the caseload of the plain fold, and its worklist
    /// holds exactly the cases of the steering group's alerts (same thresholds).
    #[test]
    fn the_caseload_answers_as_the_fold_and_agrees_with_the_alerts(h in history(), pick in any::<u16>(), offset in any::<u8>()) {
        let events = events(&h);
        let records = fold_all(events.iter().map(|(s, e)| (*s, e)));
        let model = model_in_batches(&events, &h.cuts);
        // On and next to every rule's threshold from one of the history's days, or anywhere.
        let days: Vec<u16> = events.iter().map(|(_, e)| day(0).days_until(e.occurred_on) as u16).collect();
        const OFFSETS: [i32; 16] = [-1, 0, 1, 29, 30, 31, 89, 90, 91, 92, 182, 183, 184, 365, 366, 367];
        let base = i32::from(days[usize::from(pick) % days.len()]);
        let today = match OFFSETS.get(usize::from(offset % 20)) {
            Some(o) => day((base + o).clamp(0, 1200) as u16),
            None => day(pick % 900),
        };
        let mut got = model.caseload(&CaseloadQuery::default(), today);
        for e in &mut got.cases {
            e.responsible = None;
        }
        let expected = Caseload::of(
            records.values().filter_map(|r| CaseloadEntry::of(&r.journey_on(today), None, today)).collect(),
            today,
            None,
        );
        prop_assert_eq!(&got, &expected);
        let alerts = steering(&records.values().map(|r| r.journey_on(today)).collect::<Vec<_>>(), today, None).alerts;
        let with = |rule: DueRule| -> std::collections::BTreeSet<CaseId> {
            got.cases.iter().filter(|e| e.due.iter().any(|d| d.rule == rule)).map(|e| e.case_id).collect()
        };
        let set = |g: &stod_projections::steering::AlertGroup| g.cases.iter().copied().collect::<std::collections::BTreeSet<_>>();
        prop_assert_eq!(with(DueRule::NoPlacement), set(&alerts.intake_without_placement));
        prop_assert_eq!(with(DueRule::LongStay), set(&alerts.stays_over_12_months));
        prop_assert_eq!(with(DueRule::LongPlacement), set(&alerts.open_placements_without_end));
    }

    #[test]
    fn batches_do_not_change_the_model(h in history()) {
        let events = events(&h);
        let one = model_in_batches(&events, &[255]);
        let split = model_in_batches(&events, &h.cuts);
        let single = model_in_batches(&events, &[1]);
        prop_assert_eq!(one.aggregates(), split.aggregates());
        prop_assert_eq!(one.aggregates(), single.aggregates());
        // Folded in bulk up to a cut, then settled once and continued event by event.
        let cut = usize::from(h.cuts.first().copied().unwrap_or(0)).min(events.len());
        let mut bulk = Model::new();
        bulk.fold_bulk(events[..cut].iter().map(|(s, e)| (*s, e)));
        bulk.settle();
        bulk.apply(events[cut..].iter().map(|(s, e)| (*s, e)));
        prop_assert_eq!(one.aggregates(), bulk.aggregates());
        prop_assert_eq!(one.explicit_cases(), split.explicit_cases());
    }
}

/// The orderly histories must mostly reach the aggregates, or the property above
/// would only test the fallback.
#[test]
fn orderly_cases_are_aggregated() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut aggregated, mut total) = (0usize, 0usize);
    for _ in 0..200 {
        let h = History {
            cases: (0..6u8).map(|p| (orderly(p).new_tree(&mut runner).unwrap().current(), Vec::new())).collect(),
            order: vec![0, 1, 2, 3, 4, 5],
            cuts: vec![3],
        };
        let model = model_in_batches(&events(&h), &h.cuts);
        total += model.cases();
        aggregated += model.cases() - model.explicit_cases();
    }
    // Only an exit drawn before a later placement's start makes an orderly case
    // irregular.
    assert!(aggregated * 10 >= total * 9, "{aggregated} of {total} orderly cases aggregated");
}
