//! The read models: their state in sled, their events in a file beside it.
//!
//! # Layout
//!
//! One sled tree per *generation* of the read models (`gen-<n>`), and a `meta` tree
//! whose key `live` names the generation queries read. A rebuild fills a new generation
//! beside the live one and then switches `live` with one insert: the swap is atomic, and
//! queries keep reading the old generation until it happens.
//!
//! Inside a generation's tree (keys are bytes; sequences big-endian):
//!
//! | key | value |
//! |---|---|
//! | `\0checkpoint` | last stream sequence folded in (`u64`) |
//! | `\0version` | [`stod_projections::PROJECTION_VERSION`] that built it (`u32`) |
//!
//! The events a generation folded are in `events/gen-<n>.log` inside the store's
//! directory: records of seq (u64), length (u32) and the stored bytes, in stream order,
//! every sequence from 1 on (a message an operator set aside is a record with length
//! `u32::MAX` and no bytes). Not in sled: sled 0.34 writes a value that large as a
//! separate blob file, keeps every byte it wrote in the process's memory, and can fail to
//! read a blob back once its cache let it go (`No such file or directory`, sled issue
//! 1382: at 10M events a projector could not start). Decision 0015 has the measurements.
//!
//! A batch is written to the file first, at the end of the records the checkpoint
//! covers, and then the new checkpoint goes into sled. After a crash the two are
//! reconciled when the generation is first used: records past the checkpoint (written,
//! checkpoint not) are cut off, and a checkpoint past the file's last good record (the
//! file's tail lost in a power cut, or damaged) comes back to that record: folding
//! resumes from the log right after it. Nothing is lost or counted twice, and a damaged
//! file heals from the log.
//!
//! The reports are answered from each generation's [`Model`] (decision 0014): compact
//! case state and aggregates, kept in memory and moved forward with every batch right
//! after the batch is stored. It is made from the stored events the first time the
//! generation is used after a start, so it always says what the stored events and
//! the checkpoint say. Audit entries and the indexes by user and by day are derived
//! from the stored events when asked for; a case's events are found by the case id at
//! a fixed offset of each stored event.

use std::io::BufReader;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use stod_events::ids::{CaseId, Date};
use stod_events::SealedEvent;
use stod_projections::{AuditEntry, Model, PROJECTION_VERSION};

const CHECKPOINT: &[u8] = b"\0checkpoint";
const VERSION: &[u8] = b"\0version";
const LIVE: &[u8] = b"live";
/// A record of a message set aside: the checkpoint passed it, nothing was folded.
const SET_ASIDE: u32 = u32::MAX;
/// No stored event is near this (the stream takes 64 KiB); a longer record is damage.
const MAX_RECORD_BYTES: u32 = 16 * 1024 * 1024;

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
    /// Where the generations' event files are (`<dir>/events`).
    events_dir: PathBuf,
    /// The model and event file of each open generation, shared by all its handles.
    models: Arc<Mutex<std::collections::HashMap<u64, Arc<Shared>>>>,
    /// An exclusive `flock` on `<dir>.lock`, held while any clone lives: sled cannot be
    /// shared between processes, and a store we could not open because another
    /// process has it must never be mistaken for a damaged one.
    _lock: std::sync::Arc<std::fs::File>,
}

/// What every handle of one generation shares.
struct Shared {
    /// The model and the checkpoint it holds; `None` until made from the stored events
    /// (which also reconciles the event file with the checkpoint).
    model: std::sync::RwLock<Option<ModelState>>,
    events: Mutex<EventFile>,
}

