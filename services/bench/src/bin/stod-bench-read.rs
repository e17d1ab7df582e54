//! Benchmark of stod's read side against a real nats-server, with the raw JetStream
//! figure measured in the same run beside each:
//!
//! - rebuild of every read model from N events (events/s, peak memory of the
//!   projector process) next to a raw ordered-consumer read of the same stream;
//! - audit verify and replay of the same N events (events/s);
//! - report queries over NATS: the first and repeated answers, and each report asked
//!   right after a new event reached the read models (nothing cached), p50/p99/max;
//! - append-to-visible lag (p50/p99) at a steady rate of commands, three runs;
//! - a full backup of the N events through the command service (`stod backup`), its
//!   offline check (`stod backup verify`) and a restore into a new data directory
//!   (`stod restore`: check, write at the same sequences, compare, rebuild).
//!
//! Not a test: it prints figures. `cargo run --release -p stod-bench --bin
//! stod-bench-read -- --events 1000000`. The events are made by the demo generator
//! and published straight to the stream (with fsync off while loading: the load is
//! not what is measured); the lag part uses the real command path with fsync on.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use stod_events::ids::Date;
use stod_nats_server::NatsServer;
use stod_projector::ProjectorOptions;
use stod_store::{EventLogConfig, EventStore};
use stod_system::{Nats, System};

#[derive(Debug)]
struct Args {
    events: u64,
    lag_rate: u64,
    lag_seconds: u64,
    /// Only the raw read and the rebuild, this many times each (for profiling the
    /// rebuild without the rest of the bench).
    only_rebuild: Option<u32>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args { events: 1_000_000, lag_rate: 200, lag_seconds: 15, only_rebuild: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().context("a value after the flag");
        match flag.as_str() {
            "--events" => a.events = value()?.parse()?,
            "--lag-rate" => a.lag_rate = value()?.parse()?,
            "--lag-seconds" => a.lag_seconds = value()?.parse()?,
            "--only-rebuild" => a.only_rebuild = Some(value()?.parse()?),
            "--child-projector" => {
                // Internal: the projector in its own process, so its memory is its own.
                let (url, dir, until) = (value()?, value()?, value()?.parse()?);
                child_projector(&url, &dir, until)?;
                std::process::exit(0);
            }
            "-h" | "--help" => {
                println!("stod-bench-read [--events N (1000000)] [--lag-rate CMDS_PER_S (200)] [--lag-seconds S (15)] [--only-rebuild ROUNDS]");
                std::process::exit(0);
            }
            other => bail!("unknown flag {other}; see --help"),
        }
    }
    Ok(a)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Runs a projector on an empty store until it has folded `until` events; prints
/// "seconds peak_mib".
fn child_projector(url: &str, dir: &str, until: u64) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let client = async_nats::connect(url).await?;
        let started = Instant::now();
        let projector = stod_projector::start(client, ProjectorOptions::new(dir)).await?;
        projector.wait_for(until).await?;
        let secs = started.elapsed().as_secs_f64();
        println!("{secs} {}", peak_rss_mib());
        projector.shutdown().await;
        anyhow::Ok(())
    })
}

/// A raw ordered-consumer read of the whole stream: the ceiling for any reader.
async fn raw_read(store: &EventStore, n: u64) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let mut count = 0u64;
    store
        .read_raw(1, |_| {
            count += 1;
        })
        .await?;
    let raw = t.elapsed();
    if count != n {
        bail!("raw read saw {count} of {n} events");
    }
    Ok(raw)
}

