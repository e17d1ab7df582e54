//! The store's error type, with a kind that separates "try again" from "fix
//! the deployment".

use std::fmt;

/// What went wrong, for callers that react differently to each case and for
/// tests, which assert on the kind and never on the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// JetStream could not be reached or did not answer in time. Transient:
    /// retrying later may succeed.
    Unavailable,
    /// JetStream answered with an error (e.g. it refused the stream config,
    /// or is not enabled for this account). Needs a person to look.
    JetStream,
    /// The event stream exists but with settings that would break the log's
    /// guarantees (deletes or purges allowed, a retention limit...). We never
    /// change those silently; see [`StoreError::mismatches`].
    StreamMismatch,
    /// An append expected the case (or index entry) to be at one revision and
    /// it had moved on: someone else wrote first. Reload, decide again.
    Conflict,
    /// An atomic batch held a message id JetStream already stored (a retried
    /// submission): nothing of the batch was stored. Append its events one by one,
    /// which answers the retried one as a duplicate.
    DuplicateInBatch,
    /// No acknowledgement arrived in time. The write may or may not have been
    /// stored: retry with the same message id, which never stores twice.
    Timeout,
    /// A message in the log or an index is not what stod wrote: it does not
    /// decode. Nothing is decided on top of it.
    Corrupt,
    /// The caller's input was refused (e.g. a reference-data extension that would
    /// remove a code); nothing was written.
    Invalid,
    /// The stream does not exist (opening for reading only never creates it).
    NotFound,
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unavailable => "JetStream unavailable",
            Self::JetStream => "JetStream error",
            Self::StreamMismatch => "stream has unsafe settings",
            Self::Conflict => "concurrent write",
            Self::DuplicateInBatch => "a batch repeated a stored message id",
            Self::Timeout => "no acknowledgement in time (outcome unknown)",
            Self::Corrupt => "undecodable data",
            Self::Invalid => "refused",
            Self::NotFound => "no such stream",
        })
    }
}

/// One setting of the existing stream that differs from what the event log
/// requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The setting's name as in the NATS stream config (`deny_delete`, ...),
    /// so an operator can find it in `nats stream info`.
    pub setting: &'static str,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {}, must be {}", self.setting, self.actual, self.expected)
    }
}

/// An error from the event store.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    mismatches: Vec<Mismatch>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StoreError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Invalid, message)
    }

    /// For callers that stand between the store and its users (a queue, a
    /// committer) and stopped: transient, like an unreachable server.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Unavailable, message)
    }

    /// For such callers that gave up waiting: the outcome is unknown, as after an
    /// acknowledgement that did not come.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Timeout, message)
    }

    pub(crate) fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), mismatches: Vec::new(), source: None }
    }

    pub(crate) fn with_source(
        kind: StoreErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self { source: Some(Box::new(source)), ..Self::new(kind, message) }
    }

    pub(crate) fn stream_mismatch(stream: &str, mismatches: Vec<Mismatch>) -> Self {
        let listed: Vec<String> = mismatches.iter().map(Mismatch::to_string).collect();
        Self {
            mismatches,
            ..Self::new(
                StoreErrorKind::StreamMismatch,
                format!(
                    "stream {stream} exists with settings stod cannot run on: {}; \
                     stod will not change them itself, since that could hide a tampered log. \
                     Inspect it with `nats stream info {stream}` and fix it deliberately",
                    listed.join("; ")
                ),
            )
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// For [`StoreErrorKind::StreamMismatch`]: each offending setting. Empty
    /// for other kinds.
    pub fn mismatches(&self) -> &[Mismatch] {
        &self.mismatches
    }
}
