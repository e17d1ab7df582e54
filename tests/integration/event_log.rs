//! The event stream on a real server: its settings, the server refusing to
//! rewrite history, deduplication, and durability across a crash.

use std::time::Duration;

use async_nats::jetstream::context::UpdateStreamErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{
    DeleteMessageErrorKind, DiscardPolicy, PurgeErrorKind, RetentionPolicy, StorageType, Stream,
};
use async_nats::jetstream::{Context, ErrorCode};
use stod_store::{
    case_subject, ensure_stream, stream_config, EventLogConfig, StoreErrorKind, STREAM_NAME, STREAM_SUBJECTS,
};
use stod_tests::{TestNats, TestResult};
use uuid::Uuid;

/// What nats-server 2.15 answers to a delete or purge on a deny_delete /
/// deny_purge stream: the generic "delete failed" and "purge failed" codes
/// (descriptions "message delete not permitted" and "stream purge not
/// permitted", status 500). async-nats 0.51 has no more specific constants.
const MESSAGE_DELETE_NOT_PERMITTED: ErrorCode = ErrorCode::STREAM_MESSAGE_DELETE_FAILED;
const PURGE_NOT_PERMITTED: ErrorCode = ErrorCode::STREAM_PURGE_FAILED;

/// Publishes `count` events to one case and waits for each ack.
async fn publish_events(js: &Context, case: &Uuid, count: usize) -> TestResult<Vec<u64>> {
    let mut sequences = Vec::with_capacity(count);
    for i in 0..count {
        let ack = js.publish(case_subject(case), format!("event {i}").into()).await?.await?;
        sequences.push(ack.sequence);
    }
    Ok(sequences)
}

/// The stream's message count as the server reports it now.
async fn message_count(stream: &mut Stream) -> TestResult<u64> {
    Ok(stream.info().await?.state.messages)
}

#[tokio::test]
async fn stream_is_created_with_the_required_settings() -> TestResult {
    let nats = TestNats::start().await?;
    ensure_stream(&nats.js, &EventLogConfig::default()).await?;

    // Read back from the server, not from what ensure_stream returned.
    let mut stream = nats.js.get_stream(STREAM_NAME).await?;
    let config = stream.info().await?.config.clone();
    assert_eq!(config.name, STREAM_NAME);
    assert_eq!(config.subjects, vec![STREAM_SUBJECTS.to_owned()]);
    assert_eq!(config.storage, StorageType::File);
    assert_eq!(config.retention, RetentionPolicy::Limits);
    assert!(config.deny_delete, "deny_delete");
    assert!(config.deny_purge, "deny_purge");
    assert!(!config.allow_rollup, "allow_rollup");
    assert_eq!(config.max_messages, -1);
    assert_eq!(config.max_bytes, -1);
    assert_eq!(config.max_messages_per_subject, -1);
    assert_eq!(config.max_age, Duration::ZERO);
    assert_eq!(config.discard, DiscardPolicy::New);
    assert_eq!(config.duplicate_window, Duration::from_secs(600));
    assert_eq!(config.max_message_size, 64 * 1024);
    assert!(config.allow_atomic_publish, "allow_atomic");
    assert!(!config.allow_message_ttl, "allow_msg_ttl");
    assert_eq!(config.num_replicas, 1);
    Ok(())
}

#[tokio::test]
async fn server_refuses_to_delete_a_message() -> TestResult {
    let nats = TestNats::start().await?;
    let mut stream = ensure_stream(&nats.js, &EventLogConfig::default()).await?;
    let sequences = publish_events(&nats.js, &Uuid::new_v4(), 3).await?;

    let err = stream.delete_message(sequences[1]).await.expect_err("deny_delete must make the server refuse");
    match err.kind() {
        DeleteMessageErrorKind::JetStream(js_err) => {
            assert_eq!(js_err.error_code(), MESSAGE_DELETE_NOT_PERMITTED);
        }
        other => panic!("expected a JetStream refusal, got {other:?}"),
    }

    assert_eq!(message_count(&mut stream).await?, 3);
    let kept = stream.get_raw_message(sequences[1]).await?;
    assert_eq!(kept.payload, "event 1");
    Ok(())
}

