//! The projector on a real nats-server and a real sled store: read models that follow
//! the log exactly once, through redelivery, gaps, rebuilds, version changes, damage
//! and SIGKILL.

use std::time::{Duration, Instant};

use stod_events::ids::Date;
use stod_projections::{fold_all, throughput, CaseRecord, Period, ThroughputReport};
use stod_projector::{ProjectorOptions, ReadStore};
use stod_protocol::{ReportReply, ThroughputQuery};
use stod_tests::{demo_events, ensure_event_stream, publish_sealed, read_log, TestNats, TestResult, TestSystem};

fn today() -> Date {
    Date::from_ymd(2025, 12, 31).unwrap()
}

/// The throughput report computed straight from the log, without the projector.
async fn expected_throughput(js: &async_nats::jetstream::Context, period: Period) -> TestResult<ThroughputReport> {
    let log = read_log(js).await?;
    let records = fold_all(log.iter().map(|e| (e.stream_sequence, &e.sealed.event)));
    let journeys: Vec<_> = records.values().map(CaseRecord::journey).collect();
    Ok(throughput(&journeys, period, today()))
}

async fn ask_throughput(client: &async_nats::Client, period: &str) -> TestResult<ReportReply<ThroughputReport>> {
    let body = serde_json::to_vec(&ThroughputQuery { period: period.into(), today: Some(today()) })?;
    let reply = stod_tests::request(client, "stod.query.styrgrupp.throughput", body).await?;
    Ok(serde_json::from_slice(&reply.payload)?)
}

async fn wait_for_checkpoint(projector: &stod_projector::RunningProjector, sequence: u64) -> TestResult {
    tokio::time::timeout(Duration::from_secs(60), projector.wait_for(sequence)).await??;
    Ok(())
}

