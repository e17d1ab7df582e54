//! Who may do what, enforced by a real nats-server with the authorization stod
//! generates (`stod-auth`): each role's allowed actions work, and each forbidden one is
//! refused by the server itself, whatever the client does.

use std::time::Duration;

use stod_auth::Credentials;
use stod_events::case::Command;
use stod_events::ids::{CaseId, UserId};
use stod_protocol::audit::{AuditPurpose, LogName};

use crate::secured::{command_body, wait_ok, Secured};
use stod_tests::journey::{assess, at, complete_training, intake, start_training};
use stod_tests::{read_log, TestResult};

/// More than 20 cases of the permission matrix against one real server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_server_enforces_every_roles_permissions() -> TestResult {
    let s = Secured::start().await?;
    let mut checked = 0;
    // The log as the command service sees it (its account holds the streams).
    let service = s.conn("stod-command").await?;

    // Allowed: a case worker records and reads her own work.
    let anna = s.client("anna").await?;
    let case = CaseId::new();
    let first = anna.submit(case, at("2025-03-01", intake())).await?;
    anna.submit(case, at("2025-03-05", start_training())).await?;
    anna.submit(case, at("2025-04-01", complete_training(1))).await?;
    assert_eq!(anna.case(case).await?.events.len(), 3);
    checked += 2;

    // Allowed: a project leader corrects.
    let lena = s.client("lena").await?;
    let retract =
        Command::Retract { target: first.event_ids[0], reason: stod_events::event::CorrectionReason::EntryError };
    let retracted = lena.submit(case, retract).await;
    assert!(retracted.is_ok() || matches!(retracted, Err(stod_client::ClientError::Rejected { .. })), "{retracted:?}");
    checked += 1;

    // Allowed: an auditor reads every stored event, through the command service.
    let events_before = read_log(&service.js).await?.len();
    let revisor_client = s.client("revisor").await?;
    let mut read = 0;
    revisor_client.read_log(LogName::Events, AuditPurpose::Verify, |_| read += 1, |_, _| {}).await?;
    assert_eq!(read, events_before, "the auditor reads the whole log");
    checked += 1;

    // Forbidden for a case worker.
    let anna = s.conn("anna").await?;
    for (subject, body) in [
        ("stod.cmd.bo.record".to_owned(), command_body(case, at("2025-04-02", assess(5)))),
        ("stod.cmd.anna.correct".to_owned(), command_body(case, retract_of(first.event_ids[0]))),
        ("stod.cmd.anna.retract".to_owned(), command_body(case, retract_of(first.event_ids[0]))),
        (format!("stod.events.case.{case}"), serde_json::json!("forged")),
        ("stod.ops.anna.rebuild".to_owned(), serde_json::json!({})),
        ("stod.registry.anna.erase".to_owned(), serde_json::json!({ "personnummer": "19900314-1234" })),
        ("stod.registry.anna.register".to_owned(), serde_json::json!({ "personnummer": "19900314-1234" })),
        ("stod.registry.bo.lookup".to_owned(), serde_json::json!({ "personnummer": "19900314-1234" })),
        ("stod.query.bo.case".to_owned(), serde_json::json!({ "case_id": case })),
        ("stod.query.bo.caseload".to_owned(), serde_json::json!({})),
        ("stod.audit.anna.log-open".to_owned(), serde_json::json!({ "log": "events", "purpose": "verify" })),
    ] {
        anna.clear();
        anna.send(&subject, body).await;
        assert!(anna.violation(&subject).await, "anna: {subject} must be refused by the server");
        checked += 1;
    }
    for subject in ["_INBOX_bo.>", "stod.cmd.>", "_INBOX.>"] {
        anna.clear();
        let _sub = anna.client.subscribe(subject.to_owned()).await?;
        assert!(anna.violation(subject).await, "anna may not subscribe to {subject}");
        checked += 1;
    }

    // Allowed: a case worker's own caseload, with her case on it.
    let listed = |v: &serde_json::Value| {
        v["report"]["cases"].as_array().is_some_and(|cs| cs.iter().any(|c| c["case_id"] == case.to_string()))
    };
    let mut caseload = serde_json::Value::Null;
    for _ in 0..100 {
        caseload = wait_ok(
            &anna,
            "stod.query.anna.caseload",
            serde_json::json!({ "responsible": "anna" }),
            Err(String::new()),
        )
        .await;
        if listed(&caseload) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(listed(&caseload), "anna's case is on her caseload: {caseload}");
    checked += 1;

    // Forbidden for an auditor: writing anything, JetStream itself, and the case
    // workers' caseload (an auditor reads the log and the histories).
    let revisor = s.conn("revisor").await?;
    for subject in ["stod.cmd.revisor.record", "stod.events.case.x", "$JS.API.INFO", "stod.query.revisor.caseload"] {
        revisor.clear();
        revisor.send(subject, serde_json::json!({})).await;
        assert!(revisor.violation(subject).await, "revisor: {subject}");
        checked += 1;
    }
    revisor.clear();
    assert!(revisor.js.delete_stream(stod_store::STREAM_NAME).await.is_err());
    assert!(revisor.violation("$JS.API.STREAM.DELETE.STOD_EVENTS").await);
    checked += 1;
    // Allowed: the auditor reads the access log, where anna's look at her case is.
    let mut looks = Vec::new();
    revisor_client
        .read_log(
            LogName::Access,
            AuditPurpose::Access,
            |m| {
                if let Ok(r) = stod_store::access::decode(m.seq, &m.subject, &m.data) {
                    looks.push(r);
                }
            },
            |_, _| {},
        )
        .await?;
    assert!(looks.iter().any(|r| r.user.as_str() == "anna" && r.case_id == Some(case)), "{looks:?}");
    assert!(
        looks.iter().any(|r| r.user.as_str() == "revisor" && r.view == stod_store::AccessView::AuditRun),
        "the auditor's own reads are recorded: {looks:?}"
    );
    checked += 2;
    // Allowed: the auditor's audit queries.
    let history = revisor.request("stod.query.revisor.history", serde_json::json!({ "case_id": case })).await;
    let history =
        wait_ok(&revisor, "stod.query.revisor.history", serde_json::json!({ "case_id": case }), history).await;
    assert_eq!(history["status"], "ok", "{history}");
    checked += 1;

    // The steering group: published aggregates only.
    let styr = s.conn("styr").await?;
    let published = wait_ok(
        &styr,
        "stod.query.styr.published-throughput",
        serde_json::json!({ "period": "2025" }),
        Err(String::new()),
    )
    .await;
    assert_eq!(published["status"], "ok", "{published}");
    checked += 1;
    for (name, body) in [
        ("case", serde_json::json!({ "case_id": case })),
        ("history", serde_json::json!({ "case_id": case })),
        ("throughput", serde_json::json!({ "period": "2025" })),
        ("steering", serde_json::json!({ "as_of": "2025-06-30" })),
        ("caseload", serde_json::json!({})),
    ] {
        let subject = format!("stod.query.styr.{name}");
        styr.clear();
        styr.send(&subject, body).await;
        assert!(styr.violation(&subject).await, "styr: {subject}");
        checked += 1;
    }
    styr.clear();
    assert!(read_log(&styr.js).await.is_err(), "the steering group cannot read events");
    assert!(styr.violation("$JS.API.STREAM.INFO.STOD_EVENTS").await);
    checked += 1;

    // Even the services and the operator cannot delete the log.
    for user in ["drift", "stod-command", "stod-projector"] {
        let conn = s.conn(user).await?;
        conn.clear();
        assert!(conn.js.delete_stream(stod_store::STREAM_NAME).await.is_err(), "{user}");
        assert!(conn.violation("$JS.API.STREAM.DELETE.STOD_EVENTS").await, "{user}");
        checked += 1;
    }
    let projector = s.conn("stod-projector").await?;
    projector.clear();
    let _ = projector.client.publish("stod.events.case.x", "forged".into()).await;
    assert!(projector.violation("stod.events.case.x").await, "only the command service appends");
    checked += 1;

    // The operator rebuilds; the HTTP service reads published reports only.
    let drift = s.conn("drift").await?;
    let rebuild = drift.request("stod.ops.drift.rebuild", serde_json::json!({})).await.map_err(|e| e.to_string())?;
    assert_eq!(rebuild["status"], "started", "{rebuild}");
    let http = s.conn("stod-http").await?;
    http.clear();
    http.send("stod.query.stod-http.case", serde_json::json!({ "case_id": case })).await;
    assert!(http.violation("stod.query.stod-http.case").await);
    http.clear();
    http.send("stod.query.stod-http.caseload", serde_json::json!({})).await;
    assert!(http.violation("stod.query.stod-http.caseload").await, "the HTTP service's identity reads no caseload");
    checked += 3;

    // No anonymous access, and no key the server does not know.
    assert!(async_nats::ConnectOptions::new().connect(s.system.url()).await.is_err(), "anonymous refused");
    let stranger = nkeys::KeyPair::new_user().seed()?;
    assert!(
        async_nats::ConnectOptions::with_nkey(stranger).connect(s.system.url()).await.is_err(),
        "unknown key refused"
    );
    checked += 2;

    // Nothing a refused client sent reached the log.
    let log = read_log(&service.js).await?;
    assert_eq!(log.len(), events_before, "refused publishes appended nothing");
    assert!(
        log.iter().all(|e| ["anna", "lena"].contains(&e.sealed.event.recorded_by.as_str())),
        "recorded by the authenticated users only"
    );
    assert!(checked >= 20, "{checked} cases");
    s.system.shutdown().await;
    Ok(())
}

