//! The quarantine list: an operator's decisions to set aside a message of the event log
//! that is not a valid event, so the read models and the case it sits in are read
//! without it.
//!
//! The log cannot be changed, so a foreign message that got in (a bug, a hostile
//! insider on a misconfigured server) stays in it for good. Without this list it
//! would stop the read models at its sequence forever, and make its case unreadable.
//! With it, the readers pass over exactly the bytes the operator looked at: each
//! entry holds the SHA-256 of the message, and a message whose bytes differ is not
//! passed over. A valid event can never be set aside (the command service checks);
//! `stod audit verify` names every entry.
//!
//! The list is its own append-only stream, [`QUARANTINE_STREAM_NAME`], protected like
//! the event log, one subject per sequence: `stod.quarantine.<sequence>`. Records are
//! JSON, versioned by their `version` field.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::context::{GetStreamErrorKind, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config, Stream};
use async_nats::jetstream::{Context, ErrorCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stod_events::ids::{Timestamp, UserId};
use uuid::Uuid;

use crate::error::{Mismatch, StoreError, StoreErrorKind};
use crate::stream::{append_only_config, append_only_mismatches, ensure, EventLogConfig, StreamSpec};

pub const QUARANTINE_STREAM_NAME: &str = "STOD_QUARANTINE";
pub const QUARANTINE_STREAM_SUBJECTS: &str = "stod.quarantine.*";
pub const QUARANTINE_RECORD_VERSION: u16 = 1;
const MAX_QUARANTINE_RECORD_BYTES: i32 = 4096;

/// The SHA-256 of a stored message, hex: what an entry sets aside.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn quarantine_stream_config(cfg: &EventLogConfig) -> Config {
    append_only_config(
        QUARANTINE_STREAM_NAME,
        "stod's quarantine list: messages of the event log set aside by an operator; never deleted",
        QUARANTINE_STREAM_SUBJECTS,
        cfg,
        MAX_QUARANTINE_RECORD_BYTES,
    )
}

pub fn check_quarantine_stream_config(actual: &Config) -> Vec<Mismatch> {
    append_only_mismatches(actual, QUARANTINE_STREAM_SUBJECTS)
}

/// One decision: `by` set the message at `sequence` (its subject and bytes' digest as
/// they were) aside at `at`, for `reason`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    pub version: u16,
    pub id: Uuid,
    pub at: Timestamp,
    pub by: UserId,
    pub sequence: u64,
    pub subject: String,
    pub sha256: String,
    /// `foreign` or `damaged`.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

impl Quarantined {
    pub fn new(by: UserId, sequence: u64, subject: &str, bytes: &[u8], reason: &str, ticket: Option<String>) -> Self {
        Self {
            version: QUARANTINE_RECORD_VERSION,
            id: Uuid::now_v7(),
            at: Timestamp::now(),
            by,
            sequence,
            subject: subject.to_owned(),
            sha256: digest(bytes),
            reason: reason.to_owned(),
            ticket,
        }
    }
}

/// The list on JetStream, with the entries read so far. Cheap to clone.
#[derive(Clone)]
pub struct QuarantineList {
    js: Context,
    /// `None` while the stream does not exist yet (no command service has run).
    stream: Arc<RwLock<Option<Stream>>>,
    known: Arc<RwLock<BTreeMap<u64, Quarantined>>>,
}

impl QuarantineList {
    /// Opens the list, creating the stream if needed (the command service, which
    /// writes it).
    pub async fn open(js: Context, cfg: &EventLogConfig) -> Result<Self, StoreError> {
        let spec = StreamSpec {
            name: QUARANTINE_STREAM_NAME,
            what: "quarantine stream",
            config: quarantine_stream_config(cfg),
            check: check_quarantine_stream_config,
            replicas: cfg.replicas,
        };
        let stream = ensure(&js, &spec).await?;
        let list = Self { js, stream: Arc::new(RwLock::new(Some(stream))), known: Arc::default() };
        list.refresh().await?;
        Ok(list)
    }

    /// The list for a reader: never creates the stream; an absent one is an empty list
    /// until it appears.
    pub fn reader(js: Context) -> Self {
        Self { js, stream: Arc::default(), known: Arc::default() }
    }

