//! Why a request did not succeed, sorted by what the caller should do next.

use stod_events::case::RejectionKind;
use stod_events::ids::CaseId;

/// Why a submission or query did not succeed. The messages are Swedish: they are
/// shown to the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A case rule refused it; nothing was recorded.
    #[error("avvisat: {message}")]
    Rejected { kind: RejectionKind, message: String, valid: Vec<String> },
    /// The case kept changing; nothing was recorded. Look again, then retry.
    #[error("konflikt: {0}")]
    Conflict(String),
    /// The request was malformed; nothing was recorded.
    #[error("ogiltig förfrågan: {0}")]
    Invalid(String),
    /// No definite answer after retrying. Nothing is lost by submitting again later
    /// with the same submission id.
    #[error("tjänsten kan inte nås: {0}")]
    Unavailable(String),
    #[error("ärendet {0} finns inte")]
    NotFound(CaseId),
    /// The server refused it for this user's role; nothing was recorded.
    #[error("servern nekade: {0}")]
    Forbidden(String),
    /// The caller's own settings are wrong (a NATS address, `STOD_CLIENT_RETRIES`):
    /// nothing was sent.
    #[error("{0}")]
    Usage(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientErrorKind {
    Rejected,
    Conflict,
    Invalid,
    Unavailable,
    NotFound,
    Forbidden,
    Usage,
}

impl ClientError {
    pub fn kind(&self) -> ClientErrorKind {
        match self {
            ClientError::Rejected { .. } => ClientErrorKind::Rejected,
            ClientError::Conflict(_) => ClientErrorKind::Conflict,
            ClientError::Invalid(_) => ClientErrorKind::Invalid,
            ClientError::Unavailable(_) => ClientErrorKind::Unavailable,
            ClientError::NotFound(_) => ClientErrorKind::NotFound,
            ClientError::Forbidden(_) => ClientErrorKind::Forbidden,
            ClientError::Usage(_) => ClientErrorKind::Usage,
        }
    }
}
