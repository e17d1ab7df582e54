//! Verification of a realistic log, intact and tampered with in each way an auditor
//! must be able to tell apart.

// Test code: a failed unwrap is a failed test, with its backtrace.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use stod_audit::bundle::{self, read_events, write_events};
use stod_audit::{Finding, Record};
use stod_events::ids::{CaseId, Date, EventId, Timestamp};
use stod_events::{codec, Event, Fact, RecordedEvent, SealedEvent};

fn demo() -> Vec<SealedEvent> {
    let today = Date::from_ymd(2025, 12, 31).unwrap();
    let subs = stod_demo::generate(&stod_demo::DemoParams { participants: 30, years: 2, seed: 4, today });
    stod_demo::seal_locally(&subs, today)
}

fn records(events: &[SealedEvent]) -> Vec<Record> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| Record { stream_sequence: i as u64 + 1, subject_case: e.event.case_id, bytes: e.bytes.clone() })
        .collect()
}

/// An event that has both a predecessor and a successor in its case: (index in the
/// log, its case).
fn middle_of_a_case(records: &[Record]) -> (usize, CaseId) {
    for (i, r) in records.iter().enumerate() {
        let same: Vec<usize> =
            records.iter().enumerate().filter(|(_, x)| x.subject_case == r.subject_case).map(|(j, _)| j).collect();
        if same.len() >= 5 && same[2] == i {
            return (i, r.subject_case);
        }
    }
    panic!("the demo has a case with five events");
}

fn exported(dir: &Path) -> Vec<Record> {
    let recs = records(&demo());
    let (_, v) = bundle::export(dir, recs.clone(), 1, &Default::default()).unwrap();
    assert!(v.intact(), "{:?}", v.findings);
    recs
}

fn tamper(dir: &Path, change: impl FnOnce(&mut Vec<Record>)) {
    let path = dir.join("events.log");
    let (mut recs, damage) = read_events(&path).unwrap();
    assert!(damage.is_none());
    change(&mut recs);
    write_events(&path, &recs).unwrap();
}

#[test]
fn an_intact_log_and_bundle_verify() {
    let recs = records(&demo());
    let v = stod_audit::verify(recs.clone(), 1);
    assert!(v.intact(), "{:?}", v.findings);
    assert_eq!(v.events, recs.len() as u64);
    assert_eq!(v.cases, 30);
    let dir = tempfile::tempdir().unwrap();
    bundle::export(dir.path(), recs, 1, &Default::default()).unwrap();
    let check = bundle::check(dir.path()).unwrap();
    assert!(check.intact(), "{check:?}");
}

#[test]
fn a_changed_byte_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let recs = exported(dir.path());
    let (i, case) = middle_of_a_case(&recs);
    tamper(dir.path(), |r| r[i].bytes[40] ^= 0x01);
    let check = bundle::check(dir.path()).unwrap();
    assert!(check.file_problems.iter().any(|p| p.contains("events.log")), "{:?}", check.file_problems);
    assert_eq!(check.verification.findings, vec![Finding::Changed { stream_sequence: i as u64 + 1, case_id: case }]);
}

#[test]
fn a_removed_event_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let recs = exported(dir.path());
    let (i, case) = middle_of_a_case(&recs);
    tamper(dir.path(), |r| {
        r.remove(i);
    });
    let seq = i as u64 + 1;
    let f = bundle::check(dir.path()).unwrap().verification.findings;
    assert!(f.contains(&Finding::Missing { after_sequence: seq - 1, before_sequence: seq + 1, count: 1 }), "{f:?}");
    // The case's chain head shows which case lost it; nothing else is blamed.
    assert!(
        f.iter().all(|x| matches!(x, Finding::Missing { .. })
            || matches!(x, Finding::HeadMismatch { case_id, .. } if *case_id == case)),
        "{f:?}"
    );
}

