//! The JSON protocol between clients and stod's services over NATS request/reply.
//!
//! Any language with a NATS client can submit: send a [`CommandRequest`] as JSON to
//! [`command_subject`] and read a [`CommandReply`]. Events in the log stay in the pinned
//! binary codec; this JSON is only the conversation. `docs/protocol.md` shows examples.
//!
//! # Subjects
//!
//! - `stod.cmd.<user>.<kind>`: commands; `<kind>` is `record`, `correct` or `retract`.
//!   The user is part of the subject so the server's permissions can bind it to
//!   credentials; the service takes `recorded_by` from here, never from the body.
//! - `stod.query.<user>.case`: one case's history ([`CaseQuery`] → [`CaseReply`]).
//! - `stod.query.<user>.reference`: the current reference data ([`ReferenceReply`]).
//! - `stod.registry.<user>.<op>`: the participant registry, personnummer to
//!   participant reference outside the log; `<op>` is `register`, `lookup` or `erase`
//!   ([`RegistryRequest`] → [`RegistryReply`]).
//! - Replies go to the requester's own inbox, `_INBOX_<user>.` ([`inbox_prefix`]).

pub mod audit;
pub mod ops;

use serde::{Deserialize, Serialize};
use stod_events::case::{Command, RejectionKind};
use stod_events::event::{CorrectionReason, Fact};
use stod_events::ids::{CaseId, Date, EventId, ParticipantRef, SubmissionId, Timestamp, UserId};
use stod_events::reference::CatalogueFile;

/// Prefix of every command subject.
pub const COMMAND_PREFIX: &str = "stod.cmd";
/// Prefix of every query subject.
pub const QUERY_PREFIX: &str = "stod.query";
/// Prefix of the participant registry's subjects.
pub const REGISTRY_PREFIX: &str = "stod.registry";
/// Prefix of the auditors' reads of whole logs (`audit`).
pub const AUDIT_PREFIX: &str = "stod.audit";
/// Largest request body the services read. Real requests are well under 4 KiB.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The three kinds of command, as the last subject token. Corrections and retractions
/// are separate kinds so permissions can allow them to project leaders only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    Record,
    Correct,
    Retract,
}

impl CommandKind {
    pub const ALL: [CommandKind; 3] = [CommandKind::Record, CommandKind::Correct, CommandKind::Retract];

    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Record => "record",
            CommandKind::Correct => "correct",
            CommandKind::Retract => "retract",
        }
    }

    pub fn parse(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == token)
    }

    pub fn of(command: &Command) -> Self {
        match command {
            Command::Record { .. } => CommandKind::Record,
            Command::Correct { .. } => CommandKind::Correct,
            Command::Retract { .. } => CommandKind::Retract,
        }
    }
}

/// The inbox prefix of `user`: every client of stod receives its replies under
/// `_INBOX_<user>.`, the server lets only that user subscribe there, and the services
/// answer nowhere else (`stod-nats-service`'s reply rule).
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// `stod.cmd.<user>.<kind>`
pub fn command_subject(user: &UserId, kind: CommandKind) -> String {
    format!("{COMMAND_PREFIX}.{user}.{}", kind.as_str())
}

/// `stod.query.<user>.<name>`
pub fn query_subject(user: &UserId, name: &str) -> String {
    format!("{QUERY_PREFIX}.{user}.{name}")
}

/// The parts of a command or query subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectParts {
    pub user: UserId,
    pub last: String,
}

/// Splits `<prefix>.<user>.<last>`, checking the user token.
pub fn parse_subject(prefix: &str, subject: &str) -> Result<SubjectParts, RequestError> {
    let rest = subject
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('.'))
        .ok_or_else(|| RequestError::Subject(subject.to_owned()))?;
    let (user, last) = rest.split_once('.').ok_or_else(|| RequestError::Subject(subject.to_owned()))?;
    let user = UserId::parse(user).map_err(|_| RequestError::Subject(subject.to_owned()))?;
    if last.is_empty() || last.contains('.') {
        return Err(RequestError::Subject(subject.to_owned()));
    }
    Ok(SubjectParts { user, last: last.to_owned() })
}

/// A command for one case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// For an intake, a new id the client chose (UUIDv7); otherwise the case's id.
    pub case_id: CaseId,
    /// Chosen by the client once per submission and reused on every retry of it.
    pub submission_id: SubmissionId,
    pub command: Command,
    /// An intake only: the person's personnummer, as typed. The command service has the
    /// registry file it (outside the log) and records the intake with the reference
    /// the registry gives; the number itself is never stored, logged or answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personnummer: Option<String>,
}

