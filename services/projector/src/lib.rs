//! stod's projection runner: the event stream folded into sled read models.
//!
//! It reads the stream in order from its checkpoint with an ordered consumer, folds
//! each batch with the pure folds of `stod-projections`, and commits the batch's
//! changes together with the new checkpoint in one atomic sled batch. A crash at any
//! moment neither loses nor double-counts an event; a gap in the stream or an event
//! that does not decode stops folding and is reported, never skipped.
//!
//! # Layout
//!
//! - [`store`]: the sled layout, generations and the atomic swap.
//! - [`runner`]: catch-up, live tail, rebuild; [`runner::Status`] for progress.
//! - [`serve`]: the NATS query endpoints.
//!
//! # What it does not do
//!
//! It never publishes an event and never writes to the log: read models are
//! downstream and disposable. Its one write is the access record of a case-level
//! query (`history`), to the access log beside the event log (`stod_store::access`). Any number of projectors may run, each with its own
//! store; they answer queries as one queue group.

pub mod runner;
pub mod serve;
pub mod store;

pub use runner::{start, ProjectorError, ProjectorOptions, RebuildProgress, RunningProjector, Status};
pub use serve::{bind, serve, Bound, QUEUE_GROUP};
pub use store::{Generation, ReadStore, StoreError};

use stod_events::ids::Date;

/// Today's date in Sweden.
pub fn today_in_sweden() -> Date {
    Date::new(chrono::Utc::now().with_timezone(&chrono_tz::Europe::Stockholm).date_naive())
}

/// The projector and its query endpoints, running together.
pub struct ProjectorService {
    projector: std::sync::Arc<RunningProjector>,
    stop: tokio::sync::watch::Sender<bool>,
    serving: tokio::task::JoinHandle<()>,
}

impl ProjectorService {
    pub fn projector(&self) -> &RunningProjector {
        &self.projector
    }

    /// Stops answering, then stops folding and flushes the store.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.serving.await;
        match std::sync::Arc::try_unwrap(self.projector) {
            Ok(projector) => projector.shutdown().await,
            Err(_) => tracing::warn!("projector still referenced at shutdown; not flushed explicitly"),
        }
    }
}

/// Starts the projector and serves its queries on `client`.
pub async fn start_service(
    client: async_nats::Client,
    opts: ProjectorOptions,
) -> Result<ProjectorService, ProjectorError> {
    // Opened (created or checked) before anything is served: no history query is ever
    // answered without somewhere to record it.
    let access = if opts.access_log {
        let cfg = stod_store::EventLogConfig { replicas: opts.replicas, ..stod_store::EventLogConfig::default() };
        let js = async_nats::jetstream::new(client.clone());
        Some(stod_store::AccessLog::open(js, &cfg).await.map_err(|e| ProjectorError::Access(e.to_string()))?)
    } else {
        None
    };
    let projector = std::sync::Arc::new(start(client.clone(), opts).await?);
    let bound = bind(&client, access).await.map_err(ProjectorError::Stream)?;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn({
        let projector = projector.clone();
        async move {
            if let Err(e) = serve(bound, projector, stop_rx).await {
                tracing::error!("projector queries stopped: {e}");
            }
        }
    });
    Ok(ProjectorService { projector, stop, serving })
}
