//! What one audit entry holds, and the hash that chains it to the one before.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the operator did at the desk. Kebab-case in the file so an auditor reads it as words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    IdentityCheck,
    PukLookup,
    Unblock,
    ChangePin,
    Upgrade,
    /// A renewal of the customer's due certificate pairs.
    Renew,
    FetchExisting,
    TestLogin,
    OperatorLogin,
}

/// How it ended: `Refused` is a gate that said no (identity not checked, CA refused), which an
/// auditor must tell apart from a technical failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Done,
    Failed,
    Refused,
}

impl Action {
    /// The word used in the file and the CSV export.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::IdentityCheck => "identity-check",
            Action::PukLookup => "puk-lookup",
            Action::Unblock => "unblock",
            Action::ChangePin => "change-pin",
            Action::Upgrade => "upgrade",
            Action::Renew => "renew",
            Action::FetchExisting => "fetch-existing",
            Action::TestLogin => "test-login",
            Action::OperatorLogin => "operator-login",
        }
    }
}

impl Outcome {
    /// The word used in the file and the CSV export.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
        }
    }
}

/// What the desk records. There is deliberately no field that could hold a PIN or PUK: the
/// desk code never has a place to put one, so no review has to catch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The operator's HSA-id (from the operator's own card).
    pub operator: String,
    pub card_serial: String,
    /// The customer's HSA-id.
    pub customer: String,
    pub action: Action,
    pub outcome: Outcome,
    /// Free text, e.g. "id document: passport, last four 1234, photo matches", or an error's
    /// words. Never a code: the desk passes only descriptions and errors, which never carry one.
    pub detail: String,
}

/// One line of the log as written. Fields are flat (not a nested record) so the file reads
/// well with `jq` and `grep`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// 1 for the first entry, then +1: a gap or repeat shows without computing any hash.
    pub seq: u64,
    /// RFC 3339, UTC, whole seconds.
    pub time: String,
    pub operator: String,
    pub card_serial: String,
    pub customer: String,
    pub action: Action,
    pub outcome: Outcome,
    pub detail: String,
    /// The previous entry's `hash` (which covers every field of that line), or [`GENESIS`] for
    /// the first: deleting, moving or copying an entry breaks this link.
    pub prev: String,
    /// Hex SHA-256 over this entry's canonical fields including `prev`; see [`Entry::compute_hash`].
    pub hash: String,
}

/// The `prev` of the first entry: 64 zeros, so every entry has the same shape.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Tells our hash apart from any other SHA-256 of similar JSON, and lets a later format change
/// the canonical form without old and new hashes colliding.
const DOMAIN: &[u8] = b"siths-upgrade audit v1\n";

/// The fields the hash covers, in a fixed order. serde_json writes a struct's fields in
/// declaration order and strings in one way, so the bytes are the same on every run and
/// independent of how the line in the file is spaced.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    time: &'a str,
    operator: &'a str,
    card_serial: &'a str,
    customer: &'a str,
    action: Action,
    outcome: Outcome,
    detail: &'a str,
    prev: &'a str,
}

impl Entry {
    /// Build the next entry after `prev` (its hash) and fill in `hash`.
    pub(crate) fn new(seq: u64, time: String, record: Record, prev: String) -> Entry {
        let Record {
            operator,
            card_serial,
            customer,
            action,
            outcome,
            detail,
        } = record;
        let mut entry = Entry {
            seq,
            time,
            operator,
            card_serial,
            customer,
            action,
            outcome,
            detail,
            prev,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        entry
    }

    /// The hash this entry should carry: SHA-256 over a domain tag and the JSON of every field
    /// but `hash`. Recomputed by `verify` to find entries edited after they were written.
    pub fn compute_hash(&self) -> String {
        let canonical = Canonical {
            seq: self.seq,
            time: &self.time,
            operator: &self.operator,
            card_serial: &self.card_serial,
            customer: &self.customer,
            action: self.action,
            outcome: self.outcome,
            detail: &self.detail,
            prev: &self.prev,
        };
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        // Serialising plain strings and enums into a Vec cannot fail; an empty body would only
        // make every hash mismatch, never pass a forged entry.
        hasher.update(serde_json::to_vec(&canonical).unwrap_or_default());
        hex(&hasher.finalize())
    }

    /// The record this entry holds, for callers that show it again.
    pub fn record(&self) -> Record {
        Record {
            operator: self.operator.clone(),
            card_serial: self.card_serial.clone(),
            customer: self.customer.clone(),
            action: self.action,
            outcome: self.outcome,
            detail: self.detail.clone(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            operator: "TST5565594230-9001".into(),
            card_serial: "9752269000001001".into(),
            customer: "TST5565594230-1001".into(),
            action: Action::Unblock,
            outcome: Outcome::Done,
            detail: "PIN1 unblocked".into(),
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let e = Entry::new(3, "2026-01-02T03:04:05Z".into(), record(), GENESIS.into());
        assert_eq!(e.hash, e.compute_hash());
        assert_eq!(e.hash.len(), 64);
        let edits: [fn(&mut Entry); 9] = [
            |e| e.seq += 1,
            |e| e.time.push('x'),
            |e| e.operator.push('x'),
            |e| e.card_serial.push('x'),
            |e| e.customer.push('x'),
            |e| e.action = Action::Upgrade,
            |e| e.outcome = Outcome::Failed,
            |e| e.detail.push('x'),
            |e| e.prev = "1".repeat(64),
        ];
        for edit in edits {
            let mut edited = e.clone();
            edit(&mut edited);
            assert_ne!(edited.compute_hash(), e.hash, "{edited:?}");
        }
    }

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        let mut a = record();
        a.operator = "AB".into();
        a.card_serial = "C".into();
        let mut b = record();
        b.operator = "A".into();
        b.card_serial = "BC".into();
        let t = "2026-01-02T03:04:05Z".to_string();
        assert_ne!(
            Entry::new(1, t.clone(), a, GENESIS.into()).hash,
            Entry::new(1, t, b, GENESIS.into()).hash
        );
    }

    #[test]
    fn actions_are_written_as_words() {
        for a in [
            Action::IdentityCheck,
            Action::PukLookup,
            Action::Unblock,
            Action::ChangePin,
            Action::Upgrade,
            Action::Renew,
            Action::FetchExisting,
            Action::TestLogin,
            Action::OperatorLogin,
        ] {
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                format!("\"{}\"", a.as_str())
            );
        }
        for o in [Outcome::Done, Outcome::Failed, Outcome::Refused] {
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.as_str())
            );
        }
    }
}
