//! The hostile insider: every user of every role, with valid credentials, tries every
//! way we know to get a message into what stod keeps (the event log, the access log,
//! the quarantine, the three buckets) or into another user's subjects, against the
//! pinned nats-server with `stod up`'s own accounts and permissions.
//!
//! The ways: a request to every service endpoint whose reply subject names a target
//! (the services' answers must not land there); a push consumer whose deliver subject
//! is a target (the server does not check a deliver subject against its creator's
//! publish permissions, nats-io/nats-server#8274); a plain publish, with and without
//! the KV operation headers; and every JetStream API call that changes a stream.
//!
//! After each identity's attempts every stored message is compared byte for byte with
//! before, no new stream appears on disk, nobody received a message meant for another,
//! and at the end the read models are caught up without a fault and the log verifies.
//!
//! The services' by-design writes are not attempts: the command service appends to
//! the log, the access log, the quarantine and its two buckets; the projector and the
//! registry append access records; the registry writes its own bucket.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use stod_events::ids::{CaseId, SubmissionId};
use stod_tests::journey::{at, intake, place};
use stod_tests::TestResult;

use crate::registry::pnr;
use crate::secured::{command_body, Conn, Secured};

/// The streams stod keeps, and which service may read each.
const STREAMS: [(&str, &str); 6] = [
    ("STOD_EVENTS", "stod-command"),
    ("STOD_ACCESS", "stod-command"),
    ("STOD_QUARANTINE", "stod-command"),
    ("KV_stod_participants", "stod-command"),
    ("KV_stod_reference", "stod-command"),
    ("KV_stod_registry", "stod-registry"),
];

/// People, in every role, and the services' own users.
const PEOPLE: [&str; 10] = ["anna", "bo", "lena", "revisor", "styr", "finsam", "backup", "drift", "stod-http", "demo"];
const SERVICES: [&str; 3] = ["stod-command", "stod-projector", "stod-registry"];

/// Whether `user` may publish to `target` by design (a service's own writes).
fn by_design(user: &str, target: &str) -> bool {
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| target.starts_with(p));
    match user {
        "stod-command" => starts(&[
            "stod.events.",
            "stod.access.",
            "stod.quarantine.",
            "$KV.stod_participants.",
            "$KV.stod_reference.",
            "stod.registry.stod-command.",
        ]),
        "stod-projector" => starts(&["stod.access."]),
        "stod-registry" => starts(&["stod.access.", "$KV.stod_registry."]),
        "bo" => target.starts_with("_INBOX_bo."),
        _ => false,
    }
}

/// One stored message: stream, sequence, subject, sorted headers and payload.
type Stored = (String, u64, Vec<u8>);

struct Snapshot {
    messages: Vec<Stored>,
    /// `<account>/<stream>` for every stream directory on disk.
    on_disk: BTreeSet<String>,
}

async fn snapshot(s: &Secured, readers: &[(&str, &Conn)]) -> TestResult<Snapshot> {
    let mut messages = Vec::new();
    for (name, reader) in STREAMS {
        let conn = readers.iter().find(|(u, _)| *u == reader).map(|(_, c)| *c).ok_or("no reader")?;
        let mut stream = conn.js.get_stream(name).await?;
        let state = stream.info().await?.state.clone();
        for seq in state.first_sequence..=state.last_sequence {
            let Ok(msg) = stream.get_raw_message(seq).await else { continue };
            let bytes = stod_tests::stored_bytes(&msg);
            messages.push((name.to_owned(), seq, bytes));
        }
    }
    let mut on_disk = BTreeSet::new();
    let jetstream = s.dir.path().join("nats").join("jetstream");
    for account in std::fs::read_dir(&jetstream)? {
        let account = account?.path();
        let Ok(streams) = std::fs::read_dir(account.join("streams")) else { continue };
        for stream in streams {
            let name = stream?.file_name().to_string_lossy().into_owned();
            on_disk.insert(format!("{}/{name}", account.file_name().unwrap_or_default().to_string_lossy()));
        }
    }
    Ok(Snapshot { messages, on_disk })
}

