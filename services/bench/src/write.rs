//! `stod-bench write`: one server, both streams, the command service, and one
//! measured level after another.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, Context};
use serde::Serialize;
use stod_client::{Client, RetryPolicy};
use stod_command::{GroupCommitConfig, GroupCommitCounts, ServiceOptions};
use stod_events::ids::UserId;
use stod_nats_server::{locate_binary, NatsServer, ServerOptions};
use stod_system::{Nats, System};
use tempfile::TempDir;

use crate::latency::Summary;
use crate::workload::payload;
use crate::{command_path, raw, BenchError};

/// What to run. The defaults take well under a minute on two cores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WriteOptions {
    /// Measured operations per level, for each of raw and stod.
    pub commands: usize,
    /// Concurrency levels, each a number of tasks writing at once.
    pub concurrency: Vec<usize>,
    /// Unmeasured operations before each measured phase.
    pub warmup: usize,
    /// Size of a raw baseline message; stod's sealed events are about this big.
    pub payload_bytes: usize,
    /// Command-service instances in the queue group, each on its own connection.
    /// More than one shows what a stale case cache costs: an instance learns of
    /// another's append only by losing a race on the case.
    pub instances: usize,
    /// fsync before every ack, as in production. Off only to see what fsync costs.
    pub sync_always: bool,
    /// Also measure stod with group commit on (decision 0010), beside stod without it,
    /// and raw atomic batches: the server's ceiling for it.
    pub group_commit: bool,
    /// Group commit settings other than the service's defaults.
    pub group: GroupTuning,
    /// Parent of the server's (temporary) store dir; `None` is the system temp dir.
    /// Point it at the disk you want to measure.
    pub store_dir: Option<PathBuf>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            commands: 2000,
            concurrency: vec![1, 16, 64, 256],
            warmup: 200,
            payload_bytes: 200,
            instances: 1,
            sync_always: true,
            group_commit: false,
            group: GroupTuning::default(),
            store_dir: None,
        }
    }
}

impl WriteOptions {
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.commands == 0 {
            return Err(BenchError::Options("--commands must be at least 1".into()));
        }
        if self.concurrency.is_empty() || self.concurrency.contains(&0) {
            return Err(BenchError::Options("--concurrency needs one or more levels, each at least 1".into()));
        }
        if self.instances == 0 {
            return Err(BenchError::Options("--instances must be at least 1".into()));
        }
        Ok(())
    }

    /// The command line that runs this again, with every option spelled out so
    /// a changed default does not silently change what "the same run" means.
    pub fn reproduce_command(&self, nats_server: Option<&str>) -> String {
        let mut cmd = String::new();
        if let Some(binary) = nats_server {
            cmd.push_str(&format!("{}={binary} ", stod_nats_server::BINARY_ENV));
        }
        let levels: Vec<String> = self.concurrency.iter().map(usize::to_string).collect();
        cmd.push_str(&format!(
            "cargo run --release -p stod-bench -- write --commands {} --concurrency {} --warmup {} --payload-bytes {}",
            self.commands,
            levels.join(","),
            self.warmup,
            self.payload_bytes
        ));
        if self.instances != 1 {
            cmd.push_str(&format!(" --instances {}", self.instances));
        }
        if !self.sync_always {
            cmd.push_str(" --no-sync");
        }
        if self.group_commit {
            cmd.push_str(" --group-commit");
        }
        let g = &self.group;
        for (flag, value) in [
            ("--group-min-batch", g.min_batch),
            ("--group-max-batch", g.max_batch),
            ("--group-in-flight", g.in_flight),
            ("--group-window-us", g.window_us.map(|us| us as usize)),
        ] {
            if let Some(value) = value {
                cmd.push_str(&format!(" {flag} {value}"));
            }
        }
        if g.fixed {
            cmd.push_str(" --group-fixed");
        }
        if let Some(dir) = &self.store_dir {
            cmd.push_str(&format!(" --store-dir {}", dir.display()));
        }
        cmd
    }
}

/// Group commit settings for the measured service; `None` keeps the service default
/// ([`GroupCommitConfig::default`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GroupTuning {
    pub min_batch: Option<usize>,
    pub max_batch: Option<usize>,
    pub in_flight: Option<usize>,
    pub window_us: Option<u64>,
    /// `min_batch` alone decides what is batched: no learning from measured times.
    pub fixed: bool,
}

impl GroupTuning {
    pub fn config(&self) -> GroupCommitConfig {
        let mut config = GroupCommitConfig::default();
        if let Some(v) = self.min_batch {
            config.min_batch = v;
        }
        if let Some(v) = self.max_batch {
            config.max_batch = v;
        }
        if let Some(v) = self.in_flight {
            config.in_flight = v;
        }
        if let Some(v) = self.window_us {
            config.window = Duration::from_micros(v);
        }
        config.adapt = !self.fixed;
        config
    }
}

