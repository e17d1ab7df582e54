//! `stod backup` and `stod restore`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCmd>,
    /// The backup directory: the first backup into it is full, every later one holds
    /// only what came after the one before (0001, 0002, ...). Required unless a
    /// subcommand is given.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The data directory of `stod up`, whose people (names, roles, public keys) go
    /// into the backup [default: $XDG_DATA_HOME/stod or ~/.local/share/stod, if it
    /// exists]. Nothing secret is copied.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Check a backup directory offline, without a server: every manifest and file
    /// digest, the increments joining up, every case's hash chain, the chain heads.
    #[command(after_help = "\
Examples:
  stod backup verify /mnt/backup/stod
  stod backup verify /mnt/backup/stod --json

Exit code 8 (integritetsfel) when anything does not hold together; `stod restore` refuses
such a backup.")]
    Verify {
        /// The backup directory (from `stod backup --out`).
        dir: PathBuf,
    },
    /// Seal the participant registry's key with a passphrase, to keep apart from the
    /// backups (another medium, a safe). Without the key, nobody can be found by
    /// personnummer after a restore; with it and a registry backup, anyone can.
    #[command(after_help = "\
Examples:
  stod backup key --out /media/usb/stod-registernyckel.age
  echo \"$PASSPHRASE\" | stod backup key --out key.age --passphrase-stdin

The file is in the age format (age-encryption.org), which the `age` tool opens too:
  age -d stod-registernyckel.age > registry.key
Never keep it in the same place as the backups.")]
    Key {
        /// Where to write the sealed key; never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The data directory whose registry.key to seal [default: as `stod up`].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// The key file, when it is kept outside the data directory (`stod up --registry-key`).
        #[arg(long, value_name = "FILE")]
        registry_key: Option<PathBuf>,
        /// Read the passphrase from the first line of standard input (for scripts);
        /// otherwise it is asked for, twice.
        #[arg(long)]
        passphrase_stdin: bool,
    },
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup directory (from `stod backup --out`); checked in full first.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// The new data directory: must not exist, or be empty.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The sealed registry key (from `stod backup key`), put into the new data directory.
    #[arg(long, value_name = "FILE")]
    pub registry_key: Option<PathBuf>,
    /// Read the registry key's passphrase from the first line of standard input.
    #[arg(long)]
    pub passphrase_stdin: bool,
    /// The port of the managed server while restoring and rebuilding [default: a free one].
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}
