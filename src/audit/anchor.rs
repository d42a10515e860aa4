//! Anchoring the log off the desk. Whoever owns the log file can rebuild the whole chain with
//! fresh hashes, or cut entries off its end, and [`super::verify`] cannot tell. So the desk
//! sends each entry's hash, with the action it records, to the CA as soon as the entry is
//! written ([`Anchor`], `POST /api/v1/audit-anchor`, logged in with the operator's card). The
//! CA keeps them where the desk cannot change them, and [`check`] compares a log with them:
//! an entry whose hash differs from its anchor was rewritten, an anchor beyond the log's last
//! entry shows a shortened log.
//!
//! A log is named by its first entry's hash ([`log_id`]): every entry is chained to it, and it
//! needs no state beside the file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::chain;
use super::entry::Entry;
use super::error::AuditError;

/// Where the desk sends an anchor (POST) and where anyone reads a log's anchors
/// (GET `?log=<id>`).
pub const POST_PATH: &str = "/api/v1/audit-anchor";
pub const GET_PATH: &str = "/api/v1/audit-anchors";

/// What the desk sends the CA for one entry: no name or HSA-id, only the hash and the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The log's id: its first entry's hash.
    pub log: String,
    pub seq: u64,
    pub hash: String,
    /// The entry's action, as in the file (`puk-lookup`, …).
    pub action: String,
}

impl Anchor {
    /// The anchor of `entry` in the log named `log`.
    pub fn for_entry(log: &str, entry: &Entry) -> Anchor {
        Anchor {
            log: log.to_string(),
            seq: entry.seq,
            hash: entry.hash.clone(),
            action: entry.action.as_str().to_string(),
        }
    }

    /// Whether the fields have the shapes the desk writes (64 lower-case hex digits, an entry
    /// number from 1, a short kebab-case action), and the first entry's hash is the log's id.
    pub fn is_well_formed(&self) -> bool {
        is_hash(&self.log)
            && is_hash(&self.hash)
            && self.seq >= 1
            && (self.seq != 1 || self.hash == self.log)
            && !self.action.is_empty()
            && self.action.len() <= 40
            && self
                .action
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
    }
}

fn is_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One anchor as the CA lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnchor {
    pub seq: u64,
    pub hash: String,
    pub action: String,
    /// When the CA received it (RFC 3339 UTC).
    pub received: String,
}

/// The CA's answer to `GET /api/v1/audit-anchors?log=<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorList {
    pub log: String,
    pub anchors: Vec<StoredAnchor>,
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
}

/// Check the chain of the log at `path`, then every anchor the CA holds for it: each must
/// name an entry of the log with the same hash. An empty log, or one the CA knows nothing
/// of, fails too: the CA cannot vouch for it.
pub fn check(path: &Path, anchors: &[StoredAnchor]) -> Result<AnchorReport, AuditError> {
    let file = std::fs::File::open(path).map_err(|e| AuditError::io(path, "read", e))?;
    let mut hashes: Vec<String> = Vec::new();
    let scanned = chain::scan(path, std::io::BufReader::new(file), |e| {
        hashes.push(e.hash.clone())
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
    Ok(AnchorReport {
        entries,
        last_hash: scanned.report.last_hash,
        anchored: anchored_seqs.len() as u64,
        unanchored: (1..=entries)
            .filter(|s| !anchored_seqs.contains(s))
            .collect(),
    })
}

/// Read the CA's anchors for the log `log` from `ca_url`, trusting only `ca_root_pem` for the
/// CA's server certificate. No client certificate: anchors are hashes, readable by anyone who
/// checks a log.
pub fn fetch(ca_url: &str, ca_root_pem: &[u8], log: &str) -> Result<AnchorList, AuditError> {
    let fail = |what: String| AuditError::Anchors(what);
    let roots = crate::ca::tls::root_store(ca_root_pem).map_err(|e| fail(e.to_string()))?;
    let tls = crate::ca::tls::client_builder()
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let http = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .https_only(true)
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fail(format!("HTTP client: {e}")))?;
    let url = format!(
        "{}{GET_PATH}?log={log}",
        ca_url.trim().trim_end_matches('/')
    );
    let answer = http.get(&url).send().map_err(|e| {
        fail(format!(
            "cannot reach the CA at {ca_url} ({e}); check the address, the network and that \
             --ca-root is the CA's root.pem"
        ))
    })?;
    let status = answer.status();
    let body = answer
        .bytes()
        .map_err(|e| fail(format!("the CA's answer broke off ({e}); try again")))?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(fail(format!(
            "the CA refused to list the anchors: {message}"
        )));
    }
    let list: AnchorList = serde_json::from_slice(&body).map_err(|e| {
        fail(format!(
            "the CA's list of anchors cannot be read ({e}); is {ca_url} a SITHS CA?"
        ))
    })?;
    if list.log != log {
        return Err(fail(format!(
            "the CA answered for another log ({}); is {ca_url} the right CA?",
            list.log
        )));
    }
    Ok(list)
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
        let report = check(&path, &anchors).unwrap();
        assert_eq!((report.entries, report.anchored), (4, 4));
        assert!(report.unanchored.is_empty());
        // The CA missed entry 3 (it was down): reported, not an error.
        let some: Vec<_> = anchors.iter().filter(|a| a.seq != 3).cloned().collect();
        assert_eq!(check(&path, &some).unwrap().unanchored, vec![3]);
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
        let err = check(&path, &anchors).unwrap_err();
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
        let err = check(&path, &anchors).unwrap_err();
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
            check(&path, &[]).unwrap_err(),
            AuditError::NotAnchored { entries: 0, .. }
        ));
    }

    #[test]
    fn malformed_anchors_are_told_apart() {
        let good = Anchor {
            log: "a".repeat(64),
            seq: 2,
            hash: "b".repeat(64),
            action: "puk-lookup".into(),
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
        ] {
            assert!(!bad.is_well_formed(), "{bad:?}");
        }
    }
}
