//! The participant registry on a real nats-server, beside the command service and the
//! projector: personnummer in, only random references in the log, erasure that changes
//! no figure and leaves nothing behind.
//!
//! There is no way to enter a name, an address or a note anywhere in stod (no command,
//! event or registry field has one), so the only identity these tests can look for in
//! the stored bytes is the personnummer itself, in every usual spelling.

use std::time::Duration;

use futures::StreamExt;
use stod_client::Client;
use stod_events::case::Action;
use stod_events::event::{AnonymityReason, Gender, Registration};
use stod_events::ids::{CaseId, ParticipantRef};
use stod_projector::ProjectorOptions;
use stod_protocol::{RegistryInvalidKind, RegistryOp, RegistryReply, ReportReply, ThroughputQuery};
use stod_registry::personnummer::luhn_check_digit;
use stod_registry::{RegistryKey, RunningRegistry};
use stod_system::RegistryKeySource;
use stod_tests::journey::*;
use stod_tests::{TestResult, TestSystem};

/// A made-up number `YYYYMMDDNNN` plus its correct check digit: no real person's
/// number is written into the tests.
pub(crate) fn pnr(eleven: &str) -> String {
    let ten: Vec<u8> = eleven[2..].bytes().map(|b| b - b'0').collect();
    format!("{eleven}{}", luhn_check_digit(&ten))
}

/// Every usual spelling of a twelve-digit number, none of which may be stored.
fn spellings(twelve: &str) -> Vec<String> {
    let (date, last) = twelve.split_at(8);
    let short = &date[2..];
    vec![
        twelve.to_owned(),
        twelve[2..].to_owned(),
        format!("{date}-{last}"),
        format!("{short}-{last}"),
        format!("{short}+{last}"),
        format!("{date} {last}"),
        format!("{short} {last}"),
    ]
}

struct Registered {
    system: TestSystem,
    key: RegistryKey,
    /// The projector's store, when there is one.
    _read_models: Option<tempfile::TempDir>,
}

impl Registered {
    /// The command service and the registry.
    async fn start() -> TestResult<Self> {
        Self::build(false).await
    }

    /// The command service, the registry and the projector.
    async fn with_projector() -> TestResult<Self> {
        Self::build(true).await
    }

    async fn build(projector: bool) -> TestResult<Self> {
        let key = RegistryKey::generate()?;
        let dir = if projector { Some(tempfile::tempdir()?) } else { None };
        let read = dir.as_ref().map(|d| ProjectorOptions::new(d.path().join("read")));
        let source = RegistryKeySource::Key(key.clone());
        let system = TestSystem::start_custom(|b| {
            let b = b.command(Default::default()).registry(source);
            match read {
                Some(options) => b.projector(options),
                None => b,
            }
        })
        .await?;
        Ok(Self { system, key, _read_models: dir })
    }

    fn registry(&self) -> &RunningRegistry {
        self.system.system.registry().expect("a registry is running")
    }

    async fn stop(self) {
        self.system.shutdown().await;
    }
}

async fn register(client: &Client, number: &str) -> TestResult<(ParticipantRef, bool)> {
    match client.registry(RegistryOp::Register, number).await? {
        RegistryReply::Registered { participant, created } => Ok((participant, created)),
        other => Err(format!("register: {other:?}").into()),
    }
}

async fn lookup(client: &Client, number: &str) -> TestResult<RegistryReply> {
    Ok(client.registry(RegistryOp::Lookup, number).await?)
}

