//! The fault suite (issue 8): real nats-server processes on loopback, real service
//! processes, SIGKILLs under a sustained load of realistic submissions, a three-node
//! cluster losing a node, a full disk under the read models, and clients that vanish
//! mid-request. Each scenario prints its figures (`--nocapture`) and asserts: nothing
//! acknowledged is lost, nothing is recorded twice, read models equal a clean rebuild.
//!
//! Short form by default (CI); `STOD_FAULTS=long` for more clients, kills and events:
//!
//! ```text
//! cargo test -p stod-tests --test integration faults:: -- --nocapture
//! STOD_FAULTS=long cargo test -p stod-tests --test integration faults:: -- --nocapture --test-threads 1
//! ```
//!
//! Scenarios 1 and 2 also run with group commit on (1g, 2g): the same load and kills,
//! plus the check that atomic batches were really committed.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use stod_events::ids::{CaseId, SubmissionId};
use stod_protocol::CommandRequest;
use stod_tests::faults::*;
use stod_tests::journey::*;
use stod_tests::{demo_events, ensure_event_stream, publish_sealed, read_log, TestNats, TestResult, TestSystem};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::time::{sleep, Instant};

/// The log on a fresh connection to `url(s)` (the test's own may still be reconnecting).
async fn log_at(urls: &[String]) -> TestResult<Vec<stod_store::StoredEvent>> {
    let nats = async_nats::ConnectOptions::new().connect(urls).await?;
    read_log(&async_nats::jetstream::new(nats)).await
}

fn load(participants_short: u32, participants_long: u32, seed: u64) -> Load {
    Load {
        participants: scaled(participants_short, participants_long),
        seed,
        deadline: Duration::from_secs(scaled(60, 300)),
        request_timeout: Duration::from_millis(1000),
    }
}

/// 1. nats-server is SIGKILLed again and again while many clients submit. Every
///    acknowledged submission is in the log exactly once; the unacknowledged ones,
///    retried with the same submission id, end up there once too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_server_sigkilled_under_load() -> TestResult {
    nats_server_sigkilled(false).await
}

/// 1g. The same with group commit on (decision 0010): kills now also hit atomic
///     batches in flight, stored whole or not at all, and the one-by-one resends of
///     refused or unanswered ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_server_sigkilled_under_load_with_group_commit() -> TestResult {
    nats_server_sigkilled(true).await
}

async fn nats_server_sigkilled(group_commit: bool) -> TestResult {
    let started = Instant::now();
    let mut figures = Figures::new(if group_commit {
        "1g. nats-server SIGKILLed under load, group commit"
    } else {
        "1. nats-server SIGKILLed under load"
    });
    let mut system = if group_commit {
        TestSystem::start_with_group_commit(1, group_commit_config()).await?
    } else {
        TestSystem::start().await?
    };
    let urls = vec![system.nats.server.url()];
    figures.clients = scaled(16, 48);
    let kills = scaled(4, 20);
    let load = load(50, 400, 81);
    let progress = Progress::default();
    let clients = clients(&urls, figures.clients).await?;
    let runner = {
        let (load, progress) = (load.clone(), progress.clone());
        tokio::spawn(async move { run_load(clients, &load, progress).await.map_err(|e| e.to_string()) })
    };
    let mut recoveries = Vec::new();
    for k in 0..kills {
        wait_progress(&progress, 30, Duration::from_secs(10)).await;
        if runner.is_finished() {
            break;
        }
        system.nats.server.kill().await?;
        figures.kills += 1;
        // Down for a varying while: sometimes shorter than a request's timeout,
        // sometimes longer.
        sleep(Duration::from_millis(150 + 300 * (k as u64 % 4))).await;
        system.nats.server.restart().await?;
        recoveries.push(tokio::spawn(time_to_progress(progress.clone(), Duration::from_secs(30))));
    }
    let outcome = runner.await??;
    let log = log_at(&urls).await?;
    let check = check_log(&log, &outcome, &HashSet::new());
    figures.add_load(&outcome, &check);
    figures.notes.push(format!("{} submissions never sent (later steps of unresolved cases)", outcome.skipped));
    let mut recovered = Vec::new();
    for r in recoveries {
        recovered.push(r.await?.map_or("-".to_owned(), |d| format!("{} ms", d.as_millis())));
    }
    figures.notes.push(format!("first acknowledgement after each restart: {}", recovered.join(", ")));
    // The instance that served the whole run: it reconnected after each restart, it
    // was never replaced.
    let counts = system.group_commit_counts();
    if let Some(c) = &counts {
        figures.notes.push(describe_group_commit(c));
    }
    figures.seconds = started.elapsed().as_secs_f64();
    figures.print();
    figures.assert_sound();
    assert!(figures.kills > 0 && figures.unknown_outcomes > 0, "the kills hit requests in flight");
    assert_eq!(figures.unresolved, 0, "every submission got a definite answer in the end");
    if group_commit {
        let c = counts.ok_or("group commit was on")?;
        assert!(c.batches > 0, "atomic batches were committed: {c:?}");
        // Every event in the log went through this committer, as part of a stored
        // batch or as a single append: the counts are those of the service that ran.
        assert!(
            c.batched_events + c.single_appends >= figures.events_in_log,
            "{c:?} vs {} events",
            figures.events_in_log
        );
    }
    system.shutdown().await;
    Ok(())
}

