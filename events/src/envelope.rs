//! The envelope: what every event carries besides its content.

use std::fmt;

use crate::event::{Event, EventType};
use crate::ids::{CaseId, Date, EventId, SubmissionId, Timestamp, UserId};

/// An event as recorded in the log: envelope plus content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    pub event_id: EventId,
    pub case_id: CaseId,
    /// The business date the case worker stated.
    pub occurred_on: Date,
    /// Server clock at append.
    pub recorded_at: Timestamp,
    /// The authenticated user, taken from credentials, never from the request body.
    pub recorded_by: UserId,
    /// The client submission that caused this event, for idempotent retries.
    pub submission_id: SubmissionId,
    pub event: Event,
}

impl RecordedEvent {
    pub fn event_type(&self) -> EventType {
        self.event.event_type()
    }
}

/// SHA-256 link of an event to the previous event of its case.
///
/// `chain_hash(n) = SHA-256(chain_hash(n-1) ‖ body(n))`, with 32 zero bytes before the
/// first event of a case; `body` is the encoded event without its trailing hash. See
/// `docs/event-format.md` for the byte layout an auditor can check with standard tools.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The hash "before" the first event of every case.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s).ok()?;
        bytes.try_into().ok().map(ChainHash)
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// An event in its stored form: the exact bytes in the log and their chain hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedEvent {
    pub event: RecordedEvent,
    pub chain_hash: ChainHash,
    pub bytes: Vec<u8>,
}
