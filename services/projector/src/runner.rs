//! Feeding the stream into the read models: catch up, tail, rebuild and swap.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::{self, Context};
use futures::StreamExt;
use stod_events::codec;
use stod_events::SealedEvent;
use stod_projections::PROJECTION_VERSION;
use stod_store::{QuarantineList, STREAM_NAME};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info, warn};

use crate::store::{Generation, ReadStore, StoreError};

#[derive(Clone, Debug)]
pub struct ProjectorOptions {
    /// Where the sled store lives.
    pub data_dir: PathBuf,
    /// Most events folded in one atomic batch.
    pub max_batch: usize,
    /// Published reports hide counts below this (`stod_projections::disclosure`). A
    /// setting of the service, never of a request: whoever asks cannot lower it.
    pub min_count: u32,
    /// Record every case-level query (`history`) in the access log (`STOD_ACCESS`)
    /// before answering it, and refuse it when that fails. On by default.
    pub access_log: bool,
    /// Copies of each access record, should this projector be the one that creates the
    /// access stream (3 on a three-node cluster), as the command service's log replicas.
    pub replicas: usize,
    /// Queries answered at once; more wait in NATS. A case history scans the stored
    /// events, so a flood of them must not take every core and all memory at once.
    pub max_in_flight: usize,
    /// Where answers may go (`stod_nats_service::ReplyRule`).
    pub replies: stod_nats_service::ReplyRule,
}

impl ProjectorOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            max_batch: 2000,
            min_count: stod_projections::disclosure::DEFAULT_MIN_COUNT,
            access_log: true,
            replicas: 1,
            max_in_flight: 16,
            replies: stod_nats_service::ReplyRule::default(),
        }
    }
}

pub use stod_protocol::{ProjectionStatus as Status, RebuildProgress};

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the event stream: {0}")]
    Stream(String),
    #[error("the access log: {0}")]
    Access(String),
    #[error(transparent)]
    Service(#[from] stod_nats_service::ServiceError),
    #[error("the projector has stopped")]
    Stopped,
}

/// How often a projector stopped at a foreign message looks whether it was set aside.
const QUARANTINE_POLL: Duration = Duration::from_secs(2);

enum Control {
    Rebuild(oneshot::Sender<Result<u64, String>>),
}

