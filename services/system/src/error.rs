//! What can stop a system from starting, by kind: the front end (the command line)
//! words each kind for its users; this crate's own messages are for logs.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SystemErrorKind {
    /// No data directory was given and none can be derived (no HOME).
    NoDataDir,
    /// Ctrl-C and SIGTERM could not be listened for.
    Signals,
    /// The users file, credentials or the server's authorization could not be
    /// written or read.
    Users,
    /// The managed server's port is taken by another process.
    PortInUse,
    /// No usable nats-server binary (missing, or too old).
    ServerMissing,
    /// The managed nats-server did not start for another reason (its log says why).
    ServerStart,
    /// NATS could not be reached (or refused the credentials).
    Connect,
    /// The event log could not be opened or created.
    EventLog,
    /// The access log could not be opened or created.
    AccessLog,
    /// The participant registry's key could not be read or created.
    RegistryKey,
    /// The participant registry could not be opened.
    Registry,
    /// The read models' store is in use by another process.
    StoreLocked,
    /// The projector could not start (its store, the log).
    Projector,
    /// A service could not be registered with NATS.
    Service,
    /// The HTTP address is taken by another process.
    HttpAddrInUse,
    /// The HTTP service could not start for another reason.
    Http,
    /// A restore was refused (a damaged backup, a data directory that is not empty) or
    /// failed; nothing was left in the target directory.
    Restore,
    /// The backup does not hold together (a changed byte, a missing increment): nothing
    /// was restored from it.
    BackupDamaged,
    /// The mirror's streams could not be created, read or promoted.
    Mirror,
}

/// Why a system could not start, with the kind a front end words for its users.
#[derive(Debug, thiserror::Error)]
pub struct SystemError {
    kind: SystemErrorKind,
    message: String,
    /// A path or address the error is about, for the front end's message.
    subject: Option<String>,
    /// The cause may pass by itself (NATS not reachable, no answer in time): trying
    /// again later may succeed.
    transient: bool,
}

impl SystemError {
    pub(crate) fn new(kind: SystemErrorKind, message: String) -> Self {
        Self { kind, message, subject: None, transient: kind == SystemErrorKind::Connect }
    }

    /// The store's error, transient if the store says so.
    pub(crate) fn store(kind: SystemErrorKind, e: &stod_store::StoreError) -> Self {
        let transient =
            matches!(e.kind(), stod_store::StoreErrorKind::Unavailable | stod_store::StoreErrorKind::Timeout);
        Self { transient, ..Self::new(kind, e.to_string()) }
    }

    pub(crate) fn about(mut self, subject: impl fmt::Display) -> Self {
        self.subject = Some(subject.to_string());
        self
    }

    pub fn kind(&self) -> SystemErrorKind {
        self.kind
    }

    /// The underlying error's own words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Trying again later may succeed (NATS was not reachable, or did not answer).
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// The path, port or address concerned, where there is one.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
}

impl fmt::Display for SystemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subject {
            Some(subject) => write!(f, "{:?} ({subject}): {}", self.kind, self.message),
            None => write!(f, "{:?}: {}", self.kind, self.message),
        }
    }
}
