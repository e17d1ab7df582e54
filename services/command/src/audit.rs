//! The auditor's reads of whole logs (`stod.audit.<user>.<log-info|log-open|log-read>`):
//! the bytes as stored, in batches, after the run is recorded in the access log.
//!
//! A run is an access record (`AccessView::AuditRun`) whose id is the run's. Reads name
//! the run; the service answers only its opener, only within its range. Runs opened at
//! another instance are found by their record's subject (`stod.access.<user>.run-<id>`).
//!
//! Two scopes, told apart by the endpoint: an auditor's runs (`log-*`) read the three
//! logs for verify, export, replay or access; a backup's runs (`backup-*`) read the
//! logs and the buckets, with purpose `backup` only. Which of them a user may ask for
//! is their role's permissions, enforced by the server.

use std::collections::HashMap;
use std::sync::Mutex;

use async_nats::jetstream::Context;
use stod_events::ids::UserId;
use stod_protocol::audit::AuditPurpose;
use stod_protocol::audit::{
    LogInfoQuery, LogInfoReply, LogName, LogOpenReply, LogOpenRequest, LogReadReply, LogReadRequest, LoggedMessage,
    Loosened, MAX_BATCH_BYTES,
};
use stod_protocol::parse_body;
use stod_store::raw::{read_range, stream_state, StreamState};
use stod_store::{
    AccessLog, AccessRecord, StoreErrorKind, ACCESS_STREAM_NAME, PARTICIPANTS_BUCKET, QUARANTINE_STREAM_NAME,
    REFERENCE_BUCKET, REGISTRY_BUCKET, STREAM_NAME,
};
use tracing::info;
use uuid::Uuid;

/// A run as its record has it.
#[derive(Clone, Debug)]
struct Run {
    user: UserId,
    /// Read only at the endpoints that opened it (`log-read` or `backup-read`).
    scope: Scope,
    log: LogName,
    first: u64,
    last: u64,
}

/// The relay: the streams, the access log, and the runs this instance knows of.
pub struct AuditRelay {
    js: Context,
    access: AccessLog,
    runs: Mutex<HashMap<Uuid, Run>>,
    via: &'static str,
}

/// Who opens a run: an auditor (`log-*`) or a backup (`backup-*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Audit,
    Backup,
}

impl Scope {
    /// What this scope may not open, in words; `None` when it may.
    fn refuses(self, log: LogName, purpose: AuditPurpose) -> Option<String> {
        match self {
            Scope::Audit if log.is_bucket() => {
                Some(format!("{} läses bara av en säkerhetskopiering (backup-open)", log.as_str()))
            }
            Scope::Audit if purpose == AuditPurpose::Backup => {
                Some("en säkerhetskopiering öppnas med backup-open, av rollen säkerhetskopiering".into())
            }
            Scope::Backup if purpose != AuditPurpose::Backup => {
                Some(format!("backup-open tar bara syftet backup, inte {}", purpose.as_str()))
            }
            _ => None,
        }
    }
}

fn stream_of(log: LogName) -> String {
    match log {
        LogName::Events => STREAM_NAME.to_owned(),
        LogName::Access => ACCESS_STREAM_NAME.to_owned(),
        LogName::Quarantine => QUARANTINE_STREAM_NAME.to_owned(),
        LogName::Participants => format!("KV_{PARTICIPANTS_BUCKET}"),
        LogName::Reference => format!("KV_{REFERENCE_BUCKET}"),
        LogName::Registry => format!("KV_{REGISTRY_BUCKET}"),
    }
}

fn loosened(log: LogName, state: &StreamState) -> Vec<Loosened> {
    let mismatches = match log {
        LogName::Events => stod_store::check_stream_config(&state.config),
        LogName::Access => stod_store::check_access_stream_config(&state.config),
        LogName::Quarantine => stod_store::quarantine::check_quarantine_stream_config(&state.config),
        // A bucket is changed by design (claims, the catalogue, erasure).
        LogName::Participants | LogName::Reference | LogName::Registry => Vec::new(),
    };
    mismatches
        .into_iter()
        .map(|m| Loosened { setting: m.setting.to_owned(), actual: m.actual, expected: m.expected })
        .collect()
}

impl AuditRelay {
    pub fn new(js: Context, access: AccessLog, via: &'static str) -> Self {
        Self { js, access, runs: Mutex::new(HashMap::new()), via }
    }

