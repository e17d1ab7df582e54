//! `stod-bench`: benchmarks of stod against a real nats-server. See the crate
//! docs (`src/lib.rs`) for what each one measures.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use stod_bench::report;
use stod_bench::write::{GroupTuning, WriteBench, WriteOptions, WriteReport};

#[derive(Parser)]
#[command(name = "stod-bench", about = "Benchmarks of stod against a real nats-server")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// The durable write path: raw JetStream publishes and stod commands, side by side.
    Write(WriteArgs),
}

#[derive(clap::Args)]
struct WriteArgs {
    /// Measured operations per concurrency level, for each path.
    #[arg(long, default_value_t = WriteOptions::default().commands)]
    commands: usize,
    /// Concurrency levels: how many tasks write at once.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    concurrency: Vec<usize>,
    /// Unmeasured operations before each measured phase.
    #[arg(long, default_value_t = WriteOptions::default().warmup)]
    warmup: usize,
    /// Size of a raw baseline message in bytes.
    #[arg(long, default_value_t = WriteOptions::default().payload_bytes)]
    payload_bytes: usize,
    /// Command-service instances sharing the load (a queue group), as in production.
    #[arg(long, default_value_t = WriteOptions::default().instances)]
    instances: usize,
    /// Do not fsync before acking (NOT how production runs; only to see what fsync costs).
    #[arg(long)]
    no_sync: bool,
    /// Also measure stod with group commit on, beside stod without it, and raw atomic
    /// batches (the server's ceiling for group commit).
    #[arg(long)]
    group_commit: bool,
    /// Group commit: groups smaller than this go as single appends until costs are learnt.
    #[arg(long, requires = "group_commit")]
    group_min_batch: Option<usize>,
    /// Group commit: the most events in one batch.
    #[arg(long, requires = "group_commit")]
    group_max_batch: Option<usize>,
    /// Group commit: groups in flight at once per instance.
    #[arg(long, requires = "group_commit")]
    group_in_flight: Option<usize>,
    /// Group commit: microseconds a group waits for company once it has some.
    #[arg(long, requires = "group_commit")]
    group_window_us: Option<u64>,
    /// Group commit: let --group-min-batch alone decide (no learning from measured times).
    #[arg(long, requires = "group_commit")]
    group_fixed: bool,
    /// Directory under which to put the server's temporary store dir (default: the system temp dir).
    #[arg(long)]
    store_dir: Option<PathBuf>,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
    /// Figures of the PostgreSQL peer measured on this machine in the same run, as
    /// `scripts/bench-peer-postgres` writes them ("C appends_per_s p99_ms" per line):
    /// printed beside stod's, with the ratio.
    #[arg(long)]
    peer: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    match Cli::parse().command {
        Bench::Write(args) => write(args).await,
    }
}

async fn write(args: WriteArgs) -> anyhow::Result<()> {
    let options = WriteOptions {
        commands: args.commands,
        concurrency: args.concurrency,
        warmup: args.warmup,
        payload_bytes: args.payload_bytes,
        instances: args.instances,
        sync_always: !args.no_sync,
        group_commit: args.group_commit,
        group: GroupTuning {
            min_batch: args.group_min_batch,
            max_batch: args.group_max_batch,
            in_flight: args.group_in_flight,
            window_us: args.group_window_us,
            fixed: args.group_fixed,
        },
        store_dir: args.store_dir,
    };
    let mut bench = WriteBench::start(options.clone()).await.context("starting the write benchmark")?;
    let mut out = std::io::stdout().lock();
    if !args.json {
        writeln!(out, "{}\n\n{}", report::header(bench.header()), report::table_header())?;
    }
    let mut levels = Vec::new();
    for &concurrency in &options.concurrency {
        let level = bench.level(concurrency).await.with_context(|| format!("at concurrency {concurrency}"))?;
        if !args.json {
            writeln!(out, "{}", report::table_row(&level))?;
            out.flush()?;
        }
        levels.push(level);
    }
    let header = bench.header().clone();
    let footer = bench.finish().await.context("finishing the write benchmark")?;
    if args.json {
        let report = WriteReport { header, levels, footer };
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(out, "\nstod latency by command\n{}", report::breakdown_header())?;
        for level in &levels {
            writeln!(out, "{}", report::breakdown_row(level))?;
        }
        if options.group_commit {
            writeln!(
                out,
                "\ngroup commit: how it sent (measured phase), and raw atomic batches of C messages, one at a time\n{}",
                report::group_header()
            )?;
            for level in &levels {
                writeln!(out, "{}", report::group_row(level))?;
            }
        }
        writeln!(out, "\n{}", report::footer(&footer))?;
        if let Some(path) = &args.peer {
            peer_table(&mut out, path, &levels)?;
        }
    }
    Ok(())
}

/// stod beside the PostgreSQL peer at each concurrency both measured.
fn peer_table(
    out: &mut impl std::io::Write,
    path: &std::path::Path,
    levels: &[stod_bench::write::Level],
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let peer: Vec<(usize, f64, f64)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect();
    if peer.is_empty() {
        writeln!(out, "\nthe PostgreSQL peer: not measured in this run (see above)")?;
        return Ok(());
    }
    writeln!(
        out,
        "\nstod against the PostgreSQL peer (event table, per-stream version, synchronous_commit=on), same run"
    )?;
    writeln!(
        out,
        "{:>6} {:>12} {:>10} {:>12} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "C", "peer/s", "peer p99", "stod/s", "stod p99", "group/s", "group p99", "stod/peer", "group/peer"
    )?;
    for (c, rate, p99) in peer {
        let Some(l) = levels.iter().find(|l| l.concurrency == c) else { continue };
        let group = l.stod_group.as_ref();
        writeln!(
            out,
            "{c:>6} {rate:>12.0} {p99:>10.2} {:>12.0} {:>10.2} {:>12} {:>10} {:>10.2} {:>10}",
            l.stod.per_second,
            l.stod.p99_ms,
            group.map_or("-".into(), |g| format!("{:.0}", g.per_second)),
            group.map_or("-".into(), |g| format!("{:.2}", g.p99_ms)),
            l.stod.per_second / rate.max(1.0),
            group.map_or("-".into(), |g| format!("{:.2}", g.per_second / rate.max(1.0))),
        )?;
    }
    Ok(())
}
