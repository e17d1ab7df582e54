//! The client of stod's NATS services: the one way anything of stod (the command line,
//! the dashboard, the demo seeder, tests and benchmarks) connects and asks.
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
//!
//! # Layout
//!
//! - [`ConnectOptions`]: connecting (bounded retries, credentials, the user's own
//!   inbox) and [`Refusals`], what the server refused on a connection.
//! - [`RetryPolicy`]: the one retry policy of every request.
//! - [`ClientError`]: what went wrong, by what to do next.
//! - [`Client`]: commands, cases, reference data and the registry (the command service
//!   and the registry); reports, status and rebuilds (the read models).

mod connect;
mod error;
mod retry;

use serde::de::DeserializeOwned;
use serde_json::Value;
use stod_events::case::Command;
use stod_events::ids::{CaseId, EventId, SubmissionId, UserId};
use stod_events::reference::{Catalogue, CatalogueFile};
use stod_protocol::audit::{
    AuditPurpose, LogInfoQuery, LogInfoReply, LogName, LogOpenReply, LogOpenRequest, LogReadReply, LogReadRequest,
    LoggedMessage, Loosened,
};
use stod_protocol::ops::{QuarantineReply, QuarantineRequest, ReferenceLoadReply, ReferenceLoadRequest};
use stod_protocol::{
    command_subject, queries, query_subject, registry_subject, Assigned, CaseQuery, CaseReply, CaseView, CommandKind,
    CommandReply, CommandRequest, ProjectionStatus, ReferenceReply, RegistryOp, RegistryReply, RegistryRequest,
    ReportReply,
};
use tracing::debug;

pub use connect::{ConnectOptions, Refusals};
pub use error::{ClientError, ClientErrorKind};
pub use retry::{RetryPolicy, RETRIES_ENV};

/// A command that was recorded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    pub case_id: CaseId,
    pub submission_id: SubmissionId,
    pub event_ids: Vec<EventId>,
    pub stream_sequence: u64,
    /// The service had recorded this submission before (a retry).
    pub duplicate: bool,
    /// The number the case gave a new placement or course.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned: Option<Assigned>,
    /// An intake with a personnummer: the person's reference, and whether the
    /// registry made a new entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered: Option<stod_protocol::Registered>,
}

/// A read-model report and what it was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Report<T> {
    /// The last stream sequence the figures include.
    pub checkpoint: u64,
    /// The read models' generation that answered.
    pub generation: u64,
    pub report: T,
    /// The reply as received, for programs that want it as it came (`--json`).
    pub raw: Value,
}

/// What a read of a whole log covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadLog {
    /// The run, as recorded in the access log.
    pub run: String,
    pub first: u64,
    pub last: u64,
    pub messages: u64,
    /// Protections of the stream looser than stod requires.
    pub loosened: Vec<Loosened>,
}

/// The read models' status, and the reply as received.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub status: ProjectionStatus,
    pub raw: Value,
}

/// A client of stod's services as one user. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    nats: async_nats::Client,
    user: UserId,
    retry: RetryPolicy,
    /// Where the server's refusals on the connection are heard; `None` for a
    /// connection made elsewhere ([`Client::from_nats`]).
    refusals: Option<Refusals>,
    /// The user's inbox prefix, when the connection's own is another (a plain
    /// connection, or one acting for several users): each request then waits for its
    /// answer in an inbox of its own under it, the only place the services answer.
    own_inbox: Option<String>,
}

/// What one answer came to: final, or worth another try (and why).
enum Step<R> {
    Done(R),
    Retry(String),
}

impl Client {
    fn new(nats: async_nats::Client, user: UserId, retry: RetryPolicy, refusals: Option<Refusals>) -> Self {
        let own_inbox = inbox_unless_own(&nats, &user);
        Self { nats, user, retry, refusals, own_inbox }
    }

    /// Connects to NATS as `user` with the default [`ConnectOptions`].
    pub async fn connect(url: &str, user: UserId) -> Result<Self, ClientError> {
        ConnectOptions::new(url).user(user).connect().await
    }

