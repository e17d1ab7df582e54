//! One nats-server child process: start, wait until ready, kill, restart, stop.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{sleep, timeout, Instant};
use tracing::{debug, warn};

use crate::binary::locate_binary;
use crate::error::{Error, ErrorKind};
use crate::options::{render_config, ServerOptions};

/// File names inside the store dir, next to JetStream's own `jetstream/`.
const CONFIG_FILE: &str = "nats-server.conf";
const LOG_FILE: &str = "nats-server.log";

/// How many free ports to try when the OS hands out a port that someone else
/// grabs between our probe bind and the server's own bind.
const PORT_ATTEMPTS: usize = 5;

/// Pause between readiness probes: short, because a healthy local server is
/// ready within tens of milliseconds and tests start one each.
const PROBE_INTERVAL: Duration = Duration::from_millis(20);

/// Upper bound for a single probe, so one hung connection cannot eat the
/// whole startup budget.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How much of the server's log an error carries.
const LOG_TAIL_LINES: usize = 30;

/// Makes generated server names unique among the servers of one process.
static NEXT_SERVER: AtomicU64 = AtomicU64::new(1);

/// A running (or deliberately stopped) nats-server child process.
///
/// Dropping it kills the process with SIGKILL and, for an
/// [ephemeral](NatsServer::ephemeral) server, then removes its store dir.
///
/// # Example
///
/// ```no_run
/// # async fn example() -> Result<(), stod_nats_server::Error> {
/// let server = stod_nats_server::NatsServer::ephemeral().await?;
/// let client = async_nats::connect(server.url()).await.expect("connect");
/// # drop(client);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct NatsServer {
    /// The options as resolved at start: `port` and `server_name` are filled
    /// in, so `restart` brings the same server back at the same address.
    opts: ServerOptions,
    /// The binary resolved once at start, so a restart cannot switch servers.
    binary: PathBuf,
    port: u16,
    server_name: String,
    /// `None` once killed or stopped.
    child: Option<Child>,
    /// The store dir of an ephemeral server, removed by `Drop::drop` once
    /// the process that writes into it is gone.
    temp_dir: Option<TempDir>,
}

impl NatsServer {
    /// Starts a server with `opts` and waits until it is ready: its client
    /// port answers with our server's INFO and, unless
    /// [`ServerOptions::wait_for_jetstream`] is off, the JetStream API answers.
    pub async fn start(opts: ServerOptions) -> Result<Self, Error> {
        Self::start_with_temp_dir(opts, None).await
    }

    /// Starts a server whose store dir is a fresh temporary directory, removed
    /// again when the server is dropped. One per test.
    pub async fn ephemeral() -> Result<Self, Error> {
        Self::ephemeral_with(|opts| opts).await
    }

    /// Like [`ephemeral`](NatsServer::ephemeral), with a chance to adjust the
    /// options first. `store_dir` is already set to the temporary directory.
    pub async fn ephemeral_with(configure: impl FnOnce(ServerOptions) -> ServerOptions) -> Result<Self, Error> {
        let temp_dir = tempfile::Builder::new()
            .prefix("stod-nats-")
            .tempdir()
            .map_err(|err| Error::with_source(ErrorKind::Io, "could not create a temporary store dir", err))?;
        let opts = configure(ServerOptions::new(temp_dir.path()));
        Self::start_with_temp_dir(opts, Some(temp_dir)).await
    }

