//! Checks on a certificate the CA issued, before it touches the card.
//!
//! A certificate written next to the wrong key, for the wrong person or the wrong purpose would
//! make every login or signature with the card fail, and a certificate that does not chain to
//! the configured root would not be trusted by anyone. So nothing is written unless all of these
//! hold; each failure names what was wrong and says that the card was left as it was.

use crate::pki::{CertInfo, Date, Identity, KeyUsageBit, Purpose};

/// What the certificate must say: the holder, the purpose and the card key it was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// HSA-id or 12-digit personnummer (the subject serialNumber).
    pub identity: String,
    pub purpose: Purpose,
    /// The card key (big-endian, leading zeros ignored).
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
    /// The trust level the certificate's policy must carry.
    pub trust_level: u8,
    /// The profile, whose own issuing CA must have issued the certificate.
    pub profile: crate::ca::Profile,
}

const NEXT: &str = "nothing was written to the card; contact the service centre";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertCheckError {
    #[error("the CA sent something that is not a certificate ({0}); {NEXT}")]
    Unreadable(String),
    #[error("the configured root certificate cannot be used ({0}); check the CA root file")]
    BadRoot(String),
    #[error(
        "the certificate was issued by `{issuer}`, which is not one of the CA's issuing CAs \
         (or its signature does not verify); {NEXT}"
    )]
    UnknownIssuer { issuer: String },
    #[error("`{issuer}` is not a certificate authority, so it cannot issue certificates; {NEXT}")]
    IssuerNotCa { issuer: String },
    #[error("the issuing CA `{issuer}` does not chain to the configured root ({reason}); {NEXT}")]
    NotUnderRoot { issuer: String, reason: String },
    #[error("the issuing CA `{issuer}` is not valid today; {NEXT}")]
    IssuerNotValid { issuer: String },
    #[error("the certificate is for a different key than the one on the card; {NEXT}")]
    WrongKey,
    #[error("the certificate names {found} instead of {expected}; {NEXT}")]
    WrongIdentity { expected: String, found: String },
    #[error("the certificate is for {found} instead of {expected}; {NEXT}")]
    WrongPurpose { expected: String, found: String },
    #[error(
        "the certificate was issued by `{found}`, not by {expected}, the CA for this kind of \
         certificate; {NEXT}"
    )]
    WrongIssuer { expected: String, found: String },
    #[error("the certificate is at {found} instead of trust level {expected}; {NEXT}")]
    WrongTrustLevel { expected: u8, found: String },
    #[error("the certificate is not valid until {0} (check the computer's clock); {NEXT}")]
    NotYetValid(Date),
    #[error("the certificate expired on {0}; {NEXT}")]
    Expired(Date),
}

/// Checks `cert_der` against the root, the card key, the identity and the purpose; returns the
/// parsed certificate when it may go onto the card.
///
/// The chain is `cert` → one of `issuers` (a CA whose signature on `cert` verifies) → `root_der`.
pub fn check_issued(
    cert_der: &[u8],
    issuers: &[Vec<u8>],
    root_der: &[u8],
    expected: &Expected,
    now_unix: i64,
) -> Result<CertInfo, CertCheckError> {
    let cert =
        CertInfo::from_der(cert_der).map_err(|e| CertCheckError::Unreadable(e.to_string()))?;
    let issuer = chain_to_root(&cert, issuers, root_der, now_unix)?;

    let issuer_cn = issuer.subject.common_name.as_deref().unwrap_or("");
    if !expected.profile.is_issuing_ca(issuer_cn) {
        return Err(CertCheckError::WrongIssuer {
            expected: expected.profile.issuing_ca().into(),
            found: issuer.subject_dn.clone(),
        });
    }

    if !cert.matches_rsa_key(&expected.modulus, &expected.exponent) {
        return Err(CertCheckError::WrongKey);
    }

    let found = cert.subject.serial_number.as_deref().unwrap_or("");
    if found.trim() != expected.identity.trim() {
        return Err(CertCheckError::WrongIdentity {
            expected: masked(&expected.identity),
            found: if found.is_empty() {
                "no one".into()
            } else {
                masked(found)
            },
        });
    }

    let purpose_fits = match expected.purpose {
        Purpose::Authentication => {
            cert.purpose == Purpose::Authentication
                && cert.key_usage.contains(&KeyUsageBit::DigitalSignature)
        }
        Purpose::Signature => {
            cert.purpose == Purpose::Signature
                && cert.key_usage.contains(&KeyUsageBit::NonRepudiation)
        }
        Purpose::Ca | Purpose::Other => false,
    };
    if !purpose_fits {
        return Err(CertCheckError::WrongPurpose {
            expected: expected.purpose.label().into(),
            found: cert.purpose.label().into(),
        });
    }

    if cert.trust_level != Some(expected.trust_level) {
        return Err(CertCheckError::WrongTrustLevel {
            expected: expected.trust_level,
            found: cert
                .trust_level
                .map_or("no trust level".into(), |l| format!("trust level {l}")),
        });
    }

    if now_unix < cert.not_before {
        return Err(CertCheckError::NotYetValid(cert.not_before_date()));
    }
    if now_unix > cert.not_after {
        return Err(CertCheckError::Expired(cert.not_after_date()));
    }
    Ok(cert)
}

/// The configured root as DER, from the PEM (or DER) file a site gives.
pub fn root_der(ca_root_pem: &[u8]) -> Result<Vec<u8>, crate::ca::client::CaError> {
    CertInfo::from_pem_or_der(ca_root_pem)
        .map(|i| i.der)
        .map_err(|e| {
            crate::ca::client::CaError::Config(format!(
                "the CA root certificate cannot be read ({e}); give the root PEM file the site uses"
            ))
        })
}

/// The CA among `issuers` that issued `cert`, once it is checked to be a CA valid today whose
/// own certificate the root `root_der` signed: `cert` → issuing CA → root.
pub fn chain_to_root(
    cert: &CertInfo,
    issuers: &[Vec<u8>],
    root_der: &[u8],
    now_unix: i64,
) -> Result<CertInfo, CertCheckError> {
    let root = CertInfo::from_der(root_der).map_err(|e| CertCheckError::BadRoot(e.to_string()))?;
    if !root.is_ca {
        return Err(CertCheckError::BadRoot(format!(
            "`{}` is not a CA certificate",
            root.subject_dn
        )));
    }

    let issuer = issuers
        .iter()
        .filter_map(|der| CertInfo::from_der(der).ok())
        .find(|i| cert.verify_issued_by(i).is_ok())
        .ok_or_else(|| CertCheckError::UnknownIssuer {
            issuer: cert.issuer_dn.clone(),
        })?;
    let may_sign_certs =
        issuer.key_usage.is_empty() || issuer.key_usage.contains(&KeyUsageBit::KeyCertSign);
    if !issuer.is_ca || !may_sign_certs {
        return Err(CertCheckError::IssuerNotCa {
            issuer: issuer.subject_dn.clone(),
        });
    }
    issuer
        .verify_issued_by(&root)
        .map_err(|e| CertCheckError::NotUnderRoot {
            issuer: issuer.subject_dn.clone(),
            reason: e.to_string(),
        })?;
    if !issuer.is_valid_at(now_unix) {
        return Err(CertCheckError::IssuerNotValid {
            issuer: issuer.subject_dn.clone(),
        });
    }

    Ok(issuer)
}

/// An identity as it may appear in messages and logs: kind and masked personnummer.
fn masked(serial: &str) -> String {
    let id = Identity::from_serial_number(serial);
    format!("{} {}", id.kind(), id.display_masked())
}
