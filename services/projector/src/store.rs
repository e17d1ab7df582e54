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
//! | `b` last-seq(8) | one folded batch: per event, seq (u64), length (u32), stored bytes |
//!
//! Folding a batch is one blind insert, never a read-modify-write: sled's cost per
//! insert, not per byte, bounds how fast read models build (see
//! `docs/decisions/0005-read-models-as-case-records.md`). Audit entries and the
//! indexes by user and by day are derived from the stored events when asked for; a
//! case's events are found by the case id at a fixed offset of each stored event.
//!
//! The reports are answered from each generation's [`Model`] (decision 0014): compact
//! case state and aggregates, kept in memory and moved forward with every batch right
//! after the batch is stored. It is made from the stored events the first time the
//! generation is used after a start, so it always says what the stored events and
//! the checkpoint say.
//!
//! Every batch of events and the new checkpoint go into the tree in one
//! `apply_batch`, which sled applies atomically: after a crash the tree holds a prefix
//! of batches, its checkpoint says which, and folding resumes right after it. A
//! redelivered event rewrites the same bytes under the same key. Nothing is lost or
//! counted twice.

use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use stod_events::ids::{CaseId, Date};
use stod_events::SealedEvent;
use stod_projections::{AuditEntry, Model, PROJECTION_VERSION};

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

/// I/O errors that say something about the machine (space, quota, permissions), not
/// about the store's contents.
fn is_environmental(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::*;
    matches!(kind, StorageFull | FileTooLarge | QuotaExceeded | PermissionDenied | ReadOnlyFilesystem | OutOfMemory)
}

/// The sled database holding every generation.
#[derive(Clone)]
pub struct ReadStore {
    db: sled::Db,
    meta: sled::Tree,
    /// The model of each open generation, shared by all its handles.
    models: Arc<Mutex<std::collections::HashMap<u64, SharedModel>>>,
    /// An exclusive `flock` on `<dir>.lock`, held while any clone lives: sled cannot be
    /// shared between processes, and a store we could not open because another
    /// process has it must never be mistaken for a damaged one.
    _lock: std::sync::Arc<std::fs::File>,
}

/// A generation's model and the checkpoint it holds; `None` until made from the stored
/// events.
type SharedModel = Arc<std::sync::RwLock<Option<ModelState>>>;

/// The model of a generation, as of a checkpoint.
pub struct ModelState {
    pub checkpoint: u64,
    pub model: Model,
}

/// One generation of the read models.
#[derive(Clone)]
pub struct Generation {
    pub number: u64,
    tree: sled::Tree,
    model: SharedModel,
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
            // The disk is full, or the store may not be written: the store itself may
            // be intact, and moving it aside would throw it away (and rebuilding on a
            // full disk fails again). Report it; a person frees space and restarts.
            Err(StoreError::Sled(sled::Error::Io(e))) if is_environmental(e.kind()) => {
                Err(StoreError::Sled(sled::Error::Io(e)))
            }
            Err(e) => {
                // We hold the lock, so no other stod process has it open: it is damaged.
                let aside = dir.with_extension(format!("damaged-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S")));
                tracing::error!(
                    "read-model store at {} cannot be opened ({e}); moving it to {} and rebuilding from the log",
                    dir.display(),
                    aside.display()
                );
                std::fs::rename(dir, &aside).map_err(sled::Error::Io)?;
                Self::open_exact(dir, lock)
            }
        }
    }

    fn open_exact(dir: &Path, lock: std::sync::Arc<std::fs::File>) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(dir).flush_every_ms(Some(200)).open()?;
        let meta = db.open_tree("meta")?;
        Ok(Self { db, meta, models: Arc::default(), _lock: lock })
    }

    /// The generation queries read, if any was ever completed.
    pub fn live(&self) -> Result<Option<Generation>, StoreError> {
        match self.meta.get(LIVE)? {
            Some(v) => Ok(Some(self.generation(read_u64(&v, "live")?)?)),
            None => Ok(None),
        }
    }

    fn generation(&self, number: u64) -> Result<Generation, StoreError> {
        let model = self.models.lock().unwrap_or_else(|p| p.into_inner()).entry(number).or_default().clone();
        Ok(Generation { number, tree: self.db.open_tree(format!("gen-{number}"))?, model, _lock: self._lock.clone() })
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
        // Empty, and so is its model.
        *generation.model.write().unwrap_or_else(|p| p.into_inner()) =
            Some(ModelState { checkpoint: 0, model: Model::new() });
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
                    self.models.lock().unwrap_or_else(|p| p.into_inner()).remove(&n);
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
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(sled::Error::Io)?;
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
    v.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt { key: key.into(), detail: format!("{} bytes", v.len()) })
}

