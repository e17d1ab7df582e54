//! What kind of server to start, and the config file that describes it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to run one nats-server.
///
/// Fields are public so a caller can set them directly; the `with_*` methods
/// are the same thing in builder form.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Client port on 127.0.0.1. `None` picks a free one, which is what tests
    /// want: many servers side by side without coordination.
    pub port: Option<u16>,
    /// Directory holding JetStream's data (under `jetstream/`), plus the
    /// generated config file and the server's log. Created if missing.
    pub store_dir: PathBuf,
    /// Writes `sync_interval: always`: the server fsyncs before it acks, so an
    /// acked event survives a power cut or a SIGKILL. Without it an ack only
    /// means "in the page cache" and the last ~2 minutes can be lost. On by
    /// default because this is an event log of record.
    pub sync_always: bool,
    /// Monitoring (HTTP) port on 127.0.0.1; `None` leaves monitoring off, so
    /// test servers do not compete for a second port.
    pub monitoring_port: Option<u16>,
    /// Server name. `None` generates one that is unique to this process and
    /// kept across restarts; the startup probe uses it to make sure it is
    /// talking to our child and not to some other server on the port.
    pub server_name: Option<String>,
    /// The JetStream domain (`jetstream { domain: ... }`): needed on both sides of a
    /// leaf node connection when both run JetStream, so a mirror can name the
    /// other's API (`$JS.<domain>.API`).
    pub jetstream_domain: Option<String>,
    /// Config text appended verbatim after ours (authorization, cluster,
    /// accounts...). It must be valid nats-server config.
    pub extra_config: String,
    /// Whether `start` waits for the JetStream API to answer an anonymous
    /// client. Turn off when `extra_config` requires authentication, or for a
    /// cluster node, whose JetStream only answers once a quorum of its peers
    /// is up; `start` then only waits for the client port.
    pub wait_for_jetstream: bool,
    /// The nkey seed and inbox prefix the readiness probe connects with, when
    /// `extra_config` requires authentication (no anonymous access).
    pub probe_nkey: Option<(String, String)>,
    /// How long `start` and `restart` wait for readiness before giving up.
    pub startup_timeout: Duration,
    /// How long `stop` waits for a graceful shutdown before killing.
    pub shutdown_timeout: Duration,
    /// The nats-server binary; `None` uses [`crate::locate_binary`].
    pub binary: Option<PathBuf>,
}

impl ServerOptions {
    /// Options for a server storing its data in `store_dir`, on a free port,
    /// with fsync before every ack.
    pub fn new(store_dir: impl Into<PathBuf>) -> Self {
        Self {
            port: None,
            store_dir: store_dir.into(),
            sync_always: true,
            monitoring_port: None,
            server_name: None,
            jetstream_domain: None,
            extra_config: String::new(),
            wait_for_jetstream: true,
            probe_nkey: None,
            startup_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
            binary: None,
        }
    }

    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    pub fn with_sync_always(mut self, sync_always: bool) -> Self {
        self.sync_always = sync_always;
        self
    }

    pub fn with_monitoring_port(mut self, port: u16) -> Self {
        self.monitoring_port = Some(port);
        self
    }

    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    pub fn with_jetstream_domain(mut self, domain: impl Into<String>) -> Self {
        self.jetstream_domain = Some(domain.into());
        self
    }

    pub fn with_extra_config(mut self, config: impl Into<String>) -> Self {
        self.extra_config = config.into();
        self
    }

    /// Probes readiness as the user of this nkey seed, with replies under
    /// `inbox_prefix` (a server with authorization refuses anonymous clients and
    /// other users' inboxes).
    pub fn with_probe_nkey(mut self, seed: impl Into<String>, inbox_prefix: impl Into<String>) -> Self {
        self.probe_nkey = Some((seed.into(), inbox_prefix.into()));
        self
    }

    pub fn with_wait_for_jetstream(mut self, wait: bool) -> Self {
        self.wait_for_jetstream = wait;
        self
    }

    pub fn with_startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = Some(binary.into());
        self
    }
}

/// Largest client message the server accepts. The nats-server default (1 MiB),
/// written out so it is visible and stays put if upstream changes it; events
/// are far smaller and the stream has its own, tighter, per-message limit.
const MAX_PAYLOAD_BYTES: u32 = 1024 * 1024;

/// Renders the config file for one start of the server.
pub(crate) fn render_config(opts: &ServerOptions, port: u16, server_name: &str, jetstream_dir: &Path) -> String {
    let mut conf = String::new();
    // `write!` into a String cannot fail; ignoring the Ok keeps this free of unwrap.
    let _ = writeln!(conf, "# Generated by stod-nats-server on every start; edits are lost.");
    let _ = writeln!(conf, "server_name: {}", quote(server_name));
    let _ = writeln!(conf, "listen: \"127.0.0.1:{port}\"");
    let _ = writeln!(conf, "max_payload: {MAX_PAYLOAD_BYTES}");
    if let Some(http) = opts.monitoring_port {
        let _ = writeln!(conf, "http: \"127.0.0.1:{http}\"");
    }
    let _ = writeln!(conf, "jetstream {{");
    let _ = writeln!(conf, "  store_dir: {}", quote(&jetstream_dir.to_string_lossy()));
    if opts.sync_always {
        let _ = writeln!(conf, "  sync_interval: always");
    }
    if let Some(domain) = &opts.jetstream_domain {
        let _ = writeln!(conf, "  domain: {}", quote(domain));
    }
    let _ = writeln!(conf, "}}");
    if !opts.extra_config.is_empty() {
        let _ = writeln!(conf, "\n# extra_config");
        let _ = writeln!(conf, "{}", opts.extra_config);
    }
    conf
}

/// Quotes a string for the nats-server config format, whose double-quoted
/// strings take backslash escapes like JSON.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_listen_store_dir_and_sync() {
        let opts = ServerOptions::new("/data/x").with_extra_config("debug: false");
        let conf = render_config(&opts, 4333, "n1", Path::new("/data/x"));
        assert!(conf.contains("listen: \"127.0.0.1:4333\""));
        assert!(conf.contains("store_dir: \"/data/x\""));
        assert!(conf.contains("sync_interval: always"));
        assert!(conf.contains("server_name: \"n1\""));
        assert!(!conf.contains("http:"));
        assert!(conf.trim_end().ends_with("debug: false"));
    }

    #[test]
    fn sync_is_left_to_the_server_when_not_always() {
        let opts = ServerOptions::new("/d").with_sync_always(false);
        let conf = render_config(&opts, 1, "n", Path::new("/d"));
        assert!(!conf.contains("sync_interval"));
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