impl CommandRequest {
    /// A request without a personnummer.
    pub fn new(case_id: CaseId, submission_id: SubmissionId, command: Command) -> Self {
        Self { case_id, submission_id, command, personnummer: None }
    }
}

/// The answer to a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CommandReply {
    /// Recorded (or recorded before: `duplicate` is then true and the ids are the
    /// original ones).
    Accepted {
        case_id: CaseId,
        event_ids: Vec<EventId>,
        /// Stream sequence of the (last) event.
        stream_sequence: u64,
        duplicate: bool,
        /// The number the case gave a new placement or course, which later commands
        /// name (`end_placement`, `complete_training`); absent for other commands.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assigned: Option<Assigned>,
        /// An intake with a personnummer: the reference the registry gave the person,
        /// and whether it made a new entry (`created: false`: registered before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        registered: Option<Registered>,
    },
    /// Refused by a case rule; nothing was recorded.
    Rejected {
        kind: RejectionKind,
        message: String,
        /// Valid values where known (codes, open placement numbers).
        valid: Vec<String>,
    },
    /// The case kept changing under us; nothing was recorded. Retry.
    Conflict { message: String },
    /// The request itself was malformed; nothing was recorded.
    Invalid { message: String },
    /// The log could not be reached or did not confirm. The outcome is unknown: retry
    /// with the same submission id, which never records twice.
    Unavailable { message: String },
}

/// The registry's answer on an intake with a personnummer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub participant: ParticipantRef,
    pub created: bool,
}

/// A number the case handed out with a command: the placement or course that later
/// commands of the case refer to. JSON: `{"placement": 1}` or `{"training": 2}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assigned {
    Placement(u16),
    Training(u16),
}

impl Assigned {
    /// The number a recorded fact carries, if it is one that starts something numbered.
    pub fn of(fact: &Fact) -> Option<Self> {
        match fact {
            Fact::PlacementStarted(p) => Some(Assigned::Placement(p.placement.0)),
            Fact::TrainingStarted(t) => Some(Assigned::Training(t.training.0)),
            Fact::TrainingCompleted(t) => Some(Assigned::Training(t.training.0)),
            _ => None,
        }
    }
}

/// Why a request could not even be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("okänt ämne {0:?}: väntade stod.cmd.<användare>.<record|correct|retract>, stod.query.<användare>.<fråga> eller stod.registry.<användare>.<register|lookup|erase>")]
    Subject(String),
    #[error("förfrågan är {len} byte; högst {MAX_REQUEST_BYTES} byte tas emot")]
    TooLarge { len: usize },
    #[error("förfrågan är ingen giltig JSON enligt protokollet: {0}")]
    Json(String),
    #[error("ämnet säger {subject:?} men kommandot är {body:?}")]
    KindMismatch { subject: CommandKind, body: CommandKind },
}

/// Parses a request body with the size limit and a readable error.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, RequestError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLarge { len: body.len() });
    }
    serde_json::from_slice(body).map_err(|e| RequestError::Json(e.to_string()))
}

/// Asks for one case's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    pub case_id: CaseId,
}

/// One case as the log holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CaseReply {
    Found(CaseView),
    NotFound { case_id: CaseId },
    Invalid { message: String },
    Unavailable { message: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseView {
    pub case_id: CaseId,
    /// Enrolled and not exited.
    pub open: bool,
    /// The intake was retracted.
    pub void: bool,
    pub open_placements: Vec<u16>,
    pub open_trainings: Vec<u16>,
    /// Every event in stream order.
    pub events: Vec<EventView>,
}

/// One event, with its envelope, in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub stream_sequence: u64,
    pub event_id: EventId,
    /// English type name, e.g. `placement_started`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Swedish label, e.g. `Praktik påbörjad`.
    pub label: String,
    pub occurred_on: Date,
    pub recorded_at: Timestamp,
    pub recorded_by: UserId,
    pub submission_id: SubmissionId,
    /// The fact as recorded (for a correction: the replacement).
    pub fact: Option<Fact>,
    /// For corrections and retractions: the event they change, and why.
    pub corrects: Option<EventId>,
    pub reason: Option<CorrectionReason>,
    /// Hex SHA-256 chain hash.
    pub chain_hash: String,
}

/// The reference data in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReferenceReply {
    Found { fingerprint: String, catalogue: CatalogueFile },
    Unavailable { message: String },
}

/// The participant registry's operations, as the last subject token. Separate, so
/// server permissions can allow erasure to fewer people than lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryOp {
    /// Create-if-absent: the person's reference, new or existing.
    Register,
    /// The person's reference and current case, if registered.
    Lookup,
    /// Remove the person's entry for good (gallring).
    Erase,
}

