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
}

impl EventStore {
    /// Opens the log, creating the stream if needed (and refusing an unsafe one).
    pub async fn open(js: Context, cfg: &EventLogConfig) -> Result<Self, StoreError> {
        let stream = ensure_stream(&js, cfg).await?;
        Ok(Self { js, stream, ack_timeout: Duration::from_secs(5) })
    }

    /// Opens an existing log for reading only: never creates the stream and never
    /// refuses one whose safety settings were loosened. Those are returned instead, so
    /// an auditor can both see them and still verify what the log holds.
    pub async fn open_existing(js: Context) -> Result<(Self, Vec<crate::error::Mismatch>), StoreError> {
        use async_nats::jetstream::context::GetStreamErrorKind;
        let mut stream = js.get_stream(STREAM_NAME).await.map_err(|e| match e.kind() {
            GetStreamErrorKind::JetStream(j) if j.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND => {
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
        Ok((Self { js, stream, ack_timeout: Duration::from_secs(5) }, mismatches))
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

    /// Every event of one case, in order. Empty for a case that does not exist.
    pub async fn load_case(&self, case_id: &CaseId) -> Result<Vec<StoredEvent>, StoreError> {
        let subject = case_subject(case_id.as_uuid());
        let mut events = Vec::new();
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
            let sealed = decode_stored(msg.sequence, &msg.payload)?;
            next = msg.sequence + 1;
            events.push(StoredEvent { stream_sequence: msg.sequence, sealed });
        }
        Ok(events)
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

fn decode_stored(sequence: u64, payload: &[u8]) -> Result<SealedEvent, StoreError> {
    codec::decode(payload).map_err(|e| {
        StoreError::with_source(
            StoreErrorKind::Corrupt,
            format!("stream sequence {sequence} is not a valid event"),
            e,
        )
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
