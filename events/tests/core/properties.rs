//! Properties of decide/evolve over random command sequences.

use proptest::prelude::*;
use proptest::sample::select;
use stod_events::case::{Action, CaseState, Command, Summary, TrainingRef};
use stod_events::codec;
use stod_events::event::*;
use stod_events::ids::*;

use crate::support::{code, given};

/// Commands drawn from a small pool of plausible values, so that many are accepted and
/// many hit a rule. Event ids for corrections are picked from the log at run time.
#[derive(Clone, Debug)]
enum Step {
    Act(u16, Action),
    Correct(u16, prop::sample::Index, CorrectionReason),
    Retract(prop::sample::Index, CorrectionReason),
}

fn action() -> impl Strategy<Value = Action> {
    let participant = ParticipantRef::from_uuid(uuid::Uuid::from_u128(42));
    prop_oneof![
        select(vec![true, false]).prop_map(move |consented| crate::support::enroll_with(
            participant,
            if consented {
                Registration::Consented(crate::support::details())
            } else {
                Registration::Anonymous(AnonymityReason::NoConsent)
            }
        )),
        (select(vec!["vaderbacken", "industrisparet", "nowhere"]), 0u8..45).prop_map(|(s, h)| Action::StartPlacement {
            site: code(s),
            work_area: code("montering"),
            hours_per_week: h
        }),
        (1u16..4).prop_map(crate::support::end_placement),
        Just(crate::support::start_training()),
        (1u16..4).prop_map(crate::support::complete_training),
        Just(crate::support::complete_new_training()),
        (1u16..4).prop_map(|n| Action::DiscontinueTraining {
            training: TrainingNo(n),
            reason: TrainingDiscontinuedReason::Other
        }),
        (0u8..12).prop_map(crate::support::assess),
        select(vec![Some("lon"), None])
            .prop_map(|s| Action::Exit { outcome: ExitOutcome::Studies, support_at_exit: s.map(code) }),
        select(vec![FollowUpPoint::Months3, FollowUpPoint::Months6]).prop_map(crate::support::follow_up),
        Just(Action::CompleteTraining {
            training: TrainingRef::New { course: code("sfi"), provider: code("vbu-komvux") },
            hours: 10,
            credential_earned: false
        }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let reason = select(vec![CorrectionReason::EntryError, CorrectionReason::WrongDate]);
    prop_oneof![
        12 => (0u16..200, action()).prop_map(|(day, a)| Step::Act(day, a)),
        2 => (0u16..200, any::<prop::sample::Index>(), reason.clone()).prop_map(|(day, i, r)| Step::Correct(day, i, r)),
        1 => (any::<prop::sample::Index>(), reason).prop_map(|(i, r)| Step::Retract(i, r)),
    ]
}

fn day(n: u16) -> Date {
    Date::from_ymd(2025, 1, 1)
        .unwrap()
        .naive()
        .checked_add_days(chrono::Days::new(u64::from(n)))
        .map(Date::new)
        .unwrap()
}

/// The invariants the rules promise for every case they let through.
fn assert_invariants(state: &CaseState) {
    let s = &state.summary;
    assert_eq!(s, &Summary::derive(&state.facts), "incremental fold equals derivation");
    let live: Vec<_> = state.facts.iter().filter(|f| !f.retracted).collect();
    let intakes = live.iter().filter(|f| matches!(f.fact, Fact::Enrolled(_))).count();
    assert!(intakes <= 1, "at most one intake");
    if let Some(intake) = &s.intake {
        assert!(live.iter().all(|f| f.occurred_on >= intake.date), "nothing before the intake");
    } else {
        assert!(live.is_empty(), "no live fact without an intake");
    }
    if let Some(exit) = &s.exit {
        assert!(s.open_placements().is_empty() && s.open_trainings().is_empty(), "nothing open after exit");
        assert!(s.follow_ups.values().all(|d| *d >= exit.date), "follow-ups after exit");
    }
    for p in s.placements.values() {
        if let Some(end) = p.ended {
            assert!(end >= p.started, "placement ends after its start");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Folding the emitted events, decoded from their stored bytes, gives exactly the
    /// state `decide` saw; and the rules' invariants hold after every step.
    #[test]
    fn folding_the_log_gives_the_state_decide_saw(
        intake_day in 0u16..20,
        consented in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        let mut t = given(&[]);
        t.today = day(400);
        // Most sequences open with an intake, so the rules past it get exercised.
        let registration = if consented {
            Registration::Consented(crate::support::details())
        } else {
            Registration::Anonymous(AnonymityReason::NoConsent)
        };
        let intake = crate::support::enroll_with(ParticipantRef::new(), registration);
        let first = Step::Act(intake_day, intake);
        for step in std::iter::once(first).chain(steps) {
            let command = match step {
                Step::Act(n, action) => Command::Record { occurred_on: day(n), action },
                Step::Correct(n, i, reason) => {
                    let facts: Vec<_> = t.state.facts.iter().filter(|f| !f.retracted).collect();
                    if facts.is_empty() { continue; }
                    let f = facts[i.index(facts.len())];
                    Command::Correct { target: f.event_id, reason, occurred_on: day(n), replacement: f.fact.clone() }
                }
                Step::Retract(i, reason) => {
                    if t.state.facts.is_empty() { continue; }
                    let f = &t.state.facts[i.index(t.state.facts.len())];
                    Command::Retract { target: f.event_id, reason }
                }
            };
            let before = t.state.clone();
            match t.apply(&command) {
                Ok(ids) => prop_assert!(!ids.is_empty()),
                Err(_) => prop_assert_eq!(&t.state, &before, "a rejection changes nothing"),
            }
            assert_invariants(&t.state);
        }
        // Replaying the stored bytes from scratch reproduces the state, chain included.
        let mut replayed = CaseState::default();
        let mut previous = stod_events::ChainHash::GENESIS;
        for sealed in &t.log {
            prop_assert!(codec::verify_link(&previous, &sealed.bytes));
            previous = sealed.chain_hash;
            replayed.evolve(&codec::decode(&sealed.bytes).unwrap());
        }
        prop_assert_eq!(replayed, t.state);
    }
}
