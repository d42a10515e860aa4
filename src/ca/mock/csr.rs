//! Checks on an EST enrolment's PKCS#10 request before anything is issued: it parses, it carries
//! an RSA-2048 key, it is signed by that key, and it does not ask for someone else's identity.
//! The subject of the certificate comes from the directory, never from the CSR.

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

use super::refusal::Rejection;
use crate::pki::keys::RsaSpki;

/// The key size of every SITHS card key.
pub const CARD_KEY_BITS: usize = 2048;

/// The checked CSR's SubjectPublicKeyInfo (DER), the key to certify.
pub fn check(der: &[u8], own_identity: &str) -> Result<Vec<u8>, Rejection> {
    let (_, csr) = X509CertificationRequest::from_der(der).map_err(|e| {
        Rejection::bad_csr(format!(
            "the certificate request is not a readable PKCS#10 request ({e}); send the DER \
             request base64-encoded"
        ))
    })?;
    let info = &csr.certification_request_info;
    let spki = info.subject_pki.raw.to_vec();
    // Key first: ring verifies RSA signatures only from 2048 bits, and a short key must be
    // reported as a short key, not as a bad signature.
    let key = RsaSpki::from_der(&spki).map_err(|_| {
        Rejection::bad_key(
            "the request's key is not an RSA key; generate an RSA-2048 key on the card".into(),
        )
    })?;
    if key.bits != CARD_KEY_BITS {
        return Err(Rejection::bad_key(format!(
            "the request's key has {} bits; SITHS card keys are RSA-{CARD_KEY_BITS}, generate a \
             new key of that size",
            key.bits
        )));
    }
    csr.verify_signature().map_err(|_| {
        Rejection::bad_csr(
            "the request's signature does not verify with the key it carries; sign the request \
             with the card key it names"
                .into(),
        )
    })?;
    for attr in info.subject.iter_attributes() {
        if attr.attr_type().to_id_string() != "2.5.4.5" {
            continue;
        }
        let asked = attr.as_str().unwrap_or("");
        if asked.trim() != own_identity {
            return Err(Rejection::wrong_identity(
                "the request names another person's identity in its serialNumber; leave the \
                 subject empty or name your own identity, the CA fills it from the directory"
                    .into(),
            ));
        }
    }
    Ok(spki)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_bad_csr_not_a_panic() {
        for bytes in [&b""[..], b"\x30\x03\x02\x01\x00", b"hello"] {
            let r = check(bytes, "TST5565594230-1001").unwrap_err();
            assert_eq!(r.refusal.error, crate::ca::RefusalCode::BadCsr);
        }
    }
}