#[tokio::test]
async fn server_refuses_to_purge() -> TestResult {
    let nats = TestNats::start().await?;
    let mut stream = ensure_stream(&nats.js, &EventLogConfig::default()).await?;
    let case = Uuid::new_v4();
    publish_events(&nats.js, &case, 3).await?;

    let whole = stream.purge().await.expect_err("deny_purge must refuse a purge");
    // A purge of one case's subject is still a purge.
    let one_case =
        stream.purge().filter(case_subject(&case)).await.expect_err("deny_purge must refuse a filtered purge");
    for err in [whole, one_case] {
        match err.kind() {
            PurgeErrorKind::JetStream(js_err) => {
                assert_eq!(js_err.error_code(), PURGE_NOT_PERMITTED);
            }
            other => panic!("expected a JetStream refusal, got {other:?}"),
        }
    }

    assert_eq!(message_count(&mut stream).await?, 3);
    Ok(())
}

#[tokio::test]
async fn server_refuses_to_lift_deny_delete_or_deny_purge() -> TestResult {
    let nats = TestNats::start().await?;
    ensure_stream(&nats.js, &EventLogConfig::default()).await?;

    let mut allow_deletes = stream_config(&EventLogConfig::default());
    allow_deletes.deny_delete = false;
    let mut allow_purges = stream_config(&EventLogConfig::default());
    allow_purges.deny_purge = false;

    for config in [allow_deletes, allow_purges] {
        let err =
            nats.js.update_stream(config).await.expect_err("the server must not let an update lift the protection");
        match err.kind() {
            UpdateStreamErrorKind::JetStream(js_err) => {
                assert_eq!(js_err.error_code(), ErrorCode::STREAM_INVALID_CONFIG);
            }
            other => panic!("expected a JetStream refusal, got {other:?}"),
        }
    }

    let mut stream = nats.js.get_stream(STREAM_NAME).await?;
    let config = &stream.info().await?.config;
    assert!(config.deny_delete && config.deny_purge);
    Ok(())
}

#[tokio::test]
async fn ensure_stream_on_a_correct_stream_changes_nothing() -> TestResult {
    let nats = TestNats::start().await?;
    let cfg = EventLogConfig::default();
    let mut first = ensure_stream(&nats.js, &cfg).await?;
    publish_events(&nats.js, &Uuid::new_v4(), 2).await?;
    let before = first.info().await?.clone();

    let mut second = ensure_stream(&nats.js, &cfg).await?;
    let after = second.info().await?.clone();
    // Same stream (not recreated), same config, same contents.
    assert_eq!(after.created, before.created);
    assert_eq!(after.config, before.config);
    assert_eq!(after.state.messages, 2);
    assert_eq!(after.state.last_sequence, before.state.last_sequence);
    Ok(())
}

#[tokio::test]
async fn ensure_stream_refuses_a_stream_that_allows_deletes() -> TestResult {
    let nats = TestNats::start().await?;
    let mut loose = stream_config(&EventLogConfig::default());
    loose.deny_delete = false;
    nats.js.create_stream(loose).await?;

    let err = ensure_stream(&nats.js, &EventLogConfig::default())
        .await
        .expect_err("a stream allowing deletes must be refused");
    assert_eq!(err.kind(), StoreErrorKind::StreamMismatch);
    let settings: Vec<&str> = err.mismatches().iter().map(|m| m.setting).collect();
    assert_eq!(settings, vec!["deny_delete"]);

    // Refused, not "repaired": the stream is as it was.
    let mut stream = nats.js.get_stream(STREAM_NAME).await?;
    assert!(!stream.info().await?.config.deny_delete);
    Ok(())
}

#[tokio::test]
async fn acked_event_survives_sigkill_and_restart() -> TestResult {
    let mut nats = TestNats::start().await?;
    assert!(nats.server.options().sync_always, "the default must fsync before acking");
    ensure_stream(&nats.js, &EventLogConfig::default()).await?;
    let case = Uuid::new_v4();
    let ack = nats.js.publish(case_subject(&case), "opened".into()).await?.await?;

    nats.server.kill().await?;
    nats.server.restart().await?;
    nats.reconnect().await?;

    let mut stream = ensure_stream(&nats.js, &EventLogConfig::default()).await?;
    assert_eq!(message_count(&mut stream).await?, 1);
    let message = stream.get_raw_message(ack.sequence).await?;
    assert_eq!(message.subject.as_str(), case_subject(&case));
    assert_eq!(message.payload, "opened");
    Ok(())
}

