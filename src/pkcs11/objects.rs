//! The token's objects as the card model sees them: certificates, public and private keys, each
//! linked by `CKA_ID`, and the templates a new key and a new certificate are made from.

use cryptoki::error::Error;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

/// One object of a class, with the attributes the overview needs.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub handle: ObjectHandle,
    pub id: Vec<u8>,
    pub label: String,
    /// CKA_VALUE of a certificate; empty for keys.
    pub value: Vec<u8>,
    /// RSA modulus of a key (leading zeros removed); empty for certificates.
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

/// Every object of `class` on the token, or those with `id` only.
pub(crate) fn find(
    session: &Session,
    class: ObjectClass,
    id: Option<&[u8]>,
) -> Result<Vec<Object>, Error> {
    let mut template = vec![Attribute::Class(class)];
    if let Some(id) = id {
        template.push(Attribute::Id(id.to_vec()));
    }
    let wanted: &[AttributeType] = if class == ObjectClass::CERTIFICATE {
        &[
            AttributeType::Id,
            AttributeType::Label,
            AttributeType::Value,
        ]
    } else {
        &[
            AttributeType::Id,
            AttributeType::Label,
            AttributeType::Modulus,
            AttributeType::PublicExponent,
        ]
    };
    let mut out = Vec::new();
    for handle in session.find_objects(&template)? {
        let mut object = Object {
            handle,
            id: Vec::new(),
            label: String::new(),
            value: Vec::new(),
            modulus: Vec::new(),
            exponent: Vec::new(),
        };
        // Attributes a module cannot give are left out of the answer, not an error.
        for attribute in session.get_attributes(handle, wanted)? {
            match attribute {
                Attribute::Id(v) => object.id = v,
                Attribute::Label(v) => object.label = String::from_utf8_lossy(&v).trim().into(),
                Attribute::Value(v) => object.value = v,
                Attribute::Modulus(v) => object.modulus = strip_zeros(v),
                Attribute::PublicExponent(v) => object.exponent = strip_zeros(v),
                _ => {}
            }
        }
        out.push(object);
    }
    Ok(out)
}

/// Whether a private key wants a context-specific login (PIN2) before each signature.
pub(crate) fn always_authenticate(session: &Session, key: ObjectHandle) -> bool {
    session
        .get_attributes(key, &[AttributeType::AlwaysAuthenticate])
        .ok()
        .into_iter()
        .flatten()
        .any(|a| matches!(a, Attribute::AlwaysAuthenticate(true)))
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros.min(v.len().saturating_sub(1)));
    v
}

/// The mechanism and templates of a new RSA-2048 key pair under `id`: the private half stays
/// on the token (sensitive, never extractable) and only signs; a signing key (PIN2) also wants
/// PIN2 before each signature.
pub(crate) fn key_pair_templates(
    id: &[u8],
    label: &str,
    signing: bool,
) -> (Mechanism<'static>, Vec<Attribute>, Vec<Attribute>) {
    let public = vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::ModulusBits((crate::layout::RSA_BITS as cryptoki_sys::CK_ULONG).into()),
        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let mut private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    if signing {
        private.push(Attribute::AlwaysAuthenticate(true));
    }
    (Mechanism::RsaPkcsKeyPairGen, public, private)
}

/// The template of a public X.509 certificate object for the key under `id`.
pub(crate) fn certificate_template(
    id: &[u8],
    label: &str,
    der: &[u8],
) -> Result<Vec<Attribute>, String> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|e| format!("the certificate cannot be read: {e}"))?;
    Ok(vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Subject(cert.tbs_certificate.subject.as_raw().to_vec()),
        Attribute::Issuer(cert.tbs_certificate.issuer.as_raw().to_vec()),
        Attribute::SerialNumber(serial_der(cert.tbs_certificate.raw_serial())),
        Attribute::Value(der.to_vec()),
    ])
}

/// CKA_SERIAL_NUMBER is the DER INTEGER, tag and length included.
fn serial_der(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0x02];
    if raw.len() < 0x80 {
        out.push(raw.len() as u8);
    } else {
        out.push(0x81);
        out.push(raw.len().min(255) as u8);
    }
    out.extend_from_slice(&raw[..raw.len().min(255)]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moduli_lose_leading_zeros_but_never_all_bytes() {
        assert_eq!(strip_zeros(vec![0, 0, 1, 2]), vec![1, 2]);
        assert_eq!(strip_zeros(vec![0]), vec![0]);
        assert_eq!(strip_zeros(vec![]), Vec::<u8>::new());
        assert_eq!(serial_der(&[0x01, 0x02]), vec![0x02, 0x02, 0x01, 0x02]);
    }

    #[test]
    fn a_signing_key_wants_pin2_at_each_signature_and_never_leaves_the_card() {
        let (_, _, private) = key_pair_templates(&[6], "x", true);
        assert!(
            private
                .iter()
                .any(|a| matches!(a, Attribute::AlwaysAuthenticate(true)))
        );
        assert!(
            private
                .iter()
                .any(|a| matches!(a, Attribute::Extractable(false)))
        );
        assert!(
            private
                .iter()
                .any(|a| matches!(a, Attribute::Sensitive(true)))
        );
        let (_, _, auth) = key_pair_templates(&[2], "x", false);
        assert!(
            !auth
                .iter()
                .any(|a| matches!(a, Attribute::AlwaysAuthenticate(_)))
        );
    }
}
