//! The registry over NATS: `stod.registry.<user>.<register|lookup|erase>`, in the
//! queue group [`QUEUE_GROUP`], in the style of the command service. The service holds
//! the key; clients send the number as typed and never see a hash.
//!
//! Nothing here logs a personnummer: log lines name the user, the operation and the
//! outcome only.

use std::sync::Arc;

use async_nats::Client;
use chrono::NaiveDate;
use stod_events::case::CaseState;
use stod_events::ids::ParticipantRef;
use stod_nats_service::{Endpoint, ReplyRule, Request, Running, Service, Spec};
use stod_protocol::{
    RegistryInvalidKind, RegistryOp, RegistryReply, RegistryRequest, MAX_REQUEST_BYTES, REGISTRY_PREFIX,
};
use stod_store::{AccessLog, AccessRecord, AccessView, EventLogConfig, EventStore, ParticipantIndex, StoreError};
use tracing::{info, warn};

use crate::limit::RateLimiter;

use crate::key::RegistryKey;
use crate::personnummer::{Personnummer, PersonnummerErrorKind, VALID_FORMS};
use crate::store::{RegistryError, RegistryStore};

/// Registry requests one user may make a minute unless configured otherwise.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 30;

/// How this service names itself in access records.
pub const ACCESS_VIA: &str = "registry";

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
    /// Where answers may go (`stod_nats_service::ReplyRule`).
    pub replies: ReplyRule,
    /// Record every request in the access log (`STOD_ACCESS`) before answering it. On
    /// by default; off only for tools that never serve a person.
    pub access_log: bool,
    /// Requests one user may make a minute ([`RateLimiter`]); `None`: no limit.
    pub rate_limit_per_minute: Option<u32>,
}