fn batch_key(last_seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(b'b');
    k.extend_from_slice(&last_seq.to_be_bytes());
    k
}

/// Offset of the case id in a stored event: the format byte, then the event id.
const CASE_ID_AT: std::ops::Range<usize> = 17..33;

/// The (sequence, stored bytes) records of one batch value.
fn batch_records<'a>(key: &'a [u8], value: &'a [u8]) -> impl Iterator<Item = Result<(u64, &'a [u8]), StoreError>> + 'a {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at >= value.len() {
            return None;
        }
        let start = at;
        let corrupt =
            move || StoreError::Corrupt { key: hex::encode(key), detail: format!("batch record at byte {start}") };
        let head = match value.get(at..at + 12) {
            Some(h) => h,
            None => {
                at = value.len();
                return Some(Err(corrupt()));
            }
        };
        let seq = u64::from_be_bytes(head[..8].try_into().unwrap_or_default());
        let len = u32::from_be_bytes(head[8..12].try_into().unwrap_or_default()) as usize;
        let Some(bytes) = value.get(at + 12..at + 12 + len) else {
            let e = corrupt();
            at = value.len();
            return Some(Err(e));
        };
        at += 12 + len;
        Some(Ok((seq, bytes)))
    })
}

fn decode_stored(seq: u64, bytes: &[u8]) -> Result<SealedEvent, StoreError> {
    stod_events::codec::decode(bytes)
        .map_err(|e| StoreError::Corrupt { key: format!("stream sequence {seq}"), detail: e.to_string() })
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
    /// skipped sequence is a [`StoreError::Gap`] and nothing is written. `None` is a
    /// message an operator set aside: the checkpoint passes it, nothing is folded.
    pub fn apply(&self, events: &[(u64, Option<SealedEvent>)]) -> Result<u64, StoreError> {
        self.apply_as(events, false)
    }

    /// As [`apply`](Self::apply), for a generation being rebuilt: the model's cases
    /// take the events and its aggregates are made once, by [`settle`](Self::settle).
    pub fn apply_bulk(&self, events: &[(u64, Option<SealedEvent>)]) -> Result<u64, StoreError> {
        self.apply_as(events, true)
    }

    /// Makes the model's aggregates if a bulk fold left them to do.
    pub fn settle(&self) -> Result<(), StoreError> {
        if let Some(s) = self.model.write().unwrap_or_else(|p| p.into_inner()).as_mut() {
            s.model.settle();
        }
        Ok(())
    }

    fn apply_as(&self, events: &[(u64, Option<SealedEvent>)], bulk: bool) -> Result<u64, StoreError> {
        let mut checkpoint = self.checkpoint()?;
        let mut packed = Vec::with_capacity(events.iter().flat_map(|(_, e)| e).map(|e| e.bytes.len() + 12).sum());
        for (seq, sealed) in events {
            if *seq <= checkpoint {
                continue;
            }
            if *seq != checkpoint + 1 {
                return Err(StoreError::Gap { expected: checkpoint + 1, got: *seq });
            }
            checkpoint = *seq;
            let Some(sealed) = sealed else { continue };
            packed.extend_from_slice(&seq.to_be_bytes());
            packed.extend_from_slice(&(sealed.bytes.len() as u32).to_be_bytes());
            packed.extend_from_slice(&sealed.bytes);
        }
        let mut batch = sled::Batch::default();
        if !packed.is_empty() {
            batch.insert(batch_key(checkpoint), packed);
        }
        batch.insert(CHECKPOINT, &checkpoint.to_be_bytes());
        self.tree.apply_batch(batch)?;
        // Then the model, so that it never holds what the store does not.
        let mut state = self.model.write().unwrap_or_else(|p| p.into_inner());
        match state.as_mut() {
            Some(s) => {
                let folded = events.iter().filter_map(|(seq, e)| Some((*seq, &e.as_ref()?.event)));
                if bulk {
                    s.model.fold_bulk(folded);
                } else {
                    s.model.apply(folded);
                }
                s.checkpoint = checkpoint;
            }
            None => *state = Some(self.load_model(checkpoint)?),
        }
        Ok(checkpoint)
    }

    /// Runs `read` on the model, making it from the stored events first if this
    /// generation has not been used since the start.
    pub fn with_model<T>(&self, read: impl FnOnce(&ModelState) -> T) -> Result<T, StoreError> {
        {
            let state = self.model.read().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = state.as_ref().filter(|s| s.model.is_settled()) {
                return Ok(read(s));
            }
        }
        let mut state = self.model.write().unwrap_or_else(|p| p.into_inner());
        match state.as_mut() {
            None => *state = Some(self.load_model(self.checkpoint()?)?),
            Some(s) => s.model.settle(),
        }
        Ok(read(state.as_ref().unwrap_or_else(|| unreachable!("just made"))))
    }

    /// The model of every stored event up to `checkpoint`, in stream order, in batches.
    fn load_model(&self, checkpoint: u64) -> Result<ModelState, StoreError> {
        let started = std::time::Instant::now();
        let mut model = Model::new();
        let mut batch: Vec<(u64, stod_events::RecordedEvent)> = Vec::new();
        self.for_each_event(|seq, bytes| {
            if seq <= checkpoint {
                batch.push((seq, decode_stored(seq, bytes)?.event));
                if batch.len() >= 4096 {
                    model.fold_bulk(batch.iter().map(|(s, e)| (*s, e)));
                    batch.clear();
                }
            }
            Ok(())
        })?;
        model.fold_bulk(batch.iter().map(|(s, e)| (*s, e)));
        let folded = started.elapsed();
        model.settle();
        tracing::info!(
            generation = self.number,
            cases = model.cases(),
            explicit = model.explicit_cases(),
            read_and_folded = ?folded,
            elapsed = ?started.elapsed(),
            "read models loaded from the stored events"
        );
        Ok(ModelState { checkpoint, model })
    }

    /// Every stored event, in stream order, handed to `each` as (sequence, bytes).
    fn for_each_event(&self, mut each: impl FnMut(u64, &[u8]) -> Result<(), StoreError>) -> Result<(), StoreError> {
        for kv in self.tree.scan_prefix(b"b") {
            let (k, v) = kv?;
            for record in batch_records(&k, &v) {
                let (seq, bytes) = record?;
                each(seq, bytes)?;
            }
        }
        Ok(())
    }

    /// One case's events, in stream order.
    fn case_events(&self, case: &CaseId) -> Result<Vec<(u64, SealedEvent)>, StoreError> {
        let id = case.as_uuid().as_bytes();
        let mut out = Vec::new();
        self.for_each_event(|seq, bytes| {
            if bytes.get(CASE_ID_AT) == Some(&id[..]) {
                out.push((seq, decode_stored(seq, bytes)?));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The audit entries of one case, in stream order.
    pub fn audit(&self, case: &CaseId) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.case_events(case)?.iter().map(|(seq, e)| AuditEntry::new(*seq, e)).collect())
    }

    /// (case, stream sequence) of every event a user recorded, in stream order. A scan
    /// of the whole generation: an auditor's question, not a hot path.
    pub fn by_user(&self, user: &str) -> Result<Vec<(CaseId, u64)>, StoreError> {
        self.events_where(|e| e.event.recorded_by.as_str() == user)
    }

    /// (case, stream sequence) of every event recorded on a UTC day, in stream order.
    pub fn by_day(&self, day: Date) -> Result<Vec<(CaseId, u64)>, StoreError> {
        self.events_where(|e| e.event.recorded_at.date_utc() == day)
    }

    fn events_where(&self, keep: impl Fn(&SealedEvent) -> bool) -> Result<Vec<(CaseId, u64)>, StoreError> {
        let mut out = Vec::new();
        self.for_each_event(|seq, bytes| {
            let sealed = decode_stored(seq, bytes)?;
            if keep(&sealed) {
                out.push((sealed.event.case_id, seq));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// SHA-256 over what the generation holds: its version, checkpoint, every stored
    /// event in order, and the aggregates of its model. Equal digests, equal read
    /// models, however the events were split into batches (a crash and resume splits
    /// them differently).
    pub fn digest(&self) -> Result<String, StoreError> {
        let mut h = Sha256::new();
        self.with_model(|s| {
            use std::fmt::Write as _;
            let _ = write!(HashWriter(&mut h), "{}:{:?}", s.checkpoint, s.model.aggregates());
        })?;
        h.update(self.version()?.unwrap_or(0).to_be_bytes());
        h.update(self.checkpoint()?.to_be_bytes());
        self.for_each_event(|seq, bytes| {
            h.update(seq.to_be_bytes());
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
            Ok(())
        })?;
        Ok(hex::encode(h.finalize()))
    }
}

/// Feeds formatted text into a hash without building it.
struct HashWriter<'a>(&'a mut Sha256);

impl std::fmt::Write for HashWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

impl ReadStore {
    /// Digest of the live generation (see [`Generation::digest`]); empty string if none.
    pub fn digest_of_live(&self) -> Result<String, StoreError> {
        self.live()?.map_or(Ok(String::new()), |g| g.digest())
    }
}