#[tokio::test]
async fn same_msg_id_within_the_window_is_stored_once() -> TestResult {
    let nats = TestNats::start().await?;
    let mut stream = ensure_stream(&nats.js, &EventLogConfig::default()).await?;
    let subject = case_subject(&Uuid::new_v4());
    let event_id = Uuid::now_v7().to_string();

    let send = || {
        nats.js.send_publish(subject.clone(), PublishMessage::build().payload("opened".into()).message_id(&event_id))
    };
    let first = send().await?.await?;
    let retry = send().await?.await?;

    assert!(!first.duplicate);
    assert!(retry.duplicate, "the server must recognise the retry");
    assert_eq!(retry.sequence, first.sequence);
    assert_eq!(message_count(&mut stream).await?, 1);
    Ok(())
}

/// An auditor's read-only open never creates the stream and reports loosened
/// protections instead of refusing to look.
#[tokio::test]
async fn the_read_only_open_reports_loosened_protections_and_creates_nothing() -> TestResult {
    let nats = TestNats::start().await?;
    let missing = stod_store::EventStore::open_existing(nats.js.clone()).await.err().expect("no stream yet");
    assert_eq!(missing.kind(), StoreErrorKind::NotFound);
    assert!(nats.js.get_stream(STREAM_NAME).await.is_err(), "nothing was created");

    let mut loosened = stream_config(&EventLogConfig::default());
    loosened.deny_delete = false;
    nats.js.create_stream(loosened).await?;
    let (_, mismatches) = stod_store::EventStore::open_existing(nats.js.clone()).await?;
    let settings: Vec<&str> = mismatches.iter().map(|m| m.setting).collect();
    assert_eq!(settings, ["deny_delete"]);
    Ok(())
}

/// The first event of each of `n` different cases, sealed onto the genesis hash.
fn first_events_of_cases(n: usize) -> Vec<stod_events::SealedEvent> {
    let mut seen = std::collections::HashSet::new();
    stod_tests::demo_events(n as u32 * 2, 7).into_iter().filter(|e| seen.insert(e.event.case_id)).take(n).collect()
}