/// The service endpoints, as `(subject, body)`, for a requester `me`: each answers
/// something (mostly an error: no body here changes anything when answered).
fn endpoints(me: &str, case: CaseId) -> Vec<(String, Vec<u8>)> {
    let json = |v: serde_json::Value| v.to_string().into_bytes();
    vec![
        (format!("stod.cmd.{me}.record"), json(command_body(case, at("2025-05-01", intake())))),
        (format!("stod.cmd.{me}.correct"), json(serde_json::json!({}))),
        (format!("stod.cmd.{me}.retract"), b"not json".to_vec()),
        (format!("stod.query.{me}.case"), json(serde_json::json!({}))),
        (format!("stod.query.{me}.reference"), json(serde_json::json!({}))),
        (format!("stod.query.{me}.projection-status"), json(serde_json::json!({}))),
        (format!("stod.query.{me}.history"), json(serde_json::json!({}))),
        (format!("stod.query.{me}.published-throughput"), json(serde_json::json!({ "period": "2025" }))),
        (format!("stod.registry.{me}.lookup"), b"not json".to_vec()),
        (format!("stod.registry.{me}.register"), b"not json".to_vec()),
        (format!("stod.ops.{me}.rebuild"), b"not json".to_vec()),
        (format!("stod.ops.{me}.quarantine"), b"not json".to_vec()),
        (format!("stod.ops.{me}.reference-load"), b"not json".to_vec()),
        (format!("stod.audit.{me}.log-info"), b"not json".to_vec()),
        // Another user's subjects, and the services' own discovery.
        ("stod.cmd.anna.record".to_owned(), json(command_body(case, at("2025-05-01", intake())))),
        ("stod.query.anna.case".to_owned(), json(serde_json::json!({}))),
        ("$SRV.PING".to_owned(), Vec::new()),
        ("$SRV.INFO.stod-command".to_owned(), Vec::new()),
    ]
}

