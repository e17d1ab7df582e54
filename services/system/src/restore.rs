//! Restoring a checked chain of backups into a new data directory (`stod restore`).
//!
//! All or nothing: everything is written into `.<name>.restoring` beside the target,
//! by a managed server that nobody else can reach yet (its users are the restored
//! people, who have no way in before the server runs for use, and new service users).
//! Every message goes back at its own sequence (each acknowledgement is checked), the
//! buckets get their last values, and then, before the directory is renamed into place:
//! each stream's protections are checked, every message is read back and compared with
//! the backup, and every case's chain head with the one the backup was checked
//! against. The restore is recorded in the restored access log. Only then is the
//! server stopped, its files fsynced, the directory renamed, and the read models
//! rebuilt from the restored log.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use async_nats::jetstream::{self, Context};
use stod_auth::{Credentials, UsersFile};
use stod_backup::format::LogRecord;
use stod_backup::Checked;
use stod_client::ConnectOptions;
use stod_projector::ProjectorOptions;
use stod_protocol::audit::LogName;
use stod_store::{AccessLog, AccessRecord, EventLogConfig, ACCESS_STREAM_NAME, QUARANTINE_STREAM_NAME, STREAM_NAME};

use crate::data::DataDir;
use crate::error::{SystemError, SystemErrorKind};
use crate::users::ServiceUsers;
use crate::{Nats, System};

/// What a restore did.
#[derive(Clone, Debug)]
pub struct Restored {
    /// Messages restored per log, and keys per bucket.
    pub counts: BTreeMap<LogName, u64>,
    /// The people restored into the auth directory.
    pub users: u64,
    /// The new operator (`drift`) of the restored system: their credentials are kept in
    /// the data directory, as `stod up` keeps them.
    pub operator: Credentials,
    /// The registry key was put in place.
    pub registry_key: bool,
    /// The read models' checkpoint after the rebuild.
    pub checkpoint: u64,
}

/// A stage of the restore and how far it is, for progress output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The backups checked (by number).
    Checking,
    Writing(LogName),
    Comparing(LogName),
    Rebuilding,
}

fn failed(message: impl Into<String>) -> SystemError {
    SystemError::new(SystemErrorKind::Restore, message.into())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SystemError + '_ {
    move |e| failed(format!("{}: {e}", path.display()))
}

fn stream_of(log: LogName) -> &'static str {
    match log {
        LogName::Events => STREAM_NAME,
        LogName::Access => ACCESS_STREAM_NAME,
        _ => QUARANTINE_STREAM_NAME,
    }
}

/// A restore writes into a new directory only.
fn refuse_existing(target: &DataDir) -> Result<(), SystemError> {
    let root = target.root();
    if root.exists() && std::fs::read_dir(root).map_err(io(root))?.next().is_some() {
        return Err(failed(format!(
            "{} finns redan och är inte tom: en återställning skriver bara i en ny katalog",
            root.display()
        )));
    }
    Ok(())
}

fn damaged(message: impl Into<String>) -> SystemError {
    SystemError::new(SystemErrorKind::BackupDamaged, message.into())
}

/// Checks the chain of backups in `from` in full ([`stod_backup::check_signed`], against
/// the backup user's key `signer` if given), refuses it if anything does not hold
/// together, and restores it ([`restore`]).
pub async fn restore_dir(
    from: &Path,
    signer: Option<&str>,
    target: &DataDir,
    registry_key: Option<&[u8]>,
    port: u16,
    mut progress: impl FnMut(Stage, u64, u64),
) -> Result<Restored, SystemError> {
    refuse_existing(target)?;
    let checked =
        stod_backup::check_signed(from, signer, |at, last| progress(Stage::Checking, u64::from(at), u64::from(last)))
            .map_err(|e| match e {
            stod_backup::BackupError::Damaged(_) => damaged(e.to_string()),
            e => failed(e.to_string()),
        })?;
    restore(&checked, target, registry_key, port, progress).await
}

