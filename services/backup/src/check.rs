//! Checking a chain of backups offline, without a server: what `stod backup verify`
//! reports and what `stod restore` requires before it writes anything.
//!
//! A changed byte anywhere is found: in a manifest by its digest file, in any other
//! file by the digest its manifest states, in an event by the case's hash chain, at the
//! end of a case by the chain heads the manifests state, and a manifest replaced
//! together with its digest by the next backup's `previous` digest.

use std::collections::BTreeMap;
use std::path::Path;

use stod_audit::{verify_setting_aside, ChainHead, Finding, Record, SetAside, Verification};
use stod_events::ids::CaseId;
use stod_protocol::audit::LogName;

use crate::error::BackupError;
use crate::format::{backup_dir, list, read_bucket, read_checked, read_log, read_manifest, Kind, LogRecord, Manifest};
use crate::take::{advance, subject_case};

/// What a chain of backups holds, as checked: what a restore writes.
#[derive(Clone, Debug, Default)]
pub struct Content {
    /// `events`, `access`, `quarantine`: every message, in order, across the chain.
    pub logs: BTreeMap<LogName, Vec<LogRecord>>,
    /// The buckets as the last backup holds them.
    pub buckets: BTreeMap<LogName, BTreeMap<String, Vec<u8>>>,
    /// The people of the auth directory, from the last backup that holds them.
    pub users: Option<Vec<u8>>,
}

impl Content {
    /// The participant references the access log records as erased from the registry.
    pub fn erased(&self) -> std::collections::BTreeSet<String> {
        self.logs
            .get(&LogName::Access)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| stod_store::access::decode(r.seq, &r.subject, &r.data).ok())
            .filter(|a| a.view == stod_store::AccessView::RegistryErase)
            .filter_map(|a| a.participant.map(|p| p.to_string()))
            .collect()
    }

    /// The registry as it may be restored: without any entry whose participant the
    /// access log records as erased (an erasure between the backup's read of the
    /// registry and of the access log, or after the backup the registry came from).
    /// Safe: a person registered again gets a new reference.
    pub fn registry_without_erased(&self) -> BTreeMap<String, Vec<u8>> {
        let erased = self.erased();
        let mut registry = self.buckets.get(&LogName::Registry).cloned().unwrap_or_default();
        registry.retain(|_, value| {
            let participant = serde_json::from_slice::<serde_json::Value>(value)
                .ok()
                .and_then(|v| v.get("participant").and_then(|p| p.as_str()).map(str::to_owned));
            !participant.is_some_and(|p| erased.contains(&p))
        });
        registry
    }
}

/// The result of [`check`].
#[derive(Clone, Debug)]
pub struct Checked {
    pub manifests: Vec<Manifest>,
    /// The hash chains of every case, across the chain of backups.
    pub events: Verification,
    /// Chain heads that differ from what the manifests state.
    pub heads: Vec<Finding>,
    /// That the chain of backups does not join up, in words.
    pub problems: Vec<String>,
    /// Every case's chain head as found (each message under its subject counts).
    pub found_heads: BTreeMap<CaseId, ChainHead>,
    pub content: Content,
    /// Each backup's signature, in order (`None`: not signed).
    pub signers: Vec<Option<crate::format::Signature>>,
}

impl Checked {
    pub fn intact(&self) -> bool {
        self.problems.is_empty() && self.heads.is_empty() && self.events.intact()
    }

    /// Every problem in words, the chain findings in the auditor's terms.
    pub fn describe_sv(&self) -> Vec<String> {
        let mut out = self.problems.clone();
        out.extend(
            self.events
                .findings
                .iter()
                .chain(&self.heads)
                .filter(|f| !matches!(f, Finding::SetAside { .. }))
                .map(Finding::describe_sv),
        );
        out
    }

    /// The last sequence of each log held.
    pub fn last(&self, log: LogName) -> u64 {
        self.content.logs.get(&log).and_then(|r| r.last()).map_or(0, |r| r.seq)
    }
}

const LOGS: [LogName; 3] = [LogName::Events, LogName::Quarantine, LogName::Access];
const BUCKETS: [LogName; 3] = [LogName::Participants, LogName::Reference, LogName::Registry];

/// Checks every backup in `dir`. `Err` when a file is unreadable or its digest does not
/// match (nothing of it can be trusted); otherwise the findings, in [`Checked`].
/// `progress` gets the backup number reached and the last.
pub fn check(dir: &Path, progress: impl FnMut(u32, u32)) -> Result<Checked, BackupError> {
    check_signed(dir, None, progress)
}

