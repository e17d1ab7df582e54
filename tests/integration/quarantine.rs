//! A message that is not an event, in the log for good (put there by a test-only
//! identity: the tests' server has no accounts), stops nothing for good: the projector
//! and the case loader say so loudly, an operator's recorded decision sets exactly
//! those bytes aside, and folding, case reads and appends go on; verification names it.

use std::time::Duration;

use stod_client::ClientErrorKind;
use stod_events::ids::CaseId;
use stod_protocol::ops::{QuarantineReason, QuarantineReply, QuarantineRequest};
use stod_store::QuarantineList;
use stod_tests::journey::{at, end_placement, intake, place};
use stod_tests::{read_log, TestResult, TestSystem};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_foreign_message_is_reported_then_set_aside_by_an_operator() -> TestResult {
    let system = TestSystem::start_with_projector().await?;
    let anna = system.client("anna").await?;
    let case = CaseId::new();
    anna.submit(case, at("2025-01-10", intake())).await?;
    let placed = anna.submit(case, at("2025-01-20", place("vaderbacken"))).await?;
    system.projector()?.wait_for(placed.stream_sequence).await?;

    // Into the case's own subject, past the command service.
    let foreign = br#"{"forged": true}"#;
    let ack = system.nats.js.publish(stod_store::case_subject(case.as_uuid()), foreign.to_vec().into()).await?.await?;
    let seq = ack.sequence;

    // Loud, not silent: the projector stops at it and names it.
    let mut status = system.projector()?.subscribe();
    tokio::time::timeout(Duration::from_secs(10), status.wait_for(|s| s.fault.is_some())).await??;
    let fault = system.projector()?.status().fault.unwrap_or_default();
    assert!(fault.contains(&format!("stream sequence {seq} ")), "{fault}");
    // The case cannot be read, nor written to.
    let quick = anna.clone().with_retry(stod_client::RetryPolicy { retries: 0, ..Default::default() });
    assert_eq!(quick.case(case).await.unwrap_err().kind(), ClientErrorKind::Unavailable);
    let refused = quick.submit(case, at("2025-02-01", end_placement(1))).await.unwrap_err();
    assert_eq!(refused.kind(), ClientErrorKind::Unavailable);
    // And verification names it.
    let records = raw_records(&system).await?;
    let v = stod_audit::verify(records.clone(), 1);
    assert!(!v.intact());
    assert!(v.findings.iter().any(|f| f.stream_sequence() == Some(seq)), "{:?}", v.findings);

    // An operator's decision: a valid event is refused, the foreign message is set aside.
    let drift = system.client("drift").await?;
    let request =
        |sequence| QuarantineRequest { sequence, reason: QuarantineReason::Foreign, ticket: Some("INC-1".into()) };
    let valid = drift.quarantine(&request(placed.stream_sequence)).await?;
    assert!(matches!(valid, QuarantineReply::Refused { .. }), "{valid:?}");
    let bad_ticket = drift.quarantine(&QuarantineRequest { ticket: Some("not ok!".into()), ..request(seq) }).await?;
    assert!(matches!(bad_ticket, QuarantineReply::Invalid { .. }), "{bad_ticket:?}");
    let done = drift.quarantine(&request(seq)).await?;
    let QuarantineReply::Quarantined { sequence, sha256, already: false } = done else { panic!("{done:?}") };
    assert_eq!((sequence, sha256.as_str()), (seq, stod_store::quarantine::digest(foreign).as_str()));
    let again = drift.quarantine(&request(seq)).await?;
    assert!(matches!(again, QuarantineReply::Quarantined { already: true, .. }), "{again:?}");

    // Folding goes on by itself, the case reads and takes new events.
    tokio::time::timeout(Duration::from_secs(20), system.projector()?.wait_for(seq)).await??;
    assert!(system.projector()?.status().fault.is_none());
    assert_eq!(anna.case(case).await?.events.len(), 2);
    let ended = anna.submit(case, at("2025-02-01", end_placement(1))).await?;
    assert!(ended.stream_sequence > seq);
    system.projector()?.wait_for(ended.stream_sequence).await?;
    let history = system.projector()?.store().live()?.ok_or("a live generation")?.audit(&case)?;
    assert_eq!(history.len(), 3, "the three events, not the foreign message");

    // Verification with the list: intact, the message named as set aside.
    let list = QuarantineList::reader(system.nats.js.clone());
    list.refresh().await?;
    let set_aside: stod_audit::SetAside =
        list.entries().into_iter().map(|(seq, q)| (seq, (q.sha256, q.reason))).collect();
    let v = stod_audit::verify_setting_aside(raw_records(&system).await?, 1, &set_aside);
    assert!(v.intact(), "{:?}", v.findings);
    assert_eq!(v.findings, vec![stod_audit::Finding::SetAside { stream_sequence: seq, reason: "foreign".into() }]);

    // A rebuild passes over it too.
    system.projector()?.rebuild().await?;
    assert_eq!(system.projector()?.status().checkpoint, ended.stream_sequence);
    assert!(still_in_the_log(&system, seq).await?, "the test's read of the log sees the message still there");
    system.shutdown().await;
    Ok(())
}

async fn raw_records(system: &TestSystem) -> TestResult<Vec<stod_audit::Record>> {
    let store = stod_store::EventStore::open(system.nats.js.clone(), &Default::default()).await?;
    let mut records = Vec::new();
    store
        .read_raw(1, |m| {
            let case =
                m.subject.rsplit('.').next().and_then(|t| t.parse::<CaseId>().ok()).unwrap_or(CaseId::from([0; 16]));
            records.push(stod_audit::Record { stream_sequence: m.stream_sequence, subject_case: case, bytes: m.bytes });
        })
        .await?;
    Ok(records)
}

/// The log still holds the message (nothing was removed), and decoding it fails.
async fn still_in_the_log(system: &TestSystem, seq: u64) -> TestResult<bool> {
    Ok(read_log(&system.nats.js).await.is_err() && raw_records(system).await?.iter().any(|r| r.stream_sequence == seq))
}
