//! What the CA mock serves from, loaded once from DIR: the directory of persons, the deadline,
//! the issuing CAs, the store, the PUK lookup log and its limit.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::ca::mock::dir::{CaName, MockDir};
use crate::ca::mock::error::MockError;
use crate::ca::mock::persons::Directory;
use crate::ca::mock::store::Store;
use crate::ca::{IdentityKind, Profile};
use crate::pki::{CertInfo, TestCa};

/// How many PUK challenges one operator may ask for in a window of time: each lookup spends
/// one, so this is also the most lookups, and asking about HSA-ids without looking up costs
/// the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

impl Default for RateLimit {
    /// Ten an hour: a desk helps a holder every few minutes at most; a stolen operator card
    /// used to harvest PUKs is slowed to a trickle and shows in the lookup log.
    fn default() -> RateLimit {
        RateLimit {
            max: 10,
            window: Duration::from_secs(3600),
        }
    }
}

/// Everything the CA needs while serving, loaded once from DIR.
pub struct Ca {
    pub(crate) dir: MockDir,
    pub(super) persons: Directory,
    pub(super) deadline: String,
    pub(super) root_der: Vec<u8>,
    pub(super) hsa3: TestCa,
    pub(super) pnr3: TestCa,
    pub(crate) store: Store,
    pub(super) puk_log: Mutex<PathBuf>,
    /// The CAs whose certificates may log in: DIR's person CAs (the root issues only CAs and
    /// the server's certificate), read from the same files as the TLS trust anchors.
    pub(super) login_cas: Vec<(CaName, CertInfo)>,
    pub(super) puk_rate: RateLimit,
    /// Fault injection for tests: answer enrolments with a certificate for another key, as a
    /// broken or hostile CA might, without storing it.
    pub(crate) misissue: std::sync::atomic::AtomicBool,
}

impl Ca {
    pub fn load(dir: &MockDir) -> Result<Ca, MockError> {
        let config = dir.config()?;
        let login_cas = dir
            .trust_anchors()?
            .into_iter()
            .filter(|(ca, _)| *ca != CaName::Root)
            .map(|(ca, der)| {
                CertInfo::from_der(&der)
                    .map(|info| (ca, info))
                    .map_err(|e| MockError::Pki(dir.ca_pem(ca), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Ca {
            login_cas,
            puk_rate: RateLimit::default(),
            persons: dir.persons()?,
            deadline: config.deadline.clone(),
            root_der: dir.ca_cert_der(CaName::Root)?,
            hsa3: dir.load_ca(CaName::Hsa3)?,
            pnr3: dir.load_ca(CaName::Pnr3)?,
            store: Store::open(&dir.store())?,
            puk_log: Mutex::new(dir.puk_log()),
            misissue: std::sync::atomic::AtomicBool::new(false),
            dir: dir.clone(),
        })
    }

    /// Replace the PUK lookup limit (before serving).
    pub fn set_puk_rate(&mut self, rate: RateLimit) {
        self.puk_rate = rate;
    }

    pub(super) fn issuer(&self, profile: Profile) -> &TestCa {
        match profile.identity() {
            IdentityKind::HsaId => &self.hsa3,
            IdentityKind::Personnummer => &self.pnr3,
        }
    }

    /// How many certificates the store holds for a person.
    pub fn enrolments_for(&self, hsa_id: &str) -> Result<usize, MockError> {
        Ok(self.store.for_person(hsa_id)?.len())
    }
}
