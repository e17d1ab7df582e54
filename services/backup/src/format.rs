//! The files of a backup (`docs/backup-format.md`): a directory of numbered backups,
//! each a manifest and one file per log and bucket.
//!
//! ```text
//! <dir>/
//!   0001/                 the first backup: full
//!     manifest.json       what it holds, the digests of its files, the chain heads
//!     manifest.sha256     SHA-256 of manifest.json, hex
//!     events.log          STOD_EVENTS from `from` to `to`
//!     access.log          STOD_ACCESS
//!     quarantine.log      STOD_QUARANTINE
//!     participants.kv     the buckets, whole: the last value of every key
//!     reference.kv
//!     registry.kv
//!     users.json          the people of the auth directory: names, roles, public keys
//!   0002/                 incremental: the logs from the previous `to` + 1 on
//! ```
//!
//! A log file is `STODLOG1` and then, for each message in stream order,
//! `seq: u64 LE, subject length: u32 LE, subject, data length: u32 LE, data`. A bucket
//! file is `STODKV01` and then, by key, `key length: u32 LE, key, value length: u32 LE,
//! value`. Both are written by hand and read by hand on purpose: the layout is fixed
//! here and in the docs, so a backup made today reads in ten years.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use stod_audit::ChainHead;
use stod_events::ids::CaseId;

use crate::error::{io, BackupError};

/// The format of this manifest, checked before anything else is read.
pub const FORMAT: &str = "stod-backup/1";
pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_DIGEST: &str = "manifest.sha256";
pub const USERS: &str = "users.json";
/// The backup user's signature of `manifest.json` (ed25519, its nkey).
pub const SIGNATURE: &str = "manifest.sig";
const LOG_MAGIC: &[u8; 8] = b"STODLOG1";
const KV_MAGIC: &[u8; 8] = b"STODKV01";
/// The largest subject, key or message a file may claim (NATS's own limit is 1 MiB):
/// a damaged length is an error, not a huge allocation.
const MAX_FIELD: u32 = 8 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Full,
    Incremental,
}

/// The backup an incremental one continues, by its manifest's digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    pub number: u32,
    pub manifest_sha256: String,
}

/// One file of a backup: its name in the backup's directory, size and digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A log's part in one backup: sequences `from..=to` (none when `to < from`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPart {
    pub from: u64,
    pub to: u64,
    pub messages: u64,
    /// The digest of the message at `to` (`take::message_sha256`): the next backup
    /// reads it again and goes on only if the log still holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sha256: Option<String>,
    #[serde(flatten)]
    pub file: FileEntry,
}

/// A bucket, whole, as it was when the backup read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketPart {
    pub keys: u64,
    /// The bucket stream's last sequence when read.
    pub last_sequence: u64,
    #[serde(flatten)]
    pub file: FileEntry,
}

/// The people of the auth directory (no service, no secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthPart {
    pub users: u64,
    #[serde(flatten)]
    pub file: FileEntry,
}

/// What one backup holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub number: u32,
    pub kind: Kind,
    pub previous: Option<Previous>,
    /// RFC 3339, UTC.
    pub taken_at: String,
    pub taken_by: String,
    /// `events`, `access`, `quarantine` (`LogName::as_str`).
    pub logs: BTreeMap<String, LogPart>,
    /// `participants`, `reference`, `registry`.
    pub buckets: BTreeMap<String, BucketPart>,
    pub auth: Option<AuthPart>,
    /// The end of the chain of every case with events in this backup, counted over the
    /// whole chain of backups up to this one: every message stored under the case's
    /// subject, set aside or not (the check of a case's last events).
    pub chain_heads: BTreeMap<CaseId, ChainHead>,
    /// The access log's records of this backup's runs.
    pub runs: Vec<String>,
}

/// One message of a log as the backup holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub subject: String,
    pub data: Vec<u8>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The directory of backup `number` inside `dir`.
pub fn backup_dir(dir: &Path, number: u32) -> PathBuf {
    dir.join(format!("{number:04}"))
}

