//! The desk's hold on its audit log: opened once, every action appended, and a log that cannot
//! be opened or written shown on the desk (and help that changes a card refused) rather than
//! silently lost.

use std::path::{Path, PathBuf};

use crate::audit::anchor::Anchor;
use crate::audit::{AuditLog, Record};

pub struct DeskAudit {
    path: PathBuf,
    log: Result<AuditLog, String>,
    entries: u64,
    /// Entries appended here and not yet anchored at the CA: sent with the operator's next
    /// login (each PUK lookup), so a rewritten or shortened log shows against the CA's copy.
    unanchored: Vec<Anchor>,
}

impl DeskAudit {
    /// The log at `path`; one that cannot be opened (broken, a link, another user's, one others
    /// can change) is shown on the desk and blocks help.
    pub fn open(path: &Path) -> DeskAudit {
        let log = AuditLog::open(path).map_err(|e| e.to_string());
        DeskAudit {
            path: path.to_path_buf(),
            entries: log.as_ref().map(AuditLog::entries).unwrap_or(0),
            log,
            unanchored: Vec::new(),
        }
    }

    /// The desk's own log in the user's data folder ([`crate::audit::desk_log`]), or, without
    /// a folder of the user's own or with one others can change, a desk that shows why.
    pub fn open_default() -> DeskAudit {
        match crate::audit::desk_log() {
            Ok(path) => DeskAudit::open(&path),
            Err(e) => DeskAudit {
                path: PathBuf::new(),
                log: Err(e.to_string()),
                entries: 0,
                unanchored: Vec::new(),
            },
        }
    }

    /// Append; a failure is kept and shown, and blocks further help at the desk.
    pub fn record(&mut self, record: Record) {
        let result = match &mut self.log {
            Ok(log) => log
                .append(record)
                .map(|entry| log.log_id().map(|id| Anchor::for_entry(id, &entry)))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        match result {
            Ok(anchor) => {
                self.entries += 1;
                self.unanchored.extend(anchor);
            }
            Err(e) => {
                log::error!("audit log {}: {e}", self.path.display());
                self.log = Err(e);
            }
        }
    }

    /// The log's path and how many entries it holds, or why it cannot be used.
    pub fn status(&self) -> Result<(String, u64), String> {
        match &self.log {
            Ok(_) => Ok((self.path.display().to_string(), self.entries)),
            Err(e) => Err(e.clone()),
        }
    }

    /// The anchors to send with the operator's next login.
    pub fn pending_anchors(&self) -> Vec<Anchor> {
        self.unanchored.clone()
    }

    /// The CA took these entries' anchors.
    pub fn anchored(&mut self, seqs: &[u64]) {
        self.unanchored.retain(|a| !seqs.contains(&a.seq));
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