/// A rebuild of every read model from the whole stream in its own process (so that
/// its memory is its own): seconds, peak MiB.
fn rebuild_in_child(server: &NatsServer, store_dir: &std::path::Path, n: u64) -> anyhow::Result<(f64, f64)> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["--child-projector", &server.url(), &store_dir.display().to_string(), &n.to_string()])
        .output()?;
    if !out.status.success() {
        bail!("projector process failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let mut parts = line.split_whitespace();
    let secs: f64 = parts.next().context("seconds")?.parse()?;
    let peak: f64 = parts.next().context("peak")?.parse()?;
    Ok((secs, peak))
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn main() -> anyhow::Result<()> {
    // What the projectors say (RUST_LOG=info shows how long a start's model took).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let args = args()?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    println!("stod read-path benchmark");
    println!("  reproduce: cargo run --release -p stod-bench --bin stod-bench-read -- --events {} --lag-rate {} --lag-seconds {}", args.events, args.lag_rate, args.lag_seconds);
    println!(
        "  machine: {} cores; nats-server: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        stod_nats_server::locate_binary().map(|p| p.display().to_string()).unwrap_or_default()
    );

    // ---- load N events ----------------------------------------------------------
    let today = Date::from_ymd(2026, 11, 27).context("date")?;
    let participants = (args.events / 8).max(1) as u32;
    let t = Instant::now();
    let mut events = Vec::new();
    let mut seed = 1;
    while (events.len() as u64) < args.events {
        let subs = stod_demo::generate(&stod_demo::DemoParams {
            participants: participants.min(20_000),
            years: 5,
            seed,
            today,
        });
        events.extend(stod_demo::seal_locally(&subs, today));
        seed += 1;
    }
    events.truncate(args.events as usize);
    println!(
        "  generated {} events ({} bytes on average) in {:.1} s",
        events.len(),
        events.iter().map(|e| e.bytes.len()).sum::<usize>() / events.len().max(1),
        t.elapsed().as_secs_f64()
    );

    let server = NatsServer::ephemeral_with(|o| o.with_sync_always(false)).await?;
    let client = async_nats::connect(server.url()).await?;
    let js = async_nats::jetstream::new(client.clone());
    let store = EventStore::open(js.clone(), &EventLogConfig::default()).await?;
    let t = Instant::now();
    for chunk in events.chunks(512) {
        let mut acks = Vec::with_capacity(chunk.len());
        for e in chunk {
            acks.push(js.publish(stod_store::case_subject(e.event.case_id.as_uuid()), e.bytes.clone().into()).await?);
        }
        for a in acks {
            a.await?;
        }
    }
    let n = events.len() as u64;
    println!("  loaded into JetStream in {:.1} s", t.elapsed().as_secs_f64());
    let bytes: usize = events.iter().map(|e| e.bytes.len()).sum();
    drop(events);

    if let Some(rounds) = args.only_rebuild {
        println!("{:<44} {:>12} {:>10} {:>10}", "round", "raw ev/s", "rebuild", "vs raw");
        for round in 1..=rounds {
            let raw = raw_read(&store, n).await?;
            let dir = tempfile::tempdir()?;
            let (secs, peak) = rebuild_in_child(&server, &dir.path().join("read"), n)?;
            println!(
                "{:<44} {:>12.0} {:>10.0} {:>10.2}   (peak {peak:.0} MiB)",
                round,
                rate(n, raw),
                n as f64 / secs,
                (n as f64 / secs) / rate(n, raw)
            );
        }
        return Ok(());
    }

    // ---- raw ordered-consumer read ---------------------------------------------
    let raw = raw_read(&store, n).await?;

    // ---- rebuild in its own process ---------------------------------------------
    let dir = tempfile::tempdir()?;
    let store_dir = dir.path().join("read");
    let (rebuild_secs, rebuild_peak) = rebuild_in_child(&server, &store_dir, n)?;

    // ---- queries against the rebuilt read models -----------------------------------
    let queries = query_latency(&server, &store_dir, n).await?;

    // ---- audit verify and replay -------------------------------------------------
    let t = Instant::now();
    let mut records = Vec::with_capacity(n as usize);
    store
        .read_raw(1, |m| {
            let case = m
                .subject
                .rsplit('.')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(stod_events::ids::CaseId::from([0; 16]));
            records.push(stod_audit::Record { stream_sequence: m.stream_sequence, subject_case: case, bytes: m.bytes });
        })
        .await?;
    let v = stod_audit::verify(records, 1);
    let verify = t.elapsed();
    if !v.intact() {
        bail!("the benchmark log does not verify: {:?}", &v.findings[..v.findings.len().min(3)]);
    }
    let t = Instant::now();
    let mut decoded = Vec::with_capacity(n as usize);
    store
        .read_raw(1, |m| {
            if let Ok(s) = stod_events::codec::decode(&m.bytes) {
                decoded.push((m.stream_sequence, s.event));
            }
        })
        .await?;
    let at = stod_audit::records_at(decoded.iter().map(|(s, e)| (*s, e)), stod_audit::Cutoff::Sequence(n / 2));
    let journeys: Vec<_> = at.values().map(stod_projections::CaseRecord::journey).collect();
    let report = stod_projections::throughput(&journeys, stod_projections::Period::Year(2025), today);
    let replay = t.elapsed();
    drop(decoded);

    println!();
    println!("{:<44} {:>12} {:>10}", "read side, same stream", "events/s", "vs raw");
    println!(
        "{:<44} {:>12.0} {:>10}",
        format!("raw ordered consumer ({} events, {} MiB)", n, bytes / (1 << 20)),
        rate(n, raw),
        "1.00"
    );
    println!(
        "{:<44} {:>12.0} {:>10.2}",
        format!("rebuild all read models (peak {rebuild_peak:.0} MiB)"),
        n as f64 / rebuild_secs,
        (n as f64 / rebuild_secs) / rate(n, raw)
    );
    println!(
        "{:<44} {:>12.0} {:>10.2}",
        "audit verify (read + every chain)",
        rate(n, verify),
        rate(n, verify) / rate(n, raw)
    );
    println!(
        "{:<44} {:>12.0} {:>10.2}",
        format!("audit replay to seq {} + report", n / 2),
        rate(n, replay),
        rate(n, replay) / rate(n, raw)
    );
    println!("  (replayed report: {} persons in 2025)", report.persons);
    println!();
    println!("{:<44} {:>10} {:>10} {:>10}", format!("queries over NATS, {n} events"), "first ms", "p50 ms", "p99 ms");
    for q in &queries {
        println!("{:<44} {:>10.1} {:>10.2} {:>10.2}", q.name, q.first_ms, q.p50_ms, q.p99_ms);
    }

    // ---- backup, check, restore -------------------------------------------------
    backup_restore(&server, n, rate(n, raw)).await?;

    // ---- queries right after a new event (appends to the stream: last) ----------------
    let (load_ms, fresh) = after_new_event(&server, &store_dir, n, today).await?;
    println!();
    println!("read models made from the stored events when the projector starts: {load_ms:.0} ms");
    println!("{:<44} {:>10} {:>10} {:>10}", "queries right after a new event", "p50 ms", "p99 ms", "max ms");
    for (name, p50, p99, max) in &fresh {
        println!("{name:<44} {p50:>10.2} {p99:>10.2} {max:>10.2}");
    }
    drop(server);

    // ---- append-to-visible lag, 3 runs -------------------------------------------
    println!();
    println!(
        "append-to-visible lag at {} commands/s for {} s (fsync before ack), submit → visible in the read models:",
        args.lag_rate, args.lag_seconds
    );
    for run in 1..=3 {
        lag(&args, run).await?;
    }

    // ---- cold start of `stod up` ---------------------------------------------------
    cold_start()
}

/// Times `stod backup`, `stod backup verify` and `stod restore` of the whole log, as
/// the library calls the CLI makes, and prints them beside the raw read.
async fn backup_restore(server: &NatsServer, n: u64, raw: f64) -> anyhow::Result<()> {
    use stod_system::restore::Stage;
    let system = System::builder(Nats::Existing { url: server.url(), credentials: None })
        .command(stod_command::ServiceOptions::default())
        .start()
        .await?;
    let client = stod_client::ConnectOptions::new(server.url())
        .user(stod_events::ids::UserId::parse("bench-backup")?)
        .connect()
        .await?;
    let dir = tempfile::tempdir()?;
    let backups = dir.path().join("backups");
    let t = Instant::now();
    let taken = stod_backup::take(&client, &backups, None, |_, _, _| {}).await?;
    let take = t.elapsed();
    system.shutdown().await;
    if taken.manifest.logs["events"].messages != n {
        bail!("the backup holds {} of {n} events", taken.manifest.logs["events"].messages);
    }
    let bytes: u64 = taken.manifest.logs.values().map(|p| p.file.bytes).sum();
    let t = Instant::now();
    let checked = stod_backup::check(&backups, |_, _| {})?;
    let check = t.elapsed();
    if !checked.intact() {
        bail!("the backup does not check: {:?}", &checked.describe_sv()[..checked.describe_sv().len().min(3)]);
    }
    drop(checked);
    let target = stod_system::DataDir::new(dir.path().join("restored"));
    let t = Instant::now();
    let mut marks: Vec<(&'static str, Instant)> = Vec::new();
    let restored = stod_system::restore::restore_dir(&backups, None, &target, None, 0, |stage, _, _| {
        let name = match stage {
            Stage::Checking => "check",
            Stage::Writing(_) => "write",
            Stage::Comparing(_) => "compare",
            Stage::Rebuilding => "rebuild",
        };
        if marks.last().map(|(m, _)| *m) != Some(name) {
            marks.push((name, Instant::now()));
        }
    })
    .await?;
    let restore = t.elapsed();
    if restored.checkpoint != n {
        bail!("restored read models at {} of {n}", restored.checkpoint);
    }
    let phase = |name: &str| -> f64 {
        let Some(i) = marks.iter().position(|(m, _)| *m == name) else { return 0.0 };
        let end = marks.get(i + 1).map_or(t + restore, |(_, at)| *at);
        (end - marks[i].1).as_secs_f64()
    };
    println!();
    println!(
        "{:<50} {:>12} {:>10}",
        format!("backup and restore, {n} events ({} MiB)", bytes >> 20),
        "events/s",
        "vs raw"
    );
    for (name, secs) in [
        ("stod backup (full, through the command service)", take.as_secs_f64()),
        ("stod backup verify (offline)", check.as_secs_f64()),
        ("stod restore, all of it", restore.as_secs_f64()),
        ("  of which: check", phase("check")),
        ("  of which: write at the same sequences", phase("write")),
        ("  of which: read back and compare", phase("compare")),
        ("  of which: rebuild the read models", phase("rebuild")),
    ] {
        let r = n as f64 / secs.max(1e-9);
        println!("{name:<50} {r:>12.0} {:>10.2}", r / raw);
    }
    Ok(())
}

/// One query's latency: the first answer and then repeated answers (cached per
/// checkpoint).
struct QueryLatency {
    name: String,
    first_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Opens a projector on the rebuilt store and times report queries from a client, as
/// the dashboard and the CLI ask them.
async fn query_latency(server: &NatsServer, store_dir: &std::path::Path, n: u64) -> anyhow::Result<Vec<QueryLatency>> {
    let client = async_nats::connect(server.url()).await?;
    let system = System::builder(Nats::Existing { url: server.url(), credentials: None })
        .projector(ProjectorOptions::new(store_dir))
        .start()
        .await?;
    system.projector().context("the projector")?.projector().wait_for(n).await?;
    let mut out = Vec::new();
    for (name, query, body) in report_queries() {
        let subject = format!("stod.query.bench.{query}");
        let mut times = Vec::new();
        for round in 0..101 {
            let (ms, v) = if round == 0 {
                first_answer(&client, &subject, &body).await?
            } else {
                ask(&client, &subject, &body, Duration::from_secs(30)).await?
            };
            times.push(ms);
            if v["status"] != "ok" {
                bail!("{subject}: {v}");
            }
        }
        let first = times.remove(0);
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
        out.push(QueryLatency { name: name.to_owned(), first_ms: first, p50_ms: pct(0.5), p99_ms: pct(0.99) });
    }
    system.shutdown().await;
    Ok(out)
}

/// The first answer of a projector just started: it waits for the model made at start
/// (2-3 s at 1M events, 34-38 s at 10M). A "no responders" right after the start
/// should not happen since the service loop makes a round trip after subscribing
/// (decision 0015); should one come, it is retried and the run says so.
async fn first_answer(
    client: &async_nats::Client,
    subject: &str,
    body: &serde_json::Value,
) -> anyhow::Result<(f64, serde_json::Value)> {
    let t = Instant::now();
    let mut no_responders = 0u32;
    loop {
        match ask(client, subject, body, Duration::from_secs(900)).await {
            Err(e)
                if e.downcast_ref::<async_nats::RequestError>()
                    .is_some_and(|r| r.kind() == async_nats::RequestErrorKind::NoResponders)
                    && t.elapsed() < Duration::from_secs(60) =>
            {
                no_responders += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
            Ok((_, v)) => {
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if no_responders > 0 {
                    println!("  ({subject}: \"no responders\" {no_responders} times right after the start; answered after {ms:.0} ms)");
                }
                return Ok((ms, v));
            }
        }
    }
}

/// One report query: how long its answer took (ms), and the answer.
async fn ask(
    client: &async_nats::Client,
    subject: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> anyhow::Result<(f64, serde_json::Value)> {
    let t = Instant::now();
    let reply = stod_client::request_as_subject_user(client, subject, body.to_string().into_bytes(), timeout).await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    Ok((ms, serde_json::from_slice(&reply.payload)?))
}

/// The queries the dashboard and the CLI ask.
fn report_queries() -> [(&'static str, &'static str, serde_json::Value); 7] {
    [
        (
            "published throughput 2025",
            "published-throughput",
            serde_json::json!({ "period": "2025", "today": "2025-12-31" }),
        ),
        (
            "published steering status",
            "published-steering",
            serde_json::json!({ "as_of": "2025-06-30", "previous_meeting": "2025-03-31" }),
        ),
        ("funder's follow-up 2025", "published-funder", serde_json::json!({ "period": "2025" })),
        ("exact throughput 2026 (today)", "throughput", serde_json::json!({ "period": "2026" })),
        ("exact steering status (today)", "steering", serde_json::json!({ "as_of": "2026-11-27" })),
        // Not aggregated: every case walked (docs/decisions/0016), and an access record.
        (
            "caseload of one case worker",
            "caseload",
            serde_json::json!({ "responsible": "anna", "today": "2026-11-27", "limit": 200 }),
        ),
        ("worklist of everyone (2000 cases)", "caseload", serde_json::json!({ "due": true, "today": "2026-11-27" })),
    ]
}

/// Each report asked right after a new event reached the read models, so no answer is
/// cached: (name, p50, p99, max ms); and how long the projector took at start to make
/// its read models from the stored events.
async fn after_new_event(
    server: &NatsServer,
    store_dir: &std::path::Path,
    n: u64,
    today: Date,
) -> anyhow::Result<(f64, Vec<(String, f64, f64, f64)>)> {
    const ROUNDS: usize = 100;
    let extra = stod_demo::seal_locally(
        &stod_demo::generate(&stod_demo::DemoParams { participants: 200, years: 1, seed: 7_777_777, today }),
        today,
    );
    let client = async_nats::connect(server.url()).await?;
    let js = async_nats::jetstream::new(client.clone());
    let t = Instant::now();
    let system = System::builder(Nats::Existing { url: server.url(), credentials: None })
        .projector(ProjectorOptions::new(store_dir))
        .start()
        .await?;
    let projector = system.projector().context("the projector")?.projector();
    projector.wait_for(n).await?;
    // The first answer waits for the model made at start.
    first_answer(&client, "stod.query.bench.published-throughput", &serde_json::json!({ "period": "2025" })).await?;
    let load_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut extra = extra.into_iter();
    let mut out = Vec::new();
    for (name, query, body) in report_queries() {
        let subject = format!("stod.query.bench.{query}");
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            let e = extra.next().context("enough new events")?;
            let ack =
                js.publish(stod_store::case_subject(e.event.case_id.as_uuid()), e.bytes.clone().into()).await?.await?;
            projector.wait_for(ack.sequence).await?;
            let (ms, v) = ask(&client, &subject, &body, Duration::from_secs(30)).await?;
            times.push(ms);
            if v["status"] != "ok" || v["checkpoint"].as_u64() < Some(ack.sequence) {
                bail!("{subject}: not an answer after sequence {}: {v}", ack.sequence);
            }
        }
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
        out.push((name.to_owned(), pct(0.5), pct(0.99), times[times.len() - 1]));
    }
    system.shutdown().await;
    Ok((load_ms, out))
}

/// Time from starting `stod up` on an empty data directory (users, keys, server, stream,
/// services) until it says it is ready; the `stod` binary beside this one.
fn cold_start() -> anyhow::Result<()> {
    use std::io::BufRead as _;
    let stod = std::env::current_exe()?.with_file_name("stod");
    println!();
    if !stod.exists() {
        println!("cold start of stod up: skipped ({} not built; `cargo build --release -p stod`)", stod.display());
        return Ok(());
    }
    let mut times = Vec::new();
    for _ in 0..3 {
        let data = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let t = Instant::now();
        let mut child = std::process::Command::new(&stod)
            .args(["up", "--json", "--no-http", "--port", &port.to_string(), "--data"])
            .arg(data.path())
            .env("STOD_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().context("stdout")?;
        let ready =
            std::io::BufReader::new(stdout).lines().map_while(Result::ok).any(|l| l.contains("\"status\":\"ready\""));
        let took = t.elapsed();
        // SAFETY: kill(2) on our own child; SIGTERM stops it cleanly.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let _ = child.wait();
        if !ready {
            bail!("stod up did not become ready");
        }
        times.push(took.as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!("cold start of stod up (empty data dir, managed nats-server with fsync, users, all services), 3 runs:");
    println!("  median {:.0} ms, slowest {:.0} ms", times[1], times[2]);
    Ok(())
}

async fn lag(args: &Args, run: u64) -> anyhow::Result<()> {
    let server = NatsServer::ephemeral().await?; // fsync before ack, as in production
    let dir = tempfile::tempdir()?;
    let system = System::builder(Nats::Existing { url: server.url(), credentials: None })
        .command(stod_command::ServiceOptions::default())
        .projector(ProjectorOptions::new(dir.path().join("read")))
        .start()
        .await?;
    let projector = system.projector().context("the projector")?.projector();
    projector.wait_for(0).await?;
    let c = stod_client::Client::connect(&server.url(), stod_events::ids::UserId::parse("bench")?).await?;
    let today = Date::from_ymd(2026, 11, 27).context("date")?;
    let subs = stod_demo::generate(&stod_demo::DemoParams {
        participants: (args.lag_rate * args.lag_seconds) as u32 + 10,
        years: 2,
        seed: 2 + run,
        today,
    });
    // Intakes only, each on its own case: independent commands at a steady rate.
    let intakes: Vec<_> = subs
        .into_iter()
        .filter(|s| {
            matches!(
                s.command,
                stod_events::case::Command::Record { action: stod_events::case::Action::Enroll { .. }, .. }
            )
        })
        .collect();
    let total = (args.lag_rate * args.lag_seconds) as usize;
    if intakes.len() < total {
        bail!("not enough generated intakes");
    }
    let mut status = projector.subscribe();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let interval = Duration::from_secs_f64(1.0 / args.lag_rate as f64);
    let sender = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut tasks = Vec::new();
        for s in intakes.into_iter().take(total) {
            ticker.tick().await;
            let (c, tx) = (c.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                let sent = Instant::now();
                if let Ok(a) = c.submit_as(s.submission_id, s.case_id, s.command).await {
                    let _ = tx.send((a.stream_sequence, sent));
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let mut pending: Vec<(u64, Instant)> = Vec::new();
    let mut lags = Vec::new();
    let mut acked = 0;
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                Some(p) => { pending.push(p); acked += 1; }
                None => if pending.is_empty() { break } else { status.changed().await?; }
            },
            changed = status.changed() => { changed?; }
        }
        let checkpoint = status.borrow().checkpoint;
        pending.retain(|(seq, sent)| {
            if *seq <= checkpoint {
                lags.push(sent.elapsed());
                false
            } else {
                true
            }
        });
    }
    sender.await?;
    lags.sort();
    let pct = |p: f64| {
        lags.get(((lags.len() as f64 * p) as usize).min(lags.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!("  run {run}: {acked} commands, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", pct(0.50), pct(0.99), pct(1.0));
    system.shutdown().await;
    Ok(())
}
