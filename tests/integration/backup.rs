//! The disaster drill: demo data recorded, a full backup taken while a writer is still
//! recording, more recorded, an incremental backup, the data directory deleted, and
//! everything back from the backups into a new one: every acknowledged event once, the
//! logs byte for byte, the same reports, the chains intact, the people able to log in
//! with their old credentials, the registry key back from its sealed copy. A backup
//! with one changed byte is refused, by the check and by the restore.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use stod_auth::{Credentials, Role};
use stod_backup::Kind;
use stod_client::{Client, ConnectOptions};
use stod_events::ids::{CaseId, SubmissionId, UserId};
use stod_projector::ProjectorOptions;
use stod_protocol::audit::{AuditPurpose, LogName};
use stod_protocol::{queries, RegistryOp, RegistryReply, SteeringQuery, ThroughputQuery};
use stod_system::{DataDir, Nats, RegistryKeySource, System};
use stod_tests::journey::{at, d, intake, place};
use stod_tests::TestResult;

use crate::registry::pnr;

async fn start(data: &DataDir) -> TestResult<System> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    Ok(System::builder(Nats::Managed { data: data.clone(), port })
        .command(stod_command::ServiceOptions::default())
        .registry(RegistryKeySource::File(data.registry_key()))
        .projector(ProjectorOptions::new(data.projections()))
        .start()
        .await?)
}

async fn client(system: &System, creds: &Credentials) -> TestResult<Client> {
    Ok(ConnectOptions::new(system.url()).credentials(creds.clone()).connect().await?)
}

/// Every message of a log, as (sequence, subject, bytes), read as the backup role
/// would, through the command service (an auditor's run for the logs it may read).
async fn log_of(client: &Client, log: LogName) -> TestResult<Vec<(u64, String, Vec<u8>)>> {
    let mut out = Vec::new();
    client.read_log(log, AuditPurpose::Verify, |m| out.push((m.seq, m.subject, m.data)), |_, _| {}).await?;
    Ok(out)
}

/// `stod audit verify` of the live log, as an auditor runs it.
pub(crate) async fn audit_verify(auditor: &Client) -> TestResult<stod_audit::Verification> {
    let mut records = Vec::new();
    auditor
        .read_log(
            LogName::Events,
            AuditPurpose::Verify,
            |m| {
                records.push(stod_audit::Record {
                    stream_sequence: m.seq,
                    subject_case: stod_backup::take::subject_case(&m.subject),
                    bytes: m.data,
                })
            },
            |_, _| {},
        )
        .await?;
    Ok(stod_audit::verify(records, 1))
}

/// The reports people look at, without what only says when they were computed.
async fn reports(client: &Client) -> TestResult<serde_json::Value> {
    let throughput = client
        .report::<_, serde_json::Value>(
            queries::THROUGHPUT,
            &ThroughputQuery { period: "2025".into(), today: Some(d("2025-12-31")) },
        )
        .await?
        .report;
    let steering = client
        .report::<_, serde_json::Value>(
            queries::STEERING,
            &SteeringQuery { as_of: d("2025-12-31"), previous_meeting: Some(d("2025-09-30")) },
        )
        .await?
        .report;
    Ok(serde_json::json!({ "throughput": throughput, "steering": steering }))
}

