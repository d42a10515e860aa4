//! EF.PrKDF: the private keys, with the PIN that guards each one and its key reference, which
//! is how a signer knows which PIN to verify and which key to select with MSE.
//!
//! An RSA key is the untagged `privateRSAKey` alternative of `PrivateKeyType`:
//! `SEQUENCE { CommonObjectAttributes, CommonKeyAttributes, [0] CommonPrivateKeyAttributes
//! OPTIONAL, [1] { PrivateRSAKeyAttributes { value Path, modulusLength INTEGER, ... } } }` as in
//! OpenSC's `pkcs15-prkey.c`. `native` is `DEFAULT TRUE` and so only written when false.
//! Other key types (EC `[0]`, DH `[1]`, DSA `[2]`, KEA `[3]`, generic `[4]`) are skipped on
//! reading.

use der::Sequence;
use der::asn1::{AnyRef, BitStringRef, OctetStringRef};

use super::common::{
    CommonObjectAttributes, NamedBits, ObjectFlags, PathAsn1, bit, first_byte, from_der, objects,
    octets, to_der,
};
use super::error::Pkcs15Error;

const WHAT: &str = "the private key directory (PrKDF)";

/// `KeyUsageFlags`, one bool per named bit, in bit order. Our card marks authentication keys
/// `sign` (+`decrypt`) and signature keys `non_repudiation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyUsageFlags {
    pub encrypt: bool,
    pub decrypt: bool,
    pub sign: bool,
    pub sign_recover: bool,
    pub wrap: bool,
    pub unwrap: bool,
    pub verify: bool,
    pub verify_recover: bool,
    pub derive: bool,
    pub non_repudiation: bool,
}

impl KeyUsageFlags {
    fn to_bits(self) -> [bool; 10] {
        [
            self.encrypt,
            self.decrypt,
            self.sign,
            self.sign_recover,
            self.wrap,
            self.unwrap,
            self.verify,
            self.verify_recover,
            self.derive,
            self.non_repudiation,
        ]
    }

    fn from_bits(bits: BitStringRef<'_>) -> Self {
        let b = |n| bit(Some(bits), n);
        KeyUsageFlags {
            encrypt: b(0),
            decrypt: b(1),
            sign: b(2),
            sign_recover: b(3),
            wrap: b(4),
            unwrap: b(5),
            verify: b(6),
            verify_recover: b(7),
            derive: b(8),
            non_repudiation: b(9),
        }
    }
}

/// An RSA private key on the card. `auth_id` is the PIN that guards it; `id` links it to its
/// certificate; `key_reference` is the MSE key reference; `path` is the DF (or EF) that holds
/// the key, which PKCS#15 requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateKeyObject {
    pub label: String,
    pub flags: ObjectFlags,
    pub auth_id: Option<Vec<u8>>,
    pub id: Vec<u8>,
    pub usage: KeyUsageFlags,
    pub native: bool,
    pub key_reference: Option<i32>,
    pub path: Vec<u8>,
    pub modulus_length: u32,
}

fn default_true() -> bool {
    true
}

#[derive(Sequence)]
struct CommonKeyAttributes<'a> {
    id: OctetStringRef<'a>,
    usage: BitStringRef<'a>,
    #[asn1(default = "default_true")]
    native: bool,
    #[asn1(optional = "true")]
    access_flags: Option<BitStringRef<'a>>,
    #[asn1(optional = "true")]
    key_reference: Option<i32>,
}

#[derive(Sequence)]
struct PrivateRsaKeyAttributes<'a> {
    value: PathAsn1<'a>,
    modulus_length: u32,
    /// `keyInfo KeyInfo OPTIONAL` (a reference or a SEQUENCE): read past, never written.
    #[asn1(optional = "true")]
    key_info: Option<AnyRef<'a>>,
}

#[derive(Sequence)]
struct PrivateRsaKeyObject<'a> {
    common: CommonObjectAttributes<'a>,
    class: CommonKeyAttributes<'a>,
    /// `[1]` wraps the attributes SEQUENCE; `extensible` skips the optional `[0]` subclass.
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", extensible = "true")]
    type_attrs: PrivateRsaKeyAttributes<'a>,
}

/// The PrKDF's content: one RSA key object per entry, in the given order.
pub fn encode_prkdf(keys: &[PrivateKeyObject]) -> Result<Vec<u8>, Pkcs15Error> {
    let mut out = Vec::new();
    for key in keys {
        let flags = key.flags.to_bits();
        let usage = NamedBits::new(&key.usage.to_bits());
        let asn = PrivateRsaKeyObject {
            common: CommonObjectAttributes::new(&key.label, &flags, key.auth_id.as_deref(), WHAT)?,
            class: CommonKeyAttributes {
                id: octets(&key.id, WHAT)?,
                usage: usage.as_der(WHAT)?,
                native: key.native,
                access_flags: None,
                key_reference: key.key_reference,
            },
            type_attrs: PrivateRsaKeyAttributes {
                value: PathAsn1::new(&key.path, WHAT)?,
                modulus_length: key.modulus_length,
                key_info: None,
            },
        };
        out.extend(to_der(&asn, WHAT)?);
    }
    Ok(out)
}

