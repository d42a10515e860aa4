//! Anchoring the log off the desk. Whoever owns the log file can rebuild the whole chain with
//! fresh hashes, or cut entries off its end, and [`super::verify`] cannot tell. So the desk
//! sends each entry's hash, with the action it records, to the CA as soon as the entry is
//! written ([`Anchor`], logged in with the operator's card). The CA keeps them where the desk cannot change them, and [`check`] compares a log with them:
//! an entry whose hash differs from its anchor was rewritten, an anchor beyond the log's last
//! entry shows a shortened log.
//!
//! A log is named by its first entry's hash ([`log_id`]): every entry is chained to it, and it
//! needs no state beside the file. Such a name alone would let the owner rebuild the whole log
//! under a new name and anchor that instead, so the CA also keeps who owns each log (the
//! operator and desk of its first anchor; anyone else's anchors are refused) and lists every
//! log of an operator ([`LogList`]): [`check_logs`] fails while a log of the operator that the
//! CA holds is not among the files checked.

use std::path::Path;

/// The anchors' bodies are the CA contract's: the desk sends, and the checks below read, what
/// the CA defines.
pub use crate::ca::contract::{
    Anchor, AnchorList, DESK_NAME_MAX_BYTES, LogInfo, LogList, StoredAnchor,
};

use super::chain;
use super::entry::Entry;
use super::error::AuditError;

/// How long an entry may wait for its anchor before `audit verify --ca` fails: the desk sends
/// pending anchors with the operator's next login, so a working desk anchors within a day.
pub const UNANCHORED_GRACE_SECONDS: i64 = 24 * 3600;

impl Anchor {
    /// The anchor of `entry` in the log named `log`, kept at this computer ([`desk_name`]).
    pub fn for_entry(log: &str, entry: &Entry) -> Anchor {
        Anchor {
            log: log.to_string(),
            seq: entry.seq,
            hash: entry.hash.clone(),
            action: entry.action.as_str().to_string(),
            desk: desk_name(),
        }
    }
}

/// This computer's name, which the desk's anchors carry so an auditor knows where a log the
/// CA lists is kept. Self-declared: it locates a log, it proves nothing.
pub fn desk_name() -> String {
    let name = std::env::var("COMPUTERNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    desk_name_from(&name)
}

/// A host name as the anchors carry it: trimmed, without control characters, cut on a
/// character boundary to [`DESK_NAME_MAX_BYTES`] (a non-ASCII name of 64 characters is longer
/// than 64 bytes, and the CA would refuse every anchor).
fn desk_name_from(raw: &str) -> String {
    let mut name = String::new();
    for c in raw.trim().chars().filter(|c| !c.is_control()) {
        if name.len() + c.len_utf8() > DESK_NAME_MAX_BYTES {
            break;
        }
        name.push(c);
    }
    if name.is_empty() {
        "unnamed".into()
    } else {
        name
    }
}

/// The id of the log at `path`: its first entry's hash, `None` for an empty log. The chain is
/// not checked here.
pub fn log_id(path: &Path) -> Result<Option<String>, AuditError> {
    let file = std::fs::File::open(path).map_err(|e| AuditError::io(path, "read", e))?;
    let mut first = None;
    // Only the first line is needed; a broken chain further on is `check`'s to report.
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    use std::io::{BufRead, Read};
    (&mut reader)
        .take(chain::MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)
        .map_err(|e| AuditError::io(path, "read", e))?;
    if let Ok(entry) = serde_json::from_slice::<Entry>(line.strip_suffix(b"\n").unwrap_or(&line)) {
        first = Some(entry.hash);
    }
    Ok(first)
}

/// What a log checked against the CA's anchors holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorReport {
    pub entries: u64,
    pub last_hash: String,
    /// Entries the CA holds an anchor for (all matching).
    pub anchored: u64,
    /// Entries without an anchor (the CA could not be reached when they were written).
    pub unanchored: Vec<u64>,
    /// Those of them written more than [`UNANCHORED_GRACE_SECONDS`] before the check.
    pub overdue: Vec<u64>,
    /// The operator of the log's first entry: whose logs the CA is asked for.
    pub operator: String,
}

/// `YYYY-MM-DDTHH:MM:SSZ` as unix seconds; `None` for anything else.
fn parse_time(text: &str) -> Option<i64> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut ymd = date.splitn(3, '-');
    let date = crate::pki::Date::new(
        ymd.next()?.parse().ok()?,
        ymd.next()?.parse().ok()?,
        ymd.next()?.parse().ok()?,
    )?;
    let mut hms = time.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    ((0..24).contains(&h) && (0..60).contains(&m) && (0..61).contains(&s))
        .then(|| date.to_unix() + h * 3600 + m * 60 + s)
}

