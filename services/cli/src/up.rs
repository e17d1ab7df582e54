//! `stod up`: the whole system on one machine.
//!
//! A managed nats-server (its data under `--data`, fsync before every acknowledgement)
//! or an existing NATS, plus the command service and the projector (read models, in
//! `<data>/projections`) in this process. Stops cleanly on Ctrl-C or SIGTERM: the
//! command service finishes what it has taken, the projector commits what it has
//! folded, then the server writes its state out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
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

/// How `up` reaches NATS.
enum Nats {
    Managed { server: Box<NatsServer>, data: PathBuf },
    Existing,
}

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
            let server = start_server(&data, port).await?;
            let url = server.url();
            (Nats::Managed { server: Box::new(server), data }, url)
        }
    };

    let projections = match (&nats, &args.data) {
        (Nats::Managed { data, .. }, _) | (Nats::Existing, Some(data)) => projector::store_dir(data),
        (Nats::Existing, None) => projector::store_dir(&default_data_dir()?),
    };
    let result = serve(&args, &url, &projections, &mut nats, &mut signals, out).await;
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
    nats: &mut Nats,
    signals: &mut Signals,
    out: Output,
) -> Result<(), CliError> {
    let policy = connect::retry_policy()?;
    let client = connect::nats(url, "stod up", &policy).await?;
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
    let projector = match projector::start(&client, projections, args.min_count, args.replicas).await {
        Ok(p) => p,
        Err(e) => {
            shutdown(service, None, None, &client).await;
            return Err(e);
        }
    };
    let http = if args.http.no_http {
        None
    } else {
        match start_http(&client, &args.http, metrics).await {
            Ok(http) => Some(http),
            Err(e) => {
                shutdown(service, Some(projector), None, &client).await;
                return Err(e);
            }
        }
    };
    print_welcome(url, nats, args.replicas, projections, http.as_ref().map(|h| h.addr), out);

    // Ctrl-C during the demo stops at once: what was recorded stays, and nothing is
    // ever recorded twice.
    let stopped_early = if args.demo {
        tokio::select! {
            stop = signals.recv() => Some(stop),
            () = demo_and_figures(&client, &projector, out) => None,
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
    shutdown(service, Some(projector), http, &client).await;
    if stop == Stop::ServerDied {
        return Err(CliError::Other("nats-server avslutades oväntat; se loggen i datakatalogen (nats/nats-server.log)".into()));
    }
    Ok(())
}

/// The user the dashboard's queries are made as.
const DASHBOARD_USER: &str = "stod-dashboard";

/// Starts the dashboard and JSON API on `args.http_addr`.
async fn start_http(
    client: &async_nats::Client,
    args: &crate::args::HttpArgs,
    metrics: Option<stod_http::metrics::PrometheusHandle>,
) -> Result<stod_http::RunningHttp, CliError> {
    let user = UserId::parse(DASHBOARD_USER).map_err(|e| CliError::Other(format!("internt fel: {e}")))?;
    let addr = args.http_addr;
    stod_http::start(addr, stod_http::AppState::new(client.clone(), user, metrics)).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            CliError::Other(format!(
                "adressen {addr} för översikten används redan av ett annat program. Välj en annan med \
                 --http 127.0.0.1:8081, eller starta utan översikt med --no-http"
            ))
        } else {
            CliError::Other(format!("översikten kunde inte starta på {addr}: {e}"))
        }
    })
}

/// `stod http`: the dashboard and JSON API alone, against an existing NATS.
pub async fn run_http(url: &str, args: crate::args::HttpArgs, out: Output) -> Result<(), CliError> {
    let mut signals = Signals::install()?;
    let policy = connect::retry_policy()?;
    let client = connect::nats(url, "stod http", &policy).await?;
    let http = start_http(&client, &args, stod_http::metrics::install()).await?;
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

/// The dashboard first (it only reads), then the command service (it may still be
/// appending), then the projector (it commits what it has folded), then what is left
/// in the connection.
async fn shutdown(
    service: RunningService,
    projector: Option<projector::Running>,
    http: Option<stod_http::RunningHttp>,
    client: &async_nats::Client,
) {
    if let Some(http) = http {
        http.shutdown().await;
    }
    service.shutdown().await;
    if let Some(projector) = projector {
        projector.shutdown().await;
    }
    if let Err(e) = client.flush().await {
        warn!("flushing the NATS connection: {e}");
    }
}

async fn start_server(data: &std::path::Path, port: u16) -> Result<NatsServer, CliError> {
    let store = data.join("nats");
    let opts = ServerOptions::new(&store).with_port(port).with_sync_always(true);
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
    let Ok(user) = UserId::parse(crate::reference::ANONYMOUS_READER) else { return };
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
    let mut stream = js.get_stream(STREAM_NAME).await.map_err(|e| CliError::Unavailable(format!("händelseloggen: {e}")))?;
    let info = stream.info().await.map_err(|e| CliError::Unavailable(format!("händelseloggen: {e}")))?;
    Ok(info.state.last_sequence)
}

fn print_welcome(url: &str, nats: &Nats, replicas: usize, projections: &Path, http: Option<std::net::SocketAddr>, out: Output) {
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
        "replicas": replicas,
        "dashboard": http.map(|a| format!("http://{a}/")),
    });
    out.result(&json, || {
        let today = stod_command::today_in_sweden();
        let (server, ack) = match nats {
            Nats::Managed { server, data } => (
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
        format!(
            "stod körs.\n\
             \x20 NATS:              {url}\n\
             \x20 Server:            {server}\n\
             \x20 Kommandotjänsten:  i den här processen (stod.cmd.*, stod.query.*.case)\n\
             \x20 Läsmodeller:       i den här processen, data i {projections} (stod.query.*: rapporter)\n\
             \x20 Översikt:          {dashboard}\n\
             \n\
             Använd stod från en annan terminal:\n\
             \x20 export STOD_NATS_URL={url}\n\
             \x20 export STOD_USER=anna            # ditt användarnamn, registreras med varje händelse\n\
             \x20 stod intake --date {today} --gender kvinna --municipality 2084 --referrer af \\\n\
             \x20      --support forsorjningsstod --birth-year 1990\n\
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