#[test]
fn two_swapped_records_are_named_as_moved() {
    let dir = tempfile::tempdir().unwrap();
    let recs = exported(dir.path());
    let (i, case) = middle_of_a_case(&recs);
    // Far apart, so many records lie between them.
    let far = (i + 40..recs.len()).find(|&j| recs[j].subject_case != case).unwrap();
    tamper(dir.path(), |r| r.swap(i, far));
    let f = bundle::check(dir.path()).unwrap().verification.findings;
    let moved: Vec<u64> = f
        .iter()
        .filter_map(|x| match x {
            Finding::OutOfOrder { stream_sequence, .. } => Some(*stream_sequence),
            _ => None,
        })
        .collect();
    assert_eq!(moved.len(), 2, "{f:?}");
    assert!(moved.contains(&(i as u64 + 1)) && moved.contains(&(far as u64 + 1)), "{f:?}");
    assert!(f.iter().all(|x| matches!(x, Finding::OutOfOrder { .. })), "no innocent event blamed: {f:?}");
}

#[test]
fn two_events_swapped_in_place_are_named_as_reordered() {
    let dir = tempfile::tempdir().unwrap();
    let recs = exported(dir.path());
    let (i, case) = middle_of_a_case(&recs);
    let next = (i + 1..recs.len()).find(|&j| recs[j].subject_case == case).unwrap();
    // The contents change places; the sequence numbers stay in order.
    tamper(dir.path(), |r| {
        let (a, b) = (r[i].bytes.clone(), r[next].bytes.clone());
        r[i].bytes = b;
        r[next].bytes = a;
    });
    let f = bundle::check(dir.path()).unwrap().verification.findings;
    let (a, b) = (i as u64 + 1, next as u64 + 1);
    assert!(f.contains(&Finding::Reordered { stream_sequence: a, case_id: case, chains_from_sequence: b }), "{f:?}");
    assert!(!f.iter().any(|x| matches!(x, Finding::Changed { .. } | Finding::Inserted { .. })), "{f:?}");
}

#[test]
fn an_inserted_event_is_named_even_with_a_valid_looking_hash() {
    let dir = tempfile::tempdir().unwrap();
    let events = demo();
    let recs = exported(dir.path());
    let (i, case) = middle_of_a_case(&recs);
    // A forger who knows the format: a new event for the case, chained from the event
    // before it, slotted in with the later sequences shifted up.
    let forged = codec::seal(
        RecordedEvent {
            event_id: EventId::new(),
            case_id: case,
            occurred_on: events[i].event.occurred_on,
            recorded_at: Timestamp::now(),
            recorded_by: events[i].event.recorded_by.clone(),
            submission_id: stod_events::ids::SubmissionId::new(),
            event: Event::Fact(match &events[i].event.event {
                Event::Fact(f) => f.clone(),
                _ => Fact::FollowedUp(stod_events::event::FollowedUp {
                    point: stod_events::event::FollowUpPoint::Months3,
                    status: stod_events::event::FollowUpStatus::Employed,
                }),
            }),
        },
        &events[i - 1..i].iter().rev().find(|e| e.event.case_id == case).map_or(
            // The previous event of the case, wherever it is in the log.
            recs.iter()
                .take(i)
                .rev()
                .find(|r| r.subject_case == case)
                .map(|r| {
                    let mut h = [0u8; 32];
                    h.copy_from_slice(&r.bytes[r.bytes.len() - 32..]);
                    stod_events::ChainHash(h)
                })
                .unwrap(),
            |e| e.chain_hash,
        ),
    )
    .unwrap();
    tamper(dir.path(), |r| {
        for x in r.iter_mut().skip(i) {
            x.stream_sequence += 1;
        }
        r.insert(i, Record { stream_sequence: i as u64 + 1, subject_case: case, bytes: forged.bytes.clone() });
    });
    let f = bundle::check(dir.path()).unwrap().verification.findings;
    assert_eq!(f, vec![Finding::Inserted { stream_sequence: i as u64 + 1, case_id: case }]);
}

