//! The test harness itself: start, stop, restart, failures and cleanup.

use stod_nats_server::{ErrorKind, NatsServer, ServerOptions};
use stod_tests::{connect, TestResult};

#[tokio::test]
async fn servers_side_by_side_get_their_own_ports_and_dirs() -> TestResult {
    let a = NatsServer::ephemeral().await?;
    let b = NatsServer::ephemeral().await?;
    assert_ne!(a.port(), b.port());
    assert_ne!(a.store_dir(), b.store_dir());
    assert!(a.config_path().is_file());
    assert!(a.log_path().is_file());
    Ok(())
}

#[tokio::test]
async fn graceful_stop_then_restart_keeps_port_and_data() -> TestResult {
    let mut server = NatsServer::ephemeral().await?;
    let port = server.port();
    let (_, js) = connect(&server).await?;
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "KEPT".to_owned(),
        subjects: vec!["kept".to_owned()],
        ..Default::default()
    })
    .await?;

    server.stop().await?;
    assert!(!server.is_running());
    server.restart().await?;
    assert_eq!(server.port(), port);

    let (_, js) = connect(&server).await?;
    js.get_stream("KEPT").await?;
    Ok(())
}

#[tokio::test]
async fn dropping_an_ephemeral_server_removes_its_store_dir() -> TestResult {
    let server = NatsServer::ephemeral().await?;
    let dir = server.store_dir().to_path_buf();
    assert!(dir.is_dir());
    drop(server);
    assert!(!dir.exists(), "{} was left behind", dir.display());
    Ok(())
}

#[tokio::test]
async fn a_taken_fixed_port_is_reported_as_port_in_use() -> TestResult {
    let first = NatsServer::ephemeral().await?;
    let err = NatsServer::ephemeral_with(|opts| opts.with_port(first.port())).await.expect_err("the port is taken");
    assert_eq!(err.kind(), ErrorKind::PortInUse);
    Ok(())
}

#[tokio::test]
async fn invalid_extra_config_fails_fast_as_exited_early() -> TestResult {
    let err = NatsServer::ephemeral_with(|opts| opts.with_extra_config("this is { not config"))
        .await
        .expect_err("the server must reject the config");
    assert_eq!(err.kind(), ErrorKind::ExitedEarly);
    Ok(())
}

#[tokio::test]
async fn a_missing_binary_is_reported_as_not_startable() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = ServerOptions::new(dir.path().join("store")).with_binary(dir.path().join("no-such-nats-server"));
    let err = NatsServer::start(opts).await.expect_err("there is no binary");
    assert_eq!(err.kind(), ErrorKind::Spawn);
    Ok(())
}

/// A process that started a nats-server and is then SIGKILLed (no Drop, no cleanup)
/// does not leave the server running: it would hold the port and the store.
#[tokio::test]
async fn a_server_dies_with_the_process_that_started_it() -> TestResult {
    use std::io::BufRead;
    let mut holder = std::process::Command::new(env!("CARGO_BIN_EXE_stod-test-server-holder"))
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().expect("stdout")).read_line(&mut line)?;
    let pid: i32 = line.trim().parse()?;
    assert!(pid > 0);
    let alive = |pid: i32| {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
    };
    assert!(alive(pid), "server running while its holder lives");
    holder.kill()?;
    holder.wait()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while alive(pid) {
        assert!(std::time::Instant::now() < deadline, "nats-server {pid} outlived the process that started it");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}