/// A running projector. Queries read through [`RunningProjector::store`].
pub struct RunningProjector {
    store: ReadStore,
    /// Reads the log's state for status queries.
    js: Context,
    /// Published reports hide counts below this.
    min_count: u32,
    status: watch::Receiver<Status>,
    control: mpsc::Sender<Control>,
    stop: watch::Sender<bool>,
    /// The folding task; taken by the first [`stop`](RunningProjector::stop).
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl RunningProjector {
    pub fn store(&self) -> &ReadStore {
        &self.store
    }

    /// The threshold below which published reports hide counts.
    pub fn min_count(&self) -> u32 {
        self.min_count
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// The event log's last sequence now, if it can be read.
    pub async fn log_end(&self) -> Option<u64> {
        let mut stream = self.js.get_stream(STREAM_NAME).await.ok()?;
        stream.info().await.ok().map(|i| i.state.last_sequence)
    }

    /// Waits until the live generation has folded in `sequence`.
    pub async fn wait_for(&self, sequence: u64) -> Result<(), ProjectorError> {
        let mut rx = self.status.clone();
        rx.wait_for(|s| s.checkpoint >= sequence && s.rebuild.is_none()).await.map_err(|_| ProjectorError::Stopped)?;
        Ok(())
    }

    /// Starts rebuilding every read model from the log into a new generation, which is
    /// swapped in when it has caught up. Returns the new generation's number as soon as
    /// the rebuild has started; follow it with [`status`](Self::status).
    pub async fn start_rebuild(&self) -> Result<u64, ProjectorError> {
        let (tx, rx) = oneshot::channel();
        self.control.send(Control::Rebuild(tx)).await.map_err(|_| ProjectorError::Stopped)?;
        rx.await.map_err(|_| ProjectorError::Stopped)?.map_err(ProjectorError::Stream)
    }

    /// Rebuilds and waits until the new generation is live.
    pub async fn rebuild(&self) -> Result<u64, ProjectorError> {
        let generation = self.start_rebuild().await?;
        let mut rx = self.status.clone();
        let status = rx
            .wait_for(|s| s.fault.is_some() || (s.generation >= generation && s.rebuild.is_none()))
            .await
            .map_err(|_| ProjectorError::Stopped)?
            .clone();
        match status.fault {
            Some(fault) => Err(ProjectorError::Stream(fault)),
            None => Ok(generation),
        }
    }

    /// Stops after the batch in hand, flushing the store.
    pub async fn shutdown(self) {
        self.stop().await;
    }

    /// Stops after the batch in hand and flushes the store; queries still read it. A
    /// second call only flushes again.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
        if let Err(e) = self.store.flush().await {
            warn!("flushing the read-model store: {e}");
        }
    }
}

/// Opens the store and starts folding. A store built by another projection version,
/// or none at all, is (re)built from the log first, while queries see the old one.
pub async fn start(client: async_nats::Client, opts: ProjectorOptions) -> Result<RunningProjector, ProjectorError> {
    let store = ReadStore::open(&opts.data_dir)?;
    // Half-built generations of an interrupted rebuild, and the one kept for readers
    // at the last swap: nobody reads them now.
    store.drop_stale_generations()?;
    let live = store.live()?;
    let needs_build = match &live {
        None => true,
        Some(g) => g.version()? != Some(PROJECTION_VERSION),
    };
    let initial = Status {
        generation: live.as_ref().map_or(0, |g| g.number),
        checkpoint: live.as_ref().map(Generation::checkpoint).transpose()?.unwrap_or(0),
        // Announced before the task starts, so nobody takes the old generation for
        // caught up in the meantime.
        rebuild: needs_build.then_some(RebuildProgress { generation: 0, position: 0, target: 0, events_per_second: 0 }),
        fault: None,
        log_end: None,
    };
    let (status_tx, status) = watch::channel(initial);
    let (control, control_rx) = mpsc::channel(4);
    let (stop, stop_rx) = watch::channel(false);
    let js = jetstream::new(client);
    let runner = Runner {
        quarantine: QuarantineList::reader(js.clone()),
        js: js.clone(),
        store: store.clone(),
        status: status_tx,
        max_batch: opts.max_batch.max(1),
    };
    let task = tokio::spawn(runner.run(live, needs_build, control_rx, stop_rx));
    Ok(RunningProjector {
        store,
        js,
        min_count: opts.min_count,
        status,
        control,
        stop,
        task: std::sync::Mutex::new(Some(task)),
    })
}

struct Runner {
    js: Context,
    /// Messages an operator set aside, which folding passes over.
    quarantine: QuarantineList,
    store: ReadStore,
    status: watch::Sender<Status>,
    max_batch: usize,
}

/// How one pass of folding ended.
enum Ended {
    Stopped,
    RebuildRequested(oneshot::Sender<Result<u64, String>>),
    /// Stopped on a fault; at this sequence when it is a message that is not an
    /// event, which an operator may set aside.
    Faulted(Option<u64>),
}

impl Runner {
    async fn run(
        self,
        live: Option<Generation>,
        needs_build: bool,
        mut control: mpsc::Receiver<Control>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut live = live;
        if needs_build {
            info!("read models missing or of another version: building from the log");
            // The log may not be reachable or not exist yet (NATS starting, the first
            // `stod up`): keep trying, quietly after the first warning.
            let mut warned = false;
            loop {
                match self.rebuild(&mut stop, &mut control, &mut None).await {
                    Ok(Some(g)) => {
                        live = Some(g);
                        break;
                    }
                    Ok(None) => return,
                    Err(ProjectorError::Stream(e)) => {
                        if !warned {
                            warn!("cannot build the read models yet ({e}); retrying");
                            warned = true;
                        }
                        tokio::select! {
                            _ = stop.changed() => return,
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        }
                    }
                    Err(e) => {
                        self.fault(format!("building the read models failed: {e}"));
                        break;
                    }
                }
            }
        }
        let Some(mut live) = live else { return };
        // Made from the stored events now rather than by the first query.
        let g = live.clone();
        if let Err(e) = joined(tokio::task::spawn_blocking(move || g.with_model(|s| s.checkpoint)).await) {
            self.fault(format!("loading the read models: {e}"));
        }
        loop {
            match self.tail(&live, &mut control, &mut stop).await {
                Ended::Stopped => return,
                Ended::Faulted(at) => {
                    // Frozen until a rebuild is asked for, an operator sets the message
                    // aside (looked for every few seconds), or we are stopped.
                    loop {
                        tokio::select! {
                            _ = stop.changed() => return,
                            Some(Control::Rebuild(reply)) = control.recv() => {
                                self.status.send_modify(|s| s.fault = None);
                                self.do_rebuild(&mut live, reply, &mut control, &mut stop).await;
                                break;
                            }
                            _ = tokio::time::sleep(QUARANTINE_POLL) => {
                                let Some(seq) = at else { continue };
                                if self.quarantine.refresh().await.is_ok() && self.quarantine.entries().contains_key(&seq) {
                                    info!(sequence = seq, "the message was set aside; folding goes on");
                                    self.status.send_modify(|s| s.fault = None);
                                    break;
                                }
                            }
                        }
                    }
                }
                Ended::RebuildRequested(reply) => self.do_rebuild(&mut live, reply, &mut control, &mut stop).await,
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    async fn do_rebuild(
        &self,
        live: &mut Generation,
        reply: oneshot::Sender<Result<u64, String>>,
        control: &mut mpsc::Receiver<Control>,
        stop: &mut watch::Receiver<bool>,
    ) {
        let mut reply = Some(reply);
        match self.rebuild(stop, control, &mut reply).await {
            Ok(Some(g)) => *live = g,
            Ok(None) => {}
            Err(e) => {
                self.status.send_modify(|s| s.rebuild = None);
                if let Some(reply) = reply.take() {
                    let _ = reply.send(Err(e.to_string()));
                }
                self.fault(format!("rebuild failed: {e}; the previous read models stay live"));
            }
        }
    }

    fn fault(&self, message: String) {
        error!("{message}");
        self.status.send_modify(|s| s.fault = Some(message));
    }

    async fn last_sequence(&self) -> Result<u64, ProjectorError> {
        let mut stream = self.js.get_stream(STREAM_NAME).await.map_err(|e| ProjectorError::Stream(e.to_string()))?;
        let info = stream.info().await.map_err(|e| ProjectorError::Stream(e.to_string()))?;
        Ok(info.state.last_sequence)
    }

    async fn consumer(&self, from: u64) -> Result<async_nats::jetstream::consumer::pull::Ordered, ProjectorError> {
        let stream = self.js.get_stream(STREAM_NAME).await.map_err(|e| ProjectorError::Stream(e.to_string()))?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: from },
                max_batch: self.max_batch as i64,
                ..Default::default()
            })
            .await
            .map_err(|e| ProjectorError::Stream(e.to_string()))?;
        consumer.messages().await.map_err(|e| ProjectorError::Stream(e.to_string()))
    }

