//! The service-centre desk's audit log: every desk action, who did it, for which card and
//! customer, and how it ended; never a PIN or PUK (the [`Record`] type has no place for one).
//!
//! One JSON line per [`Entry`], appended and synced before the desk says "recorded". Each entry
//! carries the hash of the one before, so [`verify`] names the first entry that was edited,
//! deleted, moved or damaged. The chain has no secret key: it shows changes made without
//! rebuilding every later hash, and entries cut off the end show only against a `last_hash`
//! kept elsewhere ([`VerifyReport`]): the desk sends each entry's hash to the CA
//! ([`anchor`]), and `audit verify --ca` compares the log with what the CA holds.

pub mod anchor;
mod chain;
mod csv;
mod entry;
mod error;
mod log;

use std::path::PathBuf;

pub use chain::{MAX_LINE, VerifyReport, verify};
pub use csv::{HEADER as CSV_HEADER, export_csv};
pub use entry::{Action, Entry, GENESIS, Outcome, Record};
pub use error::{AuditError, BrokenReason};
pub use log::AuditLog;

/// `$XDG_DATA_HOME/siths-upgrade/audit.log`, else `~/.local/share/siths-upgrade/audit.log`;
/// on Windows `%LOCALAPPDATA%\siths-upgrade\audit.log` ([`crate::paths`]): data the service
/// centre must keep, not a cache. Without either variable there is none (the error names what
/// to set): never a temporary or the working directory, where another user may have made it.
pub fn default_path() -> Result<PathBuf, AuditError> {
    Ok(crate::paths::audit_log()?)
}

/// The desk's own log, ready to open: its folder made owner-only (0700), or checked to be this
/// user's and writable by no one else. [`AuditLog::open`] then checks the file itself.
pub fn desk_log() -> Result<PathBuf, AuditError> {
    let path = default_path()?;
    if let Some(dir) = path.parent() {
        crate::private_file::ensure_private_dir(dir)?;
    }
    Ok(path)
}

/// The desk's own log for `audit verify` and `export` without a FILE: the same checks as the
/// desk's, without creating or changing anything, so a log the desk would refuse (a link, another
/// user's file, one others can change) is not reported as intact. A log given by its path is
/// read wherever it is (a copy kept elsewhere, another desk's log).
pub fn desk_log_for_reading() -> Result<PathBuf, AuditError> {
    let path = default_path()?;
    if let Some(dir) = path.parent()
        && dir.exists()
    {
        crate::private_file::check_dir_unchanged(dir)?;
    }
    if std::fs::symlink_metadata(&path).is_ok() {
        let file =
            crate::private_file::open_no_follow(std::fs::OpenOptions::new().read(true), &path)?;
        crate::private_file::check_file_unchanged(&path, &file)?;
    }
    Ok(path)
}
