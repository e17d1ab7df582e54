//! The codec: golden fixtures (frozen bytes of every event type and version), round
//! trips, and hostile input.

use std::path::PathBuf;

use proptest::prelude::*;
use stod_events::codec::{self, DecodeErrorKind};
use stod_events::event::*;
use stod_events::ids::*;
use stod_events::{ChainHash, RecordedEvent};
use uuid::Uuid;

use crate::arb;
use crate::support::{code, d};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One fixed value per event type, at version 1. These values are frozen with their
/// bytes: never edit one; a new version gets a new fixture beside the old.
fn golden_v1() -> Vec<(&'static str, RecordedEvent)> {
    let envelope = |n: u8, event: Event| RecordedEvent {
        event_id: EventId::from_uuid(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(n))),
        case_id: CaseId::from_uuid(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_cafe)),
        occurred_on: d("2025-03-14"),
        recorded_at: Timestamp::from_micros(1_741_950_000_123_456).unwrap(),
        recorded_by: UserId::parse("anna-handlaggare").unwrap(),
        submission_id: SubmissionId::from_uuid(Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_5000_0000 | u128::from(n),
        )),
        event,
    };
    let enrolled = Fact::Enrolled(Enrolled {
        participant: ParticipantRef::from_uuid(Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef)),
        gender: Gender::Woman,
        registration: Registration::Consented(EnrolmentDetails {
            municipality: code("2084"),
            referrer: code("ame-ludvika"),
            support_at_start: code("forsorjningsstod"),
            birth_year: 1988,
            region_of_birth: Some(RegionOfBirth::OutsideEurope),
        }),
    });
    let placement = Fact::PlacementStarted(PlacementStarted {
        placement: PlacementNo(1),
        site: code("industrisparet"),
        work_area: code("somnad"),
        hours_per_week: 25,
    });
    vec![
        ("enrolled", envelope(1, Event::Fact(enrolled))),
        (
            "enrolled_anonymous",
            envelope(
                2,
                Event::Fact(Fact::Enrolled(Enrolled {
                    participant: ParticipantRef::from_uuid(Uuid::from_u128(7)),
                    gender: Gender::Man,
                    registration: Registration::Anonymous(AnonymityReason::ProtectedIdentity),
                })),
            ),
        ),
        ("placement_started", envelope(3, Event::Fact(placement.clone()))),
        (
            "placement_ended",
            envelope(
                4,
                Event::Fact(Fact::PlacementEnded(PlacementEnded {
                    placement: PlacementNo(1),
                    reason: PlacementEndReason::Employment,
                })),
            ),
        ),
        (
            "training_started",
            envelope(
                5,
                Event::Fact(Fact::TrainingStarted(TrainingStarted {
                    training: TrainingNo(1),
                    course: code("sfi"),
                    provider: code("vbu-komvux"),
                })),
            ),
        ),
        (
            "training_completed",
            envelope(
                6,
                Event::Fact(Fact::TrainingCompleted(TrainingCompleted {
                    training: TrainingNo(2),
                    course: code("truckkort"),
                    provider: code("af-leverantor"),
                    hours: 24,
                    credential_earned: true,
                })),
            ),
        ),
        (
            "training_discontinued",
            envelope(
                7,
                Event::Fact(Fact::TrainingDiscontinued(TrainingDiscontinued {
                    training: TrainingNo(1),
                    reason: TrainingDiscontinuedReason::Employment,
                })),
            ),
        ),
        (
            "progress_assessed",
            envelope(
                8,
                Event::Fact(Fact::ProgressAssessed(ProgressAssessed {
                    instrument: code("work-star"),
                    assessor: Assessor::Joint,
                    scores: vec![
                        AreaScore { area: code("stability"), score: 6 },
                        AreaScore { area: code("job-search"), score: 4 },
                    ],
                })),
            ),
        ),
        (
            "exited",
            envelope(
                9,
                Event::Fact(Fact::Exited(Exited {
                    outcome: ExitOutcome::EmploymentSubsidised,
                    support_at_exit: Some(code("lon")),
                })),
            ),
        ),
        (
            "followed_up",
            envelope(
                10,
                Event::Fact(Fact::FollowedUp(FollowedUp {
                    point: FollowUpPoint::Months6,
                    status: FollowUpStatus::Employed,
                })),
            ),
        ),
        (
            "responsible_changed",
            envelope(
                13,
                Event::Fact(Fact::ResponsibleChanged(ResponsibleChanged {
                    responsible: UserId::parse("bertil-handlaggare").unwrap(),
                })),
            ),
        ),
        (
            "corrected",
            envelope(
                11,
                Event::Corrected(Corrected {
                    target: EventId::from_uuid(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0003)),
                    reason: CorrectionReason::WrongDate,
                    replacement: placement,
                }),
            ),
        ),
        (
            "retracted",
            envelope(
                12,
                Event::Retracted(Retracted {
                    target: EventId::from_uuid(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0004)),
                    reason: CorrectionReason::Duplicate,
                }),
            ),
        ),
    ]
}