/// A generation's event file.
struct EventFile {
    path: PathBuf,
    /// Open for writing once the generation is new or reconciled.
    file: Option<std::fs::File>,
    /// Where the records the checkpoint covers end: the next batch is written here,
    /// over whatever a failed write left behind.
    end: u64,
}

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
    shared: Arc<Shared>,
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
        let events_dir = dir.join("events");
        std::fs::create_dir_all(&events_dir).map_err(sled::Error::Io)?;
        Ok(Self { db, meta, events_dir, models: Arc::default(), _lock: lock })
    }

    /// The generation queries read, if any was ever completed.
    pub fn live(&self) -> Result<Option<Generation>, StoreError> {
        match self.meta.get(LIVE)? {
            Some(v) => Ok(Some(self.generation(read_u64(&v, "live")?)?)),
            None => Ok(None),
        }
    }

    fn generation(&self, number: u64) -> Result<Generation, StoreError> {
        let shared = self
            .models
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(number)
            .or_insert_with(|| {
                Arc::new(Shared {
                    model: std::sync::RwLock::new(None),
                    events: Mutex::new(EventFile { path: self.events_path(number), file: None, end: 0 }),
                })
            })
            .clone();
        Ok(Generation { number, tree: self.db.open_tree(format!("gen-{number}"))?, shared, _lock: self._lock.clone() })
    }

    fn events_path(&self, number: u64) -> PathBuf {
        self.events_dir.join(format!("gen-{number}.log"))
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
        // Empty, and so are its event file and its model.
        {
            let mut events = generation.shared.events.lock().unwrap_or_else(|p| p.into_inner());
            events.file = Some(std::fs::File::create(&events.path).map_err(sled::Error::Io)?);
            events.end = 0;
        }
        *generation.shared.model.write().unwrap_or_else(|p| p.into_inner()) =
            Some(ModelState { checkpoint: 0, model: Model::new() });
        generation.tree.insert(VERSION, &PROJECTION_VERSION.to_be_bytes())?;
        Ok(generation)
    }

    /// Makes `generation` the live one (one atomic insert). The generation it replaces
    /// is kept until the next swap, because queries that looked up the live generation
    /// just before may still be reading it; any older one is dropped.
    pub fn swap_live(&self, generation: &Generation) -> Result<(), StoreError> {
        let previous = self.live()?.map(|g| g.number);
        if let Some(file) = &generation.shared.events.lock().unwrap_or_else(|p| p.into_inner()).file {
            file.sync_data().map_err(sled::Error::Io)?;
        }
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
        // Event files of dropped generations (and of any a crash left without a tree).
        for entry in std::fs::read_dir(&self.events_dir).map_err(sled::Error::Io)? {
            let path = entry.map_err(sled::Error::Io)?.path();
            let number = path
                .file_name()
                .and_then(|f| f.to_str()?.strip_prefix("gen-")?.strip_suffix(".log")?.parse::<u64>().ok());
            if number.is_some_and(|n| !keep.contains(&Some(n))) {
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(sled::Error::Io(e).into()),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Makes what is stored durable: the event files, then sled.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let shared: Vec<Arc<Shared>> =
            self.models.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        for s in shared {
            let events = s.events.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(file) = &events.file {
                file.sync_data().map_err(sled::Error::Io)?;
            }
        }
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

/// Offset of the case id in a stored event: the format byte, then the event id.
const CASE_ID_AT: std::ops::Range<usize> = 17..33;

/// Reads the records of an event file in order, while they continue the sequence from 1
/// and stay at or below `limit`; hands each stored event to `each`. Returns the last
/// sequence and the offset where the good records end. `each` answers `false` for a
/// record it finds damaged, and the records end before it. A missing file has none.
fn read_records(
    path: &Path,
    limit: u64,
    mut each: impl FnMut(u64, &[u8]) -> Result<bool, StoreError>,
) -> Result<(u64, u64), StoreError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(sled::Error::Io(e).into()),
    };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let (mut last, mut end) = (0u64, 0u64);
    let mut bytes = Vec::new();
    loop {
        let mut head = [0u8; 12];
        if !read_full(&mut reader, &mut head)? {
            break;
        }
        let seq = u64::from_be_bytes(head[..8].try_into().unwrap_or_default());
        let len = u32::from_be_bytes(head[8..].try_into().unwrap_or_default());
        if seq != last + 1 || seq > limit || (len > MAX_RECORD_BYTES && len != SET_ASIDE) {
            break;
        }
        if len != SET_ASIDE {
            bytes.resize(len as usize, 0);
            if !read_full(&mut reader, &mut bytes)? {
                break;
            }
            if !each(seq, &bytes)? {
                break;
            }
            end += 12 + u64::from(len);
        } else {
            end += 12;
        }
        last = seq;
    }
    Ok((last, end))
}

/// Fills `buf`; `false` if the file ends first.
fn read_full(reader: &mut impl std::io::Read, buf: &mut [u8]) -> Result<bool, StoreError> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(sled::Error::Io(e).into()),
    }
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
        if let Some(s) = self.shared.model.write().unwrap_or_else(|p| p.into_inner()).as_mut() {
            s.model.settle();
        }
        Ok(())
    }

    fn apply_as(&self, events: &[(u64, Option<SealedEvent>)], bulk: bool) -> Result<u64, StoreError> {
        let mut state = self.shared.model.write().unwrap_or_else(|p| p.into_inner());
        if state.is_none() {
            // The file is reconciled with the checkpoint before anything is added to it.
            *state = Some(self.load_model()?);
        }
        let s = state.as_mut().unwrap_or_else(|| unreachable!("just made"));
        let mut checkpoint = s.checkpoint;
        let mut records =
            Vec::with_capacity(events.iter().map(|(_, e)| e.as_ref().map_or(0, |e| e.bytes.len()) + 12).sum());
        for (seq, sealed) in events {
            if *seq <= checkpoint {
                continue;
            }
            if *seq != checkpoint + 1 {
                return Err(StoreError::Gap { expected: checkpoint + 1, got: *seq });
            }
            checkpoint = *seq;
            records.extend_from_slice(&seq.to_be_bytes());
            match sealed {
                Some(sealed) => {
                    records.extend_from_slice(&(sealed.bytes.len() as u32).to_be_bytes());
                    records.extend_from_slice(&sealed.bytes);
                }
                None => records.extend_from_slice(&SET_ASIDE.to_be_bytes()),
            }
        }
        if checkpoint == s.checkpoint {
            return Ok(checkpoint);
        }
        // The events first, then the checkpoint that covers them.
        let mut file = self.shared.events.lock().unwrap_or_else(|p| p.into_inner());
        let at = file.end;
        let handle = file.file.as_ref().ok_or_else(|| StoreError::Corrupt {
            key: file.path.display().to_string(),
            detail: "the event file is not open".into(),
        })?;
        handle.write_all_at(&records, at).map_err(sled::Error::Io)?;
        self.tree.insert(CHECKPOINT, &checkpoint.to_be_bytes())?;
        file.end = at + records.len() as u64;
        drop(file);
        // Then the model, so that it never holds what the store does not.
        let folded = events.iter().filter_map(|(seq, e)| Some((*seq, &e.as_ref()?.event)));
        if bulk {
            s.model.fold_bulk(folded);
        } else {
            s.model.apply(folded);
        }
        s.checkpoint = checkpoint;
        Ok(checkpoint)
    }

    /// Runs `read` on the model, making it from the stored events first if this
    /// generation has not been used since the start.
    pub fn with_model<T>(&self, read: impl FnOnce(&ModelState) -> T) -> Result<T, StoreError> {
        {
            let state = self.shared.model.read().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = state.as_ref().filter(|s| s.model.is_settled()) {
                return Ok(read(s));
            }
        }
        let mut state = self.shared.model.write().unwrap_or_else(|p| p.into_inner());
        match state.as_mut() {
            None => *state = Some(self.load_model()?),
            Some(s) => s.model.settle(),
        }
        Ok(read(state.as_ref().unwrap_or_else(|| unreachable!("just made"))))
    }

    /// The model of every stored event up to the checkpoint, in stream order, in
    /// batches; and the event file reconciled with the checkpoint (see the module docs):
    /// cut after the last record the checkpoint covers, and the checkpoint brought back
    /// to the last good record if the file ends or is damaged before it.
    fn load_model(&self) -> Result<ModelState, StoreError> {
        let started = std::time::Instant::now();
        let stored = self.checkpoint()?;
        let mut model = Model::new();
        let mut batch: Vec<(u64, stod_events::RecordedEvent)> = Vec::new();
        let mut file = self.shared.events.lock().unwrap_or_else(|p| p.into_inner());
        let (last, end) = read_records(&file.path, stored, |seq, bytes| {
            // Every stored event was decoded before it was stored: one that no longer
            // decodes is damage, and the records end before it.
            let Ok(sealed) = stod_events::codec::decode(bytes) else { return Ok(false) };
            batch.push((seq, sealed.event));
            if batch.len() >= 4096 {
                model.fold_bulk(batch.iter().map(|(s, e)| (*s, e)));
                batch.clear();
            }
            Ok(true)
        })?;
        model.fold_bulk(batch.iter().map(|(s, e)| (*s, e)));
        let handle = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&file.path)
            .map_err(sled::Error::Io)?;
        if handle.metadata().map_err(sled::Error::Io)?.len() > end {
            handle.set_len(end).map_err(sled::Error::Io)?;
        }
        if last < stored {
            tracing::warn!(
                generation = self.number,
                checkpoint = stored,
                stored_events_end = last,
                "the stored events end before the checkpoint (lost in a power cut, or damaged): folding resumes from the log after {last}"
            );
            self.tree.insert(CHECKPOINT, &last.to_be_bytes())?;
        }
        file.file = Some(handle);
        file.end = end;
        drop(file);
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
        Ok(ModelState { checkpoint: last, model })
    }

    /// Every stored event up to the checkpoint, in stream order, handed to `each` as
    /// (sequence, bytes).
    fn for_each_event(&self, mut each: impl FnMut(u64, &[u8]) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let path = self.shared.events.lock().unwrap_or_else(|p| p.into_inner()).path.clone();
        read_records(&path, self.checkpoint()?, |seq, bytes| each(seq, bytes).map(|()| true))?;
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