    async fn start_with_temp_dir(opts: ServerOptions, temp_dir: Option<TempDir>) -> Result<Self, Error> {
        let binary = match &opts.binary {
            Some(binary) => binary.clone(),
            None => locate_binary()?,
        };
        fs::create_dir_all(&opts.store_dir).map_err(|err| {
            Error::with_source(ErrorKind::Io, format!("could not create store dir {}", opts.store_dir.display()), err)
        })?;
        let server_name = opts
            .server_name
            .clone()
            .unwrap_or_else(|| format!("stod-{}-{}", std::process::id(), NEXT_SERVER.fetch_add(1, Ordering::Relaxed)));
        let mut server = NatsServer { opts, binary, port: 0, server_name: server_name.clone(), child: None, temp_dir };
        server.opts.server_name = Some(server_name);

        if let Some(port) = server.opts.port {
            server.port = port;
            server.spawn_and_wait().await?;
        } else {
            let mut attempt = 1;
            loop {
                server.port = free_port()?;
                match server.spawn_and_wait().await {
                    Ok(()) => break,
                    Err(err) if err.kind() == ErrorKind::PortInUse && attempt < PORT_ATTEMPTS => {
                        debug!(port = server.port, attempt, "picked port was taken, trying another");
                        attempt += 1;
                    }
                    Err(err) => return Err(err),
                }
            }
            // From now on the port is fixed: restarts must come back on it.
            server.opts.port = Some(server.port);
        }
        Ok(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding JetStream's data, the config and the log.
    pub fn store_dir(&self) -> &Path {
        &self.opts.store_dir
    }

    /// The server's combined stdout and stderr, appended to across restarts.
    pub fn log_path(&self) -> PathBuf {
        self.opts.store_dir.join(LOG_FILE)
    }

    /// The generated config file.
    pub fn config_path(&self) -> PathBuf {
        self.opts.store_dir.join(CONFIG_FILE)
    }

    /// The server name, given or generated.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// The options the server runs with, with the port and name resolved.
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    /// The process id, while the process runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Whether the process is still alive (it may have died on its own).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) | None => false,
        }
    }

    /// Kills the process with SIGKILL, like a crash or a power cut: nothing
    /// is flushed. For crash tests; [`restart`](NatsServer::restart) brings
    /// it back on the same port and store dir.
    pub async fn kill(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Ok(Some(_)) = child.try_wait() {
            // Already dead (and now reaped); killing would be an error.
            return Ok(());
        }
        child.kill().await.map_err(|err| {
            Error::with_source(ErrorKind::Shutdown, format!("could not kill nats-server on port {}", self.port), err)
        })?;
        debug!(port = self.port, "nats-server killed");
        Ok(())
    }

