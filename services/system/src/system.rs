//! Starting any set of stod's services against a managed or an existing NATS, and
//! stopping them in the right order: the one place the order is written.
//!
//! Start: the server (managed: its users first), then the command service (it creates
//! the event log and the access log), the registry, the projector, the HTTP service.
//! Stop: the HTTP service first (it only reads), then the command service (it may still
//! be appending) and the registry, then the projector (it commits what it has
//! folded), then what is left in the connections, then the managed server. A start
//! that fails half-way stops what it started, in the same order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use stod_auth::{AuthDir, Credentials};
use stod_client::{ConnectOptions, RetryPolicy};
use stod_command::{RunningService, ServiceOptions};
use stod_http::RunningHttp;
use stod_nats_server::NatsServer;
use stod_projector::{ProjectorOptions, ProjectorService};
use stod_registry::{RegistryKey, RegistryOptions, RunningRegistry};
use stod_store::EventLogConfig;
use tracing::{info, warn};

use crate::data::DataDir;
use crate::error::{SystemError, SystemErrorKind};
use crate::managed;
use crate::signals::{Signals, Stop};
use crate::users::{ServiceUsers, HTTP_USER, SEEDER_USER};
use stod_events::ids::UserId;

/// Where the system's NATS is.
#[derive(Clone, Debug)]
pub enum Nats {
    /// A nats-server this system starts and stops, with its data, users and
    /// credentials in `data`.
    Managed { data: DataDir, port: u16 },
    /// An existing NATS (a test's server, a cluster): every service connects as
    /// `credentials`, or anonymously to a server without logins.
    Existing { url: String, credentials: Option<Credentials> },
}

/// Where the participant registry's key comes from.
#[derive(Clone)]
pub enum RegistryKeySource {
    /// A key file, created on first start.
    File(PathBuf),
    Key(RegistryKey),
}

/// Who may look at the dashboard.
#[derive(Clone, Debug)]
pub enum HttpAccess {
    /// The users of the managed system's own auth directory.
    Managed,
    /// The users of this auth directory, by role.
    Users(AuthDir),
    /// Everyone who reaches the address: tests and a machine of one's own only.
    Open,
}

#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Port 0: any free port ([`System::http_addr`] tells which).
    pub addr: SocketAddr,
    pub access: HttpAccess,
    /// HTTPS with this certificate and key; plain HTTP without.
    pub tls: Option<stod_http::TlsFiles>,
}

/// What to start; see [`System::builder`].
pub struct SystemBuilder {
    nats: Nats,
    replicas: usize,
    command: Option<(ServiceOptions, usize)>,
    registry: Option<(RegistryKeySource, RegistryOptionsFn)>,
    projector: Option<ProjectorOptions>,
    http: Option<HttpConfig>,
    /// Where a managed server listens for a mirror's leaf node connection.
    mirror_listen: Option<crate::mirror::Listen>,
}

/// Adjusts the registry's options (tests fix its clock).
type RegistryOptionsFn = Box<dyn FnOnce(RegistryOptions) -> RegistryOptions + Send>;

/// A running system. Dropping it stops nothing but the managed server; call
/// [`shutdown`](Self::shutdown).
pub struct System {
    url: String,
    /// The managed server, if this system started one.
    server: Option<NatsServer>,
    data: Option<DataDir>,
    users: Option<ServiceUsers>,
    /// How services and clients of an existing NATS connect (`None`: anonymously).
    shared_credentials: Option<Credentials>,
    replicas: usize,
    command_options: ServiceOptions,
    command: Vec<RunningService>,
    registry: Option<RunningRegistry>,
    projector: Option<ProjectorService>,
    http: Option<RunningHttp>,
    /// Every service's connection, flushed last.
    connections: Vec<async_nats::Client>,
}

impl System {
    pub fn builder(nats: Nats) -> SystemBuilder {
        SystemBuilder {
            nats,
            replicas: 1,
            command: None,
            registry: None,
            projector: None,
            http: None,
            mirror_listen: None,
        }
    }
}

