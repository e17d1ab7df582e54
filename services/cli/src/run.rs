//! The run commands, `stod up`, `stod projector` and `stod http`: short adapters over
//! `stod-system`. Each turns its flags into a [`System::builder`], words the system's
//! errors in Swedish, says what runs where, and stops on Ctrl-C or SIGTERM (the order
//! of starting and stopping is `stod-system`'s).

use std::time::Duration;

use serde_json::json;
use stod_command::ServiceOptions;
use stod_events::ids::{Date, UserId};
use stod_projections::ThroughputReport;
use stod_projector::ProjectorOptions;
use stod_protocol::{queries, ThroughputQuery};
use stod_store::STREAM_NAME;
use stod_system::{
    DataDir, HttpAccess, HttpConfig, Nats, RegistryKeySource, Signals, Stop, System, SystemError, SystemErrorKind,
};
use tracing::{info, warn};

use crate::args::{HttpArgs, ProjectorArgs, UpArgs, DEFAULT_PORT};
use crate::demo;
use crate::error::CliError;
use crate::output::Output;

use crate::session::Session;

/// How long `up --demo` waits for the read models to fold the demo in before showing
/// figures.
const CATCH_UP: Duration = Duration::from_secs(60);

/// The system's error, in Swedish, with the exit code of its kind.
pub fn system_error(e: SystemError) -> CliError {
    let about = e.subject().unwrap_or_default().to_owned();
    let detail = e.message().to_owned();
    match e.kind() {
        SystemErrorKind::NoDataDir => CliError::Usage("hittar ingen hemkatalog för data: ange --data KATALOG".into()),
        SystemErrorKind::Signals => CliError::Other(format!("kan inte lyssna på signaler: {detail}")),
        SystemErrorKind::Users => CliError::Other(format!("användarna i {about}: {detail}")),
        SystemErrorKind::PortInUse => CliError::Other(format!(
            "port {about} används redan av ett annat program (kanske en stod up som redan körs?). \
             Välj en annan port med --port, eller använd den server som redan kör med --nats-url nats://127.0.0.1:{about}"
        )),
        SystemErrorKind::ServerMissing => CliError::Other(format!(
            "ingen användbar nats-server hittades: kör `bash scripts/install-nats-server` i stod-katalogen \
             eller ange en nats-server (>= 2.12) med STOD_NATS_SERVER.\n{detail}"
        )),
        SystemErrorKind::ServerStart => CliError::Other(format!("nats-server kunde inte startas (data i {about}):\n{detail}")),
        SystemErrorKind::Connect => CliError::Unavailable(detail),
        SystemErrorKind::StoreLocked => CliError::Other(format!(
            "läsmodellerna i {about} används redan av en annan process (stod up eller stod projector). \
             Ange en egen katalog med --data."
        )),
        SystemErrorKind::HttpAddrInUse => CliError::Other(format!(
            "adressen {about} för översikten används redan av ett annat program. Välj en annan med \
             --http 127.0.0.1:8081, eller starta utan översikt med --no-http"
        )),
        SystemErrorKind::Http => CliError::Other(format!("översikten kunde inte starta på {about}: {detail}")),
        SystemErrorKind::Restore => CliError::Other(format!("återställningen: {detail}")),
        SystemErrorKind::BackupDamaged => CliError::Integrity { message: detail, shown: false },
        SystemErrorKind::Mirror => CliError::Other(format!("spegeln: {detail}")),
        SystemErrorKind::Service => {
            CliError::Unavailable(format!("en tjänst kunde inte registreras i NATS: {detail}"))
        }
        kind => {
            let what = match kind {
                SystemErrorKind::EventLog => "händelseloggen kunde inte öppnas".to_owned(),
                SystemErrorKind::AccessLog => "åtkomstloggen kunde inte öppnas".to_owned(),
                SystemErrorKind::RegistryKey => format!("registernyckeln {about}"),
                SystemErrorKind::Registry => "deltagarregistret kunde inte öppnas".to_owned(),
                _ => format!("läsmodellerna i {about} kunde inte startas"),
            };
            if e.is_transient() {
                CliError::Unavailable(format!("{what}: {detail}"))
            } else {
                CliError::Other(format!("{what}: {detail}"))
            }
        }
    }
}

