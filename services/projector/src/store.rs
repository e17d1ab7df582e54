//! The read models in sled.
//!
//! # Layout
//!
//! One sled tree per *generation* of the read models (`gen-<n>`), and a `meta` tree
//! whose key `live` names the generation queries read. A rebuild fills a new generation
//! beside the live one and then switches `live` with one insert: the swap is atomic, and
//! queries keep reading the old generation until it happens.
//!
//! Inside a generation (keys are bytes; sequences big-endian so they sort):
//!
//! | key | value |
//! |---|---|
//! | `\0checkpoint` | last stream sequence folded in (`u64`) |
//! | `\0version` | [`stod_projections::PROJECTION_VERSION`] that built it (`u32`) |
//! | `c` case-id(16) | the case record (JSON) |
//! | `a` case-id(16) seq(8) | the audit entry of one event (JSON) |
//! | `u` user 0x00 seq(8) | case id: events by who recorded them |
//! | `d` day(4) seq(8) | case id: events by recording day (UTC) |
//!
//! Every batch of events and the new checkpoint go into the tree in one
//! `apply_batch`, which sled applies atomically: after a crash the tree holds a prefix
//! of batches, its checkpoint says which, and folding resumes right after it. Nothing
//! is lost or counted twice.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};
use stod_events::ids::{CaseId, Date};
use stod_events::SealedEvent;
use stod_projections::{AuditEntry, CaseRecord, PROJECTION_VERSION};

const CHECKPOINT: &[u8] = b"\0checkpoint";
const VERSION: &[u8] = b"\0version";
const LIVE: &[u8] = b"live";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("read-model store: {0}")]
    Sled(#[from] sled::Error),
    #[error("read-model store holds undecodable data at {key}: {detail}")]
    Corrupt { key: String, detail: String },
    /// Another process has the store open. Nothing was touched.
    #[error("the read-model store {0} is in use by another process (stod up or stod projector); give this one its own directory")]
    Locked(String),
    /// The stream skipped a sequence: an event is missing from the log.
    #[error("the event log has a gap: expected stream sequence {expected}, got {got}")]
    Gap { expected: u64, got: u64 },
}

impl StoreError {
    pub fn is_gap(&self) -> bool {
        matches!(self, StoreError::Gap { .. })
    }
}

/// The sled database holding every generation.
#[derive(Clone)]
pub struct ReadStore {
    db: sled::Db,
    meta: sled::Tree,
    /// An exclusive `flock` on `<dir>.lock`, held while any clone lives: sled cannot be
    /// shared between processes, and a store we could not open because another
    /// process has it must never be mistaken for a damaged one.
    _lock: std::sync::Arc<std::fs::File>,
}

/// One generation of the read models.
#[derive(Clone)]
pub struct Generation {
    pub number: u64,
    tree: sled::Tree,
    /// The tree keeps sled open, so it keeps the store's lock too.
    _lock: std::sync::Arc<std::fs::File>,
}

