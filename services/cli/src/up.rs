//! `stod up`: the whole system on one machine.
//!
//! A managed nats-server (its data under `--data`, fsync before every acknowledgement)
//! or an existing NATS, plus the command service, the participant registry (its key in
//! `<data>/registry.key`) and the projector (read models, in `<data>/projections`) in
//! this process. Stops cleanly on Ctrl-C or SIGTERM: the command service and the
//! registry finish what they have taken, the projector commits what it has folded,
//! then the server writes its state out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use stod_auth::{AuthDir, Credentials, Role};
use stod_command::{RunningService, ServiceOptions, StartError};
use stod_events::ids::{Date, UserId};
use stod_nats_server::{ErrorKind, NatsServer, ServerOptions};
use stod_projections::ThroughputReport;
use stod_protocol::{queries, ThroughputQuery};
use stod_store::{EventLogConfig, STREAM_NAME};
use tracing::{info, warn};

use crate::args::{UpArgs, DEFAULT_PORT};
use crate::connect;
use crate::demo;
use crate::error::{from_store, CliError};
use crate::output::Output;
use crate::projector;
use crate::query::Reader;
use crate::report;

/// How long `up --demo` waits for the read models to fold the demo in before showing
/// figures.
const CATCH_UP: Duration = Duration::from_secs(60);

/// The registry's secret key, in the data directory. Back it up apart from the NATS
/// data: without it no personnummer can be found again (decision 0007).
pub const REGISTRY_KEY_FILE: &str = "registry.key";

/// How `up` reaches NATS.
enum Nats {
    Managed { server: Box<NatsServer>, data: PathBuf, users: Box<ServiceUsers> },
    Existing,
}

/// The credentials the services of `stod up` connect with to the server it manages,
/// each its own user with only its own permissions (`stod-auth`).
struct ServiceUsers {
    auth: AuthDir,
    command: Credentials,
    projector: Credentials,
    http: Credentials,
    registry: Credentials,
    /// For `--demo`: records the demo's commands in its case workers' names.
    seeder: Option<Credentials>,
    /// The person running `stod up`: operator (drift).
    operator: Credentials,
}

/// The users `stod up` needs, created on first start in `<data>/auth`.
fn service_users(data: &Path, demo: bool) -> Result<ServiceUsers, CliError> {
    let auth = AuthDir::new(data.join("auth"));
    let ensure = |name: &str, role: Role| {
        let user = UserId::parse(name).map_err(|e| CliError::Other(format!("internt fel: {e}")))?;
        auth.ensure_user(&user, role)
            .map_err(|e| CliError::Other(format!("användarna i {}: {e}", auth.path().display())))
    };
    let users = ServiceUsers {
        command: ensure("stod-command", Role::CommandService)?,
        projector: ensure("stod-projector", Role::Projector)?,
        http: ensure(DASHBOARD_USER, Role::Http)?,
        registry: ensure("stod-registry", Role::Registry)?,
        seeder: if demo { Some(ensure(crate::demo::SEEDER, Role::Seeder)?) } else { None },
        operator: ensure(OPERATOR_USER, Role::Operator)?,
        auth,
    };
    users.auth.write_server_config().map_err(|e| CliError::Other(format!("serverns behörigheter: {e}")))?;
    Ok(users)
}

/// The operator user `stod up` creates for the person running it.
const OPERATOR_USER: &str = "drift";

