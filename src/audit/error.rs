//! What can go wrong with the audit log, each with the next step in its message.

use std::path::PathBuf;

/// Why `verify` (and so `open`) stopped at a line. Each names the likely cause so whoever reads
/// the message knows whether to suspect tampering or a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokenReason {
    /// The entry's hash does not match its fields: a field was changed after it was written.
    EditedEntry,
    /// The entry's `prev` is not the hash of the line before it: an entry before it was
    /// deleted, or entries were moved or copied.
    DeletedOrReordered,
    /// Hash and link are right but the number is not: the chain was rebuilt by hand.
    BadSequence { expected: u64 },
    /// Not an audit entry at all (garbage, an empty line, a line longer than any entry).
    Unparseable,
    /// The last line has no line end: the program stopped while writing it (crash or power
    /// loss), and since `append` returns only after the line is on disk, the desk never showed
    /// that entry as recorded.
    TruncatedLastLine,
}

/// "entry 7 (line 7) was edited after it was written": the finding, without the next step.
pub fn finding(line: usize, seq: Option<u64>, reason: BrokenReason) -> String {
    let entry = match seq {
        Some(seq) => format!("entry {seq} (line {line})"),
        None => format!("line {line}"),
    };
    match reason {
        BrokenReason::EditedEntry => format!("{entry} was edited after it was written"),
        BrokenReason::DeletedOrReordered => format!(
            "{entry} does not follow the entry before it: an entry was deleted there, or \
             entries were moved or copied"
        ),
        BrokenReason::BadSequence { expected } => {
            format!("{entry} has the wrong number (entry {expected} belongs on that line)")
        }
        BrokenReason::Unparseable => format!("{entry} is not an audit entry (garbage or damage)"),
        BrokenReason::TruncatedLastLine => format!(
            "the last line ({entry}) is incomplete: the program stopped while writing it, so the \
             desk never showed that entry as recorded"
        ),
    }
}

fn missing(path: &std::path::Path) -> String {
    // The desk's own log, where `default_path` puts it.
    match crate::paths::audit_log() {
        Ok(desk) if path == desk => format!(
            "there is no audit log at {}: the desk has recorded nothing on this computer yet",
            path.display()
        ),
        Ok(desk) => format!(
            "there is no audit log at {}: check the path (the desk writes to {})",
            path.display(),
            desk.display()
        ),
        Err(_) => format!(
            "there is no audit log at {}: check the path",
            path.display()
        ),
    }
}

fn next_step(reason: &BrokenReason) -> &'static str {
    match reason {
        BrokenReason::TruncatedLastLine => {
            "The desk adds nothing after it. Keep a copy of the file, then delete the incomplete last \
             line with a text editor (or rename the file so the desk starts a new log)"
        }
        _ => {
            "The desk adds nothing to a broken log. Keep the file unchanged as evidence and report it; to go on \
             working, rename it (e.g. to audit.log.broken) so the desk starts a new log"
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(
        "the audit log {} is broken: {}. {}",
        path.display(),
        finding(*line, *seq, *reason),
        next_step(reason)
    )]
    Broken {
        path: PathBuf,
        /// 1-based line number in the file.
        line: usize,
        /// The entry's own number, when the line could be read as an entry.
        seq: Option<u64>,
        reason: BrokenReason,
    },
    #[error("{}", missing(.0))]
    Missing(PathBuf),
    #[error(
        "cannot {doing} the audit log {}: {source}. Check the path, its permissions and the free \
         disk space, then try again",
        path.display()
    )]
    Io {
        path: PathBuf,
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "this entry would be {bytes} bytes, more than the {max} an entry may hold: shorten the \
         detail and record it again"
    )]
    TooLong { bytes: usize, max: usize },
    #[error(
        "the audit log {} was rewritten: entry {seq} is not the entry the CA received when it \
         was written. Keep the file unchanged as evidence and report it",
        path.display()
    )]
    Rewritten { path: PathBuf, seq: u64 },
    #[error(
        "the audit log {} was shortened: it ends at entry {entries}, but the CA holds entry \
         {anchored}. Keep the file unchanged as evidence and report it",
        path.display()
    )]
    Shortened {
        path: PathBuf,
        entries: u64,
        anchored: u64,
    },
    #[error(
        "the CA holds no anchor for the audit log {} ({entries} entries): its first entry was \
         rewritten, it was emptied, or the desk never reached the CA. Check the CA address; if \
         it is right, keep the file unchanged as evidence and report it",
        path.display()
    )]
    NotAnchored { path: PathBuf, entries: u64 },
    #[error(
        "entries {} of the audit log {} were written more than {hours} hours ago and the CA \
         never received their anchors, so they may have been rewritten unseen. Look them up at \
         the desk with the operator's card (a PUK lookup sends what is pending); if they stay \
         unanchored, keep the file unchanged as evidence and report it",
        list(entries),
        path.display()
    )]
    NotAnchoredInTime {
        path: PathBuf,
        entries: Vec<u64>,
        hours: i64,
    },
    #[error(
        "the CA holds {} more audit log(s) of operator {operator} than were given: {}. A log was \
         rebuilt beside the old one, or is kept out of sight: give every log of this operator to \
         `audit verify --ca`, or keep the files unchanged as evidence and report it",
        missing.len(),
        missing.join("; ")
    )]
    LogsMissing {
        operator: String,
        /// One description per log the CA holds that was not given (id, desk, entries, when).
        missing: Vec<String>,
    },
    #[error(
        "the audit log {} names operator {claimed} in its entries, but the CA holds it as \
         operator {owner}'s log. Keep the file unchanged as evidence and report it",
        path.display()
    )]
    OwnedByAnother {
        path: PathBuf,
        claimed: String,
        owner: String,
    },
    #[error("{0}")]
    Anchors(String),
    /// No folder of the user's own to keep the desk's log in.
    #[error("{0}")]
    NoFolder(#[from] crate::paths::NoProfileFolder),
    /// The log or its folder is a link, another user's, or others can change it.
    #[error("the audit log cannot be used: {0}")]
    NotPrivate(#[from] crate::private_file::PrivateError),
    #[error(
        "cannot write the CSV export: {0}. Check the output path and the free disk space, then \
         export again"
    )]
    Export(#[source] std::io::Error),
}

fn list(entries: &[u64]) -> String {
    let shown: Vec<String> = entries.iter().take(20).map(u64::to_string).collect();
    let more = entries.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl AuditError {
    pub(crate) fn io(path: &std::path::Path, doing: &'static str, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound && doing == "read" {
            return AuditError::Missing(path.to_path_buf());
        }
        AuditError::Io {
            path: path.to_path_buf(),
            doing,
            source,
        }
    }

    /// The sentence naming the first broken entry, for a caller (CLI, GUI) that says the rest
    /// in its own words; `None` for errors that are not a broken chain.
    pub fn finding(&self) -> Option<String> {
        match self {
            AuditError::Broken {
                line, seq, reason, ..
            } => Some(finding(*line, *seq, *reason)),
            _ => None,
        }
    }
}
