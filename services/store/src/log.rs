//! Appending events to a case and reading them back.

use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{DirectGetErrorKind, LastRawMessageErrorKind, Stream};
use async_nats::jetstream::Context;
use stod_events::codec;
use stod_events::ids::CaseId;
use stod_events::SealedEvent;

use crate::error::{StoreError, StoreErrorKind};
use crate::quarantine::QuarantineList;
use crate::stream::{case_subject, ensure_stream, EventLogConfig, STREAM_NAME};

/// An event with its place in the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Stream sequence: the global order of the log.
    pub stream_sequence: u64,
    pub sealed: SealedEvent,
}

/// What an append did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub stream_sequence: u64,
    /// JetStream recognised the message id: an earlier attempt of the same submission
    /// was stored, at `stream_sequence`, and nothing new was written.
    pub duplicate: bool,
}

/// The event log on JetStream.
#[derive(Clone)]
pub struct EventStore {
    js: Context,
    stream: Stream,
    ack_timeout: Duration,
    /// Messages an operator set aside, which loading a case passes over.
    quarantine: QuarantineList,
}

impl EventStore {
    /// Opens the log, creating the stream if needed (and refusing an unsafe one).
    pub async fn open(js: Context, cfg: &EventLogConfig) -> Result<Self, StoreError> {
        let stream = ensure_stream(&js, cfg).await?;
        let quarantine = QuarantineList::reader(js.clone());
        Ok(Self { js, stream, ack_timeout: Duration::from_secs(5), quarantine })
    }

    /// Opens an existing log for reading only: never creates the stream and never
    /// refuses one whose safety settings were loosened. Those are returned instead, so
    /// an auditor can both see them and still verify what the log holds.
    pub async fn open_existing(js: Context) -> Result<(Self, Vec<crate::error::Mismatch>), StoreError> {
        use async_nats::jetstream::context::GetStreamErrorKind;
        let mut stream = js.get_stream(STREAM_NAME).await.map_err(|e| match e.kind() {
            GetStreamErrorKind::JetStream(j)
                if j.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND =>
            {
                StoreError::new(StoreErrorKind::NotFound, format!("there is no stream {STREAM_NAME}"))
            }
            _ => StoreError::with_source(StoreErrorKind::Unavailable, format!("reading stream {STREAM_NAME}"), e),
        })?;
        let config = stream
            .info()
            .await
            .map_err(|e| StoreError::with_source(StoreErrorKind::Unavailable, "reading the stream's settings", e))?
            .config
            .clone();
        let mismatches = crate::stream::check_stream_config(&config);
        let quarantine = QuarantineList::reader(js.clone());
        Ok((Self { js, stream, ack_timeout: Duration::from_secs(5), quarantine }, mismatches))
    }

    /// How long an append waits for its acknowledgement before reporting
    /// [`StoreErrorKind::Timeout`].
    pub fn with_ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    pub fn jetstream(&self) -> &Context {
        &self.js
    }

    /// The quarantine list loading a case consults.
    pub fn quarantine(&self) -> &QuarantineList {
        &self.quarantine
    }

    /// Consults `list` (the command service's own, which it writes) when loading.
    pub fn with_quarantine(mut self, list: QuarantineList) -> Self {
        self.quarantine = list;
        self
    }