/// `explicit_url`: a `--nats-url` given on this command line (never the environment's).
pub async fn run(args: UpArgs, explicit_url: Option<String>, out: Output) -> Result<(), CliError> {
    let mut signals = Signals::install()?;
    let (mut nats, url) = match explicit_url {
        Some(url) => {
            if args.port.is_some() {
                return Err(CliError::Usage(
                    "--port gäller bara den inbyggda servern; ange antingen --port eller --nats-url".into(),
                ));
            }
            if args.data.is_some() {
                info!("med --nats-url ligger händelseloggen i den befintliga NATS-servern; --data används bara för läsmodellerna");
            }
            (Nats::Existing, url)
        }
        None => {
            let data = match args.data.clone() {
                Some(dir) => dir,
                None => default_data_dir()?,
            };
            let port = args.port.unwrap_or(DEFAULT_PORT);
            let users = service_users(&data, args.demo)?;
            let server = start_server(&data, port, &users.command).await?;
            let url = server.url();
            (Nats::Managed { server: Box::new(server), data, users: Box::new(users) }, url)
        }
    };

    let data = match (&nats, &args.data) {
        (Nats::Managed { data, .. }, _) | (Nats::Existing, Some(data)) => data.clone(),
        (Nats::Existing, None) => default_data_dir()?,
    };
    let projections = projector::store_dir(&data);
    let registry_key = data.join(REGISTRY_KEY_FILE);
    let result = serve(&args, &url, &projections, &registry_key, &mut nats, &mut signals, out).await;
    if let Nats::Managed { server, .. } = &mut nats {
        if let Err(e) = server.stop().await {
            warn!("stopping nats-server: {e}");
        }
    }
    if result.is_ok() {
        out.result(&json!({ "status": "stopped" }), || "stod har stängts av.".into());
    }
    result
}

/// Everything between a reachable NATS and a stop signal.
async fn serve(
    args: &UpArgs,
    url: &str,
    projections: &Path,
    registry_key: &Path,
    nats: &mut Nats,
    signals: &mut Signals,
    out: Output,
) -> Result<(), CliError> {
    let policy = connect::retry_policy()?;
    // On a managed server each service is its own user; on an existing NATS they share
    // this process's connection (and its credentials, if given).
    let users = match nats {
        Nats::Managed { users, .. } => Some(&**users),
        Nats::Existing => None,
    };
    let connect_as = |name: &'static str, creds: Option<&Credentials>| {
        let creds = creds.cloned();
        async move {
            match creds {
                Some(creds) => connect::nats_as(url, name, &policy, Some(&creds)).await,
                None => connect::nats(url, name, &policy).await,
            }
        }
    };
    let client = connect_as("stod up: kommandotjänsten", users.map(|u| &u.command)).await?;
    let projector_client = connect_as("stod up: läsmodellerna", users.map(|u| &u.projector)).await?;
    let http_client = connect_as("stod up: översikten", users.map(|u| &u.http)).await?;
    let registry_client = connect_as("stod up: deltagarregistret", users.map(|u| &u.registry)).await?;
    let demo_client = match users.and_then(|u| u.seeder.as_ref()) {
        Some(seeder) => connect_as("stod up: demodata", Some(seeder)).await?,
        None => client.clone(),
    };
    // Before the services start, so their first commands are counted.
    let metrics = stod_http::metrics::install();
    let options = ServiceOptions {
        log: EventLogConfig { replicas: args.replicas, ..EventLogConfig::default() },
        ..ServiceOptions::default()
    };
    let service = stod_command::start(client.clone(), options).await.map_err(|e| match e {
        StartError::Store(e) => from_store("händelseloggen kunde inte öppnas", e),
        StartError::Access(e) => from_store("åtkomstloggen kunde inte öppnas", e),
        StartError::Service(e) => CliError::Unavailable(format!("kommandotjänsten kunde inte registreras i NATS: {e}")),
    })?;
    info!(url, "command service running");
    let registry = match start_registry(&registry_client, registry_key, args.replicas).await {
        Ok(r) => r,
        Err(e) => {
            shutdown(service, None, None, None, &client).await;
            return Err(e);
        }
    };
    let projector = match projector::start(&projector_client, projections, args.min_count, args.replicas).await {
        Ok(p) => p,
        Err(e) => {
            shutdown(service, Some(registry), None, None, &client).await;
            return Err(e);
        }
    };
    let http = if args.http.no_http {
        None
    } else {
        let auth = users.map(|u| u.auth.clone());
        match start_http(&http_client, &args.http, metrics, auth).await {
            Ok(http) => Some(http),
            Err(e) => {
                shutdown(service, Some(registry), Some(projector), None, &client).await;
                return Err(e);
            }
        }
    };
    print_welcome(url, nats, args.replicas, projections, registry_key, http.as_ref().map(|h| h.addr), out);

    // Ctrl-C during the demo stops at once: what was recorded stays, and nothing is
    // ever recorded twice.
    let stopped_early = if args.demo {
        tokio::select! {
            stop = signals.recv() => Some(stop),
            () = demo_and_figures(&demo_client, &projector, out) => None,
        }
    } else {
        None
    };
    let stop = match stopped_early {
        Some(stop) => stop,
        None => {
            out.say("\nTryck Ctrl-C för att stänga av.");
            wait_for_stop(signals, nats).await
        }
    };
    info!("stopping: {stop}");
    shutdown(service, Some(registry), Some(projector), http, &client).await;
    if stop == Stop::ServerDied {
        return Err(CliError::Other(
            "nats-server avslutades oväntat; se loggen i datakatalogen (nats/nats-server.log)".into(),
        ));
    }
    Ok(())
}

