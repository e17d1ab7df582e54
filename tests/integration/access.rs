//! The access log against a real server: every case-level read leaves exactly one
//! record naming who looked at what, an attempt on a missing case too; the server
//! refuses to delete or purge records; and a read whose record cannot be stored is
//! refused instead of answered.

use async_nats::jetstream::stream::{DeleteMessageErrorKind, PurgeErrorKind};
use async_nats::jetstream::ErrorCode;
use serde_json::{json, Value};
use stod_events::ids::{CaseId, Timestamp, UserId};
use stod_store::{
    ensure_access_stream, AccessFilter, AccessLog, AccessRecord, AccessView, EventLogConfig, StoredAccess,
    ACCESS_STREAM_NAME, ACCESS_STREAM_SUBJECTS,
};
use stod_tests::journey::*;
use stod_tests::{TestNats, TestResult, TestSystem};

/// A system with the command service and the projector, both recording accesses (the
/// default), and one recorded case, folded by the projector.
async fn system_with_a_case() -> TestResult<(TestSystem, CaseId)> {
    let system = TestSystem::start_with_projector().await?;
    let case = CaseId::new();
    let anna = system.client("anna").await?;
    anna.submit(case, at("2025-01-10", intake())).await?;
    let placed = anna.submit(case, at("2025-01-20", place("vaderbacken"))).await?;
    system.projector()?.wait_for(placed.stream_sequence).await?;
    Ok((system, case))
}

/// Asks `stod.query.<user>.<name>` once, as any NATS client would (no retries).
async fn ask(system: &TestSystem, user: &str, name: &str, case: CaseId) -> TestResult<Value> {
    let subject = format!("stod.query.{user}.{name}");
    let reply = stod_tests::request(&system.nats.client, subject, json!({ "case_id": case }).to_string()).await?;
    Ok(serde_json::from_slice(&reply.payload)?)
}