/// 2. The command service (two instances, each its own process) and the projector
///    process are SIGKILLed again and again under load. The log holds every
///    acknowledged submission once; the projector, once caught up, equals a clean
///    rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn command_service_and_projector_sigkilled_under_load() -> TestResult {
    command_service_and_projector_sigkilled(false).await
}

/// 2g. The same with group commit on in both command-service processes: a kill drops
///     the groups being gathered and may cut an atomic batch off before its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn command_service_and_projector_sigkilled_under_load_with_group_commit() -> TestResult {
    command_service_and_projector_sigkilled(true).await
}

async fn command_service_and_projector_sigkilled(group_commit: bool) -> TestResult {
    let started = Instant::now();
    let mut figures = Figures::new(if group_commit {
        "2g. command service and projector SIGKILLed under load, group commit"
    } else {
        "2. command service and projector SIGKILLed under load"
    });
    let nats = TestNats::start().await?;
    let url = nats.server.url();
    let dir = tempfile::tempdir()?;
    let mut services: Vec<ChildProcess> = (0..2)
        .map(|i| {
            let mut s = ChildProcess::new(
                env!("CARGO_BIN_EXE_stod-test-command"),
                &[&url],
                &dir.path().join(format!("command-{i}.log")),
            );
            s.set_env(GROUP_COMMIT_ENV, group_commit.then_some("1"));
            s
        })
        .collect();
    for s in &mut services {
        s.start(true).await?;
    }
    let read = dir.path().join("read");
    let read_arg = read.to_string_lossy().into_owned();
    let mut projector = ChildProcess::new(
        env!("CARGO_BIN_EXE_stod-test-projector"),
        &[&url, &read_arg],
        &dir.path().join("projector.log"),
    );
    projector.start(false).await?;

    figures.clients = scaled(16, 48);
    let kills = scaled(8, 40);
    let load = load(80, 400, 82);
    let progress = Progress::default();
    let clients = clients(std::slice::from_ref(&url), figures.clients).await?;
    let runner = {
        let (load, progress) = (load.clone(), progress.clone());
        tokio::spawn(async move { run_load(clients, &load, progress).await.map_err(|e| e.to_string()) })
    };
    let (mut service_kills, mut projector_kills) = (0, 0);
    for k in 0..kills {
        wait_progress(&progress, 10, Duration::from_secs(10)).await;
        if runner.is_finished() {
            break;
        }
        let pause = Duration::from_millis(100 + 150 * (k as u64 % 3));
        // Cycle: one instance, the other, the projector, both instances at once.
        match k % 4 {
            i @ (0 | 1) => {
                services[i as usize].kill().await?;
                service_kills += 1;
                sleep(pause).await;
                services[i as usize].start(true).await?;
            }
            2 => {
                projector.kill().await?;
                projector_kills += 1;
                sleep(pause).await;
                projector.start(false).await?;
            }
            _ => {
                for s in &mut services {
                    s.kill().await?;
                    service_kills += 1;
                }
                sleep(pause).await;
                for s in &mut services {
                    s.start(true).await?;
                }
            }
        }
    }
    figures.kills = service_kills + projector_kills;
    let outcome = runner.await??;
    let log = read_log(&nats.js).await?;
    let check = check_log(&log, &outcome, &HashSet::new());
    figures.add_load(&outcome, &check);

    // The projector catches up undisturbed, then is killed once more before its
    // store is compared with a clean rebuild.
    if !projector.is_running() {
        projector.start(false).await?;
    }
    wait_caught_up(&nats.client, log.len() as u64, Duration::from_secs(90)).await?;
    sleep(Duration::from_millis(500)).await;
    projector.kill().await?;
    for s in &mut services {
        s.kill().await?;
    }
    let (equal, checkpoint) = compare_with_clean_rebuild(&read, &log)?;
    figures.digests_equal = Some(equal);
    figures.notes.push(format!(
        "read models compared at their checkpoint after the last SIGKILL: {checkpoint} of {}",
        log.len()
    ));
    figures.notes.push(format!("{service_kills} command-service kills, {projector_kills} projector kills"));
    // What each process reported before it died, over all starts of both instances.
    let reported: Vec<_> = services.iter().map(|s| reported_group_commit(&s.log_text())).collect();
    let starts: u32 = reported.iter().map(|r| r.0).sum();
    let counts = reported.iter().map(|r| r.1).sum();
    if group_commit {
        figures
            .notes
            .push(format!("{} (as reported by {starts} processes before their kills)", describe_group_commit(&counts)));
    }
    figures.seconds = started.elapsed().as_secs_f64();
    figures.print();
    figures.assert_sound();
    assert!(figures.kills > 0, "kills happened during the load");
    assert_eq!(figures.unresolved, 0, "every submission got a definite answer in the end");
    if group_commit {
        assert_eq!(starts, 2 + service_kills, "every command-service process ran with group commit");
        assert!(counts.batches > 0, "atomic batches were committed: {counts:?}");
    } else {
        assert_eq!(starts, 0, "group commit was off");
    }
    Ok(())
}