impl ReadStore {
    /// Opens (or creates) the store in `dir`. If it cannot be opened, the damaged store
    /// is moved aside (`<dir>.damaged-<time>`) and a fresh one created: the log is the
    /// truth, and the read models are rebuilt from it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let lock = std::sync::Arc::new(lock(dir)?);
        match Self::open_exact(dir, lock.clone()) {
            Ok(s) => Ok(s),
            // sled's own lock: something in this very process still has it open.
            Err(StoreError::Sled(sled::Error::Io(e))) if e.to_string().contains("could not acquire lock") => {
                Err(StoreError::Locked(dir.display().to_string()))
            }
            Err(e) => {
                // We hold the lock, so no other stod process has it open: it is damaged.
                let aside = dir.with_extension(format!("damaged-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S")));
                tracing::error!("read-model store at {} cannot be opened ({e}); moving it to {} and rebuilding from the log", dir.display(), aside.display());
                std::fs::rename(dir, &aside).map_err(sled::Error::Io)?;
                Self::open_exact(dir, lock)
            }
        }
    }

    fn open_exact(dir: &Path, lock: std::sync::Arc<std::fs::File>) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(dir).flush_every_ms(Some(200)).open()?;
        let meta = db.open_tree("meta")?;
        Ok(Self { db, meta, _lock: lock })
    }

    /// The generation queries read, if any was ever completed.
    pub fn live(&self) -> Result<Option<Generation>, StoreError> {
        match self.meta.get(LIVE)? {
            Some(v) => Ok(Some(self.generation(read_u64(&v, "live")?)?)),
            None => Ok(None),
        }
    }

    fn generation(&self, number: u64) -> Result<Generation, StoreError> {
        Ok(Generation { number, tree: self.db.open_tree(format!("gen-{number}"))?, _lock: self._lock.clone() })
    }

    /// A new, empty generation numbered after every existing one.
    pub fn new_generation(&self) -> Result<Generation, StoreError> {
        let highest = self
            .db
            .tree_names()
            .iter()
            .filter_map(|n| std::str::from_utf8(n).ok()?.strip_prefix("gen-")?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let generation = self.generation(highest + 1)?;
        generation.tree.clear()?;
        generation.tree.insert(VERSION, &PROJECTION_VERSION.to_be_bytes())?;
        Ok(generation)
    }

    /// Makes `generation` the live one (one atomic insert). The generation it replaces
    /// is kept until the next swap, because queries that looked up the live generation
    /// just before may still be reading it; any older one is dropped.
    pub fn swap_live(&self, generation: &Generation) -> Result<(), StoreError> {
        let previous = self.live()?.map(|g| g.number);
        self.meta.insert(LIVE, &generation.number.to_be_bytes())?;
        self.db.flush()?;
        self.drop_generations_except(&[Some(generation.number), previous])
    }

    /// Drops every generation but the live one: at start-up nobody reads the others.
    pub fn drop_stale_generations(&self) -> Result<(), StoreError> {
        let live = self.live()?.map(|g| g.number);
        self.drop_generations_except(&[live])
    }

    fn drop_generations_except(&self, keep: &[Option<u64>]) -> Result<(), StoreError> {
        for name in self.db.tree_names() {
            if let Some(n) = std::str::from_utf8(&name).ok().and_then(|n| n.strip_prefix("gen-")?.parse::<u64>().ok()) {
                if !keep.contains(&Some(n)) {
                    self.db.drop_tree(&name)?;
                }
            }
        }
        Ok(())
    }

    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }
}

/// Takes the store's lock file, `<dir>.lock`, without waiting.
fn lock(dir: &Path) -> Result<std::fs::File, StoreError> {
    let path = dir.with_extension("lock");
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(sled::Error::Io)?;
    }
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(sled::Error::Io)?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd as _;
        // SAFETY: flock(2) on a descriptor we own and keep open with the store.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(StoreError::Locked(dir.display().to_string()));
        }
    }
    Ok(file)
}

fn read_u64(v: &[u8], key: &str) -> Result<u64, StoreError> {
    v.try_into().map(u64::from_be_bytes).map_err(|_| StoreError::Corrupt { key: key.into(), detail: format!("{} bytes", v.len()) })
}

fn case_key(case: &CaseId) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(b'c');
    k.extend_from_slice(case.as_uuid().as_bytes());
    k
}

