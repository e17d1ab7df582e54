//! Who may do what in stod, enforced by nats-server, not by the clients.
//!
//! Every person and every service connects with its own nkey (an Ed25519 key pair: the
//! server keeps only the public key). Each user has one [`Role`]; the role decides the
//! subjects the server lets the user publish and subscribe to ([`permissions`]), with
//! the user's own name inside those subjects. The command service takes the user of a
//! command from its subject, so a case worker cannot act as another: the server would
//! not carry the message. Replies go to a per-user inbox prefix (`_INBOX_<user>`), so
//! nobody can read another's replies.
//!
//! # Layout
//!
//! - [`role`]: the roles and their Swedish names.
//! - [`permissions`]: what each role may publish and subscribe to, rendered as the
//!   server's `authorization` block ([`render_authorization`]).
//! - [`users`]: the users file, credentials files, HTTP tokens, adding a user.
//!
//! # What it does not do
//!
//! It does not run the server or reload it; `stod up` and `stod user add` do, with the
//! files written here.

pub mod permissions;
pub mod role;
pub mod users;

pub use permissions::{permissions, render_authorization, Permissions};
pub use role::Role;
pub use users::{AuthDir, AuthError, Credentials, User, UsersFile};

/// The inbox prefix of `user`: replies to its requests arrive under it, and only it may
/// subscribe there.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// Connect options for a user's credentials: its nkey and its own inbox prefix.
pub fn connect_options(creds: &Credentials) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::with_nkey(creds.nkey_seed.clone())
        .custom_inbox_prefix(inbox_prefix(creds.user.as_str()))
}
