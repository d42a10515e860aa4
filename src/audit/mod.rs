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
/// centre must keep, not a cache. Without either variable it is relative to the working
/// directory, never a temporary directory that is emptied at reboot.
pub fn default_path() -> PathBuf {
    crate::paths::audit_log()
}
