//! What can go wrong, sorted by what the person at the keyboard should do next; each
//! kind has its own exit code so scripts can tell them apart.

use serde_json::{json, Value};
use stod_client::ClientError;
use stod_events::case::RejectionKind;
use stod_store::{StoreError, StoreErrorKind};

/// Exit codes, as documented in `stod --help`.
pub mod exit_code {
    pub const OK: u8 = 0;
    /// Anything not listed below.
    pub const OTHER: u8 = 1;
    /// Bad command line (clap uses 2 for its own errors too).
    pub const USAGE: u8 = 2;
    pub const REJECTED: u8 = 3;
    pub const CONFLICT: u8 = 4;
    pub const UNAVAILABLE: u8 = 5;
    pub const INVALID: u8 = 6;
    pub const NOT_FOUND: u8 = 7;
    /// The log or an audit export does not hold together (`stod audit verify`).
    pub const INTEGRITY: u8 = 8;
    /// The server refused it: the user's role does not allow it. Nothing recorded.
    pub const FORBIDDEN: u8 = 9;
}

/// An error of the `stod` command, with a Swedish message a case worker can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// The command line was incomplete or wrong in a way clap cannot check.
    #[error("{0}")]
    Usage(String),
    /// A case rule refused the command; nothing was recorded.
    #[error("avvisat: {message}")]
    Rejected { kind: RejectionKind, message: String, valid: Vec<String> },
    /// The case changed under us too often; nothing was recorded.
    #[error("konflikt: {0}")]
    Conflict(String),
    /// No definite answer: NATS or the service could not be reached.
    #[error("tjänsten kan inte nås: {0}")]
    Unavailable(String),
    /// The request (or a file) was malformed; nothing was changed.
    #[error("ogiltigt: {0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// Integritetsfel: the log or an export is not as written (changed, missing,
    /// inserted or reordered events, a damaged file).
    #[error("integritetsfel: {message}")]
    Integrity {
        message: String,
        /// The command already printed its full result (every finding) on stdout, so
        /// `--json` must not add a second value there.
        shown: bool,
    },
    /// The server refused it for the user's role; nothing was recorded.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Other(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit_code::USAGE,
            CliError::Rejected { .. } => exit_code::REJECTED,
            CliError::Conflict(_) => exit_code::CONFLICT,
            CliError::Unavailable(_) => exit_code::UNAVAILABLE,
            CliError::Invalid(_) => exit_code::INVALID,
            CliError::NotFound(_) => exit_code::NOT_FOUND,
            CliError::Integrity { .. } => exit_code::INTEGRITY,
            CliError::Forbidden(_) => exit_code::FORBIDDEN,
            CliError::Other(_) => exit_code::OTHER,
        }
    }

    /// The machine form printed with `--json`. Rejections have the shape of the
    /// service's reply (`status`, `kind`, `message`, `valid`).
    pub fn to_json(&self) -> Value {
        match self {
            CliError::Rejected { kind, message, valid } => {
                json!({ "status": "rejected", "kind": kind, "message": message, "valid": valid })
            }
            CliError::Usage(m) => json!({ "status": "usage", "message": m }),
            CliError::Conflict(m) => json!({ "status": "conflict", "message": m }),
            CliError::Unavailable(m) => json!({ "status": "unavailable", "message": m }),
            CliError::Invalid(m) => json!({ "status": "invalid", "message": m }),
            CliError::NotFound(m) => json!({ "status": "not_found", "message": m }),
            CliError::Integrity { message, .. } => json!({ "status": "integrity", "message": message }),
            CliError::Forbidden(message) => json!({ "status": "forbidden", "message": message }),
            CliError::Other(m) => json!({ "status": "error", "message": m }),
        }
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Rejected { kind, message, valid } => CliError::Rejected { kind, message, valid },
            ClientError::Conflict(m) => CliError::Conflict(m),
            ClientError::Invalid(m) => CliError::Invalid(m),
            ClientError::Unavailable(m) => CliError::Unavailable(m),
            ClientError::NotFound(case_id) => CliError::NotFound(format!("ärendet {case_id} finns inte")),
            ClientError::Forbidden(what) => CliError::Forbidden(forbidden(&what)),
            ClientError::Usage(m) => CliError::Usage(m),
        }
    }
}

/// Errors of direct JetStream work (`reference load`, `up`), with what was being done.
pub fn from_store(what: &str, e: StoreError) -> CliError {
    let message = format!("{what}: {e}");
    match e.kind() {
        StoreErrorKind::Unavailable | StoreErrorKind::Timeout => CliError::Unavailable(message),
        StoreErrorKind::Conflict => CliError::Conflict(message),
        _ => CliError::Other(message),
    }
}

/// The message of a refusal by the server (`what` is its own words).
pub fn forbidden(what: &str) -> String {
    format!(
        "servern nekade: din roll får inte göra detta ({what}). Inget har registrerats. \
         Be driften om rätt roll (stod user add NAMN --role ...)"
    )
}
