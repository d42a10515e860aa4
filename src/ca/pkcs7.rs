//! PKCS#7 / CMS "certs-only" messages: how EST (RFC 7030) carries certificates in both
//! directions (`cacerts` and `simpleenroll` answers), base64 on the wire.

use base64::Engine;
use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerInfos};
use der::asn1::SetOfVec;
use der::{Any, Decode, Encode};

/// id-signedData and id-data (RFC 5652).
const ID_SIGNED_DATA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_DATA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pkcs7Error {
    #[error("the CA's answer is not base64: {0}; check the CA address")]
    Base64(String),
    #[error("the CA's answer is not a PKCS#7 certificate list ({0}); check the CA address")]
    Der(String),
    #[error("a certificate could not be encoded: {0}")]
    Encode(String),
}

/// DER of a certs-only SignedData holding `certs` (each DER).
pub fn certs_only_der(certs: &[&[u8]]) -> Result<Vec<u8>, Pkcs7Error> {
    let enc = |e: der::Error| Pkcs7Error::Encode(e.to_string());
    let mut set = SetOfVec::new();
    for der in certs {
        let cert = x509_cert::Certificate::from_der(der).map_err(enc)?;
        set.insert(CertificateChoices::Certificate(cert))
            .map_err(enc)?;
    }
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(set)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::new()),
    };
    let info = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed).map_err(enc)?,
    };
    info.to_der().map_err(enc)
}

/// Base64 certs-only, as an EST server sends it.
pub fn certs_only_base64(certs: &[&[u8]]) -> Result<String, Pkcs7Error> {
    Ok(base64::engine::general_purpose::STANDARD.encode(certs_only_der(certs)?))
}

/// The certificates (DER) of a certs-only message, from DER.
pub fn parse_certs_only_der(der_bytes: &[u8]) -> Result<Vec<Vec<u8>>, Pkcs7Error> {
    let err = |e: der::Error| Pkcs7Error::Der(e.to_string());
    let info = ContentInfo::from_der(der_bytes).map_err(err)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(Pkcs7Error::Der("not SignedData".into()));
    }
    let signed: SignedData = info.content.decode_as().map_err(err)?;
    let mut out = Vec::new();
    for choice in signed
        .certificates
        .map(|s| s.0.into_vec())
        .unwrap_or_default()
    {
        if let CertificateChoices::Certificate(cert) = choice {
            out.push(cert.to_der().map_err(err)?);
        }
    }
    Ok(out)
}

/// The certificates of a base64 certs-only message (line breaks and spaces allowed).
pub fn parse_certs_only_base64(text: &[u8]) -> Result<Vec<Vec<u8>>, Pkcs7Error> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| Pkcs7Error::Base64(e.to_string()))?;
    parse_certs_only_der(&der)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inera's public certificates, kept in the repository (tests/data/inera/README.md).
    fn real(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/inera")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("test data {}: {e}", path.display()))
    }

    #[test]
    fn round_trips_real_certificates() {
        let root = real("testsithseidrootcav2.cer");
        let function = real("testsithseidfunctioncav1.cer");
        let b64 = certs_only_base64(&[&function, &root]).unwrap();
        let mut wrapped = String::new();
        for chunk in b64.as_bytes().chunks(64) {
            wrapped.push_str(std::str::from_utf8(chunk).unwrap());
            wrapped.push_str("\r\n");
        }
        let back = parse_certs_only_base64(wrapped.as_bytes()).unwrap();
        assert_eq!(back.len(), 2);
        assert!(back.contains(&root) && back.contains(&function));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            parse_certs_only_base64(b"not base64!"),
            Err(Pkcs7Error::Base64(_))
        ));
        assert!(matches!(
            parse_certs_only_der(&[0x30, 0x03, 0x02, 0x01, 0x00]),
            Err(Pkcs7Error::Der(_))
        ));
        for n in 0..64u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            let _ = parse_certs_only_der(&bytes);
        }
    }
}