/// What was measured, on what.
#[derive(Clone, Debug, Serialize)]
pub struct Header {
    pub reproduce: String,
    pub nats_server_version: String,
    pub nats_server_binary: String,
    pub sync_always: bool,
    /// Cores this process may use (`available_parallelism`); nats-server shares them.
    pub cores: usize,
    pub store_dir: PathBuf,
    pub options: WriteOptions,
}

/// One concurrency level, both paths.
#[derive(Clone, Debug, Serialize)]
pub struct Level {
    pub concurrency: usize,
    pub raw: Summary,
    pub stod: Summary,
    /// The stod commands that were intakes (participant index) ...
    pub stod_intake: Summary,
    /// ... and those that were not (cached case).
    pub stod_follow_up: Summary,
    /// stod's throughput as a share of raw's.
    pub ratio: f64,
    /// stod with group commit on, when compared (`--group-commit`).
    pub stod_group: Option<Summary>,
    /// Its throughput as a share of raw's.
    pub group_ratio: Option<f64>,
    /// How the group-commit run sent its events (the measured phase only).
    pub group_counts: Option<GroupCommitCounts>,
    /// Raw atomic batches of the size a group could have at this concurrency: the
    /// server's ceiling for group commit.
    pub raw_batch: Option<RawBatch>,
}

/// Raw atomic batches of one message per writer, one batch at a time: what the
/// server gives a perfect grouping of every writer's message, with nothing else on
/// the machine. Several batches in flight at once can do somewhat more (decision 0010).
#[derive(Clone, Debug, Serialize)]
pub struct RawBatch {
    /// Messages per batch.
    pub size: usize,
    /// Per batch latency; `per_second` counts messages.
    pub summary: Summary,
    /// Messages per second as a share of raw per-message publishing's.
    pub ratio: f64,
}

/// What the streams hold at the end, for comparing message sizes.
#[derive(Clone, Debug, Serialize)]
pub struct Footer {
    pub raw: StreamTotals,
    pub stod: StreamTotals,
}

#[derive(Clone, Debug, Serialize)]
pub struct StreamTotals {
    pub stream: String,
    pub messages: u64,
    /// Stored bytes per message: payload, subject and headers as the server counts them.
    pub bytes_per_message: f64,
}

/// The whole run, as `--json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct WriteReport {
    pub header: Header,
    pub levels: Vec<Level>,
    pub footer: Footer,
}

/// A running benchmark: the server, a client for the baseline, the command
/// service and a client for it, each on its own connection.
pub struct WriteBench {
    options: WriteOptions,
    header: Header,
    raw_js: Context,
    payload: Vec<u8>,
    /// The command service's instances, started as `stod up` starts them.
    system: Option<System>,
    client: Client,
    /// Declared before `_store_dir` so that it is dropped (killed) first.
    server: NatsServer,
    /// The server's data; removed when the run ends.
    _store_dir: TempDir,
}

