//! What can go wrong with the users file and credentials.

use std::path::{Path, PathBuf};

use crate::role::Role;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} kan inte läsas: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("användaren {0} finns redan; välj ett annat namn")]
    Exists(String),
    #[error("användaren {0} finns redan med rollen {1}, inte {2}")]
    OtherRole(String, Role, Role),
    #[error("kunde inte skapa nycklar: {0}")]
    Keys(String),
    #[error("det finns ingen användare {0}; `stod user list` visar vilka som finns")]
    NoSuchUser(String),
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuthError + '_ {
    move |source| AuthError::Io { path: path.to_owned(), source }
}