impl RegistryOp {
    pub const ALL: [RegistryOp; 3] = [RegistryOp::Register, RegistryOp::Lookup, RegistryOp::Erase];

    pub fn as_str(self) -> &'static str {
        match self {
            RegistryOp::Register => "register",
            RegistryOp::Lookup => "lookup",
            RegistryOp::Erase => "erase",
        }
    }

    pub fn parse(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == token)
    }
}

/// `stod.registry.<user>.<op>`
pub fn registry_subject(user: &UserId, op: RegistryOp) -> String {
    format!("{REGISTRY_PREFIX}.{user}.{}", op.as_str())
}

/// A request to the participant registry. The number is sent as typed (any accepted
/// form); the service validates it and never logs it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryRequest {
    pub personnummer: String,
    /// `register` only, from the command service: the user whose intake it is, for the
    /// access log and the rate limit. The server lets no one else send `register`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_user: Option<UserId>,
}

/// Never shows the number.
impl std::fmt::Debug for RegistryRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryRequest { personnummer: <dolt> }")
    }
}

/// Why a registry request was refused before anything was looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryInvalidKind {
    /// Wrong length, letters or stray characters, a misplaced separator.
    Format,
    /// The date part is not a calendar date.
    Date,
    /// The check digit does not match (a typo).
    CheckDigit,
    /// The date of birth is after today.
    Future,
    /// The request itself (subject, JSON) was malformed.
    Request,
}

