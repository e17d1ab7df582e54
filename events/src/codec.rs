//! The pinned binary codec of the event log.
//!
//! # Byte layout (format 1)
//!
//! ```text
//! [0]          format byte, 0x01
//! [1 .. n-32]  bincode 2.0.1 (little endian, fixed-width integers) of the envelope
//! [n-32 .. n]  chain hash: SHA-256(previous chain hash ‖ bytes[0 .. n-32])
//! ```
//!
//! The envelope holds the event type code and schema version, and the event content as
//! a nested byte string encoded the same way, so the envelope can be read without
//! knowing every payload version, and each payload version is decoded by its own frozen
//! struct. `docs/event-format.md` spells out every field for auditors.
//!
//! bincode is pinned to exactly `=2.0.1` (see `docs/decisions/0002-bincode-pinned.md`);
//! the golden fixtures in `events/tests/fixtures/` fail the build on any change of bytes.
//!
//! Decoding never panics, refuses trailing bytes, and allocates at most
//! [`MAX_EVENT_BYTES`] whatever length prefixes the input claims.

use bincode::config::{Configuration, Fixint, Limit, LittleEndian};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::envelope::{ChainHash, RecordedEvent, SealedEvent};
use crate::event::{
    Corrected, CorrectionReason, Enrolled, Event, EventType, Exited, Fact, FollowedUp, PlacementEnded,
    PlacementStarted, ProgressAssessed, ResponsibleChanged, Retracted, TrainingCompleted, TrainingDiscontinued,
    TrainingStarted,
};
use crate::ids::{CaseId, Date, EventId, SubmissionId, Timestamp, UserId};

/// The only format byte written today.
pub const FORMAT_V1: u8 = 1;

/// Upper bound of one encoded event. Far above any real event (a few hundred bytes);
/// it bounds what a hostile length prefix can make the decoder allocate.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

const HASH_LEN: usize = 32;

/// The one bincode configuration of the log. Changing any part of it changes the bytes.
type Config = Configuration<LittleEndian, Fixint, Limit<MAX_EVENT_BYTES>>;

const fn config() -> Config {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding().with_limit::<MAX_EVENT_BYTES>()
}

/// Envelope of format 1, exactly as written. Field order is the wire order.
#[derive(Serialize, Deserialize)]
struct WireEnvelopeV1 {
    event_id: EventId,
    case_id: CaseId,
    event_type: u16,
    schema_version: u16,
    occurred_on: Date,
    recorded_at: Timestamp,
    recorded_by: UserId,
    submission_id: SubmissionId,
    /// The corrected or retracted event, for those two types; `None` otherwise.
    corrects: Option<EventId>,
    payload: Vec<u8>,
}

/// Payload of `Corrected` version 1. The replacement fact is nested with its own type
/// and version, so it keeps decoding when that fact type gets a new version.
#[derive(Serialize, Deserialize)]
struct WireCorrectedV1 {
    reason: CorrectionReason,
    replacement_type: u16,
    replacement_version: u16,
    replacement: Vec<u8>,
}

/// Payload of `Retracted` version 1.
#[derive(Serialize, Deserialize)]
struct WireRetractedV1 {
    reason: CorrectionReason,
}

