//! The JetStream side of stod's event log.
//!
//! Every event stod records lives in one JetStream stream, [`STREAM_NAME`],
//! with one subject per case ([`case_subject`]). The stream is the system of
//! record, so its definition ([`stream_config`]) makes the server itself
//! refuse deletes, purges and rollups, and sets no retention limit.
//!
//! ```no_run
//! # async fn example(client: async_nats::Client) -> Result<(), stod_store::StoreError> {
//! let js = async_nats::jetstream::new(client);
//! let stream = stod_store::ensure_stream(&js, &stod_store::EventLogConfig::default()).await?;
//! # drop(stream);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`stream`]: the stream's name, subjects and config; [`ensure_stream`].
//! - [`log`]: [`EventStore`]: append one event to a case with optimistic
//!   concurrency and deduplication, or events of several cases as one atomic
//!   batch (group commit); load a case, get one event.
//! - [`kv`]: [`ParticipantIndex`] and [`ReferenceStore`], the shared indexes.
//! - [`access`]: the access log beside the event log: [`ACCESS_STREAM_NAME`],
//!   [`AccessRecord`] (who looked at which case, when) and [`AccessLog`] to record
//!   and read them.
//! - [`quarantine`]: [`QuarantineList`], the operators' decisions to set a foreign
//!   message of the log aside.
//! - [`raw`]: any of the streams read as stored, for auditors.
//! - [`error`]: [`StoreError`] with a [`StoreErrorKind`].
//!
//! # What it does not do
//!
//! It decides nothing: the case rules are `stod-events`, and the codec that
//! turns events into bytes is there too. This crate only moves bytes.

pub mod access;
pub mod error;
pub mod kv;
pub mod log;
pub mod quarantine;
pub mod raw;
pub mod stream;

pub use access::{
    access_stream_config, access_subject, check_access_stream_config, ensure_access_stream, record_subject,
    run_subject, AccessFilter, AccessLog, AccessRecord, AccessView, StoredAccess, ACCESS_RECORD_VERSION,
    ACCESS_STREAM_NAME, ACCESS_STREAM_SUBJECTS,
};
pub use kv::{Claim, ParticipantIndex, ReferenceStore, PARTICIPANTS_BUCKET, REFERENCE_BUCKET, REGISTRY_BUCKET};
pub use log::{Appended, BatchAppend, EventStore, RawMessage, StoredEvent, MAX_BATCH};
pub use quarantine::{QuarantineList, Quarantined, QUARANTINE_STREAM_NAME};

pub use error::{Mismatch, StoreError, StoreErrorKind};
pub use stream::{
    case_subject, check_stream_config, ensure_stream, stream_config, EventLogConfig, STREAM_NAME, STREAM_SUBJECTS,
    SUBJECT_PREFIX,
};