    /// Every event of one case, in order. Empty for a case that does not exist.
    pub async fn load_case(&self, case_id: &CaseId) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(self.load_case_at(case_id).await?.0)
    }

    /// Every event of one case, in order, and the sequence of the last message under
    /// its subject: the case's last event, or a later message an operator set aside
    /// (an append must name that one). A message that is not an event and is not set
    /// aside is an error of kind [`StoreErrorKind::Corrupt`].
    pub async fn load_case_at(&self, case_id: &CaseId) -> Result<(Vec<StoredEvent>, u64), StoreError> {
        let subject = case_subject(case_id.as_uuid());
        let mut events = Vec::new();
        let mut last = 0;
        let mut next = 1;
        loop {
            let msg = match self.stream.direct_get_next_for_subject(subject.as_str(), Some(next)).await {
                Ok(msg) => msg,
                Err(e) if e.kind() == DirectGetErrorKind::NotFound => break,
                Err(e) => {
                    return Err(StoreError::with_source(
                        StoreErrorKind::Unavailable,
                        format!("reading case {case_id}"),
                        e,
                    ))
                }
            };
            next = msg.sequence + 1;
            last = msg.sequence;
            match decode_stored(msg.sequence, &msg.payload) {
                Ok(sealed) => events.push(StoredEvent { stream_sequence: msg.sequence, sealed }),
                Err(e) => {
                    if self.quarantine.sets_aside(msg.sequence, &msg.payload).await? {
                        continue;
                    }
                    tracing::error!(case = %case_id, sequence = msg.sequence, "{e}: the case cannot be read until an operator sets the message aside (stod projections quarantine)");
                    return Err(e);
                }
            }
        }
        Ok((events, last))
    }

    /// The stream sequence of the case's last event as the stream's leader knows it
    /// (0 for a case without events). Unlike [`load_case`](Self::load_case), whose
    /// direct gets any replica may answer, never behind another writer's append: for
    /// checking that a loaded case is current.
    pub async fn last_sequence_of_case(&self, case_id: &CaseId) -> Result<u64, StoreError> {
        let subject = case_subject(case_id.as_uuid());
        match self.stream.get_last_raw_message_by_subject(&subject).await {
            Ok(msg) => Ok(msg.sequence),
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(0),
            Err(e) => Err(StoreError::with_source(
                StoreErrorKind::Unavailable,
                format!("reading the last event of case {case_id}"),
                e,
            )),
        }
    }

    /// The message at `stream_sequence` as stored, undecoded; `None` when there is none.
    pub async fn raw(&self, stream_sequence: u64) -> Result<Option<RawMessage>, StoreError> {
        match self.stream.direct_get(stream_sequence).await {
            Ok(msg) => {
                Ok(Some(RawMessage { stream_sequence, subject: msg.subject.to_string(), bytes: msg.payload.to_vec() }))
            }
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::with_source(
                StoreErrorKind::Unavailable,
                format!("reading stream sequence {stream_sequence}"),
                e,
            )),
        }
    }

    /// One event by stream sequence.
    pub async fn get(&self, stream_sequence: u64) -> Result<StoredEvent, StoreError> {
        let msg = self.stream.direct_get(stream_sequence).await.map_err(|e| {
            StoreError::with_source(
                StoreErrorKind::Unavailable,
                format!("reading stream sequence {stream_sequence}"),
                e,
            )
        })?;
        Ok(StoredEvent { stream_sequence, sealed: decode_stored(stream_sequence, &msg.payload)? })
    }

    /// Appends one event to its case, if the case's last event is still at
    /// `expected_last` (0 for a new case), with `message_id` for deduplication.
    pub async fn append(
        &self,
        event: &SealedEvent,
        expected_last: u64,
        message_id: &str,
    ) -> Result<Appended, StoreError> {
        let subject = case_subject(event.event.case_id.as_uuid());
        let publish = PublishMessage::build()
            .payload(event.bytes.clone().into())
            .message_id(message_id)
            .expected_stream(STREAM_NAME)
            .expected_last_subject_sequence(expected_last);
        let ack = self.js.send_publish(subject, publish).await.map_err(publish_error)?;
        let ack = tokio::time::timeout(self.ack_timeout, ack)
            .await
            .map_err(|_| StoreError::new(StoreErrorKind::Timeout, "no acknowledgement from JetStream"))?
            .map_err(publish_error)?;
        Ok(Appended { stream_sequence: ack.sequence, duplicate: ack.duplicate })
    }
}

/// One event of an atomic batch: the event, the sequence its case must be at, and the
/// message id that deduplicates it (the submission id).
#[derive(Clone, Copy, Debug)]
pub struct BatchAppend<'a> {
    pub event: &'a SealedEvent,
    pub expected_last: u64,
    pub message_id: &'a str,
}

