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

/// BER-TLV with a definite length (short or long form).
pub(crate) fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tag.len() + 4 + value.len());
    out.extend_from_slice(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.push(0x82);
        out.extend_from_slice(&(len.min(0xFFFF) as u16).to_be_bytes());
    }
    out.extend_from_slice(value);
    out
}

/// The `7F49` public key template: `81` modulus and `82` public exponent, unsigned big-endian.
pub(crate) fn public_key_template(key: &RsaPublicKey) -> Vec<u8> {
    let mut inner = tlv(&[0x81], &key.n().to_bytes_be());
    inner.extend(tlv(&[0x82], &key.e().to_bytes_be()));
    tlv(&[0x7F, 0x49], &inner)
}

/// Read one BER-TLV from the front of `bytes`: (tag bytes, value, rest).
fn read_tlv(bytes: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let first = *bytes.first()?;
    let tag_len = if first & 0x1F == 0x1F { 2 } else { 1 };
    let tag = bytes.get(..tag_len)?;
    let rest = bytes.get(tag_len..)?;
    let (len, header) = match *rest.first()? {
        n if n < 0x80 => (n as usize, 1),
        0x81 => (*rest.get(1)? as usize, 2),
        0x82 => (
            u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?]) as usize,
            3,
        ),
        _ => return None,
    };
    let value = rest.get(header..header + len)?;
    Some((tag, value, rest.get(header + len..)?))
}

/// Parse a `7F49` template back into a public key (tests and diagnostics).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn parse_public_key_template(bytes: &[u8]) -> Option<RsaPublicKey> {
    let (tag, inner, _) = read_tlv(bytes)?;
    if tag != [0x7F, 0x49] {
        return None;
    }
    let (t1, modulus, rest) = read_tlv(inner)?;
    let (t2, exponent, _) = read_tlv(rest)?;
    if t1 != [0x81] || t2 != [0x82] {
        return None;
    }
    RsaPublicKey::new(
        BigUint::from_bytes_be(modulus),
        BigUint::from_bytes_be(exponent),
    )
    .ok()
}

/// Parse the MSE SET data `80 01 alg 84 01 key` into (algorithm, key reference).
pub(crate) fn parse_mse(data: &[u8]) -> Option<(u8, u8)> {
    let mut alg = None;
    let mut key = None;
    let mut rest = data;
    while !rest.is_empty() {
        let (tag, value, next) = read_tlv(rest)?;
        match (tag, value) {
            ([0x80], [a]) => alg = Some(*a),
            ([0x84], [k]) => key = Some(*k),
            _ => return None,
        }
        rest = next;
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
    fn tlv_lengths() {
        assert_eq!(tlv(&[0x80], &[1, 2]), [0x80, 2, 1, 2]);
        assert_eq!(tlv(&[0x81], &[0; 200])[..3], [0x81, 0x81, 200]);
        assert_eq!(tlv(&[0x81], &[0; 256])[..4], [0x81, 0x82, 1, 0]);
        let long = tlv(&[0x7F, 0x49], &[9; 300]);
        let (tag, value, rest) = read_tlv(&long).unwrap();
        assert_eq!((tag, value.len(), rest.len()), (&[0x7F, 0x49][..], 300, 0));
        assert!(read_tlv(&[0x81, 0x82, 0x01]).is_none());
        assert!(read_tlv(&[0x81, 0x05, 1]).is_none());
    }

    #[test]
    fn mse_data() {
        assert_eq!(parse_mse(&[0x80, 1, 0x42, 0x84, 1, 3]), Some((0x42, 3)));
        assert_eq!(parse_mse(&[0x84, 1, 3, 0x80, 1, 0x45]), Some((0x45, 3)));
        assert_eq!(parse_mse(&[0x80, 1, 0x42]), None);
        assert_eq!(parse_mse(&[0x80, 2, 0x42, 0, 0x84, 1, 3]), None);
        assert_eq!(parse_mse(&[]), None);
    }
}