    /// Builds a new generation from the first event to the stream's current end, then
    /// swaps it in. `Ok(None)` if stopped meanwhile.
    async fn rebuild(
        &self,
        stop: &mut watch::Receiver<bool>,
        control: &mut mpsc::Receiver<Control>,
        started_reply: &mut Option<oneshot::Sender<Result<u64, String>>>,
    ) -> Result<Option<Generation>, ProjectorError> {
        let generation = self.store.new_generation()?;
        if let Some(reply) = started_reply.take() {
            let _ = reply.send(Ok(generation.number));
        }
        let target = self.last_sequence().await?;
        let started = Instant::now();
        let progress = |position: u64| {
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            Some(RebuildProgress {
                generation: generation.number,
                position,
                target,
                events_per_second: (position as f64 / secs) as u64,
            })
        };
        self.status.send_modify(|s| s.rebuild = progress(0));
        let mut position = 0;
        if target > 0 {
            // Three stages at once, batches still applied strictly one after the other
            // and in order: a task reads the stream ahead, a blocking task decodes the
            // next batch, another writes and folds this one.
            let mut messages = self.consumer(1).await?;
            let (raw_tx, mut raw_rx) = mpsc::channel(2);
            let max = self.max_batch;
            let _reader = AbortOnDrop(tokio::spawn(async move {
                let mut read = 0;
                while read < target {
                    let raw = next_raw_batch(&mut messages, max).await;
                    let failed = match &raw {
                        Ok(b) => {
                            read = b.last().map_or(read, |(seq, _)| *seq);
                            false
                        }
                        Err(_) => true,
                    };
                    if raw_tx.send(raw).await.is_err() || failed {
                        break;
                    }
                }
            }));
            let mut fetched = 0;
            let mut decoding: Option<tokio::task::JoinHandle<DecodedBatch>> = None;
            let mut writing: Option<tokio::task::JoinHandle<Result<u64, StoreError>>> = None;
            loop {
                let next = if fetched < target {
                    let raw = tokio::select! {
                        _ = stop.changed() => return Ok(None),
                        // Asked again while building: this rebuild is the answer.
                        Some(Control::Rebuild(reply)) = control.recv() => {
                            let _ = reply.send(Ok(generation.number));
                            continue;
                        }
                        raw = raw_rx.recv() => raw.unwrap_or_else(|| Err(BatchError::Consumer("the stream reader ended".into())))?,
                    };
                    fetched = raw.last().map_or(fetched, |(seq, _)| *seq);
                    Some(tokio::task::spawn_blocking(move || decode_batch(raw)))
                } else {
                    None
                };
                if let Some(previous) = std::mem::replace(&mut decoding, next) {
                    let decoded = previous
                        .await
                        .map_err(|e| ProjectorError::Stream(format!("decoding a batch panicked: {e}")))?;
                    let batch = resolve(decoded, &self.quarantine).await?;
                    if let Some(w) = writing.take() {
                        position = joined(w.await)?;
                        self.status.send_modify(|s| s.rebuild = progress(position));
                    }
                    let g = generation.clone();
                    writing = Some(tokio::task::spawn_blocking(move || g.apply_bulk(&batch)));
                }
                // Read to the target and the last batch decoded: only its write is left.
                if decoding.is_none() {
                    break;
                }
            }
            if let Some(last) = writing.take() {
                position = joined(last.await)?;
            }
        }
        // The aggregates, made once for the whole log before anyone reads them.
        let g = generation.clone();
        joined(tokio::task::spawn_blocking(move || g.settle().map(|()| position)).await)?;
        self.store.swap_live(&generation)?;
        let elapsed = started.elapsed();
        info!(
            generation = generation.number,
            events = position,
            ?elapsed,
            "rebuilt the read models and swapped them in"
        );
        self.status.send_modify(|s| {
            s.generation = generation.number;
            s.checkpoint = position;
            s.rebuild = None;
        });
        Ok(Some(generation))
    }

