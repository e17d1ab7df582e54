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
//! - [`serve`]: the query endpoints, served in `stod-nats-service`'s loop.
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
pub use serve::{ProjectorService, Queries, QUEUE_GROUP};
pub use store::{Generation, ReadStore, StoreError};

/// Starts the projector and serves its queries on `client`: the read models fold in
/// the background, and the queries are answered in `stod-nats-service`'s loop. Its
/// [`shutdown`](stod_nats_service::Running::shutdown) stops answering, then stops
/// folding and flushes the store.
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
    let spec = serve::spec(&opts);
    let projector = start(client.clone(), opts).await?;
    let queries = std::sync::Arc::new(Queries::new(projector, access));
    match stod_nats_service::start(client, spec, queries.clone()).await {
        Ok(running) => Ok(running),
        Err(e) => {
            queries.projector().stop().await;
            Err(ProjectorError::Service(e))
        }
    }
}