/// Restores `checked` (a chain of backups [`stod_backup::check`] found intact) into
/// `target`, which must not exist or be empty, with the registry key `registry_key`
/// if given. The managed server runs on `port` while restoring (0: a free one), and
/// while the read models are rebuilt.
pub async fn restore(
    checked: &Checked,
    target: &DataDir,
    registry_key: Option<&[u8]>,
    port: u16,
    mut progress: impl FnMut(Stage, u64, u64),
) -> Result<Restored, SystemError> {
    if !checked.intact() {
        return Err(damaged(format!(
            "säkerhetskopian håller inte ihop, inget återställs: {}",
            checked.describe_sv().join("; ")
        )));
    }
    refuse_existing(target)?;
    let port = match port {
        0 => std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| failed(format!("ingen ledig port: {e}")))?
            .port(),
        port => port,
    };
    let root = target.root();
    let name = root.file_name().and_then(|n| n.to_str()).unwrap_or("stod");
    let parent = root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let staging = DataDir::new(parent.join(format!(".{name}.restoring")));
    if staging.root().exists() {
        // A restore that stopped half-way: ours, and never in use.
        std::fs::remove_dir_all(staging.root()).map_err(io(staging.root()))?;
    }
    let result = write_staging(checked, &staging, registry_key, port, &mut progress).await;
    let (counts, users, operator) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_dir_all(staging.root());
            return Err(e);
        }
    };
    if root.exists() {
        std::fs::remove_dir(root).map_err(io(root))?;
    }
    std::fs::rename(staging.root(), root).map_err(io(root))?;
    sync_dir(parent)?;

    // The read models, from the restored log.
    let last = checked.last(LogName::Events);
    let system = System::builder(Nats::Managed { data: target.clone(), port })
        .projector(ProjectorOptions::new(target.projections()))
        .start()
        .await?;
    let mut checkpoint = 0;
    if let Some(projector) = system.projector() {
        let mut status = projector.projector().subscribe();
        loop {
            let s = status.borrow_and_update().clone();
            progress(Stage::Rebuilding, s.checkpoint.min(last), last);
            if s.checkpoint >= last && s.rebuild.is_none() {
                checkpoint = s.checkpoint;
                break;
            }
            if status.changed().await.is_err() {
                break;
            }
        }
    }
    system.shutdown().await;
    if checkpoint < last {
        return Err(failed(format!(
            "läsmodellerna kom bara till sekvens {checkpoint} av {last}; starta `stod up --data {}`, så byggs de klart",
            root.display()
        )));
    }
    Ok(Restored { counts, users, operator, registry_key: registry_key.is_some(), checkpoint })
}

type Written = (BTreeMap<LogName, u64>, u64, Credentials);

async fn write_staging(
    checked: &Checked,
    staging: &DataDir,
    registry_key: Option<&[u8]>,
    port: u16,
    progress: &mut impl FnMut(Stage, u64, u64),
) -> Result<Written, SystemError> {
    std::fs::create_dir_all(staging.root()).map_err(io(staging.root()))?;
    let auth = staging.auth();
    let mut people = 0;
    if let Some(bytes) = &checked.content.users {
        let users: UsersFile = serde_json::from_slice(bytes)
            .map_err(|e| damaged(format!("säkerhetskopians användarfil går inte att läsa: {e}")))?;
        let reserved = [
            crate::users::COMMAND_USER,
            crate::users::PROJECTOR_USER,
            crate::users::HTTP_USER,
            crate::users::REGISTRY_USER,
            crate::users::SEEDER_USER,
            crate::users::OPERATOR_USER,
        ];
        users
            .check_handed_over(&reserved)
            .map_err(|e| damaged(format!("säkerhetskopians användarfil återställs inte: {e}")))?;
        people = users.users.len() as u64;
        std::fs::create_dir_all(auth.path()).map_err(io(auth.path()))?;
        write_secret(&auth.users_path(), bytes)?;
    }
    let users = ServiceUsers::ensure(auth)?;
    if let Some(key) = registry_key {
        write_secret(&staging.registry_key(), key)?;
    }
    let mut server = crate::managed::start_with(
        staging,
        port,
        &users.command,
        &crate::managed::Options { sync_always: false, ..Default::default() },
    )
    .await?;
    let written = fill(checked, &server.url(), &users, progress).await;
    let stopped = server.stop().await.map_err(|e| failed(format!("nats-server stannade inte: {e}")));
    let counts = written?;
    stopped?;
    sync_tree(&staging.nats())?;
    Ok((counts, people, users.operator))
}

