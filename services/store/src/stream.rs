//! The `STOD_EVENTS` stream: its definition, and creating or checking it.

use std::time::Duration;

use async_nats::jetstream::context::{CreateStreamErrorKind, GetStreamErrorKind};
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType, Stream};
use async_nats::jetstream::{Context, ErrorCode};
use tracing::{debug, info};
use uuid::Uuid;

use crate::error::{Mismatch, StoreError, StoreErrorKind};

/// The JetStream stream holding every event stod has ever recorded.
pub const STREAM_NAME: &str = "STOD_EVENTS";

/// Every event of a case goes to `stod.events.case.<case-uuid>`: one subject
/// per case, so a case's history is read (and its optimistic concurrency
/// checked) per subject, without scanning other cases.
pub const SUBJECT_PREFIX: &str = "stod.events.case";

/// The stream's subject filter: exactly one token after the prefix, the case id.
pub const STREAM_SUBJECTS: &str = "stod.events.case.*";

/// The subject for one case's events.
pub fn case_subject(case_id: &Uuid) -> String {
    // Uuid's Display is the lowercase hyphenated form: stable, and free of
    // the `.`, `*` and `>` that would change the subject's meaning.
    format!("{SUBJECT_PREFIX}.{case_id}")
}

/// The settings of the event stream that a deployment may choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLogConfig {
    /// Copies of each event: 1 for a single server, 3 on a cluster so that
    /// losing one node loses nothing.
    pub replicas: usize,
    /// How long JetStream remembers a `Nats-Msg-Id`, so that a writer that
    /// retries after a lost ack does not record the same event twice.
    pub duplicate_window: Duration,
    /// Largest single event (payload plus headers) the stream accepts; a
    /// guard against a runaway client, far above any sane event. Values
    /// above `i32::MAX` are capped, as that is the largest JetStream takes.
    pub max_message_bytes: u32,
}

impl Default for EventLogConfig {
    fn default() -> Self {
        Self { replicas: 1, duplicate_window: Duration::from_secs(10 * 60), max_message_bytes: 64 * 1024 }
    }
}

/// The full JetStream config of the event stream.
///
/// The log is the system of record and is kept forever: file storage, no
/// age, count or size limit, and the server itself refuses deletes, purges
/// and rollups, so no client (ours or the `nats` CLI) can rewrite history.
/// The server also refuses a stream update that lifts `deny_delete` or
/// `deny_purge`.
///
/// These flags do **not** stop a client from deleting the whole stream
/// (`STREAM.DELETE`); only account permissions can, and deployments must set
/// them.
pub fn stream_config(cfg: &EventLogConfig) -> Config {
    Config {
        // Group commit publishes several events as one atomic batch.
        allow_atomic_publish: true,
        // Loading one case reads its subject with direct gets, which any replica
        // may answer; a stale answer only costs a conflict and a retry.
        allow_direct: true,
        ..append_only_config(
            STREAM_NAME,
            "stod's immutable event log: one subject per case; never deleted, purged or rolled up",
            STREAM_SUBJECTS,
            cfg,
            i32::try_from(cfg.max_message_bytes).unwrap_or(i32::MAX),
        )
    }
}

/// The settings every stod stream shares (the event log, the access log): append-only,
/// never expiring, never discarding, with the deployment's replicas and duplicate
/// window. [`append_only_mismatches`] checks exactly these.
pub(crate) fn append_only_config(
    name: &str,
    description: &str,
    subjects: &str,
    cfg: &EventLogConfig,
    max_message_size: i32,
) -> Config {
    Config {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        subjects: vec![subjects.to_owned()],
        storage: StorageType::File,
        retention: RetentionPolicy::Limits,
        // -1 and zero age mean "no limit"; spelled out so the intent is on
        // the page rather than in a default.
        max_messages: -1,
        max_bytes: -1,
        max_messages_per_subject: -1,
        max_age: Duration::ZERO,
        // With no limits nothing is ever discarded. Should someone add a
        // limit later anyway, `New` makes the stream refuse new messages
        // instead of silently dropping the oldest ones.
        discard: DiscardPolicy::New,
        deny_delete: true,
        deny_purge: true,
        allow_rollup: false,
        duplicate_window: cfg.duplicate_window,
        max_message_size,
        num_replicas: cfg.replicas,
        ..Config::default()
    }
}

