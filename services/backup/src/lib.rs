//! Backups of stod (decision 0013, `docs/backup-format.md`).
//!
//! - [`take`]: online, as the backup role, through the command service's `backup-*`
//!   endpoints (each run access-logged first): the three logs from where the previous
//!   backup ended, the three buckets whole, and the people of the auth directory.
//! - [`check`]: offline, without a server: the manifests and their digests, every
//!   file's digest, the increments joining up sequence for sequence, every case's hash
//!   chain across the whole chain of backups, and the chain heads each manifest states.
//! - [`key`]: the registry key sealed with a passphrase, kept apart from the backups.
//!
//! Restoring is `stod-system`'s (`restore.rs`): it starts a server.

pub mod check;
pub mod error;
pub mod format;
pub mod key;
pub mod take;

pub use check::{check, check_content, check_signed, Checked, Content};
pub use error::BackupError;
pub use format::{Kind, Manifest};
pub use take::{take, take_signed, Taken};