/// The most events one atomic batch may hold (nats-server's limit).
pub const MAX_BATCH: usize = 1000;

/// What JetStream acknowledges for a committed atomic batch: the sequence of its last
/// message and how many it stored.
#[derive(serde::Deserialize)]
struct BatchAck {
    #[serde(default)]
    error: Option<BatchAckError>,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    count: Option<u64>,
}

#[derive(serde::Deserialize)]
struct BatchAckError {
    #[serde(default)]
    err_code: u64,
    #[serde(default)]
    description: String,
}

/// JetStream's error codes for an atomic batch that we react to.
const ERR_WRONG_LAST_SEQUENCE: u64 = 10071;
const ERR_BATCH_DUPLICATE_MSG_ID: u64 = 10201;

impl EventStore {
    /// Appends events of *different* cases as one JetStream atomic batch: all are
    /// stored, at consecutive stream sequences in the order given, or none is.
    ///
    /// Each event is conditional on its case's last sequence, as with
    /// [`append`](Self::append); one stale expectation rejects the whole batch with
    /// [`StoreErrorKind::Conflict`], and the server does not say which event it was.
    /// A message id JetStream already holds (a retried submission) also rejects the
    /// whole batch, with [`StoreErrorKind::DuplicateInBatch`]: unlike a single append,
    /// a batch gets no "duplicate" answer. Either way nothing was stored, and the
    /// caller isolates the culprit by appending the events one by one.
    ///
    /// More than [`MAX_BATCH`] events, none, or two of one case are
    /// [`StoreErrorKind::Invalid`] and send nothing.
    pub async fn append_batch(&self, batch: &[BatchAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        if batch.is_empty() || batch.len() > MAX_BATCH {
            return Err(StoreError::invalid(format!(
                "an atomic batch holds 1 to {MAX_BATCH} events, not {}",
                batch.len()
            )));
        }
        let mut cases = std::collections::HashSet::with_capacity(batch.len());
        if let Some(twice) = batch.iter().find(|b| !cases.insert(b.event.event.case_id)) {
            return Err(StoreError::invalid(format!(
                "case {} appears twice in one batch; its second event must wait for the first",
                twice.event.event.case_id
            )));
        }
        let client = self.js.client();
        let batch_id = uuid::Uuid::new_v4().simple().to_string();
        let last = batch.len() - 1;
        let mut reply = None;
        for (i, item) in batch.iter().enumerate() {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Batch-Id", batch_id.as_str());
            headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
            headers.insert(async_nats::header::NATS_MESSAGE_ID, item.message_id);
            headers.insert(async_nats::header::NATS_EXPECTED_STREAM, STREAM_NAME);
            headers.insert(
                async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                item.expected_last.to_string().as_str(),
            );
            let subject = case_subject(item.event.event.case_id.as_uuid());
            let payload = item.event.bytes.clone().into();
            if i < last {
                // Not acknowledged one by one: the commit's ack covers the batch.
                client
                    .publish_with_headers(subject, headers, payload)
                    .await
                    .map_err(|e| StoreError::with_source(StoreErrorKind::Unavailable, "sending an atomic batch", e))?;
            } else {
                headers.insert("Nats-Batch-Commit", "1");
                let request = client.request_with_headers(subject, headers, payload);
                reply = Some(
                    tokio::time::timeout(self.ack_timeout, request)
                        .await
                        .map_err(|_| StoreError::new(StoreErrorKind::Timeout, "no acknowledgement of an atomic batch"))?
                        .map_err(|e| {
                            let kind = match e.kind() {
                                async_nats::RequestErrorKind::TimedOut => StoreErrorKind::Timeout,
                                _ => StoreErrorKind::Unavailable,
                            };
                            StoreError::with_source(kind, "committing an atomic batch", e)
                        })?,
                );
            }
        }
        let reply =
            reply.ok_or_else(|| StoreError::new(StoreErrorKind::JetStream, "an atomic batch was not committed"))?;
        let ack: BatchAck = serde_json::from_slice(&reply.payload).map_err(|e| {
            StoreError::with_source(StoreErrorKind::JetStream, "an unreadable acknowledgement of an atomic batch", e)
        })?;
        if let Some(error) = ack.error {
            let kind = match error.err_code {
                ERR_WRONG_LAST_SEQUENCE => StoreErrorKind::Conflict,
                ERR_BATCH_DUPLICATE_MSG_ID => StoreErrorKind::DuplicateInBatch,
                _ => StoreErrorKind::JetStream,
            };
            return Err(StoreError::new(
                kind,
                format!("atomic batch refused ({}: {})", error.err_code, error.description),
            ));
        }
        let count = batch.len() as u64;
        if ack.count != Some(count) || ack.seq < count {
            // Stored, but not as we asked: never guess sequences.
            return Err(StoreError::new(
                StoreErrorKind::JetStream,
                format!("an atomic batch of {count} was acknowledged as {:?} ending at {}", ack.count, ack.seq),
            ));
        }
        // A batch is committed in one piece, so its messages have consecutive
        // sequences ending at the acknowledged one.
        let first = ack.seq + 1 - count;
        Ok((0..count).map(|i| Appended { stream_sequence: first + i, duplicate: false }).collect())
    }
}

fn decode_stored(sequence: u64, payload: &[u8]) -> Result<SealedEvent, StoreError> {
    codec::decode(payload).map_err(|e| {
        StoreError::with_source(StoreErrorKind::Corrupt, format!("stream sequence {sequence} is not a valid event"), e)
    })
}

fn publish_error(e: async_nats::jetstream::context::PublishError) -> StoreError {
    let kind = match e.kind() {
        PublishErrorKind::WrongLastSequence => StoreErrorKind::Conflict,
        PublishErrorKind::TimedOut => StoreErrorKind::Timeout,
        PublishErrorKind::BrokenPipe | PublishErrorKind::StreamNotFound => StoreErrorKind::Unavailable,
        _ => StoreErrorKind::JetStream,
    };
    StoreError::with_source(kind, "appending to the event log", e)
}

/// One stored message as it is, undecoded: what an auditor verifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMessage {
    pub stream_sequence: u64,
    pub subject: String,
    pub bytes: Vec<u8>,
}