/// Why bytes could not be decoded as an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("event is {len} bytes, shorter than the smallest possible event")]
    TooShort { len: usize },
    #[error("event is {len} bytes, more than the {MAX_EVENT_BYTES} allowed")]
    TooLong { len: usize },
    #[error("unknown event format byte {0:#04x}")]
    UnknownFormat(u8),
    #[error("malformed {part}: {detail}")]
    Malformed { part: &'static str, detail: String },
    #[error("{trailing} unexpected trailing bytes after the {part}")]
    TrailingBytes { part: &'static str, trailing: usize },
    #[error("unknown event type {event_type} version {version}")]
    UnknownType { event_type: u16, version: u16 },
    #[error("{0}")]
    Inconsistent(&'static str),
}

impl DecodeError {
    pub fn kind(&self) -> DecodeErrorKind {
        match self {
            DecodeError::TooShort { .. } | DecodeError::TooLong { .. } => DecodeErrorKind::Size,
            DecodeError::UnknownFormat(_) => DecodeErrorKind::UnknownFormat,
            DecodeError::Malformed { .. } => DecodeErrorKind::Malformed,
            DecodeError::TrailingBytes { .. } => DecodeErrorKind::TrailingBytes,
            DecodeError::UnknownType { .. } => DecodeErrorKind::UnknownType,
            DecodeError::Inconsistent(_) => DecodeErrorKind::Inconsistent,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    Size,
    UnknownFormat,
    Malformed,
    TrailingBytes,
    UnknownType,
    Inconsistent,
}

/// An event that cannot be encoded: only possible for values the case rules never
/// produce (e.g. thousands of scores), so callers treat it as a bug or a bad request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event cannot be encoded: {0}")]
pub struct EncodeError(String);

fn encode_part<T: Serialize>(value: &T) -> Result<Vec<u8>, EncodeError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| EncodeError(e.to_string()))
}

fn decode_part<T: DeserializeOwned>(bytes: &[u8], part: &'static str) -> Result<T, DecodeError> {
    let (value, read) = bincode::serde::decode_from_slice::<T, _>(bytes, config())
        .map_err(|e| DecodeError::Malformed { part, detail: e.to_string() })?;
    if read != bytes.len() {
        return Err(DecodeError::TrailingBytes { part, trailing: bytes.len() - read });
    }
    Ok(value)
}

fn encode_fact(fact: &Fact) -> Result<Vec<u8>, EncodeError> {
    match fact {
        Fact::Enrolled(p) => encode_part(p),
        Fact::PlacementStarted(p) => encode_part(p),
        Fact::PlacementEnded(p) => encode_part(p),
        Fact::TrainingStarted(p) => encode_part(p),
        Fact::TrainingCompleted(p) => encode_part(p),
        Fact::TrainingDiscontinued(p) => encode_part(p),
        Fact::ProgressAssessed(p) => encode_part(p),
        Fact::Exited(p) => encode_part(p),
        Fact::FollowedUp(p) => encode_part(p),
        Fact::ResponsibleChanged(p) => encode_part(p),
    }
}

/// Decodes a fact payload of any known (type, version), upcasting old versions to the
/// current shape. This match is where every future upcaster goes.
fn decode_fact(event_type: u16, version: u16, bytes: &[u8]) -> Result<Fact, DecodeError> {
    const P: &str = "payload";
    let ty = EventType::from_code(event_type).ok_or(DecodeError::UnknownType { event_type, version })?;
    Ok(match (ty, version) {
        (EventType::Enrolled, 1) => Fact::Enrolled(decode_part::<Enrolled>(bytes, P)?),
        (EventType::PlacementStarted, 1) => Fact::PlacementStarted(decode_part::<PlacementStarted>(bytes, P)?),
        (EventType::PlacementEnded, 1) => Fact::PlacementEnded(decode_part::<PlacementEnded>(bytes, P)?),
        (EventType::TrainingStarted, 1) => Fact::TrainingStarted(decode_part::<TrainingStarted>(bytes, P)?),
        (EventType::TrainingCompleted, 1) => Fact::TrainingCompleted(decode_part::<TrainingCompleted>(bytes, P)?),
        (EventType::TrainingDiscontinued, 1) => {
            Fact::TrainingDiscontinued(decode_part::<TrainingDiscontinued>(bytes, P)?)
        }
        (EventType::ProgressAssessed, 1) => Fact::ProgressAssessed(decode_part::<ProgressAssessed>(bytes, P)?),
        (EventType::Exited, 1) => Fact::Exited(decode_part::<Exited>(bytes, P)?),
        (EventType::FollowedUp, 1) => Fact::FollowedUp(decode_part::<FollowedUp>(bytes, P)?),
        (EventType::ResponsibleChanged, 1) => Fact::ResponsibleChanged(decode_part::<ResponsibleChanged>(bytes, P)?),
        _ => return Err(DecodeError::UnknownType { event_type, version }),
    })
}

/// The chain hash of an event body given the previous event's chain hash.
pub fn chain_hash(previous: &ChainHash, body: &[u8]) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(previous.0);
    hasher.update(body);
    ChainHash(hasher.finalize().into())
}

/// Encodes an event and links it to the previous event of its case.
pub fn seal(event: RecordedEvent, previous: &ChainHash) -> Result<SealedEvent, EncodeError> {
    let ty = event.event_type();
    let (corrects, payload) = match &event.event {
        Event::Fact(fact) => (None, encode_fact(fact)?),
        Event::Corrected(c) => {
            let inner = c.replacement.event_type();
            let wire = WireCorrectedV1 {
                reason: c.reason,
                replacement_type: inner.code(),
                replacement_version: inner.current_version(),
                replacement: encode_fact(&c.replacement)?,
            };
            (Some(c.target), encode_part(&wire)?)
        }
        Event::Retracted(r) => (Some(r.target), encode_part(&WireRetractedV1 { reason: r.reason })?),
    };
    let envelope = WireEnvelopeV1 {
        event_id: event.event_id,
        case_id: event.case_id,
        event_type: ty.code(),
        schema_version: ty.current_version(),
        occurred_on: event.occurred_on,
        recorded_at: event.recorded_at,
        recorded_by: event.recorded_by.clone(),
        submission_id: event.submission_id,
        corrects,
        payload,
    };
    let mut bytes = Vec::with_capacity(256);
    bytes.push(FORMAT_V1);
    bytes.extend(encode_part(&envelope)?);
    let hash = chain_hash(previous, &bytes);
    bytes.extend_from_slice(&hash.0);
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(EncodeError(format!("{} bytes is over the limit", bytes.len())));
    }
    Ok(SealedEvent { event, chain_hash: hash, bytes })
}

