//! The access log: who looked at which case, and when, as records an auditor can
//! replay.
//!
//! An access is not a fact of a participant's journey, so it never enters the event
//! log or a case's hash chain. It has its own append-only stream, [`ACCESS_STREAM_NAME`],
//! protected like the event log (file storage, no limits, no delete, purge or rollup),
//! with one subject per user and what was looked at: `stod.access.<user>.<target>`,
//! where the target is a case id, `p-<participant>` (the registry, for a registered
//! person), `registry` (the registry, nobody found) or `run-<id>` (an auditor's read of a
//! whole log). Every auditor question is then a subject filter, answered by the server
//! without decoding every record: "who looked at this case" (`stod.access.*.<case>`),
//! "who looked this person up" (`stod.access.*.p-<participant>`) and "what did this user
//! look at" (`stod.access.<user>.*`).
//!
//! The records are JSON (`docs/access-log.md`): self-describing, readable with the
//! `nats` CLI alone, and versioned by their `version` field.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::context::{GetStreamErrorKind, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config, Stream};
use async_nats::jetstream::{Context, ErrorCode};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use stod_events::ids::{CaseId, ParticipantRef, Timestamp, UserId};
use uuid::Uuid;

use crate::error::{Mismatch, StoreError, StoreErrorKind};
use crate::stream::{append_only_config, append_only_mismatches, ensure, EventLogConfig, StreamSpec};

/// The JetStream stream holding every access record.
pub const ACCESS_STREAM_NAME: &str = "STOD_ACCESS";

/// Records go to `stod.access.<user>.<target>`.
pub const ACCESS_SUBJECT_PREFIX: &str = "stod.access";

/// The stream's subject filter: the user token, then the target.
pub const ACCESS_STREAM_SUBJECTS: &str = "stod.access.*.*";

/// The version of [`AccessRecord`] this code writes. Version 1 (a case or its history)
/// still reads: its fields are all in version 2.
pub const ACCESS_RECORD_VERSION: u16 = 2;

/// Largest record the stream accepts. A record is about 250 bytes; anything near
/// this is not one of ours.
pub const MAX_ACCESS_RECORD_BYTES: i32 = 4096;

/// The subject of one user's accesses to one case. Both tokens are safe subject
/// tokens: a [`UserId`] is `[a-z0-9_-]`, a case id a hyphenated UUID.
pub fn access_subject(user: &UserId, case_id: &CaseId) -> String {
    format!("{ACCESS_SUBJECT_PREFIX}.{user}.{case_id}")
}

/// The subject token of a record's target (see the module docs).
fn target_token(record: &AccessRecord) -> String {
    match (record.case_id, record.participant, record.run) {
        (Some(case), _, _) => case.to_string(),
        (None, Some(participant), _) => format!("p-{participant}"),
        (None, None, Some(run)) => format!("run-{run}"),
        (None, None, None) if record.view == AccessView::Caseload => "caseload".to_owned(),
        (None, None, None) => "registry".to_owned(),
    }
}

/// The subject `record` is stored under.
pub fn record_subject(record: &AccessRecord) -> String {
    format!("{ACCESS_SUBJECT_PREFIX}.{}.{}", record.user, target_token(record))
}

/// The subject of an auditor's run (`AccessView::AuditRun`).
pub fn run_subject(user: &UserId, run: &Uuid) -> String {
    format!("{ACCESS_SUBJECT_PREFIX}.{user}.run-{run}")
}

/// The full JetStream config of the access stream: kept forever and protected by
/// the server exactly like the event log (see [`crate::stream_config`]), with the
/// same replicas and duplicate window.
pub fn access_stream_config(cfg: &EventLogConfig) -> Config {
    append_only_config(
        ACCESS_STREAM_NAME,
        "stod's access log: who looked at which case; never deleted, purged or rolled up",
        ACCESS_STREAM_SUBJECTS,
        cfg,
        MAX_ACCESS_RECORD_BYTES,
    )
}

/// Every setting of `actual` that would let an access record be changed, removed or
/// expire. Empty means safe. Replicas, the duplicate window and the message size are
/// an operator's to tune.
pub fn check_access_stream_config(actual: &Config) -> Vec<Mismatch> {
    append_only_mismatches(actual, ACCESS_STREAM_SUBJECTS)
}

fn spec(cfg: &EventLogConfig) -> StreamSpec {
    StreamSpec {
        name: ACCESS_STREAM_NAME,
        what: "access stream",
        config: access_stream_config(cfg),
        check: check_access_stream_config,
        replicas: cfg.replicas,
    }
}