/// Check the chain of the log at `path`, then every anchor the CA holds for it: each must
/// name an entry of the log with the same hash. An empty log, or one the CA knows nothing
/// of, fails too: the CA cannot vouch for it. Entries without an anchor are listed, and those
/// older than the grace period at `now` are `overdue` (the caller fails on them).
pub fn check(path: &Path, anchors: &[StoredAnchor], now: i64) -> Result<AnchorReport, AuditError> {
    let file = std::fs::File::open(path).map_err(|e| AuditError::io(path, "read", e))?;
    let mut hashes: Vec<String> = Vec::new();
    let mut times: Vec<Option<i64>> = Vec::new();
    let mut operator = None;
    let scanned = chain::scan(path, std::io::BufReader::new(file), |e| {
        hashes.push(e.hash.clone());
        times.push(parse_time(&e.time));
        operator.get_or_insert_with(|| e.operator.clone());
    })?;
    let entries = scanned.report.entries;
    if anchors.is_empty() {
        return Err(AuditError::NotAnchored {
            path: path.to_path_buf(),
            entries,
        });
    }
    if let Some(beyond) = anchors.iter().map(|a| a.seq).filter(|&s| s > entries).max() {
        return Err(AuditError::Shortened {
            path: path.to_path_buf(),
            entries,
            anchored: beyond,
        });
    }
    let mut anchored_seqs = std::collections::BTreeSet::new();
    let mut sorted: Vec<&StoredAnchor> = anchors.iter().collect();
    sorted.sort_by_key(|a| a.seq);
    for anchor in sorted {
        let index = usize::try_from(anchor.seq.saturating_sub(1)).unwrap_or(usize::MAX);
        let matches = anchor.seq >= 1 && hashes.get(index) == Some(&anchor.hash);
        if !matches {
            return Err(AuditError::Rewritten {
                path: path.to_path_buf(),
                seq: anchor.seq,
            });
        }
        anchored_seqs.insert(anchor.seq);
    }
    let unanchored: Vec<u64> = (1..=entries)
        .filter(|s| !anchored_seqs.contains(s))
        .collect();
    // An entry whose time cannot be read counts as old: it cannot show it is recent.
    let overdue = unanchored
        .iter()
        .copied()
        .filter(|s| {
            let time = usize::try_from(s - 1)
                .ok()
                .and_then(|i| times.get(i).copied().flatten());
            time.is_none_or(|t| now.saturating_sub(t) > UNANCHORED_GRACE_SECONDS)
        })
        .collect();
    Ok(AnchorReport {
        entries,
        last_hash: scanned.report.last_hash,
        anchored: anchored_seqs.len() as u64,
        unanchored,
        overdue,
        operator: operator.unwrap_or_default(),
    })
}