fn flip_a_byte(file: &Path) -> TestResult {
    let mut bytes = std::fs::read(file)?;
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(file, bytes)?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> TestResult {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_data_directory_comes_back_from_a_full_and_an_incremental_backup() -> TestResult {
    let root = tempfile::tempdir()?;
    let data = DataDir::new(root.path().join("data"));
    let backups = root.path().join("backups");
    let auth = data.auth();
    // People get their credentials handed over, not kept: as `stod user add` does.
    let user = |s: &str| UserId::parse(s).expect("user");
    let karin = auth.add_user(&user("karin"), Role::CaseWorker)?;
    let revisor = auth.add_user(&user("revisor"), Role::Auditor)?;
    let backup = auth.add_user(&user("backup"), Role::Backup)?;
    let mut system = start(&data).await?;

    // Demo data, through the real command path.
    let seeder = system.enroll_seeder().await?.ok_or("a managed system has a seeder")?;
    let demo = client(&system, &seeder).await?;
    let subs =
        stod_demo::generate(&stod_demo::DemoParams { participants: 30, years: 2, seed: 7, today: d("2025-12-31") });
    let seeded = stod_demo::seed(&demo, subs.clone(), 4, |_| {}).await?;
    assert_eq!(seeded.rejected, 0);
    system.remove_seeder().await?;

    // A person with a personnummer, so the registry has them.
    let k = client(&system, &karin).await?;
    let registered = CaseId::new();
    let person = pnr("19860512123");
    let intake_of_person =
        k.submit_intake_of(SubmissionId::new(), registered, at("2025-03-01", intake()), &person).await?;
    let participant = intake_of_person.registered.as_ref().map(|r| r.participant).ok_or("registered")?;

    // A writer records while the full backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (k, stop) = (client(&system, &karin).await?, stop.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            while !stop.load(Ordering::Relaxed) || acked.len() < 20 {
                let case = CaseId::new();
                let a = k.submit(case, at("2025-05-02", intake())).await.expect("intake");
                acked.push(a.stream_sequence);
            }
            acked
        })
    };
    let b = client(&system, &backup).await?;
    let full = stod_backup::take_signed(&b, Some(&backup), &backups, Some(&auth), |_, _, _| {}).await?;
    stop.store(true, Ordering::Relaxed);
    let acked = writer.await?;
    assert_eq!(full.manifest.kind, Kind::Full);
    let full_to = full.manifest.logs["events"].to;
    assert!(acked.iter().any(|s| *s > full_to), "the writer went on past the full backup");
    assert_eq!(full.manifest.auth.as_ref().map(|a| a.users), Some(3), "karin, revisor, backup: no service");

    // More, then the incremental backup.
    let placed = k.submit(registered, at("2025-03-10", place("vaderbacken"))).await?;
    let view_before = k.case(registered).await?;
    system.projector().ok_or("projector")?.projector().wait_for(placed.stream_sequence).await?;
    let r = client(&system, &revisor).await?;
    let reports_before = reports(&r).await?;
    let incremental = stod_backup::take_signed(&b, Some(&backup), &backups, Some(&auth), |_, _, _| {}).await?;
    let m2 = &incremental.manifest;
    assert_eq!(m2.kind, Kind::Incremental);
    assert_eq!(m2.logs["events"].from, full_to + 1, "the increment starts where the full one ended");
    let last = m2.logs["events"].to;
    assert!(acked.iter().chain([&placed.stream_sequence]).all(|s| *s <= last), "every acknowledged event is in");
    let events_before = log_of(&r, LogName::Events).await?;
    let access_before = log_of(&r, LogName::Access).await?;
    let access_last = m2.logs["access"].to;

    // The registry key, sealed and kept apart from the backups.
    let sealed = stod_backup::key::seal(&std::fs::read(data.registry_key())?, "ett långt lösenord i kassaskåpet")?;

    // The loss.
    system.shutdown().await;
    std::fs::remove_dir_all(data.root())?;
    assert!(!data.root().exists());

    // A changed byte anywhere is refused: by the check and by the restore, which
    // writes nothing.
    for (file, what) in
        [("0002/events.log", "an event"), ("0001/manifest.json", "a manifest"), ("0001/registry.kv", "a bucket")]
    {
        let tampered = root.path().join("tampered");
        copy_dir(&backups, &tampered)?;
        flip_a_byte(&tampered.join(file))?;
        let checked = stod_backup::check(&tampered, |_, _| {});
        assert!(checked.is_err(), "{what}: a changed byte is found");
        let into = DataDir::new(root.path().join("not-restored"));
        let refused = stod_system::restore::restore_dir(&tampered, None, &into, None, 0, |_, _, _| {}).await;
        let err = refused.err().ok_or("a damaged backup is not restored")?;
        assert_eq!(err.kind(), stod_system::SystemErrorKind::BackupDamaged, "{what}: {err}");
        assert!(!into.root().exists(), "{what}: nothing written");
        std::fs::remove_dir_all(&tampered)?;
    }
    // Someone who can write the backup directory but has no backup key rewrites a file
    // together with its manifest entry and digest: the signature no longer matches; and
    // with the signatures removed, a check against the backup user's key refuses it.
    let signer = nkeys::KeyPair::from_seed(&backup.nkey_seed)?.public_key();
    let forged = root.path().join("forged");
    copy_dir(&backups, &forged)?;
    let second = forged.join("0002");
    flip_a_byte(&second.join("access.log"))?;
    let (mut manifest, _) = stod_backup::format::read_manifest(&second)?;
    let bytes = std::fs::read(second.join("access.log"))?;
    if let Some(part) = manifest.logs.get_mut("access") {
        part.file.sha256 = stod_backup::format::sha256_hex(&bytes);
    }
    stod_backup::format::write_manifest(&second, &manifest)?;
    let err = stod_backup::check(&forged, |_, _| {}).err().ok_or("a forged manifest is found by its signature")?;
    assert!(matches!(err, stod_backup::BackupError::Damaged(_)), "{err}");
    for n in ["0001", "0002"] {
        std::fs::remove_file(forged.join(n).join(stod_backup::format::SIGNATURE))?;
    }
    let unsigned = stod_backup::check_signed(&forged, Some(&signer), |_, _| {})?;
    assert!(!unsigned.intact(), "without the backup user's signature a backup is not trusted");
    let into = DataDir::new(root.path().join("not-restored"));
    let refused = stod_system::restore::restore_dir(&forged, Some(&signer), &into, None, 0, |_, _, _| {}).await;
    assert_eq!(refused.err().map(|e| e.kind()), Some(stod_system::SystemErrorKind::BackupDamaged));
    assert!(!into.root().exists());

    // An intact backup is not restored over data.
    let occupied = DataDir::new(root.path().join("occupied"));
    std::fs::create_dir_all(occupied.root())?;
    std::fs::write(occupied.root().join("something"), b"x")?;
    let over = stod_system::restore::restore_dir(&backups, None, &occupied, None, 0, |_, _, _| {}).await;
    assert_eq!(over.err().map(|e| e.kind()), Some(stod_system::SystemErrorKind::Restore));

    let verified = stod_backup::check_signed(&backups, Some(&signer), |_, _| {})?;
    assert!(verified.intact(), "{:?}", verified.describe_sv());

    let restored_dir = DataDir::new(root.path().join("restored"));
    let key = stod_backup::key::unseal(&sealed, "ett långt lösenord i kassaskåpet")?;
    let restored =
        stod_system::restore::restore_dir(&backups, Some(&signer), &restored_dir, Some(&key), 0, |_, _, _| {}).await?;
    assert_eq!(restored.counts[&LogName::Events], last);
    assert_eq!(restored.users, 3);
    assert_eq!(restored.checkpoint, last);

    // The restored system, with the old people's credentials.
    let system = start(&restored_dir).await?;
    let r = client(&system, &revisor).await?;
    let events_after = log_of(&r, LogName::Events).await?;
    assert_eq!(events_after[..], events_before[..last as usize], "the log up to the last backup, byte for byte");
    let access_after = log_of(&r, LogName::Access).await?;
    assert_eq!(access_after[..access_last as usize], access_before[..access_last as usize], "the access log");
    let restores: Vec<_> = access_after[access_last as usize..]
        .iter()
        .filter_map(|(seq, subject, data)| stod_store::access::decode(*seq, subject, data).ok())
        .filter(|a| a.purpose.as_deref() == Some("restore"))
        .collect();
    assert_eq!(restores.len(), 3, "the restore is in the access log, once per log");

    let verification = audit_verify(&r).await?;
    assert!(verification.intact(), "audit verify: {:?}", verification.findings);

    system.projector().ok_or("projector")?.projector().wait_for(last).await?;
    assert_eq!(reports(&r).await?, reports_before, "the reports equal those before the loss");
    let k = client(&system, &karin).await?;
    assert_eq!(k.case(registered).await?, view_before, "the case history");
    match k.registry(RegistryOp::Lookup, &person).await? {
        RegistryReply::Found { participant: p, case_id, .. } => {
            assert_eq!((p, case_id), (participant, Some(registered)), "found by personnummer with the key back")
        }
        other => return Err(format!("not found after the restore: {other:?}").into()),
    }
    // And the log goes on where it stood.
    let next = k.submit(CaseId::new(), at("2025-06-01", intake())).await?;
    assert!(next.stream_sequence > last, "{} after {last}", next.stream_sequence);
    let command = system.users().ok_or("managed")?.command.clone();
    let js = async_nats::jetstream::new(ConnectOptions::new(system.url()).credentials(command).connect_nats().await?);
    let state = stod_store::raw::stream_state(&js, stod_store::STREAM_NAME).await?;
    assert!(state.config.deny_delete && state.config.deny_purge, "the restored log keeps its protections");
    assert_eq!(stod_store::check_stream_config(&state.config), vec![], "and every other setting of the log");
    assert_eq!((state.first, state.last), (1, next.stream_sequence));

    // The backups go on from the restored system into the same directory: it holds the
    // message the last backup ended on.
    let b = client(&system, &backup).await?;
    let third = stod_backup::take_signed(&b, Some(&backup), &backups, Some(&restored_dir.auth()), |_, _, _| {}).await?;
    assert_eq!((third.manifest.number, third.manifest.logs["events"].from), (3, last + 1));
    assert_eq!(third.manifest.logs["events"].messages, next.stream_sequence - last);
    assert!(stod_backup::check_signed(&backups, Some(&signer), |_, _| {})?.intact());
    system.shutdown().await;

    // Another system's log, shorter or not, is not taken into this directory.
    let other = DataDir::new(root.path().join("other"));
    let other_backup = other.auth().add_user(&user("backup"), Role::Backup)?;
    let other_system = start(&other).await?;
    let refused = stod_backup::take(&client(&other_system, &other_backup).await?, &backups, None, |_, _, _| {}).await;
    let err = refused.err().ok_or("another log is refused")?;
    assert!(matches!(err, stod_backup::BackupError::Usage(_)), "refused before anything is read: {err}");
    assert_eq!(stod_backup::format::list(&backups)?, vec![1, 2, 3], "nothing added");
    other_system.shutdown().await;
    Ok(())
}

