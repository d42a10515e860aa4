//! Certificates as this product sees them: who they identify (HSA-id, personnummer), what they
//! are for (login or signature), their trust level, and a small test CA to issue them.
//!
//! - [`identity`]: HSA-id, personnummer and samordningsnummer parsing and display.
//! - [`cert`]: [`CertInfo`], a panic-free read of a DER certificate over x509-parser.
//! - [`trust`]: trust levels and the (fake, [ours]) policy OIDs that carry them.
//! - [`issue`]: [`TestCa`], RSA test CAs that certify keys they never saw the private half of.
//! - [`keys`]: RSA key generation and SPKI helpers shared by the CA, the virtual card and tests.
//! - [`pem`]: PEM armour for certificate files (CLI and window export).

pub mod cert;
pub mod date;
pub mod expiry;
pub mod identity;
pub mod issue;
pub mod keys;
pub mod pem;
pub mod trust;

pub use cert::{CertInfo, KeyUsageBit, Purpose, SubjectName};
pub use date::Date;
pub use identity::{HsaId, IdError, Identity, Personnummer, Sex};
pub use issue::{PersonCertRequest, PersonName, TestCa};
pub use trust::{services_for_level, trust_level_from_policy_oid, trust_level_policy_oid};

/// Everything that can go wrong reading, checking or issuing certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error(
        "not a readable X.509 certificate ({0}); check that the file or card object holds a \
         DER or PEM certificate"
    )]
    BadCertificate(String),
    #[error(
        "`{subject}` was not signed by `{issuer}` ({reason}); the chain is broken or the wrong \
         CA certificate was given"
    )]
    NotIssuedBy {
        subject: String,
        issuer: String,
        reason: String,
    },
    #[error("not a usable RSA public key ({0}); SITHS card keys are RSA-2048")]
    BadPublicKey(String),
    #[error(
        "the CA private key could not be used ({0}); the CA files may be damaged, re-create the test CA"
    )]
    BadCaKey(String),
    #[error("RSA key generation failed ({0}); try again")]
    KeyGeneration(String),
    #[error("the certificate request was refused: {0}")]
    BadRequest(String),
    #[error("building the certificate failed ({0})")]
    Issue(String),
}
