//! The read models' process: in `stod up`, or alone as `stod projector` (on another
//! machine, or several for capacity: they answer queries as one queue group).
//!
//! Its store is `<data>/projections`, locked for one process at a time (two processes
//! cannot share a sled store); a second one is refused with a clear message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use stod_projector::{ProjectorOptions, ProjectorService};
use stod_store::STREAM_NAME;
use tracing::{info, warn};

use crate::args::ProjectorArgs;
use crate::connect;
use crate::error::CliError;
use crate::output::Output;
use crate::up::{self, Signals};

/// The read models' directory under a data directory.
pub fn store_dir(data: &Path) -> PathBuf {
    data.join("projections")
}

/// The running projector.
pub struct Running {
    pub service: ProjectorService,
}

impl Running {
    pub async fn shutdown(self) {
        self.service.shutdown().await;
    }
}

/// Starts the projector on `dir` (the store locks itself for this process). Building
/// the read models (first start, new version) happens in the background; queries say
/// so until it is done.
/// Its `history` answers are recorded in the access log, created with `replicas` copies
/// if this projector is the first to need it.
pub async fn start(
    nats: &async_nats::Client,
    dir: &Path,
    min_count: u32,
    replicas: usize,
) -> Result<Running, CliError> {
    let options = ProjectorOptions { min_count, replicas, ..ProjectorOptions::new(dir) };
    let service = stod_projector::start_service(nats.clone(), options).await.map_err(|e| match e {
        stod_projector::ProjectorError::Store(stod_projector::StoreError::Locked(_)) => CliError::Other(format!(
            "läsmodellerna i {} används redan av en annan process (stod up eller stod projector). \
             Ange en egen katalog med --data.",
            dir.display()
        )),
        e => CliError::Other(format!("läsmodellerna i {} kunde inte startas: {e}", dir.display())),
    })?;
    info!(dir = %dir.display(), "projector running");
    Ok(Running { service })
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

/// `stod projector`.
pub async fn run(url: &str, args: ProjectorArgs, out: Output) -> Result<(), CliError> {
    let mut signals = Signals::install()?;
    let data = match args.data {
        Some(dir) => dir,
        None => up::default_data_dir()?,
    };
    let dir = store_dir(&data);
    let policy = connect::retry_policy()?;
    let nats = connect::nats(url, "stod projector", &policy).await?;
    if !wait_for_log(&nats, &mut signals, out).await {
        out.result(&json!({ "status": "stopped" }), || "Projektorn har stängts av.".into());
        return Ok(());
    }
    // The event log exists, so the command service has created the access stream with
    // the log's replicas already; 1 only matters on a system that never ran one.
    let running = start(&nats, &dir, args.min_count, 1).await?;
    let status = running.service.projector().status();
    let ready = json!({ "status": "ready", "nats_url": url, "data_dir": dir, "generation": status.generation });
    out.result(&ready, || {
        format!(
            "Projektorn körs.\n\
             \x20 NATS:          {url}\n\
             \x20 Läsmodeller:   {} ({})\n\
             \x20 Frågor:        stod.query.*.<throughput|steering|history|projection-status|published-*>, stod.ops.*.rebuild\n\
             \n\
             Tryck Ctrl-C för att stänga av.",
            dir.display(),
            if status.generation == 0 { "byggs från händelseloggen".to_owned() } else { format!("generation {}", status.generation) }
        )
    });
    let stop = signals.recv().await;
    info!("stopping: {stop}");
    running.shutdown().await;
    if let Err(e) = nats.flush().await {
        warn!("flushing the NATS connection: {e}");
    }
    out.result(&json!({ "status": "stopped" }), || "Projektorn har stängts av.".into());
    Ok(())
}