/// The dashboard's HTTP settings; plain HTTP only on loopback unless told otherwise.
fn http_config(args: &HttpArgs, managed: bool) -> Result<HttpConfig, CliError> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(stod_http::TlsFiles { cert: cert.clone(), key: key.clone() }),
        _ => None,
    };
    if tls.is_none() && !args.http_addr.ip().is_loopback() && !args.http_insecure {
        return Err(CliError::Usage(format!(
            "--http {} nås från andra datorer, och utan TLS går lösenord och siffror okrypterade över nätet. \
             Ange --tls-cert FIL och --tls-key FIL, eller --http-insecure om en proxy framför sköter TLS",
            args.http_addr
        )));
    }
    Ok(HttpConfig { addr: args.http_addr, access: http_access(args, managed)?, tls })
}

/// Who may look at a dashboard on an existing NATS.
fn http_access(args: &HttpArgs, managed: bool) -> Result<HttpAccess, CliError> {
    if managed {
        return Ok(HttpAccess::Managed);
    }
    match &args.users {
        Some(dir) => Ok(HttpAccess::Users(stod_auth::AuthDir::new(dir))),
        None if args.no_login => {
            warn!("the dashboard runs without logins (--no-login); anyone who reaches {} sees it", args.http_addr);
            Ok(HttpAccess::Open)
        }
        None => Err(CliError::Usage(
            "översikten kräver inloggning: ange användarkatalogen med --users KATALOG (<data>/auth från \
             stod up), eller --no-login för en översikt utan inloggning på en egen maskin, eller --no-http"
                .into(),
        )),
    }
}

