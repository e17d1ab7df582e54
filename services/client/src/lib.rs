//! A small client for stod's command and query services over NATS.
//!
//! ```no_run
//! # async fn example() -> Result<(), stod_client::ClientError> {
//! use stod_client::Client;
//! use stod_events::case::{Action, Command};
//! use stod_events::event::{AnonymityReason, Gender, Registration};
//! use stod_events::ids::{CaseId, ParticipantRef, UserId};
//!
//! let client = Client::connect("nats://127.0.0.1:4222", UserId::parse("anna").unwrap()).await?;
//! let intake = Command::Record {
//!     occurred_on: "2025-03-14".parse().unwrap(),
//!     action: Action::Enroll {
//!         participant: ParticipantRef::new(),
//!         gender: Gender::Woman,
//!         registration: Registration::Anonymous(AnonymityReason::NoConsent),
//!     },
//! };
//! let accepted = client.submit(CaseId::new(), intake).await?;
//! println!("recorded {:?}", accepted.event_ids);
//! # Ok(())
//! # }
//! ```
//!
//! Every submission carries an id chosen here once; a lost reply, a timeout or an
//! unavailable service is retried with the same id, which the service never records
//! twice. A rejection, a conflict or a malformed request is returned at once.

use std::time::Duration;

use stod_events::case::{Command, RejectionKind};
use stod_events::ids::{CaseId, EventId, SubmissionId, UserId};
use stod_events::reference::CatalogueFile;
use stod_protocol::{
    command_subject, query_subject, registry_subject, CaseQuery, CaseReply, CaseView, CommandKind, CommandReply,
    CommandRequest, ProjectionStatus, ReferenceReply, RegistryOp, RegistryReply, RegistryRequest, ReportReply,
};
use tracing::debug;

/// A command that was recorded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    pub case_id: CaseId,
    pub submission_id: SubmissionId,
    pub event_ids: Vec<EventId>,
    pub stream_sequence: u64,
    /// The service had recorded this submission before (a retry).
    pub duplicate: bool,
}

/// A read-model report and what it was computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report<T> {
    /// The last stream sequence the figures include.
    pub checkpoint: u64,
    /// The read models' generation that answered.
    pub generation: u64,
    pub report: T,
}

/// Why a submission or query did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A case rule refused it; nothing was recorded.
    #[error("avvisat: {message}")]
    Rejected { kind: RejectionKind, message: String, valid: Vec<String> },
    /// The case kept changing; nothing was recorded. Look again, then retry.
    #[error("konflikt: {0}")]
    Conflict(String),
    /// The request was malformed; nothing was recorded.
    #[error("ogiltig förfrågan: {0}")]
    Invalid(String),
    /// No definite answer after retrying. Nothing is lost by submitting again later
    /// with the same submission id.
    #[error("tjänsten kan inte nås: {0}")]
    Unavailable(String),
    #[error("ärendet {0} finns inte")]
    NotFound(CaseId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientErrorKind {
    Rejected,
    Conflict,
    Invalid,
    Unavailable,
    NotFound,
}

impl ClientError {
    pub fn kind(&self) -> ClientErrorKind {
        match self {
            ClientError::Rejected { .. } => ClientErrorKind::Rejected,
            ClientError::Conflict(_) => ClientErrorKind::Conflict,
            ClientError::Invalid(_) => ClientErrorKind::Invalid,
            ClientError::Unavailable(_) => ClientErrorKind::Unavailable,
            ClientError::NotFound(_) => ClientErrorKind::NotFound,
        }
    }
}

/// Retry policy for requests whose outcome is unknown.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// How long one request waits for its reply.
    pub request_timeout: Duration,
    /// Further tries after the first.
    pub retries: u32,
    /// Wait before the first retry; doubles each time, up to 2 s.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { request_timeout: Duration::from_secs(5), retries: 6, backoff: Duration::from_millis(100) }
    }
}

#[derive(Clone)]
pub struct Client {
    nats: async_nats::Client,
    user: UserId,
    retry: RetryPolicy,
}

