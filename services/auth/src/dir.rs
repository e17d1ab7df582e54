//! The users file, credentials files and the server's authorization config, under
//! one directory (`<data>/auth` for `stod up`):
//!
//! - `users.json`: every user's name, role, public nkey and the SHA-256 of its HTTP
//!   token. Nothing secret.
//! - `credentials/<name>.creds`: what the user connects with (its nkey seed and HTTP
//!   token), mode 0600. Hand it to the person; delete it from here if you like.
//! - `auth.conf`: the server's `accounts` block (users, permissions, the services
//!   `STOD` exports to `PEOPLE`), generated from `users.json`.

use std::path::{Path, PathBuf};

use stod_events::ids::UserId;

use crate::error::{io, AuthError};
use crate::permissions::render_accounts;
use crate::role::Role;
use crate::user::{sha256_hex, Credentials, User, UsersFile};

fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Keys(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// Writes `contents` to `path` through a temporary file and a rename, so a crash never
/// leaves half a file; `secret` files get mode 0600.
fn write_atomically(path: &Path, contents: &[u8], secret: bool) -> Result<(), AuthError> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if secret {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io(&tmp))?;
        file.write_all(contents).and_then(|_| file.sync_all()).map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// The directory holding the users file, credentials and the server's auth config.
#[derive(Clone, Debug)]
pub struct AuthDir {
    dir: PathBuf,
}

impl AuthDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AuthDir { dir: dir.into() }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn users_path(&self) -> PathBuf {
        self.dir.join("users.json")
    }

    /// The server's `accounts` block, included from its config.
    pub fn server_config_path(&self) -> PathBuf {
        self.dir.join("auth.conf")
    }

    pub fn credentials_path(&self, user: &str) -> PathBuf {
        self.dir.join("credentials").join(format!("{user}.creds"))
    }

    pub fn load_users(&self) -> Result<UsersFile, AuthError> {
        let path = self.users_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| AuthError::Corrupt { path, message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UsersFile::default()),
            Err(source) => Err(AuthError::Io { path, source }),
        }
    }

    /// Adds a user with a new nkey and HTTP token, writes its credentials file and the
    /// server config. Refuses a name that exists.
    pub fn add_user(&self, name: &UserId, role: Role) -> Result<Credentials, AuthError> {
        let mut users = self.load_users()?;
        if users.users.iter().any(|u| &u.name == name) {
            return Err(AuthError::Exists(name.as_str().to_owned()));
        }
        let key = nkeys::KeyPair::new_user();
        let seed = key.seed().map_err(|e| AuthError::Keys(e.to_string()))?;
        let creds = Credentials { user: name.clone(), role, nkey_seed: seed, http_token: random_token()? };
        std::fs::create_dir_all(self.dir.join("credentials")).map_err(io(&self.dir))?;
        // Credentials first: a user in the users file without them could never log in.
        let creds_path = self.credentials_path(name.as_str());
        let json = serde_json::to_vec_pretty(&creds).map_err(|e| AuthError::Keys(e.to_string()))?;
        write_atomically(&creds_path, &json, true)?;
        users.users.push(User {
            name: name.clone(),
            role,
            nkey: key.public_key(),
            http_token_sha256: sha256_hex(&creds.http_token),
        });
        let json = serde_json::to_vec_pretty(&users).map_err(|e| AuthError::Keys(e.to_string()))?;
        write_atomically(&self.users_path(), &json, false)?;
        self.write_server_config()?;
        Ok(creds)
    }

    /// The user's credentials, created with `role` if the user does not exist yet.
    pub fn ensure_user(&self, name: &UserId, role: Role) -> Result<Credentials, AuthError> {
        let users = self.load_users()?;
        match users.users.iter().find(|u| &u.name == name) {
            Some(u) if u.role != role => Err(AuthError::OtherRole(name.as_str().to_owned(), u.role, role)),
            Some(_) => Credentials::load(&self.credentials_path(name.as_str())),
            None => self.add_user(name, role),
        }
    }

    /// (Re)writes `auth.conf` from the users file.
    pub fn write_server_config(&self) -> Result<PathBuf, AuthError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let users = self.load_users()?;
        let path = self.server_config_path();
        write_atomically(&path, render_accounts(&users.users).as_bytes(), true)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_get_keys_credentials_and_a_server_config() {
        let dir = tempfile::tempdir().unwrap();
        let auth = AuthDir::new(dir.path().join("auth"));
        let anna = UserId::parse("anna").unwrap();
        let creds = auth.add_user(&anna, Role::CaseWorker).unwrap();
        assert!(creds.nkey_seed.starts_with("SU"));
        assert!(matches!(auth.add_user(&anna, Role::Auditor), Err(AuthError::Exists(_))));
        assert_eq!(auth.ensure_user(&anna, Role::CaseWorker).unwrap(), creds);
        assert!(matches!(auth.ensure_user(&anna, Role::Auditor), Err(AuthError::OtherRole(..))));
        let users = auth.load_users().unwrap();
        assert_eq!(users.check_http("anna", &creds.http_token), Some(Role::CaseWorker));
        assert_eq!(users.check_http("anna", "wrong"), None);
        assert_eq!(users.check_http("bo", &creds.http_token), None);
        let conf = std::fs::read_to_string(auth.server_config_path()).unwrap();
        assert!(conf.contains(&users.users[0].nkey) && conf.contains("stod.cmd.anna.record"), "{conf}");
        assert!(
            !conf.contains(&creds.nkey_seed) && !conf.contains(&creds.http_token),
            "no secret in the server config"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(auth.credentials_path("anna")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
