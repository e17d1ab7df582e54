//! Two small shared indexes beside the log, in JetStream key-value buckets.
//!
//! - [`ParticipantIndex`]: which case a participant (by pseudonymous reference) is in,
//!   so "one open case per participant" holds across cases and service instances.
//! - [`ReferenceStore`]: the reference-data catalogue in force, so every instance
//!   validates against the same codes.
//!
//! Both are written with compare-and-set on the key's revision; neither holds personal
//! data.

use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind, Store, UpdateErrorKind};
use async_nats::jetstream::stream::StorageType;
use async_nats::jetstream::Context;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use stod_events::ids::{CaseId, ParticipantRef, Timestamp};
use stod_events::reference::{Catalogue, CatalogueFile};

use crate::error::{StoreError, StoreErrorKind};

pub const PARTICIPANTS_BUCKET: &str = "stod_participants";
pub const REFERENCE_BUCKET: &str = "stod_reference";
/// The participant registry's bucket (`stod-registry` owns it; named here so that
/// every bucket of stod is named in one place, for backups).
pub const REGISTRY_BUCKET: &str = "stod_registry";
const CATALOGUE_KEY: &str = "catalogue";

async fn open_bucket(
    js: &Context,
    bucket: &str,
    description: &str,
    history: i64,
    replicas: usize,
) -> Result<Store, StoreError> {
    match js.get_key_value(bucket).await {
        Ok(store) => Ok(store),
        Err(_) => js
            .create_key_value(kv::Config {
                bucket: bucket.to_owned(),
                description: description.to_owned(),
                history,
                storage: StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| StoreError::with_source(StoreErrorKind::JetStream, format!("opening bucket {bucket}"), e)),
    }
}

fn unavailable(what: &str) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> StoreError + '_ {
    move |e| StoreError::new(StoreErrorKind::Unavailable, format!("{what}: {e}"))
}

/// A participant's claim on a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub case_id: CaseId,
    /// When the claim was made: a claim whose case never got its intake (the writer
    /// crashed in between) may be taken over once it is old enough.
    pub claimed_at: Timestamp,
    #[serde(skip)]
    pub revision: u64,
}

/// Participant reference → the case they were last enrolled in.
#[derive(Clone)]
pub struct ParticipantIndex {
    store: Store,
}

impl ParticipantIndex {
    pub async fn open(js: &Context, replicas: usize) -> Result<Self, StoreError> {
        let store =
            open_bucket(js, PARTICIPANTS_BUCKET, "stod: participant reference -> current case", 5, replicas).await?;
        Ok(Self { store })
    }

    fn key(participant: &ParticipantRef) -> String {
        participant.to_string()
    }

    pub async fn current(&self, participant: &ParticipantRef) -> Result<Option<Claim>, StoreError> {
        let entry = self
            .store
            .entry(Self::key(participant))
            .await
            .map_err(|e| unavailable("reading the participant index")(Box::new(e)))?;
        match entry {
            Some(e) if e.operation == kv::Operation::Put => {
                let mut claim: Claim = serde_json::from_slice(&e.value)
                    .map_err(|err| StoreError::with_source(StoreErrorKind::Corrupt, "participant index entry", err))?;
                claim.revision = e.revision;
                Ok(Some(claim))
            }
            _ => Ok(None),
        }
    }

    /// Claims the participant for `case_id`: only if nobody has (`previous` None), or
    /// only if the claim is still at `previous`'s revision. [`StoreErrorKind::Conflict`]
    /// if someone else got there first.
    pub async fn claim(
        &self,
        participant: &ParticipantRef,
        case_id: CaseId,
        previous: Option<&Claim>,
    ) -> Result<Claim, StoreError> {
        let mut claim = Claim { case_id, claimed_at: Timestamp::now(), revision: 0 };
        let value = serde_json::to_vec(&claim).unwrap_or_default();
        let key = Self::key(participant);
        let revision = match previous {
            None => self.store.create(&key, value.into()).await.map_err(|e| match e.kind() {
                CreateErrorKind::AlreadyExists => {
                    StoreError::new(StoreErrorKind::Conflict, "participant already claimed")
                }
                _ => StoreError::with_source(StoreErrorKind::Unavailable, "claiming a participant", e),
            })?,
            Some(prev) => self.store.update(&key, value.into(), prev.revision).await.map_err(|e| match e.kind() {
                UpdateErrorKind::WrongLastRevision => {
                    StoreError::new(StoreErrorKind::Conflict, "participant claim changed")
                }
                _ => StoreError::with_source(StoreErrorKind::Unavailable, "claiming a participant", e),
            })?,
        };
        claim.revision = revision;
        Ok(claim)
    }
}