    /// Folds new events into `live` as they arrive.
    async fn tail(
        &self,
        live: &Generation,
        control: &mut mpsc::Receiver<Control>,
        stop: &mut watch::Receiver<bool>,
    ) -> Ended {
        loop {
            let checkpoint = match live.checkpoint() {
                Ok(c) => c,
                Err(e) => {
                    self.fault(format!("reading the checkpoint: {e}"));
                    return Ended::Faulted(None);
                }
            };
            let mut messages = match self.consumer(checkpoint + 1).await {
                Ok(m) => m,
                Err(e) => {
                    // NATS away: keep trying; nothing is lost, we resume at the checkpoint.
                    warn!("cannot read the event stream yet: {e}");
                    tokio::select! {
                        _ = stop.changed() => return Ended::Stopped,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    }
                }
            };
            loop {
                let batch = tokio::select! {
                    _ = stop.changed() => return Ended::Stopped,
                    Some(Control::Rebuild(reply)) = control.recv() => return Ended::RebuildRequested(reply),
                    batch = next_batch(&mut messages, self.max_batch, &self.quarantine) => batch,
                };
                let batch = match batch {
                    Ok(b) => b,
                    Err(BatchError::Consumer(e)) => {
                        warn!("event stream interrupted ({e}); resuming from the checkpoint");
                        break;
                    }
                    Err(BatchError::Undecodable { sequence, detail }) => {
                        error!(sequence, "stream sequence {sequence} is not a valid event ({detail}); folding stopped until an operator sets it aside (stod projections quarantine {sequence})");
                        self.fault(format!(
                            "stream sequence {sequence} is not a valid event ({detail}); folding stopped. \
                             If it was not written by stod: stod projections quarantine {sequence} --reason foreign"
                        ));
                        return Ended::Faulted(Some(sequence));
                    }
                };
                match apply_blocking(live, batch).await {
                    Ok(cp) => self.status.send_modify(|s| s.checkpoint = cp),
                    Err(e) => {
                        self.fault(format!("{e}; folding stopped"));
                        return Ended::Faulted(None);
                    }
                }
            }
        }
    }
}

/// Applies a batch on a blocking thread: sled writes and fsyncs must not stall the
/// async workers that also answer queries.
async fn apply_blocking(generation: &Generation, batch: Vec<(u64, Option<SealedEvent>)>) -> Result<u64, StoreError> {
    let generation = generation.clone();
    joined(tokio::task::spawn_blocking(move || generation.apply(&batch)).await)
}

fn joined(result: Result<Result<u64, StoreError>, tokio::task::JoinError>) -> Result<u64, StoreError> {
    result.unwrap_or_else(|e| {
        Err(StoreError::Corrupt { key: "batch".into(), detail: format!("applying a batch panicked: {e}") })
    })
}

#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error("{0}")]
    Consumer(String),
    #[error("sequence {sequence}: {detail}")]
    Undecodable { sequence: u64, detail: String },
}

