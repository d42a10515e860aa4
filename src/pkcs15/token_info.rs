//! EF.TokenInfo (`5032`): the card's serial number and label, which OpenSC shows as the token.
//!
//! `TokenInfo ::= SEQUENCE { version INTEGER {v1(0)}, serialNumber OCTET STRING,
//! manufacturerID UTF8String OPTIONAL, label [0] UTF8String OPTIONAL (implicit),
//! tokenflags BIT STRING, ... }`. OpenSC's decoder requires `tokenflags`, so it is always
//! written. Later optional fields (seInfo, recordInfo, supportedAlgorithms, issuerId, holderId,
//! lastUpdate, preferredLanguage) are skipped on reading and never written.

use der::asn1::{AnyRef, BitStringRef, ContextSpecific, OctetStringRef, Utf8StringRef};
use der::{Decode, Reader, Sequence, SliceReader, TagNumber};

use super::common::{NamedBits, bit, objects, octets, to_der};
use super::error::Pkcs15Error;

const WHAT: &str = "the token information (EF.TokenInfo)";

/// `TokenFlags ::= BIT STRING { readonly(0), loginRequired(1), prnGeneration(2),
/// eidCompliant(3) }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenFlags {
    pub readonly: bool,
    pub login_required: bool,
    pub prn_generation: bool,
    pub eid_compliant: bool,
}

/// What the card says about itself. `version` is the ASN.1 value: 0 means PKCS#15 v1 (OpenSC
/// adds one when it prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub version: u8,
    pub serial_number: Vec<u8>,
    pub manufacturer_id: Option<String>,
    pub label: Option<String>,
    pub flags: TokenFlags,
}

#[derive(Sequence)]
struct TokenInfoAsn1<'a> {
    version: u8,
    serial_number: OctetStringRef<'a>,
    #[asn1(optional = "true")]
    manufacturer_id: Option<Utf8StringRef<'a>>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    label: Option<Utf8StringRef<'a>>,
    token_flags: BitStringRef<'a>,
}

impl TokenInfo {
    /// The DER of EF.TokenInfo.
    pub fn encode(&self) -> Result<Vec<u8>, Pkcs15Error> {
        let f = self.flags;
        let flags = NamedBits::new(&[
            f.readonly,
            f.login_required,
            f.prn_generation,
            f.eid_compliant,
        ]);
        let asn = TokenInfoAsn1 {
            version: self.version,
            serial_number: octets(&self.serial_number, WHAT)?,
            manufacturer_id: utf8(&self.manufacturer_id)?,
            label: utf8(&self.label)?,
            token_flags: flags.as_der(WHAT)?,
        };
        to_der(&asn, WHAT)
    }

    /// Reads EF.TokenInfo; zero or `FF` padding after the SEQUENCE is ignored.
    pub fn decode(file: &[u8]) -> Result<TokenInfo, Pkcs15Error> {
        let objects = objects(file, WHAT)?;
        let tlv = objects
            .first()
            .ok_or_else(|| Pkcs15Error::decode(WHAT, "the file is empty"))?;
        let err = |e: der::Error| Pkcs15Error::decode(WHAT, e);
        let mut reader = SliceReader::new(tlv).map_err(err)?;
        let info = reader
            .sequence(|r| {
                let version: u8 = r.decode()?;
                let serial: OctetStringRef<'_> = r.decode()?;
                let manufacturer: Option<Utf8StringRef<'_>> = r.decode()?;
                let label =
                    ContextSpecific::<Utf8StringRef<'_>>::decode_implicit(r, TagNumber::N0)?;
                let flags: BitStringRef<'_> = r.decode()?;
                while !r.is_finished() {
                    AnyRef::decode(r)?;
                }
                Ok(TokenInfo {
                    version,
                    serial_number: serial.as_bytes().to_vec(),
                    manufacturer_id: manufacturer.map(|m| m.as_str().to_owned()),
                    label: label.map(|l| l.value.as_str().to_owned()),
                    flags: TokenFlags {
                        readonly: bit(Some(flags), 0),
                        login_required: bit(Some(flags), 1),
                        prn_generation: bit(Some(flags), 2),
                        eid_compliant: bit(Some(flags), 3),
                    },
                })
            })
            .map_err(err)?;
        reader.finish(info).map_err(err)
    }
}

fn utf8(s: &Option<String>) -> Result<Option<Utf8StringRef<'_>>, Pkcs15Error> {
    s.as_deref()
        .map(|s| Utf8StringRef::new(s).map_err(|e| Pkcs15Error::encode(WHAT, e)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs15::common::tests::hostile_inputs;
    use crate::pkcs15::pad_to;

    fn ours() -> TokenInfo {
        TokenInfo {
            version: 0,
            serial_number: vec![0x12, 0x34, 0x56, 0x78],
            manufacturer_id: Some("siths-upgrade".to_owned()),
            label: Some("SITHS e-id".to_owned()),
            flags: TokenFlags {
                login_required: true,
                prn_generation: true,
                ..TokenFlags::default()
            },
        }
    }

    #[test]
    fn encodes_as_opensc_parses_it() {
        let info = TokenInfo {
            version: 0,
            serial_number: vec![0x01, 0x02],
            manufacturer_id: None,
            label: Some("AB".to_owned()),
            flags: TokenFlags {
                login_required: true,
                ..TokenFlags::default()
            },
        };
        // SEQUENCE { INTEGER 0, OCTET STRING 0102, [0] "AB", BIT STRING loginRequired }
        assert_eq!(
            info.encode().unwrap(),
            [
                0x30, 0x0F, 0x02, 0x01, 0x00, 0x04, 0x02, 0x01, 0x02, 0x80, 0x02, b'A', b'B', 0x03,
                0x02, 0x06, 0x40
            ]
        );
    }

    #[test]
    fn round_trips_with_padding() {
        let file = pad_to(ours().encode().unwrap(), 96);
        assert_eq!(TokenInfo::decode(&file).unwrap(), ours());
        let bare = TokenInfo {
            manufacturer_id: None,
            label: None,
            flags: TokenFlags::default(),
            ..ours()
        };
        assert_eq!(TokenInfo::decode(&bare.encode().unwrap()).unwrap(), bare);
    }

    #[test]
    fn skips_later_optional_fields() {
        // ... tokenflags, then lastUpdate [5] GeneralizedTime and preferredLanguage "sv".
        let mut content = vec![0x02, 0x01, 0x00, 0x04, 0x01, 0x09, 0x03, 0x01, 0x00];
        content.extend([0x85, 0x0F]);
        content.extend(b"20260101000000Z");
        content.extend([0x13, 0x02, b's', b'v']);
        let mut file = vec![0x30, content.len() as u8];
        file.extend(content);
        let info = TokenInfo::decode(&file).unwrap();
        assert_eq!(info.serial_number, [0x09]);
        assert_eq!(info.label, None);
    }

    #[test]
    fn empty_or_padding_only_is_an_error() {
        assert!(TokenInfo::decode(&[]).is_err());
        assert!(TokenInfo::decode(&[0x00; 8]).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let valid = ours().encode().unwrap();
        for input in hostile_inputs(&valid) {
            let _ = TokenInfo::decode(&input);
        }
    }
}
