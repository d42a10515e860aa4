//! ASN.1 pieces shared by the PKCS#15 directory files: `Path`, `CommonObjectAttributes`,
//! named-bit BIT STRINGs and the splitting of a padded directory file into its objects.

use der::asn1::{AnyRef, BitStringRef, OctetStringRef, Utf8StringRef};
use der::{Decode, Encode, Reader, Sequence, SliceReader};

use super::error::Pkcs15Error;

/// `CommonObjectFlags`: whether an object needs authentication to be read, and whether it may
/// be changed. Our card marks private keys private and nothing modifiable except through the
/// app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectFlags {
    pub private: bool,
    pub modifiable: bool,
}

impl ObjectFlags {
    pub(crate) fn to_bits(self) -> NamedBits {
        NamedBits::new(&[self.private, self.modifiable])
    }

    pub(crate) fn from_bits(bits: Option<BitStringRef<'_>>) -> Self {
        ObjectFlags {
            private: bit(bits, 0),
            modifiable: bit(bits, 1),
        }
    }
}

/// A named-bit-list BIT STRING in DER form: trailing zero bits dropped, the count of unused
/// bits in the last octet recorded (X.690 11.2.2), which is also what OpenSC writes.
pub(crate) struct NamedBits {
    bytes: Vec<u8>,
    unused: u8,
}

impl NamedBits {
    pub(crate) fn new(bits: &[bool]) -> Self {
        let Some(last) = bits.iter().rposition(|b| *b) else {
            return NamedBits {
                bytes: Vec::new(),
                unused: 0,
            };
        };
        let mut bytes = vec![0u8; last / 8 + 1];
        for (i, set) in bits.iter().enumerate().take(last + 1) {
            if *set && let Some(byte) = bytes.get_mut(i / 8) {
                *byte |= 0x80 >> (i % 8);
            }
        }
        // `last % 8` is at most 7, so this fits a u8 and is at most 7.
        let unused = (7 - last % 8) as u8;
        NamedBits { bytes, unused }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn as_der(&self, what: &'static str) -> Result<BitStringRef<'_>, Pkcs15Error> {
        BitStringRef::new(self.unused, &self.bytes).map_err(|e| Pkcs15Error::encode(what, e))
    }
}

/// Bit `n` (0 = the first, most significant bit) of a named-bit BIT STRING; absent bits are 0.
pub(crate) fn bit(bits: Option<BitStringRef<'_>>, n: usize) -> bool {
    bits.and_then(|b| b.bits().nth(n)).unwrap_or(false)
}

/// PKCS#15 `Path ::= SEQUENCE { efidOrPath OCTET STRING, index INTEGER OPTIONAL,
/// length [0] INTEGER OPTIONAL }`.
#[derive(Sequence)]
pub(crate) struct PathAsn1<'a> {
    pub(crate) efid_or_path: OctetStringRef<'a>,
    #[asn1(optional = "true")]
    pub(crate) index: Option<u32>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) length: Option<u32>,
}

impl<'a> PathAsn1<'a> {
    pub(crate) fn new(path: &'a [u8], what: &'static str) -> Result<Self, Pkcs15Error> {
        Ok(PathAsn1 {
            efid_or_path: octets(path, what)?,
            index: None,
            length: None,
        })
    }

    pub(crate) fn to_vec(&self) -> Vec<u8> {
        self.efid_or_path.as_bytes().to_vec()
    }
}

/// PKCS#15 `CommonObjectAttributes`. `authId` names the authentication object that guards the
/// object (for a PIN: the PUK that unblocks it).
#[derive(Sequence)]
pub(crate) struct CommonObjectAttributes<'a> {
    #[asn1(optional = "true")]
    pub(crate) label: Option<Utf8StringRef<'a>>,
    #[asn1(optional = "true")]
    pub(crate) flags: Option<BitStringRef<'a>>,
    #[asn1(optional = "true")]
    pub(crate) auth_id: Option<OctetStringRef<'a>>,
    #[asn1(optional = "true")]
    pub(crate) user_consent: Option<u32>,
    /// `accessControlRules SEQUENCE OF AccessControlRule OPTIONAL`: read past, never written.
    #[asn1(optional = "true")]
    pub(crate) access_control_rules: Option<AnyRef<'a>>,
}

impl<'a> CommonObjectAttributes<'a> {
    /// As OpenSC writes them: empty label, no flags and no auth id are left out.
    pub(crate) fn new(
        label: &'a str,
        flags: &'a NamedBits,
        auth_id: Option<&'a [u8]>,
        what: &'static str,
    ) -> Result<Self, Pkcs15Error> {
        Ok(CommonObjectAttributes {
            label: if label.is_empty() {
                None
            } else {
                Some(Utf8StringRef::new(label).map_err(|e| Pkcs15Error::encode(what, e))?)
            },
            flags: if flags.is_empty() {
                None
            } else {
                Some(flags.as_der(what)?)
            },
            auth_id: auth_id.map(|id| octets(id, what)).transpose()?,
            user_consent: None,
            access_control_rules: None,
        })
    }

    pub(crate) fn label(&self) -> String {
        self.label
            .map(|l| l.as_str().to_owned())
            .unwrap_or_default()
    }
}

