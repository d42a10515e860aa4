//! EF.ODF (`5031`): where the directory files of each kind are.
//!
//! `PKCS15Objects ::= CHOICE { privateKeys [0] PrivateKeys, ... authObjects [8] AuthObjects }`
//! with each alternative a `PathOrObjects` whose `path` is an untagged `Path` SEQUENCE. A tag
//! on a CHOICE is explicit, so an entry is `[n] { SEQUENCE { OCTET STRING path } }`, e.g.
//! `A8 06 30 04 04 02 44 01` for the AODF at `4401` — what OpenSC's `parse_odf` expects.

use der::asn1::{ContextSpecific, ContextSpecificRef};
use der::{TagMode, TagNumber};

use super::common::{PathAsn1, from_der, objects, to_der};
use super::error::Pkcs15Error;

const WHAT: &str = "the object directory (ODF)";

/// The kind of directory file an ODF entry points to, in the order of its context tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OdfKind {
    PrivateKeys,
    PublicKeys,
    TrustedPublicKeys,
    SecretKeys,
    Certificates,
    TrustedCertificates,
    UsefulCertificates,
    DataObjects,
    AuthObjects,
}

impl OdfKind {
    const ALL: [OdfKind; 9] = [
        OdfKind::PrivateKeys,
        OdfKind::PublicKeys,
        OdfKind::TrustedPublicKeys,
        OdfKind::SecretKeys,
        OdfKind::Certificates,
        OdfKind::TrustedCertificates,
        OdfKind::UsefulCertificates,
        OdfKind::DataObjects,
        OdfKind::AuthObjects,
    ];

    fn tag_number(self) -> TagNumber {
        match self {
            OdfKind::PrivateKeys => TagNumber::N0,
            OdfKind::PublicKeys => TagNumber::N1,
            OdfKind::TrustedPublicKeys => TagNumber::N2,
            OdfKind::SecretKeys => TagNumber::N3,
            OdfKind::Certificates => TagNumber::N4,
            OdfKind::TrustedCertificates => TagNumber::N5,
            OdfKind::UsefulCertificates => TagNumber::N6,
            OdfKind::DataObjects => TagNumber::N7,
            OdfKind::AuthObjects => TagNumber::N8,
        }
    }

    fn from_tag_number(number: TagNumber) -> Option<Self> {
        OdfKind::ALL
            .into_iter()
            .find(|kind| kind.tag_number() == number)
    }
}

/// One ODF entry: a directory file of `kind` at `path` (a FID or a path from the MF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdfEntry {
    pub kind: OdfKind,
    pub path: Vec<u8>,
}

/// The ODF's content, entries in the given order.
pub fn encode_odf(entries: &[OdfEntry]) -> Result<Vec<u8>, Pkcs15Error> {
    let mut out = Vec::new();
    for entry in entries {
        let path = PathAsn1::new(&entry.path, WHAT)?;
        let tagged = ContextSpecificRef {
            tag_number: entry.kind.tag_number(),
            tag_mode: TagMode::Explicit,
            value: &path,
        };
        out.extend(to_der(&tagged, WHAT)?);
    }
    Ok(out)
}

/// Reads every entry up to the first padding byte. Entries that hold objects directly instead
/// of a path are not used by any card we know and are reported as errors.
pub fn decode_odf(file: &[u8]) -> Result<Vec<OdfEntry>, Pkcs15Error> {
    let mut entries = Vec::new();
    for tlv in objects(file, WHAT)? {
        let tagged: ContextSpecific<PathAsn1<'_>> = from_der(tlv, WHAT)?;
        let kind = OdfKind::from_tag_number(tagged.tag_number).ok_or_else(|| {
            Pkcs15Error::decode(
                WHAT,
                format!("unknown directory kind [{}]", tagged.tag_number.value()),
            )
        })?;
        entries.push(OdfEntry {
            kind,
            path: tagged.value.to_vec(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs15::common::tests::hostile_inputs;
    use crate::pkcs15::pad_to;

    fn ours() -> Vec<OdfEntry> {
        vec![
            OdfEntry {
                kind: OdfKind::PrivateKeys,
                path: vec![0x44, 0x02],
            },
            OdfEntry {
                kind: OdfKind::Certificates,
                path: vec![0x44, 0x03],
            },
            OdfEntry {
                kind: OdfKind::AuthObjects,
                path: vec![0x44, 0x01],
            },
        ]
    }

    #[test]
    fn encodes_explicit_context_tags_around_a_path_sequence() {
        let bytes = encode_odf(&ours()).unwrap();
        assert_eq!(
            bytes,
            [
                0xA0, 0x06, 0x30, 0x04, 0x04, 0x02, 0x44, 0x02, // privateKeys
                0xA4, 0x06, 0x30, 0x04, 0x04, 0x02, 0x44, 0x03, // certificates
                0xA8, 0x06, 0x30, 0x04, 0x04, 0x02, 0x44, 0x01, // authObjects
            ]
        );
    }

    #[test]
    fn round_trips_every_kind_with_padding() {
        let entries: Vec<_> = OdfKind::ALL
            .into_iter()
            .enumerate()
            .map(|(i, kind)| OdfEntry {
                kind,
                path: vec![0x3F, 0x00, 0x50, 0x15, 0x44, i as u8],
            })
            .collect();
        let file = pad_to(encode_odf(&entries).unwrap(), 200);
        assert_eq!(decode_odf(&file).unwrap(), entries);
    }

    #[test]
    fn reads_a_path_with_index_and_length() {
        // [4] { Path { 4402, index 0, [0] length 512 } }
        let bytes = [
            0xA4, 0x0D, 0x30, 0x0B, 0x04, 0x02, 0x44, 0x02, 0x02, 0x01, 0x00, 0x80, 0x02, 0x02,
            0x00,
        ];
        assert_eq!(
            decode_odf(&bytes).unwrap(),
            vec![OdfEntry {
                kind: OdfKind::Certificates,
                path: vec![0x44, 0x02]
            }]
        );
    }

    #[test]
    fn rejects_unknown_kinds() {
        assert!(decode_odf(&[0xA9, 0x06, 0x30, 0x04, 0x04, 0x02, 0x44, 0x01]).is_err());
        assert!(decode_odf(&[0x30, 0x04, 0x04, 0x02, 0x44, 0x01]).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let valid = encode_odf(&ours()).unwrap();
        for input in hostile_inputs(&valid) {
            let _ = decode_odf(&input);
        }
    }
}