/// The user the dashboard's queries are made as.
const DASHBOARD_USER: &str = "stod-http";

/// Starts the dashboard and JSON API on `args.http_addr`.
async fn start_http(
    client: &async_nats::Client,
    args: &crate::args::HttpArgs,
    metrics: Option<stod_http::metrics::PrometheusHandle>,
    auth: Option<AuthDir>,
) -> Result<stod_http::RunningHttp, CliError> {
    let user = UserId::parse(DASHBOARD_USER).map_err(|e| CliError::Other(format!("internt fel: {e}")))?;
    let addr = args.http_addr;
    let access = match auth {
        Some(dir) => stod_http::Access::Users(dir),
        None => match &args.users {
            Some(dir) => stod_http::Access::Users(AuthDir::new(dir)),
            None if args.no_login => {
                warn!("the dashboard runs without logins (--no-login); anyone who reaches {addr} sees it");
                stod_http::Access::Open
            }
            None => {
                return Err(CliError::Usage(
                    "översikten kräver inloggning: ange användarkatalogen med --users KATALOG (<data>/auth från \
                     stod up), eller --no-login för en översikt utan inloggning på en egen maskin, eller --no-http"
                        .into(),
                ))
            }
        },
    };
    stod_http::start(addr, stod_http::AppState::new(client.clone(), user, metrics).with_access(access)).await.map_err(
        |e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                CliError::Other(format!(
                    "adressen {addr} för översikten används redan av ett annat program. Välj en annan med \
                 --http 127.0.0.1:8081, eller starta utan översikt med --no-http"
                ))
            } else {
                CliError::Other(format!("översikten kunde inte starta på {addr}: {e}"))
            }
        },
    )
}

/// `stod http`: the dashboard and JSON API alone, against an existing NATS.
pub async fn run_http(url: &str, args: crate::args::HttpArgs, out: Output) -> Result<(), CliError> {
    let mut signals = Signals::install()?;
    let policy = connect::retry_policy()?;
    let client = connect::nats(url, "stod http", &policy).await?;
    let http = start_http(&client, &args, stod_http::metrics::install(), None).await?;
    let addr = http.addr;
    out.result(&json!({ "status": "ready", "nats_url": url, "http": format!("http://{addr}/") }), || {
        format!(
            "Översikten körs.\n\x20 NATS:      {url}\n\x20 Översikt:  http://{addr}/\n\x20 API:       http://{addr}/api/openapi.json\n\nTryck Ctrl-C för att stänga av."
        )
    });
    let stop = signals.recv().await;
    info!("stopping: {stop}");
    http.shutdown().await;
    out.result(&json!({ "status": "stopped" }), || "Översikten har stängts av.".into());
    Ok(())
}

