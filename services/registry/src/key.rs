//! The registry's secret key and the keyed hash it makes of a personnummer.
//!
//! There are only about 10^10 possible personnummer, so a plain hash (SHA-256 of the
//! number) would be reversed in minutes by hashing them all. A keyed hash,
//! HMAC-SHA256 with a 32-byte random key, cannot be computed without the key: someone
//! holding a copy of the registry bucket, but not the key, learns nothing from the
//! stored hashes, not even by trying every number. With the key, one number can be
//! checked, which is exactly what a lookup does. So the key lives in a file beside
//! the service (`<data>/registry.key`, mode 0600), never in NATS, never with a client,
//! and must be backed up separately from the NATS data: without it the registry's
//! entries can no longer be found (the log and the statistics are unaffected).

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::personnummer::Personnummer;

/// The key's length in bytes.
pub const KEY_LEN: usize = 32;

/// The registry's secret. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct RegistryKey {
    bytes: [u8; KEY_LEN],
}

impl fmt::Debug for RegistryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RegistryKey(..)")
    }
}

/// The key file could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("registernyckeln {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("registernyckeln {path} har {len} byte, väntade {KEY_LEN}: filen är skadad eller inte en registernyckel")]
    Length { path: String, len: usize },
    #[error("kunde inte ta fram slumptal till registernyckeln: {0}")]
    Random(String),
    #[error("registernyckeln {path} kan läsas av andra (läge {mode:o}); den används inte förrän den bara kan läsas av sin ägare: chmod 600 {path}")]
    LooseMode { path: String, mode: u32 },
}

impl RegistryKey {
    /// A new random key (from the operating system's generator).
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self { bytes })
    }

    /// A key from given bytes (tests, and tools that keep the key elsewhere).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self { bytes }
    }

    /// The raw key, e.g. for a test that checks it never leaks.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Reads the key at `path`, or creates it (mode 0600, with its directory) if there
    /// is none. Two processes starting at once cannot both create one: the file is
    /// created exclusively, and the loser reads the winner's.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { path: path.display().to_string(), source };
        match Self::load(path) {
            Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let key = Self::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(&key.bytes).map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %path.display(), "created a new registry key; back it up apart from the NATS data");
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path),
            Err(e) => Err(io(e)),
        }
    }

    /// Reads an existing key file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { path: path.display().to_string(), source };
        let mut file = std::fs::File::open(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file.metadata().map_err(io)?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(KeyError::LooseMode { path: path.display().to_string(), mode: mode & 0o777 });
            }
        }
        let mut bytes = Vec::with_capacity(KEY_LEN);
        (&mut file).take(KEY_LEN as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
        let bytes: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Length { path: path.display().to_string(), len: bytes.len() })?;
        Ok(Self { bytes })
    }

    /// HMAC-SHA256(key, the twelve digits) as 64 lowercase hex characters: the
    /// registry's key for this person.
    pub fn hash(&self, personnummer: &Personnummer) -> String {
        // A 32-byte key is always a valid HMAC key.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.bytes).expect("HMAC takes a key of any length");
        mac.update(personnummer.normalised().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pnr() -> Personnummer {
        let d = [9, 0, 0, 3, 1, 4, 1, 2, 3];
        let s = format!("19900314123{}", crate::personnummer::luhn_check_digit(&d));
        Personnummer::parse(&s, chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()).unwrap()
    }

    #[test]
    fn the_key_file_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/registry.key");
        let first = RegistryKey::load_or_create(&path).unwrap();
        let again = RegistryKey::load_or_create(&path).unwrap();
        assert_eq!(first.as_bytes(), again.as_bytes());
        assert_eq!(std::fs::read(&path).unwrap().len(), KEY_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(format!("{first:?}"), "RegistryKey(..)");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.key");
        RegistryKey::load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(RegistryKey::load(&path), Err(KeyError::LooseMode { mode: 0o640, .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(RegistryKey::load(&path).is_ok());
    }

    #[test]
    fn a_damaged_key_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.key");
        std::fs::write(&path, b"short").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(RegistryKey::load_or_create(&path), Err(KeyError::Length { len: 5, .. })));
        assert_eq!(std::fs::read(&path).unwrap(), b"short");
    }

    #[test]
    fn the_hash_depends_on_the_key_and_hides_the_number() {
        let a = RegistryKey::from_bytes([1; KEY_LEN]);
        let b = RegistryKey::from_bytes([2; KEY_LEN]);
        let p = pnr();
        assert_eq!(a.hash(&p), a.hash(&p));
        assert_ne!(a.hash(&p), b.hash(&p));
        assert_eq!(a.hash(&p).len(), 64);
        assert!(!a.hash(&p).contains("900314"));
    }
}