fn retract_of(target: stod_events::ids::EventId) -> Command {
    Command::Retract { target, reason: stod_events::event::CorrectionReason::EntryError }
}

/// `stod user rotate` and `stod user remove`: once the server has reloaded its users,
/// the old key is refused at once, also on a connection that was open, and the new one
/// works.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotated_and_removed_keys_are_refused_at_once() -> TestResult {
    let s = Secured::start().await?;
    let data = s.system.data().ok_or("a managed system")?.clone();
    let old = Credentials::load(&s.auth.credentials_path("anna"))?;
    let open = s.client("anna").await?;
    let case = CaseId::new();
    open.submit(case, at("2025-03-01", intake())).await?;
    let bo_open = s.conn("bo").await?;

    let new = s.auth.rotate_user(&UserId::parse("anna")?)?;
    s.auth.remove_user(&UserId::parse("bo")?)?;
    assert!(stod_system::managed::reload(&data), "the managed server reloads its users");

    let connect = |creds: &Credentials| {
        let url = s.system.url().to_owned();
        let creds = creds.clone();
        async move {
            async_nats::ConnectOptions::with_nkey(creds.nkey_seed.clone())
                .custom_inbox_prefix(stod_auth::inbox_prefix(creds.user.as_str()))
                .connect(url)
                .await
        }
    };
    // The reload takes a moment.
    let mut refused = false;
    for _ in 0..50 {
        if connect(&old).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the old key is refused");
    let bo = Credentials::load(&s.auth.credentials_path("bo"));
    assert!(bo.is_err(), "a removed user's kept credentials are gone");
    // Connections that were open with them are closed by the server.
    let mut closed = false;
    for _ in 0..50 {
        let states = (open.nats().connection_state(), bo_open.client.connection_state());
        if !matches!(states.0, async_nats::connection::State::Connected)
            && !matches!(states.1, async_nats::connection::State::Connected)
        {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "the open connections of the old key and of the removed user are closed");
    let quick = open.clone().with_retry(stod_client::RetryPolicy { retries: 0, ..Default::default() });
    assert!(quick.case(case).await.is_err(), "nothing more is answered on the old key");

    let renewed = stod_client::ConnectOptions::new(s.system.url()).credentials(new).connect().await?;
    assert_eq!(renewed.case(case).await?.events.len(), 1, "the new key works");
    s.system.shutdown().await;
    Ok(())
}
