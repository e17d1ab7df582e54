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
    let store = data.nats();
    // The users and their permissions, from <data>/auth (`stod user add` rewrites it
    // and asks the server to reload). Relative to the config file in <data>/nats. No
    // anonymous access: a client without a listed key is refused.
    let extra = format!("include \"../auth/auth.conf\"\npid_file: {:?}", data.pid_file().display().to_string());
    let opts = ServerOptions::new(&store)
        .with_port(port)
        .with_sync_always(true)
        .with_extra_config(extra)
        .with_probe_nkey(probe.nkey_seed.clone(), stod_auth::inbox_prefix(probe.user.as_str()));
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