/// As [`check`], and every backup's manifest signed: by the key `signer` (a user's
/// public nkey, `U…`) when given, else all by one key or none. Only a check against a
/// key known from elsewhere (written down when the backup user was made) shows that a
/// backup is the backup user's, and not rewritten whole by someone who can write the
/// backup directory.
pub fn check_signed(
    dir: &Path,
    signer: Option<&str>,
    mut progress: impl FnMut(u32, u32),
) -> Result<Checked, BackupError> {
    let numbers = list(dir)
        .map_err(|e| BackupError::Usage(format!("{}: ingen katalog med säkerhetskopior ({e})", dir.display())))?;
    let Some(&last_number) = numbers.last() else {
        return Err(BackupError::Usage(format!(
            "{} innehåller inga säkerhetskopior (kataloger 0001, 0002, ... från stod backup --out)",
            dir.display()
        )));
    };
    let mut problems = Vec::new();
    let mut manifests: Vec<Manifest> = Vec::new();
    let mut content = Content::default();
    let mut recorded_heads: BTreeMap<CaseId, ChainHead> = BTreeMap::new();
    let mut previous_digest: Option<String> = None;
    let mut signers: Vec<Option<crate::format::Signature>> = Vec::new();
    for (i, n) in numbers.iter().enumerate() {
        let here = backup_dir(dir, *n);
        let (manifest, digest) = read_manifest(&here)?;
        let signature = crate::format::read_signature(&here)?;
        match (signer, &signature) {
            (Some(expected), Some(sig)) if sig.nkey == expected => {}
            (Some(expected), Some(sig)) => problems
                .push(format!("säkerhetskopia {n:04} är signerad av {} ({}), inte av {expected}", sig.user, sig.nkey)),
            (Some(expected), None) => {
                problems.push(format!("säkerhetskopia {n:04} är inte signerad (väntad signatur av {expected})"))
            }
            (None, _) => {
                let first =
                    signers.first().map(|s: &Option<crate::format::Signature>| s.as_ref().map(|s| s.nkey.clone()));
                let this = signature.as_ref().map(|s| s.nkey.clone());
                if let Some(first) = first {
                    if first != this {
                        problems.push(format!(
                            "säkerhetskopia {n:04} är signerad annorlunda än 0001 ({}): en säkerhetskopia har bytts ut",
                            this.as_deref().unwrap_or("osignerad")
                        ));
                    }
                }
            }
        }
        signers.push(signature);
        let expected_number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if *n != expected_number || manifest.number != *n {
            problems.push(format!(
                "säkerhetskopia {n:04}: numret stämmer inte (katalog {n:04}, innehållsförteckningen säger {}, väntat {expected_number:04}): en säkerhetskopia saknas eller har flyttats",
                manifest.number
            ));
        }
        match (&manifest.kind, &manifest.previous, &previous_digest) {
            (Kind::Full, None, None) => {}
            (Kind::Incremental, Some(p), Some(d)) if &p.manifest_sha256 == d && p.number + 1 == manifest.number => {}
            _ => problems.push(format!(
                "säkerhetskopia {n:04} ({:?}) ansluter inte till den före: den första ska vara full och varje följande bygga på den förras innehållsförteckning",
                manifest.kind
            )),
        }
        for log in LOGS {
            let Some(part) = manifest.logs.get(log.as_str()) else {
                problems.push(format!("säkerhetskopia {n:04} saknar {}", log.as_str()));
                continue;
            };
            let records = read_log(&here, &part.file)?;
            let expected_from = manifests.last().and_then(|m| m.logs.get(log.as_str())).map(|p| p.to + 1);
            if let Some(expected) = expected_from {
                if part.from != expected {
                    problems.push(format!(
                        "säkerhetskopia {n:04}: {} börjar på sekvens {}, men den förra slutade på {}: {}",
                        log.as_str(),
                        part.from,
                        expected - 1,
                        if part.from > expected { "sekvenser saknas" } else { "sekvenser finns två gånger" }
                    ));
                }
            }
            if records.len() as u64 != part.messages || part.to + 1 < part.from {
                problems.push(format!(
                    "säkerhetskopia {n:04}: {} har {} poster, innehållsförteckningen säger {}",
                    log.as_str(),
                    records.len(),
                    part.messages
                ));
            }
            let out_of_range = records.iter().any(|r| r.seq < part.from || r.seq > part.to);
            let ascending = records.windows(2).all(|w| w[0].seq < w[1].seq);
            if out_of_range || !ascending {
                problems.push(format!(
                    "säkerhetskopia {n:04}: {} har sekvenser utanför {}..{} eller i fel ordning",
                    log.as_str(),
                    part.from,
                    part.to
                ));
            }
            let carried = manifests.last().and_then(|m| m.logs.get(log.as_str())).and_then(|p| p.last_sha256.clone());
            let ends_on = match records.last() {
                Some(r) => Some(crate::take::message_sha256(&r.subject, &r.data)),
                None => carried,
            };
            if part.last_sha256.is_some() && part.last_sha256 != ends_on {
                problems.push(format!(
                    "säkerhetskopia {n:04}: {} slutar inte på det meddelande innehållsförteckningen anger",
                    log.as_str()
                ));
            }
            content.logs.entry(log).or_default().extend(records);
        }
        for bucket in BUCKETS {
            match manifest.buckets.get(bucket.as_str()) {
                Some(part) => {
                    let entries = read_bucket(&here, &part.file)?;
                    if entries.len() as u64 != part.keys {
                        problems.push(format!(
                            "säkerhetskopia {n:04}: {} har {} nycklar, innehållsförteckningen säger {}",
                            bucket.as_str(),
                            entries.len(),
                            part.keys
                        ));
                    }
                    content.buckets.insert(bucket, entries);
                }
                None => problems.push(format!("säkerhetskopia {n:04} saknar {}", bucket.as_str())),
            }
        }
        // The people as the last backup has them: a user removed or rotated since an
        // earlier one does not come back.
        content.users = match &manifest.auth {
            Some(auth) => Some(read_checked(&here, &auth.file)?),
            None => None,
        };
        recorded_heads.extend(manifest.chain_heads.clone());
        previous_digest = Some(digest);
        manifests.push(manifest);
        progress(*n, last_number);
    }

    let first = |log: LogName| manifests.first().and_then(|m| m.logs.get(log.as_str())).map_or(1, |p| p.from);
    let starts = [first(LogName::Events), first(LogName::Quarantine), first(LogName::Access)];
    let mut checked = judge(manifests, content, Some(recorded_heads), problems, starts);
    checked.signers = signers;
    Ok(checked)
}