/// Every log the CA holds for an operator must be among `given` (the ids of the files
/// checked): a log rebuilt under a new id and anchored anew leaves the old one at the CA, and
/// a log kept at a desk nobody checks shows the same way.
pub fn check_logs(list: &LogList, given: &[String]) -> Result<(), AuditError> {
    let missing: Vec<String> = list
        .logs
        .iter()
        .filter(|l| !given.contains(&l.log))
        .map(|l| {
            format!(
                "log {} at desk {:?}, {} anchored entries up to entry {}, first anchored {}, \
                 last {}",
                l.log, l.desk, l.anchors, l.last_seq, l.first_received, l.last_received
            )
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(AuditError::LogsMissing {
        operator: list.operator.clone(),
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Action, AuditLog, Outcome, Record};

    fn record(detail: &str) -> Record {
        Record {
            operator: "TST5565594230-1007".into(),
            card_serial: "9752269000001002".into(),
            customer: "TST5565594230-1002".into(),
            action: Action::PukLookup,
            outcome: Outcome::Done,
            detail: detail.into(),
        }
    }

    fn now() -> i64 {
        crate::pki::date::now_unix()
    }

    fn stored(a: &Anchor) -> StoredAnchor {
        StoredAnchor {
            seq: a.seq,
            hash: a.hash.clone(),
            action: a.action.clone(),
            received: "2026-01-01T00:00:00Z".into(),
        }
    }

    /// A log of `n` entries and the anchors the desk sent for them.
    fn log(path: &Path, n: u64, detail: &str) -> Vec<StoredAnchor> {
        let mut log = AuditLog::open(path).unwrap();
        let mut anchors = Vec::new();
        for i in 0..n {
            let entry = log.append(record(&format!("{detail} {i}"))).unwrap();
            let id = log.log_id().unwrap().to_string();
            let anchor = Anchor::for_entry(&id, &entry);
            assert!(anchor.is_well_formed(), "{anchor:?}");
            anchors.push(stored(&anchor));
        }
        anchors
    }

    #[test]
    fn an_intact_anchored_log_checks_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let anchors = log(&path, 4, "a");
        let report = check(&path, &anchors, now()).unwrap();
        assert_eq!((report.entries, report.anchored), (4, 4));
        assert!(report.unanchored.is_empty());
        // The CA missed entry 3 (it was down): reported, and overdue only after the grace.
        let some: Vec<_> = anchors.iter().filter(|a| a.seq != 3).cloned().collect();
        let report = check(&path, &some, now()).unwrap();
        assert_eq!((report.unanchored, report.overdue), (vec![3], vec![]));
        let later = now() + UNANCHORED_GRACE_SECONDS + 60;
        assert_eq!(check(&path, &some, later).unwrap().overdue, vec![3]);
        assert_eq!(report.operator, "TST5565594230-1007");
        assert_eq!(
            log_id(&path).unwrap().as_deref(),
            Some(anchors[0].hash.as_str())
        );
    }

    #[test]
    fn a_rebuilt_chain_is_caught_by_its_anchors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let anchors = log(&path, 4, "a");
        // The owner rebuilds the log from entry 3 on with other details and fresh hashes:
        // the chain alone is intact.
        let text = std::fs::read_to_string(&path).unwrap();
        let head: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, head).unwrap();
        let mut forged = AuditLog::open(&path).unwrap();
        forged.append(record("forged 2")).unwrap();
        forged.append(record("forged 3")).unwrap();
        assert_eq!(crate::audit::verify(&path).unwrap().entries, 4);
        let err = check(&path, &anchors, now()).unwrap_err();
        assert!(matches!(err, AuditError::Rewritten { seq: 3, .. }), "{err}");
        assert!(err.to_string().contains("entry 3"), "{err}");
    }

    #[test]
    fn a_shortened_log_is_caught_by_its_anchors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let anchors = log(&path, 4, "a");
        let text = std::fs::read_to_string(&path).unwrap();
        let head: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, head).unwrap();
        assert_eq!(crate::audit::verify(&path).unwrap().entries, 3);
        let err = check(&path, &anchors, now()).unwrap_err();
        assert!(
            matches!(
                err,
                AuditError::Shortened {
                    entries: 3,
                    anchored: 4,
                    ..
                }
            ),
            "{err}"
        );
        // Emptied, or never anchored: the CA cannot vouch for it.
        std::fs::write(&path, "").unwrap();
        assert!(matches!(
            check(&path, &[], now()).unwrap_err(),
            AuditError::NotAnchored { entries: 0, .. }
        ));
    }

    #[test]
    fn times_of_entries_are_read_to_the_second() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        for bad in [
            "2023-11-14T22:13:20",
            "2023-11-14 22:13:20Z",
            "2023-11-14T25:00:00Z",
            "",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_log_the_ca_holds_must_be_given() {
        let info = |log: &str| LogInfo {
            log: log.into(),
            desk: "desk-1".into(),
            first_received: "2026-01-01T00:00:00Z".into(),
            last_received: "2026-01-02T00:00:00Z".into(),
            anchors: 4,
            last_seq: 4,
        };
        let list = LogList {
            operator: "TST5565594230-1007".into(),
            logs: vec![info(&"a".repeat(64)), info(&"b".repeat(64))],
        };
        assert!(check_logs(&list, &["a".repeat(64), "b".repeat(64)]).is_ok());
        let err = check_logs(&list, &["a".repeat(64)]).unwrap_err();
        assert!(err.to_string().contains(&"b".repeat(64)), "{err}");
        assert!(err.to_string().contains("1 more audit log"), "{err}");
    }

    #[test]
    fn malformed_anchors_are_told_apart() {
        let good = Anchor {
            log: "a".repeat(64),
            seq: 2,
            hash: "b".repeat(64),
            action: "puk-lookup".into(),
            desk: "desk-1".into(),
        };
        assert!(good.is_well_formed());
        for bad in [
            Anchor {
                seq: 0,
                ..good.clone()
            },
            Anchor {
                seq: 1,
                ..good.clone()
            },
            Anchor {
                hash: "B".repeat(64),
                ..good.clone()
            },
            Anchor {
                log: "a".repeat(63),
                ..good.clone()
            },
            Anchor {
                action: "PUK lookup".into(),
                ..good.clone()
            },
            Anchor {
                action: "x".repeat(41),
                ..good.clone()
            },
            Anchor {
                desk: "a\nb".into(),
                ..good.clone()
            },
        ] {
            assert!(!bad.is_well_formed(), "{bad:?}");
        }
    }

    #[test]
    fn a_long_non_ascii_host_name_still_makes_well_formed_anchors() {
        let anchor = |desk: String| Anchor {
            log: "a".repeat(64),
            seq: 2,
            hash: "b".repeat(64),
            action: "puk-lookup".into(),
            desk,
        };
        // 70 characters of two bytes each: 140 bytes, cut to 32 characters (64 bytes).
        let long = "å".repeat(70);
        let name = desk_name_from(&format!("  {long}\n"));
        assert_eq!(name, "å".repeat(32));
        assert!(anchor(name).is_well_formed());
        // Three-byte characters after one ASCII byte: the cut falls inside a character, which
        // is left out whole (1 + 21 × 3 = 64 bytes).
        let name = desk_name_from(&format!("x{}", "€".repeat(30)));
        assert_eq!(name.len(), 64);
        assert_eq!(name, format!("x{}", "€".repeat(21)));
        assert!(anchor(name).is_well_formed());
        // 65 ASCII bytes are cut to 64; control characters go; nothing left is "unnamed".
        assert_eq!(desk_name_from(&"d".repeat(65)), "d".repeat(64));
        assert_eq!(desk_name_from("desk\u{7}-1"), "desk-1");
        assert_eq!(desk_name_from(" \n"), "unnamed");
        assert!(anchor(desk_name()).is_well_formed());
    }
}