impl RegistryOptions {
    pub fn new(key: RegistryKey) -> Self {
        let today = || stod_events::sweden::today().naive();
        Self {
            key,
            replicas: 1,
            max_in_flight: 64,
            today: Arc::new(today),
            replies: ReplyRule::default(),
            access_log: true,
            rate_limit_per_minute: Some(DEFAULT_RATE_LIMIT_PER_MINUTE),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the event log or participant index: {0}")]
    Store(#[from] StoreError),
    #[error("the registry bucket: {0}")]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Service(#[from] stod_nats_service::ServiceError),
}

/// What answers the requests; cheap to clone.
#[derive(Clone)]
pub struct Registry {
    store: RegistryStore,
    participants: ParticipantIndex,
    log: EventStore,
    /// Where every lookup, registration and erasure is recorded before it is
    /// answered; `None` only when started without an access log.
    access: Option<AccessLog>,
    limiter: Option<Arc<RateLimiter>>,
    today: Arc<dyn Fn() -> NaiveDate + Send + Sync>,
}

impl Registry {
    pub fn store(&self) -> &RegistryStore {
        &self.store
    }

    /// Answers one request.
    async fn answer(&self, request: &Request) -> RegistryReply {
        let user = &request.user;
        let Some(op) = RegistryOp::parse(&request.name) else { return unknown_subject(&request.subject) };
        let body = &request.payload;
        // serde's messages can quote the value (a number sent as a JSON number), so
        // they are not passed on.
        let request: RegistryRequest = match (body.len() <= MAX_REQUEST_BYTES)
            .then(|| serde_json::from_slice(body).ok())
            .flatten()
        {
            Some(r) => r,
            None => return invalid_request(r#"förfrågan ska vara JSON: {"personnummer": "ÅÅÅÅMMDD-NNNN"}"#.to_owned()),
        };
        // A registration comes from the command service, on an intake of `for_user`'s
        // (the server lets no one else send one): that user is the one who looks.
        let user = match (op, &request.for_user) {
            (RegistryOp::Register, Some(for_user)) => for_user,
            _ => user,
        };
        if let Some(limiter) = &self.limiter {
            if let Err(wait) = limiter.check(user) {
                warn!(%user, op = op.as_str(), "registry request refused: over the rate limit");
                let seconds = wait.as_secs().max(1);
                return RegistryReply::Limited {
                    message: format!("för många sökningar i deltagarregistret på kort tid; försök igen om {seconds} s"),
                    retry_after_seconds: seconds,
                };
            }
        }
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
        let (reply, participant) = match op {
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
            RegistryReply::Limited { .. } => "limited",
        };
        info!(%user, op = op.as_str(), outcome, "registry request");
        if matches!(reply, RegistryReply::Unavailable { .. }) {
            return reply;
        }
        // Nothing leaves before the look is recorded: who, when, which reference (or
        // none found), never the number.
        if let Some(log) = &self.access {
            let view = match op {
                RegistryOp::Register => AccessView::RegistryRegister,
                RegistryOp::Lookup => AccessView::RegistryLookup,
                RegistryOp::Erase => AccessView::RegistryErase,
            };
            let record = AccessRecord::registry(user.clone(), view, participant, outcome, ACCESS_VIA);
            if let Err(e) = log.record(&record).await {
                warn!(%user, op = op.as_str(), "registry request refused: the access log did not store its record: {e}");
                return RegistryReply::Unavailable {
                    message: format!("åtkomstloggen kunde inte skrivas, så inget visas: {e}"),
                };
            }
        }
        reply
    }

    async fn register(&self, p: &Personnummer) -> (RegistryReply, Option<ParticipantRef>) {
        match self.store.register(p).await {
            Ok((participant, created)) => (RegistryReply::Registered { participant, created }, Some(participant)),
            Err(e) => (unavailable(e), None),
        }
    }

    async fn lookup(&self, p: &Personnummer) -> (RegistryReply, Option<ParticipantRef>) {
        let participant = match self.store.lookup(p).await {
            Ok(Some(participant)) => participant,
            Ok(None) => return (not_found(p), None),
            Err(e) => return (unavailable(e), None),
        };
        let reply = match self.current_case(&participant).await {
            Ok(Some((case_id, open))) => {
                RegistryReply::Found { participant, case_id: Some(case_id), case_open: Some(open) }
            }
            Ok(None) => RegistryReply::Found { participant, case_id: None, case_open: None },
            Err(e) => {
                RegistryReply::Unavailable { message: format!("deltagarindexet eller loggen kan inte läsas: {e}") }
            }
        };
        (reply, Some(participant))
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

    /// The reference erased is kept in the access record: the log still knows it, and
    /// an auditor may need to see that the person was erased, and by whom.
    async fn erase(&self, p: &Personnummer) -> (RegistryReply, Option<ParticipantRef>) {
        let participant = match self.store.lookup(p).await {
            Ok(found) => found,
            Err(e) => return (unavailable(e), None),
        };
        match self.store.erase(p).await {
            Ok(true) => (RegistryReply::Erased, participant),
            Ok(false) => (not_found(p), None),
            Err(e) => (unavailable(e), None),
        }
    }
}

fn unknown_subject(subject: &str) -> RegistryReply {
    invalid_request(format!("okänt ämne {subject:?}: väntade stod.registry.<användare>.<register|lookup|erase>"))
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

/// A running registry service ([`shutdown`](Running::shutdown) stops it).
pub type RunningRegistry = Running<Registry>;

impl Service for Registry {
    async fn handle(&self, request: Request) -> Vec<u8> {
        json(&self.answer(&request).await)
    }

    fn bad_subject(&self, subject: &str) -> Vec<u8> {
        json(&unknown_subject(subject))
    }
}

fn json(reply: &RegistryReply) -> Vec<u8> {
    serde_json::to_vec(reply)
        .unwrap_or_else(|_| br#"{"status":"unavailable","message":"svaret kunde inte skrivas"}"#.to_vec())
}

/// Opens the bucket, the participant index and the log, and starts serving.
pub async fn start(client: Client, opts: RegistryOptions) -> Result<RunningRegistry, StartError> {
    let js = async_nats::jetstream::new(client.clone());
    let store = RegistryStore::open(&js, opts.key.clone(), opts.replicas).await?;
    let participants = ParticipantIndex::open(&js, opts.replicas).await?;
    let js_for_access = js.clone();
    let log = EventStore::open(js, &EventLogConfig { replicas: opts.replicas, ..EventLogConfig::default() }).await?;
    let cfg = EventLogConfig { replicas: opts.replicas, ..EventLogConfig::default() };
    let access = if opts.access_log { Some(AccessLog::open(js_for_access, &cfg).await?) } else { None };
    let limiter = opts.rate_limit_per_minute.map(|n| Arc::new(RateLimiter::new(n)));
    let registry = Registry { store, participants, log, access, limiter, today: opts.today.clone() };
    let endpoints = RegistryOp::ALL
        .into_iter()
        .map(|op| Endpoint::new(op.as_str(), format!("{REGISTRY_PREFIX}.*.{}", op.as_str())))
        .collect();
    let spec = Spec::new(
        "stod-registry",
        "stod: participant registry (personnummer -> participant reference, outside the log)",
        QUEUE_GROUP,
        endpoints,
    )
    .with_max_in_flight(opts.max_in_flight)
    .with_replies(opts.replies);
    Ok(stod_nats_service::start(client, spec, Arc::new(registry)).await?)
}