/// The participant registry, with its key (created on first start).
async fn start_registry(
    client: &async_nats::Client,
    key_path: &Path,
    replicas: usize,
) -> Result<stod_registry::RunningRegistry, CliError> {
    let key = stod_registry::RegistryKey::load_or_create(key_path).map_err(|e| CliError::Other(e.to_string()))?;
    let options = stod_registry::RegistryOptions { replicas, ..stod_registry::RegistryOptions::new(key) };
    let registry = stod_registry::start(client.clone(), options).await.map_err(|e| match e {
        stod_registry::StartError::Service(e) => {
            CliError::Unavailable(format!("deltagarregistret kunde inte registreras i NATS: {e}"))
        }
        other => CliError::Unavailable(format!("deltagarregistret kunde inte öppnas: {other}")),
    })?;
    info!(key = %key_path.display(), "participant registry running");
    Ok(registry)
}

/// The dashboard first (it only reads), then the command service (it may still be
/// appending) and the registry, then the projector (it commits what it has folded),
/// then what is left in the connection.
async fn shutdown(
    service: RunningService,
    registry: Option<stod_registry::RunningRegistry>,
    projector: Option<projector::Running>,
    http: Option<stod_http::RunningHttp>,
    client: &async_nats::Client,
) {
    if let Some(http) = http {
        http.shutdown().await;
    }
    service.shutdown().await;
    if let Some(registry) = registry {
        registry.shutdown().await;
    }
    if let Some(projector) = projector {
        projector.shutdown().await;
    }
    if let Err(e) = client.flush().await {
        warn!("flushing the NATS connection: {e}");
    }
}

async fn start_server(data: &std::path::Path, port: u16, probe: &Credentials) -> Result<NatsServer, CliError> {
    let store = data.join("nats");
    // The users and their permissions, from <data>/auth (`stod user add` rewrites it
    // and asks the server to reload). Relative to the config file in <data>/nats. No
    // anonymous access: a client without a listed key is refused.
    let extra = format!("include \"../auth/auth.conf\"\npid_file: {:?}", store.join(PID_FILE).display().to_string());
    let opts = ServerOptions::new(&store)
        .with_port(port)
        .with_sync_always(true)
        .with_extra_config(extra)
        .with_probe_nkey(probe.nkey_seed.clone(), stod_auth::inbox_prefix(probe.user.as_str()));
    NatsServer::start(opts).await.map_err(|e| match e.kind() {
        ErrorKind::PortInUse => CliError::Other(format!(
            "port {port} används redan av ett annat program (kanske en stod up som redan körs?). \
             Välj en annan port med --port, eller använd den server som redan kör med --nats-url nats://127.0.0.1:{port}"
        )),
        ErrorKind::BinaryNotFound | ErrorKind::UnsupportedVersion => CliError::Other(format!(
            "ingen användbar nats-server hittades: kör `bash scripts/install-nats-server` i stod-katalogen \
             eller ange en nats-server (>= 2.12) med STOD_NATS_SERVER.\n{e}"
        )),
        _ => CliError::Other(format!("nats-server kunde inte startas (data i {}):\n{e}", store.display())),
    })
}

/// The managed server's pid, for `stod user add` to ask it to reload its users.
pub const PID_FILE: &str = "nats-server.pid";

/// `$XDG_DATA_HOME/stod`, else `~/.local/share/stod`.
pub fn default_data_dir() -> Result<PathBuf, CliError> {
    let xdg = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    let home = std::env::var_os("HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    match (xdg, home) {
        (Some(xdg), _) => Ok(xdg.join("stod")),
        (None, Some(home)) => Ok(home.join(".local/share/stod")),
        (None, None) => Err(CliError::Usage("hittar ingen hemkatalog för data: ange --data KATALOG".into())),
    }
}

async fn demo_and_figures(client: &async_nats::Client, projector: &projector::Running, out: Output) {
    let today = stod_command::today_in_sweden();
    match demo::up_demo(client, today, out).await {
        Ok(_) => show_figures(client, projector, today, out).await,
        // A failed demo leaves a working system; say so and keep serving.
        Err(e) => eprintln!("stod: demon kunde inte slutföras: {e}"),
    }
}

