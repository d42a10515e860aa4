//! The CA mock's directory (DIR): where `init` puts the test PKI, the persons and their cards,
//! and where `serve` keeps its store and audit log. The layout is a contract (docs/ca-api.md "DIR
//! layout") that the README, the tests and the demo rely on.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

use super::error::MockError;
use super::persons::Directory;
use crate::pki::{Date, TestCa};
use crate::virtual_card::Layout;

/// The CAs of DIR, by the stem of their files in DIR/ca.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaName {
    Root,
    Hsa3,
    Pnr3,
    Hsa2,
    Pnr2,
    Legacy,
}

impl CaName {
    pub const ALL: [CaName; 6] = [
        CaName::Root,
        CaName::Hsa3,
        CaName::Pnr3,
        CaName::Hsa2,
        CaName::Pnr2,
        CaName::Legacy,
    ];
    /// The issuing CAs, in the order of DIR/issuing.pem.
    pub const ISSUING: [CaName; 5] = [
        CaName::Hsa3,
        CaName::Pnr3,
        CaName::Hsa2,
        CaName::Pnr2,
        CaName::Legacy,
    ];

    pub fn file_stem(self) -> &'static str {
        match self {
            CaName::Root => "root",
            CaName::Hsa3 => "hsa3",
            CaName::Pnr3 => "pnr3",
            CaName::Hsa2 => "hsa2",
            CaName::Pnr2 => "pnr2",
            CaName::Legacy => "legacy",
        }
    }

    pub fn common_name(self) -> &'static str {
        match self {
            CaName::Root => "TEST SITHS e-id Root CA v2",
            CaName::Hsa3 => "TEST SITHS e-id Person HSA-id 3 CA v1",
            CaName::Pnr3 => "TEST SITHS e-id Person ID 3 CA v1",
            CaName::Hsa2 => "TEST SITHS e-id Person HSA-id 2 CA v1",
            CaName::Pnr2 => "TEST SITHS e-id Person ID 2 CA v1",
            CaName::Legacy => "TEST SITHS Type 1 CA v1",
        }
    }

    /// The trust level recorded on the CA (the legacy CA issued level-3 cards).
    pub fn trust_level(self) -> Option<u8> {
        match self {
            CaName::Root => None,
            CaName::Hsa3 | CaName::Pnr3 | CaName::Legacy => Some(3),
            CaName::Hsa2 | CaName::Pnr2 => Some(2),
        }
    }
}

/// DIR/config.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// RFC 3339 full-date; upgrades are refused after this day (UTC).
    pub deadline: String,
    /// The layout of the cards `init` made and `init::ensure_card` makes (a
    /// config.json without it: the PKCS#15 layout, as every DIR made before the IDPrime one).
    #[serde(default)]
    pub card_layout: Layout,
}

/// The deadline written by `init`.
pub const DEFAULT_DEADLINE: &str = "2027-06-30";

impl Config {
    pub fn deadline_date(&self) -> Option<Date> {
        parse_date(&self.deadline)
    }
}

/// `YYYY-MM-DD` as a checked date.
pub fn parse_date(s: &str) -> Option<Date> {
    let mut parts = s.trim().splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    Date::new(year, month, day)
}

/// Paths and loaders for one DIR.
#[derive(Debug, Clone)]
pub struct MockDir {
    path: PathBuf,
}

