//! Self-contained audit bundles: the log's events, every case's chain head, and a
//! manifest with digests, checkable offline without NATS or stod's services.
//!
//! # Files
//!
//! - `events.log`: `STODLOG1` (8 bytes), then per event: stream sequence (u64, big
//!   endian), the case id of its subject (16 bytes), length (u32, big endian), the
//!   stored bytes (`docs/event-format.md`).
//! - `heads.json`: per case, its number of events, last sequence and chain hash.
//! - `set_aside.json`: the messages operators set aside (sequence → SHA-256 of the
//!   bytes and the reason), from the quarantine list at the time of the export.
//! - `manifest.json`: format, creation time, the range of stream sequences, counts,
//!   and the SHA-256 of each file; `digest` is the SHA-256 of the lines
//!   `<file> <sha256>\n` in file-name order.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stod_events::ids::{CaseId, Timestamp};

use crate::verify::{compare_heads, verify_setting_aside, ChainHead, Finding, Record, Verification};

pub const FORMAT: &str = "stod-audit-bundle-1";
const MAGIC: &[u8; 8] = b"STODLOG1";
const EVENTS: &str = "events.log";
const HEADS: &str = "heads.json";
const MANIFEST: &str = "manifest.json";
const SET_ASIDE: &str = "set_aside.json";

/// Sequence → (SHA-256 hex of the bytes, reason): the messages set aside.
pub type SetAside = BTreeMap<u64, (String, String)>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub created_at: Timestamp,
    pub first_sequence: u64,
    pub last_sequence: u64,
    pub events: u64,
    pub cases: u64,
    /// File name → hex SHA-256.
    pub files: BTreeMap<String, String>,
    pub digest: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Format(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io { path: path.display().to_string(), source }
}

fn sha256_file(path: &Path) -> Result<String, BundleError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn digest_of(files: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (name, sha) in files {
        h.update(format!("{name} {sha}\n"));
    }
    hex::encode(h.finalize())
}

/// Writes a bundle of `records` (in stream order) into `dir`, which must not exist or
/// be empty. Returns the manifest. Verifies the chains while writing, so the heads are
/// those of what was exported.
pub fn export(
    dir: &Path,
    records: impl IntoIterator<Item = Record>,
    first_sequence: u64,
    set_aside: &SetAside,
) -> Result<(Manifest, Verification), BundleError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(BundleError::Format(format!("{} är inte tom; välj en ny mapp för exporten", dir.display())));
    }
    let kept: Vec<Record> = records.into_iter().collect();
    write_events(&dir.join(EVENTS), &kept)?;
    let verification = verify_setting_aside(kept, first_sequence, set_aside);
    let heads_path = dir.join(HEADS);
    std::fs::write(&heads_path, serde_json::to_vec_pretty(&verification.heads).unwrap_or_default())
        .map_err(io(&heads_path))?;
    let set_aside_path = dir.join(SET_ASIDE);
    std::fs::write(&set_aside_path, serde_json::to_vec_pretty(set_aside).unwrap_or_default())
        .map_err(io(&set_aside_path))?;
    let mut files = BTreeMap::new();
    for name in [EVENTS, HEADS, SET_ASIDE] {
        files.insert(name.to_owned(), sha256_file(&dir.join(name))?);
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        created_at: Timestamp::now(),
        first_sequence,
        last_sequence: verification.last_sequence,
        events: verification.events,
        cases: verification.cases,
        digest: digest_of(&files),
        files,
    };
    let manifest_path = dir.join(MANIFEST);
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap_or_default())
        .map_err(io(&manifest_path))?;
    Ok((manifest, verification))
}

/// Writes records in the `events.log` format, fsynced.
pub fn write_events(path: &Path, records: &[Record]) -> Result<(), BundleError> {
    let mut out = BufWriter::new(std::fs::File::create(path).map_err(io(path))?);
    out.write_all(MAGIC).map_err(io(path))?;
    for r in records {
        out.write_all(&r.stream_sequence.to_be_bytes()).map_err(io(path))?;
        out.write_all(r.subject_case.as_uuid().as_bytes()).map_err(io(path))?;
        out.write_all(&(r.bytes.len() as u32).to_be_bytes()).map_err(io(path))?;
        out.write_all(&r.bytes).map_err(io(path))?;
    }
    let file =
        out.into_inner().map_err(|e| BundleError::Io { path: path.display().to_string(), source: e.into_error() })?;
    file.sync_all().map_err(io(path))
}