async fn access_log(system: &TestSystem, filter: &AccessFilter) -> TestResult<Vec<StoredAccess>> {
    let (log, loosened) = AccessLog::open_existing(system.nats.js.clone()).await?;
    assert!(loosened.is_empty(), "{loosened:?}");
    Ok(log.read(filter).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_case_read_leaves_one_record_naming_user_case_and_view() -> TestResult {
    let (system, case) = system_with_a_case().await?;
    // Recording the case read nothing: no access yet.
    assert_eq!(access_log(&system, &AccessFilter::default()).await?, vec![]);

    let before = Timestamp::now();
    let shown = ask(&system, "anna", "case", case).await?;
    assert_eq!(shown["status"], "found", "{shown}");
    let history = ask(&system, "revisor", "history", case).await?;
    assert_eq!(history["status"], "ok", "{history}");
    let after = Timestamp::now();

    let all = access_log(&system, &AccessFilter::default()).await?;
    let seen: Vec<(&str, Option<CaseId>, AccessView, &str)> =
        all.iter().map(|a| (a.record.user.as_str(), a.record.case_id, a.record.view, a.record.via.as_str())).collect();
    assert_eq!(
        seen,
        vec![
            ("anna", Some(case), AccessView::Case, "command"),
            ("revisor", Some(case), AccessView::History, "projector")
        ]
    );
    let (first, second) = (&all[0].record, &all[1].record);
    assert!(before <= first.at && first.at < second.at && second.at <= after, "{all:?}");
    assert!(all[0].stream_sequence < all[1].stream_sequence);
    assert!(all.iter().all(|a| a.record.version == stod_store::ACCESS_RECORD_VERSION));

    // The filters: by user and case on the server, the time range on the reader.
    let revisor = UserId::parse("revisor")?;
    let by_user = access_log(&system, &AccessFilter { user: Some(revisor), ..AccessFilter::default() }).await?;
    assert_eq!(by_user, all[1..]);
    let by_case = access_log(&system, &AccessFilter { case_id: Some(case), ..AccessFilter::default() }).await?;
    assert_eq!(by_case, all);
    let other_case =
        access_log(&system, &AccessFilter { case_id: Some(CaseId::new()), ..AccessFilter::default() }).await?;
    assert_eq!(other_case, vec![]);
    let until_first = access_log(&system, &AccessFilter { until: Some(first.at), ..AccessFilter::default() }).await?;
    assert_eq!(until_first, all[..1]);
    let since_second = access_log(&system, &AccessFilter { since: Some(second.at), ..AccessFilter::default() }).await?;
    assert_eq!(since_second, all[1..]);

    // The event log is untouched by reads: still the two events recorded.
    assert_eq!(system.log().await?.len(), 2);
    system.shutdown().await;
    Ok(())
}

/// Decided: the services record before they look, so an attempt on a case that does
/// not exist is recorded like any other read (someone guessing case ids shows up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_at_a_case_that_does_not_exist_is_recorded_too() -> TestResult {
    let (system, _case) = system_with_a_case().await?;
    let missing = CaseId::new();
    assert_eq!(ask(&system, "anna", "case", missing).await?["status"], "not_found");
    assert_eq!(ask(&system, "anna", "history", missing).await?["status"], "invalid");
    let records = access_log(&system, &AccessFilter { case_id: Some(missing), ..AccessFilter::default() }).await?;
    let views: Vec<AccessView> = records.iter().map(|a| a.record.view).collect();
    assert_eq!(views, vec![AccessView::Case, AccessView::History]);
    assert!(records.iter().all(|a| a.record.user.as_str() == "anna"));
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_access_stream_refuses_delete_and_purge_and_stores_a_retry_once() -> TestResult {
    let nats = TestNats::start().await?;
    let mut stream = ensure_access_stream(&nats.js, &EventLogConfig::default()).await?;
    let config = stream.info().await?.config.clone();
    assert_eq!(config.subjects, vec![ACCESS_STREAM_SUBJECTS.to_owned()]);
    assert!(config.deny_delete && config.deny_purge && !config.allow_rollup);
    assert_eq!((config.max_messages, config.max_bytes, config.max_messages_per_subject), (-1, -1, -1));
    assert!(config.max_age.is_zero());
    assert_eq!(config.storage, async_nats::jetstream::stream::StorageType::File);
    assert_eq!(config.num_replicas, 1);

    let log = AccessLog::open(nats.js.clone(), &EventLogConfig::default()).await?;
    let record = AccessRecord::new(UserId::parse("anna")?, CaseId::new(), AccessView::Case, "command");
    let first = log.record(&record).await?;
    // The same record again (a retry after a lost acknowledgement): the same message id,
    // stored once.
    assert_eq!(log.record(&record).await?, first);
    let other = log
        .record(&AccessRecord::new(
            UserId::parse("bertil")?,
            record.case_id.ok_or("a case")?,
            AccessView::History,
            "projector",
        ))
        .await?;
    assert_eq!(stream.info().await?.state.messages, 2);

    let deleted = stream.delete_message(first).await.expect_err("deny_delete must refuse");
    match deleted.kind() {
        DeleteMessageErrorKind::JetStream(e) => assert_eq!(e.error_code(), ErrorCode::STREAM_MESSAGE_DELETE_FAILED),
        other => panic!("expected a JetStream refusal, got {other:?}"),
    }
    let purged = stream.purge().await.expect_err("deny_purge must refuse");
    let one_user = stream.purge().filter("stod.access.anna.*").await.expect_err("a filtered purge is a purge");
    for err in [purged, one_user] {
        match err.kind() {
            PurgeErrorKind::JetStream(e) => assert_eq!(e.error_code(), ErrorCode::STREAM_PURGE_FAILED),
            other => panic!("expected a JetStream refusal, got {other:?}"),
        }
    }
    let kept = log.read(&AccessFilter::default()).await?;
    assert_eq!(kept.iter().map(|a| a.stream_sequence).collect::<Vec<_>>(), vec![first, other]);
    assert_eq!(kept[0].record, record);
    Ok(())
}

/// The flags stop deleting records, not deleting the whole stream (only account
/// permissions can). If that happens, or JetStream cannot store a record for any other
/// reason, no case is shown: both case-level queries answer `unavailable`. The services
/// do not recreate the stream themselves, which would hide that the log was removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_read_whose_access_record_cannot_be_stored_is_refused() -> TestResult {
    let (system, case) = system_with_a_case().await?;
    assert_eq!(ask(&system, "anna", "case", case).await?["status"], "found");
    assert!(system.nats.js.delete_stream(ACCESS_STREAM_NAME).await?.success);

    for (name, user) in [("case", "anna"), ("history", "revisor")] {
        let reply = ask(&system, user, name, case).await?;
        assert_eq!(reply["status"], "unavailable", "{name}: {reply}");
        assert!(reply.get("events").is_none() && reply.get("report").is_none(), "{name} leaked the case: {reply}");
    }
    // Queries that show no case are not affected.
    let reference = stod_tests::request(&system.nats.client, "stod.query.anna.reference", "{}").await?;
    let reference: Value = serde_json::from_slice(&reference.payload)?;
    assert_eq!(reference["status"], "found", "{reference}");
    system.shutdown().await;
    Ok(())
}

/// Checked like the event stream: an access stream that allows purges is refused by
/// the services (they do not start) and left as it is; a read-only open for an auditor
/// still reads it and names the loosened setting.
#[tokio::test]
async fn an_access_stream_with_loosened_protection_is_refused_not_repaired() -> TestResult {
    let nats = TestNats::start().await?;
    let mut loose = stod_store::access_stream_config(&EventLogConfig::default());
    loose.deny_purge = false;
    nats.js.create_stream(loose).await?;

    let err = ensure_access_stream(&nats.js, &EventLogConfig::default()).await.expect_err("must be refused");
    assert_eq!(err.kind(), stod_store::StoreErrorKind::StreamMismatch);
    let settings: Vec<&str> = err.mismatches().iter().map(|m| m.setting).collect();
    assert_eq!(settings, vec!["deny_purge"]);
    match stod_command::start(nats.client.clone(), stod_command::ServiceOptions::default()).await {
        Err(stod_command::StartError::Access(e)) => assert_eq!(e.kind(), stod_store::StoreErrorKind::StreamMismatch),
        Err(other) => panic!("expected the access log to be refused, got {other}"),
        Ok(_) => panic!("the command service started on an access log that allows purges"),
    }

    let (_, loosened) = AccessLog::open_existing(nats.js.clone()).await?;
    assert_eq!(loosened.iter().map(|m| m.setting).collect::<Vec<_>>(), vec!["deny_purge"]);
    let mut stream = nats.js.get_stream(ACCESS_STREAM_NAME).await?;
    assert!(!stream.info().await?.config.deny_purge, "left as it was");
    Ok(())
}

async fn caseload_of(system: &TestSystem, body: Value) -> TestResult<Value> {
    let reply = stod_tests::request(&system.nats.client, "stod.query.anna.caseload", body.to_string()).await?;
    Ok(serde_json::from_slice(&reply.payload)?)
}

/// A caseload is case-level too: each listing leaves a record of who listed how many
/// cases, and a lookup that came down to one case names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_caseload_leaves_a_record_and_a_lookup_names_its_case() -> TestResult {
    let (system, case) = system_with_a_case().await?;
    let listed = caseload_of(&system, json!({ "responsible": "anna" })).await?;
    assert_eq!(listed["report"]["total"], 1, "{listed}");
    let prefix = case.to_string()[..13].to_owned();
    let looked_up = caseload_of(&system, json!({ "prefix": prefix })).await?;
    assert_eq!(looked_up["report"]["cases"][0]["case_id"], case.to_string(), "{looked_up}");
    let none = caseload_of(&system, json!({ "responsible": "bertil" })).await?;
    assert_eq!(none["report"]["total"], 0, "{none}");

    let all = access_log(&system, &AccessFilter::default()).await?;
    let seen: Vec<(&str, Option<CaseId>, AccessView, Option<&str>)> = all
        .iter()
        .map(|a| (a.record.user.as_str(), a.record.case_id, a.record.view, a.record.outcome.as_deref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("anna", Some(case), AccessView::Caseload, Some("listed 1")),
            ("anna", Some(case), AccessView::Caseload, Some("listed 1")),
            ("anna", None, AccessView::Caseload, Some("listed 0")),
        ]
    );
    system.shutdown().await;
    Ok(())
}