/// The numbered backups in `dir`, in order. Anything else (a `.partial` directory left
/// by a backup that stopped half-way, a README someone put there) is not one.
pub fn list(dir: &Path) -> Result<Vec<u32>, BackupError> {
    let entries = std::fs::read_dir(dir).map_err(io(dir))?;
    let mut numbers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() == 4 && name.bytes().all(|b| b.is_ascii_digit()) && entry.path().is_dir() {
            if let Ok(n) = name.parse::<u32>() {
                numbers.push(n);
            }
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Reads a backup's manifest, checking it against its digest first.
pub fn read_manifest(dir: &Path) -> Result<(Manifest, String), BackupError> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    let digest_path = dir.join(MANIFEST_DIGEST);
    let recorded = std::fs::read_to_string(&digest_path).map_err(io(&digest_path))?;
    let digest = sha256_hex(&bytes);
    if recorded.trim() != digest {
        return Err(BackupError::Damaged(format!(
            "{}: innehållsförteckningen stämmer inte med sin kontrollsumma ({}): den har ändrats",
            dir.display(),
            MANIFEST_DIGEST
        )));
    }
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        BackupError::Damaged(format!("{}: innehållsförteckningen går inte att läsa: {e}", path.display()))
    })?;
    if manifest.format != FORMAT {
        return Err(BackupError::Damaged(format!(
            "{}: formatet {:?} känns inte igen (den här versionen läser {FORMAT})",
            path.display(),
            manifest.format
        )));
    }
    Ok((manifest, digest))
}

/// Who signed a manifest: the user and their public nkey, and the signature of the
/// manifest's bytes (hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub user: String,
    pub nkey: String,
    pub signature: String,
}

/// Signs the manifest in `dir` with `signer`'s nkey.
pub fn sign_manifest(dir: &Path, signer: &stod_auth::Credentials) -> Result<(), BackupError> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    let key = nkeys::KeyPair::from_seed(&signer.nkey_seed).map_err(|e| BackupError::Io(format!("signing key: {e}")))?;
    let signature = key.sign(&bytes).map_err(|e| BackupError::Io(format!("signing: {e}")))?;
    let sig = Signature { user: signer.user.to_string(), nkey: key.public_key(), signature: hex::encode(signature) };
    let json = serde_json::to_vec_pretty(&sig).map_err(|e| BackupError::Io(e.to_string()))?;
    write_synced(&dir.join(SIGNATURE), &json)
}

/// The signature of the manifest in `dir`, checked against the manifest's bytes;
/// `None` when the backup is not signed. A signature that does not verify is damage.
pub fn read_signature(dir: &Path) -> Result<Option<Signature>, BackupError> {
    let path = dir.join(SIGNATURE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    let bad = |why: &str| BackupError::Damaged(format!("{}: signaturen {why}", path.display()));
    let sig: Signature = serde_json::from_slice(&text).map_err(|_| bad("går inte att läsa"))?;
    let manifest = std::fs::read(dir.join(MANIFEST)).map_err(io(&dir.join(MANIFEST)))?;
    let key = nkeys::KeyPair::from_public_key(&sig.nkey).map_err(|_| bad("har ingen giltig nyckel"))?;
    let raw = hex::decode(&sig.signature).map_err(|_| bad("går inte att läsa"))?;
    key.verify(&manifest, &raw).map_err(|_| bad("stämmer inte med innehållsförteckningen: den har ändrats"))?;
    Ok(Some(sig))
}

/// Writes the manifest and its digest, both fsynced. Returns the digest.
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<String, BackupError> {
    let bytes = serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Io(format!("manifest: {e}")))?;
    let digest = sha256_hex(&bytes);
    write_synced(&dir.join(MANIFEST), &bytes)?;
    write_synced(&dir.join(MANIFEST_DIGEST), format!("{digest}\n").as_bytes())?;
    Ok(digest)
}

pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut file = std::fs::File::create(path).map_err(io(path))?;
    file.write_all(bytes).and_then(|_| file.sync_all()).map_err(io(path))
}

