//! Reading a log line by line and checking each entry's hash, link and number.

use std::io::{BufRead, Read};
use std::path::Path;

use super::entry::{Entry, GENESIS};
use super::error::{AuditError, BrokenReason};

/// No entry the desk writes comes near this; a longer line is garbage, and the limit keeps a
/// huge file without line ends from being read into memory whole.
pub const MAX_LINE: usize = 64 * 1024;

/// What an intact log holds. Keep `last_hash` somewhere else (a ticket, a mail) to notice
/// later if entries were cut off the end: the chain alone cannot show a shortened log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub entries: u64,
    /// The last entry's hash, or 64 zeros for an empty log.
    pub last_hash: String,
}

/// Where a scan ended: the report plus how many bytes it read, so the log can notice a file
/// that another program appended to since.
pub(crate) struct Scanned {
    pub report: VerifyReport,
    pub bytes: u64,
}

/// Check every line of `reader` in order and hand each good entry to `each`; stop at the first
/// broken one. `path` only names the file in errors.
pub(crate) fn scan(
    path: &Path,
    mut reader: impl BufRead,
    mut each: impl FnMut(&Entry),
) -> Result<Scanned, AuditError> {
    let mut entries: u64 = 0;
    let mut last_hash = GENESIS.to_string();
    let mut bytes: u64 = 0;
    let mut line: usize = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| AuditError::io(path, "read", e))?;
        if n == 0 {
            break;
        }
        line += 1;
        let broken = |seq: Option<u64>, reason| AuditError::Broken {
            path: path.to_path_buf(),
            line,
            seq,
            reason,
        };
        let Some(body) = buf.strip_suffix(b"\n") else {
            if buf.len() > MAX_LINE {
                return Err(broken(None, BrokenReason::Unparseable));
            }
            // Short and no line end: the read stopped at the end of the file.
            let seq = serde_json::from_slice::<Entry>(&buf).ok().map(|e| e.seq);
            return Err(broken(seq, BrokenReason::TruncatedLastLine));
        };
        let entry: Entry =
            serde_json::from_slice(body).map_err(|_| broken(None, BrokenReason::Unparseable))?;
        let seq = Some(entry.seq);
        // Hash before link: an edited entry is named as edited, not as the one after it.
        if entry.compute_hash() != entry.hash {
            return Err(broken(seq, BrokenReason::EditedEntry));
        }
        if entry.prev != last_hash {
            return Err(broken(seq, BrokenReason::DeletedOrReordered));
        }
        let expected = entries.saturating_add(1);
        if entry.seq != expected {
            return Err(broken(seq, BrokenReason::BadSequence { expected }));
        }
        entries = expected;
        bytes = bytes.saturating_add(n as u64);
        each(&entry);
        last_hash = entry.hash;
    }
    Ok(Scanned {
        report: VerifyReport { entries, last_hash },
        bytes,
    })
}

/// Check the whole chain of the log at `path`: every entry unchanged, in order, none missing
/// between the first and the last. The error names the first broken line.
pub fn verify(path: &Path) -> Result<VerifyReport, AuditError> {
    let file = std::fs::File::open(path).map_err(|e| AuditError::io(path, "read", e))?;
    Ok(scan(path, std::io::BufReader::new(file), |_| {})?.report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::entry::{Action, Outcome, Record};

    fn lines(n: u64) -> Vec<String> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let e = Entry::new(
                    seq,
                    "2026-01-02T03:04:05Z".into(),
                    Record {
                        operator: "op".into(),
                        card_serial: "1".into(),
                        customer: "c".into(),
                        action: Action::IdentityCheck,
                        outcome: Outcome::Done,
                        detail: format!("d{seq}"),
                    },
                    prev.clone(),
                );
                prev = e.hash.clone();
                serde_json::to_string(&e).unwrap()
            })
            .collect()
    }

    fn check(text: &str) -> Result<VerifyReport, AuditError> {
        scan(Path::new("t"), text.as_bytes(), |_| {}).map(|s| s.report)
    }

    fn reason(text: &str) -> (usize, Option<u64>, BrokenReason) {
        match check(text) {
            Err(AuditError::Broken {
                line, seq, reason, ..
            }) => (line, seq, reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_log_is_intact() {
        let r = check("").unwrap();
        assert_eq!((r.entries, r.last_hash.as_str()), (0, GENESIS));
    }

    #[test]
    fn windows_line_ends_still_verify() {
        let l = lines(2);
        assert_eq!(
            check(&format!("{}\r\n{}\r\n", l[0], l[1])).unwrap().entries,
            2
        );
    }

    #[test]
    fn each_kind_of_break_is_named() {
        let l = lines(3);
        assert_eq!(
            reason(&format!("{}\n\n{}\n", l[0], l[1])),
            (2, None, BrokenReason::Unparseable)
        );
        assert_eq!(
            reason(&format!("{}\n{}\n{}", l[0], l[1], l[2])),
            (3, Some(3), BrokenReason::TruncatedLastLine)
        );
        assert_eq!(
            reason(&format!("{}\n{}\n", l[0], l[2])),
            (2, Some(3), BrokenReason::DeletedOrReordered)
        );
        let forged = {
            let mut e: Entry = serde_json::from_str(&l[1]).unwrap();
            e.seq = 5;
            e.hash = e.compute_hash();
            serde_json::to_string(&e).unwrap()
        };
        assert_eq!(
            reason(&format!("{}\n{forged}\n", l[0])),
            (2, Some(5), BrokenReason::BadSequence { expected: 2 })
        );
        let extra_field = l[0].replacen('{', "{\"pin\":\"1\",", 1);
        assert_eq!(
            reason(&format!("{extra_field}\n")),
            (1, None, BrokenReason::Unparseable)
        );
    }

    #[test]
    fn a_line_longer_than_any_entry_is_garbage_not_read_whole() {
        let text = "x".repeat(MAX_LINE * 3);
        assert_eq!(reason(&text), (1, None, BrokenReason::Unparseable));
    }
}