/// Reads every RSA key object up to the first padding byte; other key types are skipped.
pub fn decode_prkdf(file: &[u8]) -> Result<Vec<PrivateKeyObject>, Pkcs15Error> {
    let mut keys = Vec::new();
    for tlv in objects(file, WHAT)? {
        if first_byte(tlv) != 0x30 {
            continue;
        }
        let asn: PrivateRsaKeyObject<'_> = from_der(tlv, WHAT)?;
        keys.push(PrivateKeyObject {
            label: asn.common.label(),
            flags: ObjectFlags::from_bits(asn.common.flags),
            auth_id: asn.common.auth_id.map(|id| id.as_bytes().to_vec()),
            id: asn.class.id.as_bytes().to_vec(),
            usage: KeyUsageFlags::from_bits(asn.class.usage),
            native: asn.class.native,
            key_reference: asn.class.key_reference,
            path: asn.type_attrs.value.to_vec(),
            modulus_length: asn.type_attrs.modulus_length,
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs15::common::tests::hostile_inputs;
    use crate::pkcs15::pad_to;

    fn auth_key() -> PrivateKeyObject {
        PrivateKeyObject {
            label: "Auth1".to_owned(),
            flags: ObjectFlags {
                private: true,
                modifiable: false,
            },
            auth_id: Some(vec![0x01]),
            id: vec![0x11],
            usage: KeyUsageFlags {
                decrypt: true,
                sign: true,
                ..KeyUsageFlags::default()
            },
            native: true,
            key_reference: Some(1),
            path: vec![0x3F, 0x00, 0x50, 0x15],
            modulus_length: 2048,
        }
    }

    fn sign_key() -> PrivateKeyObject {
        PrivateKeyObject {
            label: "Underskrift HSA-id".to_owned(),
            auth_id: Some(vec![0x02]),
            id: vec![0x15],
            usage: KeyUsageFlags {
                non_repudiation: true,
                ..KeyUsageFlags::default()
            },
            key_reference: Some(5),
            ..auth_key()
        }
    }

    #[test]
    fn encodes_an_rsa_key_byte_for_byte() {
        let expected = [
            0x30, 0x2C, // privateRSAKey
            0x30, 0x0E, 0x0C, 0x05, b'A', b'u', b't', b'h', b'1', // label
            0x03, 0x02, 0x07, 0x80, // flags: private
            0x04, 0x01, 0x01, // authId: PIN1
            0x30, 0x0A, 0x04, 0x01, 0x11, // iD
            0x03, 0x02, 0x05, 0x60, // usage: decrypt, sign
            0x02, 0x01, 0x01, // keyReference (native TRUE is the default: left out)
            0xA1, 0x0E, 0x30, 0x0C, // [1] { PrivateRSAKeyAttributes
            0x30, 0x06, 0x04, 0x04, 0x3F, 0x00, 0x50, 0x15, // value: path 3F00 5015
            0x02, 0x02, 0x08, 0x00, // modulusLength 2048 }
        ];
        assert_eq!(encode_prkdf(&[auth_key()]).unwrap(), expected);
    }

    #[test]
    fn non_repudiation_is_bit_nine() {
        let bytes = encode_prkdf(&[sign_key()]).unwrap();
        assert!(
            bytes
                .windows(5)
                .any(|w| w == [0x03, 0x03, 0x06, 0x00, 0x40])
        );
    }

    #[test]
    fn round_trips_with_padding() {
        let keys = vec![
            auth_key(),
            sign_key(),
            PrivateKeyObject {
                native: false,
                key_reference: None,
                auth_id: None,
                label: String::new(),
                flags: ObjectFlags::default(),
                usage: KeyUsageFlags {
                    encrypt: true,
                    decrypt: true,
                    sign: true,
                    sign_recover: true,
                    wrap: true,
                    unwrap: true,
                    verify: true,
                    verify_recover: true,
                    derive: true,
                    non_repudiation: true,
                },
                ..auth_key()
            },
        ];
        let file = pad_to(encode_prkdf(&keys).unwrap(), 512);
        assert_eq!(decode_prkdf(&file).unwrap(), keys);
    }

    #[test]
    fn skips_other_key_types_and_subclass_attributes() {
        // An EC key [0] { ... }, then our key with a [0] CommonPrivateKeyAttributes
        // (subjectName: empty Name) inserted before [1].
        let mut file = vec![0xA0, 0x02, 0x30, 0x00];
        let mut key = encode_prkdf(&[auth_key()]).unwrap();
        let a1 = key.len() - 16;
        assert_eq!(key[a1], 0xA1);
        key.splice(a1..a1, [0xA0, 0x02, 0x30, 0x00]);
        key[1] += 4;
        file.extend(key);
        assert_eq!(decode_prkdf(&file).unwrap(), vec![auth_key()]);
    }

    #[test]
    fn garbage_never_panics() {
        let valid = encode_prkdf(&[auth_key(), sign_key()]).unwrap();
        for input in hostile_inputs(&valid) {
            let _ = decode_prkdf(&input);
        }
    }
}