/// Every message of every stream on the server (the event log and every KV bucket),
/// as one byte string each: subject, headers and payload.
async fn every_stored_message(js: &async_nats::jetstream::Context) -> TestResult<Vec<(String, u64, Vec<u8>)>> {
    let mut names = js.stream_names();
    let mut out = Vec::new();
    while let Some(name) = names.next().await {
        let name = name?;
        let mut stream = js.get_stream(&name).await?;
        let state = stream.info().await?.state.clone();
        for seq in state.first_sequence..=state.last_sequence {
            let Ok(msg) = stream.get_raw_message(seq).await else { continue }; // purged
            let bytes = stod_tests::stored_bytes(&msg);
            out.push((name.clone(), seq, bytes));
        }
    }
    Ok(out)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Several people through the registry and the command path: intakes, placements,
/// exits, a re-entry and an anonymous participant; lookups find each person's current
/// case. Then not one stored byte, in the log or in any bucket, holds any of their
/// numbers in any spelling, nor the registry's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_journey_with_personnummer_leaves_no_trace_of_them_in_any_stored_byte() -> TestResult {
    let r = Registered::start().await?;
    let anna = r.system.client("anna").await?;
    let people = [
        pnr("19860512123"),
        pnr("19900314987"),
        pnr("19750363456"), // a samordningsnummer: born 3 March 1975
        pnr("20010228246"),
        pnr("19630707135"),
    ];
    // Each registered in a different spelling, as case workers type them.
    let typed = [
        format!("{}-{}", &people[0][..8], &people[0][8..]),
        people[1][2..].to_owned(),
        format!(" {} {} ", &people[2][2..8], &people[2][8..]),
        format!("{}-{}", &people[3][2..8], &people[3][8..]),
        people[4].clone(),
    ];
    let mut refs = Vec::new();
    let mut cases = Vec::new();
    for (i, number) in typed.iter().enumerate() {
        let (participant, created) = register(&anna, number).await?;
        assert!(created, "person {i} is new");
        let case = CaseId::new();
        anna.submit(case, at("2025-01-15", intake_of(participant))).await?;
        anna.submit(case, at("2025-01-20", place("industrisparet"))).await?;
        refs.push(participant);
        cases.push(case);
    }
    // Two leave, one of them comes back later: same person, same reference, new case.
    for case in &cases[..2] {
        anna.submit(*case, at("2025-03-31", end_placement(1))).await?;
        anna.submit(*case, at("2025-04-01", exit_to_job())).await?;
    }
    let (again, created) = register(&anna, &people[0]).await?;
    assert_eq!((again, created), (refs[0], false), "the same person gets the same reference");
    let reentry = CaseId::new();
    anna.submit(reentry, at("2025-06-02", intake_of(again))).await?;
    // An anonymous participant has no registry entry and needs none.
    let anonymous = CaseId::new();
    let anon_intake = Action::Enroll {
        participant: ParticipantRef::new(),
        gender: Gender::Man,
        registration: Registration::Anonymous(AnonymityReason::ProtectedIdentity),
    };
    anna.submit(anonymous, at("2025-02-01", anon_intake)).await?;
    anna.submit(anonymous, at("2025-02-03", place("vaderbacken"))).await?;

    // Lookups, in yet other spellings.
    let expect = [(refs[0], reentry, true), (refs[1], cases[1], false), (refs[2], cases[2], true)];
    for (i, (participant, case, open)) in expect.into_iter().enumerate() {
        let number = format!("{}+{}", &people[i][2..8], &people[i][8..]);
        // '+' means 100 or older: a different person (or nobody).
        assert!(matches!(lookup(&anna, &number).await?, RegistryReply::NotFound { .. }), "{i} with +");
        match lookup(&anna, &format!("{} {}", &people[i][..8], &people[i][8..])).await? {
            RegistryReply::Found { participant: p, case_id, case_open } => {
                assert_eq!((p, case_id, case_open), (participant, Some(case), Some(open)), "person {i}");
            }
            other => panic!("person {i}: {other:?}"),
        }
    }

    let stored = every_stored_message(&r.system.nats.js).await?;
    let log_messages = stored.iter().filter(|(s, _, _)| s == stod_store::STREAM_NAME).count();
    assert_eq!(log_messages, 5 * 2 + 2 * 2 + 1 + 2, "the whole journey is in the log");
    assert!(stored.iter().any(|(s, _, _)| s == "KV_stod_registry"), "the registry bucket was scanned too");
    // The scan sees what is there: the case ids (subjects) and the user (payload).
    let case_subject = stod_store::case_subject(cases[0].as_uuid());
    assert!(stored.iter().any(|(_, _, b)| contains(b, case_subject.as_bytes())));
    assert!(stored.iter().any(|(s, _, b)| s == stod_store::STREAM_NAME && contains(b, b"anna")));
    let key = r.key.as_bytes();
    let key_hex = hex_of(key);
    for (stream, seq, bytes) in &stored {
        for person in &people {
            for spelling in spellings(person) {
                assert!(
                    !contains(bytes, spelling.as_bytes()),
                    "{stream} #{seq} holds a personnummer ({})",
                    &person[..8]
                );
            }
        }
        assert!(!contains(bytes, key), "{stream} #{seq} holds the registry key");
        assert!(!contains(bytes, key_hex.as_bytes()), "{stream} #{seq} holds the registry key in hex");
    }
    r.stop().await;
    Ok(())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn throughput(nats: &async_nats::Client, name: &str) -> TestResult<serde_json::Value> {
    let query = ThroughputQuery { period: "2025".into(), today: Some(d("2025-12-31")) };
    let reply = stod_tests::request(nats, format!("stod.query.styrgrupp.{name}"), serde_json::to_vec(&query)?).await?;
    match serde_json::from_slice::<ReportReply<serde_json::Value>>(&reply.payload)? {
        ReportReply::Ok { report, .. } => Ok(report),
        other => Err(format!("{name}: {other:?}").into()),
    }
}

/// Erasure (gallring) removes the one link from the person to their cases: the value
/// and its history are gone, a lookup says not found, a new registration is a new
/// reference. The log is byte for byte the same, and so is every report, exact and
/// published.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_changes_no_report_and_leaves_no_link_behind() -> TestResult {
    let r = Registered::with_projector().await?;
    let anna = r.system.client("anna").await?;
    let people: Vec<String> = (0..6).map(|i| pnr(&format!("198{i}0{}1512{i}", i + 1))).collect();
    let mut refs = Vec::new();
    for (i, number) in people.iter().enumerate() {
        let (participant, _) = register(&anna, number).await?;
        let case = CaseId::new();
        anna.submit(case, at("2025-02-10", intake_of(participant))).await?;
        anna.submit(case, at("2025-02-12", place("industrisparet"))).await?;
        if i % 2 == 0 {
            anna.submit(case, at("2025-05-30", end_placement(1))).await?;
            anna.submit(case, at("2025-06-01", exit_to_job())).await?;
        }
        refs.push(participant);
    }
    let log_before = every_stored_message(&r.system.nats.js).await?;
    let log_before: Vec<_> = log_before.into_iter().filter(|(s, _, _)| s == stod_store::STREAM_NAME).collect();
    let last = log_before.len() as u64;
    tokio::time::timeout(Duration::from_secs(30), r.system.projector()?.wait_for(last)).await??;
    let exact_before = throughput(&r.system.nats.client, "throughput").await?;
    let published_before = throughput(&r.system.nats.client, "published-throughput").await?;

    let erased = &people[0];
    assert_eq!(anna.registry(RegistryOp::Erase, erased).await?, RegistryReply::Erased);

    // The value and every older revision are gone from the bucket.
    let p = stod_registry::Personnummer::parse(erased, stod_events::sweden::today().naive())?;
    let store = r.registry().store();
    assert_eq!(store.entry(&p).await?, None);
    assert!(store.history(&p).await?.is_empty(), "no revision of the erased key is readable");
    let bucket = async_nats::jetstream::new(r.system.nats.client.clone()).get_key_value("stod_registry").await?;
    assert!(bucket.entry(store.key_of(&p)).await?.is_none());
    let mut keys = bucket.keys().await?;
    let mut remaining = 0;
    while let Some(key) = keys.next().await {
        assert_ne!(key?, store.key_of(&p), "not even the hash is left");
        remaining += 1;
    }
    assert_eq!(remaining, people.len() - 1);

    // Lookups say so clearly, without the number.
    match lookup(&anna, erased).await? {
        RegistryReply::NotFound { message } => {
            assert!(!message.is_empty());
            assert!(!message.contains(&erased[8..]), "{message}");
        }
        other => panic!("after erasure: {other:?}"),
    }
    assert!(matches!(anna.registry(RegistryOp::Erase, erased).await?, RegistryReply::NotFound { .. }));
    // The others are untouched.
    assert!(
        matches!(lookup(&anna, &people[1]).await?, RegistryReply::Found { participant, .. } if participant == refs[1])
    );

    // The log and the figures are exactly as before.
    let log_after: Vec<_> = every_stored_message(&r.system.nats.js)
        .await?
        .into_iter()
        .filter(|(s, _, _)| s == stod_store::STREAM_NAME)
        .collect();
    assert_eq!(log_after, log_before, "the log is untouched by erasure");
    assert_eq!(throughput(&r.system.nats.client, "throughput").await?, exact_before);
    assert_eq!(throughput(&r.system.nats.client, "published-throughput").await?, published_before);

    // Registering the same number again starts over: the old link is gone for good.
    let (new_ref, created) = register(&anna, erased).await?;
    assert!(created);
    assert_ne!(new_ref, refs[0]);
    match lookup(&anna, erased).await? {
        RegistryReply::Found { participant, case_id, case_open } => {
            assert_eq!(
                (participant, case_id, case_open),
                (new_ref, None, None),
                "no case reachable through the new reference"
            );
        }
        other => panic!("{other:?}"),
    }
    r.stop().await;
    Ok(())
}