    /// Uses an existing NATS connection. When its inbox prefix is not the user's
    /// (`ConnectOptions` sets it), each request uses an inbox of its own under the
    /// user's prefix, which the connection must be allowed to subscribe to.
    pub fn from_nats(nats: async_nats::Client, user: UserId) -> Self {
        Self::new(nats, user, RetryPolicy::default(), None)
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The connection, for reading JetStream directly (auditors, operators).
    pub fn nats(&self) -> &async_nats::Client {
        &self.nats
    }

    /// The same connection, submitting as another user (for tools that act for
    /// several users, like the demo seeder; the server's permissions decide whether
    /// this connection may).
    pub fn as_user(&self, user: UserId) -> Client {
        let own_inbox = inbox_unless_own(&self.nats, &user);
        Client { nats: self.nats.clone(), user, retry: self.retry, refusals: self.refusals.clone(), own_inbox }
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
        self.send_command(CommandRequest::new(case_id, submission_id, command)).await
    }

    /// Submits an intake of the person with this personnummer, as typed: the command
    /// service has the registry file the person (outside the log, under the same
    /// reference on every retry) and records the intake with their reference. The
    /// participant in `command` is replaced by it.
    pub async fn submit_intake_of(
        &self,
        submission_id: SubmissionId,
        case_id: CaseId,
        command: Command,
        personnummer: &str,
    ) -> Result<Accepted, ClientError> {
        let request = CommandRequest {
            personnummer: Some(personnummer.to_owned()),
            ..CommandRequest::new(case_id, submission_id, command)
        };
        self.send_command(request).await
    }

    async fn send_command(&self, request: CommandRequest) -> Result<Accepted, ClientError> {
        let submission_id = request.submission_id;
        let subject = command_subject(&self.user, CommandKind::of(&request.command));
        let body = to_body(&request)?;
        let reply: CommandReply = self.request(&subject, body).await?;
        match reply {
            CommandReply::Accepted { case_id, event_ids, stream_sequence, duplicate, assigned, registered } => {
                Ok(Accepted { case_id, submission_id, event_ids, stream_sequence, duplicate, assigned, registered })
            }
            CommandReply::Rejected { kind, message, valid } => Err(ClientError::Rejected { kind, message, valid }),
            CommandReply::Conflict { message } => Err(ClientError::Conflict(message)),
            CommandReply::Invalid { message } => Err(ClientError::Invalid(message)),
            CommandReply::Unavailable { message } => Err(ClientError::Unavailable(message)),
        }
    }

    /// One case with every event (the command service records the look first).
    pub async fn case(&self, case_id: CaseId) -> Result<CaseView, ClientError> {
        let body = to_body(&CaseQuery { case_id })?;
        match self.request(&query_subject(&self.user, "case"), body).await? {
            CaseReply::Found(view) => Ok(view),
            CaseReply::NotFound { case_id } => Err(ClientError::NotFound(case_id)),
            CaseReply::Invalid { message } => Err(ClientError::Invalid(message)),
            CaseReply::Unavailable { message } => Err(ClientError::Unavailable(message)),
        }
    }

    /// The reference data in force, with its fingerprint.
    pub async fn reference(&self) -> Result<(String, CatalogueFile), ClientError> {
        match self.request(&query_subject(&self.user, "reference"), b"{}".to_vec()).await? {
            ReferenceReply::Found { fingerprint, catalogue } => Ok((fingerprint, catalogue)),
            ReferenceReply::Unavailable { message } => Err(ClientError::Unavailable(message)),
        }
    }

    /// Names for codes: the reference data in force, or the shipped defaults if it
    /// cannot be read (names are a courtesy; the codes say it all without them).
    pub async fn catalogue(&self) -> Catalogue {
        match self.reference().await {
            Ok((_, file)) => Catalogue::from_file(file).unwrap_or_else(|_| Catalogue::default_catalogue()),
            Err(_) => Catalogue::default_catalogue(),
        }
    }

    /// Asks the participant registry (`stod.registry.<user>.<op>`) about a
    /// personnummer, as typed: the service validates it. Retried while the registry is
    /// unavailable (every operation is safe to repeat: a repeated `register` gets the
    /// same reference). The reply is returned as is, `invalid` and `not_found`
    /// included, for the caller to word.
    pub async fn registry(&self, op: RegistryOp, personnummer: &str) -> Result<RegistryReply, ClientError> {
        let body = to_body(&RegistryRequest { personnummer: personnummer.to_owned(), for_user: None })?;
        match self.request(&registry_subject(&self.user, op), body).await {
            Ok(reply) => Ok(reply),
            // The retry loop's last reason; say which service it was.
            Err(ClientError::Unavailable(m)) => Err(ClientError::Unavailable(format!("deltagarregistret: {m}"))),
            Err(e) => Err(e),
        }
    }

    /// Registers a person on an intake of `for_user`'s: the command service's request
    /// (no one else may send it). Retried like [`registry`](Self::registry).
    pub async fn register_for(&self, for_user: &UserId, personnummer: &str) -> Result<RegistryReply, ClientError> {
        let body =
            to_body(&RegistryRequest { personnummer: personnummer.to_owned(), for_user: Some(for_user.clone()) })?;
        match self.request(&registry_subject(&self.user, RegistryOp::Register), body).await {
            Ok(reply) => Ok(reply),
            Err(ClientError::Unavailable(m)) => Err(ClientError::Unavailable(format!("deltagarregistret: {m}"))),
            Err(e) => Err(e),
        }
    }

    /// Extends the shared reference data (an operator's request; the command service
    /// checks and writes it).
    pub async fn reference_load(
        &self,
        extension: stod_events::reference::CatalogueFile,
    ) -> Result<ReferenceLoadReply, ClientError> {
        let subject = format!("{}.{}.reference-load", queries::OPS_PREFIX, self.user);
        self.request(&subject, to_body(&ReferenceLoadRequest { extension })?).await
    }

    /// Sets a foreign message of the event log aside (an operator's request).
    pub async fn quarantine(&self, request: &QuarantineRequest) -> Result<QuarantineReply, ClientError> {
        let subject = format!("{}.{}.quarantine", queries::OPS_PREFIX, self.user);
        self.request(&subject, to_body(request)?).await
    }

    /// Where a log begins and ends, and its protections (an auditor's request).
    pub async fn log_info(&self, log: LogName) -> Result<LogInfoReply, ClientError> {
        self.request(&audit_subject(&self.user, "log-info"), to_body(&LogInfoQuery { log })?).await
    }

    /// Reads a whole log as stored, through the command service, which records the run
    /// in the access log first. `each` gets every message in order; `progress` the
    /// sequence reached and the run's last.
    pub async fn read_log(
        &self,
        log: LogName,
        purpose: AuditPurpose,
        each: impl FnMut(LoggedMessage),
        progress: impl FnMut(u64, u64),
    ) -> Result<ReadLog, ClientError> {
        self.read_run("log", LogOpenRequest { log, purpose, from: None }, each, progress).await
    }

    /// Where a log or bucket begins and ends, as the backup role asks for it.
    pub async fn backup_info(&self, log: LogName) -> Result<LogInfoReply, ClientError> {
        self.request(&audit_subject(&self.user, "backup-info"), to_body(&LogInfoQuery { log })?).await
    }

    /// Reads a log from `from` on (from its start when `None`), or a bucket whole, for a
    /// backup (the backup role's `backup-*` endpoints; each run access-logged first).
    pub async fn read_for_backup(
        &self,
        log: LogName,
        from: Option<u64>,
        each: impl FnMut(LoggedMessage),
        progress: impl FnMut(u64, u64),
    ) -> Result<ReadLog, ClientError> {
        self.read_run("backup", LogOpenRequest { log, purpose: AuditPurpose::Backup, from }, each, progress).await
    }

    /// One run: `<scope>-open`, then `<scope>-read` batch by batch.
    async fn read_run(
        &self,
        scope: &str,
        request: LogOpenRequest,
        mut each: impl FnMut(LoggedMessage),
        mut progress: impl FnMut(u64, u64),
    ) -> Result<ReadLog, ClientError> {
        let opened: LogOpenReply =
            self.request(&audit_subject(&self.user, &format!("{scope}-open")), to_body(&request)?).await?;
        let (run, first, last, loosened) = match opened {
            LogOpenReply::Opened { run, first, last, loosened } => (run, first, last, loosened),
            LogOpenReply::NotFound { message } => return Err(ClientError::Invalid(message)),
            LogOpenReply::Invalid { message } => return Err(ClientError::Invalid(message)),
            LogOpenReply::Unavailable { message } => return Err(ClientError::Unavailable(message)),
        };
        let read_subject = audit_subject(&self.user, &format!("{scope}-read"));
        let mut from = first;
        let mut read = 0;
        while from <= last && last > 0 {
            let body = to_body(&LogReadRequest { run: run.clone(), from })?;
            let batch: LogReadReply = self.request(&read_subject, body).await?;
            let messages = match batch {
                LogReadReply::Batch { messages } => messages,
                LogReadReply::Invalid { message } => return Err(ClientError::Invalid(message)),
                LogReadReply::Unavailable { message } => return Err(ClientError::Unavailable(message)),
            };
            let Some(end) = messages.last().map(|m| m.seq) else { break };
            read += messages.len() as u64;
            for m in messages {
                each(m);
            }
            progress(end, last);
            from = end + 1;
        }
        Ok(ReadLog { run, first, last, messages: read, loosened })
    }

    /// A read-model report (`stod.query.<user>.<name>`, see `stod_protocol::queries`),
    /// retried while the read models are unavailable (still building, or the
    /// projector not reached). `invalid` is the caller's mistake, returned at once.
    pub async fn report<Q: serde::Serialize, T: DeserializeOwned>(
        &self,
        name: &str,
        query: &Q,
    ) -> Result<Report<T>, ClientError> {
        let subject = query_subject(&self.user, name);
        self.exchange(&subject, to_body(query)?, None, |bytes| {
            let raw: Value = serde_json::from_slice(bytes).map_err(|e| unexpected(&subject, e))?;
            match serde_json::from_value::<ReportReply<T>>(raw.clone()).map_err(|e| unexpected(&subject, e))? {
                ReportReply::Ok { checkpoint, generation, report } => {
                    Ok(Step::Done(Report { checkpoint, generation, report, raw }))
                }
                ReportReply::Invalid { message } => Err(ClientError::Invalid(message)),
                ReportReply::Unavailable { message } => Ok(Step::Retry(format!("läsmodellerna: {message}"))),
            }
        })
        .await
    }

    /// The read models' status: generation, checkpoint, rebuild and fault.
    pub async fn projection_status(&self) -> Result<Status, ClientError> {
        let subject = query_subject(&self.user, queries::PROJECTION_STATUS);
        self.exchange(&subject, b"{}".to_vec(), None, |bytes| {
            let raw: Value = serde_json::from_slice(bytes).map_err(|e| unexpected(&subject, e))?;
            let status = serde_json::from_value(raw.clone()).map_err(|e| unexpected(&subject, e))?;
            Ok(Step::Done(Status { status, raw }))
        })
        .await
    }

    /// Asks a projector to start a rebuild; returns the new generation's number.
    ///
    /// Retried only while nobody listens: a request that timed out may have started a
    /// rebuild, and asking again would queue a second one.
    pub async fn start_rebuild(&self) -> Result<u64, ClientError> {
        let subject = format!("{}.{}.{}", queries::OPS_PREFIX, self.user, queries::REBUILD);
        let note = "; ombyggnaden kan ha startat: se `stod projections status`";
        self.exchange(&subject, b"{}".to_vec(), Some(note), |bytes| {
            let reply: Value = serde_json::from_slice(bytes).map_err(|e| unexpected(&subject, e))?;
            match (reply["status"].as_str(), reply["generation"].as_u64()) {
                (Some("started"), Some(generation)) => Ok(Step::Done(generation)),
                (Some("unavailable"), _) => Err(ClientError::Unavailable(format!(
                    "projektorn kunde inte börja bygga om: {}",
                    reply["message"].as_str().unwrap_or("okänt fel")
                ))),
                _ => Err(unexpected(&subject, reply)),
            }
        })
        .await
    }

    /// A request whose reply is one of the protocol's enums, retried while it says
    /// `unavailable`.
    async fn request<R: DeserializeOwned + Unavailable>(&self, subject: &str, body: Vec<u8>) -> Result<R, ClientError> {
        self.exchange(subject, body, None, |bytes| match serde_json::from_slice::<R>(bytes) {
            Ok(reply) => match reply.unavailable() {
                Some(why) => Ok(Step::Retry(why.to_owned())),
                None => Ok(Step::Done(reply)),
            },
            Err(e) => Err(ClientError::Invalid(format!("oväntat svar från tjänsten: {e}"))),
        })
        .await
    }

    /// Sends `body` to `subject` until `read` calls the answer final, at most
    /// `1 + retries` times with a growing pause: while nobody listens, while `read` says
    /// retry, and after a timeout unless `no_retry_on_timeout` says why not (the
    /// note ends the error). The body, and so any
    /// submission id in it, is the same on every try. A refusal by the server ends it
    /// at once: nothing was done, and waiting would only end in "no answer".
    async fn exchange<R>(
        &self,
        subject: &str,
        body: Vec<u8>,
        no_retry_on_timeout: Option<&str>,
        read: impl Fn(&[u8]) -> Result<Step<R>, ClientError>,
    ) -> Result<R, ClientError> {
        let body: bytes::Bytes = body.into();
        let mut pauses = self.retry.pauses();
        loop {
            let refused = self.refusals.as_ref().map(|r| r.watch(subject));
            let mut request =
                async_nats::Request::new().payload(body.clone()).timeout(Some(self.retry.request_timeout));
            if let Some(prefix) = &self.own_inbox {
                request = request.inbox(format!("{prefix}.{}", uuid::Uuid::new_v4().simple()));
            }
            let sent = self.nats.send_request(subject.to_owned(), request);
            let answer = match refused {
                Some(refused) => tokio::select! {
                    answer = sent => answer,
                    what = refused => return Err(ClientError::Forbidden(what)),
                },
                None => sent.await,
            };
            let why = match answer {
                Ok(msg) => match read(&msg.payload)? {
                    Step::Done(reply) => return Ok(reply),
                    Step::Retry(why) => why,
                },
                Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => no_responder(subject),
                Err(e) if e.kind() == async_nats::RequestErrorKind::TimedOut && no_retry_on_timeout.is_some() => {
                    let note = no_retry_on_timeout.unwrap_or_default();
                    return Err(ClientError::Unavailable(format!("inget svar på {subject} ({e}){note}")));
                }
                Err(e) => format!("inget svar på {subject}: {e}"),
            };
            match pauses.next() {
                Some(pause) => {
                    debug!(subject, "retrying in {pause:?}: {why}");
                    tokio::time::sleep(pause).await;
                }
                None => return Err(ClientError::Unavailable(why)),
            }
        }
    }
}

/// The user's inbox prefix if the connection's inboxes are not under it.
fn inbox_unless_own(nats: &async_nats::Client, user: &UserId) -> Option<String> {
    let prefix = stod_protocol::inbox_prefix(user.as_str());
    (!nats.new_inbox().starts_with(&format!("{prefix}."))).then_some(prefix)
}

/// One request from a plain connection (tests, tools), answered in an inbox under the
/// prefix of the user the subject names (`stod.<area>.<user>.<name>`), where the
/// services answer.
pub async fn request_as_subject_user(
    nats: &async_nats::Client,
    subject: &str,
    payload: Vec<u8>,
    timeout: std::time::Duration,
) -> Result<async_nats::Message, async_nats::RequestError> {
    let user = subject.split('.').nth(2).unwrap_or_default();
    let inbox = format!("{}.{}", stod_protocol::inbox_prefix(user), uuid::Uuid::new_v4().simple());
    let request = async_nats::Request::new().payload(payload.into()).timeout(Some(timeout)).inbox(inbox);
    nats.send_request(subject.to_owned(), request).await
}

fn audit_subject(user: &UserId, name: &str) -> String {
    format!("{}.{user}.{name}", stod_protocol::AUDIT_PREFIX)
}

fn to_body<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(value).map_err(|e| ClientError::Invalid(e.to_string()))
}

