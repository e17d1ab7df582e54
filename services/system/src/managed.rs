//! The managed nats-server: the embedded default of a system on one machine. Its
//! data is in `<data>/nats`, every acknowledgement is fsynced, and only the users in
//! `<data>/auth` get in.

use stod_auth::Credentials;
use stod_nats_server::{ErrorKind, NatsServer, ServerOptions};

use crate::data::DataDir;
use crate::error::{SystemError, SystemErrorKind};

/// Starts the managed server on `port`, waiting for JetStream as `probe` (a server
/// with authorization refuses anonymous clients).
pub async fn start(data: &DataDir, port: u16, probe: &Credentials) -> Result<NatsServer, SystemError> {
    start_with(data, port, probe, &Options::default()).await
}

/// How a managed server differs from the default.
#[derive(Clone, Debug)]
pub struct Options {
    /// Fsync before every acknowledgement (off only for a restore into a directory that
    /// is thrown away unless everything is written, and fsynced at the end).
    pub sync_always: bool,
    /// The JetStream domain (a primary with a mirror, or the mirror).
    pub domain: Option<String>,
    /// Config appended: a `leafnodes` block.
    pub leafnodes: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self { sync_always: true, domain: None, leafnodes: None }
    }
}

/// As [`start`], with `options`.
pub async fn start_with(
    data: &DataDir,
    port: u16,
    probe: &Credentials,
    options: &Options,
) -> Result<NatsServer, SystemError> {
    let store = data.nats();
    // Port 0: a free one (nats-server itself would take its default, 4222).
    let port = match port {
        0 => std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| SystemError::new(SystemErrorKind::ServerStart, format!("no free port: {e}")))?
            .port(),
        port => port,
    };
    move_streams_into_the_stod_account(data)?;
    // The users and their permissions, from <data>/auth (`stod user add` rewrites it
    // and asks the server to reload). Relative to the config file in <data>/nats. No
    // anonymous access: a client without a listed key is refused.
    let mut extra = format!("include \"../auth/auth.conf\"\npid_file: {:?}", data.pid_file().display().to_string());
    if let Some(leafnodes) = &options.leafnodes {
        extra.push('\n');
        extra.push_str(leafnodes);
    }
    let mut opts = ServerOptions::new(&store)
        .with_port(port)
        .with_sync_always(options.sync_always)
        .with_extra_config(extra)
        .with_probe_nkey(probe.nkey_seed.clone(), stod_auth::inbox_prefix(probe.user.as_str()));
    opts.jetstream_domain = options.domain.clone();
    NatsServer::start(opts).await.map_err(|e| {
        let kind = match e.kind() {
            ErrorKind::PortInUse => SystemErrorKind::PortInUse,
            ErrorKind::BinaryNotFound | ErrorKind::UnsupportedVersion => SystemErrorKind::ServerMissing,
            _ => SystemErrorKind::ServerStart,
        };
        let about = if kind == SystemErrorKind::PortInUse { port.to_string() } else { store.display().to_string() };
        SystemError::new(kind, e.to_string()).about(about)
    })
}

/// Asks the managed server of `data` to reload its configuration (its users): false if
/// none runs. nats-server closes the connections of users it no longer knows.
pub fn reload(data: &DataDir) -> bool {
    let Ok(text) = std::fs::read_to_string(data.pid_file()) else { return false };
    let Ok(pid) = text.trim().parse::<i32>() else { return false };
    #[cfg(unix)]
    {
        // SAFETY: kill(2) with a pid read from the server's own pid file; SIGHUP makes
        // nats-server reload its configuration.
        unsafe { libc::kill(pid, libc::SIGHUP) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

/// Streams made before the services had an account of their own (when every user was
/// in the server's global account, `$G`) move into `STOD`: the server keeps each
/// account's streams in a directory named after it, and moves nothing by itself. Done
/// only while the server is stopped, and only when `STOD` has no streams yet.
fn move_streams_into_the_stod_account(data: &DataDir) -> Result<(), SystemError> {
    let jetstream = data.nats().join("jetstream");
    let (global, stod) = (jetstream.join("$G"), jetstream.join(stod_auth::Account::Stod.name()));
    if !global.join("streams").is_dir() || stod.exists() {
        return Ok(());
    }
    std::fs::rename(&global, &stod).map_err(|e| {
        SystemError::new(
            SystemErrorKind::ServerStart,
            format!("moving the streams of {} into {}: {e}", global.display(), stod.display()),
        )
        .about(jetstream.display())
    })?;
    tracing::info!(from = %global.display(), to = %stod.display(), "moved the streams into the services' account");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_of_the_global_account_move_into_stod_once() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let global = data.nats().join("jetstream").join("$G").join("streams").join("STOD_EVENTS");
        std::fs::create_dir_all(&global).unwrap();
        std::fs::write(global.join("meta.inf"), b"x").unwrap();
        move_streams_into_the_stod_account(&data).unwrap();
        let moved = data.nats().join("jetstream/STOD/streams/STOD_EVENTS/meta.inf");
        assert_eq!(std::fs::read(&moved).unwrap(), b"x");
        assert!(!data.nats().join("jetstream").join("$G").exists());
        // Nothing happens when STOD has its streams already.
        std::fs::create_dir_all(&global).unwrap();
        move_streams_into_the_stod_account(&data).unwrap();
        assert!(global.exists() && moved.exists());
    }
}