/// Journeys recorded through the real command path show up in the read models with
/// exactly the figures the pure fold of the log gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_models_follow_the_command_path() -> TestResult {
    let system = TestSystem::start_with_projector().await?;
    let client = system.client("anna").await?;
    let subs = stod_demo::generate(&stod_demo::DemoParams { participants: 25, years: 2, seed: 11, today: today() });
    let report = stod_demo::seed(&client, subs.clone(), 8, |_| {}).await?;
    assert_eq!((report.accepted, report.rejected), (subs.len() as u64, 0), "every demo command accepted");

    let last = read_log(&system.nats.js).await?.len() as u64;
    wait_for_checkpoint(system.projector()?, last).await?;
    for period in ["2024", "2025", "2025-Q3", "2025-06"] {
        let expected = expected_throughput(&system.nats.js, period.parse()?).await?;
        match ask_throughput(&system.nats.client, period).await? {
            ReportReply::Ok { checkpoint, report, .. } => {
                assert_eq!(checkpoint, last);
                assert_eq!(report, expected, "{period}");
            }
            other => panic!("{period}: {other:?}"),
        }
    }
    // Seeding the same demo again records nothing: same submissions.
    let again = stod_demo::seed(&client, subs, 8, |_| {}).await?;
    assert_eq!((again.accepted, again.duplicates), (0, report.accepted));
    system.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_get_a_clear_answer() -> TestResult {
    let nats = TestNats::start().await?;
    ensure_event_stream(&nats.js).await?;
    let dir = tempfile::tempdir()?;
    let service =
        stod_projector::start_service(nats.client.clone(), ProjectorOptions::new(dir.path().join("read"))).await?;
    wait_for_checkpoint(service.projector(), 0).await?;
    for (subject, body) in [
        ("stod.query.anna.throughput", r#"{"period": "2025-13"}"#),
        ("stod.query.anna.throughput", r#"{"period": "last year"}"#),
        ("stod.query.anna.throughput", "not json"),
        ("stod.query.anna.steering", r#"{"as_of": "2025-06-30", "previous_meeting": "2025-07-01"}"#),
        ("stod.query.anna.steering", r#"{"as_of": "30/6/2025"}"#),
        ("stod.query.anna.history", r#"{"case_id": "01900000-0000-7000-8000-00000000cafe"}"#),
    ] {
        let reply = stod_tests::request(&nats.client, subject, body).await?;
        let reply: ReportReply<serde_json::Value> = serde_json::from_slice(&reply.payload)?;
        assert!(matches!(reply, ReportReply::Invalid { .. }), "{subject} {body}: {reply:?}");
    }
    service.shutdown().await;
    Ok(())
}

/// A flood of report queries, each folding every case, is answered in full but never
/// more than `max_in_flight` at a time: the rest wait in NATS instead of each taking a
/// task, a core and its own copy of the figures. (A report folds on its worker thread,
/// so with no bound the threads, 8 here, would be the limit.)
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_flood_of_queries_is_answered_with_a_bounded_number_in_flight() -> TestResult {
    let nats = TestNats::start_fast().await?;
    ensure_event_stream(&nats.js).await?;
    let last = publish_sealed(&nats.js, &demo_events(200, 31)).await?;
    let dir = tempfile::tempdir()?;
    let options = ProjectorOptions { max_in_flight: 2, ..ProjectorOptions::new(dir.path().join("read")) };
    let service = stod_projector::start_service(nats.client.clone(), options).await?;
    wait_for_checkpoint(service.projector(), last).await?;

    // Each query as of another day: no two share a cached answer, so every one folds.
    const FLOOD: u64 = 300;
    let mut asked = tokio::task::JoinSet::new();
    for day in 0..FLOOD {
        let client = nats.client.clone();
        let today = today().naive().checked_sub_days(chrono::Days::new(day)).map(Date::new).expect("a date in range");
        asked.spawn(async move {
            let body = serde_json::to_vec(&ThroughputQuery { period: "2025".into(), today: Some(today) })?;
            let subject = "stod.query.anna.throughput";
            let reply = stod_client::request_as_subject_user(&client, subject, body, Duration::from_secs(60)).await?;
            let reply: ReportReply<serde_json::Value> = serde_json::from_slice(&reply.payload)?;
            Ok::<_, stod_tests::TestError>(matches!(reply, ReportReply::Ok { .. }))
        });
    }
    let mut answered = 0;
    while let Some(result) = asked.join_next().await {
        assert!(result??, "every query of the flood is answered with a report");
        answered += 1;
    }
    assert_eq!(answered, FLOOD);
    let counters = service.counters();
    assert!(counters.handled() >= FLOOD, "{} handled", counters.handled());
    assert!(
        (1..=2).contains(&counters.peak_in_flight()),
        "at most 2 queries in flight at once, saw {}",
        counters.peak_in_flight()
    );
    service.shutdown().await;
    Ok(())
}

/// Redelivered events change nothing, and a gap is refused without writing anything.
#[tokio::test]
async fn redelivery_is_harmless_and_a_gap_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = ReadStore::open(dir.path())?;
    let generation = store.new_generation()?;
    let events: Vec<_> = demo_events(10, 5).into_iter().enumerate().map(|(i, e)| (i as u64 + 1, Some(e))).collect();
    let (first, rest) = events.split_at(events.len() / 2);
    generation.apply(first)?;
    generation.apply(rest)?;
    let digest = generation.digest()?;
    // The whole log again, then a slice of it: nothing changes.
    generation.apply(&events)?;
    generation.apply(&events[3..9])?;
    assert_eq!(generation.digest()?, digest);
    assert_eq!(generation.checkpoint()?, events.len() as u64);

    // A batch that skips a sequence.
    let next = events.len() as u64 + 1;
    let more = demo_events(2, 6);
    let with_gap = vec![(next, Some(more[0].clone())), (next + 2, Some(more[1].clone()))];
    let err = generation.apply(&with_gap).unwrap_err();
    assert!(err.is_gap(), "{err}");
    assert_eq!(generation.digest()?, digest, "nothing written");
    Ok(())
}

/// A rebuild runs beside the live read models: every query during it answers, from the
/// old generation until the swap and from the new one after, never a mix.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queries_keep_answering_during_a_rebuild_and_the_swap_is_atomic() -> TestResult {
    let nats = TestNats::start_fast().await?;
    ensure_event_stream(&nats.js).await?;
    let last = publish_sealed(&nats.js, &demo_events(800, 21)).await?;
    let dir = tempfile::tempdir()?;
    let service =
        stod_projector::start_service(nats.client.clone(), ProjectorOptions::new(dir.path().join("read"))).await?;
    wait_for_checkpoint(service.projector(), last).await?;
    let expected = expected_throughput(&nats.js, Period::Year(2025)).await?;
    let before = service.projector().status().generation;

    let reply = stod_tests::request(&nats.client, "stod.ops.drift.rebuild", "{}").await?;
    let reply: serde_json::Value = serde_json::from_slice(&reply.payload)?;
    assert_eq!(reply["status"], "started", "{reply}");
    let building = reply["generation"].as_u64().expect("generation number");
    let rebuilt = || {
        let s = service.projector().status();
        s.generation == building && s.rebuild.is_none()
    };
    let mut generations = Vec::new();
    let started = Instant::now();
    while !rebuilt() {
        assert!(started.elapsed() < Duration::from_secs(120), "rebuild did not finish");
        match ask_throughput(&nats.client, "2025").await? {
            ReportReply::Ok { generation, report, .. } => {
                assert_eq!(report, expected, "same figures from either generation");
                generations.push(generation);
            }
            other => panic!("a query failed during the rebuild: {other:?}"),
        }
    }
    if let ReportReply::Ok { generation, .. } = ask_throughput(&nats.client, "2025").await? {
        generations.push(generation);
    }
    assert!(generations.len() > 1, "queries ran during the rebuild");
    let after = service.projector().status().generation;
    assert_eq!(after, before + 1);
    // Old generation until the swap, new one after: one switch, never back.
    let switches = generations.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(switches, 1, "{generations:?}");
    assert!(generations.iter().all(|g| *g == before || *g == after));
    assert_eq!(generations.last(), Some(&after));
    service.shutdown().await;
    Ok(())
}

/// A store built by another projection version is rebuilt on start; a damaged store is
/// moved aside and rebuilt from the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_versions_and_damaged_stores_are_rebuilt_from_the_log() -> TestResult {
    let nats = TestNats::start_fast().await?;
    ensure_event_stream(&nats.js).await?;
    let last = publish_sealed(&nats.js, &demo_events(40, 3)).await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("read");
    let service = stod_projector::start_service(nats.client.clone(), ProjectorOptions::new(&path)).await?;
    wait_for_checkpoint(service.projector(), last).await?;
    let first_generation = service.projector().status().generation;
    let digest = ReadStore::digest_of_live(service.projector().store())?;
    service.shutdown().await;

    // Pretend an older projection version built it.
    {
        let db = sled::open(&path)?;
        let live = db.open_tree("meta")?.get("live")?.expect("live generation");
        let number = u64::from_be_bytes(live.as_ref().try_into()?);
        db.open_tree(format!("gen-{number}"))?.insert("\0version", &0u32.to_be_bytes())?;
        db.flush()?;
    }
    let service = stod_projector::start_service(nats.client.clone(), ProjectorOptions::new(&path)).await?;
    wait_for_checkpoint(service.projector(), last).await?;
    assert!(service.projector().status().generation > first_generation, "rebuilt into a new generation");
    assert_eq!(ReadStore::digest_of_live(service.projector().store())?, digest, "same read models");
    service.shutdown().await;

    // Damage the store's files.
    for entry in std::fs::read_dir(&path)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::write(entry.path(), b"\x00garbage\xff not a sled file")?;
        }
    }
    let service = stod_projector::start_service(nats.client.clone(), ProjectorOptions::new(&path)).await?;
    wait_for_checkpoint(service.projector(), last).await?;
    assert_eq!(ReadStore::digest_of_live(service.projector().store())?, digest, "rebuilt from the log");
    let aside = std::fs::read_dir(dir.path())?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains("damaged"));
    assert!(aside, "the damaged store was kept aside for a person to look at");
    service.shutdown().await;
    Ok(())
}