/// JetStream on `url` as `credentials` (`name` for the server's monitoring).
pub(crate) async fn connect_as(url: &str, credentials: &Credentials, name: &str) -> Result<Context, SystemError> {
    let client = ConnectOptions::new(url)
        .name(name)
        .credentials(credentials.clone())
        .connect_nats()
        .await
        .map_err(|e| SystemError::new(SystemErrorKind::Connect, e.to_string()).about(url))?;
    Ok(jetstream::new(client))
}

async fn fill(
    checked: &Checked,
    url: &str,
    users: &ServiceUsers,
    progress: &mut impl FnMut(Stage, u64, u64),
) -> Result<BTreeMap<LogName, u64>, SystemError> {
    let js = connect_as(url, &users.command, "stod restore").await?;
    let cfg = EventLogConfig::default();
    let store = |e: stod_store::StoreError| failed(e.to_string());
    stod_store::ensure_stream(&js, &cfg).await.map_err(store)?;
    stod_store::QuarantineList::open(js.clone(), &cfg).await.map_err(store)?;
    let access = AccessLog::open(js.clone(), &cfg).await.map_err(store)?;
    let mut counts = BTreeMap::new();
    let empty = Vec::new();
    for log in [LogName::Events, LogName::Quarantine, LogName::Access] {
        let records = checked.content.logs.get(&log).unwrap_or(&empty);
        publish_all(&js, log, records, progress).await?;
        counts.insert(log, records.len() as u64);
    }
    // The buckets: their last values (the registry's through the registry's user).
    let participants = stod_store::ParticipantIndex::open(&js, 1).await.map_err(store)?;
    drop(participants);
    stod_store::ReferenceStore::open(&js, 1).await.map_err(store)?;
    let registry_js = connect_as(url, &users.registry, "stod restore").await?;
    stod_registry::RegistryStore::bucket(&registry_js, 1).await.map_err(|e| failed(e.to_string()))?;
    for (log, bucket, js) in [
        (LogName::Participants, stod_store::PARTICIPANTS_BUCKET, &js),
        (LogName::Reference, stod_store::REFERENCE_BUCKET, &js),
        (LogName::Registry, stod_store::REGISTRY_BUCKET, &registry_js),
    ] {
        let kv = js.get_key_value(bucket).await.map_err(|e| failed(format!("{bucket}: {e}")))?;
        let entries = match log {
            LogName::Registry => checked.content.registry_without_erased(),
            _ => checked.content.buckets.get(&log).cloned().unwrap_or_default(),
        };
        for (key, value) in &entries {
            kv.put(key, value.clone().into()).await.map_err(|e| failed(format!("{bucket} {key}: {e}")))?;
        }
        counts.insert(log, entries.len() as u64);
    }

    // Before anything else: protections, every message, every chain head.
    for log in [LogName::Events, LogName::Quarantine, LogName::Access] {
        let records = checked.content.logs.get(&log).unwrap_or(&empty);
        compare(&js, log, records, progress).await?;
    }
    let mut heads = BTreeMap::new();
    for r in checked.content.logs.get(&LogName::Events).unwrap_or(&empty) {
        stod_backup::take::advance(&mut heads, r.seq, &r.subject, &r.data);
    }
    if heads != checked.found_heads {
        return Err(failed("ärendenas kedjeslut i den återställda loggen stämmer inte med säkerhetskopians"));
    }

    // The restore itself, in the restored access log.
    for log in [LogName::Events, LogName::Quarantine, LogName::Access] {
        let n = counts.get(&log).copied().unwrap_or(0);
        let record =
            AccessRecord::audit_run(users.operator.user.clone(), log.as_str(), "restore", 1.min(n), n, "stod restore");
        access.record(&record).await.map_err(store)?;
    }
    Ok(counts)
}