/// Reads `events.log`, tolerating a damaged tail (reported, not fatal).
pub fn read_events(path: &Path) -> Result<(Vec<Record>, Option<String>), BundleError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(BundleError::Format(format!("{} är ingen händelsefil från stod (fel inledning)", path.display())));
    }
    let mut records = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + 28) else {
            return Ok((records, Some(format!("filen slutar mitt i en post vid byte {at}"))));
        };
        let seq = u64::from_be_bytes(head[..8].try_into().unwrap_or_default());
        let case: [u8; 16] = head[8..24].try_into().unwrap_or_default();
        let len = u32::from_be_bytes(head[24..28].try_into().unwrap_or_default()) as usize;
        let Some(body) = bytes.get(at + 28..at + 28 + len) else {
            return Ok((records, Some(format!("posten för sekvens {seq} är avkortad"))));
        };
        records.push(Record { stream_sequence: seq, subject_case: CaseId::from(case), bytes: body.to_vec() });
        at += 28 + len;
    }
    Ok((records, None))
}

/// The result of checking a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleCheck {
    pub manifest: Manifest,
    /// Files whose digest differs from the manifest's, and other file-level problems.
    pub file_problems: Vec<String>,
    pub verification: Verification,
}

impl BundleCheck {
    pub fn intact(&self) -> bool {
        self.file_problems.is_empty() && self.verification.intact()
    }
}

/// Checks a bundle offline: file digests against the manifest, every chain, and the
/// chain heads against the recorded ones. Names every event that is wrong.
pub fn check(dir: &Path) -> Result<BundleCheck, BundleError> {
    let manifest_path = dir.join(MANIFEST);
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(&manifest_path).map_err(io(&manifest_path))?)
        .map_err(|e| BundleError::Format(format!("manifest.json går inte att läsa: {e}")))?;
    if manifest.format != FORMAT {
        return Err(BundleError::Format(format!("okänt format {:?}; väntade {FORMAT}", manifest.format)));
    }
    let mut file_problems = Vec::new();
    if digest_of(&manifest.files) != manifest.digest {
        file_problems.push("manifestets sammanfattande kontrollsumma stämmer inte med dess fillista".to_owned());
    }
    for (name, expected) in &manifest.files {
        match sha256_file(&dir.join(name)) {
            Ok(actual) if &actual == expected => {}
            Ok(_) => file_problems.push(format!("{name} har ändrats sedan exporten (kontrollsumman stämmer inte)")),
            Err(e) => file_problems.push(format!("{name}: {e}")),
        }
    }
    let (records, damage) = read_events(&dir.join(EVENTS))?;
    file_problems.extend(damage);
    // Bundles from before the quarantine list have no such file: nothing set aside.
    let set_aside: SetAside = match std::fs::read(dir.join(SET_ASIDE)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| BundleError::Format(format!("{SET_ASIDE} går inte att läsa: {e}")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !manifest.files.contains_key(SET_ASIDE) => {
            SetAside::new()
        }
        Err(e) => return Err(io(&dir.join(SET_ASIDE))(e)),
    };
    let mut verification = verify_setting_aside(records, manifest.first_sequence, &set_aside);
    let heads_path = dir.join(HEADS);
    let recorded: BTreeMap<CaseId, ChainHead> =
        serde_json::from_slice(&std::fs::read(&heads_path).map_err(io(&heads_path))?)
            .map_err(|e| BundleError::Format(format!("heads.json går inte att läsa: {e}")))?;
    // Heads of cases already named by a finding add nothing; the rest catch changes
    // at a chain's end and events removed from it.
    let named: Vec<CaseId> = verification.findings.iter().filter_map(finding_case).collect();
    verification.findings.extend(
        compare_heads(&verification.heads, &recorded)
            .into_iter()
            .filter(|f| finding_case(f).is_none_or(|c| !named.contains(&c))),
    );
    if verification.last_sequence < manifest.last_sequence {
        verification.findings.push(Finding::Missing {
            after_sequence: verification.last_sequence,
            before_sequence: manifest.last_sequence + 1,
            count: manifest.last_sequence - verification.last_sequence,
        });
    }
    Ok(BundleCheck { manifest, file_problems, verification })
}

fn finding_case(f: &Finding) -> Option<CaseId> {
    match f {
        Finding::Changed { case_id, .. }
        | Finding::Inserted { case_id, .. }
        | Finding::Reordered { case_id, .. }
        | Finding::BrokenLink { case_id, .. }
        | Finding::HeadMismatch { case_id, .. } => Some(*case_id),
        Finding::WrongSubject { subject_case, .. } => Some(*subject_case),
        Finding::Missing { .. }
        | Finding::Undecodable { .. }
        | Finding::OutOfOrder { .. }
        | Finding::SetAside { .. } => None,
    }
}