/// The projector process is SIGKILLed again and again, while catching up and while
/// events keep arriving. Once it has caught up, its read models are byte for byte
/// those of a clean rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkilled_projector_ends_equal_to_a_clean_rebuild() -> TestResult {
    let nats = TestNats::start_fast().await?;
    ensure_event_stream(&nats.js).await?;
    let events = demo_events(600, 99);
    let (initial, live_load) = events.split_at(events.len() * 2 / 3);
    publish_sealed(&nats.js, initial).await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("read");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_stod-test-projector"))
            .arg(nats.server.url())
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
    };

    // Events keep arriving while the projector is killed.
    let writer = {
        let js = nats.js.clone();
        let live_load = live_load.to_vec();
        tokio::spawn(async move {
            for chunk in live_load.chunks(40) {
                publish_sealed(&js, chunk).await.map_err(|e| e.to_string())?;
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            Ok::<_, String>(())
        })
    };
    let mut kills = 0;
    let mut delay_ms = 150;
    while kills < 10 {
        let mut child = spawn()?;
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        // SIGKILL: no chance to flush or clean up.
        child.kill()?;
        child.wait()?;
        kills += 1;
        delay_ms = 100 + (delay_ms * 7 + 61) % 400;
    }
    writer.await?.map_err(|e| format!("writer: {e}"))?;
    let last = read_log(&nats.js).await?.len() as u64;

    // Let it catch up once more, undisturbed, and check where it got to.
    let mut child = spawn()?;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = stod_tests::request(&nats.client, "stod.query.drift.projection-status", "{}").await;
        if let Ok(reply) = status {
            let status: serde_json::Value = serde_json::from_slice(&reply.payload)?;
            if status["checkpoint"].as_u64() == Some(last) && status["rebuild"].is_null() {
                break;
            }
            assert!(status["fault"].is_null(), "projector faulted: {status}");
        }
        assert!(Instant::now() < deadline, "projector did not catch up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Past sled's 200 ms flush interval: a SIGKILL right after the status said "caught
    // up" may take back the last batches (never half of one), and then the store is
    // compared at its own checkpoint.
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill()?;
    child.wait()?;

    let log = read_log(&nats.js).await?;
    let (equal, checkpoint) = stod_tests::faults::compare_with_clean_rebuild(&path, &log)?;
    assert!(checkpoint > 0 && checkpoint <= last);
    assert!(
        equal,
        "after {kills} SIGKILLs the read models equal a clean rebuild at their checkpoint {checkpoint} of {last}"
    );
    Ok(())
}

/// A store another process (here: another handle) has open is refused, not taken for
/// damaged and moved aside.
#[tokio::test]
async fn a_store_in_use_is_refused_and_left_alone() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("read");
    let first = ReadStore::open(&path)?;
    let generation = first.new_generation()?;
    generation
        .apply(&demo_events(3, 1).into_iter().enumerate().map(|(i, e)| (i as u64 + 1, Some(e))).collect::<Vec<_>>())?;
    first.swap_live(&generation)?;
    let digest = ReadStore::digest_of_live(&first)?;
    match ReadStore::open(&path) {
        Err(stod_projector::StoreError::Locked(_)) => {}
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("a second open of a store in use succeeded"),
    }
    let moved = std::fs::read_dir(dir.path())?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains("damaged"));
    assert!(!moved, "nothing moved aside");
    assert_eq!(ReadStore::digest_of_live(&first)?, digest);
    drop((first, generation));
    assert_eq!(ReadStore::digest_of_live(&ReadStore::open(&path)?)?, digest, "reopens intact once released");
    Ok(())
}