/// A file being written, hashed as it goes.
pub struct HashedWriter {
    path: PathBuf,
    name: String,
    out: BufWriter<std::fs::File>,
    hash: Sha256,
    bytes: u64,
}

impl HashedWriter {
    fn create(dir: &Path, name: &str, magic: &[u8]) -> Result<Self, BackupError> {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut w = Self { path, name: name.to_owned(), out: BufWriter::new(file), hash: Sha256::new(), bytes: 0 };
        w.put(magic)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), BackupError> {
        self.hash.update(bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes).map_err(io(&self.path))
    }

    fn field(&mut self, bytes: &[u8]) -> Result<(), BackupError> {
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|l| *l <= MAX_FIELD)
            .ok_or_else(|| BackupError::Io(format!("{}: a field of {} bytes is too large", self.name, bytes.len())))?;
        self.put(&len.to_le_bytes())?;
        self.put(bytes)
    }

    /// Flushes and fsyncs; the entry for the manifest.
    pub fn finish(self) -> Result<FileEntry, BackupError> {
        let HashedWriter { path, name, out, hash, bytes } = self;
        let file = out.into_inner().map_err(|e| BackupError::Io(format!("{}: {e}", path.display())))?;
        file.sync_all().map_err(io(&path))?;
        Ok(FileEntry { file: name, bytes, sha256: hex::encode(hash.finalize()) })
    }
}

/// A log file being written: records in stream order.
pub struct LogWriter(HashedWriter);

impl LogWriter {
    pub fn create(dir: &Path, name: &str) -> Result<Self, BackupError> {
        HashedWriter::create(dir, name, LOG_MAGIC).map(Self)
    }

    pub fn push(&mut self, seq: u64, subject: &str, data: &[u8]) -> Result<(), BackupError> {
        self.0.put(&seq.to_le_bytes())?;
        self.0.field(subject.as_bytes())?;
        self.0.field(data)
    }

    pub fn finish(self) -> Result<FileEntry, BackupError> {
        self.0.finish()
    }
}

/// Writes a bucket file: every key with its value, by key.
pub fn write_bucket(dir: &Path, name: &str, entries: &BTreeMap<String, Vec<u8>>) -> Result<FileEntry, BackupError> {
    let mut w = HashedWriter::create(dir, name, KV_MAGIC)?;
    for (key, value) in entries {
        w.field(key.as_bytes())?;
        w.field(value)?;
    }
    w.finish()
}

/// A file read whole, checked against its manifest entry.
pub fn read_checked(dir: &Path, entry: &FileEntry) -> Result<Vec<u8>, BackupError> {
    if entry.file.contains('/') || entry.file.contains('\\') || entry.file.starts_with('.') {
        return Err(BackupError::Damaged(format!("{}: filnamnet {:?} är inte tillåtet", dir.display(), entry.file)));
    }
    let path = dir.join(&entry.file);
    let mut bytes = Vec::new();
    std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io(&path))?;
    let digest = sha256_hex(&bytes);
    if digest != entry.sha256 || bytes.len() as u64 != entry.bytes {
        return Err(BackupError::Damaged(format!(
            "{}: filen stämmer inte med innehållsförteckningen (SHA-256 {digest}, väntad {}): den har ändrats",
            path.display(),
            entry.sha256
        )));
    }
    Ok(bytes)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BackupError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or_else(|| {
            BackupError::Damaged(format!("{}: filen tar slut mitt i en post (byte {})", self.what.display(), self.at))
        })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, BackupError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, BackupError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    fn field(&mut self) -> Result<&'a [u8], BackupError> {
        let len = self.u32()?;
        if len > MAX_FIELD {
            return Err(BackupError::Damaged(format!("{}: en post anger {len} byte", self.what.display())));
        }
        self.take(len as usize)
    }

    fn text(&mut self) -> Result<String, BackupError> {
        let bytes = self.field()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            BackupError::Damaged(format!("{}: ett ämne eller en nyckel är inte UTF-8", self.what.display()))
        })
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