    /// Stops the process gracefully (SIGTERM, so JetStream writes its state
    /// out), killing it if it has not exited within
    /// [`ServerOptions::shutdown_timeout`].
    pub async fn stop(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(());
        }
        terminate(&mut child).await.map_err(|err| {
            Error::with_source(ErrorKind::Shutdown, format!("could not signal nats-server on port {}", self.port), err)
        })?;
        match timeout(self.opts.shutdown_timeout, child.wait()).await {
            Ok(Ok(status)) => {
                debug!(port = self.port, %status, "nats-server stopped");
                Ok(())
            }
            Ok(Err(err)) => Err(Error::with_source(
                ErrorKind::Shutdown,
                format!("could not wait for nats-server on port {}", self.port),
                err,
            )),
            Err(_elapsed) => {
                // Leave no stray server behind; the error still reports the
                // hang because it may point at a real problem.
                let _ = child.kill().await;
                Err(Error::new(
                    ErrorKind::Shutdown,
                    format!(
                        "nats-server on port {} did not stop within {:?} and was killed; log: {}\n{}",
                        self.port,
                        self.opts.shutdown_timeout,
                        self.log_path().display(),
                        self.log_tail(0),
                    ),
                ))
            }
        }
    }

    /// Starts the server again on the same port and store dir, stopping it
    /// gracefully first if it still runs. After a [`kill`](NatsServer::kill)
    /// this is crash recovery: JetStream rebuilds its state from the files.
    pub async fn restart(&mut self) -> Result<(), Error> {
        if self.child.is_some() {
            self.stop().await?;
        }
        self.spawn_and_wait().await
    }

    /// Writes the config, spawns the process and waits until it is ready.
    /// On failure the process is killed and the error carries the log tail.
    async fn spawn_and_wait(&mut self) -> Result<(), Error> {
        let config_path = self.config_path();
        let conf = render_config(&self.opts, self.port, &self.server_name, &self.opts.store_dir);
        write_private(&config_path, conf.as_bytes()).map_err(|err| {
            Error::with_source(ErrorKind::Io, format!("could not write {}", config_path.display()), err)
        })?;

        let log_path = self.log_path();
        let (stdout, stderr, log_start) = open_log(&log_path, self.port)?;

        let mut command = Command::new(&self.binary);
        command
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // Belt and braces with our own Drop: no orphaned servers if a
            // future is dropped halfway through startup.
            .kill_on_drop(true);
        detach_from_terminal_and_follow_parent(&mut command);
        let child = command.spawn().map_err(|err| {
            Error::with_source(ErrorKind::Spawn, format!("could not start {}", self.binary.display()), err)
        })?;
        debug!(port = self.port, pid = child.id(), binary = %self.binary.display(), "nats-server spawned");
        self.child = Some(child);

        match self.wait_ready(log_start).await {
            Ok(()) => Ok(()),
            Err(err) => {
                let _ = self.kill().await;
                Err(err)
            }
        }
    }

    async fn wait_ready(&mut self, log_start: u64) -> Result<(), Error> {
        let deadline = Instant::now() + self.opts.startup_timeout;
        loop {
            let exited = match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(None)) => None,
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(err)) => Some(format!("unknown status ({err})")),
                None => Some("not running".to_owned()),
            };
            if let Some(status) = exited {
                let log = self.read_log_since(log_start);
                let kind = if log.to_ascii_lowercase().contains("address already in use") {
                    ErrorKind::PortInUse
                } else {
                    ErrorKind::ExitedEarly
                };
                return Err(Error::new(
                    kind,
                    format!(
                        "nats-server on port {} exited during startup ({status}); log {}:\n{}",
                        self.port,
                        self.log_path().display(),
                        tail(&log),
                    ),
                ));
            }

            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    ErrorKind::StartupTimeout,
                    format!(
                        "nats-server on port {} not ready after {:?}; log {}:\n{}",
                        self.port,
                        self.opts.startup_timeout,
                        self.log_path().display(),
                        self.log_tail(log_start),
                    ),
                ));
            }

            let budget = PROBE_TIMEOUT.min(deadline - now);
            if let Ok(true) = timeout(budget, self.probe()).await {
                debug!(port = self.port, "nats-server ready");
                return Ok(());
            }
            sleep(PROBE_INTERVAL).await;
        }
    }

    /// One readiness check. `false` means "not yet", whatever the reason: the
    /// caller keeps polling until the deadline or until the process exits.
    async fn probe(&self) -> bool {
        if !self.info_is_ours().await {
            return false;
        }
        if !self.opts.wait_for_jetstream {
            return true;
        }
        let options = match &self.opts.probe_nkey {
            Some((seed, inbox)) => async_nats::ConnectOptions::with_nkey(seed.clone()).custom_inbox_prefix(inbox),
            None => async_nats::ConnectOptions::new(),
        };
        let client = match options.connection_timeout(PROBE_TIMEOUT).connect(self.url()).await {
            Ok(client) => client,
            Err(_) => return false,
        };
        async_nats::jetstream::new(client).query_account().await.is_ok()
    }

    /// Reads the INFO line the server sends on connect and checks that it
    /// comes from our child, with JetStream on. The name check matters for
    /// picked ports: another process may have taken the port, and then our
    /// child is about to exit with "address already in use".
    async fn info_is_ours(&self) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let Ok(stream) = TcpStream::connect(addr).await else {
            return false;
        };
        // Bounded read: a foreign service on the port may never send a newline.
        let mut reader = BufReader::new(stream.take(64 * 1024));
        let mut line = String::new();
        if reader.read_line(&mut line).await.is_err() {
            return false;
        }
        let Some(json) = line.trim_end().strip_prefix("INFO ") else {
            return false;
        };
        let Ok(info) = serde_json::from_str::<serde_json::Value>(json) else {
            return false;
        };
        info.get("server_name").and_then(|v| v.as_str()) == Some(self.server_name.as_str())
            && info.get("jetstream").and_then(|v| v.as_bool()) == Some(true)
    }

    fn read_log_since(&self, offset: u64) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(self.log_path()) {
            if file.seek(SeekFrom::Start(offset)).is_ok() {
                let mut bytes = Vec::new();
                if file.read_to_end(&mut bytes).is_ok() {
                    text = String::from_utf8_lossy(&bytes).into_owned();
                }
            }
        }
        text
    }

    fn log_tail(&self, offset: u64) -> String {
        tail(&self.read_log_since(offset))
    }
}