impl MockDir {
    pub fn new(path: impl Into<PathBuf>) -> MockDir {
        MockDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The TEST root: what a client trusts for the server and for issued certificates.
    pub fn root_pem(&self) -> PathBuf {
        self.path.join("root.pem")
    }

    /// All issuing CAs, for `openssl verify -untrusted`.
    pub fn issuing_pem(&self) -> PathBuf {
        self.path.join("issuing.pem")
    }

    pub fn ca_pem(&self, ca: CaName) -> PathBuf {
        self.path.join("ca").join(format!("{}.pem", ca.file_stem()))
    }

    pub fn ca_key(&self, ca: CaName) -> PathBuf {
        self.path.join("ca").join(format!("{}.key", ca.file_stem()))
    }

    pub fn server_pem(&self) -> PathBuf {
        self.path.join("server.pem")
    }

    pub fn server_key(&self) -> PathBuf {
        self.path.join("server.key")
    }

    pub fn config_json(&self) -> PathBuf {
        self.path.join("config.json")
    }

    pub fn persons_json(&self) -> PathBuf {
        self.path.join("persons.json")
    }

    pub fn store(&self) -> PathBuf {
        self.path.join("store.sqlite")
    }

    pub fn cards_dir(&self) -> PathBuf {
        self.path.join("cards")
    }

    /// The virtual card state file of a person.
    pub fn card_state(&self, hsa_id: &str) -> PathBuf {
        self.cards_dir().join(format!("{hsa_id}.json"))
    }

    /// The code letter (`PIN1=`, `PIN2=`, `PUK=`) of a person's card.
    pub fn card_pins(&self, hsa_id: &str) -> PathBuf {
        self.cards_dir().join(format!("{hsa_id}.pins"))
    }

    pub fn puk_log(&self) -> PathBuf {
        self.path.join("puk-lookups.log")
    }

    pub fn config(&self) -> Result<Config, MockError> {
        let path = self.config_json();
        let text = std::fs::read_to_string(&path).map_err(|e| MockError::Io(path.clone(), e))?;
        let config: Config = serde_json::from_str(&text)
            .map_err(|e| MockError::Config(path.clone(), e.to_string()))?;
        if config.deadline_date().is_none() {
            return Err(MockError::Config(
                path,
                format!(
                    "deadline {:?} is not a date like 2027-06-30",
                    config.deadline
                ),
            ));
        }
        Ok(config)
    }

    /// Replace the deadline (tests of "deadline passed", and operators moving it).
    pub fn set_deadline(&self, deadline: &str) -> Result<(), MockError> {
        let path = self.config_json();
        if parse_date(deadline).is_none() {
            return Err(MockError::Config(
                path,
                format!("deadline {deadline:?} is not a date like 2027-06-30"),
            ));
        }
        let config = Config {
            deadline: deadline.to_string(),
            ..self.config()?
        };
        write_json(&path, &config)
    }

    pub fn persons(&self) -> Result<Directory, MockError> {
        Directory::load(&self.persons_json())
    }

    /// A CA with its private key, to issue with (the server, and tests that need a client
    /// certificate of DIR's legacy CA).
    pub fn load_ca(&self, ca: CaName) -> Result<TestCa, MockError> {
        let cert = self.read_cert(&self.ca_pem(ca))?;
        let key_path = self.ca_key(ca);
        let key = read_key(&key_path)?;
        TestCa::from_parts(&cert, key.secret_der()).map_err(|e| MockError::Pki(key_path, e))
    }

    /// Every CA of DIR, the root first: the one set the server's TLS trusts for client
    /// certificates and the CA checks logins and customers' certificates against, read once from
    /// the same files. A CA file is one certificate: one with several is refused rather than
    /// read in part.
    pub fn trust_anchors(&self) -> Result<Vec<(CaName, Vec<u8>)>, MockError> {
        CaName::ALL
            .into_iter()
            .map(|ca| {
                let path = self.ca_pem(ca);
                let certs: Vec<_> = CertificateDer::pem_file_iter(&path)
                    .map_err(|e| MockError::Pem(path.clone(), e.to_string()))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| MockError::Pem(path.clone(), e.to_string()))?;
                match certs.as_slice() {
                    [one] => Ok((ca, one.as_ref().to_vec())),
                    _ => Err(MockError::Pem(
                        path.clone(),
                        format!("{} certificates where one CA's is expected", certs.len()),
                    )),
                }
            })
            .collect()
    }

    /// The DER of a CA certificate.
    pub fn ca_cert_der(&self, ca: CaName) -> Result<Vec<u8>, MockError> {
        self.read_cert(&self.ca_pem(ca))
    }

    fn read_cert(&self, path: &Path) -> Result<Vec<u8>, MockError> {
        let cert = CertificateDer::from_pem_file(path)
            .map_err(|e| MockError::Pem(path.to_path_buf(), e.to_string()))?;
        Ok(cert.as_ref().to_vec())
    }
}

/// A PKCS#8 private key from a PEM file.
pub(crate) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, MockError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| MockError::Pem(path.to_path_buf(), e.to_string()))
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), MockError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| MockError::Config(path.to_path_buf(), e.to_string()))?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| MockError::Io(path.to_path_buf(), e))
}