/// Creates the access stream if it does not exist; otherwise checks it, and refuses
/// ([`StoreErrorKind::StreamMismatch`]) one whose protection was loosened, never
/// repairing it silently.
pub async fn ensure_access_stream(js: &Context, cfg: &EventLogConfig) -> Result<Stream, StoreError> {
    ensure(js, &spec(cfg)).await
}

/// What was looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccessView {
    /// The case from the event log: every event with its content (the command
    /// service's `case` query; `stod case show`, `stod audit history`).
    Case,
    /// The case's audit trail from the read model (the projector's `history` query;
    /// `stod case history`).
    History,
    /// A personnummer looked up in the participant registry (`stod case find`).
    RegistryLookup,
    /// A personnummer registered, on an intake.
    RegistryRegister,
    /// A person's registry entry erased (gallring).
    RegistryErase,
    /// An auditor's read of a whole log (`stod audit verify`, `export`, `replay`,
    /// `access`), with the log and the range.
    AuditRun,
    /// A caseload listed (the projector's `caseload` query; `stod case list`,
    /// `stod worklist`, a case named by the start of its id): how many cases, and the
    /// case when the listing named exactly one.
    Caseload,
}

impl AccessView {
    /// The wire token.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessView::Case => "case",
            AccessView::History => "history",
            AccessView::RegistryLookup => "registry_lookup",
            AccessView::RegistryRegister => "registry_register",
            AccessView::RegistryErase => "registry_erase",
            AccessView::AuditRun => "audit_run",
            AccessView::Caseload => "caseload",
        }
    }
}

/// One access: `user` asked `via` a service for `view` of `case_id` at `at`.
///
/// A record is written for every request that names a case, before anything of the
/// case is sent, whatever the answer turns out to be (found, not found, unavailable):
/// it records the attempt, and a record without a shown case is harmless where a
/// shown case without a record is not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// The record's format ([`ACCESS_RECORD_VERSION`]); a new shape is a new version.
    pub version: u16,
    /// Unique per access; also the `Nats-Msg-Id`, so an append retried after a lost
    /// acknowledgement is stored once.
    pub id: Uuid,
    /// The service's clock when the request was taken (UTC).
    pub at: Timestamp,
    /// The user token of the subject the request arrived on: who asked. Never taken
    /// from a request body.
    pub user: UserId,
    /// The case looked at (`case`, `history`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
    pub view: AccessView,
    /// The service that answered: `command`, `projector` or `registry`.
    pub via: String,
    /// The registry: the person's reference, when someone was found, registered or
    /// erased (never the personnummer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<ParticipantRef>,
    /// The registry: what came of it (`found`, `not_found`, `created`, `existing`,
    /// `erased`); a caseload: `listed N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// An auditor's run: its id, which the reads of the run name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Uuid>,
    /// An auditor's run: the log read (`events`, `access`, `quarantine`), why
    /// (`verify`, `export`, `replay`, `access`), and the range of sequences it may read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
}

impl AccessRecord {
    /// A record of an access to a case now, with a new id.
    pub fn new(user: UserId, case_id: CaseId, view: AccessView, via: &str) -> Self {
        Self { case_id: Some(case_id), ..Self::bare(user, view, via) }
    }

    /// A record of a registry request now: the person found (or not) and the outcome.
    pub fn registry(
        user: UserId,
        view: AccessView,
        participant: Option<ParticipantRef>,
        outcome: &str,
        via: &str,
    ) -> Self {
        Self { participant, outcome: Some(outcome.to_owned()), ..Self::bare(user, view, via) }
    }

    /// A record of a caseload listed: `listed` cases, and the case if it was the only one.
    pub fn caseload(user: UserId, listed: u32, case_id: Option<CaseId>, via: &str) -> Self {
        Self { case_id, outcome: Some(format!("listed {listed}")), ..Self::bare(user, AccessView::Caseload, via) }
    }

    /// A record of an auditor's run over `log` from `from` to `to`; its id is the run's.
    pub fn audit_run(user: UserId, log: &str, purpose: &str, from: u64, to: u64, via: &str) -> Self {
        let bare = Self::bare(user, AccessView::AuditRun, via);
        Self {
            run: Some(bare.id),
            log: Some(log.to_owned()),
            purpose: Some(purpose.to_owned()),
            from: Some(from),
            to: Some(to),
            ..bare
        }
    }

