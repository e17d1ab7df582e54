//! The registry's bucket: keyed hash of a personnummer → participant reference, in the
//! JetStream KV bucket [`REGISTRY_BUCKET`], beside the log and never in it.
//!
//! History is 1: a person's entry is written once and never updated, so there is no
//! old value to keep. Erasure purges the key (value and history) and then the purge
//! marker itself, so not even the hash of an erased person stays behind.

use async_nats::jetstream::kv::{self, CreateErrorKind, Store};
use async_nats::jetstream::stream::StorageType;
use async_nats::jetstream::Context;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use stod_events::ids::{ParticipantRef, Timestamp};

use crate::key::RegistryKey;
use crate::personnummer::Personnummer;

pub use stod_store::REGISTRY_BUCKET;

/// One person's entry. Nothing else about them is stored: the number is only in the
/// key, and only as a keyed hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub participant: ParticipantRef,
    /// When the person was first registered: for gallring by age.
    pub registered_at: Timestamp,
}

/// The registry bucket and the key that finds entries in it.
#[derive(Clone)]
pub struct RegistryStore {
    store: Store,
    key: RegistryKey,
}

/// What went wrong with the registry bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryErrorKind {
    /// JetStream could not be reached or did not answer: retrying is safe.
    Unavailable,
    /// An entry is not what the registry wrote.
    Corrupt,
    /// The entry kept changing under us (registrations racing erasures).
    Conflict,
}

/// An error of the registry bucket. Its message never holds a personnummer: the
/// store only ever sees the keyed hash.
#[derive(Debug, thiserror::Error)]
#[error("{message}: {source_text}")]
pub struct RegistryError {
    kind: RegistryErrorKind,
    message: &'static str,
    source_text: String,
}

impl RegistryError {
    fn new(kind: RegistryErrorKind, message: &'static str, source: impl std::fmt::Display) -> Self {
        Self { kind, message, source_text: source.to_string() }
    }

    pub fn kind(&self) -> RegistryErrorKind {
        self.kind
    }
}

fn unavailable(what: &'static str) -> impl FnOnce(&dyn std::fmt::Display) -> RegistryError {
    move |e| RegistryError::new(RegistryErrorKind::Unavailable, what, e)
}

impl RegistryStore {
    /// Opens (or creates) the bucket.
    pub async fn open(js: &Context, key: RegistryKey, replicas: usize) -> Result<Self, RegistryError> {
        let store = Self::bucket(js, replicas).await?;
        Ok(Self { store, key })
    }

    /// The bucket itself, created as the registry creates it if missing (a restore
    /// writes it back without the key).
    pub async fn bucket(js: &Context, replicas: usize) -> Result<Store, RegistryError> {
        match js.get_key_value(REGISTRY_BUCKET).await {
            Ok(store) => Ok(store),
            Err(_) => js
                .create_key_value(kv::Config {
                    bucket: REGISTRY_BUCKET.to_owned(),
                    description: "stod: keyed hash of personnummer -> participant reference (erasable)".to_owned(),
                    history: 1,
                    storage: StorageType::File,
                    num_replicas: replicas,
                    ..Default::default()
                })
                .await
                .map_err(|e| RegistryError::new(RegistryErrorKind::Unavailable, "opening the registry bucket", e)),
        }
    }

    /// The bucket's key for this person: the keyed hash.
    pub fn key_of(&self, personnummer: &Personnummer) -> String {
        self.key.hash(personnummer)
    }

    /// The person's reference: the existing one, or a new random one (`created`).
    /// Create-if-absent, so two registrations of one person at the same moment, on any
    /// instances, get the same reference.
    pub async fn register(&self, personnummer: &Personnummer) -> Result<(ParticipantRef, bool), RegistryError> {
        let key = self.key_of(personnummer);
        // A concurrent erase can remove the entry between our create and our read;
        // then we try again.
        for _ in 0..5 {
            let entry = Entry { participant: ParticipantRef::new(), registered_at: Timestamp::now() };
            let value = serde_json::to_vec(&entry).unwrap_or_default();
            match self.store.create(&key, value.into()).await {
                Ok(_) => return Ok((entry.participant, true)),
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                    if let Some(existing) = self.entry_by_key(&key).await? {
                        return Ok((existing.participant, false));
                    }
                }
                Err(e) => {
                    return Err(RegistryError::new(RegistryErrorKind::Unavailable, "registering a participant", e))
                }
            }
        }
        Err(RegistryError::new(RegistryErrorKind::Conflict, "the registry entry kept changing", "try again"))
    }

    /// The person's reference, if registered.
    pub async fn lookup(&self, personnummer: &Personnummer) -> Result<Option<ParticipantRef>, RegistryError> {
        Ok(self.entry_by_key(&self.key_of(personnummer)).await?.map(|e| e.participant))
    }

    /// The whole entry, if registered.
    pub async fn entry(&self, personnummer: &Personnummer) -> Result<Option<Entry>, RegistryError> {
        self.entry_by_key(&self.key_of(personnummer)).await
    }

    async fn entry_by_key(&self, key: &str) -> Result<Option<Entry>, RegistryError> {
        let entry = self.store.entry(key).await.map_err(|e| unavailable("reading the registry")(&e))?;
        match entry {
            Some(e) if e.operation == kv::Operation::Put => serde_json::from_slice(&e.value)
                .map(Some)
                .map_err(|err| RegistryError::new(RegistryErrorKind::Corrupt, "registry entry", err)),
            _ => Ok(None),
        }
    }

    /// Erases the person's entry (gallring): the value and every older revision are
    /// purged, and then the purge marker, which would otherwise keep the hash. Returns
    /// whether there was an entry. The log is not touched: it never held the number.
    pub async fn erase(&self, personnummer: &Personnummer) -> Result<bool, RegistryError> {
        let key = self.key_of(personnummer);
        let existed = self.entry_by_key(&key).await?.is_some();
        if !existed {
            return Ok(false);
        }
        self.store
            .purge(&key)
            .await
            .map_err(|e| RegistryError::new(RegistryErrorKind::Unavailable, "erasing a registry entry", e))?;
        self.store
            .stream
            .purge()
            .filter(format!("{}{key}", self.store.prefix))
            .await
            .map_err(|e| RegistryError::new(RegistryErrorKind::Unavailable, "removing the erased entry's marker", e))?;
        Ok(true)
    }

    /// Every stored revision of the person's key, values included: after an erasure,
    /// none. For tests and for an operator proving an erasure.
    pub async fn history(&self, personnummer: &Personnummer) -> Result<Vec<kv::Entry>, RegistryError> {
        let key = self.key_of(personnummer);
        let mut history =
            self.store.history(&key).await.map_err(|e| {
                RegistryError::new(RegistryErrorKind::Unavailable, "reading a registry key's history", e)
            })?;
        let mut out = Vec::new();
        while let Some(entry) = history.next().await {
            match entry {
                Ok(e) => out.push(e),
                Err(e) => {
                    return Err(RegistryError::new(
                        RegistryErrorKind::Unavailable,
                        "reading a registry key's history",
                        e,
                    ))
                }
            }
        }
        Ok(out)
    }

    /// How many entries the bucket holds (the number of registered persons).
    pub async fn count(&self) -> Result<u64, RegistryError> {
        let mut stream = self.store.stream.clone();
        let info = stream
            .info()
            .await
            .map_err(|e| RegistryError::new(RegistryErrorKind::Unavailable, "reading the registry", e))?;
        Ok(info.state.messages)
    }
}