fn unexpected(subject: &str, detail: impl std::fmt::Display) -> ClientError {
    ClientError::Invalid(format!("oväntat svar på {subject}: {detail}"))
}

/// Nobody answers `subject`: which service should, and what runs it.
fn no_responder(subject: &str) -> String {
    let mut tokens = subject.split('.');
    let area = tokens.nth(1).unwrap_or_default();
    let name = tokens.nth(1).unwrap_or_default();
    let service = match (area, name) {
        ("cmd", _) | ("query", "case" | "reference") => "kommandotjänsten svarar (den körs av `stod up`)",
        ("registry", _) => "deltagarregistret svarar (det körs av `stod up`)",
        _ => "projektor (läsmodeller) svarar (den körs av `stod up` eller `stod projector`)",
    };
    format!("ingen {service} på {subject} mot samma NATS")
}

/// Replies that mean "try again", with the service's reason.
trait Unavailable {
    fn unavailable(&self) -> Option<&str>;
}

impl Unavailable for CommandReply {
    fn unavailable(&self) -> Option<&str> {
        match self {
            CommandReply::Unavailable { message } => Some(message),
            _ => None,
        }
    }
}

impl Unavailable for CaseReply {
    fn unavailable(&self) -> Option<&str> {
        match self {
            CaseReply::Unavailable { message } => Some(message),
            _ => None,
        }
    }
}