    fn bare(user: UserId, view: AccessView, via: &str) -> Self {
        Self {
            version: ACCESS_RECORD_VERSION,
            id: Uuid::now_v7(),
            at: Timestamp::now(),
            user,
            case_id: None,
            view,
            via: via.to_owned(),
            participant: None,
            outcome: None,
            run: None,
            log: None,
            purpose: None,
            from: None,
            to: None,
        }
    }

    /// The stored bytes: one JSON object.
    pub fn to_json(&self) -> Vec<u8> {
        // Every field serializes infallibly (strings, numbers, a UUID).
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// An access record with its place in the stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredAccess {
    /// The access stream's sequence: the order in which accesses were stored.
    pub stream_sequence: u64,
    #[serde(flatten)]
    pub record: AccessRecord,
}

/// Which records [`AccessLog::read`] returns. Every field narrows; the default is all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessFilter {
    pub user: Option<UserId>,
    pub case_id: Option<CaseId>,
    /// Records at or after this instant.
    pub since: Option<Timestamp>,
    /// Records at or before this instant.
    pub until: Option<Timestamp>,
}

impl AccessFilter {
    /// The subject filter the server applies: user and case narrow by subject.
    pub fn subject(&self) -> String {
        let user = self.user.as_ref().map_or("*", UserId::as_str);
        let case = self.case_id.map_or_else(|| "*".to_owned(), |c| c.to_string());
        format!("{ACCESS_SUBJECT_PREFIX}.{user}.{case}")
    }

    /// Whether `record` passes every condition of the filter.
    pub fn matches(&self, record: &AccessRecord) -> bool {
        self.user.as_ref().is_none_or(|u| *u == record.user)
            && self.case_id.is_none_or(|c| Some(c) == record.case_id)
            && self.since.is_none_or(|t| record.at >= t)
            && self.until.is_none_or(|t| record.at <= t)
    }
}

/// The access log on JetStream.
#[derive(Clone)]
pub struct AccessLog {
    js: Context,
    stream: Stream,
    ack_timeout: Duration,
}

/// How often [`AccessLog::record`] publishes before it gives up: once, and once more
/// with the same message id if the first acknowledgement did not come.
const RECORD_ATTEMPTS: usize = 2;

/// How long a read waits for the next record before calling the server unavailable.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

impl AccessLog {
    /// Opens the access log, creating the stream if needed (and refusing an unsafe one).
    pub async fn open(js: Context, cfg: &EventLogConfig) -> Result<Self, StoreError> {
        let stream = ensure_access_stream(&js, cfg).await?;
        Ok(Self { js, stream, ack_timeout: Duration::from_secs(2) })
    }

    /// Opens an existing access log for reading only: never creates the stream (an
    /// auditor must not take a fresh, empty log for "nobody looked") and never refuses
    /// one whose protection was loosened; those settings are returned instead.
    pub async fn open_existing(js: Context) -> Result<(Self, Vec<Mismatch>), StoreError> {
        let mut stream = js.get_stream(ACCESS_STREAM_NAME).await.map_err(|e| match e.kind() {
            GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND => {
                StoreError::new(StoreErrorKind::NotFound, format!("there is no stream {ACCESS_STREAM_NAME}"))
            }
            _ => {
                StoreError::with_source(StoreErrorKind::Unavailable, format!("reading stream {ACCESS_STREAM_NAME}"), e)
            }
        })?;
        let config = stream
            .info()
            .await
            .map_err(|e| {
                StoreError::with_source(StoreErrorKind::Unavailable, "reading the access stream's settings", e)
            })?
            .config
            .clone();
        let mismatches = check_access_stream_config(&config);
        Ok((Self { js, stream, ack_timeout: Duration::from_secs(2) }, mismatches))
    }