/// Checks logs held some other way (a mirror's streams, read whole): the same checks
/// of sequences, records and chains as a backup's, with no manifest to compare heads
/// with.
pub fn check_content(content: Content) -> Checked {
    judge(Vec::new(), content, None, Vec::new(), [1, 1, 1])
}

/// The checks of what is held, whatever held it. `starts`: the first sequence of the
/// event log, the quarantine list and the access log.
fn judge(
    manifests: Vec<Manifest>,
    content: Content,
    recorded_heads: Option<BTreeMap<CaseId, ChainHead>>,
    mut problems: Vec<String>,
    starts: [u64; 3],
) -> Checked {
    let [first, quarantine_start, access_start] = starts;
    // Sequences without holes across the chain (a hole in one backup's file is named
    // above; here the logs as a whole).
    for (log, start) in [(LogName::Quarantine, quarantine_start), (LogName::Access, access_start)] {
        let records = content.logs.get(&log).map(Vec::as_slice).unwrap_or_default();
        if let Some((i, r)) = records.iter().enumerate().find(|(i, r)| r.seq != start + *i as u64) {
            problems.push(format!(
                "{}: sekvens {} står där {} väntades: poster saknas eller har flyttats",
                log.as_str(),
                r.seq,
                start + i as u64
            ));
        }
    }
    let mut set_aside = SetAside::new();
    for r in content.logs.get(&LogName::Quarantine).map(Vec::as_slice).unwrap_or_default() {
        match serde_json::from_slice::<stod_store::Quarantined>(&r.data) {
            Ok(q) => {
                set_aside.entry(q.sequence).or_insert((q.sha256, q.reason));
            }
            Err(e) => problems.push(format!("karantänlistans post {} går inte att läsa: {e}", r.seq)),
        }
    }
    for r in content.logs.get(&LogName::Access).map(Vec::as_slice).unwrap_or_default() {
        if let Err(e) = stod_store::access::decode(r.seq, &r.subject, &r.data) {
            problems.push(format!("åtkomstloggens post {} går inte att läsa: {e}", r.seq));
        }
    }

    let events = content.logs.get(&LogName::Events).map(Vec::as_slice).unwrap_or_default();
    let mut found_heads = BTreeMap::new();
    for r in events {
        advance(&mut found_heads, r.seq, &r.subject, &r.data);
    }
    let records = events.iter().map(|r| Record {
        stream_sequence: r.seq,
        subject_case: subject_case(&r.subject),
        bytes: r.data.clone(),
    });
    let verification = verify_setting_aside(records, first, &set_aside);
    let heads = recorded_heads.map(|r| stod_audit::verify::compare_heads(&found_heads, &r)).unwrap_or_default();
    Checked { manifests, events: verification, heads, problems, found_heads, content, signers: Vec::new() }
}