/// A bad number gets `invalid` with its kind and what is valid, never the number
/// back; nothing is stored anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_personnummer_is_refused_by_kind_and_nothing_is_stored() -> TestResult {
    let r = Registered::start().await?;
    let anna = r.system.client("anna").await?;
    let good = pnr("19900314123");
    let wrong_check = format!("{}{}", &good[..11], (good.as_bytes()[11] - b'0' + 1) % 10);
    let cases = [
        ("19900314-12", RegistryInvalidKind::Format),
        ("19900314-12ab", RegistryInvalidKind::Format),
        ("", RegistryInvalidKind::Format),
        (&format!("1990133{}", &good[7..]), RegistryInvalidKind::Date),
        (&format!("20990314{}", &good[8..]), RegistryInvalidKind::Future),
        (&wrong_check, RegistryInvalidKind::CheckDigit),
    ]
    .map(|(s, k)| (s.to_owned(), k));
    for op in RegistryOp::ALL {
        for (number, kind) in &cases {
            match anna.registry(op, number).await? {
                RegistryReply::Invalid { kind: k, message, valid } => {
                    assert_eq!(k, *kind, "{op:?} {number:?}: {message}");
                    assert!(valid.contains("ÅÅÅÅMMDD-NNNN"), "{valid}");
                    if number.len() >= 12 {
                        assert!(!message.contains(&number[8..]), "{message}");
                    }
                }
                other => panic!("{op:?} {number:?}: {other:?}"),
            }
        }
    }
    // A malformed request: the number as a JSON number is not echoed either.
    let raw = &r.system.nats.client;
    for body in [format!(r#"{{"personnummer": {good}}}"#), "not json".to_owned(), "{}".to_owned()] {
        let reply = stod_tests::request(raw, "stod.registry.anna.register", body.clone()).await?;
        let text = String::from_utf8(reply.payload.to_vec())?;
        assert!(!text.contains(&good[8..]), "{text}");
        match serde_json::from_str::<RegistryReply>(&text)? {
            RegistryReply::Invalid { kind: RegistryInvalidKind::Request, .. } => {}
            other => panic!("{body}: {other:?}"),
        }
    }
    let reply = stod_tests::request(raw, "stod.registry.anna.delete", format!(r#"{{"personnummer": "{good}"}}"#)).await;
    assert!(reply.is_err(), "no endpoint answers an unknown operation");

    assert_eq!(r.registry().store().count().await?, 0, "nothing registered");
    assert!(r.system.log().await?.is_empty(), "nothing in the log");
    r.stop().await;
    Ok(())
}

/// Two case workers registering the same person at the same moment get one reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_person_get_one_reference() -> TestResult {
    let r = Registered::start().await?;
    let anna = r.system.client("anna").await?;
    let number = pnr("19881122334");
    let attempts = (0..8).map(|i| {
        let client = anna.clone();
        let typed = if i % 2 == 0 { number.clone() } else { number[2..].to_owned() };
        tokio::spawn(async move { client.registry(RegistryOp::Register, &typed).await })
    });
    let mut refs = Vec::new();
    let mut created = 0;
    for a in attempts {
        match a.await?? {
            RegistryReply::Registered { participant, created: c } => {
                refs.push(participant);
                created += usize::from(c);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert!(refs.iter().all(|p| *p == refs[0]));
    assert_eq!(r.registry().store().count().await?, 1);
    r.stop().await;
    Ok(())
}

/// The access log's records, as stored.
async fn access_records(r: &Registered) -> TestResult<Vec<stod_store::AccessRecord>> {
    let (log, _) = stod_store::AccessLog::open_existing(r.system.nats.js.clone()).await?;
    Ok(log.read(&Default::default()).await?.into_iter().map(|s| s.record).collect())
}

/// An intake with a personnummer goes through the command service, which has the
/// registry file the person; a retry gives the same reference. Every registration,
/// lookup and erasure is in the access log with who, the reference or "not found", and
/// never the number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intakes_register_through_the_command_service_and_every_look_is_logged() -> TestResult {
    let r = Registered::start().await?;
    let (anna, lena) = (r.system.client("anna").await?, r.system.client("lena").await?);
    let number = pnr("19860512123");
    let (case, submission) = (CaseId::new(), stod_events::ids::SubmissionId::new());
    let first = anna.submit_intake_of(submission, case, at("2025-01-15", intake()), &number).await?;
    let registered = first.registered.ok_or("the reply says what the registry gave")?;
    assert!(registered.created);
    let recorded = anna.case(case).await?;
    let Some(stod_events::event::Fact::Enrolled(enrolled)) = &recorded.events[0].fact else { panic!("an intake") };
    assert_eq!(enrolled.participant, registered.participant, "the intake carries the registry's reference");
    let retry = anna.submit_intake_of(submission, case, at("2025-01-15", intake()), &number).await?;
    assert!(retry.duplicate);
    assert_eq!(retry.registered.map(|g| (g.participant, g.created)), Some((registered.participant, false)));
    // A personnummer belongs to an intake only.
    let wrong = anna
        .submit_intake_of(stod_events::ids::SubmissionId::new(), case, at("2025-01-20", place("vaderbacken")), &number)
        .await;
    assert_eq!(wrong.unwrap_err().kind(), stod_client::ClientErrorKind::Invalid);

    assert!(matches!(lookup(&anna, &number).await?, RegistryReply::Found { .. }));
    assert!(matches!(lookup(&anna, &pnr("19900314987")).await?, RegistryReply::NotFound { .. }));
    assert!(matches!(lena.registry(RegistryOp::Erase, &number).await?, RegistryReply::Erased));

    let records = access_records(&r).await?;
    let looks: Vec<_> = records
        .iter()
        .filter(|a| a.via == "registry")
        .map(|a| (a.user.as_str(), a.view, a.participant, a.outcome.as_deref()))
        .collect();
    let p = Some(registered.participant);
    use stod_store::AccessView::*;
    assert_eq!(
        looks,
        vec![
            ("anna", RegistryRegister, p, Some("created")),
            // The retry; the refused placement never reached the registry.
            ("anna", RegistryRegister, p, Some("existing")),
            ("anna", RegistryLookup, p, Some("found")),
            ("anna", RegistryLookup, None, Some("not_found")),
            ("lena", RegistryErase, p, Some("erased")),
        ]
    );
    let digits = &number[2..];
    assert!(records.iter().all(|a| !String::from_utf8_lossy(&a.to_json()).contains(digits)), "never the number");
    r.stop().await;
    Ok(())
}

/// A user running through numbers is stopped after the limit; another user is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_requests_are_limited_per_user() -> TestResult {
    let key = RegistryKey::generate()?;
    let system = TestSystem::start_custom(|b| {
        b.command(Default::default()).registry_with(RegistryKeySource::Key(key), |o| stod_registry::RegistryOptions {
            rate_limit_per_minute: Some(3),
            ..o
        })
    })
    .await?;
    let (anna, bo) = (system.client("anna").await?, system.client("bo").await?);
    for i in 0..3 {
        let reply = lookup(&anna, &pnr(&format!("1986051212{i}"))).await?;
        assert!(matches!(reply, RegistryReply::NotFound { .. }), "{reply:?}");
    }
    let limited = lookup(&anna, &pnr("19860512129")).await?;
    let RegistryReply::Limited { retry_after_seconds, .. } = limited else { panic!("{limited:?}") };
    assert!((1..=20).contains(&retry_after_seconds), "{retry_after_seconds}");
    assert!(
        matches!(lookup(&bo, &pnr("19860512129")).await?, RegistryReply::NotFound { .. }),
        "bo has a limit of his own"
    );
    system.shutdown().await;
    Ok(())
}