impl From<BatchError> for ProjectorError {
    fn from(e: BatchError) -> Self {
        ProjectorError::Stream(e.to_string())
    }
}

/// A batch as read from the stream, not yet decoded: sequences and payloads.
type RawBatch = Vec<(u64, bytes::Bytes)>;

/// A batch decoded: each event, or why it is not one (with its payload, for the
/// quarantine list).
type DecodedBatch = Vec<(u64, Result<SealedEvent, (String, bytes::Bytes)>)>;

/// Stops a task when its owner is gone (a rebuild stopped half way).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits for the next event, then takes every further one the consumer says is
/// pending, up to `max`: large batches while catching up, single events when live.
async fn next_batch(
    messages: &mut async_nats::jetstream::consumer::pull::Ordered,
    max: usize,
    quarantine: &QuarantineList,
) -> Result<Vec<(u64, Option<SealedEvent>)>, BatchError> {
    resolve(decode_batch(next_raw_batch(messages, max).await?), quarantine).await
}

/// [`next_batch`] without the decoding.
async fn next_raw_batch(
    messages: &mut async_nats::jetstream::consumer::pull::Ordered,
    max: usize,
) -> Result<RawBatch, BatchError> {
    let mut batch = Vec::new();
    loop {
        let msg = match messages.next().await {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(BatchError::Consumer(e.to_string())),
            None => return Err(BatchError::Consumer("the consumer ended".into())),
        };
        let info = msg.info().map_err(|e| BatchError::Consumer(e.to_string()))?;
        let (sequence, pending) = (info.stream_sequence, info.pending);
        batch.push((sequence, msg.payload.clone()));
        if pending == 0 || batch.len() >= max {
            return Ok(batch);
        }
    }
}

fn decode_batch(raw: RawBatch) -> DecodedBatch {
    raw.into_iter()
        .map(|(sequence, payload)| (sequence, codec::decode(&payload).map_err(|e| (e.to_string(), payload))))
        .collect()
}

/// The decoded events of a batch, with the messages an operator set aside passed
/// over (the checkpoint moves on past them); any other undecodable message stops it.
async fn resolve(
    decoded: DecodedBatch,
    quarantine: &QuarantineList,
) -> Result<Vec<(u64, Option<SealedEvent>)>, BatchError> {
    let mut batch = Vec::with_capacity(decoded.len());
    for (sequence, event) in decoded {
        match event {
            Ok(sealed) => batch.push((sequence, Some(sealed))),
            Err((detail, payload)) => match quarantine.sets_aside(sequence, &payload).await {
                Ok(true) => batch.push((sequence, None)),
                Ok(false) => return Err(BatchError::Undecodable { sequence, detail }),
                Err(q) => return Err(BatchError::Consumer(format!("reading the quarantine list: {q}"))),
            },
        }
    }
    Ok(batch)
}
