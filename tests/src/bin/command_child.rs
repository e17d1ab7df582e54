//! A command service in its own process, for tests that SIGKILL it under load.
//!
//! Usage: `stod-test-command <nats-url[,nats-url...]> [replicas]`. Prints `ready` on
//! stdout once it serves, then runs until killed.

use std::io::Write as _;

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
    let _service = match stod_command::start(client, options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("command service failed to start: {e}");
            std::process::exit(1);
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    // Until SIGKILL: the point of this process is to be killed at a random moment.
    std::future::pending::<()>().await;
}
