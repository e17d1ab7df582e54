//! Who may do what in stod, enforced by nats-server, not by the clients.
//!
//! Every person and every service connects with its own nkey (an Ed25519 key pair: the
//! server keeps only the public key). Each user has one [`Role`]; the role decides the
//! subjects the server lets the user publish and subscribe to ([`permissions`]), with
//! the user's own name inside those subjects. The command service takes the user of a
//! command from its subject, so a case worker cannot act as another: the server would
//! not carry the message. Replies go to a per-user inbox prefix (`_INBOX_<user>`), so
//! nobody can read another's replies. People and services live in two accounts: only
//! the services' account (`STOD`) has JetStream, and people reach the services through
//! its exports, so no reply subject a person names can put a message into the log
//! ([`permissions`] says how).
//!
//! # Layout
//!
//! - [`role`]: the roles and their Swedish names.
//! - [`permissions`]: each role's account and what it may publish and subscribe to,
//!   rendered as the server's `accounts` block ([`render_accounts`]).
//! - [`user`]: the records: a user in the users file, and a user's credentials.
//! - [`dir`]: the directory of the users file, credentials and the server's config
//!   ([`AuthDir`]): adding users, writing the config.
//!
//! # What it does not do
//!
//! It does not run the server or reload it; `stod up` and `stod user add` do, with the
//! files written here.

pub mod dir;
pub mod error;
pub mod permissions;
pub mod role;
pub mod user;

pub use dir::{write_credentials, AuthDir};
pub use error::AuthError;
pub use permissions::{permissions, render_accounts, Account, Permissions, DEMO_WORKERS, EXPORTED_SERVICES};
pub use role::Role;
pub use stod_protocol::inbox_prefix;
pub use user::{Credentials, User, UsersFile};