    async fn stream(&self) -> Result<Option<Stream>, StoreError> {
        if let Some(stream) = self.stream.read().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(Some(stream));
        }
        match self.js.get_stream(QUARANTINE_STREAM_NAME).await {
            Ok(stream) => {
                *self.stream.write().unwrap_or_else(|p| p.into_inner()) = Some(stream.clone());
                Ok(Some(stream))
            }
            Err(e) => match e.kind() {
                GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND => Ok(None),
                _ => Err(StoreError::with_source(StoreErrorKind::Unavailable, "reading the quarantine list", e)),
            },
        }
    }

    /// Reads every entry again.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let Some(mut stream) = self.stream().await? else { return Ok(()) };
        let unavailable =
            |e: String| StoreError::new(StoreErrorKind::Unavailable, format!("reading the quarantine list: {e}"));
        let last = stream.info().await.map_err(|e| unavailable(e.to_string()))?.state.last_sequence;
        let mut known = BTreeMap::new();
        for seq in 1..=last {
            let msg = stream.get_raw_message(seq).await.map_err(|e| unavailable(e.to_string()))?;
            let entry: Quarantined = serde_json::from_slice(&msg.payload).map_err(|e| {
                StoreError::with_source(StoreErrorKind::Corrupt, format!("quarantine record {seq} does not decode"), e)
            })?;
            if msg.subject.as_str() != format!("stod.quarantine.{}", entry.sequence) {
                return Err(StoreError::new(
                    StoreErrorKind::Corrupt,
                    format!(
                        "quarantine record {seq} names sequence {} but was stored under {}",
                        entry.sequence, msg.subject
                    ),
                ));
            }
            known.entry(entry.sequence).or_insert(entry);
        }
        *self.known.write().unwrap_or_else(|p| p.into_inner()) = known;
        Ok(())
    }

    /// Every entry read so far, by the sequence it sets aside.
    pub fn entries(&self) -> BTreeMap<u64, Quarantined> {
        self.known.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the message at `sequence` with these bytes is set aside. An entry not
    /// known yet is looked for once in the stream (an operator may have just decided).
    pub async fn sets_aside(&self, sequence: u64, bytes: &[u8]) -> Result<bool, StoreError> {
        let matches = |list: &Self| {
            list.known.read().unwrap_or_else(|p| p.into_inner()).get(&sequence).map(|q| q.sha256 == digest(bytes))
        };
        if let Some(found) = matches(self) {
            return Ok(found);
        }
        self.refresh().await?;
        Ok(matches(self).unwrap_or(false))
    }

    /// Appends `entry` (once per sequence: a second decision on the same message is
    /// answered with the first). Returns the entry in force.
    pub async fn record(&self, entry: &Quarantined) -> Result<Quarantined, StoreError> {
        self.refresh().await?;
        if let Some(existing) = self.entries().get(&entry.sequence) {
            return Ok(existing.clone());
        }
        let subject = format!("stod.quarantine.{}", entry.sequence);
        let payload = serde_json::to_vec(entry).unwrap_or_default();
        let publish = PublishMessage::build()
            .payload(payload.into())
            .message_id(format!("quarantine-{}", entry.sequence))
            .expected_stream(QUARANTINE_STREAM_NAME);
        let failed = |e: async_nats::jetstream::context::PublishError| {
            let kind = match e.kind() {
                PublishErrorKind::TimedOut => StoreErrorKind::Timeout,
                _ => StoreErrorKind::Unavailable,
            };
            StoreError::with_source(kind, "appending to the quarantine list", e)
        };
        let ack = self.js.send_publish(subject, publish).await.map_err(failed)?;
        tokio::time::timeout(Duration::from_secs(5), ack)
            .await
            .map_err(|_| StoreError::new(StoreErrorKind::Timeout, "no acknowledgement from the quarantine list"))?
            .map_err(failed)?;
        self.refresh().await?;
        Ok(self.entries().get(&entry.sequence).cloned().unwrap_or_else(|| entry.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_config_passes_our_check_and_the_digest_is_sha256() {
        assert_eq!(check_quarantine_stream_config(&quarantine_stream_config(&EventLogConfig::default())), vec![]);
        assert_eq!(digest(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