/// `stod up`. `explicit_url`: a `--nats-url` given on this command line (never the
/// environment's).
pub async fn up(args: UpArgs, explicit_url: Option<String>, session: &Session, out: Output) -> Result<(), CliError> {
    let mut signals = Signals::install().map_err(system_error)?;
    let data = DataDir::or_default(args.data.clone()).map_err(system_error)?;
    let nats = match explicit_url {
        Some(url) => {
            if args.port.is_some() {
                return Err(CliError::Usage(
                    "--port gäller bara den inbyggda servern; ange antingen --port eller --nats-url".into(),
                ));
            }
            if args.data.is_some() {
                info!("med --nats-url ligger händelseloggen i den befintliga NATS-servern; --data används bara för läsmodellerna");
            }
            Nats::Existing { url, credentials: session.credentials().cloned() }
        }
        None => Nats::Managed { data: data.clone(), port: args.port.unwrap_or(DEFAULT_PORT) },
    };
    let managed = matches!(nats, Nats::Managed { .. });
    let registry_key = args.registry_key.clone().unwrap_or_else(|| data.registry_key());
    if registry_key.starts_with(data.root()) {
        eprintln!(
            "Varning: registernyckeln ligger i datakatalogen ({}). En kopia av katalogen är då också en kopia av \
             vem varje deltagare är. Flytta den till en egen plats och starta med --registry-key FIL.",
            registry_key.display()
        );
    }
    let mut builder = System::builder(nats)
        .replicas(args.replicas)
        .command(ServiceOptions::default())
        .registry(RegistryKeySource::File(registry_key.clone()))
        .projector(ProjectorOptions { min_count: args.min_count, ..ProjectorOptions::new(data.projections()) });
    if let Some(addr) = &args.mirror_listen {
        if !managed {
            return Err(CliError::Usage(
                "--mirror-listen gäller den inbyggda servern; på ett eget NATS-kluster konfigureras leaf-noder där"
                    .into(),
            ));
        }
        let tls = args.mirror_tls_cert.clone().zip(args.mirror_tls_key.clone());
        if tls.is_none() && !is_loopback(addr) && !args.mirror_insecure {
            return Err(CliError::Usage(format!(
                "--mirror-listen {addr} nås från andra maskiner, och loggen skulle gå okrypterad till spegeln. \
                 Ange --mirror-tls-cert FIL och --mirror-tls-key FIL, eller --mirror-insecure om en VPN redan krypterar"
            )));
        }
        builder = builder.mirror_listen(stod_system::mirror::Listen { addr: addr.clone(), tls });
    }
    if !args.http.no_http {
        builder = builder.http(http_config(&args.http, managed)?);
    }
    let mut system = builder.start().await.map_err(system_error)?;
    if args.demo {
        // Demo data goes into an empty log only: never beside real records.
        match system.log_end().await {
            Some(0) => {}
            existing => {
                system.shutdown().await;
                return Err(CliError::Usage(match existing {
                    Some(n) => format!(
                        "--demo: händelseloggen har redan {n} händelser; demodata läggs bara i en tom logg. \
                         Starta utan --demo, eller med en ny --data KATALOG"
                    ),
                    None => "--demo: händelseloggen kan inte läsas, så demon startas inte".to_owned(),
                }));
            }
        }
    }
    print_welcome(&system, &data, &registry_key, out);

    // Ctrl-C during the demo stops at once: what was recorded stays, and nothing is
    // ever recorded twice. The seeder's user is there only while the demo runs.
    let stopped_early = if args.demo {
        let stop = tokio::select! {
            stop = signals.recv() => Some(stop),
            () = demo_and_figures(&mut system, out) => None,
        };
        if let Err(e) = system.remove_seeder().await {
            warn!("removing the demo seeder's user: {e}");
        }
        stop
    } else {
        None
    };
    let stop = match stopped_early {
        Some(stop) => stop,
        None => {
            out.say("\nTryck Ctrl-C för att stänga av.");
            system.wait_for_stop(&mut signals).await
        }
    };
    info!("stopping: {stop}");
    system.shutdown().await;
    if stop == Stop::ServerDied {
        return Err(CliError::Other(
            "nats-server avslutades oväntat; se loggen i datakatalogen (nats/nats-server.log)".into(),
        ));
    }
    out.result(&json!({ "status": "stopped" }), || "stod har stängts av.".into());
    Ok(())
}

/// `stod http`: the dashboard and JSON API alone, against an existing NATS.
pub async fn http(session: &Session, args: HttpArgs, out: Output) -> Result<(), CliError> {
    let mut signals = Signals::install().map_err(system_error)?;
    let url = session.url().to_owned();
    let config = http_config(&args, false)?;
    let nats = Nats::Existing { url: url.clone(), credentials: session.credentials().cloned() };
    let mut system = System::builder(nats).http(config).start().await.map_err(system_error)?;
    let web = system.http_url().unwrap_or_default();
    out.result(&json!({ "status": "ready", "nats_url": url, "http": web }), || {
        format!(
            "Översikten körs.\n\x20 NATS:      {url}\n\x20 Översikt:  {web}\n\x20 API:       {web}api/openapi.json\n\nTryck Ctrl-C för att stänga av."
        )
    });
    let stop = system.wait_for_stop(&mut signals).await;
    info!("stopping: {stop}");
    system.shutdown().await;
    out.result(&json!({ "status": "stopped" }), || "Översikten har stängts av.".into());
    Ok(())
}

