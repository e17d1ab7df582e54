//! Taking a backup online, as the backup role, while commands are being recorded.
//!
//! Each log is read up to its last sequence at the moment its run opens (recorded in
//! the access log), so what a backup holds is a prefix of every log: consistent per
//! log, and across them in the order they are read. The event log comes first, then
//! the quarantine list (which names only events already stored), the buckets (a claim
//! may name a case whose intake came after the event log was read: the service takes
//! such a claim over when it is old, as after a crash between claim and intake), and
//! the access log last, so it holds the records of this backup's own runs.
//!
//! The backup is written to `.<n>.partial/` and renamed to `<n>/` once every file and
//! the manifest are fsynced: a backup that stops half-way leaves nothing that looks
//! like a backup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stod_audit::ChainHead;
use stod_auth::{AuthDir, Credentials, Role, UsersFile};
use stod_client::Client;
use stod_events::ids::CaseId;
use stod_protocol::audit::{LogInfoReply, LogName, LoggedMessage};

use crate::error::{io, BackupError};
use crate::format::{
    backup_dir, list, read_manifest, write_bucket, write_synced, AuthPart, BucketPart, Kind, LogPart, LogWriter,
    Manifest, Previous, FORMAT, USERS,
};

/// A backup taken.
#[derive(Clone, Debug)]
pub struct Taken {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// The case a log subject names (`stod.events.case.<id>`); the nil case for a subject
/// that names none (a foreign message: kept, so the sequence has no hole).
pub fn subject_case(subject: &str) -> CaseId {
    subject.rsplit('.').next().and_then(|t| t.parse::<CaseId>().ok()).unwrap_or_else(|| CaseId::from([0; 16]))
}

/// A chain head moved on by one stored message (every message under the case's
/// subject counts, set aside or not).
pub fn advance(heads: &mut BTreeMap<CaseId, ChainHead>, seq: u64, subject: &str, data: &[u8]) {
    let trailer = if data.len() >= 32 { hex::encode(&data[data.len() - 32..]) } else { hex::encode([0u8; 32]) };
    let head =
        heads.entry(subject_case(subject)).or_insert(ChainHead { events: 0, last_sequence: 0, hash: String::new() });
    head.events += 1;
    head.last_sequence = seq;
    head.hash = trailer;
}

/// The digest of one stored message (subject, a zero byte, the data), by which the
/// next backup recognises where this one ended.
pub fn message_sha256(subject: &str, data: &[u8]) -> String {
    let mut bytes = subject.as_bytes().to_vec();
    bytes.push(0);
    bytes.extend_from_slice(data);
    crate::format::sha256_hex(&bytes)
}

/// One stored message of a KV bucket (subject `prefix` + key) folded into its last
/// values: a delete or purge marker removes the key.
pub fn fold_bucket(
    entries: &mut BTreeMap<String, Vec<u8>>,
    prefix: &str,
    subject: &str,
    headers: &[(String, String)],
    data: Vec<u8>,
) {
    let Some(key) = subject.strip_prefix(prefix) else { return };
    let removed = headers.iter().any(|(name, value)| name == "KV-Operation" && (value == "DEL" || value == "PURGE"));
    if removed {
        entries.remove(key);
    } else {
        entries.insert(key.to_owned(), data);
    }
}

fn bucket_file(log: LogName) -> String {
    format!("{}.kv", log.as_str())
}

fn log_file(log: LogName) -> String {
    format!("{}.log", log.as_str())
}

/// The bucket's name in its KV subjects (`$KV.<bucket>.<key>`).
fn bucket_name(log: LogName) -> &'static str {
    match log {
        LogName::Participants => stod_store::PARTICIPANTS_BUCKET,
        LogName::Reference => stod_store::REFERENCE_BUCKET,
        _ => stod_store::REGISTRY_BUCKET,
    }
}

/// The people of an auth directory (and the mirror's leaf user): every user of a role
/// `stod user add` gives whose credentials
/// are not kept on this machine (the services and the managed operator get new ones
/// on a restore). Public keys and token digests only.
fn people(auth: &AuthDir) -> Result<UsersFile, BackupError> {
    let users = auth.load_users().map_err(|e| BackupError::Io(e.to_string()))?;
    Ok(UsersFile {
        users: users
            .users
            .into_iter()
            .filter(|u| Role::GRANTED.contains(&u.role) && !auth.keeps_credentials(u.name.as_str()))
            .collect(),
    })
}

/// Takes the next backup into `dir` (created if missing): full when `dir` holds none,
/// else incremental after the last one. `auth` is the data directory's auth directory,
/// when this runs on the server's machine; without it the backup holds no users.
/// `progress` gets the log, the sequence reached and the run's last.
pub async fn take(
    client: &Client,
    dir: &Path,
    auth: Option<&AuthDir>,
    progress: impl FnMut(LogName, u64, u64),
) -> Result<Taken, BackupError> {
    take_signed(client, None, dir, auth, progress).await
}

