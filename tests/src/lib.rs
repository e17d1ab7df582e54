//! Helpers shared by stod's integration tests (`tests/integration/`).
//!
//! Each test starts its own [`NatsServer`] on a free port with its own
//! temporary store dir, so tests run in parallel and leave nothing behind.
//! Helpers return [`TestResult`] so tests can use `?` instead of unwrapping.

use async_nats::jetstream::{self, Context};
use async_nats::Client;
use stod_nats_server::NatsServer;

/// Any error, for tests that bubble failures up with `?`.
pub type TestError = Box<dyn std::error::Error + Send + Sync + 'static>;
pub type TestResult<T = ()> = Result<T, TestError>;

/// A test's own nats-server, with a client and a JetStream context on it.
pub struct TestNats {
    /// Kept so tests can kill and restart it; dropping it kills the server.
    pub server: NatsServer,
    pub client: Client,
    pub js: Context,
}

impl TestNats {
    /// Starts an ephemeral server (fsync before ack) and connects to it.
    pub async fn start() -> TestResult<Self> {
        let server = NatsServer::ephemeral().await?;
        let (client, js) = connect(&server).await?;
        Ok(Self { server, client, js })
    }

    /// A new client and context, e.g. after a restart.
    pub async fn reconnect(&mut self) -> TestResult {
        let (client, js) = connect(&self.server).await?;
        self.client = client;
        self.js = js;
        Ok(())
    }
}

/// Connects a client to `server` and wraps it in a JetStream context.
pub async fn connect(server: &NatsServer) -> TestResult<(Client, Context)> {
    let client = async_nats::connect(server.url()).await?;
    let js = jetstream::new(client.clone());
    Ok((client, js))
}