impl Client {
    /// Connects to NATS as `user`: fails at once if the server cannot be reached (a
    /// person is waiting), and once connected reconnects by itself if the connection
    /// drops.
    pub async fn connect(url: &str, user: UserId) -> Result<Self, ClientError> {
        let nats = async_nats::ConnectOptions::new()
            .name(format!("stod-client {user}"))
            .connect(url)
            .await
            .map_err(|e| ClientError::Unavailable(format!("{url}: {e}")))?;
        Ok(Self::from_nats(nats, user))
    }

    /// Uses an existing NATS connection.
    pub fn from_nats(nats: async_nats::Client, user: UserId) -> Self {
        Self { nats, user, retry: RetryPolicy::default() }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The same connection, submitting as another user (for tools that act for
    /// several users, like the demo seeder; the server's permissions decide whether
    /// this connection may).
    pub fn as_user(&self, user: UserId) -> Client {
        Client { nats: self.nats.clone(), user, retry: self.retry }
    }

    /// Submits a command as a new submission.
    pub async fn submit(&self, case_id: CaseId, command: Command) -> Result<Accepted, ClientError> {
        self.submit_as(SubmissionId::new(), case_id, command).await
    }

    /// Submits with a given submission id: use the same id to retry a submission whose
    /// outcome you do not know.
    pub async fn submit_as(
        &self,
        submission_id: SubmissionId,
        case_id: CaseId,
        command: Command,
    ) -> Result<Accepted, ClientError> {
        let subject = command_subject(&self.user, CommandKind::of(&command));
        let body = serde_json::to_vec(&CommandRequest { case_id, submission_id, command })
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        let reply: CommandReply = self.request(&subject, body).await?;
        match reply {
            CommandReply::Accepted { case_id, event_ids, stream_sequence, duplicate } => {
                Ok(Accepted { case_id, submission_id, event_ids, stream_sequence, duplicate })
            }
            CommandReply::Rejected { kind, message, valid } => Err(ClientError::Rejected { kind, message, valid }),
            CommandReply::Conflict { message } => Err(ClientError::Conflict(message)),
            CommandReply::Invalid { message } => Err(ClientError::Invalid(message)),
            CommandReply::Unavailable { message } => Err(ClientError::Unavailable(message)),
        }
    }

    /// One case with every event.
    pub async fn case(&self, case_id: CaseId) -> Result<CaseView, ClientError> {
        let body = serde_json::to_vec(&CaseQuery { case_id }).map_err(|e| ClientError::Invalid(e.to_string()))?;
        match self.request(&query_subject(&self.user, "case"), body).await? {
            CaseReply::Found(view) => Ok(view),
            CaseReply::NotFound { case_id } => Err(ClientError::NotFound(case_id)),
            CaseReply::Invalid { message } => Err(ClientError::Invalid(message)),
            CaseReply::Unavailable { message } => Err(ClientError::Unavailable(message)),
        }
    }

    /// A read-model report (`stod.query.<user>.<name>`, see `stod_protocol::queries`),
    /// retried while the read models are unavailable (still building, or the
    /// projector not reached).
    pub async fn report<Q: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        query: &Q,
    ) -> Result<Report<T>, ClientError> {
        let body = serde_json::to_vec(query).map_err(|e| ClientError::Invalid(e.to_string()))?;
        match self.request::<ReportReply<T>>(&query_subject(&self.user, name), body).await? {
            ReportReply::Ok { checkpoint, generation, report } => Ok(Report { checkpoint, generation, report }),
            ReportReply::Invalid { message } => Err(ClientError::Invalid(message)),
            ReportReply::Unavailable { message } => Err(ClientError::Unavailable(message)),
        }
    }

    /// The projector's status: generation, checkpoint, rebuild and fault.
    pub async fn projection_status(&self) -> Result<ProjectionStatus, ClientError> {
        let request =
            async_nats::Request::new().payload(b"{}".to_vec().into()).timeout(Some(self.retry.request_timeout));
        let subject = query_subject(&self.user, stod_protocol::queries::PROJECTION_STATUS);
        let msg =
            self.nats.send_request(subject, request).await.map_err(|e| ClientError::Unavailable(e.to_string()))?;
        serde_json::from_slice(&msg.payload)
            .map_err(|e| ClientError::Invalid(format!("oväntat svar från läsmodellerna: {e}")))
    }

    /// The reference data in force, with its fingerprint.
    pub async fn reference(&self) -> Result<(String, CatalogueFile), ClientError> {
        match self.request(&query_subject(&self.user, "reference"), b"{}".to_vec()).await? {
            ReferenceReply::Found { fingerprint, catalogue } => Ok((fingerprint, catalogue)),
            ReferenceReply::Unavailable { message } => Err(ClientError::Unavailable(message)),
        }
    }

    /// Asks the participant registry (`stod.registry.<user>.<op>`) about a
    /// personnummer, as typed: the service validates it. Retried while the registry is
    /// unavailable (every operation is safe to repeat: a repeated `register` gets the
    /// same reference). The reply is returned as is, `invalid` and `not_found`
    /// included, for the caller to word.
    pub async fn registry(&self, op: RegistryOp, personnummer: &str) -> Result<RegistryReply, ClientError> {
        let body = serde_json::to_vec(&RegistryRequest { personnummer: personnummer.to_owned() })
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        match self.request(&registry_subject(&self.user, op), body).await {
            Ok(reply) => Ok(reply),
            // The retry loop's last reason; say which service it was.
            Err(ClientError::Unavailable(m)) => Err(ClientError::Unavailable(format!("deltagarregistret: {m}"))),
            Err(e) => Err(e),
        }
    }

    /// Sends a request, retrying while the outcome is unknown: timeouts, no service
    /// listening, and "unavailable" replies. The body (and so the submission id) is
    /// the same on every try.
    async fn request<R: serde::de::DeserializeOwned + Unavailable>(
        &self,
        subject: &str,
        body: Vec<u8>,
    ) -> Result<R, ClientError> {
        let mut backoff = self.retry.backoff;
        let mut last = String::new();
        for attempt in 0..=self.retry.retries {
            if attempt > 0 {
                debug!(subject, attempt, "retrying: {last}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            let request =
                async_nats::Request::new().payload(body.clone().into()).timeout(Some(self.retry.request_timeout));
            match self.nats.send_request(subject.to_owned(), request).await {
                Ok(msg) => match serde_json::from_slice::<R>(&msg.payload) {
                    Ok(reply) if reply.is_unavailable() => {
                        last =
                            reply.unavailable_message().unwrap_or("tjänsten svarade att loggen inte kan nås").to_owned()
                    }
                    Ok(reply) => return Ok(reply),
                    Err(e) => return Err(ClientError::Invalid(format!("oväntat svar från tjänsten: {e}"))),
                },
                Err(e) => last = e.to_string(),
            }
        }
        Err(ClientError::Unavailable(last))
    }
}

/// Replies that mean "try again".
trait Unavailable {
    fn is_unavailable(&self) -> bool;

    /// The service's own words on why, where it says.
    fn unavailable_message(&self) -> Option<&str> {
        None
    }
}

impl<T> Unavailable for ReportReply<T> {
    fn is_unavailable(&self) -> bool {
        matches!(self, ReportReply::Unavailable { .. })
    }

    fn unavailable_message(&self) -> Option<&str> {
        match self {
            ReportReply::Unavailable { message } => Some(message),
            _ => None,
        }
    }
}

impl Unavailable for CommandReply {
    fn is_unavailable(&self) -> bool {
        matches!(self, CommandReply::Unavailable { .. })
    }
}

impl Unavailable for CaseReply {
    fn is_unavailable(&self) -> bool {
        matches!(self, CaseReply::Unavailable { .. })
    }
}

impl Unavailable for RegistryReply {
    fn is_unavailable(&self) -> bool {
        matches!(self, RegistryReply::Unavailable { .. })
    }

    fn unavailable_message(&self) -> Option<&str> {
        match self {
            RegistryReply::Unavailable { message } => Some(message),
            _ => None,
        }
    }
}

impl Unavailable for ReferenceReply {
    fn is_unavailable(&self) -> bool {
        matches!(self, ReferenceReply::Unavailable { .. })
    }
}