    /// How long one publish waits for its acknowledgement.
    pub fn with_ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// Appends one record and waits until JetStream has stored it; returns its stream
    /// sequence. A lost acknowledgement is retried once with the same message id, which
    /// the server stores at most once.
    ///
    /// Errors: [`StoreErrorKind::Unavailable`] when the stream is gone or NATS is not
    /// reachable, [`StoreErrorKind::Timeout`] when no acknowledgement came.
    pub async fn record(&self, record: &AccessRecord) -> Result<u64, StoreError> {
        let subject = record_subject(record);
        let payload = record.to_json();
        let mut last = None;
        for _ in 0..RECORD_ATTEMPTS {
            let publish = PublishMessage::build()
                .payload(payload.clone().into())
                .message_id(record.id.to_string())
                // Only our stream may take it: a stream someone else put on these
                // subjects is not an access log.
                .expected_stream(ACCESS_STREAM_NAME);
            let ack = match self.js.send_publish(subject.clone(), publish).await {
                Ok(ack) => ack,
                Err(e) => return Err(publish_error(e)),
            };
            match tokio::time::timeout(self.ack_timeout, ack).await {
                Ok(Ok(ack)) => return Ok(ack.sequence),
                Ok(Err(e)) if e.kind() == PublishErrorKind::TimedOut => last = Some(publish_error(e)),
                Ok(Err(e)) => return Err(publish_error(e)),
                Err(_) => {
                    last = Some(StoreError::new(StoreErrorKind::Timeout, "no acknowledgement from the access stream"))
                }
            }
        }
        Err(last
            .unwrap_or_else(|| StoreError::new(StoreErrorKind::Timeout, "no acknowledgement from the access stream")))
    }

    /// The record of `user`'s audit run `run`, if there is one.
    pub async fn run(&self, user: &UserId, run: &Uuid) -> Result<Option<AccessRecord>, StoreError> {
        use async_nats::jetstream::stream::LastRawMessageErrorKind;
        let subject = run_subject(user, run);
        match self.stream.get_last_raw_message_by_subject(&subject).await {
            Ok(msg) => Ok(Some(decode(msg.sequence, &subject, &msg.payload)?)),
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(None),
            Err(e) => Err(StoreError::with_source(StoreErrorKind::Unavailable, "reading an audit run's record", e)),
        }
    }

