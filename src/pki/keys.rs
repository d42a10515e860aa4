//! RSA keys for the test PKI and the bridge between "a public key from a card" and what rcgen
//! needs to certify it.
//!
//! ring (rcgen's backend) cannot generate RSA keys, so keys are made with the `rsa` crate and
//! handed over as PKCS#8. A card's key arrives as modulus and exponent (or an SPKI), never with
//! its private half; [`RsaSpki`] carries exactly that into a certificate.

use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use super::PkiError;

/// Key sizes the test PKI makes: card keys are RSA-2048, Inera's CAs RSA-4096.
pub const ALLOWED_RSA_BITS: [usize; 3] = [2048, 3072, 4096];

/// A fresh RSA key. Slow (around a second for 2048 bits, longer for 4096): keep it out of
/// loops and share keys between tests.
pub fn generate_rsa_key(bits: usize) -> Result<RsaPrivateKey, PkiError> {
    if !ALLOWED_RSA_BITS.contains(&bits) {
        return Err(PkiError::KeyGeneration(format!(
            "{bits} bits is not supported; use 2048, 3072 or 4096"
        )));
    }
    RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|e| PkiError::KeyGeneration(e.to_string()))
}

/// An RSA private key from PKCS#8 PEM (`BEGIN PRIVATE KEY`). Text before the PEM block is
/// skipped, as RFC 7468 (5.2) allows: the demo's TEST keys carry a line there saying what they
/// are, so nobody mistakes one for a secret.
pub fn rsa_key_from_pem(text: &str) -> Result<RsaPrivateKey, PkiError> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    let start = text.find(BEGIN).ok_or_else(|| {
        PkiError::BadCaKey(format!("no `{BEGIN}` block (a PKCS#8 RSA key in PEM)"))
    })?;
    let pem = text.get(start..).unwrap_or_default();
    RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| PkiError::BadCaKey(e.to_string()))
}

/// PKCS#8 DER of a private key, zeroized when dropped.
pub fn private_key_pkcs8_der(key: &RsaPrivateKey) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let doc = key
        .to_pkcs8_der()
        .map_err(|e| PkiError::KeyGeneration(e.to_string()))?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

/// An RSA public key in the forms certificates and cards need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaSpki {
    /// SubjectPublicKeyInfo DER (rsaEncryption, NULL parameters).
    pub spki_der: Vec<u8>,
    /// PKCS#1 RSAPublicKey DER: the BIT STRING content of the SPKI.
    pub pkcs1_der: Vec<u8>,
    /// Big-endian modulus without leading zero bytes.
    pub modulus: Vec<u8>,
    /// Big-endian public exponent without leading zero bytes.
    pub exponent: Vec<u8>,
    pub bits: usize,
}

impl RsaSpki {
    /// From an SPKI DER, as a CSR or a card-side helper provides it.
    pub fn from_der(spki_der: &[u8]) -> Result<RsaSpki, PkiError> {
        let key = RsaPublicKey::from_public_key_der(spki_der)
            .map_err(|e| PkiError::BadPublicKey(e.to_string()))?;
        RsaSpki::from_key(&key)
    }

    /// From the modulus and exponent a card returns after GENERATE ASYMMETRIC KEY PAIR.
    pub fn from_parts(modulus: &[u8], exponent: &[u8]) -> Result<RsaSpki, PkiError> {
        let key = RsaPublicKey::new(
            BigUint::from_bytes_be(modulus),
            BigUint::from_bytes_be(exponent),
        )
        .map_err(|e| PkiError::BadPublicKey(e.to_string()))?;
        RsaSpki::from_key(&key)
    }

    pub fn from_key(key: &RsaPublicKey) -> Result<RsaSpki, PkiError> {
        let spki_der = key
            .to_public_key_der()
            .map_err(|e| PkiError::BadPublicKey(e.to_string()))?
            .as_bytes()
            .to_vec();
        let pkcs1_der = key
            .to_pkcs1_der()
            .map_err(|e| PkiError::BadPublicKey(e.to_string()))?
            .as_bytes()
            .to_vec();
        Ok(RsaSpki {
            spki_der,
            pkcs1_der,
            modulus: key.n().to_bytes_be(),
            exponent: key.e().to_bytes_be(),
            bits: key.n().bits(),
        })
    }
}

