//! Issued certificates, kept in DIR/store.sqlite so they survive a restart of the CA.
//!
//! Keyed by (person, label, SHA-256 of the certified SPKI): an enrolment that repeats a key the
//! CA already certified for that profile gets the stored certificate back. That is what makes an
//! upgrade resumable after a pulled card without minting a second certificate for one key.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::MockError;
use crate::audit::anchor::Anchor;
use crate::ca::Profile;
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
            );",
        )
        .map_err(err)?;
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
    ) -> Result<Option<Vec<u8>>, MockError> {
        self.conn()
            .query_row(
                "SELECT der FROM certificates WHERE person = ?1 AND label = ?2 AND spki_sha256 = ?3",
                params![person, profile.label(), spki_sha256(spki_der)],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Stores `der` unless a certificate for the same (person, profile, key) is already there;
    /// returns whichever is stored, so two racing enrolments end with one certificate.
    pub fn insert(&self, person: &str, profile: Profile, der: &[u8]) -> Result<Vec<u8>, MockError> {
        let info = CertInfo::from_der(der).map_err(|e| MockError::Pki(self.path.clone(), e))?;
        let key = spki_sha256(&info.spki_der);
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO certificates
                (person, label, spki_sha256, serial, not_after, der, issued_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                person,
                profile.label(),
                key,
                info.serial_hex,
                info.not_after,
                der,
                crate::pki::date::now_unix()
            ],
        )
        .map_err(|e| self.err(e))?;
        conn.query_row(
            "SELECT der FROM certificates WHERE person = ?1 AND label = ?2 AND spki_sha256 = ?3",
            params![person, profile.label(), key],
            |row| row.get(0),
        )
        .map_err(|e| self.err(e))
    }

    /// Keep the anchor of one desk audit entry. The first anchor for (log, seq) stays: a second
    /// one with the same hash is a resend (`Ok(true)`), one with another hash is refused
    /// (`Ok(false)`) — a desk that rewrote its log cannot replace what the CA received.
    pub fn add_anchor(&self, anchor: &Anchor, operator: &str) -> Result<bool, MockError> {
        let conn = self.conn();
        let seq = i64::try_from(anchor.seq)
            .map_err(|_| MockError::Store(self.path.clone(), "entry number too large".into()))?;
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
        Ok(kept == anchor.hash)
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
            .prepare(
                "SELECT label, serial, not_after, der FROM certificates
                 WHERE person = ?1 ORDER BY issued_at, rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![person], |row| {
                Ok(StoredCert {
                    label: row.get(0)?,
                    serial_hex: row.get(1)?,
                    not_after: row.get(2)?,
                    der: row.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}
