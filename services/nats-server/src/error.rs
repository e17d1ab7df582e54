//! The one error type of this crate, with a kind callers and tests match on.

use std::fmt;

/// What went wrong, for callers that react differently to each case and for
/// tests, which assert on the kind and never on the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No nats-server binary was found in any of the places we look.
    BinaryNotFound,
    /// A binary was found but it is too old, or its `--version` could not be read.
    UnsupportedVersion,
    /// Creating the store dir, writing the config file or the log failed.
    Io,
    /// The operating system refused to start the process.
    Spawn,
    /// The client port is taken by another process.
    PortInUse,
    /// The process exited before it became ready; the log tail says why.
    ExitedEarly,
    /// The process kept running but did not become ready in time.
    StartupTimeout,
    /// Stopping or killing the process failed, or it ignored a graceful stop.
    Shutdown,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::BinaryNotFound => "nats-server binary not found",
            Self::UnsupportedVersion => "unsupported nats-server version",
            Self::Io => "I/O error",
            Self::Spawn => "could not spawn nats-server",
            Self::PortInUse => "port already in use",
            Self::ExitedEarly => "nats-server exited during startup",
            Self::StartupTimeout => "nats-server did not become ready in time",
            Self::Shutdown => "nats-server shutdown failed",
        };
        f.write_str(text)
    }
}

/// An error from locating, starting or stopping a nats-server.
///
/// The message is written for a person: it names the binary, the port or the
/// log file involved, and for startup failures it carries the tail of the
/// server's own log, since that is nearly always where the real cause is.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), source: None }
    }

    pub(crate) fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self { kind, message: message.into(), source: Some(Box::new(source)) }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}