fn open<'a>(bytes: &'a [u8], path: &'a Path, magic: &[u8; 8]) -> Result<Cursor<'a>, BackupError> {
    let mut c = Cursor { bytes, at: 0, what: path };
    if c.take(8)? != magic {
        return Err(BackupError::Damaged(format!("{}: filen börjar inte med {:?}", path.display(), magic)));
    }
    Ok(c)
}

/// The records of a log file, checked against its entry.
pub fn read_log(dir: &Path, entry: &FileEntry) -> Result<Vec<LogRecord>, BackupError> {
    let bytes = read_checked(dir, entry)?;
    let path = dir.join(&entry.file);
    let mut c = open(&bytes, &path, LOG_MAGIC)?;
    let mut out = Vec::new();
    while !c.done() {
        let seq = c.u64()?;
        let subject = c.text()?;
        let data = c.field()?.to_vec();
        out.push(LogRecord { seq, subject, data });
    }
    Ok(out)
}

/// The entries of a bucket file, checked against its entry.
pub fn read_bucket(dir: &Path, entry: &FileEntry) -> Result<BTreeMap<String, Vec<u8>>, BackupError> {
    let bytes = read_checked(dir, entry)?;
    let path = dir.join(&entry.file);
    let mut c = open(&bytes, &path, KV_MAGIC)?;
    let mut out = BTreeMap::new();
    while !c.done() {
        let key = c.text()?;
        let value = c.field()?.to_vec();
        out.insert(key, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_file_reads_back_as_written_and_a_changed_byte_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = LogWriter::create(dir.path(), "events.log").unwrap();
        w.push(1, "stod.events.case.a", b"one").unwrap();
        w.push(2, "stod.events.case.b", &[0, 255]).unwrap();
        let entry = w.finish().unwrap();
        let records = read_log(dir.path(), &entry).unwrap();
        assert_eq!(
            records,
            vec![
                LogRecord { seq: 1, subject: "stod.events.case.a".into(), data: b"one".to_vec() },
                LogRecord { seq: 2, subject: "stod.events.case.b".into(), data: vec![0, 255] },
            ]
        );
        let path = dir.path().join("events.log");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let err = read_log(dir.path(), &entry).unwrap_err();
        assert!(err.to_string().contains("har ändrats"), "{err}");
    }

    #[test]
    fn a_truncated_file_with_a_matching_digest_is_still_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = LOG_MAGIC.to_vec();
        bytes.extend(7u64.to_le_bytes());
        bytes.extend(100u32.to_le_bytes());
        bytes.extend(b"short");
        std::fs::write(dir.path().join("x.log"), &bytes).unwrap();
        let entry = FileEntry { file: "x.log".into(), bytes: bytes.len() as u64, sha256: sha256_hex(&bytes) };
        let err = read_log(dir.path(), &entry).unwrap_err();
        assert!(err.to_string().contains("tar slut"), "{err}");
    }

    #[test]
    fn a_bucket_file_reads_back_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let entries: BTreeMap<String, Vec<u8>> =
            [("b".to_owned(), b"2".to_vec()), ("a".to_owned(), b"1".to_vec())].into_iter().collect();
        let entry = write_bucket(dir.path(), "p.kv", &entries).unwrap();
        assert_eq!(read_bucket(dir.path(), &entry).unwrap(), entries);
    }

    #[test]
    fn a_manifest_with_a_changed_byte_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = Manifest {
            format: FORMAT.into(),
            number: 1,
            kind: Kind::Full,
            previous: None,
            taken_at: "2026-12-07T12:00:00Z".into(),
            taken_by: "backup".into(),
            logs: BTreeMap::new(),
            buckets: BTreeMap::new(),
            auth: None,
            chain_heads: BTreeMap::new(),
            runs: vec![],
        };
        write_manifest(dir.path(), &manifest).unwrap();
        assert_eq!(read_manifest(dir.path()).unwrap().0, manifest);
        let path = dir.path().join(MANIFEST);
        let text = std::fs::read_to_string(&path).unwrap().replace("\"number\": 1", "\"number\": 2");
        std::fs::write(&path, text).unwrap();
        assert!(read_manifest(dir.path()).unwrap_err().to_string().contains("kontrollsumma"));
    }
}
