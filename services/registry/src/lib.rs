//! The participant registry: personnummer → participant reference, kept outside the
//! immutable log so that it can be erased.
//!
//! The log knows a participant only as a random [`ParticipantRef`]. Case workers still
//! need to find a person's case by personnummer, so this crate keeps that one link, in
//! the JetStream KV bucket `stod_registry`, under a keyed hash (HMAC-SHA256) of the
//! number. Erasing a person (gallring) purges their entry; the log, which never held
//! the number, stays intact, and what is left of the person is a random reference in
//! it and their part in the statistics. See `docs/decisions/0007-participant-registry.md`.
//!
//! ```no_run
//! # async fn example(nats: async_nats::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use stod_registry::{RegistryKey, RegistryOptions};
//! let key = RegistryKey::load_or_create(std::path::Path::new("/srv/stod/registry.key"))?;
//! let running = stod_registry::start(nats, RegistryOptions::new(key)).await?;
//! // ... serve until asked to stop
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`personnummer`]: parsing and validating a number (pure); errors never show it.
//! - [`key`]: the secret key file and the keyed hash.
//! - [`store`]: [`RegistryStore`], the bucket: register (create-if-absent), lookup,
//!   erase (purge).
//! - [`serve`]: the NATS service, `stod.registry.<user>.<register|lookup|erase>`; every
//!   request recorded in the access log, and [`limit`]ed per user.
//!
//! # What it does not do
//!
//! It writes nothing to the log and decides no case rule: an intake with a registered
//! reference goes through the command service like any other. It stores no name,
//! address or note: there is no field for one. Anonymous participants (no consent,
//! protected identity) have no entry at all.
//!
//! [`ParticipantRef`]: stod_events::ids::ParticipantRef

pub mod key;
pub mod limit;
pub mod personnummer;
pub mod serve;
pub mod store;

pub use key::{KeyError, RegistryKey};
pub use personnummer::{Personnummer, PersonnummerError, PersonnummerErrorKind};
pub use serve::{
    start, Registry, RegistryOptions, RunningRegistry, StartError, DEFAULT_RATE_LIMIT_PER_MINUTE, QUEUE_GROUP,
};
pub use store::{Entry, RegistryError, RegistryErrorKind, RegistryStore, REGISTRY_BUCKET};
