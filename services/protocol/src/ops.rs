//! The operator's requests (`stod.ops.<user>.<name>`): rebuilding the read models (the
//! projector), extending the reference data and setting a foreign message aside (the
//! command service). Each is an act of the operator's own name, never a write the
//! operator makes to a stream.

use serde::{Deserialize, Serialize};
use stod_events::reference::CatalogueFile;

/// `stod.ops.<user>.reference-load`: adds, renames or retires codes (never removes one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceLoadRequest {
    pub extension: CatalogueFile,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReferenceLoadReply {
    /// In force now (unchanged when `before` and `after` are the same).
    Loaded {
        before: Box<CatalogueFile>,
        after: Box<CatalogueFile>,
        previous_fingerprint: String,
        fingerprint: String,
    },
    /// The extension does not fit the catalogue in force; nothing changed.
    Invalid {
        message: String,
    },
    Unavailable {
        message: String,
    },
}

/// Why a message is set aside. Codes, never free text: the quarantine list is kept
/// forever and must hold no personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineReason {
    /// Not written by stod (it does not decode as an event, or names no case).
    Foreign,
    /// Written by stod but damaged on disk.
    Damaged,
}

impl QuarantineReason {
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineReason::Foreign => "foreign",
            QuarantineReason::Damaged => "damaged",
        }
    }
}

/// `stod.ops.<user>.quarantine`: sets the message at `sequence` of the event log aside,
/// so that the read models and the case it sits in are read without it. Only a message
/// that is not a valid event can be set aside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineRequest {
    pub sequence: u64,
    pub reason: QuarantineReason,
    /// An incident or ticket number outside stod (`[A-Za-z0-9-]`, at most 32).
    #[serde(default)]
    pub ticket: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum QuarantineReply {
    /// Recorded (or recorded before: `already`), with the SHA-256 of the bytes set aside.
    Quarantined {
        sequence: u64,
        sha256: String,
        already: bool,
    },
    /// Refused: the message is a valid event, or there is none at that sequence.
    Refused {
        message: String,
    },
    Invalid {
        message: String,
    },
    Unavailable {
        message: String,
    },
}
