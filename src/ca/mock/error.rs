//! What can stop the CA mock (making, loading or serving DIR), each naming the file and the fix.
//! Its own module so that every part of the mock reports through it without reaching into
//! `mock/mod.rs`.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error("{0} is not empty; give a new or empty directory (ca-mock init never overwrites a CA)")]
    NotEmpty(PathBuf),
    #[error("{0}: {1}; check the path and its permissions")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}; fix the directory of persons (see assets/test-persons.json)")]
    Directory(PathBuf, String),
    #[error("{0}: {1}")]
    Config(PathBuf, String),
    #[error("{0}: not a usable PEM file ({1}); run ca-mock init for a fresh directory")]
    Pem(PathBuf, String),
    #[error("{0}: {1}")]
    Pki(PathBuf, crate::pki::PkiError),
    #[error("{0}: the store failed ({1}); check the file, or move it away to start empty")]
    Store(PathBuf, String),
    #[error("{0}: TLS setup failed ({1}); run ca-mock init for a fresh directory")]
    Tls(PathBuf, String),
    #[error("{0}: making the card failed ({1})")]
    Card(PathBuf, String),
    #[error("cannot listen on {0}: {1}; pick another address or stop what uses it")]
    Listen(String, std::io::Error),
}