/// As [`take`], with the manifest signed by `signer` (the backup user's own
/// credentials: `stod backup` signs with the key it connects with), so that a backup
/// changed by someone who can write the backup directory but holds no such key is
/// refused by [`crate::check_signed`].
pub async fn take_signed(
    client: &Client,
    signer: Option<&Credentials>,
    dir: &Path,
    auth: Option<&AuthDir>,
    mut progress: impl FnMut(LogName, u64, u64),
) -> Result<Taken, BackupError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let numbers = list(dir)?;
    let mut heads: BTreeMap<CaseId, ChainHead> = BTreeMap::new();
    let mut previous: Option<(Manifest, String)> = None;
    for n in &numbers {
        let (manifest, digest) = read_manifest(&backup_dir(dir, *n))?;
        heads.extend(manifest.chain_heads.clone());
        previous = Some((manifest, digest));
    }
    let number = numbers.last().map_or(1, |n| n + 1);
    let partial = dir.join(format!(".{number:04}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    std::fs::create_dir(&partial).map_err(io(&partial))?;

    let mut logs = BTreeMap::new();
    let mut buckets = BTreeMap::new();
    let mut runs = Vec::new();
    let mut touched: BTreeMap<CaseId, ChainHead> = BTreeMap::new();
    for log in LogName::ALL {
        let exists = !matches!(client.backup_info(log).await?, LogInfoReply::NotFound { .. });
        if log.is_bucket() {
            let prefix = format!("$KV.{}.", bucket_name(log));
            let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            let mut last_sequence = 0;
            if exists {
                let read = client
                    .read_for_backup(
                        log,
                        None,
                        |m: LoggedMessage| {
                            fold_bucket(&mut entries, &prefix, &m.subject, &m.headers, m.data);
                        },
                        |at, last| progress(log, at, last),
                    )
                    .await?;
                last_sequence = read.last;
                runs.push(read.run);
            }
            let file = write_bucket(&partial, &bucket_file(log), &entries)?;
            buckets.insert(log.as_str().to_owned(), BucketPart { keys: entries.len() as u64, last_sequence, file });
            continue;
        }
        let before = previous.as_ref().and_then(|(m, _)| m.logs.get(log.as_str()));
        let after = before.map(|p| p.to).filter(|to| *to > 0);
        // The message the previous backup ended on, read again: the log this backup
        // continues must still hold it, byte for byte (not a log restored or promoted
        // from an older copy, nor another system's).
        let held = before.and_then(|p| p.last_sha256.clone());
        if let (Some(to), true) = (after, exists) {
            let last = match client.backup_info(log).await? {
                LogInfoReply::Found { last, .. } => last,
                _ => 0,
            };
            if last < to {
                return Err(BackupError::Usage(format!(
                    "{} slutar på sekvens {last}, men den förra säkerhetskopian i {} gick till {to}: det är inte samma logg. \
                     Börja en ny katalog för säkerhetskopior",
                    log.as_str(),
                    dir.display()
                )));
            }
        }
        let mut writer = LogWriter::create(&partial, &log_file(log))?;
        let mut failed: Option<BackupError> = None;
        let mut messages = 0u64;
        let mut last_sha256 = held.clone();
        let (from, to) = if exists {
            let read = client
                .read_for_backup(
                    log,
                    after.or(Some(0)).map(|to| to.max(1)),
                    |m: LoggedMessage| {
                        if failed.is_some() {
                            return;
                        }
                        if Some(m.seq) == after {
                            if held.as_deref().is_some_and(|h| h != message_sha256(&m.subject, &m.data)) {
                                failed = Some(BackupError::Usage(format!(
                                    "{} sekvens {}: loggen håller inte längre det meddelande den förra säkerhetskopian slutade på. \
                                     Börja en ny katalog för säkerhetskopior",
                                    log.as_str(),
                                    m.seq
                                )));
                            }
                            return;
                        }
                        if log == LogName::Events {
                            advance(&mut heads, m.seq, &m.subject, &m.data);
                            let case = subject_case(&m.subject);
                            if let Some(head) = heads.get(&case) {
                                touched.insert(case, head.clone());
                            }
                        }
                        messages += 1;
                        last_sha256 = Some(message_sha256(&m.subject, &m.data));
                        if let Err(e) = writer.push(m.seq, &m.subject, &m.data) {
                            failed = Some(e);
                        }
                    },
                    |at, last| progress(log, at, last),
                )
                .await?;
            runs.push(read.run);
            let from = after.map_or(read.first, |to| to + 1);
            (from, read.last.max(after.unwrap_or(0)))
        } else {
            (after.map_or(1, |to| to + 1), after.unwrap_or(0))
        };
        if let Some(e) = failed {
            return Err(e);
        }
        let file = writer.finish()?;
        logs.insert(log.as_str().to_owned(), LogPart { from, to, messages, last_sha256, file });
    }

    let auth_part = match auth {
        Some(auth) => {
            let users = people(auth)?;
            let json = serde_json::to_vec_pretty(&users).map_err(|e| BackupError::Io(e.to_string()))?;
            write_synced(&partial.join(USERS), &json)?;
            Some(AuthPart {
                users: users.users.len() as u64,
                file: crate::format::FileEntry {
                    file: USERS.to_owned(),
                    bytes: json.len() as u64,
                    sha256: crate::format::sha256_hex(&json),
                },
            })
        }
        None => None,
    };
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        number,
        kind: if previous.is_some() { Kind::Incremental } else { Kind::Full },
        previous: previous.map(|(m, digest)| Previous { number: m.number, manifest_sha256: digest }),
        taken_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        taken_by: client.user().to_string(),
        logs,
        buckets,
        auth: auth_part,
        chain_heads: touched,
        runs,
    };
    crate::format::write_manifest(&partial, &manifest)?;
    if let Some(signer) = signer {
        crate::format::sign_manifest(&partial, signer)?;
    }
    sync_dir(&partial)?;
    let done = backup_dir(dir, number);
    std::fs::rename(&partial, &done).map_err(io(&done))?;
    sync_dir(dir)?;
    Ok(Taken { dir: done, manifest })
}

/// Makes a directory's entries (a rename, a new file) durable.
pub fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}