impl EventStore {
    /// The stream's last sequence now (0 when empty).
    pub async fn last_sequence(&self) -> Result<u64, StoreError> {
        let mut stream = self.stream.clone();
        let info = stream
            .info()
            .await
            .map_err(|e| StoreError::with_source(StoreErrorKind::Unavailable, "reading the stream's state", e))?;
        Ok(info.state.last_sequence)
    }

    /// Every message from `from` up to the stream's end as it was when called, in
    /// order, handed to `each` one by one (an ordered consumer: no gaps, no
    /// duplicates). Returns the last sequence read.
    pub async fn read_raw(&self, from: u64, mut each: impl FnMut(RawMessage)) -> Result<u64, StoreError> {
        use async_nats::jetstream::consumer::pull::OrderedConfig;
        use async_nats::jetstream::consumer::DeliverPolicy;
        use futures::StreamExt;
        let target = self.last_sequence().await?;
        if target < from.max(1) {
            return Ok(target);
        }
        let unavailable = |e: String| StoreError::new(StoreErrorKind::Unavailable, format!("reading the stream: {e}"));
        let consumer = self
            .stream
            .create_consumer(OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: from.max(1) },
                max_batch: 1000,
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let mut messages = consumer.messages().await.map_err(|e| unavailable(e.to_string()))?;
        let mut last = 0;
        while last < target {
            let msg = match messages.next().await {
                Some(Ok(m)) => m,
                Some(Err(e)) => return Err(unavailable(e.to_string())),
                None => return Err(unavailable("the consumer ended early".into())),
            };
            let info = msg.info().map_err(|e| unavailable(e.to_string()))?;
            last = info.stream_sequence;
            each(RawMessage { stream_sequence: last, subject: msg.subject.to_string(), bytes: msg.payload.to_vec() });
        }
        Ok(last)
    }
}