/// The backup role may open backup runs and nothing else; an auditor may not open
/// one, nor read a bucket; every backup run is in the access log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_role_reads_whole_logs_and_buckets_and_nothing_else() -> TestResult {
    use serde_json::json;
    let s = crate::secured::Secured::with_registry().await?;
    let backup = s.conn("backup").await?;
    for subject in [
        "stod.cmd.backup.record",
        "stod.query.backup.case",
        "stod.query.backup.throughput",
        "stod.query.backup.published-throughput",
        "stod.audit.backup.log-open",
        "stod.registry.backup.lookup",
        "stod.ops.backup.rebuild",
        "$JS.API.STREAM.INFO.STOD_EVENTS",
    ] {
        backup.send(subject, json!({})).await;
        assert!(backup.violation(subject).await, "backup: {subject} must be refused by the server");
    }
    let opened =
        backup.request("stod.audit.backup.backup-open", json!({ "log": "registry", "purpose": "backup" })).await?;
    assert_eq!(opened["status"], "opened", "{opened}");
    let refused =
        backup.request("stod.audit.backup.backup-open", json!({ "log": "events", "purpose": "verify" })).await?;
    assert_eq!(refused["status"], "invalid", "a backup run is for backups: {refused}");

    let revisor = s.conn("revisor").await?;
    revisor.send("stod.audit.revisor.backup-open", json!({ "log": "registry", "purpose": "backup" })).await;
    assert!(revisor.violation("stod.audit.revisor.backup-open").await, "an auditor opens no backup run");
    for body in [json!({ "log": "registry", "purpose": "verify" }), json!({ "log": "events", "purpose": "backup" })] {
        let answer = revisor.request("stod.audit.revisor.log-open", body.clone()).await?;
        assert_eq!(answer["status"], "invalid", "{body}: {answer}");
    }

    let run = opened["run"].as_str().ok_or("run id")?;
    let access = stod_store::AccessLog::open_existing(s.conn("stod-command").await?.js).await?.0;
    let record = access.run(&UserId::parse("backup")?, &run.parse()?).await?.ok_or("the backup run is recorded")?;
    assert_eq!((record.log.as_deref(), record.purpose.as_deref()), (Some("registry"), Some("backup")));
    Ok(())
}
