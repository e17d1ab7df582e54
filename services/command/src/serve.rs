//! The NATS side: endpoints in a queue group, so any number of instances share the
//! load and any of them may die.

use std::sync::Arc;

use async_nats::service::{Request, ServiceExt};
use async_nats::Client;
use futures::StreamExt;
use stod_events::reference::Catalogue;
use stod_protocol::{
    parse_body, parse_subject, CaseQuery, CaseReply, CaseView, CommandKind, CommandReply, CommandRequest, EventView,
    ReferenceReply, RequestError, COMMAND_PREFIX, QUERY_PREFIX,
};
use stod_store::{
    AccessLog, AccessRecord, AccessView, EventLogConfig, EventStore, ParticipantIndex, ReferenceStore, StoreError,
};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::cases::{Cases, LoadedCase};
use crate::group::GroupCommitConfig;
use crate::handler::{Handler, HandlerConfig};

/// The queue group every instance joins.
pub const QUEUE_GROUP: &str = "stod-command";

/// How this service names itself in access records.
pub const ACCESS_VIA: &str = "command";

#[derive(Clone)]
pub struct ServiceOptions {
    pub log: EventLogConfig,
    pub handler: HandlerConfig,
    /// Cases kept decoded in memory.
    pub cache_capacity: usize,
    /// Requests handled at once by this instance; more wait in NATS.
    pub max_in_flight: usize,
    /// Record every case query in the access log (`STOD_ACCESS`) before answering it,
    /// and answer `unavailable` when that fails. On by default; off only for tools
    /// that never show a case to a person (benchmarks).
    pub access_log: bool,
    /// Append the events of concurrent commands on different cases as one atomic
    /// batch (decision 0010). Only single-event appends are grouped.
    pub group_commit: bool,
    /// How group commit groups (its window, batch sizes); unused when it is off.
    pub group_commit_config: GroupCommitConfig,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            log: EventLogConfig::default(),
            handler: HandlerConfig::default(),
            cache_capacity: 10_000,
            max_in_flight: 256,
            access_log: true,
            group_commit: false,
            group_commit_config: GroupCommitConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the event log: {0}")]
    Store(#[from] StoreError),
    #[error("the access log: {0}")]
    Access(StoreError),
    #[error("registering the NATS service: {0}")]
    Service(String),
}

/// A running command service. Dropping it does not stop it; call [`shutdown`](Self::shutdown).
pub struct RunningService {
    handler: Handler,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningService {
    pub fn handler(&self) -> &Handler {
        &self.handler
    }

    /// Stops taking requests, finishes those in flight, and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            warn!("command service task ended abnormally: {e}");
        }
    }
}

/// Opens the log and indexes and starts serving.
pub async fn start(client: Client, opts: ServiceOptions) -> Result<RunningService, StartError> {
    let js = async_nats::jetstream::new(client.clone());
    let store = EventStore::open(js.clone(), &opts.log).await?;
    let participants = ParticipantIndex::open(&js, opts.log.replicas).await?;
    let reference = ReferenceStore::open(&js, opts.log.replicas).await?;
    let default = Catalogue::default_catalogue();
    let (catalogue, _) = reference.load_or_init(&default).await?;
    let cases = Cases::new(store, opts.cache_capacity);
    let handler = if opts.group_commit {
        Handler::with_group_commit(
            cases,
            participants,
            catalogue,
            opts.handler.clone(),
            opts.group_commit_config.clone(),
        )
    } else {
        Handler::new(cases, participants, catalogue, opts.handler.clone())
    };
    let access = if opts.access_log {
        Some(AccessLog::open(js.clone(), &opts.log).await.map_err(StartError::Access)?)
    } else {
        None
    };

    let service = client
        .service_builder()
        .description("stod: records case events (commands) and answers case queries")
        .queue_group(QUEUE_GROUP)
        .start("stod-command", env!("CARGO_PKG_VERSION"))
        .await
        .map_err(|e| StartError::Service(e.to_string()))?;
    let mut endpoints = Vec::new();
    for kind in CommandKind::ALL {
        let subject = format!("{COMMAND_PREFIX}.*.{}", kind.as_str());
        endpoints.push(add_endpoint(&service, kind.as_str(), &subject).await?);
    }
    endpoints.push(add_endpoint(&service, "case", &format!("{QUERY_PREFIX}.*.case")).await?);
    endpoints.push(add_endpoint(&service, "reference", &format!("{QUERY_PREFIX}.*.reference")).await?);
    // Return only once the server has the subscriptions: a request sent after start()
    // must not find "no responders".
    client.flush().await.map_err(|e| StartError::Service(e.to_string()))?;

    let (stop, mut stopped) = watch::channel(false);
    let task_handler = handler.clone();
    let connection = client.clone();
    let max_in_flight = opts.max_in_flight;
    let task = tokio::spawn(async move {
        let watcher_handler = task_handler.clone();
        let watcher = tokio::spawn(async move {
            let result = reference
                .watch(|catalogue, revision| {
                    info!(revision, fingerprint = %catalogue.fingerprint(), "reference data in force");
                    watcher_handler.set_catalogue(catalogue);
                })
                .await;
            if let Err(e) = result {
                warn!("reference data watch ended: {e}");
            }
        });
        let mut requests = futures::stream::select_all(endpoints);
        let permits = Arc::new(Semaphore::new(max_in_flight));
        let mut in_flight = JoinSet::new();
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                next = requests.next() => {
                    let Some(request) = next else { break };
                    let Ok(permit) = permits.clone().acquire_owned().await else { break };
                    let handler = task_handler.clone();
                    let access = access.clone();
                    in_flight.spawn(async move {
                        serve_one(&handler, access.as_ref(), request).await;
                        drop(permit);
                    });
                    // Reap finished tasks so the set does not grow without bound.
                    while in_flight.try_join_next().is_some() {}
                }
            }
        }
        // Unsubscribe first, so NATS routes new requests to other instances, then let
        // the ones already taken finish.
        drop(requests);
        if let Err(e) = service.stop().await {
            warn!("stopping the NATS service: {e}");
        }
        // Make sure the server has the unsubscriptions before we report stopped, or it
        // would keep routing requests here for a moment and they would time out.
        if let Err(e) = connection.flush().await {
            warn!("flushing on stop: {e}");
        }
        while in_flight.join_next().await.is_some() {}
        watcher.abort();
        info!("command service stopped");
    });
    Ok(RunningService { handler, stop, task })
}