/// After the demo: waits until the read models hold the whole log, then shows this
/// year's throughput, so whoever started `up --demo` sees figures at once.
async fn show_figures(nats: &async_nats::Client, projector: &projector::Running, today: Date, out: Output) {
    let end = match log_end(nats).await {
        Ok(end) => end,
        Err(e) => {
            eprintln!("stod: {e}");
            return;
        }
    };
    let caught_up = tokio::time::timeout(CATCH_UP, projector.service.projector().wait_for(end)).await;
    if !matches!(caught_up, Ok(Ok(()))) {
        eprintln!("stod: läsmodellerna har inte hunnit ikapp med loggen än; se `stod projections status`");
        return;
    }
    let Ok(policy) = connect::retry_policy() else { return };
    // The demo's own user: on a managed server it may ask for this report.
    let Ok(user) = UserId::parse(crate::demo::SEEDER) else { return };
    let reader = Reader::new(nats.clone(), user, policy);
    let query = ThroughputQuery { period: today.year().to_string(), today: Some(today) };
    match reader.report::<_, ThroughputReport>(queries::THROUGHPUT, &query).await {
        Ok(answer) => {
            let json = json!({
                "status": "figures",
                "checkpoint": answer.checkpoint,
                "generation": answer.generation,
                "report": answer.report,
            });
            out.result(&json, || {
                format!(
                    "\n{}\n\nHela rapporten:  stod report throughput --year {}\nStyrgruppen:     stod report styrgrupp --as-of {today}",
                    report::throughput_summary(&answer.report),
                    today.year(),
                )
            });
        }
        Err(e) => eprintln!("stod: årets siffror kunde inte hämtas: {e}"),
    }
}

/// The last sequence in the event log.
async fn log_end(nats: &async_nats::Client) -> Result<u64, CliError> {
    let js = async_nats::jetstream::new(nats.clone());
    let mut stream =
        js.get_stream(STREAM_NAME).await.map_err(|e| CliError::Unavailable(format!("händelseloggen: {e}")))?;
    let info = stream.info().await.map_err(|e| CliError::Unavailable(format!("händelseloggen: {e}")))?;
    Ok(info.state.last_sequence)
}