/// Waits until the event log exists: a projector started before it would find nothing
/// to build from. Returns false if a stop signal came first.
async fn wait_for_log(nats: &async_nats::Client, signals: &mut Signals, out: Output) -> bool {
    let js = async_nats::jetstream::new(nats.clone());
    let mut told = false;
    loop {
        match js.get_stream(STREAM_NAME).await {
            Ok(_) => return true,
            Err(e) => {
                if !told {
                    out.say(&format!("Väntar på händelseloggen ({STREAM_NAME}) i NATS; starta `stod up` …"));
                    warn!("the event log is not there yet: {e}");
                    told = true;
                }
            }
        }
        tokio::select! {
            _ = signals.recv() => return false,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// `stod projector`: the read models alone (on another machine, or several for
/// capacity: they answer queries as one queue group). Its store is
/// `<data>/projections`, locked for one process at a time.
pub async fn projector(session: &Session, args: ProjectorArgs, out: Output) -> Result<(), CliError> {
    let mut signals = Signals::install().map_err(system_error)?;
    let data = DataDir::or_default(args.data).map_err(system_error)?;
    let dir = data.projections();
    let url = session.url().to_owned();
    if !wait_for_log(&session.nats("stod projector").await?, &mut signals, out).await {
        out.result(&json!({ "status": "stopped" }), || "Projektorn har stängts av.".into());
        return Ok(());
    }
    // The event log exists, so the command service has created the access stream with
    // the log's replicas already; the builder's 1 only matters on a system that never
    // ran one.
    let nats = Nats::Existing { url: url.clone(), credentials: session.credentials().cloned() };
    let options = ProjectorOptions { min_count: args.min_count, ..ProjectorOptions::new(&dir) };
    let mut system = System::builder(nats).projector(options).start().await.map_err(system_error)?;
    let generation = system.projector().map_or(0, |p| p.projector().status().generation);
    let ready = json!({ "status": "ready", "nats_url": url, "data_dir": dir, "generation": generation });
    out.result(&ready, || {
        format!(
            "Projektorn körs.\n\
             \x20 NATS:          {url}\n\
             \x20 Läsmodeller:   {} ({})\n\
             \x20 Frågor:        stod.query.*.<throughput|steering|history|projection-status|published-*>, stod.ops.*.rebuild\n\
             \n\
             Tryck Ctrl-C för att stänga av.",
            dir.display(),
            if generation == 0 { "byggs från händelseloggen".to_owned() } else { format!("generation {generation}") }
        )
    });
    let stop = system.wait_for_stop(&mut signals).await;
    info!("stopping: {stop}");
    system.shutdown().await;
    out.result(&json!({ "status": "stopped" }), || "Projektorn har stängts av.".into());
    Ok(())
}

/// The demo as the seeder, then this year's figures.
async fn demo_and_figures(system: &mut System, out: Output) {
    let seeder = match system.enroll_seeder().await {
        Ok(seeder) => seeder,
        Err(e) => {
            eprintln!("stod: demon kunde inte slutföras: {e}");
            return;
        }
    };
    let options = system.connect_options(seeder.as_ref(), "stod up: demo");
    let options = match options.user_id() {
        Some(_) => options,
        None => match UserId::parse(demo::SEEDER) {
            Ok(user) => options.user(user),
            Err(_) => return,
        },
    };
    let client = match options.connect().await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("stod: demon kunde inte slutföras: {e}");
            return;
        }
    };
    let today = stod_events::sweden::today();
    match demo::up_demo(&client, today, out).await {
        Ok(_) => show_figures(&client, system, today, out).await,
        // A failed demo leaves a working system; say so and keep serving.
        Err(e) => eprintln!("stod: demon kunde inte slutföras: {e}"),
    }
}

/// After the demo: waits until the read models hold the whole log, then shows this
/// year's throughput, so whoever started `up --demo` sees figures at once.
async fn show_figures(client: &stod_client::Client, system: &System, today: Date, out: Output) {
    let Some(end) = system.log_end().await else {
        eprintln!("stod: händelseloggen kan inte läsas");
        return;
    };
    let Some(projector) = system.projector() else { return };
    let caught_up = tokio::time::timeout(CATCH_UP, projector.projector().wait_for(end)).await;
    if !matches!(caught_up, Ok(Ok(()))) {
        eprintln!("stod: läsmodellerna har inte hunnit ikapp med loggen än; se `stod projections status`");
        return;
    }
    // The demo's own user: on a managed server it may ask for this report.
    let query = ThroughputQuery { period: today.year().to_string(), today: Some(today) };
    match client.report::<_, ThroughputReport>(queries::THROUGHPUT, &query).await {
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
                    stod_reports::throughput::throughput_summary(&answer.report),
                    today.year(),
                )
            });
        }
        Err(e) => eprintln!("stod: årets siffror kunde inte hämtas: {e}"),
    }
}