/// Lists every setting of `actual` that would break the event log's
/// guarantees. Empty means the stream is safe to use.
///
/// Deliberately not compared: replicas, the duplicate window and the maximum
/// message size. An operator may tune those on a live stream (`nats stream
/// edit`) without endangering a single event.
pub fn check_stream_config(actual: &Config) -> Vec<Mismatch> {
    let mut out = append_only_mismatches(actual, STREAM_SUBJECTS);
    {
        let mut expect = expecter(&mut out);
        // Not a safety setting, but group commit cannot work without it, and a
        // server older than 2.12 silently drops the flag: better to fail here.
        expect(actual.allow_atomic_publish, "allow_atomic", "true", actual.allow_atomic_publish.to_string());
        // Loading a case needs direct gets.
        expect(actual.allow_direct, "allow_direct", "true", actual.allow_direct.to_string());
    }
    out
}

/// Pushes a [`Mismatch`] onto `out` whenever a check fails.
pub(crate) fn expecter(out: &mut Vec<Mismatch>) -> impl FnMut(bool, &'static str, &str, String) + '_ {
    move |ok: bool, setting: &'static str, expected: &str, actual: String| {
        if !ok {
            out.push(Mismatch { setting, expected: expected.to_owned(), actual });
        }
    }
}

/// The settings every append-only stream of stod needs (the event log and the
/// access log alike): exactly `subjects`, file storage, no deletes, purges,
/// rollups, limits or per-message TTLs.
pub(crate) fn append_only_mismatches(actual: &Config, subjects: &str) -> Vec<Mismatch> {
    let mut out = Vec::new();
    {
        let mut expect = expecter(&mut out);

        let subjects_ok = actual.subjects.len() == 1 && actual.subjects[0] == subjects;
        expect(subjects_ok, "subjects", &format!("[{subjects:?}]"), format!("{:?}", actual.subjects));
        expect(actual.storage == StorageType::File, "storage", "file", format!("{:?}", actual.storage));
        expect(actual.retention == RetentionPolicy::Limits, "retention", "limits", format!("{:?}", actual.retention));
        expect(actual.deny_delete, "deny_delete", "true", actual.deny_delete.to_string());
        expect(actual.deny_purge, "deny_purge", "true", actual.deny_purge.to_string());
        expect(!actual.allow_rollup, "allow_rollup_hdrs", "false", actual.allow_rollup.to_string());
        // The server stores "unlimited" as -1; 0 means the same to it.
        expect(actual.max_messages <= 0, "max_msgs", "unlimited", actual.max_messages.to_string());
        expect(actual.max_bytes <= 0, "max_bytes", "unlimited", actual.max_bytes.to_string());
        expect(
            actual.max_messages_per_subject <= 0,
            "max_msgs_per_subject",
            "unlimited",
            actual.max_messages_per_subject.to_string(),
        );
        expect(actual.max_age.is_zero(), "max_age", "unlimited", format!("{:?}", actual.max_age));
        // Per-message TTLs would let a publisher make its own message expire.
        expect(!actual.allow_message_ttl, "allow_msg_ttl", "false", actual.allow_message_ttl.to_string());
    }
    out
}

/// Creates the event stream if it does not exist; otherwise checks that the
/// existing one has the settings the log depends on.
///
/// An existing stream with unsafe settings is an error of kind
/// [`StoreErrorKind::StreamMismatch`] and is left untouched: silently
/// "repairing" it would hide that someone loosened the log's protection
/// (and the deletes it allowed may already have happened).
pub async fn ensure_stream(js: &Context, cfg: &EventLogConfig) -> Result<Stream, StoreError> {
    ensure(js, &StreamSpec::event_log(cfg)).await
}

/// What [`ensure`] creates or checks: a stream's name, full config and safety check.
pub(crate) struct StreamSpec {
    pub(crate) name: &'static str,
    /// What the log is called in messages ("event stream", "access stream").
    pub(crate) what: &'static str,
    pub(crate) config: Config,
    pub(crate) check: fn(&Config) -> Vec<Mismatch>,
    pub(crate) replicas: usize,
}