/// Puts the server in its own process group, so a Ctrl-C in the terminal reaches only
/// our process, which then stops its services before the server; and asks Linux to
/// send the server SIGTERM if the thread that started it dies (a SIGKILLed `stod up`
/// must not leave an orphaned server holding the port and the store). Started from a
/// tokio worker thread, which lives as long as the runtime.
fn detach_from_terminal_and_follow_parent(command: &mut Command) {
    #[cfg(unix)]
    command.process_group(0);
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the child between fork and exec and only calls
        // async-signal-safe functions (prctl, getppid, _exit), allocating nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            kill_and_reap(child, self.port);
        }
        if let Some(dir) = self.temp_dir.take() {
            // TempDir's own Drop ignores failures; say when one leaks.
            let path = dir.path().to_path_buf();
            if let Err(err) = dir.close() {
                warn!(path = %path.display(), %err, "could not remove nats-server store dir");
            }
        }
    }
}

/// SIGKILL, then wait for the process to be gone before the caller removes
/// its store dir: a dying server still writing into a directory being
/// removed leaves half of it behind. SIGKILL takes effect within
/// milliseconds, so this brief blocking wait in `drop` is cheap.
fn kill_and_reap(mut child: Child, port: u16) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if let Err(err) = child.start_kill() {
        warn!(port, %err, "could not kill nats-server");
        return;
    }
    for _ in 0..200 {
        match child.try_wait() {
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Ok(Some(_)) | Err(_) => return,
        }
    }
    warn!(port, "nats-server did not exit within 1s of SIGKILL");
}

/// Asks the OS for a free port on 127.0.0.1. The listener is dropped before
/// the server binds, so another process can take the port in between; the
/// caller retries with a new port when that happens.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|err| Error::with_source(ErrorKind::Io, "could not bind 127.0.0.1:0 to find a free port", err))?;
    let port = listener
        .local_addr()
        .map_err(|err| Error::with_source(ErrorKind::Io, "could not read the port bound on 127.0.0.1:0", err))?
        .port();
    Ok(port)
}

/// Opens the log for appending, writes a marker line for this start, and
/// returns the child's stdout and stderr handles plus the offset where this
/// start's output begins (so errors show this attempt, not earlier runs).
fn open_log(path: &Path, port: u16) -> Result<(File, File, u64), Error> {
    let io_err = |err| Error::with_source(ErrorKind::Io, format!("could not open log {}", path.display()), err);
    let mut file = OpenOptions::new().create(true).append(true).open(path).map_err(io_err)?;
    let start = file.metadata().map_err(io_err)?.len();
    writeln!(file, "--- stod-nats-server: starting on 127.0.0.1:{port} ---").map_err(io_err)?;
    let stderr = file.try_clone().map_err(io_err)?;
    Ok((file, stderr, start))
}

/// The last lines of a log, for error messages.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let from = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines[from..].join("\n")
}

/// Sends SIGTERM: nats-server treats it as a graceful shutdown, closing
/// clients and writing JetStream's stream state to disk.
#[cfg(unix)]
async fn terminate(child: &mut Child) -> std::io::Result<()> {
    let Some(pid) = child.id() else {
        return Ok(());
    };
    let pid = libc::pid_t::try_from(pid).map_err(|_| std::io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) has no memory-safety preconditions. The pid is our own
    // child, not yet reaped (tokio only reaps in wait/try_wait, which we have
    // not seen complete), so it cannot have been reused by another process.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere there is no SIGTERM; killing is the best we can do.
#[cfg(not(unix))]
async fn terminate(child: &mut Child) -> std::io::Result<()> {
    child.start_kill()
}

/// Writes the config readable by its owner only (mode 0600 on Unix), whatever the
/// process's umask: it may hold a leaf node's nkey seed (a mirror's).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        if path.exists() {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
        }
    }
    options.open(path)?.write_all(bytes)
}
