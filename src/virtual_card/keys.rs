//! RSA keys inside the virtual card: generation, storage form, public key template, signing.
//!
//! Keys are kept as PKCS#8 DER in the state; only the public half ever leaves, in a `7F49`
//! template (`81` modulus, `82` exponent), as ISO 7816-8 GENERATE ASYMMETRIC KEY PAIR answers.

use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::layout;
use crate::pkcs15::iso7816::RsaPublicKeyTemplate;

/// Length of the SHA-256 hash the card signs.
pub(crate) const HASH_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("RSA key generation failed: {0}")]
    Generate(String),
    #[error("the stored key cannot be decoded: {0}")]
    Decode(String),
    #[error("the key cannot be encoded: {0}")]
    Encode(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Make a fresh RSA-2048 key (e = 65537) and return its PKCS#8 DER.
pub(crate) fn generate() -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let key = RsaPrivateKey::new(&mut rand::thread_rng(), layout::RSA_BITS)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    encode(&key)
}

pub(crate) fn encode(key: &RsaPrivateKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let doc = key
        .to_pkcs8_der()
        .map_err(|e| KeyError::Encode(e.to_string()))?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

pub(crate) fn load(der: &[u8]) -> Result<RsaPrivateKey, KeyError> {
    RsaPrivateKey::from_pkcs8_der(der).map_err(|e| KeyError::Decode(e.to_string()))
}

/// The `7F49` public key template: `81` modulus and `82` public exponent, unsigned big-endian.
pub(crate) fn public_key_template(key: &RsaPublicKey) -> Vec<u8> {
    RsaPublicKeyTemplate {
        modulus: key.n().to_bytes_be(),
        exponent: key.e().to_bytes_be(),
    }
    .encode()
}

/// Parse a `7F49` template back into a public key (tests and diagnostics).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn parse_public_key_template(bytes: &[u8]) -> Option<RsaPublicKey> {
    let t = RsaPublicKeyTemplate::decode(bytes).ok()?;
    RsaPublicKey::new(
        BigUint::from_bytes_be(&t.modulus),
        BigUint::from_bytes_be(&t.exponent),
    )
    .ok()
}

/// Parse the MSE SET data `80 01 alg 84 01 key` into (algorithm, key reference).
pub(crate) fn parse_mse(data: &[u8]) -> Option<(u8, u8)> {
    use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged, asn1::AnyRef};
    let context = |number| Tag::ContextSpecific {
        constructed: false,
        number,
    };
    let mut reader = SliceReader::new(data).ok()?;
    let mut alg = None;
    let mut key = None;
    while !reader.is_finished() {
        let item = AnyRef::decode(&mut reader).ok()?;
        match (item.tag(), item.value()) {
            (t, [a]) if t == context(TagNumber::N0) => alg = Some(*a),
            (t, [k]) if t == context(TagNumber::N4) => key = Some(*k),
            _ => return None,
        }
    }
    Some((alg?, key?))
}

/// Sign a SHA-256 hash with the algorithm chosen by MSE: PKCS#1 v1.5 (the card adds the
/// DigestInfo) or PSS with MGF1-SHA-256 and a 32-byte salt (what TLS 1.3 needs).
pub(crate) fn sign(key: &RsaPrivateKey, algorithm: u8, hash: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut rng = rand::thread_rng();
    let result = match algorithm {
        layout::ALG_RSA_PKCS1_SHA256 => {
            key.sign_with_rng(&mut rng, Pkcs1v15Sign::new::<Sha256>(), hash)
        }
        layout::ALG_RSA_PSS_SHA256 => {
            key.sign_with_rng(&mut rng, Pss::new_with_salt::<Sha256>(HASH_LEN), hash)
        }
        other => return Err(KeyError::Sign(format!("unknown algorithm {other:02X}"))),
    };
    result.map_err(|e| KeyError::Sign(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mse_data() {
        assert_eq!(parse_mse(&[0x80, 1, 0x42, 0x84, 1, 3]), Some((0x42, 3)));
        assert_eq!(parse_mse(&[0x84, 1, 3, 0x80, 1, 0x45]), Some((0x45, 3)));
        assert_eq!(parse_mse(&[0x80, 1, 0x42]), None);
        assert_eq!(parse_mse(&[0x80, 2, 0x42, 0, 0x84, 1, 3]), None);
        assert_eq!(parse_mse(&[]), None);
    }
}