impl StreamSpec {
    fn event_log(cfg: &EventLogConfig) -> Self {
        Self {
            name: STREAM_NAME,
            what: "event stream",
            config: stream_config(cfg),
            check: check_stream_config,
            replicas: cfg.replicas,
        }
    }
}

/// Creates the stream of `spec` if it does not exist; otherwise checks the
/// existing one, and never changes it (see [`ensure_stream`]).
pub(crate) async fn ensure(js: &Context, spec: &StreamSpec) -> Result<Stream, StoreError> {
    let name = spec.name;
    match js.get_stream(name).await {
        Ok(stream) => {
            debug!(stream = name, "{} exists; checking its settings", spec.what);
            verified(stream, spec)
        }
        Err(err) => match err.kind() {
            GetStreamErrorKind::JetStream(js_err) if js_err.error_code() == ErrorCode::STREAM_NOT_FOUND => {
                create(js, spec).await
            }
            GetStreamErrorKind::Request => Err(StoreError::with_source(
                StoreErrorKind::Unavailable,
                format!("could not look up stream {name}"),
                err,
            )),
            _ => {
                Err(StoreError::with_source(StoreErrorKind::JetStream, format!("could not look up stream {name}"), err))
            }
        },
    }
}

async fn create(js: &Context, spec: &StreamSpec) -> Result<Stream, StoreError> {
    let name = spec.name;
    match js.create_stream(spec.config.clone()).await {
        Ok(stream) => {
            info!(stream = name, replicas = spec.replicas, "created {}", spec.what);
            // Check what the server actually stored: an older server ignores
            // settings it does not know instead of refusing them.
            verified(stream, spec)
        }
        Err(err) => match err.kind() {
            // Another process created it between our lookup and our create,
            // with a different config: judge that one like any existing stream.
            CreateStreamErrorKind::JetStream(js_err) if js_err.error_code() == ErrorCode::STREAM_NAME_EXIST => {
                let stream = js.get_stream(name).await.map_err(|err| {
                    StoreError::with_source(
                        StoreErrorKind::JetStream,
                        format!("stream {name} was created concurrently but cannot be read"),
                        err,
                    )
                })?;
                verified(stream, spec)
            }
            CreateStreamErrorKind::TimedOut | CreateStreamErrorKind::JetStreamUnavailable => Err(
                StoreError::with_source(StoreErrorKind::Unavailable, format!("could not create stream {name}"), err),
            ),
            _ => {
                Err(StoreError::with_source(StoreErrorKind::JetStream, format!("could not create stream {name}"), err))
            }
        },
    }
}

fn verified(stream: Stream, spec: &StreamSpec) -> Result<Stream, StoreError> {
    let mismatches = (spec.check)(&stream.cached_info().config);
    if mismatches.is_empty() {
        Ok(stream)
    } else {
        Err(StoreError::stream_mismatch(spec.name, mismatches))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_subject_is_prefix_dot_hyphenated_uuid() {
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        assert_eq!(case_subject(&id), "stod.events.case.01900000-0000-7000-8000-000000000001");
    }

    #[test]
    fn our_own_config_passes_our_own_check() {
        assert_eq!(check_stream_config(&stream_config(&EventLogConfig::default())), vec![]);
    }

    #[test]
    fn loosened_protection_is_reported_setting_by_setting() {
        let mut config = stream_config(&EventLogConfig::default());
        config.deny_delete = false;
        config.max_age = Duration::from_secs(3600);
        config.storage = StorageType::Memory;
        let settings: Vec<&str> = check_stream_config(&config).iter().map(|m| m.setting).collect();
        assert_eq!(settings, vec!["storage", "deny_delete", "max_age"]);
    }

    #[test]
    fn oversized_message_limit_is_capped() {
        let cfg = EventLogConfig { max_message_bytes: u32::MAX, ..EventLogConfig::default() };
        assert_eq!(stream_config(&cfg).max_message_size, i32::MAX);
    }
}