impl Unavailable for RegistryReply {
    fn unavailable(&self) -> Option<&str> {
        match self {
            RegistryReply::Unavailable { message } => Some(message),
            _ => None,
        }
    }
}

macro_rules! retried_while_unavailable {
    ($($reply:ident),*) => {$(
        impl Unavailable for $reply {
            fn unavailable(&self) -> Option<&str> {
                match self {
                    $reply::Unavailable { message } => Some(message),
                    _ => None,
                }
            }
        }
    )*};
}

retried_while_unavailable!(ReferenceLoadReply, QuarantineReply, LogInfoReply, LogOpenReply, LogReadReply);

impl Unavailable for ReferenceReply {
    fn unavailable(&self) -> Option<&str> {
        match self {
            ReferenceReply::Unavailable { message } => Some(message),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_two_seconds_and_stop_after_the_retries() {
        let policy =
            RetryPolicy { retries: 6, backoff: std::time::Duration::from_millis(300), ..RetryPolicy::default() };
        let ms: Vec<u128> = policy.pauses().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [300, 600, 1200, 2000, 2000, 2000]);
        assert_eq!(RetryPolicy { retries: 0, ..policy }.pauses().count(), 0);
    }

    #[test]
    fn nobody_listening_names_the_service_that_should() {
        assert!(no_responder("stod.cmd.anna.record").contains("kommandotjänsten"));
        assert!(no_responder("stod.query.anna.case").contains("kommandotjänsten"));
        assert!(no_responder("stod.registry.anna.lookup").contains("deltagarregistret"));
        assert!(no_responder("stod.query.anna.published-funder").contains("stod projector"));
        assert!(no_responder("stod.ops.drift.rebuild").contains("stod projector"));
    }
}