/// The audit indexes by user and by recording day answer from the stored events.
#[tokio::test]
async fn the_audit_indexes_by_user_and_day_find_every_event() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = ReadStore::open(&dir.path().join("read"))?;
    let generation = store.new_generation()?;
    let events: Vec<_> = demo_events(15, 2).into_iter().enumerate().map(|(i, e)| (i as u64 + 1, e)).collect();
    let batch: Vec<_> = events.iter().map(|(s, e)| (*s, Some(e.clone()))).collect();
    generation.apply(&batch)?;
    let by_hand: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.event.recorded_by.as_str() == "anna")
        .map(|(s, e)| (e.event.case_id, *s))
        .collect();
    assert!(!by_hand.is_empty());
    assert_eq!(generation.by_user("anna")?, by_hand);
    assert!(generation.by_user("nobody")?.is_empty());
    let day = events[0].1.event.recorded_at.date_utc();
    let on_day: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.event.recorded_at.date_utc() == day)
        .map(|(s, e)| (e.event.case_id, *s))
        .collect();
    assert_eq!(generation.by_day(day)?, on_day);
    Ok(())
}

/// Report answers are kept while the read models stand still, and never outlive them:
/// a new event makes the next answer include it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kept_report_answer_never_outlives_the_read_models() -> TestResult {
    let system = TestSystem::start_with_projector().await?;
    let client = system.client("anna").await?;
    let subs = stod_demo::generate(&stod_demo::DemoParams { participants: 8, years: 1, seed: 4, today: today() });
    stod_demo::seed(&client, subs, 4, |_| {}).await?;
    let last = read_log(&system.nats.js).await?.len() as u64;
    wait_for_checkpoint(system.projector()?, last).await?;

    let first = ask_throughput(&system.nats.client, "2025").await?;
    let again = ask_throughput(&system.nats.client, "2025").await?;
    assert_eq!(first, again, "the same answer while nothing moved");
    let ReportReply::Ok { checkpoint, report: before, .. } = first else { panic!("{first:?}") };
    assert_eq!(checkpoint, last);

    let new_case = stod_events::ids::CaseId::new();
    client.submit(new_case, stod_tests::journey::at("2025-11-03", stod_tests::journey::intake())).await?;
    wait_for_checkpoint(system.projector()?, last + 1).await?;
    match ask_throughput(&system.nats.client, "2025").await? {
        ReportReply::Ok { checkpoint, report, .. } => {
            assert_eq!(checkpoint, last + 1, "the answer is of the new checkpoint");
            assert_eq!(report.intakes, before.intakes + 1, "and includes the new intake");
        }
        other => panic!("{other:?}"),
    }
    system.shutdown().await;
    Ok(())
}