/// A fixed previous hash, so the trailer is frozen too.
const PREVIOUS: ChainHash = ChainHash([0x5a; 32]);

#[test]
fn golden_fixtures_decode_and_reencode_to_the_same_bytes() {
    let dir = fixture_dir().join("v1");
    // Blessing writes only missing fixtures: existing bytes are frozen forever.
    let bless = std::env::var_os("STOD_BLESS_FIXTURES").is_some();
    let mut covered = std::collections::BTreeSet::new();
    for (name, expected) in golden_v1() {
        let path = dir.join(format!("{name}.bin"));
        if !path.exists() && bless {
            std::fs::create_dir_all(&dir).unwrap();
            let sealed = codec::seal(expected.clone(), &PREVIOUS).unwrap();
            std::fs::write(&path, &sealed.bytes).unwrap();
        }
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("fixture {} missing ({e}); STOD_BLESS_FIXTURES=1 creates new ones", path.display())
        });
        let decoded = codec::decode(&bytes).unwrap_or_else(|e| panic!("{name}: frozen bytes no longer decode: {e}"));
        assert_eq!(decoded.event, expected, "{name}: frozen bytes decode to a different value");
        assert!(codec::verify_link(&PREVIOUS, &bytes), "{name}: chain hash");
        let reencoded = codec::seal(decoded.event, &PREVIOUS).unwrap();
        assert_eq!(reencoded.bytes, bytes, "{name}: the encoding of a shipped version changed");
        covered.insert(expected.event_type());
    }
    assert_eq!(covered.len(), EventType::ALL.len(), "every event type has a golden fixture");
}

#[test]
fn the_documented_layout_holds_for_a_fixture() {
    // docs/event-format.md walks through this file byte by byte.
    let bytes = std::fs::read(fixture_dir().join("v1/followed_up.bin")).unwrap();
    assert_eq!(bytes[0], codec::FORMAT_V1);
    // Envelope starts with the event id's 16 bytes, then the case id's.
    assert_eq!(&bytes[1..17], Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_000a).as_bytes());
    assert_eq!(&bytes[17..33], Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_cafe).as_bytes());
    // Type code and schema version, little-endian u16 each.
    assert_eq!(&bytes[33..35], &9u16.to_le_bytes());
    assert_eq!(&bytes[35..37], &1u16.to_le_bytes());
    // occurred_on as days since 1970-01-01 (i32 LE), recorded_at as µs (i64 LE).
    assert_eq!(&bytes[37..41], &i32::from(d("2025-03-14")).to_le_bytes());
    assert_eq!(&bytes[41..49], &1_741_950_000_123_456i64.to_le_bytes());
    // The trailer is SHA-256(previous ‖ everything before the trailer).
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(PREVIOUS.0);
    h.update(&bytes[..bytes.len() - 32]);
    assert_eq!(&bytes[bytes.len() - 32..], h.finalize().as_slice());
}