impl SystemBuilder {
    /// Copies of the event log, the access log and the buckets, when this system
    /// creates them (3 on a three-node cluster).
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.max(1);
        self
    }

    /// A managed server that a mirror (`stod mirror`, [`crate::mirror`]) may connect to
    /// as a leaf node on `addr` (`host:port`), as the role `spegel`.
    pub fn mirror_listen(mut self, listen: crate::mirror::Listen) -> Self {
        self.mirror_listen = Some(listen);
        self
    }

    /// The command service, one instance.
    pub fn command(self, options: ServiceOptions) -> Self {
        self.command_instances(options, 1)
    }

    /// The command service, `instances` instances sharing the load (a queue group).
    pub fn command_instances(mut self, options: ServiceOptions, instances: usize) -> Self {
        self.command = Some((options, instances));
        self
    }

    /// The participant registry, with its key.
    pub fn registry(self, key: RegistryKeySource) -> Self {
        self.registry_with(key, |o| o)
    }

    /// The participant registry, with its options adjusted.
    pub fn registry_with(
        mut self,
        key: RegistryKeySource,
        adjust: impl FnOnce(RegistryOptions) -> RegistryOptions + Send + 'static,
    ) -> Self {
        self.registry = Some((key, Box::new(adjust)));
        self
    }

    /// The projector (read models), its store in `options.data_dir`.
    pub fn projector(mut self, options: ProjectorOptions) -> Self {
        self.projector = Some(options);
        self
    }

    /// The dashboard and JSON API.
    pub fn http(mut self, config: HttpConfig) -> Self {
        self.http = Some(config);
        self
    }

    /// Starts everything asked for, in order; on a failure stops what started.
    pub async fn start(self) -> Result<System, SystemError> {
        let SystemBuilder { nats, replicas, command, registry, projector, http, mirror_listen } = self;
        let (url, server, data, users, shared_credentials) = match nats {
            Nats::Managed { data, port } => {
                let users = ServiceUsers::ensure(data.auth())?;
                let options = match &mirror_listen {
                    Some(listen) => crate::mirror::primary_options(listen),
                    None => managed::Options::default(),
                };
                let server = managed::start_with(&data, port, &users.command, &options).await?;
                (server.url(), Some(server), Some(data), Some(users), None)
            }
            Nats::Existing { url, credentials } => (url, None, None, None, credentials),
        };
        let (command_options, instances) = command.unwrap_or_else(|| (ServiceOptions::default(), 0));
        let command_options =
            ServiceOptions { log: EventLogConfig { replicas, ..command_options.log.clone() }, ..command_options };
        let mut system = System {
            url,
            server,
            data,
            users,
            shared_credentials,
            replicas,
            command_options,
            command: Vec::new(),
            registry: None,
            projector: None,
            http: None,
            connections: Vec::new(),
        };
        match system.start_services(instances, registry, projector, http).await {
            Ok(()) => Ok(system),
            Err(e) => {
                system.shutdown().await;
                Err(e)
            }
        }
    }
}

impl System {
    async fn start_services(
        &mut self,
        instances: usize,
        registry: Option<(RegistryKeySource, RegistryOptionsFn)>,
        projector: Option<ProjectorOptions>,
        http: Option<HttpConfig>,
    ) -> Result<(), SystemError> {
        // Before the services start, so their first commands are counted.
        let metrics = http.as_ref().and_then(|_| stod_http::metrics::install());
        for _ in 0..instances {
            self.add_command_instance().await?;
        }
        if let Some((key, adjust)) = registry {
            let key = match key {
                RegistryKeySource::Key(key) => key,
                RegistryKeySource::File(path) => RegistryKey::load_or_create(&path)
                    .map_err(|e| SystemError::new(SystemErrorKind::RegistryKey, e.to_string()).about(path.display()))?,
            };
            let options = adjust(RegistryOptions { replicas: self.replicas, ..RegistryOptions::new(key) });
            let nats = self.connect(self.users.as_ref().map(|u| u.registry.clone()), "stod registry").await?;
            let running = stod_registry::start(nats, options).await.map_err(|e| match &e {
                stod_registry::StartError::Store(store) => SystemError::store(SystemErrorKind::Registry, store),
                stod_registry::StartError::Service(_) => SystemError::new(SystemErrorKind::Service, e.to_string()),
                stod_registry::StartError::Registry(_) => SystemError::new(SystemErrorKind::Registry, e.to_string()),
            })?;
            info!("participant registry running");
            self.registry = Some(running);
        }
        if let Some(options) = projector {
            let dir = options.data_dir.clone();
            let options = ProjectorOptions { replicas: self.replicas, ..options };
            let nats = self.connect(self.users.as_ref().map(|u| u.projector.clone()), "stod projector").await?;
            let running = stod_projector::start_service(nats, options).await.map_err(|e| {
                let kind = match e {
                    stod_projector::ProjectorError::Store(stod_projector::StoreError::Locked(_)) => {
                        SystemErrorKind::StoreLocked
                    }
                    stod_projector::ProjectorError::Access(_) => SystemErrorKind::AccessLog,
                    stod_projector::ProjectorError::Service(_) => SystemErrorKind::Service,
                    _ => SystemErrorKind::Projector,
                };
                SystemError::new(kind, e.to_string()).about(dir.display())
            })?;
            info!(dir = %dir.display(), "projector running");
            self.projector = Some(running);
        }
        if let Some(config) = http {
            let access = match config.access {
                HttpAccess::Open => stod_http::Access::Open,
                HttpAccess::Users(dir) => stod_http::Access::Users(dir),
                HttpAccess::Managed => match &self.users {
                    Some(users) => stod_http::Access::Users(users.auth.clone()),
                    None => {
                        return Err(SystemError::new(
                            SystemErrorKind::Http,
                            "the dashboard's users are the managed server's, and this system manages none".into(),
                        ))
                    }
                },
            };
            let user = match &self.users {
                Some(users) => users.http.user.clone(),
                None => stod_events::ids::UserId::parse(HTTP_USER)
                    .map_err(|e| SystemError::new(SystemErrorKind::Http, e.to_string()))?,
            };
            let nats = self.connect(self.users.as_ref().map(|u| u.http.clone()), "stod http").await?;
            let state = stod_http::AppState::new(nats, user, metrics).with_access(access);
            let addr = config.addr;
            let started = match &config.tls {
                Some(tls) => stod_http::start_tls(addr, state, tls).await,
                None => stod_http::start(addr, state).await,
            };
            let running = started.map_err(|e| {
                let kind = if e.kind() == std::io::ErrorKind::AddrInUse {
                    SystemErrorKind::HttpAddrInUse
                } else {
                    SystemErrorKind::Http
                };
                SystemError::new(kind, e.to_string()).about(addr)
            })?;
            info!(addr = %running.addr, "HTTP service running");
            self.http = Some(running);
        }
        Ok(())
    }

