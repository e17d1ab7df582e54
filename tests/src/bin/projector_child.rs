//! A projector in its own process, for tests that SIGKILL it.
//!
//! Usage: `stod-test-projector <nats-url> <data-dir>`. Runs until killed.

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(dir)) = (args.next(), args.next()) else {
        eprintln!("usage: stod-test-projector <nats-url> <data-dir>");
        std::process::exit(2);
    };
    let client = match async_nats::ConnectOptions::new().retry_on_initial_connect().connect(url.as_str()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect to {url}: {e}");
            std::process::exit(1);
        }
    };
    let opts = stod_projector::ProjectorOptions { max_batch: 500, ..stod_projector::ProjectorOptions::new(dir) };
    let _service = match stod_projector::start_service(client, opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("projector failed to start: {e}");
            std::process::exit(1);
        }
    };
    // Until SIGKILL: the point of this process is to be killed at a random moment.
    std::future::pending::<()>().await;
}
