//! The registry over NATS: `stod.registry.<user>.<register|lookup|erase>`, in the
//! queue group [`QUEUE_GROUP`], in the style of the command service. The service holds
//! the key; clients send the number as typed and never see a hash.
//!
//! Nothing here logs a personnummer: log lines name the user, the operation and the
//! outcome only.

use std::sync::Arc;

use async_nats::service::{Request, ServiceExt};
use async_nats::Client;
use chrono::NaiveDate;
use futures::StreamExt;
use stod_events::case::CaseState;
use stod_events::ids::ParticipantRef;
use stod_protocol::{
    parse_subject, RegistryInvalidKind, RegistryOp, RegistryReply, RegistryRequest, MAX_REQUEST_BYTES, REGISTRY_PREFIX,
};
use stod_store::{EventLogConfig, EventStore, ParticipantIndex, StoreError};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::key::RegistryKey;
use crate::personnummer::{Personnummer, PersonnummerErrorKind, VALID_FORMS};
use crate::store::{RegistryError, RegistryStore};

/// The queue group every registry instance joins. Every instance must hold the same
/// key, or they would file the same person under different hashes.
pub const QUEUE_GROUP: &str = "stod-registry";

#[derive(Clone)]
pub struct RegistryOptions {
    pub key: RegistryKey,
    /// Copies of the registry bucket (and of the log, if this creates it).
    pub replicas: usize,
    /// Requests handled at once; more wait in NATS.
    pub max_in_flight: usize,
    /// Today in Sweden: the century of a short number and the future check depend on
    /// it. A parameter so tests can fix it.
    pub today: Arc<dyn Fn() -> NaiveDate + Send + Sync>,
}

impl RegistryOptions {
    pub fn new(key: RegistryKey) -> Self {
        Self { key, replicas: 1, max_in_flight: 64, today: Arc::new(today_in_sweden) }
    }
}