/// Group commit's store primitive, against the pinned server: an atomic batch is
/// stored whole at consecutive sequences, or not at all when one expectation is stale
/// or one message id is already stored; refused shapes send nothing.
#[tokio::test]
async fn an_atomic_batch_is_stored_whole_or_not_at_all() -> TestResult {
    use stod_store::{BatchAppend, EventStore};
    let nats = TestNats::start().await?;
    let store = EventStore::open(nats.js.clone(), &EventLogConfig::default()).await?;
    let mut stream = nats.js.get_stream(STREAM_NAME).await?;
    let events = first_events_of_cases(6);
    let ids: Vec<String> = (0..events.len()).map(|_| Uuid::now_v7().to_string()).collect();
    let item = |i: usize, expected_last: u64| BatchAppend { event: &events[i], expected_last, message_id: &ids[i] };

    // A lone append first, so the batch does not start at sequence 1.
    let lone = store.append(&events[0], 0, &ids[0]).await?;
    assert_eq!(lone.stream_sequence, 1);

    let appended = store.append_batch(&[item(1, 0), item(2, 0), item(3, 0)]).await?;
    let sequences: Vec<u64> = appended.iter().map(|a| a.stream_sequence).collect();
    assert_eq!(sequences, [2, 3, 4], "consecutive, in the order given");
    for (i, a) in appended.iter().enumerate() {
        assert!(!a.duplicate);
        let stored = store.get(a.stream_sequence).await?;
        assert_eq!(stored.sealed.bytes, events[i + 1].bytes, "sequence {} holds event {}", a.stream_sequence, i + 1);
        let raw = stream.get_raw_message(a.stream_sequence).await?;
        assert_eq!(raw.subject.as_str(), case_subject(events[i + 1].event.case_id.as_uuid()));
    }

    // One stale expectation (case 0 is at 1, not 0) refuses the whole batch.
    let stale_id = Uuid::now_v7().to_string();
    let stale_one = BatchAppend { event: &events[0], expected_last: 0, message_id: &stale_id };
    let stale = store.append_batch(&[item(4, 0), stale_one, item(5, 0)]).await.expect_err("refused");
    assert_eq!(stale.kind(), StoreErrorKind::Conflict);
    assert_eq!(message_count(&mut stream).await?, 4, "nothing of a refused batch is stored");
    // ... also when the stale one comes last.
    let fresh_id = Uuid::now_v7().to_string();
    let stale_one = BatchAppend { event: &events[1], expected_last: 7, message_id: &fresh_id };
    let stale_last = store.append_batch(&[item(4, 0), item(5, 0), stale_one]).await.expect_err("refused");
    assert_eq!(stale_last.kind(), StoreErrorKind::Conflict);
    assert_eq!(message_count(&mut stream).await?, 4);

    // A message id already stored (a retried submission) refuses the whole batch: no
    // "duplicate" answer inside a batch.
    let other = Uuid::now_v7().to_string();
    let retried = BatchAppend { event: &events[4], expected_last: 0, message_id: &ids[2] };
    let duplicate = store
        .append_batch(&[retried, BatchAppend { event: &events[5], expected_last: 0, message_id: &other }])
        .await
        .expect_err("refused");
    assert_eq!(duplicate.kind(), StoreErrorKind::DuplicateInBatch);
    assert_eq!(message_count(&mut stream).await?, 4);
    // A resend of a stored event as a single append is refused for its stale
    // expectation before its message id is looked at (nats-server 2.15.1 checks the
    // subject sequence first, batch or not): a conflict, never a second copy. The
    // command service answers such a retry from the case's own memory of submissions.
    let again = store.append(&events[2], 0, &ids[2]).await.expect_err("refused");
    assert_eq!(again.kind(), StoreErrorKind::Conflict);

    // Shapes the store refuses before sending anything.
    let twice = store.append_batch(&[item(4, 0), item(4, 0)]).await.expect_err("refused");
    assert_eq!(twice.kind(), StoreErrorKind::Invalid);
    assert_eq!(store.append_batch(&[]).await.expect_err("refused").kind(), StoreErrorKind::Invalid);
    let many_ids: Vec<String> = (0..1001).map(|i| format!("m{i}")).collect();
    let too_many: Vec<BatchAppend<'_>> =
        many_ids.iter().map(|id| BatchAppend { event: &events[4], expected_last: 0, message_id: id }).collect();
    assert_eq!(store.append_batch(&too_many).await.expect_err("refused").kind(), StoreErrorKind::Invalid);
    assert_eq!(message_count(&mut stream).await?, 4);

    // What remains goes through.
    let rest = store.append_batch(&[item(4, 0), item(5, 0)]).await?;
    assert_eq!(rest.iter().map(|a| a.stream_sequence).collect::<Vec<_>>(), [5, 6]);
    Ok(())
}

/// Reading a stream page by page (how a backup and an auditor read the whole log
/// through the command service) leaves no consumer behind. Before, each page's
/// ordered consumer lingered for its 30 s inactive threshold, and a backup of 3M
/// events failed on the server's "maximum consumers limit reached".
#[tokio::test]
async fn reading_a_stream_page_by_page_leaves_no_consumers_behind() -> TestResult {
    let nats = TestNats::start().await?;
    ensure_stream(&nats.js, &EventLogConfig::default()).await?;
    let case = Uuid::new_v4();
    let sequences = publish_events(&nats.js, &case, 30).await?;
    let mut read = Vec::new();
    let mut from = 1;
    // One byte per page: every page holds one message.
    while let Some(&last) = sequences.last().filter(|&&l| from <= l) {
        let page = stod_store::raw::read_range(&nats.js, STREAM_NAME, from, last, 1, false).await?;
        assert_eq!(page.len(), 1, "one message per page");
        read.extend(page.iter().map(|m| m.stream_sequence));
        from = page[0].stream_sequence + 1;
    }
    assert_eq!(read, sequences, "every message, once, in order");
    // An empty page (nothing pending) also makes a consumer first.
    assert!(stod_store::raw::read_range(&nats.js, STREAM_NAME, from, from + 5, 1, false).await?.is_empty());
    let mut stream = nats.js.get_stream(STREAM_NAME).await?;
    assert_eq!(stream.info().await?.state.consumer_count, 0, "the pages' consumers are gone");
    Ok(())
}
