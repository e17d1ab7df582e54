//! proptest strategies for events (any value the types allow, not only valid ones).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use stod_events::event::*;
use stod_events::ids::*;
use stod_events::RecordedEvent;

pub fn code() -> impl Strategy<Value = Code> {
    "[a-z0-9_-]{1,32}".prop_map(|s| Code::parse(&s).unwrap())
}

fn uuid_bytes() -> impl Strategy<Value = [u8; 16]> {
    any::<[u8; 16]>()
}

pub fn date() -> impl Strategy<Value = Date> {
    // The whole calendar chrono can represent, to exercise the wire form's edges.
    (-95_000_000i32..95_000_000).prop_filter_map("in calendar", |n| Date::try_from(n).ok())
}

pub fn timestamp() -> impl Strategy<Value = Timestamp> {
    any::<i64>().prop_filter_map("in calendar", Timestamp::from_micros)
}

fn fact() -> impl Strategy<Value = Fact> {
    let gender = select(vec![Gender::Woman, Gender::Man, Gender::Other]);
    let details = (
        code(),
        code(),
        code(),
        any::<u16>(),
        proptest::option::of(select(vec![RegionOfBirth::Sweden, RegionOfBirth::Europe, RegionOfBirth::OutsideEurope])),
    )
        .prop_map(|(municipality, referrer, support_at_start, birth_year, region_of_birth)| EnrolmentDetails {
            municipality,
            referrer,
            support_at_start,
            birth_year,
            region_of_birth,
        });
    let registration = prop_oneof![
        details.prop_map(Registration::Consented),
        select(vec![AnonymityReason::NoConsent, AnonymityReason::ProtectedIdentity]).prop_map(Registration::Anonymous),
    ];
    prop_oneof![
        (uuid_bytes(), gender, registration).prop_map(|(p, gender, registration)| Fact::Enrolled(Enrolled {
            participant: ParticipantRef::from(p),
            gender,
            registration
        })),
        (any::<u16>(), code(), code(), any::<u8>()).prop_map(|(n, site, work_area, hours_per_week)| {
            Fact::PlacementStarted(PlacementStarted { placement: PlacementNo(n), site, work_area, hours_per_week })
        }),
        (
            any::<u16>(),
            select(vec![PlacementEndReason::Completed, PlacementEndReason::Employment, PlacementEndReason::Other])
        )
            .prop_map(|(n, reason)| Fact::PlacementEnded(PlacementEnded { placement: PlacementNo(n), reason })),
        (any::<u16>(), code(), code()).prop_map(|(n, course, provider)| Fact::TrainingStarted(TrainingStarted {
            training: TrainingNo(n),
            course,
            provider
        })),
        (any::<u16>(), code(), code(), any::<u16>(), any::<bool>()).prop_map(
            |(n, course, provider, hours, credential_earned)| {
                Fact::TrainingCompleted(TrainingCompleted {
                    training: TrainingNo(n),
                    course,
                    provider,
                    hours,
                    credential_earned,
                })
            }
        ),
        (any::<u16>(), select(vec![TrainingDiscontinuedReason::Health, TrainingDiscontinuedReason::Other])).prop_map(
            |(n, reason)| Fact::TrainingDiscontinued(TrainingDiscontinued { training: TrainingNo(n), reason })
        ),
        (
            code(),
            select(vec![Assessor::Participant, Assessor::Staff, Assessor::Joint]),
            vec((code(), any::<u8>()), 0..8)
        )
            .prop_map(|(instrument, assessor, scores)| Fact::ProgressAssessed(ProgressAssessed {
                instrument,
                assessor,
                scores: scores.into_iter().map(|(area, score)| AreaScore { area, score }).collect(),
            })),
        (select(ExitOutcome::ALL.to_vec()), proptest::option::of(code()))
            .prop_map(|(outcome, support_at_exit)| Fact::Exited(Exited { outcome, support_at_exit })),
        (
            select(vec![FollowUpPoint::Months3, FollowUpPoint::Months6, FollowUpPoint::Months12]),
            select(vec![
                FollowUpStatus::Employed,
                FollowUpStatus::Studying,
                FollowUpStatus::NeitherEmployedNorStudying,
                FollowUpStatus::NoContact
            ])
        )
            .prop_map(|(point, status)| Fact::FollowedUp(FollowedUp { point, status })),
        "[a-z][a-z0-9_-]{0,20}"
            .prop_map(|u| Fact::ResponsibleChanged(ResponsibleChanged { responsible: UserId::parse(&u).unwrap() })),
    ]
}

fn reason() -> impl Strategy<Value = CorrectionReason> {
    select(vec![
        CorrectionReason::EntryError,
        CorrectionReason::WrongDate,
        CorrectionReason::WrongCase,
        CorrectionReason::Duplicate,
        CorrectionReason::LateInformation,
        CorrectionReason::Other,
    ])
}

pub fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => fact().prop_map(Event::Fact),
        1 => (uuid_bytes(), reason(), fact()).prop_map(|(t, reason, replacement)| Event::Corrected(Corrected {
            target: EventId::from(t),
            reason,
            replacement
        })),
        1 => (uuid_bytes(), reason()).prop_map(|(t, reason)| Event::Retracted(Retracted { target: EventId::from(t), reason })),
    ]
}

pub fn recorded_event() -> impl Strategy<Value = RecordedEvent> {
    (uuid_bytes(), uuid_bytes(), date(), timestamp(), "[a-z0-9_-]{1,64}", uuid_bytes(), event()).prop_map(
        |(e, c, occurred_on, recorded_at, user, s, event)| RecordedEvent {
            event_id: EventId::from(e),
            case_id: CaseId::from(c),
            occurred_on,
            recorded_at,
            recorded_by: UserId::parse(&user).unwrap(),
            submission_id: SubmissionId::from(s),
            event,
        },
    )
}
