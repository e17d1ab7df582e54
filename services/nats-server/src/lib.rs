//! Runs a real `nats-server` as a child process.
//!
//! stod keeps its event log on NATS JetStream, and we test against the real
//! server rather than a mock: every integration test starts its own server on
//! a free port with its own store dir. The same code will back `stod up`, a
//! managed local server for people trying stod on one machine.
//!
//! ```no_run
//! use stod_nats_server::NatsServer;
//!
//! # async fn example() -> Result<(), stod_nats_server::Error> {
//! let mut server = NatsServer::ephemeral().await?;
//! println!("connect to {}", server.url());
//! server.kill().await?; // a crash: SIGKILL, nothing flushed
//! server.restart().await?; // same port, same data
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`binary`]: finding the `nats-server` binary and checking its version
//!   (the pinned one comes from `scripts/install-nats-server`).
//! - [`options`]: [`ServerOptions`] and the config file rendered from it.
//! - [`server`]: [`NatsServer`], the child process and its readiness probe.
//! - [`error`]: [`Error`] with an [`ErrorKind`].
//!
//! # What it does not do
//!
//! It does not create streams or know anything about stod's events; that is
//! `stod-store`. It does not daemonize: the server lives as long as the
//! [`NatsServer`] value does.

pub mod binary;
pub mod error;
pub mod options;
pub mod server;

pub use binary::{locate_binary, Version, BINARY_ENV, MIN_VERSION};
pub use error::{Error, ErrorKind};
pub use options::ServerOptions;
pub use server::NatsServer;
