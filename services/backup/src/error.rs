//! What can go wrong with a backup, in words for the operator.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The backup does not hold together: a changed, missing or truncated file, or a
    /// chain of backups that does not join up. Nothing is restored from it.
    #[error("säkerhetskopian är skadad: {0}")]
    Damaged(String),
    /// Asked for something that cannot be done (no backups in the directory, ...).
    #[error("{0}")]
    Usage(String),
    /// The service refused or could not be reached while the backup was taken.
    #[error(transparent)]
    Client(#[from] stod_client::ClientError),
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Io(format!("{}: {e}", path.display()))
}