fn print_welcome(system: &System, data: &DataDir, registry_key: &std::path::Path, out: Output) {
    let url = system.url();
    let replicas = system.replicas();
    let projections = data.projections();
    let http = system.http_url();
    let managed = system.server().is_some();
    let json = json!({
        "status": "ready",
        "nats_url": url,
        "managed": managed,
        "data_dir": managed.then(|| data.root().display().to_string()),
        "projections_dir": projections,
        "registry_key": registry_key,
        "replicas": replicas,
        "dashboard": http,
        "operator_credentials": system.users().map(|u| u.auth.credentials_path(u.operator.user.as_str())),
    });
    out.result(&json, || {
        let today = stod_events::sweden::today();
        let (server, ack) = match system.server() {
            Some(server) => (
                format!(
                    "inbyggd nats-server (pid {}), data i {}",
                    server.pid().map_or_else(|| "?".into(), |p| p.to_string()),
                    data.nats().display()
                ),
                "Ett kvitto (\"Registrerat: ...\") betyder att händelsen är skriven till disken (fsync) innan\n\
                 svaret skickades: den finns kvar även om strömmen går direkt efteråt."
                    .to_owned(),
            ),
            None => (
                format!("befintlig NATS, händelseloggen med {replicas} replik(er)"),
                format!(
                    "Ett kvitto (\"Registrerat: ...\") betyder att JetStream har lagrat händelsen på {replicas} server(ar).\n\
                     Om den också är skriven till disk innan svaret beror på serverns sync_interval (stod\n\
                     rekommenderar sync_interval: always)."
                ),
            ),
        };
        let year = today.year();
        let who = match system.users() {
            Some(users) => format!(
                "Inloggning: servern släpper bara in kända användare, var och en med sin roll.\n\
                 \x20 Du (drift):       {creds}\n\
                 \x20 Översikten:       användare {op}, lösenord {token}\n\
                 \x20 Ny användare:     stod user add anna --role handlaggare --data {data}   (skriver ./anna.creds)\n\
                 \x20                   (roller: handlaggare, projektledare, revisor, styrgrupp, finansiar, drift)\n\
                 \n\
                 Använd stod från en annan terminal:\n\
                 \x20 export STOD_NATS_URL={url}\n\
                 \x20 export STOD_CREDENTIALS=anna.creds   # från stod user add",
                creds = users.auth.credentials_path(users.operator.user.as_str()).display(),
                op = users.operator.user,
                // Shown once, when it is made; it is in the credentials file after that.
                token = if users.operator_created {
                    users.operator.http_token.clone()
                } else {
                    "http_token i filen ovan".to_owned()
                },
                data = data.root().display(),
            ),
            None => "Använd stod från en annan terminal:\n\
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
             \x20 stod worklist                      # att göra på dina ärenden, äldst först\n\
             \x20 stod case list --due               # dina ärenden (ärendelista)\n\
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
            dashboard = http.as_ref().map_or_else(
                || "avstängd (--no-http)".to_owned(),
                |web| format!("{web}  (styrgrupp, uppföljning, API, /healthz, /metrics)")
            ),
        )
    });
}

/// Whether `host:port` (or a URL's host) is this machine only.
pub fn is_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once("://").map_or(addr, |(_, rest)| rest);
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_matches(['[', ']']);
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod mirror_address_tests {
    use super::is_loopback;

    #[test]
    fn only_this_machines_addresses_are_loopback() {
        for addr in
            ["127.0.0.1:7422", "localhost:7422", "nats-leaf://127.0.0.1:7422", "[::1]:7422", "nats-leaf://localhost:1"]
        {
            assert!(is_loopback(addr), "{addr}");
        }
        for addr in ["0.0.0.0:7422", "10.0.0.5:7422", "nats-leaf://primar.example:7422", "[::]:7422"] {
            assert!(!is_loopback(addr), "{addr}");
        }
    }
}