    pub async fn info(&self, body: &[u8], scope: Scope) -> LogInfoReply {
        let query: LogInfoQuery = match parse_body(body) {
            Ok(q) => q,
            Err(e) => return LogInfoReply::Invalid { message: e.to_string() },
        };
        if let Some(message) = scope.refuses(query.log, AuditPurpose::Backup).filter(|_| query.log.is_bucket()) {
            return LogInfoReply::Invalid { message };
        }
        match stream_state(&self.js, &stream_of(query.log)).await {
            Ok(state) => LogInfoReply::Found {
                first: state.first,
                last: state.last,
                messages: state.messages,
                loosened: loosened(query.log, &state),
            },
            Err(e) if e.kind() == StoreErrorKind::NotFound => LogInfoReply::NotFound { message: e.to_string() },
            Err(e) => LogInfoReply::Unavailable { message: e.to_string() },
        }
    }

    /// Records the run, then says what it covers.
    pub async fn open(&self, user: &UserId, body: &[u8], scope: Scope) -> LogOpenReply {
        let request: LogOpenRequest = match parse_body(body) {
            Ok(r) => r,
            Err(e) => return LogOpenReply::Invalid { message: e.to_string() },
        };
        if let Some(message) = scope.refuses(request.log, request.purpose) {
            return LogOpenReply::Invalid { message };
        }
        let state = match stream_state(&self.js, &stream_of(request.log)).await {
            Ok(s) => s,
            Err(e) if e.kind() == StoreErrorKind::NotFound => return LogOpenReply::NotFound { message: e.to_string() },
            Err(e) => return LogOpenReply::Unavailable { message: e.to_string() },
        };
        // A bucket is read whole: its first messages may have been replaced.
        let from = if request.log.is_bucket() { None } else { request.from };
        let first = from.unwrap_or(state.first).max(state.first).max(1);
        let record = AccessRecord::audit_run(
            user.clone(),
            request.log.as_str(),
            request.purpose.as_str(),
            first,
            state.last,
            self.via,
        );
        if let Err(e) = self.access.record(&record).await {
            return LogOpenReply::Unavailable {
                message: format!("åtkomstloggen kunde inte skrivas, så loggen läses inte ut: {e}"),
            };
        }
        info!(%user, log = request.log.as_str(), purpose = request.purpose.as_str(), first, last = state.last, "audit run opened");
        let run = Run { user: user.clone(), scope, log: request.log, first, last: state.last };
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).insert(record.id, run);
        LogOpenReply::Opened {
            run: record.id.to_string(),
            first,
            last: state.last,
            loosened: loosened(request.log, &state),
        }
    }

    async fn run(&self, user: &UserId, id: Uuid) -> Option<Run> {
        if let Some(run) = self.runs.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned() {
            return Some(run);
        }
        // Opened at another instance: its record is under its own subject.
        let record = self.access.run(user, &id).await.ok().flatten()?;
        let log = LogName::parse(record.log.as_deref()?)?;
        let scope =
            if record.purpose.as_deref() == Some(AuditPurpose::Backup.as_str()) { Scope::Backup } else { Scope::Audit };
        let run = Run { user: record.user, scope, log, first: record.from?, last: record.to? };
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).insert(id, run.clone());
        Some(run)
    }

    pub async fn read(&self, user: &UserId, body: &[u8], scope: Scope) -> LogReadReply {
        let request: LogReadRequest = match parse_body(body) {
            Ok(r) => r,
            Err(e) => return LogReadReply::Invalid { message: e.to_string() },
        };
        let refused = || LogReadReply::Invalid {
            message: format!("ingen granskning {} är öppnad av {user}: börja med log-open", request.run),
        };
        let Ok(id) = request.run.parse::<Uuid>() else { return refused() };
        let Some(run) = self.run(user, id).await else { return refused() };
        if &run.user != user || run.scope != scope {
            return refused();
        }
        let from = request.from.max(run.first);
        let headers = run.log.is_bucket();
        match read_range(&self.js, &stream_of(run.log), from, run.last, MAX_BATCH_BYTES, headers).await {
            Ok(messages) => LogReadReply::Batch {
                messages: messages
                    .into_iter()
                    .map(|m| LoggedMessage {
                        seq: m.stream_sequence,
                        subject: m.subject,
                        data: m.bytes,
                        headers: m.headers,
                    })
                    .collect(),
            },
            Err(e) => LogReadReply::Unavailable { message: e.to_string() },
        }
    }
}