/// The events a generation folded are in a file beside sled, written before the
/// checkpoint that covers them. Whatever a crash, a power cut or damage leaves, the
/// next use of the generation makes the file and the checkpoint agree on a prefix of
/// the log, with the read models of exactly that prefix; folding then resumes after it.
#[tokio::test]
async fn the_event_file_and_the_checkpoint_are_reconciled_after_a_crash_or_damage() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("read");
    let events: Vec<_> = demo_events(12, 9).into_iter().enumerate().map(|(i, e)| (i as u64 + 1, Some(e))).collect();
    let n = events.len() as u64;
    assert!(n > 20, "{n} events");
    // The digest of a clean generation of the first k events.
    let clean = |k: u64| -> TestResult<String> {
        let d = tempfile::tempdir()?;
        let store = ReadStore::open(&d.path().join("read"))?;
        let g = store.new_generation()?;
        g.apply(&events[..k as usize])?;
        Ok(g.digest()?)
    };
    let full = clean(n)?;
    let reopen = || -> TestResult<(u64, String, stod_projector::store::Generation)> {
        let store = ReadStore::open(&path)?;
        let g = store.live()?.ok_or("a live generation")?;
        let digest = g.digest()?;
        Ok((g.checkpoint()?, digest, g))
    };
    let number = {
        let store = ReadStore::open(&path)?;
        let g = store.new_generation()?;
        g.apply(&events)?;
        store.swap_live(&g)?;
        assert_eq!(g.digest()?, full);
        g.number
    };
    let file = path.join("events").join(format!("gen-{number}.log"));
    let set_checkpoint = |to: u64| -> TestResult {
        let db = sled::open(&path)?;
        db.open_tree(format!("gen-{number}"))?.insert("\0checkpoint", &to.to_be_bytes())?;
        db.flush()?;
        Ok(())
    };

    // (1) Killed after the events were written, before their checkpoint: the records
    // past the checkpoint are cut off, and the batch folds again as new.
    set_checkpoint(n - 5)?;
    let (checkpoint, digest, g) = reopen()?;
    assert_eq!((checkpoint, digest), (n - 5, clean(n - 5)?));
    assert_eq!(g.apply(&events)?, n);
    assert_eq!(g.digest()?, full, "the same read models after folding the rest again");
    drop(g);

    // (2) The file's tail lost (a power cut before it reached the disk): the
    // checkpoint comes back to the last whole record.
    let len = std::fs::metadata(&file)?.len();
    std::fs::OpenOptions::new().write(true).open(&file)?.set_len(len - 100)?;
    let (checkpoint, digest, g) = reopen()?;
    assert!(checkpoint < n && checkpoint > 0, "checkpoint {checkpoint} of {n}");
    assert_eq!(digest, clean(checkpoint)?);
    assert_eq!(g.apply(&events)?, n);
    assert_eq!(g.digest()?, full);
    drop(g);

    // (3) A record's header damaged in the middle: the records end before it.
    let bytes = std::fs::read(&file)?;
    let mut at = 0usize;
    for _ in 0..10 {
        let len = u32::from_be_bytes(bytes[at + 8..at + 12].try_into()?) as usize;
        at += 12 + len;
    }
    let mut damaged = bytes.clone();
    damaged[at + 3] ^= 0x5a;
    std::fs::write(&file, &damaged)?;
    let (checkpoint, digest, g) = reopen()?;
    assert_eq!((checkpoint, digest), (10, clean(10)?));
    assert_eq!(g.apply(&events)?, n);
    assert_eq!(g.digest()?, full);
    drop(g);

    // (4) The file gone altogether: nothing is stored, everything folds again.
    std::fs::remove_file(&file)?;
    let (checkpoint, digest, g) = reopen()?;
    assert_eq!((checkpoint, digest), (0, clean(0)?));
    assert_eq!(g.apply(&events)?, n);
    assert_eq!(g.digest()?, full);
    Ok(())
}

/// A service answers from the moment its start returns: a request sent from another
/// connection right then never finds "no responders". (The service loop's `flush`
/// alone did not make sure the server had taken its subscriptions.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_projector_answers_at_once() -> TestResult {
    let nats = TestNats::start_fast().await?;
    ensure_event_stream(&nats.js).await?;
    let asker = async_nats::connect(nats.server.url()).await?;
    for round in 0..100 {
        let dir = tempfile::tempdir()?;
        let client = async_nats::connect(nats.server.url()).await?;
        let service = stod_projector::start_service(client, ProjectorOptions::new(dir.path().join("read"))).await?;
        let reply = stod_client::request_as_subject_user(
            &asker,
            "stod.query.styrgrupp.projection-status",
            b"{}".to_vec(),
            Duration::from_secs(10),
        )
        .await;
        if let Err(e) = &reply {
            panic!("round {round}: the first request after the start failed: {e}");
        }
        service.shutdown().await;
    }
    Ok(())
}
