//! Starts a nats-server through stod-nats-server, prints its pid, and waits: for the
//! test that SIGKILLs this process and expects the server to go with it.

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = match stod_nats_server::NatsServer::ephemeral().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("could not start nats-server: {e}");
            std::process::exit(1);
        }
    };
    println!("{}", server.pid().unwrap_or(0));
    std::future::pending::<()>().await;
    drop(server);
}