/// 3. A three-node cluster, the stream with three replicas. Under load the stream's
///    leader is SIGKILLed and restarted: writes go on through the other two, nothing
///    acknowledged is lost, and afterwards every node holds the same messages up to
///    the same last sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_node_sigkilled_under_load() -> TestResult {
    let started = Instant::now();
    let mut figures = Figures::new("3. three-node cluster, a node SIGKILLed under load");
    let mut cluster = Cluster::start(3).await?;
    let urls = cluster.urls();
    let mut options = stod_command::ServiceOptions::default();
    options.log.replicas = 3;
    // JetStream on a cluster answers once its meta group has elected a leader.
    let mut services = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while services.len() < 2 {
        let conn = async_nats::ConnectOptions::new().retry_on_initial_connect().connect(urls.as_slice()).await?;
        match stod_command::start(conn, options.clone()).await {
            Ok(s) => services.push(s),
            Err(e) if Instant::now() < deadline => {
                eprintln!("cluster not ready yet: {e}");
                sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let admin = async_nats::ConnectOptions::new().retry_on_initial_connect().connect(urls.as_slice()).await?;
    let js = async_nats::jetstream::new(admin);
    let info = js.get_stream(stod_store::STREAM_NAME).await?.info().await?.clone();
    assert_eq!(info.config.num_replicas, 3);

    figures.clients = scaled(8, 32);
    let kills = scaled(1, 4);
    let load = load(25, 200, 83);
    let progress = Progress::default();
    let clients = clients(&urls, figures.clients).await?;
    let runner = {
        let (load, progress) = (load.clone(), progress.clone());
        tokio::spawn(async move { run_load(clients, &load, progress).await.map_err(|e| e.to_string()) })
    };
    let mut acked_while_down = Vec::new();
    for _ in 0..kills {
        wait_progress(&progress, 30, Duration::from_secs(15)).await;
        if runner.is_finished() {
            break;
        }
        let leader = stream_leader(&js).await?;
        let node = cluster.index_of(&leader).ok_or("leader is not one of ours")?;
        cluster.nodes[node].kill().await?;
        figures.kills += 1;
        let before = progress.load(Ordering::Relaxed);
        sleep(Duration::from_millis(1500)).await;
        wait_progress(&progress, 10, Duration::from_secs(10)).await;
        acked_while_down.push(progress.load(Ordering::Relaxed) - before);
        cluster.nodes[node].restart().await?;
        wait_replicas_current(&js, Duration::from_secs(30)).await?;
    }
    let outcome = runner.await??;
    let log = log_at(&urls).await?;
    let check = check_log(&log, &outcome, &HashSet::new());
    figures.add_load(&outcome, &check);

    // Every node's own copy: same state, same messages.
    let last = log.len() as u64;
    let states = wait_replicas_equal(&cluster, last, Duration::from_secs(30)).await?;
    let mut contents = Vec::new();
    for url in &urls {
        contents.push(content_via(url, last).await?);
    }
    let same_everywhere = states.windows(2).all(|w| w[0] == w[1]) && contents.windows(2).all(|w| w[0] == w[1]);
    figures.notes.push(format!("acknowledged while the killed node was down: {acked_while_down:?}"));
    figures.notes.push(format!(
        "per-node state (messages, bytes, last seq): {:?}",
        states.iter().map(|s| (s.messages, s.bytes, s.last_seq)).collect::<Vec<_>>()
    ));
    figures.notes.push(format!("messages read via each node equal: {}", contents.windows(2).all(|w| w[0] == w[1])));
    figures.seconds = started.elapsed().as_secs_f64();
    figures.print();
    figures.assert_sound();
    assert!(acked_while_down.iter().all(|n| *n > 0), "writes continued with a node down: {acked_while_down:?}");
    assert!(same_everywhere, "every node holds the same stream: {states:?}");
    assert!(states.iter().all(|s| s.last_seq == last && s.messages == last));
    assert_eq!(figures.unresolved, 0, "every submission got a definite answer in the end");
    for s in services {
        s.shutdown().await;
    }
    Ok(())
}

async fn stream_leader(js: &async_nats::jetstream::Context) -> TestResult<String> {
    let info = js.get_stream(stod_store::STREAM_NAME).await?.info().await?.clone();
    Ok(info.cluster.and_then(|c| c.leader).ok_or("no stream leader")?)
}

/// Until the stream has a leader and both other replicas are current, or `within`.
async fn wait_replicas_current(js: &async_nats::jetstream::Context, within: Duration) -> TestResult {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Ok(mut stream)) =
            tokio::time::timeout(Duration::from_secs(2), js.get_stream(stod_store::STREAM_NAME)).await
        {
            if let Ok(Ok(info)) = tokio::time::timeout(Duration::from_secs(2), stream.info()).await {
                if let Some(c) = &info.cluster {
                    if c.leader.is_some() && c.replicas.len() == 2 && c.replicas.iter().all(|p| p.current && !p.offline)
                    {
                        return Ok(());
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            return Err("the stream's replicas did not become current".into());
        }
        sleep(Duration::from_millis(200)).await;
    }
}

/// Until every node's own replica reports `last` messages and the same state.
async fn wait_replicas_equal(cluster: &Cluster, last: u64, within: Duration) -> TestResult<Vec<ReplicaState>> {
    let deadline = Instant::now() + within;
    loop {
        let mut states = Vec::new();
        for node in 0..cluster.nodes.len() {
            if let Ok(Some(s)) = cluster.replica_state(node, stod_store::STREAM_NAME).await {
                states.push(s);
            }
        }
        let done = states.len() == cluster.nodes.len() && states.iter().all(|s| s.last_seq == last && *s == states[0]);
        if done || Instant::now() >= deadline {
            return Ok(states);
        }
        sleep(Duration::from_millis(200)).await;
    }
}

/// Every message's subject and bytes, read with direct gets through `url` only
/// (direct gets are answered by a replica; nats-server prefers the local one).
async fn content_via(url: &str, last: u64) -> TestResult<Vec<(String, Vec<u8>)>> {
    let nats = async_nats::connect(url).await?;
    let stream = async_nats::jetstream::new(nats).get_stream(stod_store::STREAM_NAME).await?;
    let mut out = Vec::with_capacity(last as usize);
    for seq in 1..=last {
        let msg = stream.direct_get(seq).await?;
        out.push((msg.subject.to_string(), msg.payload.to_vec()));
    }
    Ok(out)
}

/// 4. The disk under the read models fills up (a file-size limit on the projector
///    process): the projector reports a fault and stops folding, nothing is corrupt,
///    and after a restart without the limit it catches up to a clean rebuild's digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_model_disk_full() -> TestResult {
    let started = Instant::now();
    let mut figures = Figures::new("4. disk full under the read models");
    let nats = TestNats::start_fast().await?;
    ensure_event_stream(&nats.js).await?;
    let events = demo_events(scaled(1500, 3000), 84);
    let (first, rest) = events.split_at(events.len() / 8);
    let first_last = publish_sealed(&nats.js, first).await?;
    let dir = tempfile::tempdir()?;
    let read = dir.path().join("read");
    let read_arg = read.to_string_lossy().into_owned();
    let url = nats.server.url();
    let mut projector = ChildProcess::new(
        env!("CARGO_BIN_EXE_stod-test-projector"),
        &[&url, &read_arg],
        &dir.path().join("projector.log"),
    );
    projector.start(false).await?;
    wait_caught_up(&nats.client, first_last, Duration::from_secs(60)).await?;
    projector.kill().await?;
    figures.kills += 1;

    // (a) The disk fills while the projector folds new events: the limit is some
    // room above what the store holds now.
    let room = 1024 * 1024;
    let last = publish_sealed(&nats.js, rest).await?;
    let folding = fill_the_disk(&mut projector, &nats.client, &read, room).await?;
    figures.notes.push(format!("(a) 1 MiB of room: {folding}"));
    figures.kills += 1;
    // (b) Still (nearly) full when it starts again: sled's open needs room too, so
    // this usually fails at start, sometimes a little later while folding.
    let opening = fill_the_disk(&mut projector, &nats.client, &read, 64 * 1024).await?;
    figures.notes.push(format!("(b) 64 KiB of room: {opening}"));
    figures.kills += 1;

    // Space again: it resumes (or rebuilds) and ends where a clean rebuild does.
    projector.set_env("STOD_TEST_FSIZE_LIMIT", None);
    projector.start(false).await?;
    let status = wait_caught_up(&nats.client, last, Duration::from_secs(90)).await?;
    // Past sled's 200 ms flush interval, so the kill usually takes nothing back.
    sleep(Duration::from_millis(500)).await;
    projector.kill().await?;
    let log = read_log(&nats.js).await?;
    let (equal, checkpoint) = compare_with_clean_rebuild(&read, &log)?;
    figures.digests_equal = Some(equal);
    figures.events_in_log = log.len() as u64;
    figures
        .notes
        .push(format!("read models compared at their checkpoint after the last SIGKILL: {checkpoint} of {last}"));
    let damaged = std::fs::read_dir(dir.path())?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains("damaged"));
    figures.notes.push(format!(
        "after the restart: generation {}, checkpoint {}, store moved aside as damaged: {damaged}",
        status.generation, status.checkpoint
    ));
    figures.seconds = started.elapsed().as_secs_f64();
    figures.print();
    figures.assert_sound();
    assert!(!damaged, "a full disk left the store damaged");
    Ok(())
}

/// Restarts the projector with room for `room` more bytes per file above the store's
/// largest file, waits for the fault it reports (status or exit), kills it. Returns
/// what it reported, where.
async fn fill_the_disk(
    projector: &mut ChildProcess,
    nats: &async_nats::Client,
    read: &Path,
    room: u64,
) -> TestResult<String> {
    let limit = largest_file(read)? + room;
    projector.set_env("STOD_TEST_FSIZE_LIMIT", Some(&limit.to_string()));
    let log_before = projector.log_text().len();
    projector.start(false).await?;
    let reported = wait_for_fault(nats, projector, Duration::from_secs(30)).await?;
    projector.kill().await?;
    let stderr = projector.log_text().get(log_before..).unwrap_or_default().to_owned();
    let named = |t: &str| t.contains("File too large") || t.contains("FileTooLarge");
    assert!(named(&reported) || named(&stderr), "the fault names its cause: {reported} / {stderr}");
    let logged = stderr.lines().find(|l| named(l)).map_or(String::new(), |l| format!("; stderr: {}", l.trim()));
    Ok(format!("limit {limit} bytes; {reported}{logged}"))
}

/// The largest file under `dir`.
fn largest_file(dir: &Path) -> TestResult<u64> {
    let mut largest = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        largest = largest.max(if meta.is_dir() { largest_file(&entry.path())? } else { meta.len() });
    }
    Ok(largest)
}