impl WriteBench {
    /// Starts nats-server, creates the baseline stream and starts the command
    /// service (which creates the event stream and its buckets).
    pub async fn start(options: WriteOptions) -> Result<Self, BenchError> {
        options.validate()?;
        let binary = locate_binary()?;
        let mut dir = tempfile::Builder::new();
        dir.prefix("stod-bench-");
        let store_dir = match &options.store_dir {
            Some(parent) => dir.tempdir_in(parent),
            None => dir.tempdir(),
        }
        .map_err(BenchError::StoreDir)?;
        let server = NatsServer::start(
            ServerOptions::new(store_dir.path()).with_sync_always(options.sync_always).with_binary(&binary),
        )
        .await?;

        let raw_nats = async_nats::connect(server.url()).await?;
        let raw_js = jetstream::new(raw_nats.clone());
        raw::create_stream(&raw_js).await?;

        let system = Some(start_system(&server, options.instances, None).await?);

        // All client tasks share one connection, as requests multiplex on it. No
        // retries: a timeout or "unavailable" should end the run, not hide in p99.
        let client_nats = async_nats::connect(server.url()).await?;
        let user = UserId::parse("bench").map_err(|e| BenchError::Options(e.to_string()))?;
        let client = Client::from_nats(client_nats, user).with_retry(RetryPolicy {
            request_timeout: Duration::from_secs(10),
            retries: 0,
            backoff: Duration::from_millis(100),
        });

        let binary_text = binary.display().to_string();
        let header = Header {
            reproduce: options.reproduce_command(Some(&binary_text)),
            nats_server_version: raw_nats.server_info().version,
            nats_server_binary: binary_text,
            sync_always: options.sync_always,
            cores: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            store_dir: store_dir.path().to_owned(),
            options: options.clone(),
        };
        let payload = payload(options.payload_bytes);
        Ok(Self { options, header, raw_js, payload, system, client, server, _store_dir: store_dir })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Warms up, then measures raw, stod, and (if asked) stod with group commit at
    /// `concurrency`.
    pub async fn level(&mut self, concurrency: usize) -> Result<Level, BenchError> {
        let (commands, warmup) = (self.options.commands, self.options.warmup);

        raw::run(&self.raw_js, &self.payload, warmup, concurrency).await?;
        let (latencies, wall) = raw::run(&self.raw_js, &self.payload, commands, concurrency).await?;
        let raw = latencies.summary(wall);

        command_path::run(&self.client, warmup, concurrency).await?;
        let (latencies, wall) = command_path::run(&self.client, commands, concurrency).await?;
        let stod = latencies.all.summary(wall);
        let stod_intake = latencies.intake.summary(wall);
        let stod_follow_up = latencies.follow_up.summary(wall);

        let share = |s: &Summary| if raw.per_second > 0.0 { s.per_second / raw.per_second } else { 0.0 };
        let ratio = share(&stod);
        let (mut stod_group, mut group_ratio, mut group_counts, mut raw_batch) = (None, None, None, None);
        if self.options.group_commit {
            // What the server allows: every writer's message in one batch (as large as a
            // group may be), one batch at a time.
            let size = concurrency.min(self.options.group.config().max_batch).clamp(1, stod_store::MAX_BATCH);
            let client = self.raw_js.client();
            raw::run_batches(&client, &self.payload, warmup, size).await?;
            let (latencies, wall) = raw::run_batches(&client, &self.payload, commands, size).await?;
            let mut summary = latencies.summary(wall);
            summary.per_second = commands as f64 / wall.as_secs_f64();
            raw_batch = Some(RawBatch { size, ratio: share(&summary), summary });

            // The same service with group commit on, in place of the one without (one
            // queue group, so both at once would share the commands).
            self.replace_services(true).await?;
            command_path::run(&self.client, warmup, concurrency).await?;
            let before = self.group_counts();
            let (latencies, wall) = command_path::run(&self.client, commands, concurrency).await?;
            let summary = latencies.all.summary(wall);
            group_ratio = Some(share(&summary));
            stod_group = Some(summary);
            group_counts = Some(self.group_counts() - before);
            self.replace_services(false).await?;
        }
        Ok(Level {
            concurrency,
            raw,
            stod,
            stod_intake,
            stod_follow_up,
            ratio,
            stod_group,
            group_ratio,
            group_counts,
            raw_batch,
        })
    }

    /// What the running instances' committers have done so far.
    fn group_counts(&self) -> GroupCommitCounts {
        let instances = self.system.as_ref().map(System::command).unwrap_or_default();
        instances.iter().filter_map(|s| s.handler().group_commit_counts()).sum()
    }

    async fn replace_services(&mut self, group_commit: bool) -> Result<(), BenchError> {
        if let Some(system) = self.system.take() {
            system.shutdown().await;
        }
        let group = group_commit.then(|| self.options.group.config());
        self.system = Some(start_system(&self.server, self.options.instances, group).await?);
        // The first request right after a restart can find no responder yet (open in
        // issue #11's note): wait until the new service answers, at most 5 s.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.client.reference().await.is_err() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Reads what the streams hold, stops the service and the server, and
    /// removes the store dir.
    pub async fn finish(mut self) -> Result<Footer, BenchError> {
        let raw = totals(&self.raw_js, raw::RAW_STREAM).await?;
        let stod = totals(&self.raw_js, stod_store::STREAM_NAME).await?;
        if let Some(system) = self.system.take() {
            system.shutdown().await;
        }
        self.server.stop().await?;
        Ok(Footer { raw, stod })
    }
}

/// `instances` command-service instances on `server`; `group`: group commit with
/// these settings, or none.
async fn start_system(
    server: &NatsServer,
    instances: usize,
    group: Option<GroupCommitConfig>,
) -> Result<System, BenchError> {
    let options = ServiceOptions {
        group_commit: group.is_some(),
        group_commit_config: group.unwrap_or_default(),
        ..ServiceOptions::default()
    };
    let nats = Nats::Existing { url: server.url(), credentials: None };
    Ok(System::builder(nats).command_instances(options, instances).start().await?)
}

async fn totals(js: &Context, stream: &str) -> Result<StreamTotals, BenchError> {
    let failed =
        |e: &dyn std::fmt::Display| BenchError::StreamInfo { stream: stream.to_owned(), message: e.to_string() };
    let mut handle = js.get_stream(stream).await.map_err(|e| failed(&e))?;
    let state = handle.info().await.map_err(|e| failed(&e))?.state.clone();
    let bytes_per_message = if state.messages > 0 { state.bytes as f64 / state.messages as f64 } else { 0.0 };
    Ok(StreamTotals { stream: stream.to_owned(), messages: state.messages, bytes_per_message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduce_command_spells_out_every_option() {
        let options = WriteOptions { sync_always: false, ..WriteOptions::default() };
        assert_eq!(
            options.reproduce_command(Some("/x/nats-server")),
            "STOD_NATS_SERVER=/x/nats-server cargo run --release -p stod-bench -- write \
             --commands 2000 --concurrency 1,16,64,256 --warmup 200 --payload-bytes 200 --no-sync"
        );
    }

    #[test]
    fn zero_levels_are_refused() {
        let options = WriteOptions { concurrency: vec![1, 0], ..WriteOptions::default() };
        assert!(matches!(options.validate(), Err(BenchError::Options(_))));
    }
}