/// Decodes stored bytes. The chain hash is read, not checked: checking needs the
/// previous event of the case (see [`verify_link`]).
pub fn decode(bytes: &[u8]) -> Result<SealedEvent, DecodeError> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(DecodeError::TooLong { len: bytes.len() });
    }
    if bytes.len() < 1 + HASH_LEN {
        return Err(DecodeError::TooShort { len: bytes.len() });
    }
    if bytes[0] != FORMAT_V1 {
        return Err(DecodeError::UnknownFormat(bytes[0]));
    }
    let (body, hash) = bytes.split_at(bytes.len() - HASH_LEN);
    let wire: WireEnvelopeV1 = decode_part(&body[1..], "envelope")?;
    let version = wire.schema_version;
    let ty = EventType::from_code(wire.event_type)
        .ok_or(DecodeError::UnknownType { event_type: wire.event_type, version })?;
    let event = match (ty, wire.corrects) {
        (EventType::Corrected, Some(target)) if version == 1 => {
            let c: WireCorrectedV1 = decode_part(&wire.payload, "payload")?;
            let replacement = decode_fact(c.replacement_type, c.replacement_version, &c.replacement)?;
            Event::Corrected(Corrected { target, reason: c.reason, replacement })
        }
        (EventType::Retracted, Some(target)) if version == 1 => {
            let r: WireRetractedV1 = decode_part(&wire.payload, "payload")?;
            Event::Retracted(Retracted { target, reason: r.reason })
        }
        (EventType::Corrected | EventType::Retracted, Some(_)) => {
            return Err(DecodeError::UnknownType { event_type: wire.event_type, version })
        }
        (EventType::Corrected | EventType::Retracted, None) => {
            return Err(DecodeError::Inconsistent("a correction must name the event it corrects"))
        }
        (_, Some(_)) => return Err(DecodeError::Inconsistent("only a correction may name a corrected event")),
        (_, None) => Event::Fact(decode_fact(wire.event_type, version, &wire.payload)?),
    };
    let mut chain = [0u8; HASH_LEN];
    chain.copy_from_slice(hash);
    Ok(SealedEvent {
        event: RecordedEvent {
            event_id: wire.event_id,
            case_id: wire.case_id,
            occurred_on: wire.occurred_on,
            recorded_at: wire.recorded_at,
            recorded_by: wire.recorded_by,
            submission_id: wire.submission_id,
            event,
        },
        chain_hash: ChainHash(chain),
        bytes: bytes.to_vec(),
    })
}

/// Whether stored bytes carry the chain hash that follows from `previous`: false if the
/// event was changed, or if it does not directly follow `previous` in its case.
pub fn verify_link(previous: &ChainHash, bytes: &[u8]) -> bool {
    if bytes.len() < 1 + HASH_LEN {
        return false;
    }
    let (body, hash) = bytes.split_at(bytes.len() - HASH_LEN);
    chain_hash(previous, body).0 == hash
}