async fn add_endpoint(
    service: &async_nats::service::Service,
    name: &str,
    subject: &str,
) -> Result<async_nats::service::endpoint::Endpoint, StartError> {
    service.endpoint_builder().name(name).add(subject).await.map_err(|e| StartError::Service(e.to_string()))
}

async fn serve_one(handler: &Handler, access: Option<&AccessLog>, request: Request) {
    let subject = request.message.subject.to_string();
    let body = request.message.payload.clone();
    let reply = if subject.starts_with(COMMAND_PREFIX) {
        let started = std::time::Instant::now();
        let reply = command(handler, &subject, &body).await;
        record_metrics(&reply, started.elapsed());
        to_json(&reply)
    } else if subject.ends_with(".case") {
        to_json(&case_query(handler, access, &subject, &body).await)
    } else {
        to_json(&reference_query(handler))
    };
    if let Err(e) = request.respond(Ok(reply.into())).await {
        // The requester is gone (timed out, disconnected). What was recorded stays
        // recorded; its retry with the same submission id gets the same answer.
        warn!(subject, "could not deliver a reply: {e}");
    }
}

/// Commands by outcome and how long they took, for `/metrics` (a no-op unless the
/// process installed a recorder, as `stod up` does).
fn record_metrics(reply: &CommandReply, took: std::time::Duration) {
    let outcome = match reply {
        CommandReply::Accepted { duplicate: false, .. } => "accepted",
        CommandReply::Accepted { duplicate: true, .. } => "duplicate",
        CommandReply::Rejected { .. } => "rejected",
        CommandReply::Conflict { .. } => "conflict",
        CommandReply::Invalid { .. } => "invalid",
        CommandReply::Unavailable { .. } => "unavailable",
    };
    metrics::counter!("stod_commands_total", "outcome" => outcome).increment(1);
    metrics::histogram!("stod_command_seconds", "outcome" => outcome).record(took.as_secs_f64());
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| format!(r#"{{"status":"unavailable","message":"{e}"}}"#).into_bytes())
}

async fn command(handler: &Handler, subject: &str, body: &[u8]) -> CommandReply {
    let parsed = (|| {
        let parts = parse_subject(COMMAND_PREFIX, subject)?;
        let kind = CommandKind::parse(&parts.last).ok_or_else(|| RequestError::Subject(subject.to_owned()))?;
        let request: CommandRequest = parse_body(body)?;
        let body_kind = CommandKind::of(&request.command);
        if body_kind != kind {
            return Err(RequestError::KindMismatch { subject: kind, body: body_kind });
        }
        Ok((parts.user, request))
    })();
    match parsed {
        Ok((user, request)) => handler.handle(user, request).await,
        Err(e) => CommandReply::Invalid { message: e.to_string() },
    }
}

/// A case from the log, after its access record is stored.
///
/// Every query that names a case leaves a record, whether the case exists or not: an
/// attempt is worth knowing about too. The record and the load run at once, so the
/// record costs about one acknowledged publish of latency; no case data leaves before
/// the record is stored, and none at all if it cannot be.
async fn case_query(handler: &Handler, access: Option<&AccessLog>, subject: &str, body: &[u8]) -> CaseReply {
    let (user, query) =
        match parse_subject(QUERY_PREFIX, subject).and_then(|parts| Ok((parts.user, parse_body::<CaseQuery>(body)?))) {
            Ok(q) => q,
            Err(e) => return CaseReply::Invalid { message: e.to_string() },
        };
    let record = async {
        match access {
            Some(log) => {
                log.record(&AccessRecord::new(user, query.case_id, AccessView::Case, ACCESS_VIA)).await.map(drop)
            }
            None => Ok(()),
        }
    };
    let (recorded, loaded) = tokio::join!(record, handler.cases().store().load_case(&query.case_id));
    if let Err(e) = recorded {
        warn!(case = %query.case_id, "case query refused: the access log did not store its record: {e}");
        return CaseReply::Unavailable {
            message: format!("åtkomstloggen kunde inte skrivas, så ärendet visas inte: {e}"),
        };
    }
    match loaded {
        Ok(events) if events.is_empty() => CaseReply::NotFound { case_id: query.case_id },
        Ok(events) => {
            let case = LoadedCase::from_events(&events);
            let s = &case.state.summary;
            CaseReply::Found(CaseView {
                case_id: query.case_id,
                open: s.is_open(),
                void: s.void,
                open_placements: s.open_placements(),
                open_trainings: s.open_trainings(),
                events: events.iter().map(|e| EventView::from_stored(e.stream_sequence, &e.sealed)).collect(),
            })
        }
        Err(e) => CaseReply::Unavailable { message: e.to_string() },
    }
}

fn reference_query(handler: &Handler) -> ReferenceReply {
    let catalogue = handler.catalogue();
    ReferenceReply::Found { fingerprint: catalogue.fingerprint(), catalogue: catalogue.to_file() }
}
