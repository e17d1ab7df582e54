//! Benchmarks of stod against a real `nats-server`.
//!
//! # `stod-bench write`
//!
//! How fast does the durable write path go, and what does stod cost on top of
//! JetStream itself? One run answers both on the same server, the same disk
//! and the same settings:
//!
//! ```text
//! cargo run --release -p stod-bench -- write                  # a table
//! cargo run --release -p stod-bench -- write --commands 5000 --concurrency 1,4,16,64
//! cargo run --release -p stod-bench -- write --json           # for scripts
//! ```
//!
//! It starts its own `nats-server` (the pinned one: set `STOD_NATS_SERVER`, or
//! run `scripts/install-nats-server`) on a free port with a fresh store dir and
//! `sync_interval: always`, so every ack means "fsynced", as in production.
//! Then, for each concurrency level C:
//!
//! - **raw**: C tasks publish event-sized payloads to a second stream,
//!   `BENCH_RAW`, which has exactly the production stream's settings. Each
//!   task writes to its own per-case subjects, awaits every ack, and sends the
//!   headers the command path sends (`Nats-Msg-Id`, `Nats-Expected-Stream`,
//!   `Nats-Expected-Last-Subject-Sequence`). This is the floor: what any writer
//!   of a durable, deduplicated, optimistically-locked log pays.
//! - **stod**: the command service runs in this process, and C client tasks
//!   submit real commands through `stod-client`: per case an intake (the
//!   participant index: a key-value read and a compare-and-set write) and
//!   then a placement, an assessment and a second placement (served from the
//!   case cache). Latency is from request to the accepted reply; any other
//!   reply aborts the run.
//!
//! `--instances 2` runs two command-service instances in the queue group, as
//! production may; each then learns of the other's appends only by losing a
//! race on the case, so the cached-case path turns into conflict-and-reload.
//! `--no-sync` turns fsync off to show what it costs (never how production
//! runs). `--store-dir` puts the server's data on the disk you mean to measure.
//!
//! Both record every operation's latency in an HDR histogram. Each level
//! starts with a short warm-up that is not measured. The table shows
//! throughput, p50 and p99 for both, and stod's throughput as a share of
//! raw's.
//!
//! What it measures is the whole machine: nats-server, the command service and
//! the clients share its cores, as they would on a one-box deployment. Figures
//! from a 2-core machine say little about a big one; the ratio says more.
//!
//! This is a benchmark, not a test: nothing here runs under `cargo test`
//! except unit tests of the pure helpers.
//!
//! # Layout
//!
//! - [`write`](mod@write): [`write::WriteBench`]: the server, both streams, the command
//!   service, and one measured level at a time.
//! - [`raw`] and [`command_path`]: the two workloads.
//! - [`workload`]: the commands a case worker would send, and how work is split
//!   between tasks.
//! - [`latency`]: the histogram and its summary.
//! - [`report`]: the table a person reads.
//! - [`error`]: [`BenchError`], why a run stopped.

pub mod command_path;
pub mod error;
pub mod latency;
pub mod raw;
pub mod report;
pub mod workload;
pub mod write;

pub use error::BenchError;
