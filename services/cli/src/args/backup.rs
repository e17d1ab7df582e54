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
        /// The backup user's public key (U…, shown by every `stod backup`; write it
        /// down): every backup must be signed by it. Without it only the backups'
        /// agreement with each other is checked, not who made them.
        #[arg(long, value_name = "NKEY")]
        signer: Option<String>,
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
    /// The backup user's public key (U…): every backup must be signed by it.
    #[arg(long, value_name = "NKEY")]
    pub signer: Option<String>,
    /// The port of the managed server while restoring and rebuilding [default: a free one].
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MirrorArgs {
    #[command(subcommand)]
    pub command: Option<MirrorCmd>,
    /// The mirror's own data directory on this machine (its nats-server's store and users).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The primary's leaf node address, as `stod up --mirror-listen` opened it:
    /// nats-leaf://HOST:PORT. The credentials (--credentials) are the spegel user's.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    /// The CA certificate (PEM) that signed the primary's leaf node certificate
    /// (`stod up --mirror-tls-cert`): the link is TLS and the primary is checked.
    /// Required for an upstream on another machine, unless --upstream-insecure.
    #[arg(long, value_name = "FILE")]
    pub upstream_ca: Option<PathBuf>,
    /// Connect in clear to an upstream on another machine (a VPN that encrypts already).
    #[arg(long)]
    pub upstream_insecure: bool,
    /// The mirror server's client port, on 127.0.0.1 [default: 4223].
    #[arg(long, default_value_t = 4223)]
    pub port: u16,
}

#[derive(Debug, Subcommand)]
pub enum MirrorCmd {
    /// Turn the mirror into a new primary's data directory, after the primary is lost
    /// (the runbook: README, Säkerhetskopiering). Stop `stod mirror` first.
    #[command(after_help = "\
Examples:
  stod mirror promote --mirror /srv/stod-spegel --data /srv/stod --backup /mnt/nas/stod
  stod up --data /srv/stod

The mirror's server is started without its leaf node (an old primary coming back cannot
send it anything more), every stream is read whole and checked like a backup, and written
into the new directory at the same sequences with the log's protections. --backup gives the
people and the participant registry (which the mirror does not hold), with the erasures the
mirrored access log records since applied again.")]
    Promote {
        /// The mirror's data directory.
        #[arg(long, value_name = "DIR")]
        mirror: PathBuf,
        /// The new primary's data directory: must not exist, or be empty.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The latest backup directory: people and registry from it.
        #[arg(long, value_name = "DIR")]
        backup: Option<PathBuf>,
        /// The backup user's public key (U…): every backup must be signed by it.
        #[arg(long, value_name = "NKEY")]
        signer: Option<String>,
        /// The sealed registry key (from `stod backup key`).
        #[arg(long, value_name = "FILE")]
        registry_key: Option<PathBuf>,
        /// Read the registry key's passphrase from the first line of standard input.
        #[arg(long)]
        passphrase_stdin: bool,
    },
}