    /// A connection for a service: as its own user on a managed server, as the shared
    /// credentials (or anonymously) on an existing NATS.
    async fn connect(&mut self, own: Option<Credentials>, name: &str) -> Result<async_nats::Client, SystemError> {
        let nats = self
            .connect_options(own.as_ref(), name)
            .connect_nats()
            .await
            .map_err(|e| SystemError::new(SystemErrorKind::Connect, e.to_string()).about(&self.url))?;
        self.connections.push(nats.clone());
        Ok(nats)
    }

    /// How to connect to this system's NATS as `credentials` (or as the shared
    /// credentials of an existing NATS when `None`).
    pub fn connect_options(&self, credentials: Option<&Credentials>, name: &str) -> ConnectOptions {
        let options = ConnectOptions::new(&self.url).name(name).retry(RetryPolicy::default());
        match credentials.or(self.shared_credentials.as_ref()) {
            Some(creds) => options.credentials(creds.clone()),
            None => options,
        }
    }

    /// Starts one more command-service instance on its own connection.
    pub async fn add_command_instance(&mut self) -> Result<(), SystemError> {
        let nats = self.connect(self.users.as_ref().map(|u| u.command.clone()), "stod command").await?;
        let running = stod_command::start(nats, self.command_options.clone()).await.map_err(|e| match &e {
            stod_command::StartError::Store(store) => SystemError::store(SystemErrorKind::EventLog, store),
            stod_command::StartError::Access(store) => SystemError::store(SystemErrorKind::AccessLog, store),
            stod_command::StartError::Service(_) => SystemError::new(SystemErrorKind::Service, e.to_string()),
        })?;
        info!(url = %self.url, "command service running");
        self.command.push(running);
        Ok(())
    }

    /// Takes one command-service instance out, for the caller to stop or keep.
    pub fn take_command_instance(&mut self, index: usize) -> Option<RunningService> {
        (index < self.command.len()).then(|| self.command.remove(index))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The managed server, if this system started one.
    pub fn server(&self) -> Option<&NatsServer> {
        self.server.as_ref()
    }

    pub fn data(&self) -> Option<&DataDir> {
        self.data.as_ref()
    }

    /// The managed system's users (services, seeder, operator).
    pub fn users(&self) -> Option<&ServiceUsers> {
        self.users.as_ref()
    }

    pub fn replicas(&self) -> usize {
        self.replicas
    }

    pub fn command(&self) -> &[RunningService] {
        &self.command
    }

    pub fn registry(&self) -> Option<&RunningRegistry> {
        self.registry.as_ref()
    }

    pub fn projector(&self) -> Option<&ProjectorService> {
        self.projector.as_ref()
    }

    /// Takes the projector out, for the caller to stop on its own (the rest keeps
    /// running without read models).
    pub fn take_projector(&mut self) -> Option<ProjectorService> {
        self.projector.take()
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|h| h.addr)
    }

    /// The dashboard's address as a URL (`https://` when served with TLS).
    pub fn http_url(&self) -> Option<String> {
        self.http.as_ref().map(|h| format!("{}://{}/", if h.tls { "https" } else { "http" }, h.addr))
    }

