//! What the CA must remember across a restart, in DIR/store.sqlite: issued certificates, the
//! desks' audit anchors and who owns each log, PUK challenges, and the challenges counted
//! against each operator's limit.
//!
//! Certificates are keyed by (person, label, SHA-256 of the certified SPKI): an enrolment that
//! repeats a key the CA already certified for that profile gets the stored certificate back.
//! That is what makes an upgrade resumable after a pulled card without minting a second
//! certificate for one key. A renewal marks the certificate it replaces (`replaced_at`), so a
//! person holds one current certificate per profile.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::error::MockError;
use crate::ca::Profile;
use crate::ca::contract::Anchor;
use crate::pki::CertInfo;

/// One stored certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCert {
    pub label: String,
    /// Lower-case hex, as [`CertInfo::serial_hex`].
    pub serial_hex: String,
    /// Unix seconds.
    pub not_after: i64,
    pub der: Vec<u8>,
    /// Unix seconds.
    pub issued_at: i64,
    /// When a renewal replaced it (unix seconds); `None` while it is the current one.
    pub replaced_at: Option<i64>,
    /// The serial of the login certificate of the renewal that issued it (`None`: not a
    /// renewal).
    pub renewed_with: Option<String>,
}

impl StoredCert {
    /// The one the CA stands behind for its profile: not replaced, not expired.
    pub fn is_current(&self, now: i64) -> bool {
        self.replaced_at.is_none() && self.not_after > now
    }
}

/// What became of an anchor sent for a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorOutcome {
    /// Kept (or the same anchor again).
    Stored,
    /// The CA holds another hash for that entry.
    Conflict,
    /// The log belongs to another operator or desk: whoever sent its first anchor.
    OwnedBy { operator: String, desk: String },
}

/// One audit log as the CA knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSummary {
    pub log: String,
    pub operator: String,
    pub desk: String,
    /// Unix seconds of its first anchor.
    pub first_received: i64,
    pub last_received: i64,
    pub anchors: u64,
    pub last_seq: u64,
}

/// A PUK challenge as the CA issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    operator: String,
    customer: String,
    expires_at: i64,
    /// When a lookup spent it.
    used_at: Option<i64>,
}

/// What a lookup's challenge turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeOutcome {
    /// Issued to this operator for this customer, unused and unexpired: now spent.
    Spent,
    /// Not one the store holds (never issued, or expired and removed).
    Unknown,
    /// Issued to another operator or for another customer: left as it was.
    NotYours,
    /// Spent by an earlier lookup.
    Used,
    Expired,
}

/// Columns added to the certificates table after its first release, for stores made before.
const CERT_COLUMNS_ADDED: [(&str, &str); 3] = [
    ("replaced_at", "INTEGER"),
    ("replaced_by", "TEXT"),
    ("renewed_with", "TEXT"),
];

const CERT_COLUMNS: &str = "label, serial, not_after, der, issued_at, replaced_at, renewed_with";