/// The participant registry's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RegistryReply {
    /// `lookup`: the person's reference, and the case they were last enrolled in
    /// (none if no intake was recorded yet) and whether it is open.
    Found { participant: ParticipantRef, case_id: Option<CaseId>, case_open: Option<bool> },
    /// `register`: the person's reference; `created` if it is new.
    Registered { participant: ParticipantRef, created: bool },
    /// `erase`: the entry is gone, with its history.
    Erased,
    /// `lookup`, `erase`: nobody with this number is registered (never was, or was
    /// erased).
    NotFound { message: String },
    /// The number or the request was refused; nothing was stored or looked up.
    Invalid {
        kind: RegistryInvalidKind,
        message: String,
        /// What is valid, in Swedish.
        valid: String,
    },
    /// The registry could not be reached; retrying is safe.
    Unavailable { message: String },
    /// Too many requests from this user in a short time (a guard against running
    /// through numbers); nothing was looked up. Try again after `retry_after_seconds`.
    Limited { message: String, retry_after_seconds: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_replies_have_the_documented_json() {
        let reply =
            RegistryReply::Invalid { kind: RegistryInvalidKind::CheckDigit, message: "m".into(), valid: "v".into() };
        let json = serde_json::to_value(&reply).unwrap();
        assert_eq!(json, serde_json::json!({"status": "invalid", "kind": "check_digit", "message": "m", "valid": "v"}));
        assert_eq!(serde_json::to_value(RegistryReply::Erased).unwrap(), serde_json::json!({"status": "erased"}));
        let user = UserId::parse("anna").unwrap();
        let s = registry_subject(&user, RegistryOp::Lookup);
        assert_eq!(s, "stod.registry.anna.lookup");
        let parts = parse_subject(REGISTRY_PREFIX, &s).unwrap();
        assert_eq!(RegistryOp::parse(&parts.last), Some(RegistryOp::Lookup));
        let req: RegistryRequest = parse_body(br#"{"personnummer": "19900314-1234"}"#).unwrap();
        assert!(!format!("{req:?}").contains("1234"));
    }

    #[test]
    fn subjects_round_trip_and_refuse_junk() {
        let user = UserId::parse("anna").unwrap();
        let s = command_subject(&user, CommandKind::Correct);
        assert_eq!(s, "stod.cmd.anna.correct");
        let parts = parse_subject(COMMAND_PREFIX, &s).unwrap();
        assert_eq!((parts.user, parts.last.as_str()), (user, "correct"));
        for bad in
            ["stod.cmd", "stod.cmd.anna", "stod.cmd.Anna.record", "stod.cmd.anna.record.x", "stod.cmdx.anna.record"]
        {
            assert!(parse_subject(COMMAND_PREFIX, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_request_reads_from_documented_json() {
        let json = r#"{
            "case_id": "01900000-0000-7000-8000-00000000cafe",
            "submission_id": "01900000-0000-7000-8000-000000000001",
            "command": {
                "command": "record",
                "occurred_on": "2025-03-14",
                "action": {
                    "action": "start_placement",
                    "site": "industrisparet",
                    "work_area": "montering",
                    "hours_per_week": 20
                }
            }
        }"#;
        let req: CommandRequest = parse_body(json.as_bytes()).unwrap();
        assert_eq!(CommandKind::of(&req.command), CommandKind::Record);
        let again: CommandRequest = parse_body(serde_json::to_string(&req).unwrap().as_bytes()).unwrap();
        assert_eq!(again, req);
    }

    #[test]
    fn bad_bodies_are_refused_by_kind() {
        assert!(matches!(parse_body::<CommandRequest>(b"{"), Err(RequestError::Json(_))));
        assert!(matches!(
            parse_body::<CommandRequest>(&vec![b' '; MAX_REQUEST_BYTES + 1]),
            Err(RequestError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_body::<CommandRequest>(br#"{"case_id":"x","submission_id":"y","command":{}}"#),
            Err(RequestError::Json(_))
        ));
    }
}

impl EventView {
    /// The JSON view of a stored event.
    pub fn from_stored(stream_sequence: u64, sealed: &stod_events::SealedEvent) -> Self {
        use stod_events::Event;
        let ev = &sealed.event;
        let (fact, reason) = match &ev.event {
            Event::Fact(f) => (Some(f.clone()), None),
            Event::Corrected(c) => (Some(c.replacement.clone()), Some(c.reason)),
            Event::Retracted(r) => (None, Some(r.reason)),
        };
        EventView {
            stream_sequence,
            event_id: ev.event_id,
            event_type: ev.event_type().name().to_owned(),
            label: ev.event_type().label_sv().to_owned(),
            occurred_on: ev.occurred_on,
            recorded_at: ev.recorded_at,
            recorded_by: ev.recorded_by.clone(),
            submission_id: ev.submission_id,
            fact,
            corrects: ev.event.target(),
            reason,
            chain_hash: sealed.chain_hash.to_hex(),
        }
    }
}

/// Asks for the throughput report of a period (`2025`, `2025-Q2`, `2025-03`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThroughputQuery {
    pub period: String,
    /// The day figures are known up to (default: today in Sweden); the goal forecast
    /// extrapolates from it.
    #[serde(default)]
    pub today: Option<Date>,
}

/// Asks for the steering-group status as of a meeting date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteeringQuery {
    pub as_of: Date,
    /// Changes are counted after this date (the previous meeting).
    #[serde(default)]
    pub previous_meeting: Option<Date>,
}

/// Asks for the funder's follow-up of a period (`2025`, `2025-Q2`, `2025-03`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunderQuery {
    pub period: String,
}

/// Asks for a case's audit history from the read model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub case_id: CaseId,
}

/// The answer to a read-model query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReportReply<T> {
    Ok {
        /// Last stream sequence the figures include.
        checkpoint: u64,
        generation: u64,
        report: T,
    },
    Invalid {
        message: String,
    },
    /// Not built yet, stopped on a fault, or the store failed.
    Unavailable {
        message: String,
    },
}

/// The projector's answer to `projection-status`: what the runner is doing, for status
/// queries, progress bars and health checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectionStatus {
    /// The generation queries read; 0 until the first build is done.
    pub generation: u64,
    /// The last stream sequence folded into it.
    pub checkpoint: u64,
    pub rebuild: Option<RebuildProgress>,
    /// Why folding stopped (a gap or an undecodable event in the log): the read
    /// models are frozen at `checkpoint` until a person looks.
    pub fault: Option<String>,
    /// The event log's last sequence when the status was asked for, so a client can
    /// say how far behind the read models are without reading the log itself; `None`
    /// when the projector could not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_end: Option<u64>,
}

/// A rebuild under way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildProgress {
    pub generation: u64,
    pub position: u64,
    pub target: u64,
    pub events_per_second: u64,
}

/// Subject names of the projector's queries (`stod.query.<user>.<name>`).
pub mod queries {
    pub const THROUGHPUT: &str = "throughput";
    pub const STEERING: &str = "steering";
    pub const HISTORY: &str = "history";
    /// The caseload and worklist (`stod_projections::CaseloadQuery`): case workers and
    /// project leaders only.
    pub const CASELOAD: &str = "caseload";
    pub const PROJECTION_STATUS: &str = "projection-status";
    /// The reports that leave the system to the steering group and the funder, with
    /// small counts hidden (`stod_projections::disclosure`). Their own subjects, so
    /// server permissions can give a role these and nothing case-level.
    pub const PUBLISHED_THROUGHPUT: &str = "published-throughput";
    pub const PUBLISHED_STEERING: &str = "published-steering";
    pub const PUBLISHED_FUNDER: &str = "published-funder";
    /// Operators: `stod.ops.<user>.rebuild` starts a rebuild.
    pub const OPS_PREFIX: &str = "stod.ops";
    pub const REBUILD: &str = "rebuild";
}
