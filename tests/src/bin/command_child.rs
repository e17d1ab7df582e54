//! A command service in its own process, for tests that SIGKILL it under load.
//!
//! Usage: `stod-test-command <nats-url[,nats-url...]> [replicas]`. Prints `ready` on
//! stdout once it serves, then runs until killed.
//!
//! With `STOD_TEST_GROUP_COMMIT` set it appends through group commit
//! (`stod_tests::faults::group_commit_config`) and writes its counts to stderr
//! whenever they change, so the test can tell that batches were committed although
//! the process dies without a word.

use std::io::Write as _;

use stod_tests::faults;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(urls) = args.next() else {
        eprintln!("usage: stod-test-command <nats-url[,nats-url...]> [replicas]");
        std::process::exit(2);
    };
    let replicas = match args.next().map(|r| r.parse::<usize>()) {
        None => 1,
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            eprintln!("replicas: {e}");
            std::process::exit(2);
        }
    };
    let servers: Vec<&str> = urls.split(',').collect();
    let client = match async_nats::ConnectOptions::new()
        .name("stod-test-command")
        .retry_on_initial_connect()
        .connect(servers.as_slice())
        .await
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect to {urls}: {e}");
            std::process::exit(1);
        }
    };
    let mut options = stod_command::ServiceOptions::default();
    options.log.replicas = replicas;
    if std::env::var_os(faults::GROUP_COMMIT_ENV).is_some() {
        options.group_commit = true;
        options.group_commit_config = faults::group_commit_config();
        // Before `ready`: once the test saw it start, this line is in the log.
        eprintln!("{}", faults::group_commit_started_line(&options.group_commit_config));
    }
    let service = match stod_command::start(client, options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("command service failed to start: {e}");
            std::process::exit(1);
        }
    };
    if let Some(mut reported) = service.handler().group_commit_counts() {
        let handler = service.handler().clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
            loop {
                tick.tick().await;
                let now = handler.group_commit_counts().unwrap_or_default();
                if now != reported {
                    eprintln!("{}", faults::group_commit_counts_line(&now));
                    reported = now;
                }
            }
        });
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    // Until SIGKILL: the point of this process is to be killed at a random moment.
    std::future::pending::<()>().await;
}
