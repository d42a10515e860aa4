//! Issuing at the CA mock, for enrolment and renewal alike: the certificate made for a checked
//! key and stored, and the EST bodies in and out (RFC 7030 4.2: base64 DER).

use base64::Engine;

use crate::ca::mock::persons::Person;
use crate::ca::mock::refusal::Rejection;
use crate::ca::{Profile, RefusalCode, pkcs7};

use super::exchange::{Reply, store_failed};
use super::state::Ca;

/// The content type of an EST enrolment answer (RFC 7030 §4.2.3).
pub(super) const EST_CERTS_CONTENT_TYPE: &str = "application/pkcs7-mime; smime-type=certs-only";

impl Ca {
    /// Issue for `spki` and store it; a renewal names (the serial renewed, the login's serial).
    pub(super) fn issue(
        &self,
        person: &Person,
        profile: Profile,
        spki: &[u8],
        renewal: Option<(&str, &str)>,
    ) -> Result<Reply, Rejection> {
        let issued = self
            .issuer(profile)
            .issue_person_cert(&person.cert_request(profile), spki)
            .map_err(|e| {
                log::error!("issuing for {}: {e}", person.hsa_id);
                Rejection::new(
                    500,
                    RefusalCode::Internal,
                    "the CA could not issue; try again later",
                )
            })?;
        log::info!(
            "{} {}: issued a certificate{}",
            person.hsa_id,
            profile.label(),
            if renewal.is_some() {
                " (renewal; the old one is replaced)"
            } else {
                ""
            }
        );
        let cert = self
            .store
            .insert_renewal(&person.hsa_id, profile, &issued, renewal)
            .map_err(store_failed)?;
        certs_reply(&cert)
    }
}

/// An EST answer holding one certificate.
pub(super) fn certs_reply(der: &[u8]) -> Result<Reply, Rejection> {
    let body = pkcs7::certs_only_base64(&[der])
        .map_err(|e| Rejection::new(500, RefusalCode::Internal, e.to_string()))?;
    Ok(Reply {
        status: 200,
        content_type: EST_CERTS_CONTENT_TYPE,
        body: body.into_bytes(),
    })
}

/// The EST body: base64 DER (line breaks allowed), or raw DER from a lenient client.
pub(super) fn decode_body(body: &[u8]) -> Result<Vec<u8>, Rejection> {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(Rejection::bad_csr(
            "the request body is empty; send the PKCS#10 request base64-encoded".into(),
        ));
    }
    match base64::engine::general_purpose::STANDARD.decode(&compact) {
        Ok(der) => Ok(der),
        Err(_) if body.first() == Some(&0x30) => Ok(body.to_vec()),
        Err(_) => Err(Rejection::bad_csr(
            "the request body is not base64; send the DER PKCS#10 request base64-encoded".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_decode_from_base64_with_line_breaks() {
        assert_eq!(
            decode_body(b"MAMC\r\nAQA=\n").unwrap(),
            vec![0x30, 3, 2, 1, 0]
        );
        assert_eq!(
            decode_body(b"").unwrap_err().refusal.error,
            RefusalCode::BadCsr
        );
        assert_eq!(
            decode_body(b"!!").unwrap_err().refusal.error,
            RefusalCode::BadCsr
        );
    }
}
