//! Where a managed system keeps its files: one data directory, laid out once.
//!
//! ```text
//! <data>/
//!   nats/            the managed nats-server's store, config, log and pid file
//!   auth/            users.json (changed under users.lock), credentials/, auth.conf (stod-auth)
//!   projections/     the read models (sled), locked by one projector at a time
//!   registry.key     the participant registry's secret key (decision 0007)
//! ```

use std::path::{Path, PathBuf};

use stod_auth::AuthDir;

use crate::error::{SystemError, SystemErrorKind};

/// The managed server's pid file inside [`DataDir::nats`], for `stod user add` to ask
/// it to reload its users.
pub const PID_FILE: &str = "nats-server.pid";

/// A data directory and the paths inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$XDG_DATA_HOME/stod`, else `~/.local/share/stod`.
    pub fn default_location() -> Result<Self, SystemError> {
        let xdg = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
        let home = std::env::var_os("HOME").map(PathBuf::from).filter(|p| p.is_absolute());
        match (xdg, home) {
            (Some(xdg), _) => Ok(Self::new(xdg.join("stod"))),
            (None, Some(home)) => Ok(Self::new(home.join(".local/share/stod"))),
            (None, None) => Err(SystemError::new(
                SystemErrorKind::NoDataDir,
                "neither XDG_DATA_HOME nor HOME is an absolute path".to_owned(),
            )),
        }
    }

    /// The given directory, or the default location.
    pub fn or_default(dir: Option<PathBuf>) -> Result<Self, SystemError> {
        match dir {
            Some(dir) => Ok(Self::new(dir)),
            None => Self::default_location(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The managed nats-server's store directory.
    pub fn nats(&self) -> PathBuf {
        self.root.join("nats")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.nats().join(PID_FILE)
    }

    /// The users, their credentials and the server's authorization block.
    pub fn auth(&self) -> AuthDir {
        AuthDir::new(self.root.join("auth"))
    }

    /// The read models' sled store.
    pub fn projections(&self) -> PathBuf {
        self.root.join("projections")
    }

    /// The participant registry's key. Back it up apart from the NATS data: without it
    /// no personnummer can be found again (decision 0007).
    pub fn registry_key(&self) -> PathBuf {
        self.root.join("registry.key")
    }
}
