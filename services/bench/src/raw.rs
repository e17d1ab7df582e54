//! The floor: plain JetStream publishes to a stream with the production settings.

use std::time::{Duration, Instant};

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::Config;
use async_nats::jetstream::Context;
use stod_store::{stream_config, EventLogConfig};
use uuid::Uuid;

use crate::latency::Latencies;
use crate::workload::{split, JOURNEY_LEN};
use crate::BenchError;

/// The baseline stream, beside `STOD_EVENTS` on the same server.
pub const RAW_STREAM: &str = "BENCH_RAW";
const RAW_PREFIX: &str = "bench.raw";

/// The production stream's config with the baseline's name and subjects, and
/// nothing else changed: file storage, deny delete/purge, the duplicate window,
/// direct gets, atomic publish, and so on.
pub fn raw_stream_config() -> Config {
    Config {
        name: RAW_STREAM.to_owned(),
        description: Some("stod-bench: raw JetStream baseline with the event log's settings".to_owned()),
        subjects: vec![format!("{RAW_PREFIX}.*")],
        ..stream_config(&EventLogConfig::default())
    }
}

pub async fn create_stream(js: &Context) -> Result<(), BenchError> {
    js.create_stream(raw_stream_config()).await.map(drop).map_err(|e| BenchError::RawStream(e.to_string()))
}

/// Publishes `total` messages of `payload` from `concurrency` tasks and
/// returns every publish's latency (send to ack) and the wall time of the
/// whole phase.
pub async fn run(
    js: &Context,
    payload: &[u8],
    total: usize,
    concurrency: usize,
) -> Result<(Latencies, Duration), BenchError> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for count in split(total, concurrency) {
        let (js, payload) = (js.clone(), payload.to_vec());
        tasks.spawn(async move { one_writer(&js, &payload, count).await });
    }
    let mut samples = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        samples.extend(done??);
    }
    // The clock stops before the histogram is built, so building it costs the
    // measurement nothing.
    let wall = started.elapsed();
    let mut all = Latencies::new();
    samples.into_iter().for_each(|latency| all.record(latency));
    Ok((all, wall))
}

/// One writer: `count` publishes, awaited one by one, to its own case subjects,
/// `JOURNEY_LEN` per subject, each naming the subject's last sequence as the
/// command path does.
async fn one_writer(js: &Context, payload: &[u8], count: usize) -> Result<Vec<Duration>, BenchError> {
    let mut latencies = Vec::with_capacity(count);
    let mut subject = String::new();
    let mut last_sequence = 0;
    for i in 0..count {
        if i % JOURNEY_LEN == 0 {
            subject = format!("{RAW_PREFIX}.{}", Uuid::now_v7());
            last_sequence = 0;
        }
        let publish = PublishMessage::build()
            .payload(payload.to_vec().into())
            .message_id(Uuid::now_v7().to_string())
            .expected_stream(RAW_STREAM)
            .expected_last_subject_sequence(last_sequence);
        let failed =
            |e: &dyn std::fmt::Display| BenchError::RawPublish { subject: subject.clone(), message: e.to_string() };
        let start = Instant::now();
        let ack = js.send_publish(subject.clone(), publish).await.map_err(|e| failed(&e))?;
        let ack = ack.await.map_err(|e| failed(&e))?;
        latencies.push(start.elapsed());
        if ack.duplicate {
            return Err(failed(&"acknowledged as a duplicate of an earlier message"));
        }
        last_sequence = ack.sequence;
    }
    Ok(latencies)
}

/// The server's ceiling for group commit: `total` messages as JetStream atomic
/// batches of `batch_size`, one batch at a time, each message with the headers an
/// event carries (message id, expected stream, expected last subject sequence 0 on a
/// fresh subject). Every latency recorded is a whole batch's, from its first publish
/// to the commit's ack; the phase's messages per second is what matters.
pub async fn run_batches(
    client: &async_nats::Client,
    payload: &[u8],
    total: usize,
    batch_size: usize,
) -> Result<(Latencies, Duration), BenchError> {
    let batch_size = batch_size.clamp(1, stod_store::MAX_BATCH);
    let mut latencies = Latencies::new();
    let started = Instant::now();
    let mut sent = 0;
    while sent < total {
        let size = batch_size.min(total - sent);
        let start = Instant::now();
        one_batch(client, payload, size).await?;
        latencies.record(start.elapsed());
        sent += size;
    }
    Ok((latencies, started.elapsed()))
}

async fn one_batch(client: &async_nats::Client, payload: &[u8], size: usize) -> Result<(), BenchError> {
    let batch_id = Uuid::new_v4().simple().to_string();
    for i in 0..size {
        let subject = format!("{RAW_PREFIX}.{}", Uuid::now_v7());
        let failed =
            |e: &dyn std::fmt::Display| BenchError::RawPublish { subject: subject.clone(), message: e.to_string() };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Batch-Id", batch_id.as_str());
        headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
        headers.insert(async_nats::header::NATS_MESSAGE_ID, Uuid::now_v7().to_string().as_str());
        headers.insert(async_nats::header::NATS_EXPECTED_STREAM, RAW_STREAM);
        headers.insert(async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "0");
        if i + 1 < size {
            client
                .publish_with_headers(subject.clone(), headers, payload.to_vec().into())
                .await
                .map_err(|e| failed(&e))?;
        } else {
            headers.insert("Nats-Batch-Commit", "1");
            let reply = client
                .request_with_headers(subject.clone(), headers, payload.to_vec().into())
                .await
                .map_err(|e| failed(&e))?;
            let ack: serde_json::Value = serde_json::from_slice(&reply.payload).map_err(|e| failed(&e))?;
            if ack.get("error").is_some() || ack.get("count").and_then(serde_json::Value::as_u64) != Some(size as u64) {
                return Err(failed(&format!("atomic batch of {size} not stored: {ack}")));
            }
        }
    }
    Ok(())
}
