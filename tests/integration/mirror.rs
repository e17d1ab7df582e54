//! A second copy on a second nats-server: the mirror follows the primary under load
//! within a bounded lag, is read-only, and after the primary is killed holds every
//! acknowledged event up to that lag; the runbook's promotion brings the system back
//! on it, the log going on where the mirror stood.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stod_auth::{Credentials, Role};
use stod_client::ConnectOptions;
use stod_events::ids::{CaseId, SubmissionId, UserId};
use stod_projector::ProjectorOptions;
use stod_protocol::audit::LogName;
use stod_protocol::{RegistryOp, RegistryReply};
use stod_system::mirror::{self, Listen, Upstream};
use stod_system::{DataDir, Nats, RegistryKeySource, System};
use stod_tests::journey::{at, intake};
use stod_tests::TestResult;

use crate::registry::pnr;

fn free_port() -> TestResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn mirror_last(js: &async_nats::jetstream::Context) -> u64 {
    stod_store::raw::stream_state(js, stod_store::STREAM_NAME).await.map_or(0, |s| s.last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mirror_follows_under_load_and_takes_over_after_the_primary_is_lost() -> TestResult {
    let root = tempfile::tempdir()?;
    let primary = DataDir::new(root.path().join("primary"));
    let user = |s: &str| UserId::parse(s).expect("user");
    let karin = primary.auth().add_user(&user("karin"), Role::CaseWorker)?;
    let lena = primary.auth().add_user(&user("lena"), Role::ProjectLeader)?;
    let revisor = primary.auth().add_user(&user("revisor"), Role::Auditor)?;
    let backup = primary.auth().add_user(&user("backup"), Role::Backup)?;
    let spegel = primary.auth().add_user(&user("spegel"), Role::Mirror)?;
    let leaf = free_port()?;
    // The leaf node link between the buildings runs over TLS; the mirror pins the CA.
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let (cert, key) = (root.path().join("leaf-cert.pem"), root.path().join("leaf-key.pem"));
    std::fs::write(&cert, certified.cert.pem())?;
    std::fs::write(&key, certified.key_pair.serialize_pem())?;
    let system = System::builder(Nats::Managed { data: primary.clone(), port: free_port()? })
        .mirror_listen(Listen { addr: format!("127.0.0.1:{leaf}"), tls: Some((cert.clone(), key)) })
        .command(stod_command::ServiceOptions::default())
        .registry(RegistryKeySource::File(primary.registry_key()))
        .projector(ProjectorOptions::new(primary.projections()))
        .start()
        .await?;
    // No retries: a writer stops at the first command the lost primary does not answer.
    let no_retry = stod_client::RetryPolicy { retries: 0, ..Default::default() };
    let connect =
        |creds: &Credentials| ConnectOptions::new(system.url()).credentials(creds.clone()).retry(no_retry).connect();
    let k = connect(&karin).await?;
    let (kept, erased) = (pnr("19860512123"), pnr("19900101123"));
    for person in [&kept, &erased] {
        k.submit_intake_of(SubmissionId::new(), CaseId::new(), at("2025-03-01", intake()), person).await?;
    }
    // Last night's backup; today one person is erased from the registry.
    let backups = root.path().join("backups");
    stod_backup::take(&connect(&backup).await?, &backups, Some(&primary.auth()), |_, _, _| {}).await?;
    let l = connect(&lena).await?;
    assert_eq!(l.registry(RegistryOp::Erase, &erased).await?, RegistryReply::Erased);

    // The mirror, in "another building": its own server and data directory.
    let mirror_dir = DataDir::new(root.path().join("mirror"));
    let upstream =
        Upstream { url: format!("nats-leaf://localhost:{leaf}"), credentials: spegel.clone(), ca: Some(cert.clone()) };
    // Without the CA the mirror does not trust the primary's certificate: nothing arrives.
    let untrusting = DataDir::new(root.path().join("untrusting"));
    let plain = Upstream { url: format!("nats-leaf://localhost:{leaf}"), credentials: spegel.clone(), ca: None };
    let mut refused = mirror::start(&untrusting, free_port()?, Some(&plain)).await?;
    let mut mirror = mirror::start(&mirror_dir, free_port()?, Some(&upstream)).await?;
    let mirror_js = async_nats::jetstream::new(
        ConnectOptions::new(mirror.server.url()).credentials(mirror.users.command.clone()).connect_nats().await?,
    );
    let caught_up = Instant::now();
    while mirror_last(&mirror_js).await < 1 {
        assert!(caught_up.elapsed() < Duration::from_secs(10), "the mirror never received the first event");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused_js = async_nats::jetstream::new(
        ConnectOptions::new(refused.server.url()).credentials(refused.users.command.clone()).connect_nats().await?,
    );
    assert_eq!(mirror_last(&refused_js).await, 0, "a leaf node without TLS to the primary gets nothing");
    refused.server.stop().await?;

    // Load: 8 writers, while the lag is sampled.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..8 {
        let (k, stop) = (connect(&karin).await?, stop.clone());
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match k.submit(CaseId::new(), at("2025-04-01", intake())).await {
                    Ok(a) => acked.push(a.stream_sequence),
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    let mut lags = Vec::new();
    let started = Instant::now();
    let events = stod_store::EventStore::open_existing(async_nats::jetstream::new(
        ConnectOptions::new(system.url())
            .credentials(system.users().ok_or("managed")?.command.clone())
            .connect_nats()
            .await?,
    ))
    .await?
    .0;
    while started.elapsed() < Duration::from_secs(3) {
        // The mirror first: the lag measured is never less than the true one.
        let mirrored = mirror_last(&mirror_js).await;
        let primary_last = events.last_sequence().await?;
        lags.push(primary_last.saturating_sub(mirrored));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lags.sort_unstable();
    let (p99, max) = (lags[lags.len() * 99 / 100], lags[lags.len() - 1]);
    println!("mirror lag under load, {} samples: p99 {p99} events, max {max} events", lags.len());
    assert!(max < 500, "the mirror stays within a bounded lag: max {max} events behind");

    // The primary's machine is lost mid-load: its server killed, no shutdown.
    let pid = system.server().and_then(|s| s.pid()).ok_or("pid")?;
    // SAFETY: kill(2) on the managed nats-server's pid, our own child.
    assert_eq!(unsafe { libc::kill(i32::try_from(pid)?, libc::SIGKILL) }, 0);
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await?);
    }
    acked.sort_unstable();
    let last_acked = acked.last().copied().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = mirror_last(&mirror_js).await;
    println!("primary killed: {} acknowledged, last {last_acked}; the mirror holds {held}", acked.len());
    assert!(held + max.max(1) * 2 >= last_acked, "the mirror holds every acknowledged event up to the lag");
    // Read-only: nothing published on the mirror's server lands in the mirror.
    let spy = mirror.users.command.clone();
    let raw = ConnectOptions::new(mirror.server.url()).credentials(spy).connect_nats().await?;
    let _ = raw.publish(format!("stod.events.case.{}", CaseId::new()), "foreign".into()).await;
    raw.flush().await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(mirror_last(&mirror_js).await, held, "a mirror takes no writes");
    drop(system);
    mirror.server.stop().await?;

    // The runbook: promote the mirror into a new primary's directory, with the people
    // and the registry from the latest backup and the registry key from its sealed
    // copy; start stod on it.
    let new_primary = DataDir::new(root.path().join("new-primary"));
    let key = std::fs::read(primary.registry_key())?;
    let promoted =
        mirror::promote(&mirror_dir, &new_primary, Some(&backups), None, Some(&key), 0, |_, _, _| {}).await?;
    assert_eq!(promoted.counts[&LogName::Events], held);
    assert_eq!(promoted.counts[&LogName::Registry], 1, "the erasure after the backup is applied again");
    let system = System::builder(Nats::Managed { data: new_primary.clone(), port: free_port()? })
        .command(stod_command::ServiceOptions::default())
        .registry(RegistryKeySource::File(new_primary.registry_key()))
        .projector(ProjectorOptions::new(new_primary.projections()))
        .start()
        .await?;
    // The people log in with their old credentials.
    let k = ConnectOptions::new(system.url()).credentials(karin.clone()).connect().await?;
    let next = k.submit(CaseId::new(), at("2025-05-01", intake())).await?;
    assert_eq!(next.stream_sequence, held + 1, "the log goes on where the mirror stood");
    assert!(matches!(k.registry(RegistryOp::Lookup, &kept).await?, RegistryReply::Found { .. }));
    assert!(
        matches!(k.registry(RegistryOp::Lookup, &erased).await?, RegistryReply::NotFound { .. }),
        "an erased person stays erased"
    );
    let r = ConnectOptions::new(system.url()).credentials(revisor.clone()).connect().await?;
    let acked_held = acked.iter().filter(|s| **s <= held).count();
    assert!(acked_held > 0);
    let verification = crate::backup::audit_verify(&r).await?;
    assert!(verification.intact(), "{:?}", verification.findings);
    assert_eq!(verification.events, held + 1);
    system.projector().ok_or("projector")?.projector().wait_for(next.stream_sequence).await?;

    // Byte for byte what the old primary stored (its disk survived here, to compare).
    let command = system.users().ok_or("managed")?.command.clone();
    let new_js =
        async_nats::jetstream::new(ConnectOptions::new(system.url()).credentials(command).connect_nats().await?);
    let old_users = stod_system::ServiceUsers::ensure(primary.auth())?;
    let mut old = stod_system::managed::start(&primary, 0, &old_users.command).await?;
    let old_js = async_nats::jetstream::new(
        ConnectOptions::new(old.url()).credentials(old_users.command.clone()).connect_nats().await?,
    );
    let read = |js: async_nats::jetstream::Context| async move {
        stod_store::raw::read_range(&js, stod_store::STREAM_NAME, 1, held, usize::MAX, false)
            .await
            .map(|v| v.into_iter().map(|m| (m.stream_sequence, m.subject, m.bytes)).collect::<Vec<_>>())
    };
    let (old_events, new_events) = (read(old_js).await?, read(new_js).await?);
    assert_eq!(old_events.len() as u64, held);
    assert!(old_events == new_events, "the promoted log is the primary's, byte for byte, up to {held}");
    old.stop().await?;
    system.shutdown().await;
    Ok(())
}

/// The mirror's credentials open a leaf node connection and nothing else: not a
/// client connection, so not a way to read or write anything of stod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_user_connects_only_as_a_leaf_node() -> TestResult {
    let root = tempfile::tempdir()?;
    let primary = DataDir::new(root.path().join("primary"));
    let spegel = primary.auth().add_user(&UserId::parse("spegel")?, Role::Mirror)?;
    let system = System::builder(Nats::Managed { data: primary.clone(), port: free_port()? })
        .mirror_listen(Listen { addr: format!("127.0.0.1:{}", free_port()?), tls: None })
        .command(stod_command::ServiceOptions::default())
        .start()
        .await?;
    let as_client = async_nats::ConnectOptions::with_nkey(spegel.nkey_seed.clone())
        .max_reconnects(Some(0))
        .connection_timeout(Duration::from_secs(2));
    let connected = tokio::time::timeout(Duration::from_secs(5), as_client.connect(system.url())).await;
    assert!(!matches!(connected, Ok(Ok(_))), "a client connection with the mirror's key is refused");
    // The same connection with a person's key gets in: it is the key that is refused.
    let operator = system.users().ok_or("managed")?.operator.clone();
    let control = async_nats::ConnectOptions::with_nkey(operator.nkey_seed.clone())
        .custom_inbox_prefix(stod_auth::inbox_prefix(operator.user.as_str()))
        .connect(system.url())
        .await;
    assert!(control.is_ok(), "{control:?}");
    system.shutdown().await;
    Ok(())
}

/// A hostile mirror: whoever holds the spegel credentials runs a leaf node server of
/// their own, wide open, and tries from it to write, delete, purge, reconfigure, or
/// deliver a consumer into the log. Nothing stored on the primary changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_mirror_cannot_change_anything_on_the_primary() -> TestResult {
    use futures::StreamExt;
    let root = tempfile::tempdir()?;
    let primary = DataDir::new(root.path().join("primary"));
    let karin = primary.auth().add_user(&UserId::parse("karin")?, Role::CaseWorker)?;
    let spegel = primary.auth().add_user(&UserId::parse("spegel")?, Role::Mirror)?;
    let leaf = free_port()?;
    let system = System::builder(Nats::Managed { data: primary.clone(), port: free_port()? })
        .mirror_listen(Listen { addr: format!("127.0.0.1:{leaf}"), tls: None })
        .command(stod_command::ServiceOptions::default())
        .start()
        .await?;
    let k = ConnectOptions::new(system.url()).credentials(karin.clone()).connect().await?;
    let case = CaseId::new();
    k.submit(case, at("2025-03-01", intake())).await?;
    let command = system.users().ok_or("managed")?.command.clone();
    let js = async_nats::jetstream::new(ConnectOptions::new(system.url()).credentials(command).connect_nats().await?);
    let snapshot = |js: async_nats::jetstream::Context| async move {
        let mut out = Vec::new();
        for name in ["STOD_EVENTS", "STOD_ACCESS", "KV_stod_participants", "KV_stod_reference", "KV_stod_registry"] {
            let state = stod_store::raw::stream_state(&js, name).await.ok();
            let mut bytes = Vec::new();
            if let Some(state) = &state {
                for m in
                    stod_store::raw::read_range(&js, name, 1, state.last, usize::MAX, true).await.unwrap_or_default()
                {
                    // Headers come in no fixed order.
                    let mut headers = m.headers;
                    headers.sort();
                    let stored = format!("{}{}{headers:?}{:?}", m.stream_sequence, m.subject, m.bytes);
                    bytes.push(stod_backup::format::sha256_hex(stored.as_bytes()));
                }
            }
            out.push((
                name,
                state.map(|s| (s.first, s.last, s.messages, s.config.deny_delete, s.config.deny_purge)),
                bytes,
            ));
        }
        out
    };
    let before = snapshot(js.clone()).await;

    // The hostile leaf: no users of its own, everything allowed locally.
    let remote = format!(
        "leafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{leaf}\", nkey: {:?} }} ] }}",
        spegel.nkey_seed
    );
    let hostile =
        stod_nats_server::NatsServer::ephemeral_with(|o| o.with_jetstream_domain("evil").with_extra_config(remote))
            .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Replies where a mirror's arrive (`$JSC.R.`), so that anything the primary's API
    // answered would be seen.
    let evil = async_nats::ConnectOptions::new().custom_inbox_prefix("$JSC.R").connect(hostile.url()).await?;
    // The leaf is connected with the spegel key: it can do what a mirror does, read.
    let local = async_nats::jetstream::new(evil.clone());
    local
        .create_stream(async_nats::jetstream::stream::Config {
            name: "COPY".into(),
            mirror: Some(async_nats::jetstream::stream::Source {
                name: "STOD_EVENTS".into(),
                external: Some(async_nats::jetstream::stream::External {
                    api_prefix: "$JS.stod.API".into(),
                    delivery_prefix: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?;
    let connected = Instant::now();
    while stod_store::raw::stream_state(&local, "COPY").await.map_or(0, |s| s.last) < 1 {
        assert!(connected.elapsed() < Duration::from_secs(10), "the hostile leaf never got its copy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let target = format!("stod.events.case.{case}");
    for subject in [target.clone(), format!("stod.access.karin.{case}"), "$KV.stod_participants.x".to_owned()] {
        evil.publish(subject, "foreign".into()).await?;
    }
    let request = |subject: String, body: serde_json::Value| {
        let evil = evil.clone();
        async move {
            let r = async_nats::Request::new().payload(body.to_string().into()).timeout(Some(Duration::from_secs(1)));
            evil.send_request(subject, r).await.ok().map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        }
    };
    let mut answered = Vec::new();
    for (subject, body) in [
        ("$JS.stod.API.STREAM.DELETE.STOD_EVENTS", serde_json::json!({})),
        ("$JS.stod.API.STREAM.PURGE.STOD_EVENTS", serde_json::json!({})),
        ("$JS.stod.API.STREAM.MSG.DELETE.STOD_EVENTS", serde_json::json!({ "seq": 1 })),
        ("$JS.stod.API.STREAM.UPDATE.STOD_EVENTS", serde_json::json!({ "name": "STOD_EVENTS", "subjects": [">"] })),
        ("$JS.stod.API.STREAM.CREATE.EVIL", serde_json::json!({ "name": "EVIL", "subjects": ["stod.>"] })),
        ("$JS.stod.API.CONSUMER.DELETE.STOD_EVENTS.any", serde_json::json!({})),
        ("$JS.stod.API.CONSUMER.LIST.STOD_EVENTS", serde_json::json!({})),
        ("$JS.stod.API.CONSUMER.INFO.STOD_EVENTS.any", serde_json::json!({})),
        (
            "$JS.stod.API.CONSUMER.CREATE.STOD_EVENTS.any.stod.events.case.>",
            serde_json::json!({ "stream_name": "STOD_EVENTS", "config": { "name": "any", "durable_name": "any" } }),
        ),
        ("$JS.stod.API.STREAM.MSG.GET.STOD_EVENTS", serde_json::json!({ "seq": 1 })),
    ] {
        if let Some(answer) = request(subject.to_owned(), body).await {
            answered.push(format!("{subject}: {answer}"));
        }
    }
    assert!(answered.is_empty(), "the primary's API answered a hostile leaf: {answered:?}");
    // A push consumer on the primary delivering into the log's own subject.
    let consumer = serde_json::json!({
        "stream_name": "STOD_EVENTS",
        "config": { "deliver_subject": target, "ack_policy": "none", "deliver_policy": "all" }
    });
    let mut sub = evil.subscribe(target.clone()).await?;
    let created = request("$JS.stod.API.CONSUMER.CREATE.STOD_EVENTS".to_owned(), consumer).await;
    println!("a push consumer into the log's subject, asked for by the hostile leaf: {created:?}");
    // Its deliveries never reach the leaf (the spegel user receives only mirror
    // deliveries and API replies), nor any stream (nats-io/nats-server#8274: nothing is
    // stored by a push consumer's delivery).
    let stray = tokio::time::timeout(Duration::from_millis(700), sub.next()).await;
    assert!(stray.is_err(), "a delivery on the log's subject reached the hostile leaf: {stray:?}");
    assert_eq!(snapshot(js.clone()).await, before, "nothing stored on the primary changed");

    // A person's key opens no leaf node connection: a leaf server of karin's own gets no
    // answer where karin's client does.
    let remote = format!(
        "leafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{leaf}\", nkey: {:?} }} ] }}",
        karin.nkey_seed
    );
    let as_karin = stod_nats_server::NatsServer::ephemeral_with(|o| o.with_extra_config(remote)).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let via_leaf = async_nats::ConnectOptions::new()
        .custom_inbox_prefix(stod_auth::inbox_prefix("karin"))
        .connect(as_karin.url())
        .await?;
    let ask = async_nats::Request::new().payload("{}".into()).timeout(Some(Duration::from_secs(2)));
    let answer = via_leaf.send_request("stod.query.karin.reference".to_owned(), ask).await;
    assert!(answer.is_err(), "a leaf node with karin's key reached a service: {answer:?}");
    let direct = k.reference().await;
    assert!(direct.is_ok(), "karin's own client is answered: {direct:?}");
    system.shutdown().await;
    Ok(())
}
