//! The users file, credentials files and the server's authorization config, under
//! one directory (`<data>/auth` for `stod up`):
//!
//! - `users.json`: every user's name, role, public nkey and the SHA-256 of its HTTP
//!   token. Nothing secret.
//! - `credentials/<name>.creds`: what the services of this machine, and the managed
//!   system's operator, connect with (nkey seed and HTTP token), mode 0600. A person's
//!   credentials are never kept here: `stod user add` hands them over once
//!   ([`write_credentials`]), and the server side holds only public keys and digests
//!   (decision 0012).
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

/// A new key pair and token for `name`: what the person connects with, and what the
/// users file holds (the public key and the token's digest).
fn new_keys(name: &UserId, role: Role) -> Result<(Credentials, User), AuthError> {
    let key = nkeys::KeyPair::new_user();
    let seed = key.seed().map_err(|e| AuthError::Keys(e.to_string()))?;
    let creds = Credentials { user: name.clone(), role, nkey_seed: seed, http_token: random_token()? };
    let user =
        User { name: name.clone(), role, nkey: key.public_key(), http_token_sha256: sha256_hex(&creds.http_token) };
    Ok((creds, user))
}

/// Writes a person's credentials to `path` (mode 0600), for them to keep. Refuses to
/// overwrite a file.
pub fn write_credentials(path: &Path, creds: &Credentials) -> Result<(), AuthError> {
    use std::io::Write as _;
    let json = serde_json::to_vec_pretty(creds).map_err(|e| AuthError::Keys(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(&json).and_then(|_| file.sync_all()).map_err(io(path))
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

    /// Holds the directory's lock (`users.lock`, an exclusive `flock`) until dropped:
    /// every change of the users file is a read, a change and a write, and two
    /// processes (`stod user add` beside a running `stod up`) must not interleave them,
    /// or one of the changes is lost.
    fn lock(&self) -> Result<std::fs::File, AuthError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.dir.join("users.lock");
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd as _;
            // SAFETY: flock(2) on a descriptor we own and keep open while the lock is held.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(AuthError::Io { path, source: std::io::Error::last_os_error() });
            }
        }
        Ok(file)
    }

    fn save_users(&self, users: &UsersFile) -> Result<(), AuthError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let json = serde_json::to_vec_pretty(users).map_err(|e| AuthError::Keys(e.to_string()))?;
        write_atomically(&self.users_path(), &json, false)?;
        self.write_server_config()?;
        Ok(())
    }

    /// Adds a person with a new nkey and HTTP token and rewrites the server config.
    /// Their credentials are returned, not kept here: hand them over
    /// ([`write_credentials`]) and the server side holds only the public key and the
    /// token's digest. Refuses a name that exists.
    pub fn add_user(&self, name: &UserId, role: Role) -> Result<Credentials, AuthError> {
        let _lock = self.lock()?;
        let mut users = self.load_users()?;
        if users.users.iter().any(|u| &u.name == name) {
            return Err(AuthError::Exists(name.as_str().to_owned()));
        }
        let (creds, user) = new_keys(name, role)?;
        users.users.push(user);
        self.save_users(&users)?;
        Ok(creds)
    }

    /// A service's (or the managed system's operator's) credentials, kept in this
    /// directory because the processes of this machine connect with them; created
    /// with `role` if the user does not exist yet.
    pub fn ensure_user(&self, name: &UserId, role: Role) -> Result<Credentials, AuthError> {
        let _lock = self.lock()?;
        let users = self.load_users()?;
        match users.users.iter().find(|u| &u.name == name) {
            Some(u) if u.role != role => Err(AuthError::OtherRole(name.as_str().to_owned(), u.role, role)),
            Some(_) => Credentials::load(&self.credentials_path(name.as_str())),
            None => {
                let mut users = users;
                let (creds, user) = new_keys(name, role)?;
                // Credentials first: a user in the users file without them could never
                // log in.
                self.keep_credentials(&creds)?;
                users.users.push(user);
                self.save_users(&users)?;
                Ok(creds)
            }
        }
    }

    /// Whether a user's credentials are kept here ([`ensure_user`](Self::ensure_user)).
    pub fn keeps_credentials(&self, name: &str) -> bool {
        self.credentials_path(name).exists()
    }

    fn keep_credentials(&self, creds: &Credentials) -> Result<(), AuthError> {
        let dir = self.dir.join("credentials");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let json = serde_json::to_vec_pretty(creds).map_err(|e| AuthError::Keys(e.to_string()))?;
        write_atomically(&self.credentials_path(creds.user.as_str()), &json, true)
    }

    /// Removes a user: the server refuses their key and token as soon as it reloads.
    /// Kept credentials are deleted too.
    pub fn remove_user(&self, name: &UserId) -> Result<User, AuthError> {
        let _lock = self.lock()?;
        let mut users = self.load_users()?;
        let at =
            users.users.iter().position(|u| &u.name == name).ok_or_else(|| AuthError::NoSuchUser(name.to_string()))?;
        let removed = users.users.remove(at);
        self.save_users(&users)?;
        let kept = self.credentials_path(name.as_str());
        match std::fs::remove_file(&kept) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(AuthError::Io { path: kept, source }),
        }
        Ok(removed)
    }

    /// A new nkey and HTTP token for a user; the old ones are refused as soon as the
    /// server reloads. Kept credentials are replaced; a person's new ones are returned
    /// to hand over.
    pub fn rotate_user(&self, name: &UserId) -> Result<Credentials, AuthError> {
        let _lock = self.lock()?;
        let mut users = self.load_users()?;
        let entry =
            users.users.iter_mut().find(|u| &u.name == name).ok_or_else(|| AuthError::NoSuchUser(name.to_string()))?;
        let (creds, user) = new_keys(name, entry.role)?;
        *entry = user;
        if self.keeps_credentials(name.as_str()) {
            self.keep_credentials(&creds)?;
        }
        self.save_users(&users)?;
        Ok(creds)
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
    fn changes_from_two_writers_at_once_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let auth = AuthDir::new(dir.path().join("auth"));
                std::thread::spawn(move || {
                    for n in 0..15 {
                        auth.add_user(&UserId::parse(&format!("user{w}x{n}")).unwrap(), Role::CaseWorker).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(AuthDir::new(dir.path().join("auth")).load_users().unwrap().users.len(), 30);
    }

    #[test]
    fn users_get_keys_and_a_server_config_and_only_services_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let auth = AuthDir::new(dir.path().join("auth"));
        let anna = UserId::parse("anna").unwrap();
        let creds = auth.add_user(&anna, Role::CaseWorker).unwrap();
        assert!(creds.nkey_seed.starts_with("SU"));
        assert!(!auth.keeps_credentials("anna"), "a person's credentials are handed over, not kept");
        assert!(matches!(auth.add_user(&anna, Role::Auditor), Err(AuthError::Exists(_))));
        assert!(matches!(auth.ensure_user(&anna, Role::Auditor), Err(AuthError::OtherRole(..))));
        let users = auth.load_users().unwrap();
        assert_eq!(users.check_http("anna", &creds.http_token), Some(Role::CaseWorker));
        assert_eq!(users.check_http("anna", "wrong"), None);
        assert_eq!(users.check_http("bo", &creds.http_token), None);
        let conf = std::fs::read_to_string(auth.server_config_path()).unwrap();
        assert!(conf.contains(&users.users[0].nkey) && conf.contains("stod.cmd.anna.record"), "{conf}");
        assert!(!conf.contains(&creds.nkey_seed) && !conf.contains(&creds.http_token), "no secret in the config");

        let handed = dir.path().join("anna.creds");
        write_credentials(&handed, &creds).unwrap();
        assert_eq!(Credentials::load(&handed).unwrap(), creds);
        assert!(write_credentials(&handed, &creds).is_err(), "never overwrites");

        let svc = UserId::parse("stod-command").unwrap();
        let kept = auth.ensure_user(&svc, Role::CommandService).unwrap();
        assert_eq!(auth.ensure_user(&svc, Role::CommandService).unwrap(), kept);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for path in [auth.credentials_path("stod-command"), handed] {
                assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{path:?}");
            }
        }

        // Rotation: new key and token, the old ones gone from the config.
        let rotated = auth.rotate_user(&anna).unwrap();
        assert_ne!(rotated.nkey_seed, creds.nkey_seed);
        let users = auth.load_users().unwrap();
        assert_eq!(users.check_http("anna", &creds.http_token), None);
        assert_eq!(users.check_http("anna", &rotated.http_token), Some(Role::CaseWorker));
        let old_public = nkeys::KeyPair::from_seed(&creds.nkey_seed).unwrap().public_key();
        assert!(!std::fs::read_to_string(auth.server_config_path()).unwrap().contains(&old_public));
        assert_eq!(auth.rotate_user(&svc).unwrap(), Credentials::load(&auth.credentials_path("stod-command")).unwrap());

        // Removal.
        auth.remove_user(&anna).unwrap();
        assert!(auth.load_users().unwrap().users.iter().all(|u| u.name != anna));
        assert!(!std::fs::read_to_string(auth.server_config_path()).unwrap().contains("stod.cmd.anna.record"));
        assert!(matches!(auth.remove_user(&anna), Err(AuthError::NoSuchUser(_))));
        auth.remove_user(&svc).unwrap();
        assert!(!auth.keeps_credentials("stod-command"));
    }
}