pub(crate) fn octets<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<OctetStringRef<'a>, Pkcs15Error> {
    OctetStringRef::new(bytes).map_err(|e| Pkcs15Error::encode(what, e))
}

/// DER of `value`, with an encoding failure named after `what`.
pub(crate) fn to_der<T: Encode>(value: &T, what: &'static str) -> Result<Vec<u8>, Pkcs15Error> {
    value.to_der().map_err(|e| Pkcs15Error::encode(what, e))
}

/// Decodes `tlv`, which must hold exactly one `T`.
pub(crate) fn from_der<'a, T: Decode<'a>>(
    tlv: &'a [u8],
    what: &'static str,
) -> Result<T, Pkcs15Error> {
    T::from_der(tlv).map_err(|e| Pkcs15Error::decode(what, e))
}

/// Splits a directory file into its top-level DER objects, stopping at the first `00` or `FF`
/// byte where an object would start (the padding after the last object; OpenSC's
/// `sc_asn1_read_tag` treats both as end of content). Each returned slice is one complete TLV
/// whose length has been checked against the file, so no decoder allocates for a bogus length.
pub(crate) fn objects<'a>(
    file: &'a [u8],
    what: &'static str,
) -> Result<Vec<&'a [u8]>, Pkcs15Error> {
    let mut reader = SliceReader::new(file).map_err(|e| Pkcs15Error::decode(what, e))?;
    let mut out = Vec::new();
    while let Some(first) = reader.peek_byte() {
        if first == 0x00 || first == 0xFF {
            break;
        }
        out.push(
            reader
                .tlv_bytes()
                .map_err(|e| Pkcs15Error::decode(what, e))?,
        );
    }
    Ok(out)
}

/// Tag byte of a top-level object, used to pick the CHOICE alternative before decoding.
pub(crate) fn first_byte(tlv: &[u8]) -> u8 {
    tlv.first().copied().unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    #[test]
    fn named_bits_are_minimal_der() {
        let none = NamedBits::new(&[false, false]);
        assert_eq!(
            to_der(&none.as_der("t").unwrap(), "t").unwrap(),
            [0x03, 0x01, 0x00]
        );
        // local(1) + initialized(4) + needs-padding(5): 0100 1100, 2 unused bits.
        let pin = NamedBits::new(&[false, true, false, false, true, true, false, false]);
        assert_eq!(
            to_der(&pin.as_der("t").unwrap(), "t").unwrap(),
            [0x03, 0x02, 0x02, 0x4C]
        );
        // bit 9 (nonRepudiation) alone: second octet 0100 0000, 6 unused bits.
        let mut nr = [false; 10];
        nr[9] = true;
        let nr = NamedBits::new(&nr);
        assert_eq!(
            to_der(&nr.as_der("t").unwrap(), "t").unwrap(),
            [0x03, 0x03, 0x06, 0x00, 0x40]
        );
    }

    #[test]
    fn bits_read_back_by_position() {
        let bits = NamedBits::new(&[true, false, true]);
        let der = bits.as_der("t").unwrap();
        assert!(bit(Some(der), 0));
        assert!(!bit(Some(der), 1));
        assert!(bit(Some(der), 2));
        assert!(!bit(Some(der), 40));
        assert!(!bit(None, 0));
    }

    #[test]
    fn objects_stop_at_zero_and_ff_padding() {
        let file = [0x04, 0x01, 0xAA, 0x04, 0x00, 0x00, 0x04, 0x01];
        assert_eq!(objects(&file, "t").unwrap(), vec![&file[0..3], &file[3..5]]);
        let ff = [0x04, 0x01, 0xAA, 0xFF, 0xFF];
        assert_eq!(objects(&ff, "t").unwrap().len(), 1);
        assert!(objects(&[], "t").unwrap().is_empty());
        // A length that runs past the end of the file is an error, not a huge allocation.
        assert!(objects(&[0x04, 0x84, 0x0F, 0xFF, 0xFF, 0xFF], "t").is_err());
    }

    /// Byte strings that must never make a decoder panic: random bytes, every truncation of
    /// `valid`, and `valid` with single bytes flipped.
    pub(crate) fn hostile_inputs(valid: &[u8]) -> Vec<Vec<u8>> {
        let mut rng = StdRng::seed_from_u64(0x5117_4515);
        let mut out = Vec::new();
        for len in 0..=valid.len() {
            out.push(valid[..len].to_vec());
        }
        for i in 0..valid.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut v = valid.to_vec();
                v[i] ^= flip;
                out.push(v);
            }
        }
        for _ in 0..2000 {
            let len = rng.gen_range(0..64);
            out.push((0..len).map(|_| rng.r#gen::<u8>()).collect());
        }
        // Random bytes that start like a constructed object, to get past the first tag check.
        for tag in [0x30u8, 0x61, 0x62, 0x6F, 0xA0, 0xA1, 0xA8] {
            for _ in 0..300 {
                let len = rng.gen_range(0..48);
                let mut v = vec![tag, len as u8];
                v.extend((0..len).map(|_| rng.r#gen::<u8>()));
                out.push(v);
            }
        }
        out
    }
}