/// The reference-data catalogue in force, shared by every instance.
#[derive(Clone)]
pub struct ReferenceStore {
    store: Store,
}

impl ReferenceStore {
    pub async fn open(js: &Context, replicas: usize) -> Result<Self, StoreError> {
        // History kept, so an auditor can see which codes were valid when.
        let store = open_bucket(js, REFERENCE_BUCKET, "stod: reference data catalogue", 64, replicas).await?;
        Ok(Self { store })
    }

    /// The catalogue in force; the first instance to start stores `default`.
    pub async fn load_or_init(&self, default: &Catalogue) -> Result<(Catalogue, u64), StoreError> {
        loop {
            if let Some(found) = self.load().await? {
                return Ok(found);
            }
            let json = serde_json::to_vec(&default.to_file()).unwrap_or_default();
            match self.store.create(CATALOGUE_KEY, json.into()).await {
                Ok(revision) => return Ok((default.clone(), revision)),
                // Another instance initialised it at the same moment: read theirs.
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(StoreError::with_source(StoreErrorKind::Unavailable, "storing reference data", e))
                }
            }
        }
    }

    pub async fn load(&self) -> Result<Option<(Catalogue, u64)>, StoreError> {
        let entry =
            self.store.entry(CATALOGUE_KEY).await.map_err(|e| unavailable("reading reference data")(Box::new(e)))?;
        match entry {
            Some(e) if e.operation == kv::Operation::Put => Ok(Some((parse_catalogue(&e.value)?, e.revision))),
            _ => Ok(None),
        }
    }

    /// Applies an operator's extension with compare-and-set, retrying if another
    /// change landed in between. Returns the new catalogue.
    pub async fn extend(&self, default: &Catalogue, extension: &CatalogueFile) -> Result<Catalogue, StoreError> {
        for _ in 0..10 {
            let (current, revision) = self.load_or_init(default).await?;
            let next = current.extend(extension.clone()).map_err(|e| StoreError::invalid(e.to_string()))?;
            let json = serde_json::to_vec(&next.to_file()).unwrap_or_default();
            match self.store.update(CATALOGUE_KEY, json.into(), revision).await {
                Ok(_) => return Ok(next),
                Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => {
                    return Err(StoreError::with_source(StoreErrorKind::Unavailable, "storing reference data", e))
                }
            }
        }
        Err(StoreError::new(StoreErrorKind::Conflict, "reference data kept changing; try again"))
    }

    /// Calls `on_change` with each new catalogue as it is stored, until the watch ends
    /// (connection closed). Undecodable versions are skipped and logged.
    pub async fn watch(&self, mut on_change: impl FnMut(Catalogue, u64)) -> Result<(), StoreError> {
        let mut watch = self
            .store
            .watch(CATALOGUE_KEY)
            .await
            .map_err(|e| StoreError::with_source(StoreErrorKind::Unavailable, "watching reference data", e))?;
        while let Some(entry) = watch.next().await {
            match entry {
                Ok(e) if e.operation == kv::Operation::Put => match parse_catalogue(&e.value) {
                    Ok(cat) => on_change(cat, e.revision),
                    Err(err) => tracing::error!(revision = e.revision, "ignoring stored reference data: {err}"),
                },
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("reference data watch: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        Ok(())
    }
}

fn parse_catalogue(bytes: &[u8]) -> Result<Catalogue, StoreError> {
    let file: CatalogueFile = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::with_source(StoreErrorKind::Corrupt, "stored reference data", e))?;
    Catalogue::from_file(file)
        .map_err(|e| StoreError::new(StoreErrorKind::Corrupt, format!("stored reference data is invalid: {e}")))
}