    /// The records that pass `filter`, in stream order, as the stream stood when
    /// called. User and case are filtered by the server (by subject), the time range
    /// here. An ordered consumer reads them: no gaps, no duplicates.
    pub async fn read(&self, filter: &AccessFilter) -> Result<Vec<StoredAccess>, StoreError> {
        let unavailable =
            |e: String| StoreError::new(StoreErrorKind::Unavailable, format!("reading the access log: {e}"));
        let mut stream = self.stream.clone();
        let last = stream.info().await.map_err(|e| unavailable(e.to_string()))?.state.last_sequence;
        if last == 0 {
            return Ok(Vec::new());
        }
        let consumer = self
            .stream
            .create_consumer(OrderedConfig {
                filter_subject: filter.subject(),
                deliver_policy: DeliverPolicy::All,
                max_batch: 1000,
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        // With nothing pending, no message will ever come to end the loop below.
        if consumer.cached_info().num_pending == 0 {
            return Ok(Vec::new());
        }
        let mut messages = consumer.messages().await.map_err(|e| unavailable(e.to_string()))?;
        let mut out = Vec::new();
        loop {
            let msg = match tokio::time::timeout(READ_TIMEOUT, messages.next()).await {
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => return Err(unavailable(e.to_string())),
                Ok(None) => return Err(unavailable("the consumer ended early".into())),
                Err(_) => return Err(unavailable("no record arrived in time".into())),
            };
            let info = msg.info().map_err(|e| unavailable(e.to_string()))?;
            let sequence = info.stream_sequence;
            if sequence > last {
                // Stored after the read began: not part of this read.
                break;
            }
            let record = decode(sequence, &msg.subject, &msg.payload)?;
            if filter.matches(&record) {
                out.push(StoredAccess { stream_sequence: sequence, record });
            }
            if info.pending == 0 || sequence == last {
                break;
            }
        }
        Ok(out)
    }
}

/// A stored record, checked against the subject it was stored under: a body naming
/// another user or case than its subject was not written by stod.
pub fn decode(sequence: u64, subject: &str, payload: &[u8]) -> Result<AccessRecord, StoreError> {
    let record: AccessRecord = serde_json::from_slice(payload).map_err(|e| {
        StoreError::with_source(StoreErrorKind::Corrupt, format!("access record {sequence} does not decode"), e)
    })?;
    let expected = record_subject(&record);
    if expected != subject {
        return Err(StoreError::new(
            StoreErrorKind::Corrupt,
            format!("access record {sequence} belongs under {expected} but was stored under {subject}"),
        ));
    }
    Ok(record)
}

fn publish_error(e: async_nats::jetstream::context::PublishError) -> StoreError {
    let kind = match e.kind() {
        PublishErrorKind::TimedOut => StoreErrorKind::Timeout,
        PublishErrorKind::BrokenPipe | PublishErrorKind::StreamNotFound => StoreErrorKind::Unavailable,
        _ => StoreErrorKind::JetStream,
    };
    StoreError::with_source(kind, "appending to the access log", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccessRecord {
        let mut r = AccessRecord::new(
            UserId::parse("anna").unwrap(),
            "01900000-0000-7000-8000-000000000001".parse().unwrap(),
            AccessView::History,
            "projector",
        );
        r.id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_00aa);
        r.at = Timestamp::from_micros(1_751_299_200_123_456).unwrap();
        r
    }

    #[test]
    fn the_json_forms_are_pinned_and_version_1_still_reads() {
        // docs/access-log.md shows these records; a change here is a new version.
        let json = String::from_utf8(record().to_json()).unwrap();
        assert_eq!(
            json,
            r#"{"version":2,"id":"01900000-0000-7000-8000-0000000000aa","at":"2025-06-30T16:00:00.123456Z","user":"anna","case_id":"01900000-0000-7000-8000-000000000001","view":"history","via":"projector"}"#
        );
        let back: AccessRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record());
        let v1 = r#"{"version":1,"id":"01900000-0000-7000-8000-0000000000aa","at":"2025-06-30T16:00:00.123456Z","user":"anna","case_id":"01900000-0000-7000-8000-000000000001","view":"history","via":"projector"}"#;
        let old: AccessRecord = serde_json::from_str(v1).unwrap();
        assert_eq!(AccessRecord { version: 2, ..old }, record());

        let participant: ParticipantRef = "01900000-0000-7000-8000-0000000000bb".parse().unwrap();
        let mut found = AccessRecord::registry(
            UserId::parse("anna").unwrap(),
            AccessView::RegistryLookup,
            Some(participant),
            "found",
            "registry",
        );
        found.id = record().id;
        found.at = record().at;
        assert_eq!(
            String::from_utf8(found.to_json()).unwrap(),
            r#"{"version":2,"id":"01900000-0000-7000-8000-0000000000aa","at":"2025-06-30T16:00:00.123456Z","user":"anna","view":"registry_lookup","via":"registry","participant":"01900000-0000-7000-8000-0000000000bb","outcome":"found"}"#
        );
        assert_eq!(record_subject(&found), "stod.access.anna.p-01900000-0000-7000-8000-0000000000bb");
        let run = AccessRecord::audit_run(UserId::parse("revisor").unwrap(), "events", "verify", 1, 412, "command");
        assert_eq!(record_subject(&run), format!("stod.access.revisor.run-{}", run.id));
        assert_eq!(run.run, Some(run.id));
    }

    #[test]
    fn the_subject_names_user_and_case_and_a_filter_narrows_by_them() {
        let r = record();
        assert_eq!(record_subject(&r), "stod.access.anna.01900000-0000-7000-8000-000000000001");
        assert_eq!(AccessFilter::default().subject(), "stod.access.*.*");
        let by_case = AccessFilter { case_id: r.case_id, ..AccessFilter::default() };
        assert_eq!(by_case.subject(), "stod.access.*.01900000-0000-7000-8000-000000000001");
        let by_user = AccessFilter { user: Some(r.user.clone()), ..AccessFilter::default() };
        assert_eq!(by_user.subject(), "stod.access.anna.*");
        assert!(by_user.matches(&r));
    }

    #[test]
    fn the_time_range_includes_both_ends() {
        let r = record();
        let at = |t: Timestamp| AccessFilter { since: Some(t), until: Some(t), ..AccessFilter::default() };
        assert!(at(r.at).matches(&r));
        let later = Timestamp::from_micros(r.at.as_micros() + 1).unwrap();
        assert!(!at(later).matches(&r));
    }

    #[test]
    fn a_body_that_disagrees_with_its_subject_is_corrupt() {
        let r = record();
        let err = decode(7, "stod.access.bertil.01900000-0000-7000-8000-000000000001", &r.to_json()).unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Corrupt);
        let ok = decode(7, &record_subject(&r), &r.to_json()).unwrap();
        assert_eq!(ok, r);
    }

    #[test]
    fn our_own_config_passes_our_own_check() {
        assert_eq!(check_access_stream_config(&access_stream_config(&EventLogConfig::default())), vec![]);
        let mut loosened = access_stream_config(&EventLogConfig::default());
        loosened.deny_purge = false;
        let settings: Vec<&str> = check_access_stream_config(&loosened).iter().map(|m| m.setting).collect();
        assert_eq!(settings, vec!["deny_purge"]);
    }
}
