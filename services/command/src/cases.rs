//! Loading cases from the log, with a small cache.
//!
//! The cache is only an optimisation: every append names the sequence the case was
//! at, so a stale entry costs one conflict and a reload; a rejection is returned only
//! once the stream leader confirms the case's last sequence (otherwise the case is
//! reloaded and decided again): never a wrong decision.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use stod_events::case::CaseState;
use stod_events::ids::{CaseId, EventId};
use stod_events::SealedEvent;
use stod_store::{EventStore, StoreError, StoredEvent};

/// A case as loaded: its folded state, where its subject stands, and where each of
/// its events is in the stream (for answering retried submissions).
#[derive(Clone, Debug, Default)]
pub struct LoadedCase {
    pub state: CaseState,
    /// Stream sequence of the case's last event; 0 if the case has none.
    pub last_sequence: u64,
    pub sequences: HashMap<EventId, u64>,
}

impl LoadedCase {
    pub fn from_events(events: &[StoredEvent]) -> Self {
        let mut case = LoadedCase::default();
        for e in events {
            case.apply(e.stream_sequence, &e.sealed);
        }
        case
    }

    pub fn apply(&mut self, sequence: u64, sealed: &SealedEvent) {
        self.state.evolve(sealed);
        self.last_sequence = sequence;
        self.sequences.insert(sealed.event.event_id, sequence);
    }
}

pub struct Cases {
    store: EventStore,
    cache: Mutex<HashMap<CaseId, Arc<LoadedCase>>>,
    capacity: usize,
}

impl Cases {
    pub fn new(store: EventStore, capacity: usize) -> Self {
        Self { store, cache: Mutex::new(HashMap::new()), capacity }
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// The case, from the cache unless `fresh`.
    pub async fn load(&self, case_id: &CaseId, fresh: bool) -> Result<Arc<LoadedCase>, StoreError> {
        if !fresh {
            if let Some(hit) = self.lock().get(case_id) {
                return Ok(hit.clone());
            }
        }
        let (events, last) = self.store.load_case_at(case_id).await?;
        let mut case = LoadedCase::from_events(&events);
        // A message set aside after the last event still counts for the next append.
        case.last_sequence = last;
        let case = Arc::new(case);
        self.put(*case_id, case.clone());
        Ok(case)
    }

    pub fn put(&self, case_id: CaseId, case: Arc<LoadedCase>) {
        let mut cache = self.lock();
        if cache.len() >= self.capacity && !cache.contains_key(&case_id) {
            // Crude but bounded: cases are cheap to reload, and an eviction policy
            // would be more code than this cache is worth.
            cache.clear();
        }
        cache.insert(case_id, case);
    }

    pub fn forget(&self, case_id: &CaseId) {
        self.lock().remove(case_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CaseId, Arc<LoadedCase>>> {
        // A panic while holding this lock cannot leave the map inconsistent (every
        // operation is a single insert/remove/clear), so a poisoned lock is still usable.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}
