//! Any of stod's streams read as stored, undecoded: what the command service relays to
//! auditors (`stod.audit.*`), so they verify the bytes themselves.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::stream::Config;
use async_nats::jetstream::{Context, ErrorCode};
use futures::StreamExt;

use crate::error::{StoreError, StoreErrorKind};

/// One stored message as it is, with its headers when asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub stream_sequence: u64,
    pub subject: String,
    pub bytes: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// Where a stream stands, and its settings.
#[derive(Clone, Debug)]
pub struct StreamState {
    pub first: u64,
    pub last: u64,
    pub messages: u64,
    pub config: Config,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, format!("{what}: {e}"))
}

/// The state of stream `name`; [`StoreErrorKind::NotFound`] when there is none.
pub async fn stream_state(js: &Context, name: &str) -> Result<StreamState, StoreError> {
    let mut stream = js.get_stream(name).await.map_err(|e| match e.kind() {
        GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND => {
            StoreError::new(StoreErrorKind::NotFound, format!("there is no stream {name}"))
        }
        _ => unavailable(&format!("reading stream {name}"), e),
    })?;
    let info = stream.info().await.map_err(|e| unavailable(&format!("reading stream {name}"), e))?;
    Ok(StreamState {
        first: info.state.first_sequence,
        last: info.state.last_sequence,
        messages: info.state.messages,
        config: info.config.clone(),
    })
}

/// The messages of stream `name` from `from` up to `to`, in order, as long as their
/// bytes stay under `max_bytes` (at least one message, when there is one). Empty when
/// `from` is past `to`. With `headers`, each message's headers come along.
pub async fn read_range(
    js: &Context,
    name: &str,
    from: u64,
    to: u64,
    max_bytes: usize,
    headers: bool,
) -> Result<Vec<StoredMessage>, StoreError> {
    let from = from.max(1);
    if from > to {
        return Ok(Vec::new());
    }
    let stream = js.get_stream(name).await.map_err(|e| unavailable(&format!("reading stream {name}"), e))?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: from },
            max_batch: 1000,
            ..Default::default()
        })
        .await
        .map_err(|e| unavailable(&format!("reading stream {name}"), e))?;
    let consumer_name = consumer.cached_info().name.clone();
    let page = if consumer.cached_info().num_pending == 0 {
        Ok(Vec::new())
    } else {
        read_page(consumer, name, to, max_bytes, headers).await
    };
    // An ordered consumer otherwise lingers for its inactive threshold (30 s), and a
    // backup reads thousands of pages in that time: the server counts every one, and
    // refuses new consumers past its limit. Best effort: a leftover still expires.
    let _ = stream.delete_consumer(&consumer_name).await;
    page
}

/// The messages of one page, from an ordered consumer positioned at its first.
async fn read_page(
    consumer: async_nats::jetstream::consumer::Consumer<OrderedConfig>,
    name: &str,
    to: u64,
    max_bytes: usize,
    headers: bool,
) -> Result<Vec<StoredMessage>, StoreError> {
    let mut messages = consumer.messages().await.map_err(|e| unavailable(&format!("reading stream {name}"), e))?;
    let (mut out, mut bytes) = (Vec::new(), 0usize);
    loop {
        let msg = match tokio::time::timeout(Duration::from_secs(10), messages.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(unavailable(&format!("reading stream {name}"), e)),
            Ok(None) => return Err(unavailable(&format!("reading stream {name}"), "the consumer ended early")),
            Err(_) => return Err(unavailable(&format!("reading stream {name}"), "no message arrived in time")),
        };
        let info = msg.info().map_err(|e| unavailable(&format!("reading stream {name}"), e))?;
        let (seq, pending) = (info.stream_sequence, info.pending);
        if seq > to {
            break;
        }
        bytes += msg.payload.len() + msg.subject.len();
        let headers = match (&msg.headers, headers) {
            (Some(map), true) => map
                .iter()
                .flat_map(|(name, values)| values.iter().map(move |v| (name.to_string(), v.as_str().to_owned())))
                .collect(),
            _ => Vec::new(),
        };
        out.push(StoredMessage {
            stream_sequence: seq,
            subject: msg.subject.to_string(),
            bytes: msg.payload.to_vec(),
            headers,
        });
        if seq == to || pending == 0 || bytes >= max_bytes {
            break;
        }
    }
    Ok(out)
}
