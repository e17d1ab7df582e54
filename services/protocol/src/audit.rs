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
//!
//! A backup (`stod backup`) is the same kind of run, opened by the backup role at
//! `stod.audit.<user>.<backup-info|backup-open|backup-read>` with purpose `backup`: it
//! may read the three logs and the three buckets ([`LogName::is_bucket`]), and
//! nothing else. Auditors' runs (`log-*`) read the three logs only.

use serde::{Deserialize, Serialize};

/// The logs an auditor reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogName {
    /// `STOD_EVENTS`: every fact of every case.
    Events,
    /// `STOD_ACCESS`: who looked at what.
    Access,
    /// `STOD_QUARANTINE`: the operators' decisions to set messages aside.
    Quarantine,
    /// The bucket `stod_participants` (stream `KV_stod_participants`): which case a
    /// participant is in. Backups only.
    Participants,
    /// The bucket `stod_reference`: the reference data in force. Backups only.
    Reference,
    /// The bucket `stod_registry`: keyed hash of a personnummer → participant
    /// reference. Backups only.
    Registry,
}

impl LogName {
    pub fn as_str(self) -> &'static str {
        match self {
            LogName::Events => "events",
            LogName::Access => "access",
            LogName::Quarantine => "quarantine",
            LogName::Participants => "participants",
            LogName::Reference => "reference",
            LogName::Registry => "registry",
        }
    }

    /// Every log and bucket, in the order a backup reads them (the access log last, so
    /// it holds the records of the backup's own runs).
    pub const ALL: [LogName; 6] = [
        LogName::Events,
        LogName::Quarantine,
        LogName::Participants,
        LogName::Reference,
        LogName::Registry,
        LogName::Access,
    ];

    /// The parse of [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == text)
    }

    /// A key-value bucket rather than an append-only log: what it holds is the last
    /// value of each key, and only a backup reads it.
    pub fn is_bucket(self) -> bool {
        matches!(self, LogName::Participants | LogName::Reference | LogName::Registry)
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
    /// `stod backup`: the backup role's runs.
    Backup,
}

impl AuditPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditPurpose::Verify => "verify",
            AuditPurpose::Export => "export",
            AuditPurpose::Replay => "replay",
            AuditPurpose::Access => "access",
            AuditPurpose::Backup => "backup",
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
    /// Where the run starts (an incremental backup: after the previous one's last
    /// sequence); the log's first sequence when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
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
    /// The message's headers, sent for the buckets only (`KV-Operation` tells a
    /// deletion from a value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
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
        let m = LoggedMessage { seq: 7, subject: "stod.events.case.x".into(), data: vec![0, 1, 255], headers: vec![] };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"seq":7,"subject":"stod.events.case.x","data":"AAH/"}"#);
        assert_eq!(serde_json::from_str::<LoggedMessage>(&json).unwrap(), m);
    }
}