#[test]
fn a_changed_last_event_is_caught_by_the_chain_heads() {
    let dir = tempfile::tempdir().unwrap();
    let recs = exported(dir.path());
    let last_case = recs.last().unwrap().subject_case;
    // Change the last event and re-forge its trailer so the chain looks fine.
    tamper(dir.path(), |r| {
        let prev = r.iter().rev().skip(1).find(|x| x.subject_case == last_case).map(|x| {
            let mut h = [0u8; 32];
            h.copy_from_slice(&x.bytes[x.bytes.len() - 32..]);
            stod_events::ChainHash(h)
        });
        let last = r.last_mut().unwrap();
        let n = last.bytes.len();
        last.bytes[45] ^= 0x10;
        let forged = codec::chain_hash(&prev.unwrap_or(stod_events::ChainHash::GENESIS), &last.bytes[..n - 32]);
        last.bytes[n - 32..].copy_from_slice(&forged.0);
    });
    let f = bundle::check(dir.path()).unwrap().verification.findings;
    assert!(f.iter().any(|x| matches!(x, Finding::HeadMismatch { case_id, .. } if *case_id == last_case)), "{f:?}");
}

#[test]
fn garbage_files_give_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    exported(dir.path());
    std::fs::write(dir.path().join("events.log"), b"not a log").unwrap();
    assert!(bundle::check(dir.path()).is_err());
    std::fs::write(dir.path().join("manifest.json"), b"{").unwrap();
    assert!(bundle::check(dir.path()).is_err());
}

/// A foreign message an operator set aside (by the digest of its bytes) is named but
/// breaks nothing, live and in a bundle; the list cannot hide a valid event, nor other
/// bytes at the same sequence.
#[test]
fn a_foreign_message_set_aside_is_named_and_nothing_else_is_hidden() {
    use sha2::{Digest as _, Sha256};
    let mut recs = records(&demo());
    let (i, case) = middle_of_a_case(&recs);
    let foreign = br#"{"not":"an event"}"#.to_vec();
    let seq = recs.len() as u64 + 1;
    recs.push(Record { stream_sequence: seq, subject_case: case, bytes: foreign.clone() });
    assert!(!stod_audit::verify(recs.clone(), 1).intact(), "a foreign message is an integrity error");

    let digest = hex::encode(Sha256::digest(&foreign));
    let set_aside: bundle::SetAside = [(seq, (digest.clone(), "foreign".to_owned()))].into();
    let v = stod_audit::verify_setting_aside(recs.clone(), 1, &set_aside);
    assert!(v.intact(), "{:?}", v.findings);
    assert_eq!(v.findings, vec![Finding::SetAside { stream_sequence: seq, reason: "foreign".into() }]);

    // Other bytes at that sequence: judged like any other.
    let mut other = recs.clone();
    other[seq as usize - 1].bytes = b"something else".to_vec();
    assert!(!stod_audit::verify_setting_aside(other, 1, &set_aside).intact());
    // A valid event cannot be set aside, even with its own digest.
    let valid = &recs[i];
    let hide: bundle::SetAside =
        [(valid.stream_sequence, (hex::encode(Sha256::digest(&valid.bytes)), "foreign".to_owned()))].into();
    let mut without = recs.clone();
    without[i].bytes[40] ^= 1;
    let v = stod_audit::verify_setting_aside(without, 1, &hide);
    assert!(!v.intact(), "a changed event is not hidden by a list naming its sequence");

    let dir = tempfile::tempdir().unwrap();
    let (_, exported) = bundle::export(dir.path(), recs, 1, &set_aside).unwrap();
    assert!(exported.intact(), "{:?}", exported.findings);
    let check = bundle::check(dir.path()).unwrap();
    assert!(check.intact(), "{check:?}");
}