/// Today's date in Sweden.
pub fn today_in_sweden() -> NaiveDate {
    chrono::Utc::now().with_timezone(&chrono_tz::Europe::Stockholm).date_naive()
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the event log or participant index: {0}")]
    Store(#[from] StoreError),
    #[error("the registry bucket: {0}")]
    Registry(#[from] RegistryError),
    #[error("registering the NATS service: {0}")]
    Service(String),
}

/// What answers the requests; cheap to clone.
#[derive(Clone)]
pub struct Registry {
    store: RegistryStore,
    participants: ParticipantIndex,
    log: EventStore,
    today: Arc<dyn Fn() -> NaiveDate + Send + Sync>,
}

impl Registry {
    pub fn store(&self) -> &RegistryStore {
        &self.store
    }

    /// Answers one request.
    pub async fn handle(&self, subject: &str, body: &[u8]) -> RegistryReply {
        let (user, op) = match parse_subject(REGISTRY_PREFIX, subject)
            .ok()
            .and_then(|p| RegistryOp::parse(&p.last).map(|op| (p.user, op)))
        {
            Some(found) => found,
            None => {
                return invalid_request(format!(
                    "okänt ämne {subject:?}: väntade stod.registry.<användare>.<register|lookup|erase>"
                ))
            }
        };
        // serde's messages can quote the value (a number sent as a JSON number), so
        // they are not passed on.
        let request: RegistryRequest = match (body.len() <= MAX_REQUEST_BYTES)
            .then(|| serde_json::from_slice(body).ok())
            .flatten()
        {
            Some(r) => r,
            None => return invalid_request(r#"förfrågan ska vara JSON: {"personnummer": "ÅÅÅÅMMDD-NNNN"}"#.to_owned()),
        };
        let personnummer = match Personnummer::parse(&request.personnummer, (self.today)()) {
            Ok(p) => p,
            Err(e) => {
                info!(%user, op = op.as_str(), kind = e.kind().as_str(), "registry request refused: invalid personnummer");
                return RegistryReply::Invalid {
                    kind: match e.kind() {
                        PersonnummerErrorKind::Format => RegistryInvalidKind::Format,
                        PersonnummerErrorKind::Date => RegistryInvalidKind::Date,
                        PersonnummerErrorKind::CheckDigit => RegistryInvalidKind::CheckDigit,
                        PersonnummerErrorKind::Future => RegistryInvalidKind::Future,
                    },
                    message: e.to_string(),
                    valid: e.valid().to_owned(),
                };
            }
        };
        let reply = match op {
            RegistryOp::Register => self.register(&personnummer).await,
            RegistryOp::Lookup => self.lookup(&personnummer).await,
            RegistryOp::Erase => self.erase(&personnummer).await,
        };
        let outcome = match &reply {
            RegistryReply::Found { .. } => "found",
            RegistryReply::Registered { created: true, .. } => "created",
            RegistryReply::Registered { created: false, .. } => "existing",
            RegistryReply::Erased => "erased",
            RegistryReply::NotFound { .. } => "not_found",
            RegistryReply::Invalid { .. } => "invalid",
            RegistryReply::Unavailable { .. } => "unavailable",
        };
        info!(%user, op = op.as_str(), outcome, "registry request");
        reply
    }

    async fn register(&self, p: &Personnummer) -> RegistryReply {
        match self.store.register(p).await {
            Ok((participant, created)) => RegistryReply::Registered { participant, created },
            Err(e) => unavailable(e),
        }
    }

    async fn lookup(&self, p: &Personnummer) -> RegistryReply {
        let participant = match self.store.lookup(p).await {
            Ok(Some(participant)) => participant,
            Ok(None) => return not_found(p),
            Err(e) => return unavailable(e),
        };
        match self.current_case(&participant).await {
            Ok(Some((case_id, open))) => {
                RegistryReply::Found { participant, case_id: Some(case_id), case_open: Some(open) }
            }
            Ok(None) => RegistryReply::Found { participant, case_id: None, case_open: None },
            Err(e) => {
                RegistryReply::Unavailable { message: format!("deltagarindexet eller loggen kan inte läsas: {e}") }
            }
        }
    }

    /// The case the participant last claimed, if its intake is in the log (a claim
    /// whose intake never landed is no case), and whether it is open.
    async fn current_case(
        &self,
        participant: &ParticipantRef,
    ) -> Result<Option<(stod_events::ids::CaseId, bool)>, StoreError> {
        let Some(claim) = self.participants.current(participant).await? else { return Ok(None) };
        let events = self.log.load_case(&claim.case_id).await?;
        if events.is_empty() {
            return Ok(None);
        }
        let mut state = CaseState::default();
        for e in &events {
            state.evolve(&e.sealed);
        }
        let open = state.summary.is_open() && !state.summary.void;
        Ok(Some((claim.case_id, open)))
    }

    async fn erase(&self, p: &Personnummer) -> RegistryReply {
        match self.store.erase(p).await {
            Ok(true) => RegistryReply::Erased,
            Ok(false) => not_found(p),
            Err(e) => unavailable(e),
        }
    }
}

fn invalid_request(message: String) -> RegistryReply {
    RegistryReply::Invalid { kind: RegistryInvalidKind::Request, message, valid: VALID_FORMS.to_owned() }
}

fn not_found(p: &Personnummer) -> RegistryReply {
    RegistryReply::NotFound {
        message: format!(
            "ingen deltagare med personnumret {} finns i registret: personen är inte registrerad, \
             eller kopplingen har gallrats",
            p.masked()
        ),
    }
}

fn unavailable(e: RegistryError) -> RegistryReply {
    RegistryReply::Unavailable { message: format!("registret kan inte nås: {e}") }
}

/// A running registry service. Dropping it does not stop it; call
/// [`shutdown`](Self::shutdown).
pub struct RunningRegistry {
    registry: Registry,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningRegistry {
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Stops taking requests, finishes those in flight, and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            warn!("registry service task ended abnormally: {e}");
        }
    }
}

/// Opens the bucket, the participant index and the log, and starts serving.
pub async fn start(client: Client, opts: RegistryOptions) -> Result<RunningRegistry, StartError> {
    let js = async_nats::jetstream::new(client.clone());
    let store = RegistryStore::open(&js, opts.key.clone(), opts.replicas).await?;
    let participants = ParticipantIndex::open(&js, opts.replicas).await?;
    let log = EventStore::open(js, &EventLogConfig { replicas: opts.replicas, ..EventLogConfig::default() }).await?;
    let registry = Registry { store, participants, log, today: opts.today.clone() };

    let service = client
        .service_builder()
        .description("stod: participant registry (personnummer -> participant reference, outside the log)")
        .queue_group(QUEUE_GROUP)
        .start("stod-registry", env!("CARGO_PKG_VERSION"))
        .await
        .map_err(|e| StartError::Service(e.to_string()))?;
    let mut endpoints = Vec::new();
    for op in RegistryOp::ALL {
        let endpoint = service
            .endpoint_builder()
            .name(op.as_str())
            .add(format!("{REGISTRY_PREFIX}.*.{}", op.as_str()))
            .await
            .map_err(|e| StartError::Service(e.to_string()))?;
        endpoints.push(endpoint);
    }
    // Only once the server has the subscriptions: a request sent after start() must
    // not find "no responders".
    client.flush().await.map_err(|e| StartError::Service(e.to_string()))?;

    let (stop, mut stopped) = watch::channel(false);
    let task_registry = registry.clone();
    let max_in_flight = opts.max_in_flight;
    let task = tokio::spawn(async move {
        let mut requests = futures::stream::select_all(endpoints);
        let permits = Arc::new(Semaphore::new(max_in_flight));
        let mut in_flight = JoinSet::new();
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                next = requests.next() => {
                    let Some(request) = next else { break };
                    let Ok(permit) = permits.clone().acquire_owned().await else { break };
                    let registry = task_registry.clone();
                    in_flight.spawn(async move {
                        serve_one(&registry, request).await;
                        drop(permit);
                    });
                    while in_flight.try_join_next().is_some() {}
                }
            }
        }
        // Unsubscribe first so NATS routes new requests to other instances, then let
        // the ones already taken finish.
        drop(requests);
        if let Err(e) = service.stop().await {
            warn!("stopping the registry service: {e}");
        }
        if let Err(e) = client.flush().await {
            warn!("flushing on stop: {e}");
        }
        while in_flight.join_next().await.is_some() {}
        info!("registry service stopped");
    });
    Ok(RunningRegistry { registry, stop, task })
}

async fn serve_one(registry: &Registry, request: Request) {
    let subject = request.message.subject.to_string();
    let reply = registry.handle(&subject, &request.message.payload).await;
    let body = serde_json::to_vec(&reply)
        .unwrap_or_else(|_| br#"{"status":"unavailable","message":"svaret kunde inte skrivas"}"#.to_vec());
    if let Err(e) = request.respond(Ok(body.into())).await {
        warn!(subject, "could not deliver a registry reply: {e}");
    }
}
