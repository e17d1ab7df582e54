//! stod's composition root: what it takes to run the system, in one library.
//!
//! The command line (`stod up`, `stod projector`, `stod http`), the integration tests,
//! the command line's tests and the benchmarks all start stod through here, so the
//! order in which services start and stop is written once ([`system`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), stod_system::SystemError> {
//! use stod_system::{DataDir, Nats, Signals, System};
//!
//! let mut signals = Signals::install()?;
//! let data = DataDir::new("/srv/stod");
//! let mut system = System::builder(Nats::Managed { data: data.clone(), port: 4222 })
//!     .command(Default::default())
//!     .registry(stod_system::RegistryKeySource::File(data.registry_key()))
//!     .projector(stod_projector::ProjectorOptions::new(data.projections()))
//!     .start()
//!     .await?;
//! let stop = system.wait_for_stop(&mut signals).await;
//! system.shutdown().await;
//! # let _ = stop;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`data`]: the data directory's layout ([`DataDir`]).
//! - [`signals`]: Ctrl-C and SIGTERM ([`Signals`], [`Stop`]).
//! - [`users`]: the services' own users on a managed server ([`ServiceUsers`]).
//! - [`managed`]: the managed nats-server (the embedded default).
//! - [`system`]: [`System::builder`], starting any set of {command service, registry,
//!   projector, HTTP} against a managed or an existing NATS, and the one [`System`]
//!   handle that waits and shuts down in the right order.
//! - [`error`]: [`SystemError`] with its [`SystemErrorKind`].
//!
//! # What it does not do
//!
//! It holds no Swedish text and prints nothing: the front end words what it reports.
//! It decides no case rule and reads no read model; it only wires the services that do.

pub mod data;
pub mod error;
pub mod managed;
pub mod mirror;
pub mod restore;
pub mod signals;
pub mod system;
pub mod users;

pub use data::DataDir;
pub use error::{SystemError, SystemErrorKind};
pub use signals::{Signals, Stop};
pub use system::{HttpAccess, HttpConfig, Nats, RegistryKeySource, System, SystemBuilder};
pub use users::ServiceUsers;