fn print_welcome(
    url: &str,
    nats: &Nats,
    replicas: usize,
    projections: &Path,
    registry_key: &Path,
    http: Option<std::net::SocketAddr>,
    out: Output,
) {
    let (managed, data) = match nats {
        Nats::Managed { data, .. } => (true, Some(data.display().to_string())),
        Nats::Existing => (false, None),
    };
    let json = json!({
        "status": "ready",
        "nats_url": url,
        "managed": managed,
        "data_dir": data,
        "projections_dir": projections,
        "registry_key": registry_key,
        "replicas": replicas,
        "dashboard": http.map(|a| format!("http://{a}/")),
        "operator_credentials": match nats {
            Nats::Managed { users, .. } => Some(users.auth.credentials_path(users.operator.user.as_str())),
            Nats::Existing => None,
        },
    });
    out.result(&json, || {
        let today = stod_command::today_in_sweden();
        let (server, ack) = match nats {
            Nats::Managed { server, data, .. } => (
                format!(
                    "inbyggd nats-server (pid {}), data i {}",
                    server.pid().map_or_else(|| "?".into(), |p| p.to_string()),
                    data.join("nats").display()
                ),
                "Ett kvitto (\"Registrerat: ...\") betyder att händelsen är skriven till disken (fsync) innan\n\
                 svaret skickades: den finns kvar även om strömmen går direkt efteråt."
                    .to_owned(),
            ),
            Nats::Existing => (
                format!("befintlig NATS, händelseloggen med {replicas} replik(er)"),
                format!(
                    "Ett kvitto (\"Registrerat: ...\") betyder att JetStream har lagrat händelsen på {replicas} server(ar).\n\
                     Om den också är skriven till disk innan svaret beror på serverns sync_interval (stod\n\
                     rekommenderar sync_interval: always)."
                ),
            ),
        };
        let year = today.year();
        let who = match nats {
            Nats::Managed { users, data, .. } => format!(
                "Inloggning: servern släpper bara in kända användare, var och en med sin roll.\n\
                 \x20 Du (drift):       {creds}\n\
                 \x20 Översikten:       användare {op}, lösenord {token}\n\
                 \x20 Ny användare:     stod user add anna --role handlaggare --data {data}\n\
                 \x20                   (roller: handlaggare, projektledare, revisor, styrgrupp, finansiar, drift)\n\
                 \n\
                 Använd stod från en annan terminal:\n\
                 \x20 export STOD_NATS_URL={url}\n\
                 \x20 export STOD_CREDENTIALS={anna}   # från stod user add",
                creds = users.auth.credentials_path(users.operator.user.as_str()).display(),
                op = users.operator.user,
                token = users.operator.http_token,
                data = data.display(),
                anna = users.auth.credentials_path("anna").display(),
            ),
            Nats::Existing => "Använd stod från en annan terminal:\n\
                 \x20 export STOD_NATS_URL={url}\n\
                 \x20 export STOD_USER=anna            # ditt användarnamn, registreras med varje händelse"
                .replace("{url}", url),
        };
        format!(
            "stod körs.\n\
             \x20 NATS:              {url}\n\
             \x20 Server:            {server}\n\
             \x20 Kommandotjänsten:  i den här processen (stod.cmd.*, stod.query.*.case)\n\
             \x20 Deltagarregistret: i den här processen (stod.registry.*), nyckeln i {registry_key}\n\
             \x20 Läsmodeller:       i den här processen, data i {projections} (stod.query.*: rapporter)\n\
             \x20 Översikt:          {dashboard}\n\
             \n\
             {who}\n\
             \x20 stod intake --date {today} --gender kvinna --municipality 2084 --referrer af \\\n\
             \x20      --support forsorjningsstod --birth-year 1990\n\
             \x20 stod case find --personnummer ÅÅÅÅMMDD-NNNN   # ärendet via deltagarregistret\n\
             \x20 stod case show <ärende-id>\n\
             \x20 stod case history <ärende-id>     # granskningsspåret ur läsmodellerna\n\
             \x20 stod report throughput --year {year}\n\
             \x20 stod report styrgrupp --as-of {today} --format html > styrgrupp.html\n\
             \x20 stod report uppfoljning --period {year} --format csv > uppfoljning.csv\n\
             \x20 stod projections status\n\
             \x20 stod reference show\n\
             \n\
             {ack}",
            projections = projections.display(),
            registry_key = registry_key.display(),
            dashboard = http.map_or_else(|| "avstängd (--no-http)".to_owned(), |a| format!("http://{a}/  (styrgrupp, uppföljning, API, /healthz, /metrics)")),
        )
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Interrupt,
    Terminate,
    ServerDied,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stop::Interrupt => "interrupted (Ctrl-C)",
            Stop::Terminate => "SIGTERM",
            Stop::ServerDied => "nats-server exited",
        })
    }
}

/// Ctrl-C and SIGTERM, listened for from the start of `up`: a signal that arrives
/// while the server starts or the demo runs is kept until we wait for it.
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn install() -> Result<Self, CliError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind| signal(kind).map_err(|e| CliError::Other(format!("kan inte lyssna på signaler: {e}")));
            Ok(Self { interrupt: listen(SignalKind::interrupt())?, terminate: listen(SignalKind::terminate())? })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    pub(crate) async fn recv(&mut self) -> Stop {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Stop::Interrupt,
                _ = self.terminate.recv() => Stop::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Stop::Interrupt
        }
    }
}

/// Waits for Ctrl-C, SIGTERM, or the managed server dying under us.
async fn wait_for_stop(signals: &mut Signals, nats: &mut Nats) -> Stop {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            stop = signals.recv() => return stop,
            _ = tick.tick() => {
                let Nats::Managed { server, .. } = &mut *nats else { continue };
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
