//! The auditor's reads of whole logs, through the command service
//! (`stod.audit.<user>.<log-info|log-open|log-read>`): the bytes exactly as stored, for
//! the auditor to verify, and every run recorded in the access log before anything of
//! it is sent.
//!
//! A run is opened for one log and one purpose ([`LogOpenRequest`]); the service
//! records it and answers with the run's id and the range it covers (the log's first
//! and last sequence at that moment). The auditor then reads the range in batches
//! ([`LogReadRequest`]), naming the run; a read outside an opened run, or by another
//! user, is refused.

use serde::{Deserialize, Serialize};

/// The logs an auditor reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogName {
    /// `STOD_EVENTS`: every fact of every case.
    Events,
    /// `STOD_ACCESS`: who looked at what.
    Access,
    /// `STOD_QUARANTINE`: the operators' decisions to set messages aside.
    Quarantine,
}

impl LogName {
    pub fn as_str(self) -> &'static str {
        match self {
            LogName::Events => "events",
            LogName::Access => "access",
            LogName::Quarantine => "quarantine",
        }
    }
}

/// Why an auditor reads a whole log (`stod audit <verify|export|replay|access>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditPurpose {
    Verify,
    Export,
    Replay,
    Access,
}

impl AuditPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditPurpose::Verify => "verify",
            AuditPurpose::Export => "export",
            AuditPurpose::Replay => "replay",
            AuditPurpose::Access => "access",
        }
    }
}

/// A protection of a stream that is looser than stod requires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loosened {
    pub setting: String,
    pub actual: String,
    pub expected: String,
}

/// `stod.audit.<user>.log-info`: where a log begins and ends, and its protections.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogInfoQuery {
    pub log: LogName,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LogInfoReply {
    Found {
        first: u64,
        last: u64,
        messages: u64,
        loosened: Vec<Loosened>,
    },
    /// The log does not exist (no service ever ran on this NATS).
    NotFound {
        message: String,
    },
    Invalid {
        message: String,
    },
    Unavailable {
        message: String,
    },
}

/// `stod.audit.<user>.log-open`: starts a run, recorded in the access log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogOpenRequest {
    pub log: LogName,
    pub purpose: AuditPurpose,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LogOpenReply {
    /// The run may read sequences `first..=last` (none when `last` is 0).
    Opened {
        run: String,
        first: u64,
        last: u64,
        loosened: Vec<Loosened>,
    },
    NotFound {
        message: String,
    },
    Invalid {
        message: String,
    },
    Unavailable {
        message: String,
    },
}

/// `stod.audit.<user>.log-read`: the next messages of a run, from `from` on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogReadRequest {
    pub run: String,
    pub from: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LogReadReply {
    /// In order, without gaps the log does not have; empty once the run's range is read.
    Batch {
        messages: Vec<LoggedMessage>,
    },
    Invalid {
        message: String,
    },
    Unavailable {
        message: String,
    },
}

/// One stored message, exactly as the log holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedMessage {
    pub seq: u64,
    pub subject: String,
    /// The stored bytes, base64 (standard alphabet, padded).
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

/// The most payload one batch carries: well under NATS's default 1 MiB message, with
/// room for base64 and JSON.
pub const MAX_BATCH_BYTES: usize = 512 * 1024;

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_message_carries_its_bytes_in_base64() {
        let m = LoggedMessage { seq: 7, subject: "stod.events.case.x".into(), data: vec![0, 1, 255] };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"seq":7,"subject":"stod.events.case.x","data":"AAH/"}"#);
        assert_eq!(serde_json::from_str::<LoggedMessage>(&json).unwrap(), m);
    }
}
