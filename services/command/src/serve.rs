//! The NATS side: endpoints in a queue group, so any number of instances share the
//! load and any of them may die.

use async_nats::Client;
use stod_events::case::{Action, Command};
use stod_events::ids::UserId;
use stod_events::reference::Catalogue;
use stod_nats_service::{Endpoint, ReplyRule, Request, Running, Service, Spec};
use stod_protocol::audit::LogReadReply;
use stod_protocol::queries::OPS_PREFIX;
use stod_protocol::{
    parse_body, CaseQuery, CaseReply, CaseView, CommandKind, CommandReply, CommandRequest, EventView, ReferenceReply,
    Registered, RegistryReply, RequestError, AUDIT_PREFIX, COMMAND_PREFIX, QUERY_PREFIX,
};
use stod_store::{
    AccessLog, AccessRecord, AccessView, EventLogConfig, EventStore, ParticipantIndex, QuarantineList, ReferenceStore,
    StoreError,
};
use tracing::{info, warn};

use crate::audit::{AuditRelay, Scope};
use crate::cases::{Cases, LoadedCase};
use crate::group::GroupCommitConfig;
use crate::handler::{Handler, HandlerConfig};

/// The queue group every instance joins.
pub const QUEUE_GROUP: &str = "stod-command";

/// The user the command service connects as unless told otherwise.
pub const DEFAULT_USER: &str = "stod-command";

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
    /// Where answers may go (`stod_nats_service::ReplyRule`).
    pub replies: ReplyRule,
    /// The user this service connects as: its requests to the registry carry it.
    pub own_user: UserId,
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
            replies: ReplyRule::default(),
            own_user: UserId::parse(DEFAULT_USER).unwrap_or_else(|_| unreachable!("a valid user token")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the event log: {0}")]
    Store(#[from] StoreError),
    #[error("the access log: {0}")]
    Access(StoreError),
    #[error(transparent)]
    Service(#[from] stod_nats_service::ServiceError),
}

/// A running command service ([`shutdown`](Running::shutdown) stops it).
pub type RunningService = Running<CommandService>;

/// What answers the command service's requests.
pub struct CommandService {
    handler: Handler,
    /// Where case queries are recorded before they are answered; `None` only for tools
    /// that never show a case to a person (`ServiceOptions::access_log`).
    access: Option<AccessLog>,
    /// Follows the shared reference data; stopped with the service.
    watcher: tokio::task::JoinHandle<()>,
    /// The shared reference data, which operators extend through this service.
    reference: ReferenceStore,
    /// The operators' decisions to set foreign messages aside.
    quarantine: QuarantineList,
    /// The auditors' reads of whole logs; `None` without an access log to record them.
    relay: Option<AuditRelay>,
    /// Files the person of an intake with a personnummer in the registry first.
    registry: stod_client::Client,
}

impl CommandService {
    pub fn handler(&self) -> &Handler {
        &self.handler
    }
}

impl Service for CommandService {
    async fn handle(&self, request: Request) -> Vec<u8> {
        let (user, body) = (&request.user, &request.payload[..]);
        match request.endpoint.as_str() {
            "case" => to_json(&case_query(&self.handler, self.access.as_ref(), &request).await),
            "reference" => to_json(&reference_query(&self.handler)),
            "reference-load" => to_json(&crate::ops::reference_load(&self.reference, user, body).await),
            "quarantine" => {
                let reply = crate::ops::quarantine(self.handler.cases().store(), &self.quarantine, user, body).await;
                to_json(&reply)
            }
            "log-info" | "log-open" | "log-read" | "backup-info" | "backup-open" | "backup-read" => {
                let Some(relay) = &self.relay else {
                    return to_json(&LogReadReply::Unavailable {
                        message: "loggarna läses inte ut utan åtkomstlogg".into(),
                    });
                };
                match request.endpoint.as_str() {
                    "log-info" => to_json(&relay.info(body, Scope::Audit).await),
                    "backup-info" => to_json(&relay.info(body, Scope::Backup).await),
                    "log-open" => to_json(&relay.open(user, body, Scope::Audit).await),
                    "backup-open" => to_json(&relay.open(user, body, Scope::Backup).await),
                    "backup-read" => to_json(&relay.read(user, body, Scope::Backup).await),
                    _ => to_json(&relay.read(user, body, Scope::Audit).await),
                }
            }
            _ => {
                let started = std::time::Instant::now();
                let reply = command(&self.handler, &self.registry, &request).await;
                record_metrics(&reply, started.elapsed());
                to_json(&reply)
            }
        }
    }

    fn bad_subject(&self, subject: &str) -> Vec<u8> {
        let message = RequestError::Subject(subject.to_owned()).to_string();
        if subject.starts_with(COMMAND_PREFIX) {
            to_json(&CommandReply::Invalid { message })
        } else {
            to_json(&CaseReply::Invalid { message })
        }
    }

    async fn stopped(&self) {
        self.watcher.abort();
    }
}

/// Opens the log and indexes and starts serving.
pub async fn start(client: Client, opts: ServiceOptions) -> Result<RunningService, StartError> {
    let js = async_nats::jetstream::new(client.clone());
    let quarantine = QuarantineList::open(js.clone(), &opts.log).await?;
    let store = EventStore::open(js.clone(), &opts.log).await?.with_quarantine(quarantine.clone());
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
    let watcher = tokio::spawn({
        let handler = handler.clone();
        let reference = reference.clone();
        async move {
            let result = reference
                .watch(|catalogue, revision| {
                    info!(revision, fingerprint = %catalogue.fingerprint(), "reference data in force");
                    handler.set_catalogue(catalogue);
                })
                .await;
            if let Err(e) = result {
                warn!("reference data watch ended: {e}");
            }
        }
    });

    let mut endpoints: Vec<Endpoint> = CommandKind::ALL
        .into_iter()
        .map(|kind| Endpoint::new(kind.as_str(), format!("{COMMAND_PREFIX}.*.{}", kind.as_str())))
        .collect();
    endpoints.push(Endpoint::new("case", format!("{QUERY_PREFIX}.*.case")));
    endpoints.push(Endpoint::new("reference", format!("{QUERY_PREFIX}.*.reference")));
    for name in ["reference-load", "quarantine"] {
        endpoints.push(Endpoint::new(name, format!("{OPS_PREFIX}.*.{name}")));
    }
    for name in ["log-info", "log-open", "log-read", "backup-info", "backup-open", "backup-read"] {
        endpoints.push(Endpoint::new(name, format!("{AUDIT_PREFIX}.*.{name}")));
    }
    let spec = Spec::new(
        "stod-command",
        "stod: records case events (commands) and answers case queries",
        QUEUE_GROUP,
        endpoints,
    )
    .with_max_in_flight(opts.max_in_flight)
    .with_replies(opts.replies);
    let relay = access.clone().map(|log| AuditRelay::new(js.clone(), log, ACCESS_VIA));
    let registry = stod_client::Client::from_nats(client.clone(), opts.own_user.clone());
    let service = CommandService { handler, access, watcher, reference, quarantine, relay, registry };
    Ok(stod_nats_service::start(client, spec, std::sync::Arc::new(service)).await?)
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

async fn command(handler: &Handler, registry: &stod_client::Client, request: &Request) -> CommandReply {
    let parsed = (|| {
        let kind = CommandKind::parse(&request.name).ok_or_else(|| RequestError::Subject(request.subject.clone()))?;
        let body: CommandRequest = parse_body(&request.payload)?;
        let body_kind = CommandKind::of(&body.command);
        if body_kind != kind {
            return Err(RequestError::KindMismatch { subject: kind, body: body_kind });
        }
        Ok(body)
    })();
    let mut body = match parsed {
        Ok(body) => body,
        Err(e) => return CommandReply::Invalid { message: e.to_string() },
    };
    let mut registered = None;
    if let Some(personnummer) = body.personnummer.take() {
        let Command::Record { action: Action::Enroll { participant, .. }, .. } = &mut body.command else {
            return CommandReply::Invalid { message: "ett personnummer hör bara till en inskrivning".into() };
        };
        match registry.register_for(&request.user, &personnummer).await {
            Ok(RegistryReply::Registered { participant: found, created }) => {
                *participant = found;
                registered = Some(Registered { participant: found, created });
            }
            Ok(RegistryReply::Invalid { message, valid, .. }) => {
                return CommandReply::Invalid { message: format!("{message}\nGiltigt: {valid}") }
            }
            Ok(RegistryReply::Limited { message, .. }) | Ok(RegistryReply::Unavailable { message }) => {
                return CommandReply::Unavailable { message: format!("deltagarregistret: {message}") }
            }
            Ok(other) => {
                return CommandReply::Unavailable {
                    message: format!("oväntat svar från deltagarregistret: {other:?}")
                }
            }
            Err(e) => return CommandReply::Unavailable { message: e.to_string() },
        }
    }
    match handler.handle(request.user.clone(), body).await {
        CommandReply::Accepted { case_id, event_ids, stream_sequence, duplicate, assigned, .. } => {
            CommandReply::Accepted { case_id, event_ids, stream_sequence, duplicate, assigned, registered }
        }
        other => other,
    }
}

/// A case from the log, after its access record is stored.
///
/// Every query that names a case leaves a record, whether the case exists or not: an
/// attempt is worth knowing about too. The record and the load run at once, so the
/// record costs about one acknowledged publish of latency; no case data leaves before
/// the record is stored, and none at all if it cannot be.
async fn case_query(handler: &Handler, access: Option<&AccessLog>, request: &Request) -> CaseReply {
    let user = request.user.clone();
    let query = match parse_body::<CaseQuery>(&request.payload) {
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
