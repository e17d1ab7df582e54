//! The write path end to end: the command service on a real nats-server, driven
//! through the client library. Journeys, every rejection, races, retries, garbage.

use std::collections::BTreeMap;
use std::time::Duration;

use stod_client::{ClientError, ClientErrorKind};
use stod_events::case::{Command, RejectionKind};
use stod_events::codec;
use stod_events::event::{EventType, FollowUpPoint, FollowUpStatus};
use stod_events::ids::{CaseId, ParticipantRef, SubmissionId};
use stod_events::{ChainHash, Event};
use stod_protocol::{CommandReply, CommandRequest};
use stod_store::case_subject;
use stod_tests::journey::*;
use stod_tests::{TestResult, TestSystem};

#[track_caller]
fn rejected_as(result: Result<stod_client::Accepted, ClientError>, kind: RejectionKind) {
    match result {
        Err(ClientError::Rejected { kind: k, .. }) => assert_eq!(k, kind),
        other => panic!("expected a rejection {kind:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_journey_is_recorded_on_the_case_subject() -> TestResult {
    let system = TestSystem::start().await?;
    let anna = system.client("anna").await?;
    let case = CaseId::new();
    let steps = [
        at("2025-01-10", intake()),
        at("2025-01-20", place("industrisparet")),
        at("2025-02-01", start_training()),
        at("2025-03-01", complete_training(1)),
        at("2025-03-05", assess(6)),
        at("2025-05-30", end_placement(1)),
        at("2025-06-01", exit_to_job()),
        at("2025-09-01", follow_up()),
    ];
    let mut recorded = Vec::new();
    for step in steps {
        let accepted = anna.submit(case, step).await?;
        assert!(!accepted.duplicate);
        recorded.extend(accepted.event_ids);
    }

    let log = system.log().await?;
    let subject_events: Vec<_> = log.iter().filter(|e| e.sealed.event.case_id == case).collect();
    assert_eq!(subject_events.len(), 8, "exactly the journey's events");
    assert_eq!(log.len(), 8, "and nothing else in the stream");
    let types: Vec<EventType> = subject_events.iter().map(|e| e.sealed.event.event_type()).collect();
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
    let mut previous = ChainHash::GENESIS;
    for (e, id) in subject_events.iter().zip(&recorded) {
        assert_eq!(&e.sealed.event.event_id, id);
        assert_eq!(e.sealed.event.recorded_by.as_str(), "anna", "recorded_by comes from the subject");
        assert!(codec::verify_link(&previous, &e.sealed.bytes), "hash chain in stream order");
        previous = e.sealed.chain_hash;
    }
    // Stored on the case's own subject.
    let stream = system.nats.js.get_stream(stod_store::STREAM_NAME).await?;
    let msg = stream.get_raw_message(log[0].stream_sequence).await?;
    assert_eq!(msg.subject.as_str(), case_subject(case.as_uuid()));

    // The case query shows the same history.
    let view = anna.case(case).await?;
    assert_eq!(view.events.len(), 8);
    assert!(!view.open);
    system.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_is_typed_and_appends_nothing() -> TestResult {
    let system = TestSystem::start().await?;
    let c = system.client("anna").await?;

    // An open case with a placement, and an exited one.
    let open = CaseId::new();
    let participant = ParticipantRef::new();
    c.submit(open, at("2025-01-10", intake_of(participant))).await?;
    c.submit(open, at("2025-01-20", place("vaderbacken"))).await?;
    let closed = CaseId::new();
    c.submit(closed, at("2025-01-10", intake())).await?;
    c.submit(closed, at("2025-02-10", exit_to_job())).await?;
    let before = system.log().await?.len();

    let cases: Vec<(CaseId, Command, RejectionKind)> = vec![
        (CaseId::new(), at("2025-02-01", place("vaderbacken")), RejectionKind::NoIntake),
        (open, at("2025-02-01", intake()), RejectionKind::AlreadyEnrolled),
        (CaseId::new(), at("2025-02-01", intake_of(participant)), RejectionKind::ParticipantHasOpenCase),
        (closed, at("2025-03-01", place("vaderbacken")), RejectionKind::CaseExited),
        (open, at("2025-03-01", follow_up()), RejectionKind::NotExited),
        (open, at("2025-03-01", end_placement(9)), RejectionKind::PlacementNotFound),
        (open, at("2025-01-15", end_placement(1)), RejectionKind::EndBeforeStart),
        (open, at("2099-01-01", place("vaderbacken")), RejectionKind::DateInFuture),
        (open, at("2024-12-01", place("vaderbacken")), RejectionKind::DateBeforeIntake),
        (open, at("2025-03-01", place("atlantis")), RejectionKind::UnknownCode),
        (open, at("2025-03-01", assess(11)), RejectionKind::InvalidValue),
        (open, at("2025-03-01", exit_to_job()), RejectionKind::OpenActivitiesAtExit),
        (open, at("2025-03-01", complete_training(4)), RejectionKind::TrainingNotFound),
        (open, retract(stod_events::ids::EventId::new()), RejectionKind::UnknownEvent),
    ];
    for (case, command, kind) in cases {
        let result = c.submit(case, command.clone()).await;
        if let Err(ClientError::Rejected { valid, .. }) = &result {
            if kind == RejectionKind::UnknownCode {
                assert!(valid.contains(&"industrisparet".to_string()), "valid sites listed: {valid:?}");
            }
        }
        rejected_as(result, kind);
    }
    // The one rule that needs the participant index: a follow-up twice.
    c.submit(closed, at("2025-05-10", follow_up())).await?;
    rejected_as(c.submit(closed, at("2025-05-11", follow_up())).await, RejectionKind::FollowUpAlreadyRecorded);
    assert_eq!(system.log().await?.len(), before + 1, "only the one accepted follow-up was appended");
    system.shutdown().await;
    Ok(())
}

/// Two exits on one case at the same moment, through two service instances: exactly
/// one is recorded, the other is told the truth (already exited). Repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_exits_record_exactly_one() -> TestResult {
    racing_exits(Default::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_exits_record_exactly_one_with_group_commit() -> TestResult {
    racing_exits(group_commit()).await
}

/// Group commit on, batching any group of two or more (no learning). A command alone
/// at its instance takes the lone-append path, so these race tests check that group
/// commit answers right; `group_commit::` checks racing commands inside batches.
pub(crate) fn group_commit() -> stod_command::ServiceOptions {
    stod_command::ServiceOptions {
        group_commit: true,
        group_commit_config: stod_command::GroupCommitConfig {
            window: Duration::from_millis(2),
            min_batch: 2,
            adapt: false,
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn racing_exits(options: stod_command::ServiceOptions) -> TestResult {
    let system = TestSystem::start_with(2, options).await?;
    let (a, b) = (system.client("anna").await?, system.client("bertil").await?);
    for round in 0..25 {
        let case = CaseId::new();
        a.submit(case, at("2025-01-10", intake())).await?;
        let (ra, rb) = tokio::join!(
            a.submit(case, at("2025-03-01", exit_to_job())),
            b.submit(case, at("2025-03-02", exit_to_job()))
        );
        let accepted = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
        assert_eq!(accepted, 1, "round {round}: {ra:?} / {rb:?}");
        for r in [ra, rb] {
            if let Err(e) = r {
                assert!(
                    matches!(e, ClientError::Rejected { kind: RejectionKind::CaseExited, .. }),
                    "round {round}: {e:?}"
                );
            }
        }
        let exits = system
            .log()
            .await?
            .iter()
            .filter(|e| e.sealed.event.case_id == case && e.sealed.event.event_type() == EventType::Exited)
            .count();
        assert_eq!(exits, 1, "round {round}");
    }
    system.shutdown().await;
    Ok(())
}

/// Two intakes of one participant on two new cases at the same moment: exactly one
/// case opens. The loser is refused, or told to retry and then refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_intakes_of_one_participant_open_exactly_one_case() -> TestResult {
    racing_intakes(Default::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_intakes_of_one_participant_open_exactly_one_case_with_group_commit() -> TestResult {
    racing_intakes(group_commit()).await
}

async fn racing_intakes(options: stod_command::ServiceOptions) -> TestResult {
    let system = TestSystem::start_with(2, options).await?;
    let (a, b) = (system.client("anna").await?, system.client("bertil").await?);
    for round in 0..25 {
        let participant = ParticipantRef::new();
        let (case_a, case_b) = (CaseId::new(), CaseId::new());
        let (sa, sb) = (SubmissionId::new(), SubmissionId::new());
        let (ra, rb) = tokio::join!(
            a.submit_as(sa, case_a, at("2025-01-10", intake_of(participant))),
            b.submit_as(sb, case_b, at("2025-01-10", intake_of(participant)))
        );
        let mut results = vec![(case_a, sa, ra), (case_b, sb, rb)];
        // A loser told "conflict" (the winner was still appending) retries as a case
        // worker would, with the same submission.
        for (case, sub, r) in results.iter_mut() {
            if matches!(r, Err(ClientError::Conflict(_))) {
                *r = a.submit_as(*sub, *case, at("2025-01-10", intake_of(participant))).await;
            }
        }
        let winners: Vec<_> = results.iter().filter(|(_, _, r)| r.is_ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        for (_, _, r) in &results {
            if let Err(e) = r {
                assert!(
                    matches!(e, ClientError::Rejected { kind: RejectionKind::ParticipantHasOpenCase, .. }),
                    "round {round}: {e:?}"
                );
            }
        }
        let intakes = system
            .log()
            .await?
            .iter()
            .filter(|e| matches!(&e.sealed.event.event, Event::Fact(stod_events::Fact::Enrolled(en)) if en.participant == participant))
            .count();
        assert_eq!(intakes, 1, "round {round}");
    }
    system.shutdown().await;
    Ok(())
}

/// After an exit, the same participant may enter again on a new case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_may_re_enter_after_exit() -> TestResult {
    let system = TestSystem::start().await?;
    let c = system.client("anna").await?;
    let p = ParticipantRef::new();
    let first = CaseId::new();
    c.submit(first, at("2025-01-10", intake_of(p))).await?;
    rejected_as(c.submit(CaseId::new(), at("2025-02-01", intake_of(p))).await, RejectionKind::ParticipantHasOpenCase);
    c.submit(first, at("2025-03-01", exit_to_job())).await?;
    c.submit(CaseId::new(), at("2025-09-01", intake_of(p))).await?;
    system.shutdown().await;
    Ok(())
}

/// Consecutive commands of one case served by different instances: the instance that
/// answers may hold the case in its cache from before the other one's append. It must
/// not reject on that stale state (found by the fault suite: "placement 1 not found"
/// for a placement the client had been told was recorded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_with_a_stale_cache_does_not_reject_on_it() -> TestResult {
    let system = TestSystem::start_with(2, Default::default()).await?;
    let (a, b) = (system.services()[0].handler(), system.services()[1].handler());
    let anna = stod_events::ids::UserId::parse("anna")?;
    let request = |case, command| CommandRequest::new(case, SubmissionId::new(), command);
    let case = CaseId::new();
    // A caches the case after the intake; B then records a placement A never sees.
    let reply = a.handle(anna.clone(), request(case, at("2025-01-10", intake()))).await;
    assert!(matches!(reply, CommandReply::Accepted { .. }), "{reply:?}");
    let placement = request(case, at("2025-01-20", place("vaderbacken")));
    let reply = b.handle(anna.clone(), placement.clone()).await;
    assert!(matches!(reply, CommandReply::Accepted { .. }), "{reply:?}");
    // A is asked to end that placement, and for the placement's retry.
    let reply = a.handle(anna.clone(), request(case, at("2025-02-01", end_placement(1)))).await;
    assert!(
        matches!(reply, CommandReply::Accepted { duplicate: false, .. }),
        "decided on the log, not the cache: {reply:?}"
    );
    let reply = b.handle(anna.clone(), request(case, at("2025-02-05", place("vaderbacken")))).await;
    assert!(matches!(reply, CommandReply::Accepted { .. }), "{reply:?}");
    let reply = a.handle(anna, placement).await;
    assert!(
        matches!(reply, CommandReply::Accepted { duplicate: true, .. }),
        "a retry of a recorded submission: {reply:?}"
    );
    assert_eq!(system.log().await?.len(), 4);
    system.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_submission_three_times_records_once() -> TestResult {
    same_submission_three_times(Default::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_submission_three_times_records_once_with_group_commit() -> TestResult {
    same_submission_three_times(group_commit()).await
}

async fn same_submission_three_times(options: stod_command::ServiceOptions) -> TestResult {
    let system = TestSystem::start_with(2, options).await?;
    let c = system.client("anna").await?;
    let case = CaseId::new();
    c.submit(case, at("2025-01-10", intake())).await?;
    let sub = SubmissionId::new();
    let place_cmd = at("2025-01-20", place("vaderbacken"));
    // Sequential retries (a lost reply, then another) and concurrent ones.
    let first = c.submit_as(sub, case, place_cmd.clone()).await?;
    let second = c.submit_as(sub, case, place_cmd.clone()).await?;
    let (third, fourth) =
        tokio::join!(c.submit_as(sub, case, place_cmd.clone()), c.submit_as(sub, case, place_cmd.clone()));
    let (third, fourth) = (third?, fourth?);
    assert!(!first.duplicate);
    for again in [&second, &third, &fourth] {
        assert!(again.duplicate);
        assert_eq!(again.event_ids, first.event_ids, "answered with the original result");
        assert_eq!(again.stream_sequence, first.stream_sequence);
    }
    let placements =
        system.log().await?.iter().filter(|e| e.sealed.event.event_type() == EventType::PlacementStarted).count();
    assert_eq!(placements, 1);
    system.shutdown().await;
    Ok(())
}

/// The reply is lost on the wire: the command was recorded, the client never heard.
/// Its retry, on another service instance, long after NATS's duplicate window, still
/// gets the original result, because the case remembers its submissions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_reply_retried_past_the_duplicate_window_records_once() -> TestResult {
    lost_reply_retried(Default::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_reply_retried_past_the_duplicate_window_records_once_with_group_commit() -> TestResult {
    lost_reply_retried(group_commit()).await
}

async fn lost_reply_retried(mut options: stod_command::ServiceOptions) -> TestResult {
    options.log.duplicate_window = Duration::from_millis(200);
    let mut system = TestSystem::start_with(1, options).await?;
    let c = system.client("anna").await?;
    let case = CaseId::new();
    c.submit(case, at("2025-01-10", intake())).await?;

    let sub = SubmissionId::new();
    let request = CommandRequest::new(case, sub, at("2025-01-20", place("vaderbacken")));
    // Published with a reply subject nobody listens on: the reply is lost.
    let nats = system.nats.client.clone();
    nats.publish_with_reply("stod.cmd.anna.record", "_INBOX_anna.lost", serde_json::to_vec(&request)?.into()).await?;
    nats.flush().await?;
    let mut stored = 0;
    for _ in 0..100 {
        stored = system.log().await?.len();
        if stored == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stored, 2, "the command was recorded although the reply was lost");

    tokio::time::sleep(Duration::from_millis(400)).await; // past the duplicate window
    system.add_instance().await?; // a fresh instance with an empty cache
    system.take_instance(0)?.shutdown().await;
    let retry = c.submit_as(sub, case, request.command.clone()).await?;
    assert!(retry.duplicate);
    let retry_again = c.submit_as(sub, case, request.command).await?;
    assert_eq!(retry_again.event_ids, retry.event_ids);
    assert_eq!(system.log().await?.len(), 2, "recorded once");
    system.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_requests_get_an_error_and_the_service_keeps_serving() -> TestResult {
    let system = TestSystem::start().await?;
    let nats = system.nats.client.clone();
    let ask = |subject: &'static str, body: Vec<u8>| {
        let nats = nats.clone();
        async move {
            let reply = stod_tests::request(&nats, subject, body).await?;
            TestResult::Ok(serde_json::from_slice::<CommandReply>(&reply.payload)?)
        }
    };
    let invalid_cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("stod.cmd.anna.record", vec![0xff, 0xfe, 0x00, 0x13]),
        ("stod.cmd.anna.record", b"{\"case_id\": 1}".to_vec()),
        ("stod.cmd.anna.record", b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()),
        ("stod.cmd.anna.record", vec![b' '; 100 * 1024]),
        ("stod.cmd.Anna.record", serde_json::to_vec(&CommandRequest::new(CaseId::new(), SubmissionId::new(), at("2025-01-10", intake())))?),
        ("stod.cmd.anna.correct", serde_json::to_vec(&CommandRequest::new(CaseId::new(), SubmissionId::new(), at("2025-01-10", intake())))?),
    ];
    for (subject, body) in invalid_cases {
        let reply = ask(subject, body).await?;
        assert!(matches!(reply, CommandReply::Invalid { .. }), "{subject}: {reply:?}");
    }
    assert!(system.log().await?.is_empty(), "nothing appended");
    // Still serving.
    let c = system.client("anna").await?;
    c.submit(CaseId::new(), at("2025-01-10", intake())).await?;
    system.shutdown().await;
    Ok(())
}

/// nats-server is SIGKILLed and restarted between submissions and while they are in
/// flight. Every acknowledged event is there afterwards, none twice; the service and
/// the clients reconnect by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_events_survive_nats_server_crashes() -> TestResult {
    let mut system = TestSystem::start().await?;
    let c = system.client("anna").await?;

    // Between submissions.
    let case = CaseId::new();
    c.submit(case, at("2025-01-10", intake())).await?;
    system.nats.server.kill().await?;
    system.nats.server.restart().await?;
    c.submit(case, at("2025-01-20", place("vaderbacken"))).await?;
    assert_eq!(system.log_after_restart().await?.len(), 2);

    // During submissions: a writer submits to many cases while the server dies twice.
    // Without client-side retries, so outages surface as unknown outcomes here.
    let impatient = c.clone().with_retry(stod_client::RetryPolicy {
        request_timeout: Duration::from_millis(500),
        retries: 0,
        backoff: Duration::from_millis(10),
    });
    // Submits until told to stop, so it is mid-request whenever the server dies.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let c = impatient;
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (case, sub) = (CaseId::new(), SubmissionId::new());
                let cmd = at("2025-02-01", intake());
                let result = c.submit_as(sub, case, cmd.clone()).await;
                outcomes.push((case, sub, cmd, result));
            }
            outcomes
        })
    };
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        system.nats.server.kill().await?;
        // Down longer than the client waits: requests in flight or sent meanwhile
        // cannot learn their outcome.
        tokio::time::sleep(Duration::from_millis(700)).await;
        system.nats.server.restart().await?;
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let outcomes = writer.await?;
    let submitted = outcomes.len();
    assert!(outcomes.iter().any(|o| o.3.is_err()), "some outcomes were unknown: the crash hit in flight");

    // Submissions whose outcome the client could not learn are submitted again with
    // the same id, as a case worker's client would.
    let mut final_ids = BTreeMap::new();
    let mut unknown = 0;
    for (case, sub, cmd, result) in outcomes {
        let accepted = match result {
            Ok(a) => a,
            Err(e) if e.kind() == ClientErrorKind::Unavailable => {
                unknown += 1;
                c.submit_as(sub, case, cmd).await?
            }
            Err(e) => panic!("unexpected outcome: {e:?}"),
        };
        final_ids.insert(case, accepted.event_ids[0]);
    }
    eprintln!("{unknown} of {submitted} submissions had an unknown outcome before their retry");
    let log = system.log_after_restart().await?;
    assert_eq!(log.len(), 2 + submitted, "every submission exactly once ({unknown} had an unknown outcome at first)");
    for (case, event_id) in final_ids {
        let matching: Vec<_> = log.iter().filter(|e| e.sealed.event.case_id == case).collect();
        assert_eq!(matching.len(), 1, "case {case} recorded once");
        assert_eq!(matching[0].sealed.event.event_id, event_id, "the acknowledged event is the stored one");
    }
    system.shutdown().await;
    Ok(())
}

trait AfterRestart {
    async fn log_after_restart(&self) -> TestResult<Vec<stod_store::StoredEvent>>;
}

impl AfterRestart for TestSystem {
    /// Reads the log on a fresh connection (the test's own may still be reconnecting).
    async fn log_after_restart(&self) -> TestResult<Vec<stod_store::StoredEvent>> {
        let (_, js) = stod_tests::connect(&self.nats.server).await?;
        stod_tests::read_log(&js).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_up_records_its_status() -> TestResult {
    let system = TestSystem::start().await?;
    let c = system.client("anna").await?;
    let case = CaseId::new();
    c.submit(case, at("2025-01-10", intake())).await?;
    c.submit(case, at("2025-02-10", exit_to_job())).await?;
    let cmd = at(
        "2025-08-10",
        stod_events::case::Action::FollowUp { point: FollowUpPoint::Months6, status: FollowUpStatus::Studying },
    );
    c.submit(case, cmd).await?;
    let view = c.case(case).await?;
    let last = view.events.last().expect("events");
    assert_eq!(last.event_type, "followed_up");
    assert!(matches!(&last.fact, Some(stod_events::Fact::FollowedUp(f)) if f.status == FollowUpStatus::Studying));
    system.shutdown().await;
    Ok(())
}