/// Until the projector reports a fault (its status) or its process ends (its exit).
async fn wait_for_fault(
    nats: &async_nats::Client,
    projector: &mut ChildProcess,
    within: Duration,
) -> TestResult<String> {
    let deadline = Instant::now() + within;
    loop {
        let reply = tokio::time::timeout(
            Duration::from_secs(2),
            stod_tests::request(nats, "stod.query.drift.projection-status", "{}"),
        )
        .await;
        if let Ok(Ok(reply)) = reply {
            let status: stod_protocol::ProjectionStatus = serde_json::from_slice(&reply.payload)?;
            if let Some(fault) = status.fault {
                return Ok(format!("status fault at checkpoint {}: {fault}", status.checkpoint));
            }
        }
        if !projector.is_running() {
            return Ok("the projector process exited".to_owned());
        }
        if Instant::now() >= deadline {
            return Err("the projector reported no fault with the disk full".into());
        }
        sleep(Duration::from_millis(100)).await;
    }
}

/// 5. A client sends a command and drops its connection before the reply. The same
///    submission id from a new connection gets a definite answer, and the log holds
///    the submission once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_disconnecting_mid_request() -> TestResult {
    let started = Instant::now();
    let mut figures = Figures::new("5. client disconnects mid-request");
    let system = TestSystem::start().await?;
    let retry = system.client("anna").await?;
    let rounds = scaled(30, 300);
    figures.clients = 1;
    let mut outcome = LoadOutcome::default();
    let mut unanswered_first = 0;
    for round in 0..rounds {
        let (case, sub) = (CaseId::new(), SubmissionId::new());
        let command = at("2025-02-01", intake());
        let body = serde_json::to_vec(&CommandRequest::new(case, sub, command.clone()))?;
        // Three ways to leave: right after writing; once the server has the request
        // (PONG); a moment into its handling.
        let wait = match round % 3 {
            0 => None,
            1 => Some(Duration::ZERO),
            _ => Some(Duration::from_micros(300 * (round as u64 % 7))),
        };
        send_and_vanish(system.nats.server.port(), &body, wait).await?;
        outcome.submitted += 1;
        outcome.unknown_outcomes += 1;
        let accepted = retry.submit_as(sub, case, command).await?;
        if accepted.duplicate {
            outcome.resolved_as_recorded += 1;
        } else {
            unanswered_first += 1;
        }
        outcome.resolved += 1;
        outcome.acknowledged.insert(sub, accepted.event_ids);
    }
    let log = system.log().await?;
    let check = check_log(&log, &outcome, &HashSet::new());
    figures.add_load(&outcome, &check);
    figures.notes.push(format!(
        "{} of {rounds} first requests were recorded before the retry (it was told so); {unanswered_first} were recorded by the retry",
        outcome.resolved_as_recorded
    ));
    figures.seconds = started.elapsed().as_secs_f64();
    figures.print();
    figures.assert_sound();
    assert_eq!(figures.events_in_log, rounds as u64, "each submission once");
    system.shutdown().await;
    Ok(())
}

/// Speaks the NATS protocol by hand: CONNECT, a reply inbox, the request; then closes
/// the socket, without waiting (`None`) or after the server acknowledged the request
/// with PONG plus `Some(pause)`.
async fn send_and_vanish(port: u16, body: &[u8], wait: Option<Duration>) -> TestResult {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let mut reader = BufReader::new(stream);
    let mut info = String::new();
    reader.read_line(&mut info).await?;
    let inbox = format!("_INBOX.vanished.{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::new();
    out.extend_from_slice(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"vanishing client\"}\r\n");
    out.extend_from_slice(format!("SUB {inbox} 1\r\nPUB stod.cmd.anna.record {inbox} {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
    if wait.is_some() {
        out.extend_from_slice(b"PING\r\n");
    }
    reader.get_mut().write_all(&out).await?;
    if let Some(pause) = wait {
        let mut line = String::new();
        while !line.starts_with("PONG") {
            line.clear();
            if tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await?? == 0 {
                break;
            }
        }
        sleep(pause).await;
    }
    // Dropped: the connection closes with the reply still to come.
    Ok(())
}