fn stored_cert(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCert> {
    Ok(StoredCert {
        label: row.get(0)?,
        serial_hex: row.get(1)?,
        not_after: row.get(2)?,
        der: row.get(3)?,
        issued_at: row.get(4)?,
        replaced_at: row.get(5)?,
        renewed_with: row.get(6)?,
    })
}

pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// SHA-256 of an SPKI: the "same key" in the store's key.
pub fn spki_sha256(spki_der: &[u8]) -> Vec<u8> {
    Sha256::digest(spki_der).to_vec()
}

impl Store {
    /// Opens (creating if missing) the store.
    pub fn open(path: &Path) -> Result<Store, MockError> {
        let err = |e: rusqlite::Error| MockError::Store(path.to_path_buf(), e.to_string());
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        // WAL with NORMAL sync: a commit survives the CA process dying (what tests and the
        // pull matrix do), without an fsync per enrolment.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS certificates (
                person TEXT NOT NULL,
                label TEXT NOT NULL,
                spki_sha256 BLOB NOT NULL,
                serial TEXT NOT NULL,
                not_after INTEGER NOT NULL,
                der BLOB NOT NULL,
                issued_at INTEGER NOT NULL,
                PRIMARY KEY (person, label, spki_sha256)
            );
            CREATE TABLE IF NOT EXISTS audit_anchors (
                log TEXT NOT NULL,
                seq INTEGER NOT NULL,
                hash TEXT NOT NULL,
                action TEXT NOT NULL,
                operator TEXT NOT NULL,
                received_at INTEGER NOT NULL,
                PRIMARY KEY (log, seq)
            );
            CREATE TABLE IF NOT EXISTS audit_logs (
                log TEXT PRIMARY KEY,
                operator TEXT NOT NULL,
                desk TEXT NOT NULL,
                created_at INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS puk_lookups (
                operator TEXT NOT NULL,
                at INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS puk_lookups_by_operator ON puk_lookups (operator, at);
            CREATE TABLE IF NOT EXISTS puk_challenges (
                challenge TEXT PRIMARY KEY,
                operator TEXT NOT NULL,
                customer TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                used_at INTEGER
            );",
        )
        .map_err(err)?;
        // A store from before renewals replaced certificates: add the columns, all current.
        let have: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('certificates')")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| row.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(err)?;
        for (column, kind) in CERT_COLUMNS_ADDED {
            if !have.iter().any(|c| c == column) {
                conn.execute_batch(&format!(
                    "ALTER TABLE certificates ADD COLUMN {column} {kind}"
                ))
                .map_err(err)?;
            }
        }
        Ok(Store {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic elsewhere cannot leave SQLite half-written; its own transactions see to that.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> MockError {
        MockError::Store(self.path.clone(), e.to_string())
    }

    /// The certificate already issued for this person, profile and key, if any.
    pub fn find(
        &self,
        person: &str,
        profile: Profile,
        spki_der: &[u8],
    ) -> Result<Option<StoredCert>, MockError> {
        self.conn()
            .query_row(
                &format!(
                    "SELECT {CERT_COLUMNS} FROM certificates
                     WHERE person = ?1 AND label = ?2 AND spki_sha256 = ?3"
                ),
                params![person, profile.label(), spki_sha256(spki_der)],
                stored_cert,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The certificate `der` if the CA issued it to `person` (a login certificate, to tell
    /// which pair it belongs to and whether it is still current).
    pub fn issued(&self, person: &str, der: &[u8]) -> Result<Option<StoredCert>, MockError> {
        self.conn()
            .query_row(
                &format!("SELECT {CERT_COLUMNS} FROM certificates WHERE person = ?1 AND der = ?2"),
                params![person, der],
                stored_cert,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The person's current certificate of `profile` at `now`, if any (the newest).
    pub fn current(
        &self,
        person: &str,
        profile: Profile,
        now: i64,
    ) -> Result<Option<StoredCert>, MockError> {
        self.conn()
            .query_row(
                &format!(
                    "SELECT {CERT_COLUMNS} FROM certificates
                     WHERE person = ?1 AND label = ?2 AND replaced_at IS NULL AND not_after > ?3
                     ORDER BY issued_at DESC, rowid DESC LIMIT 1"
                ),
                params![person, profile.label(), now],
                stored_cert,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Stores `der` unless a certificate for the same (person, profile, key) is already there;
    /// returns whichever is stored, so two racing enrolments end with one certificate.
    pub fn insert(&self, person: &str, profile: Profile, der: &[u8]) -> Result<Vec<u8>, MockError> {
        self.insert_renewal(person, profile, der, None)
    }

    /// Like [`Store::insert`] for a renewal: `renewal` is (the serial of the certificate
    /// renewed, the serial of the login certificate); in the same transaction the renewed one
    /// is marked replaced by the new one.
    pub fn insert_renewal(
        &self,
        person: &str,
        profile: Profile,
        der: &[u8],
        renewal: Option<(&str, &str)>,
    ) -> Result<Vec<u8>, MockError> {
        let info = CertInfo::from_der(der).map_err(|e| MockError::Pki(self.path.clone(), e))?;
        let key = spki_sha256(&info.spki_der);
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let now = crate::pki::date::now_unix();
        tx.execute(
            "INSERT OR IGNORE INTO certificates
                (person, label, spki_sha256, serial, not_after, der, issued_at, renewed_with)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                person,
                profile.label(),
                key,
                info.serial_hex,
                info.not_after,
                der,
                now,
                renewal.map(|(_, login)| login)
            ],
        )
        .map_err(|e| self.err(e))?;
        let stored: (Vec<u8>, String) = tx
            .query_row(
                "SELECT der, serial FROM certificates
                 WHERE person = ?1 AND label = ?2 AND spki_sha256 = ?3",
                params![person, profile.label(), key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        if let Some(old) = renewal.map(|(old, _)| old).filter(|old| *old != stored.1) {
            tx.execute(
                "UPDATE certificates SET replaced_at = ?1, replaced_by = ?2
                 WHERE person = ?3 AND label = ?4 AND serial = ?5 AND replaced_at IS NULL",
                params![now, stored.1, person, profile.label(), old],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(stored.0)
    }

    /// Keep the anchor of one desk audit entry. A log belongs to whoever sent its first anchor
    /// (operator and desk): anchors from anyone else are refused. The first anchor for (log,
    /// seq) stays: a second one with the same hash is a resend, one with another hash is a
    /// conflict — a desk that rewrote its log cannot replace what the CA received.
    pub fn add_anchor(
        &self,
        anchor: &Anchor,
        operator: &str,
        desk: &str,
    ) -> Result<AnchorOutcome, MockError> {
        let mut conn = self.conn();
        let seq = i64::try_from(anchor.seq)
            .map_err(|_| MockError::Store(self.path.clone(), "entry number too large".into()))?;
        let conn = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        conn.execute(
            "INSERT OR IGNORE INTO audit_logs (log, operator, desk, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![anchor.log, operator, desk, crate::pki::date::now_unix()],
        )
        .map_err(|e| self.err(e))?;
        let (owner, owner_desk): (String, String) = conn
            .query_row(
                "SELECT operator, desk FROM audit_logs WHERE log = ?1",
                params![anchor.log],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        if owner != operator || owner_desk != desk {
            return Ok(AnchorOutcome::OwnedBy {
                operator: owner,
                desk: owner_desk,
            });
        }
        conn.execute(
            "INSERT OR IGNORE INTO audit_anchors (log, seq, hash, action, operator, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                anchor.log,
                seq,
                anchor.hash,
                anchor.action,
                operator,
                crate::pki::date::now_unix()
            ],
        )
        .map_err(|e| self.err(e))?;
        let kept: String = conn
            .query_row(
                "SELECT hash FROM audit_anchors WHERE log = ?1 AND seq = ?2",
                params![anchor.log, seq],
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        conn.commit().map_err(|e| self.err(e))?;
        Ok(if kept == anchor.hash {
            AnchorOutcome::Stored
        } else {
            AnchorOutcome::Conflict
        })
    }

    /// The operator who owns `log`, if the CA knows the log.
    pub fn log_owner(&self, log: &str) -> Result<Option<String>, MockError> {
        self.conn()
            .query_row(
                "SELECT operator FROM audit_logs WHERE log = ?1",
                params![log],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every log of `operator`, oldest first.
    pub fn logs_of(&self, operator: &str) -> Result<Vec<LogSummary>, MockError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT l.log, l.operator, l.desk, l.created_at,
                        COALESCE(MAX(a.received_at), l.created_at), COUNT(a.seq),
                        COALESCE(MAX(a.seq), 0)
                 FROM audit_logs l LEFT JOIN audit_anchors a ON a.log = l.log
                 WHERE l.operator = ?1 GROUP BY l.log ORDER BY l.created_at, l.log",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![operator], |row| {
                let count: i64 = row.get(5)?;
                let last: i64 = row.get(6)?;
                Ok(LogSummary {
                    log: row.get(0)?,
                    operator: row.get(1)?,
                    desk: row.get(2)?,
                    first_received: row.get(3)?,
                    last_received: row.get(4)?,
                    anchors: u64::try_from(count).unwrap_or(0),
                    last_seq: u64::try_from(last).unwrap_or(0),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Count one PUK challenge (each lookup needs one) by `operator` at `now`, unless `max`
    /// were counted since `since`: then the oldest of those (unix seconds) is returned and
    /// nothing is counted. Kept on disk, so a restart of the CA does not reset an operator's
    /// limit; the table keeps the name it had when lookups were counted.
    pub fn take_challenge(
        &self,
        operator: &str,
        now: i64,
        since: i64,
        max: u32,
    ) -> Result<Result<(), i64>, MockError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM puk_lookups WHERE at <= ?1", params![since])
            .map_err(|e| self.err(e))?;
        let (count, oldest): (i64, Option<i64>) = tx
            .query_row(
                "SELECT COUNT(*), MIN(at) FROM puk_lookups WHERE operator = ?1",
                params![operator],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        if count >= i64::from(max) {
            return Ok(Err(oldest.unwrap_or(now)));
        }
        tx.execute(
            "INSERT INTO puk_lookups (operator, at) VALUES (?1, ?2)",
            params![operator, now],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Ok(()))
    }

    /// Keep a PUK challenge issued to `operator` for `customer`. Every challenge expired at
    /// `now` is removed first: a challenge is only good for its lookup, so the table holds no
    /// more than the challenges still open (each counted against its operator's limit).
    pub fn add_challenge(
        &self,
        challenge: &str,
        operator: &str,
        customer: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), MockError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        tx.execute(
            "DELETE FROM puk_challenges WHERE expires_at < ?1",
            params![now],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO puk_challenges (challenge, operator, customer, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![challenge, operator, customer, expires_at],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Spend `challenge` for a lookup by `operator` for `customer` at `now`, only if it is the
    /// CA's, unused, unexpired and issued to that operator for that customer: checked and
    /// marked used in one transaction, so a lookup that does not match (someone else holding
    /// the string, another customer) leaves it for its own lookup, and two lookups racing
    /// with it cannot both spend it.
    pub fn spend_challenge(
        &self,
        challenge: &str,
        operator: &str,
        customer: &str,
        now: i64,
    ) -> Result<ChallengeOutcome, MockError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let found = tx
            .query_row(
                "SELECT operator, customer, expires_at, used_at FROM puk_challenges
                 WHERE challenge = ?1",
                params![challenge],
                |row| {
                    Ok(Challenge {
                        operator: row.get(0)?,
                        customer: row.get(1)?,
                        expires_at: row.get(2)?,
                        used_at: row.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let outcome = match found {
            None => ChallengeOutcome::Unknown,
            Some(c) if c.operator != operator || c.customer != customer => {
                ChallengeOutcome::NotYours
            }
            Some(c) if c.used_at.is_some() => ChallengeOutcome::Used,
            Some(c) if c.expires_at < now => ChallengeOutcome::Expired,
            Some(_) => {
                let spent = tx
                    .execute(
                        "UPDATE puk_challenges SET used_at = ?1
                         WHERE challenge = ?2 AND used_at IS NULL",
                        params![now, challenge],
                    )
                    .map_err(|e| self.err(e))?;
                if spent == 1 {
                    ChallengeOutcome::Spent
                } else {
                    ChallengeOutcome::Used
                }
            }
        };
        tx.commit().map_err(|e| self.err(e))?;
        Ok(outcome)
    }

    /// How many PUK challenges the store holds (open, used or expired but not yet removed).
    pub fn challenges(&self) -> Result<u64, MockError> {
        let count: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM puk_challenges", [], |row| row.get(0))
            .map_err(|e| self.err(e))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The anchors of one log, by entry number: (seq, hash, action, received at unix seconds).
    pub fn anchors(&self, log: &str) -> Result<Vec<(u64, String, String, i64)>, MockError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT seq, hash, action, received_at FROM audit_anchors
                 WHERE log = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![log], |row| {
                let seq: i64 = row.get(0)?;
                Ok((
                    u64::try_from(seq).unwrap_or(0),
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Every certificate of a person, oldest first.
    pub fn for_person(&self, person: &str) -> Result<Vec<StoredCert>, MockError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {CERT_COLUMNS} FROM certificates
                 WHERE person = ?1 ORDER BY issued_at, rowid"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![person], stored_cert)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}
