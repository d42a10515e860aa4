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

/// Checks `cert_der` against the roots, the card key, the identity and the purpose; returns the
/// parsed certificate when it may go onto the card.
///
/// The chain is `cert` → one of `issuers` (a CA whose signature on `cert` verifies) → one of
/// `roots` (every certificate of the configured root file, see [`crate::ca::roots::Roots`]).
pub fn check_issued(
    cert_der: &[u8],
    issuers: &[Vec<u8>],
    roots: &[Vec<u8>],
    expected: &Expected,
    now_unix: i64,
) -> Result<CertInfo, CertCheckError> {
    let cert = check_genuine(cert_der, issuers, roots, expected, now_unix)?;
    if now_unix < cert.not_before {
        return Err(CertCheckError::NotYetValid(cert.not_before_date()));
    }
    if now_unix > cert.not_after {
        return Err(CertCheckError::Expired(cert.not_after_date()));
    }
    Ok(cert)
}

/// Every check of [`check_issued`] but the certificate's own validity dates: whether a
/// certificate already on the card is the profile's genuine one for this holder and this key,
/// however soon it expires (an expiring one is the renewal's business, not a forgery).
pub fn check_genuine(
    cert_der: &[u8],
    issuers: &[Vec<u8>],
    roots: &[Vec<u8>],
    expected: &Expected,
    now_unix: i64,
) -> Result<CertInfo, CertCheckError> {
    let cert =
        CertInfo::from_der(cert_der).map_err(|e| CertCheckError::Unreadable(e.to_string()))?;
    let issuer = chain_to_root(&cert, issuers, roots, now_unix)?;

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
    Ok(cert)
}

/// Whether `cert` is the holder's legacy certificate, the only kind the upgrade may remove: the
/// legacy CA issued it ([`crate::ca::profile::LEGACY_ISSUING_CA`], chained to one of `roots`)
/// and it names `hsa_id`. Its dates do not matter: an expired legacy pair is still the one the
/// upgrade replaces.
pub fn check_legacy(
    cert: &CertInfo,
    issuers: &[Vec<u8>],
    roots: &[Vec<u8>],
    hsa_id: &str,
    now_unix: i64,
) -> Result<(), CertCheckError> {
    let issuer = chain_to_root(cert, issuers, roots, now_unix)?;
    let issuer_cn = issuer.subject.common_name.as_deref().unwrap_or("");
    if !crate::ca::profile::is_legacy_ca(issuer_cn) {
        return Err(CertCheckError::WrongIssuer {
            expected: crate::ca::profile::LEGACY_ISSUING_CA.into(),
            found: issuer.subject_dn.clone(),
        });
    }
    let found = cert.subject.serial_number.as_deref().unwrap_or("");
    if found.trim() != hsa_id.trim() {
        return Err(CertCheckError::WrongIdentity {
            expected: masked(hsa_id),
            found: if found.is_empty() {
                "no one".into()
            } else {
                masked(found)
            },
        });
    }
    Ok(())
}

/// The CA among `issuers` that issued `cert`, once it is checked to be a CA valid today whose
/// own certificate one of `roots` signed: `cert` → issuing CA → root.
pub fn chain_to_root(
    cert: &CertInfo,
    issuers: &[Vec<u8>],
    roots: &[Vec<u8>],
    now_unix: i64,
) -> Result<CertInfo, CertCheckError> {
    let mut parsed = Vec::with_capacity(roots.len());
    for der in roots {
        let root = CertInfo::from_der(der).map_err(|e| CertCheckError::BadRoot(e.to_string()))?;
        if !root.is_ca {
            return Err(CertCheckError::BadRoot(format!(
                "`{}` is not a CA certificate",
                root.subject_dn
            )));
        }
        parsed.push(root);
    }
    if parsed.is_empty() {
        return Err(CertCheckError::BadRoot(
            "the root file holds no certificate".into(),
        ));
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
    let mut reasons = Vec::new();
    let under_root = parsed
        .iter()
        .any(|root| match issuer.verify_issued_by(root) {
            Ok(()) => true,
            Err(e) => {
                reasons.push(e.to_string());
                false
            }
        });
    if !under_root {
        return Err(CertCheckError::NotUnderRoot {
            issuer: issuer.subject_dn.clone(),
            reason: reasons.join("; "),
        });
    }
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