/// Every user of every role tries to get a message into every place they may not
/// write: not one gets through, the read models stay right and the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_user_of_any_role_gets_a_message_anywhere_they_may_not_write() -> TestResult {
    let mut s = Secured::with_registry().await?;
    // The demo's seeder, while it records demo data: it may act as the demo's workers.
    let seeder = s.system.enroll_seeder().await?.ok_or("a managed system has a seeder")?;

    // Something to attack: a case with a registered person, a placement, a read.
    let anna = s.client("anna").await?;
    let case = CaseId::new();
    anna.submit_intake_of(SubmissionId::new(), case, at("2025-03-01", intake()), &pnr("19860512123")).await?;
    let placed = anna.submit(case, at("2025-03-10", place("vaderbacken"))).await?;
    anna.case(case).await?;
    s.system.projector().ok_or("projector")?.projector().wait_for(placed.stream_sequence).await?;

    let command = s.conn("stod-command").await?;
    let registry = s.conn("stod-registry").await?;
    let readers = [("stod-command", &command), ("stod-registry", &registry)];
    let mut before = snapshot(&s, &readers).await?;
    let participant_key = first_key(&command, "KV_stod_participants", "$KV.stod_participants.").await?;
    let registry_key = first_key(&registry, "KV_stod_registry", "$KV.stod_registry.").await?;

    let targets: Vec<String> = vec![
        format!("stod.events.case.{case}"),
        format!("stod.events.case.{}", CaseId::new()),
        format!("stod.access.anna.{case}"),
        "stod.access.revisor.registry".to_owned(),
        "stod.quarantine.1".to_owned(),
        format!("$KV.stod_participants.{participant_key}"),
        "$KV.stod_reference.catalogue".to_owned(),
        format!("$KV.stod_registry.{registry_key}"),
        "stod.cmd.bo.record".to_owned(),
        "stod.registry.stod-command.register".to_owned(),
        "_INBOX_bo.stolen".to_owned(),
    ];

    // Listeners on the subjects that are not stored: bo's inbox (bo never asks
    // anything here), bo's command subject and the registry's register subject.
    let bo = s.conn("bo").await?;
    let mut stolen = bo.client.subscribe("_INBOX_bo.stolen".to_owned()).await?;
    let mut cmd_bo = command.client.subscribe("stod.cmd.bo.record".to_owned()).await?;
    let mut register = registry.client.subscribe("stod.registry.stod-command.register".to_owned()).await?;
    command.client.flush().await?;
    registry.client.flush().await?;
    bo.client.flush().await?;

    let mut attempts = 0usize;
    // Push consumers the services' credentials created; deliveries that reached a
    // service's endpoint (and were dropped, unanswered); answers that reached bo's
    // inbox (a known limit, see below).
    let (mut service_consumers, mut delivered_to_services, mut into_bos_inbox) = (0, 0, Vec::new());
    let mut got_through = Vec::new();
    for user in PEOPLE.iter().chain(&SERVICES) {
        let conn = match *user {
            "demo" => Conn::open(s.system.url(), &seeder).await?,
            user => s.conn(user).await?,
        };
        let mut answers = conn.client.subscribe(format!("_INBOX_{user}.insider.>")).await?;
        let mut n = 0u64;
        let mut own_reply = || {
            n += 1;
            format!("_INBOX_{user}.insider.{n}")
        };
        let targets: Vec<&String> = targets.iter().filter(|t| !by_design(user, t)).collect();

        // 1. Requests to every endpoint whose answer is to land on a target.
        for (subject, body) in endpoints(user, case) {
            for target in &targets {
                let _ = conn.client.publish_with_reply(subject.clone(), (*target).clone(), body.clone().into()).await;
                attempts += 1;
            }
        }

        // 2. Push consumers delivering a stream's messages to a target.
        let mut api: Vec<(String, String, serde_json::Value)> = Vec::new();
        for (stream, _) in STREAMS {
            for target in &targets {
                let config = |name: Option<&str>| {
                    let mut config = serde_json::json!({
                        "deliver_subject": target, "deliver_policy": "all", "ack_policy": "none",
                    });
                    if let Some(name) = name {
                        config["name"] = name.into();
                        config["durable_name"] = name.into();
                    }
                    serde_json::json!({ "stream_name": stream, "config": config })
                };
                api.push((format!("$JS.API.CONSUMER.CREATE.{stream}"), target.to_string(), config(None)));
                api.push((format!("$JS.API.CONSUMER.CREATE.{stream}.evil"), target.to_string(), config(Some("evil"))));
                api.push((
                    format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.evil2"),
                    target.to_string(),
                    config(Some("evil2")),
                ));
                // Heartbeats carry no reply subject, flow control a `$JS.FC.` one.
                let mut beating = config(None);
                beating["config"]["idle_heartbeat"] = 100_000_000.into();
                beating["config"]["flow_control"] = true.into();
                api.push((format!("$JS.API.CONSUMER.CREATE.{stream}"), target.to_string(), beating));
            }
            // 3. Every API call that changes a stream.
            for (call, body) in [
                ("PURGE", serde_json::json!({})),
                ("DELETE", serde_json::json!({})),
                ("MSG.DELETE", serde_json::json!({ "seq": 1 })),
                ("MSG.DELETE", serde_json::json!({ "seq": 1, "no_erase": true })),
                ("UPDATE", serde_json::json!({ "name": stream, "subjects": ["evil.>"] })),
                ("SNAPSHOT", serde_json::json!({ "deliver_subject": format!("_INBOX_{user}.insider.snap") })),
                ("RESTORE", serde_json::json!({ "config": { "name": stream } })),
            ] {
                api.push((format!("$JS.API.STREAM.{call}.{stream}"), String::new(), body));
            }
        }
        for (name, config) in [
            ("STOD_EVIL", serde_json::json!({ "name": "STOD_EVIL", "subjects": ["stod.cmd.>"] })),
            ("STOD_EVIL2", serde_json::json!({ "name": "STOD_EVIL2", "sources": [{ "name": "STOD_EVENTS" }] })),
            ("KV_stod_evil", serde_json::json!({ "name": "KV_stod_evil", "subjects": ["$KV.stod_evil.>"] })),
        ] {
            api.push((format!("$JS.API.STREAM.CREATE.{name}"), String::new(), config));
        }
        api.push(("$JS.API.ACCOUNT.PURGE.STOD".to_owned(), String::new(), serde_json::json!({})));
        let mut asked = std::collections::HashMap::new();
        // The registry empties its own bucket on an erasure, by design.
        api.retain(|(subject, ..)| !(*user == "stod-registry" && subject == "$JS.API.STREAM.PURGE.KV_stod_registry"));
        for (subject, target, body) in &api {
            let reply = own_reply();
            asked.insert(reply.clone(), format!("{subject} → {target}"));
            let _ = conn.client.publish_with_reply(subject.clone(), reply, body.to_string().into()).await;
            attempts += 1;
        }

        // 4. Plain publishes, and the KV operations.
        for target in &targets {
            let _ = conn.client.publish((*target).clone(), "forged".into()).await;
            for op in ["PURGE", "DEL"] {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("KV-Operation", op);
                let _ = conn.client.publish_with_headers((*target).clone(), headers, "".into()).await;
            }
            attempts += 3;
        }
        conn.client.flush().await?;

        // What the JetStream API answered: success is a way in.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
        let mut created = Vec::new();
        while let Ok(Some(answer)) = tokio::time::timeout_at(deadline, answers.next()).await {
            let Some(what) = asked.get(answer.subject.as_str()) else { continue };
            let value: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap_or_default();
            if value.get("error").is_none() {
                // A service holds CONSUMER.CREATE on the streams it reads (its own
                // ordered consumers), so the server creates a push consumer for it
                // whatever its deliver subject: what counts is what the deliveries do.
                if SERVICES.contains(user) && what.starts_with("$JS.API.CONSUMER.") {
                    service_consumers += 1;
                    if let (Some(stream), Some(name)) = (value["stream_name"].as_str(), value["name"].as_str()) {
                        created.push(format!("$JS.API.CONSUMER.DELETE.{stream}.{name}"));
                    }
                } else {
                    got_through.push(format!("{user}: {what}: {value}"));
                }
            }
        }

        // Let the deliveries run a moment, then stop them (heartbeats go on forever).
        tokio::time::sleep(Duration::from_millis(500)).await;
        for delete in created {
            let _ = conn.client.request(delete, "".into()).await;
        }

        // Then nothing stored changed, no stream was added, nobody heard a thing.
        let after = snapshot(&s, &readers).await?;
        if after.messages != before.messages {
            let old: BTreeSet<&Stored> = before.messages.iter().collect();
            for (stream, seq, bytes) in after.messages.iter().filter(|m| !old.contains(m)) {
                got_through.push(format!("{user}: {stream} #{seq}: {}", String::from_utf8_lossy(bytes)));
            }
            if after.messages.len() < before.messages.len() {
                got_through.push(format!("{user}: messages removed"));
            }
        }
        for added in after.on_disk.difference(&before.on_disk) {
            got_through.push(format!("{user}: a new stream on disk: {added}"));
        }
        // A service's endpoint hears what is sent there (bo's own requests, the
        // command service's registrations, the deliveries of a service's push
        // consumers); what it does with it is what the stored bytes show.
        for (sub, own) in [(&mut cmd_bo, "bo"), (&mut register, "stod-command")] {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while let Ok(Ok(Some(m))) =
                tokio::time::timeout_at(deadline, tokio::time::timeout(Duration::from_millis(50), sub.next())).await
            {
                if *user != own {
                    delivered_to_services += 1;
                    let reply = m.reply.as_ref().map(|r| r.to_string()).unwrap_or_default();
                    if !(reply.is_empty() || reply.starts_with("$JS.")) {
                        got_through.push(format!("{user}: to a service endpoint with reply {reply}: {}", m.subject));
                    }
                }
            }
        }
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(50), stolen.next()).await {
            into_bos_inbox.push(format!("{user}: {}", String::from_utf8_lossy(&m.payload)));
        }
        before = after;
    }

    // Durable consumers stay: still nothing changes a moment later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = snapshot(&s, &readers).await?;
    if later.messages != before.messages || later.on_disk != before.on_disk {
        got_through.push("something changed after the attempts ended".to_owned());
    }

    // The read side is caught up and right, and the log verifies.
    let projector = s.system.projector().ok_or("projector")?.projector();
    tokio::time::timeout(Duration::from_secs(10), projector.wait_for(placed.stream_sequence)).await??;
    assert_eq!(projector.status().fault, None, "the projector folds on");
    let seen = anna.case(case).await?;
    assert_eq!(seen.events.len(), 2, "the case reads as recorded");
    let verified = stod_audit::verify(log_records(&command).await?, 1);
    assert!(verified.intact(), "{:?}", verified.findings);

    println!(
        "insider matrix: {} attempts by {} identities on {} targets; {} got through; \
         {service_consumers} push consumers created with service credentials, \
         {delivered_to_services} deliveries reached a service endpoint and were dropped; \
         {} answers to a person's own request reached bo's inbox",
        attempts,
        PEOPLE.len() + SERVICES.len(),
        targets.len(),
        got_through.len(),
        into_bos_inbox.len(),
    );
    // A known limit of nats-server: a request's reply subject is not checked against
    // the requester's permissions, and a request through a service import is answered
    // into the importing account at whatever reply subject it named. A person can so
    // have their own answer sent to a subject in another person's inbox space, where
    // nobody waits (each connection's inbox carries a random token). What arrives is
    // a service's answer (a JSON object) to a request of another person.
    for answer in &into_bos_inbox {
        let (sender, body) = answer.split_once(": ").unwrap_or_default();
        assert!(PEOPLE.contains(&sender) && sender != "bo", "{answer}");
        let value: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("{answer}: {e}"))?;
        assert!(value.is_object(), "{answer}");
    }
    assert!(attempts >= 500, "{} attempts", attempts);
    assert!(got_through.is_empty(), "{} got through:\n{}", got_through.len(), got_through.join("\n"));
    s.system.shutdown().await;
    Ok(())
}

/// The key of the first message in a bucket's stream.
async fn first_key(conn: &Conn, stream: &str, prefix: &str) -> TestResult<String> {
    let mut stream = conn.js.get_stream(stream).await?;
    let first = stream.info().await?.state.first_sequence;
    let msg = stream.get_raw_message(first).await?;
    Ok(msg.subject.strip_prefix(prefix).ok_or(format!("{} is not under {prefix}", msg.subject))?.to_owned())
}

/// The event log's messages, in order, as the audit's verification takes them.
async fn log_records(conn: &Conn) -> TestResult<Vec<stod_audit::Record>> {
    let mut stream = conn.js.get_stream(stod_store::STREAM_NAME).await?;
    let last = stream.info().await?.state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let msg = stream.get_raw_message(seq).await?;
        let case = msg.subject.rsplit('.').next().and_then(|t| t.parse().ok()).unwrap_or(CaseId::from([0; 16]));
        out.push(stod_audit::Record { stream_sequence: seq, subject_case: case, bytes: msg.payload.to_vec() });
    }
    Ok(out)
}
