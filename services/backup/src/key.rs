//! The participant registry's key, sealed with a passphrase so that it can be kept
//! apart from the backups (another medium, a safe): the age format
//! (age-encryption.org/v1, scrypt recipient), which the `age` tool opens as well.

use age::secrecy::SecretString;

use crate::error::BackupError;

/// The shortest passphrase accepted: the sealed key is only as strong as it.
pub const MIN_PASSPHRASE: usize = 12;

pub fn seal(key: &[u8], passphrase: &str) -> Result<Vec<u8>, BackupError> {
    if passphrase.chars().count() < MIN_PASSPHRASE {
        return Err(BackupError::Usage(format!(
            "lösenfrasen är för kort: minst {MIN_PASSPHRASE} tecken (gärna flera ord)"
        )));
    }
    let recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    age::encrypt(&recipient, key).map_err(|e| BackupError::Io(format!("nyckeln kunde inte förseglas: {e}")))
}

pub fn unseal(sealed: &[u8], passphrase: &str) -> Result<Vec<u8>, BackupError> {
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    age::decrypt(&identity, sealed).map_err(|e| {
        BackupError::Usage(format!(
            "den förseglade nyckeln kunde inte öppnas (fel lösenfras, eller ingen förseglad nyckel): {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_with_its_passphrase_only() {
        let key = b"0123456789abcdef0123456789abcdef";
        let sealed = seal(key, "korrekt häst batteri").unwrap();
        assert!(!sealed.windows(key.len()).any(|w| w == key));
        assert_eq!(unseal(&sealed, "korrekt häst batteri").unwrap(), key);
        assert!(unseal(&sealed, "fel lösenfras här").is_err());
        assert!(seal(key, "kort").is_err());
    }
}
