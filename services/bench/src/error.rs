//! What stops a benchmark run. Every variant aborts the run: a benchmark that
//! carries on past a failure reports figures for something else.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("nats-server: {0}")]
    Server(#[from] stod_nats_server::Error),
    #[error("could not create a store dir for nats-server: {0}")]
    StoreDir(#[source] std::io::Error),
    #[error("could not connect to nats-server: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("could not create the raw baseline stream: {0}")]
    RawStream(String),
    #[error("raw publish to {subject} failed: {message}")]
    RawPublish { subject: String, message: String },
    #[error("could not start the command service: {0}")]
    Service(#[from] stod_system::SystemError),
    /// The command path answered something other than "accepted": the
    /// workload only sends valid commands, so this is a bug or an overload.
    #[error("command {step} on case {case} was not accepted after {elapsed:?}: {reply}")]
    NotAccepted { step: &'static str, case: String, elapsed: Duration, reply: String },
    #[error("could not read stream {stream}: {message}")]
    StreamInfo { stream: String, message: String },
    #[error("a benchmark task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("invalid options: {0}")]
    Options(String),
}