fn audit_key(case: &CaseId, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(25);
    k.push(b'a');
    k.extend_from_slice(case.as_uuid().as_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Days since 1970 with the sign bit flipped, so negative days still sort first.
fn day_bytes(date: Date) -> [u8; 4] {
    ((i32::from(date) as u32) ^ 0x8000_0000).to_be_bytes()
}

impl Generation {
    pub fn checkpoint(&self) -> Result<u64, StoreError> {
        self.tree.get(CHECKPOINT)?.map_or(Ok(0), |v| read_u64(&v, "checkpoint"))
    }

    pub fn version(&self) -> Result<Option<u32>, StoreError> {
        Ok(self.tree.get(VERSION)?.and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok().map(u32::from_be_bytes)))
    }

    /// Folds a batch of events (consecutive stream sequences) in, atomically with the
    /// new checkpoint. Events at or below the checkpoint are skipped (redelivery); a
    /// skipped sequence is a [`StoreError::Gap`] and nothing is written.
    pub fn apply(&self, events: &[(u64, SealedEvent)]) -> Result<u64, StoreError> {
        let mut checkpoint = self.checkpoint()?;
        let mut records: HashMap<CaseId, CaseRecord> = HashMap::new();
        let mut batch = sled::Batch::default();
        for (seq, sealed) in events {
            if *seq <= checkpoint {
                continue;
            }
            if *seq != checkpoint + 1 {
                return Err(StoreError::Gap { expected: checkpoint + 1, got: *seq });
            }
            checkpoint = *seq;
            let ev = &sealed.event;
            let record = match records.entry(ev.case_id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(self.case(&ev.case_id)?.unwrap_or_else(|| CaseRecord::new(ev.case_id)))
                }
            };
            record.apply(*seq, ev);
            let entry = AuditEntry::new(*seq, sealed);
            batch.insert(audit_key(&ev.case_id, *seq), json(&entry));
            let mut by_user = Vec::with_capacity(ev.recorded_by.as_str().len() + 10);
            by_user.push(b'u');
            by_user.extend_from_slice(ev.recorded_by.as_str().as_bytes());
            by_user.push(0);
            by_user.extend_from_slice(&seq.to_be_bytes());
            batch.insert(by_user, ev.case_id.as_uuid().as_bytes().to_vec());
            let mut by_day = vec![b'd'];
            by_day.extend_from_slice(&day_bytes(ev.recorded_at.date_utc()));
            by_day.extend_from_slice(&seq.to_be_bytes());
            batch.insert(by_day, ev.case_id.as_uuid().as_bytes().to_vec());
        }
        for (case, record) in &records {
            batch.insert(case_key(case), json(record));
        }
        batch.insert(CHECKPOINT, &checkpoint.to_be_bytes());
        self.tree.apply_batch(batch)?;
        Ok(checkpoint)
    }

    pub fn case(&self, case: &CaseId) -> Result<Option<CaseRecord>, StoreError> {
        match self.tree.get(case_key(case))? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| StoreError::Corrupt { key: format!("case {case}"), detail: e.to_string() }),
            None => Ok(None),
        }
    }

    /// Every case record.
    pub fn cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        self.tree
            .scan_prefix(b"c")
            .map(|kv| {
                let (k, v) = kv?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt { key: hex::encode(k), detail: e.to_string() })
            })
            .collect()
    }

    /// The audit entries of one case, in stream order.
    pub fn audit(&self, case: &CaseId) -> Result<Vec<AuditEntry>, StoreError> {
        let mut prefix = vec![b'a'];
        prefix.extend_from_slice(case.as_uuid().as_bytes());
        self.tree
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt { key: hex::encode(k), detail: e.to_string() })
            })
            .collect()
    }

    /// (case, stream sequence) of every event a user recorded, in stream order.
    pub fn by_user(&self, user: &str) -> Result<Vec<(CaseId, u64)>, StoreError> {
        let mut prefix = vec![b'u'];
        prefix.extend_from_slice(user.as_bytes());
        prefix.push(0);
        self.index(prefix)
    }

    /// (case, stream sequence) of every event recorded on a UTC day.
    pub fn by_day(&self, day: Date) -> Result<Vec<(CaseId, u64)>, StoreError> {
        let mut prefix = vec![b'd'];
        prefix.extend_from_slice(&day_bytes(day));
        self.index(prefix)
    }

    fn index(&self, prefix: Vec<u8>) -> Result<Vec<(CaseId, u64)>, StoreError> {
        let len = prefix.len();
        self.tree
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                let corrupt = || StoreError::Corrupt { key: hex::encode(&k), detail: "index entry".into() };
                let seq = k.get(len..len + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).ok_or_else(corrupt)?;
                let case = <[u8; 16]>::try_from(v.as_ref()).map_err(|_| corrupt())?;
                Ok((CaseId::from(case), u64::from_be_bytes(seq)))
            })
            .collect()
    }

    /// SHA-256 over every key and value: two generations with the same digest hold the
    /// same read models at the same checkpoint.
    pub fn digest(&self) -> Result<String, StoreError> {
        let mut h = Sha256::new();
        for kv in self.tree.iter() {
            let (k, v) = kv?;
            h.update((k.len() as u64).to_be_bytes());
            h.update(&k);
            h.update((v.len() as u64).to_be_bytes());
            h.update(&v);
        }
        Ok(hex::encode(h.finalize()))
    }
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Our read-model types serialise infallibly (no maps with non-string keys, no
    // custom errors); an empty value would surface as Corrupt on read.
    serde_json::to_vec(value).unwrap_or_default()
}

impl ReadStore {
    /// Digest of the live generation (see [`Generation::digest`]); empty string if none.
    pub fn digest_of_live(&self) -> Result<String, StoreError> {
        self.live()?.map_or(Ok(String::new()), |g| g.digest())
    }
}