    /// Creates the demo seeder's user on the managed server and waits until the server
    /// lets it in; `None` on an existing NATS (whose operator gives the credentials).
    /// Remove it with [`remove_seeder`](Self::remove_seeder) when the demo is done: it
    /// may record in the demo case workers' names.
    pub async fn enroll_seeder(&mut self) -> Result<Option<Credentials>, SystemError> {
        let (Some(users), Some(data)) = (self.users.as_mut(), self.data.as_ref()) else { return Ok(None) };
        let user = UserId::parse(SEEDER_USER).map_err(|e| SystemError::new(SystemErrorKind::Users, e.to_string()))?;
        let creds = users
            .auth
            .ensure_user(&user, stod_auth::Role::Seeder)
            .map_err(|e| SystemError::new(SystemErrorKind::Users, e.to_string()).about(users.auth.path().display()))?;
        managed::reload(data);
        users.seeder = Some(creds.clone());
        // The reload takes a moment; the seeder's first connection must not be refused.
        for _ in 0..50 {
            if quietly(self.connect_options(Some(&creds), "stod seeder check").connect_nats()).await.is_ok() {
                return Ok(Some(creds));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(SystemError::new(SystemErrorKind::Users, "the server did not take the demo seeder's user".into()))
    }

    /// Removes the demo seeder's user again (a no-op where there is none), and waits
    /// until the server has taken the change: while nats-server reloads its users it
    /// may refuse a new connection of anyone, so nobody should be let in to connect
    /// half way through (seen: a case worker's first connection refused right after).
    pub async fn remove_seeder(&mut self) -> Result<(), SystemError> {
        let (Some(users), Some(data)) = (self.users.as_mut(), self.data.as_ref()) else { return Ok(()) };
        let seeder = users.seeder.take();
        if seeder.is_none() && !users.auth.keeps_credentials(SEEDER_USER) {
            return Ok(());
        }
        let user = UserId::parse(SEEDER_USER).map_err(|e| SystemError::new(SystemErrorKind::Users, e.to_string()))?;
        users
            .auth
            .remove_user(&user)
            .map_err(|e| SystemError::new(SystemErrorKind::Users, e.to_string()).about(users.auth.path().display()))?;
        managed::reload(data);
        if let Some(creds) = seeder {
            // Applied once the seeder's own credentials are refused.
            let mut refused = false;
            for _ in 0..50 {
                if quietly(self.connect_options(Some(&creds), "stod seeder check").connect_nats()).await.is_err() {
                    refused = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if !refused {
                return Err(SystemError::new(
                    SystemErrorKind::Users,
                    "the server still lets the demo seeder in after its user was removed".into(),
                ));
            }
        }
        info!("removed the demo seeder's user");
        Ok(())
    }

    /// The event log's last sequence now, as this system's command service or
    /// projector reads it; `None` if neither runs here or the log cannot be read.
    pub async fn log_end(&self) -> Option<u64> {
        if let Some(command) = self.command.first() {
            return command.handler().cases().store().last_sequence().await.ok();
        }
        self.projector.as_ref()?.projector().log_end().await
    }

    /// Waits for Ctrl-C, SIGTERM, or the managed server dying under us.
    pub async fn wait_for_stop(&mut self, signals: &mut Signals) -> Stop {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                stop = signals.recv() => return stop,
                _ = tick.tick() => {
                    let Some(server) = self.server.as_mut() else { continue };
                    if server.is_running() {
                        continue;
                    }
                    // Ctrl-C in a terminal reaches the server too (it shares our process
                    // group) and it may exit before we see the signal ourselves.
                    return tokio::select! {
                        stop = signals.recv() => stop,
                        _ = tokio::time::sleep(Duration::from_millis(300)) => Stop::ServerDied,
                    };
                }
            }
        }
    }

    /// Stops everything, in the order the module docs give.
    pub async fn shutdown(mut self) {
        if let Some(http) = self.http.take() {
            http.shutdown().await;
        }
        for command in self.command.drain(..) {
            command.shutdown().await;
        }
        if let Some(registry) = self.registry.take() {
            registry.shutdown().await;
        }
        if let Some(projector) = self.projector.take() {
            projector.shutdown().await;
        }
        for nats in &self.connections {
            if let Err(e) = nats.flush().await {
                warn!("flushing a NATS connection: {e}");
            }
        }
        if let Some(server) = self.server.as_mut() {
            if let Err(e) = server.stop().await {
                warn!("stopping nats-server: {e}");
            }
        }
    }
}

/// A connection attempt that is expected to be refused at times (waiting for a reload):
/// async-nats logs every refusal as an error, which the person starting stod should
/// not see.
async fn quietly<F: std::future::Future>(attempt: F) -> F::Output {
    use tracing::instrument::WithSubscriber as _;
    attempt.with_subscriber(tracing::subscriber::NoSubscriber::default()).await
}