/// rcgen certifies any [`rcgen::PublicKeyData`]; this lets it certify a card key whose private
/// half it never sees. Certificates are signed with SHA-256, so the key is declared as such.
impl rcgen::PublicKeyData for RsaSpki {
    fn der_bytes(&self) -> &[u8] {
        &self.pkcs1_der
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// Strips leading zero bytes from a big-endian integer, so keys from certificates (which may
/// carry a sign byte) and from cards compare equal.
pub fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or(&[])
}

/// Bit length of a big-endian unsigned integer.
pub fn bit_length(b: &[u8]) -> usize {
    let s = strip_leading_zeros(b);
    match s.first() {
        Some(&first) => s.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// Real RSA keys shared by the unit tests of this crate: generated once per test binary, since
/// generating one takes about a second.
#[cfg(test)]
pub(crate) mod test_keys {
    use std::sync::OnceLock;

    use rsa::RsaPrivateKey;

    static KEYS_2048: [OnceLock<RsaPrivateKey>; 6] = [const { OnceLock::new() }; 6];

    /// Key number `i` (0..6) of the shared RSA-2048 keys.
    pub(crate) fn rsa_2048(i: usize) -> &'static RsaPrivateKey {
        let cell = &KEYS_2048[i % KEYS_2048.len()];
        cell.get_or_init(|| match super::generate_rsa_key(2048) {
            Ok(k) => k,
            Err(e) => panic!("test key generation failed: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_key_parts_and_spki_agree() {
        let key = test_keys::rsa_2048(0);
        let public = RsaPublicKey::from(key);
        let from_key = RsaSpki::from_key(&public).unwrap();
        assert_eq!(from_key.bits, 2048);
        assert_eq!(from_key.exponent, vec![1, 0, 1]);
        let from_parts = RsaSpki::from_parts(&from_key.modulus, &from_key.exponent).unwrap();
        assert_eq!(from_parts, from_key);
        // A leading zero (as in a DER INTEGER) does not change the key.
        let mut padded = vec![0];
        padded.extend_from_slice(&from_key.modulus);
        assert_eq!(
            RsaSpki::from_parts(&padded, &[0, 1, 0, 1]).unwrap(),
            from_key
        );
        assert_eq!(RsaSpki::from_der(&from_key.spki_der).unwrap(), from_key);
        // What rcgen will write into the certificate is the very same SPKI.
        assert_eq!(
            rcgen::PublicKeyData::subject_public_key_info(&from_key),
            from_key.spki_der
        );
    }

    #[test]
    fn pem_keys_are_read_after_a_note() {
        let key = test_keys::rsa_2048(1);
        let pem = crate::pki::pem::encode("PRIVATE KEY", &private_key_pkcs8_der(key).unwrap());
        let read = rsa_key_from_pem(&format!("TEST KEY, not secret.\n{pem}")).unwrap();
        assert_eq!(&read, key);
        assert!(rsa_key_from_pem("TEST KEY, no PEM").is_err());
        let cut = pem.replace("-----END PRIVATE KEY-----\n", "");
        assert!(rsa_key_from_pem(&cut).is_err());
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(RsaSpki::from_der(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
        assert!(RsaSpki::from_der(&[]).is_err());
        assert!(RsaSpki::from_parts(&[], &[1, 0, 1]).is_err());
        assert!(generate_rsa_key(1024).is_err());
    }

    #[test]
    fn integer_helpers() {
        assert_eq!(strip_leading_zeros(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(strip_leading_zeros(&[0, 0]), &[] as &[u8]);
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(bit_length(&[0x01, 0, 1]), 17);
        assert_eq!(bit_length(&[]), 0);
    }
}