#[test]
fn trailing_bytes_are_refused() {
    let (_, ev) = golden_v1().remove(0);
    let sealed = codec::seal(ev, &ChainHash::GENESIS).unwrap();
    // Extra bytes inside the envelope (before the trailer), with a recomputed trailer.
    let mut body = sealed.bytes[..sealed.bytes.len() - 32].to_vec();
    body.push(0);
    let hash = codec::chain_hash(&ChainHash::GENESIS, &body);
    body.extend_from_slice(&hash.0);
    assert_eq!(codec::decode(&body).unwrap_err().kind(), DecodeErrorKind::TrailingBytes);
}

#[test]
fn unknown_formats_types_and_versions_are_refused_by_kind() {
    let (_, ev) = golden_v1().remove(0);
    let sealed = codec::seal(ev, &ChainHash::GENESIS).unwrap();
    let mut bytes = sealed.bytes.clone();
    bytes[0] = 2;
    assert_eq!(codec::decode(&bytes).unwrap_err().kind(), DecodeErrorKind::UnknownFormat);
    let mut bytes = sealed.bytes.clone();
    bytes[33..35].copy_from_slice(&999u16.to_le_bytes());
    assert_eq!(codec::decode(&bytes).unwrap_err().kind(), DecodeErrorKind::UnknownType);
    let mut bytes = sealed.bytes.clone();
    bytes[35..37].copy_from_slice(&2u16.to_le_bytes());
    assert_eq!(codec::decode(&bytes).unwrap_err().kind(), DecodeErrorKind::UnknownType);
    assert_eq!(codec::decode(&[1; 10]).unwrap_err().kind(), DecodeErrorKind::Size);
    assert_eq!(codec::decode(&vec![1; codec::MAX_EVENT_BYTES + 1]).unwrap_err().kind(), DecodeErrorKind::Size);
}

#[test]
fn a_huge_length_prefix_does_not_allocate_or_panic() {
    let (_, ev) = golden_v1().remove(0);
    let sealed = codec::seal(ev, &ChainHash::GENESIS).unwrap();
    // The recorded_by string's u64 length prefix sits right after recorded_at (offset 49).
    let mut bytes = sealed.bytes.clone();
    bytes[49..57].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(codec::decode(&bytes).unwrap_err().kind(), DecodeErrorKind::Malformed);
}

#[test]
fn a_changed_byte_breaks_the_chain_link() {
    let (_, ev) = golden_v1().remove(0);
    let sealed = codec::seal(ev, &PREVIOUS).unwrap();
    assert!(codec::verify_link(&PREVIOUS, &sealed.bytes));
    assert!(!codec::verify_link(&ChainHash::GENESIS, &sealed.bytes), "a different predecessor");
    for i in [0, 20, sealed.bytes.len() / 2, sealed.bytes.len() - 1] {
        let mut bytes = sealed.bytes.clone();
        bytes[i] ^= 0x01;
        assert!(!codec::verify_link(&PREVIOUS, &bytes), "flip at {i}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_is_identity(ev in arb::recorded_event(), prev in any::<[u8; 32]>()) {
        let prev = ChainHash(prev);
        let sealed = codec::seal(ev.clone(), &prev).unwrap();
        let decoded = codec::decode(&sealed.bytes).unwrap();
        prop_assert_eq!(&decoded.event, &ev);
        prop_assert_eq!(decoded.chain_hash, sealed.chain_hash);
        prop_assert!(codec::verify_link(&prev, &sealed.bytes));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = codec::decode(&bytes);
    }

    #[test]
    fn mutated_events_never_panic_the_decoder(
        ev in arb::recorded_event(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = codec::seal(ev, &ChainHash::GENESIS).unwrap().bytes;
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let _ = codec::decode(&bytes);
        let _ = codec::decode(&bytes[..cut.index(bytes.len())]);
    }
}
