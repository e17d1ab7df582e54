//! The records of who may log in: each user's name, role, public key and token digest
//! (`users.json`, nothing secret), and a user's own credentials (secret).

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stod_events::ids::UserId;

use crate::error::{io, AuthError};
use crate::role::Role;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: UserId,
    pub role: Role,
    /// The public half of the user's nkey; the server checks the user's signature with it.
    pub nkey: String,
    /// SHA-256 of the user's HTTP token (hex), so the file holds no secret.
    pub http_token_sha256: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersFile {
    pub users: Vec<User>,
}

/// What a user connects with. Secret: written with mode 0600.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub user: UserId,
    pub role: Role,
    /// The nkey seed (`SU...`): proves the user to nats-server.
    pub nkey_seed: String,
    /// For the dashboard and JSON API (HTTP Basic: the user's name and this token).
    pub http_token: String,
}

impl Credentials {
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        serde_json::from_str(&text).map_err(|e| AuthError::Corrupt { path: path.to_owned(), message: e.to_string() })
    }
}

impl UsersFile {
    /// The role of `name` if `token` is its HTTP token. Compares digests, so the time
    /// taken says nothing about the token.
    pub fn check_http(&self, name: &str, token: &str) -> Option<Role> {
        let digest = sha256_hex(token);
        self.users
            .iter()
            .find(|u| u.name.as_str() == name)
            .filter(|u| constant_time_eq(u.http_token_sha256.as_bytes(), digest.as_bytes()))
            .map(|u| u.role)
    }
}

pub(crate) fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl UsersFile {
    /// Checks a users file that comes from outside (a backup being restored): only
    /// roles `stod user add` gives, each name once, none of the names in `reserved`
    /// (the services'), and each key a user's public nkey. A file that fails is not
    /// restored: a service's role in it would be a way around the log's boundary.
    pub fn check_handed_over(&self, reserved: &[&str]) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for u in &self.users {
            if !crate::Role::GRANTED.contains(&u.role) {
                return Err(format!(
                    "användaren {} har rollen {}, som ingen person eller spegel kan ha",
                    u.name, u.role
                ));
            }
            if reserved.contains(&u.name.as_str()) {
                return Err(format!("användarnamnet {} är en tjänsts", u.name));
            }
            if !seen.insert(u.name.as_str()) {
                return Err(format!("användaren {} finns två gånger", u.name));
            }
            let valid = nkeys::KeyPair::from_public_key(&u.nkey).is_ok() && u.nkey.starts_with('U');
            if !valid || u.http_token_sha256.len() != 64 {
                return Err(format!("användaren {} har ingen giltig publik nyckel eller token-kontrollsumma", u.name));
            }
        }
        Ok(())
    }
}