/// Publishes `records` in order, each acknowledged at its own sequence.
async fn publish_all(
    js: &Context,
    log: LogName,
    records: &[LogRecord],
    progress: &mut impl FnMut(Stage, u64, u64),
) -> Result<(), SystemError> {
    let stream = stream_of(log);
    let total = records.len() as u64;
    let mut pending = VecDeque::new();
    let check = |seq: u64, ack: Result<jetstream::publish::PublishAck, jetstream::context::PublishError>| match ack {
        Ok(ack) if ack.stream == stream && ack.sequence == seq && !ack.duplicate => Ok(()),
        Ok(ack) => Err(failed(format!(
            "{stream}: sekvens {seq} lagrades som {} i {}: återställningen avbryts",
            ack.sequence, ack.stream
        ))),
        Err(e) => Err(failed(format!("{stream}: sekvens {seq} kunde inte skrivas: {e}"))),
    };
    for (i, r) in records.iter().enumerate() {
        let expected = i as u64 + 1;
        if r.seq != expected {
            return Err(failed(format!(
                "{stream}: säkerhetskopian börjar inte på sekvens 1 eller har en lucka vid {}: en ny ström kan inte få samma sekvenser",
                r.seq
            )));
        }
        let ack = js
            .publish(r.subject.clone(), r.data.clone().into())
            .await
            .map_err(|e| failed(format!("{stream}: sekvens {} kunde inte skickas: {e}", r.seq)))?;
        pending.push_back((r.seq, ack));
        if pending.len() >= 512 {
            if let Some((seq, ack)) = pending.pop_front() {
                check(seq, ack.await)?;
            }
        }
        if expected % 1000 == 0 {
            progress(Stage::Writing(log), expected, total);
        }
    }
    while let Some((seq, ack)) = pending.pop_front() {
        check(seq, ack.await)?;
    }
    progress(Stage::Writing(log), total, total);
    Ok(())
}

/// Reads the restored stream back and compares it, message for message, with the
/// backup; checks its protections.
async fn compare(
    js: &Context,
    log: LogName,
    records: &[LogRecord],
    progress: &mut impl FnMut(Stage, u64, u64),
) -> Result<(), SystemError> {
    let stream = stream_of(log);
    let state = stod_store::raw::stream_state(js, stream).await.map_err(|e| failed(e.to_string()))?;
    let loosened = match log {
        LogName::Events => stod_store::check_stream_config(&state.config),
        LogName::Access => stod_store::check_access_stream_config(&state.config),
        _ => stod_store::quarantine::check_quarantine_stream_config(&state.config),
    };
    if !loosened.is_empty() {
        return Err(failed(format!("{stream}: skydden är inte som de ska vara: {loosened:?}")));
    }
    let total = records.len() as u64;
    if state.last != total {
        return Err(failed(format!("{stream}: {} meddelanden efter återställningen, väntat {total}", state.last)));
    }
    let mut at = 1;
    while at <= total {
        let batch = stod_store::raw::read_range(js, stream, at, total, 1 << 20, false)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if batch.is_empty() {
            return Err(failed(format!("{stream}: sekvens {at} gick inte att läsa tillbaka")));
        }
        for m in batch {
            let want = usize::try_from(m.stream_sequence - 1).ok().and_then(|i| records.get(i));
            match want {
                Some(r) if r.seq == m.stream_sequence && r.subject == m.subject && r.data == m.bytes => {}
                _ => {
                    return Err(failed(format!(
                        "{stream}: sekvens {} skiljer sig från säkerhetskopian efter återställningen",
                        m.stream_sequence
                    )))
                }
            }
            at = m.stream_sequence + 1;
        }
        progress(Stage::Comparing(log), at - 1, total);
    }
    Ok(())
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), SystemError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(bytes).and_then(|_| file.sync_all()).map_err(io(path))
}

fn sync_dir(dir: &Path) -> Result<(), SystemError> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

/// fsyncs every file and directory under `dir`: the server wrote without fsync.
fn sync_tree(dir: &Path) -> Result<(), SystemError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path).and_then(|f| f.sync_all()).map_err(io(&path))?;
        }
    }
    sync_dir(dir)
}
