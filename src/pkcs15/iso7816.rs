//! ISO/IEC 7816-4 and -8 data objects the card and the client exchange outside PKCS#15: the
//! FCP template a SELECT returns, and the public-key template GENERATE ASYMMETRIC KEY PAIR
//! returns.
//!
//! The FCP uses tags up to 30 and is handled with `der`'s `AnyRef`. The public-key template's
//! tag `7F49` is `[APPLICATION 73]`, a multi-byte tag that `der` 0.7 cannot represent (its
//! `TagNumber` stops at 30), so it is read and written with `yasna`, which rcgen already pulls
//! into the build.

use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};

use super::common::to_der;
use super::error::Pkcs15Error;

const FCP_WHAT: &str = "the file control parameters (FCP)";
const KEY_WHAT: &str = "the public key template (7F49)";

const FCP: Tag = Tag::Application {
    constructed: true,
    number: TagNumber::N2,
};
const FMD: Tag = Tag::Application {
    constructed: true,
    number: TagNumber::N4,
};
const FCI: Tag = Tag::Application {
    constructed: true,
    number: TagNumber::N15,
};

const fn ctx(number: TagNumber) -> Tag {
    Tag::ContextSpecific {
        constructed: false,
        number,
    }
}
const SIZE: Tag = ctx(TagNumber::N0);
const SIZE_TOTAL: Tag = ctx(TagNumber::N1);
const DESCRIPTOR: Tag = ctx(TagNumber::N2);
const FID: Tag = ctx(TagNumber::N3);
const DF_NAME: Tag = ctx(TagNumber::N4);
const SFI: Tag = ctx(TagNumber::N8);
const LIFE_CYCLE: Tag = ctx(TagNumber::N10);

/// File descriptor byte of a transparent working EF.
pub const DESCRIPTOR_TRANSPARENT_EF: u8 = 0x01;
/// File descriptor byte of a DF.
pub const DESCRIPTOR_DF: u8 = 0x38;
/// Life cycle status "operational, activated".
pub const LIFE_CYCLE_ACTIVATED: u8 = 0x05;

/// What SELECT tells about a file. OpenSC (`iso7816_process_fci`) needs the size (`80`, or
/// `81`) to read an EF whole, and the descriptor (`82`) to tell an EF from a DF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fcp {
    pub file_size: Option<u32>,
    pub descriptor: u8,
    pub fid: Option<u16>,
    pub df_name: Option<Vec<u8>>,
    pub sfi: Option<u8>,
    pub life_cycle: Option<u8>,
}

impl Fcp {
    /// The `62` template: `80` size (two bytes, four when larger than 65535), `82` descriptor,
    /// `83` FID, `84` DF name, `88` SFI (in bits 8-4, as ISO 7816-4 codes it), `8A` life cycle.
    pub fn encode(&self) -> Result<Vec<u8>, Pkcs15Error> {
        let mut inner = Vec::new();
        let mut put = |tag: Tag, value: &[u8]| -> Result<(), Pkcs15Error> {
            let any = AnyRef::new(tag, value).map_err(|e| Pkcs15Error::encode(FCP_WHAT, e))?;
            inner.extend(to_der(&any, FCP_WHAT)?);
            Ok(())
        };
        if let Some(size) = self.file_size {
            match u16::try_from(size) {
                Ok(short) => put(SIZE, &short.to_be_bytes())?,
                Err(_) => put(SIZE, &size.to_be_bytes())?,
            }
        }
        put(DESCRIPTOR, &[self.descriptor])?;
        if let Some(fid) = self.fid {
            put(FID, &fid.to_be_bytes())?;
        }
        if let Some(name) = &self.df_name {
            put(DF_NAME, name)?;
        }
        if let Some(sfi) = self.sfi {
            if sfi > 30 || sfi == 0 {
                return Err(Pkcs15Error::encode(
                    FCP_WHAT,
                    format!("short EF identifier {sfi} is outside 1..=30"),
                ));
            }
            put(SFI, &[sfi << 3])?;
        }
        if let Some(status) = self.life_cycle {
            put(LIFE_CYCLE, &[status])?;
        }
        let any = AnyRef::new(FCP, &inner).map_err(|e| Pkcs15Error::encode(FCP_WHAT, e))?;
        to_der(&any, FCP_WHAT)
    }

    /// The FCP nested in an FCI (`6F`) template, the answer to SELECT with P2 `00`.
    pub fn encode_fci(&self) -> Result<Vec<u8>, Pkcs15Error> {
        let fcp = self.encode()?;
        let any = AnyRef::new(FCI, &fcp).map_err(|e| Pkcs15Error::encode(FCP_WHAT, e))?;
        to_der(&any, FCP_WHAT)
    }

    /// Reads a `62` FCP template, or a `6F` FCI template holding either an FCP or the FCP data
    /// objects directly. `80` wins over `81` for the size, as in OpenSC; unknown data objects
    /// (security attributes, proprietary data) are skipped. Bytes after the template are
    /// ignored.
    pub fn decode(bytes: &[u8]) -> Result<Fcp, Pkcs15Error> {
        let err = |e: der::Error| Pkcs15Error::decode(FCP_WHAT, e);
        let mut reader = SliceReader::new(bytes).map_err(err)?;
        let outer = AnyRef::decode(&mut reader).map_err(err)?;
        if outer.tag() != FCP && outer.tag() != FCI {
            return Err(Pkcs15Error::decode(
                FCP_WHAT,
                format!(
                    "expected an FCP (62) or FCI (6F) template, found {}",
                    outer.tag()
                ),
            ));
        }
        let mut fields = FcpFields::default();
        fields.collect(outer.value(), 0).map_err(err)?;
        let descriptor = fields
            .descriptor
            .ok_or_else(|| Pkcs15Error::decode(FCP_WHAT, "no file descriptor (82)"))?;
        Ok(Fcp {
            file_size: fields.size.or(fields.size_total),
            descriptor,
            fid: fields.fid,
            df_name: fields.df_name,
            sfi: fields.sfi,
            life_cycle: fields.life_cycle,
        })
    }
}

#[derive(Default)]
struct FcpFields {
    size: Option<u32>,
    size_total: Option<u32>,
    descriptor: Option<u8>,
    fid: Option<u16>,
    df_name: Option<Vec<u8>>,
    sfi: Option<u8>,
    life_cycle: Option<u8>,
}

impl FcpFields {
    fn collect(&mut self, value: &[u8], depth: u8) -> der::Result<()> {
        let mut reader = SliceReader::new(value)?;
        while !reader.is_finished() {
            let element = AnyRef::decode(&mut reader)?;
            let v = element.value();
            match element.tag() {
                SIZE => self.size = Some(be_u32(v, element.tag())?),
                SIZE_TOTAL => self.size_total = Some(be_u32(v, element.tag())?),
                DESCRIPTOR => self.descriptor = v.first().copied(),
                FID => match v {
                    [hi, lo] => self.fid = Some(u16::from_be_bytes([*hi, *lo])),
                    _ => return Err(element.tag().length_error()),
                },
                DF_NAME => self.df_name = Some(v.to_vec()),
                SFI => self.sfi = v.first().map(|b| b >> 3),
                LIFE_CYCLE => self.life_cycle = v.first().copied(),
                // Nested templates, as OpenSC allows; one level is all any card uses.
                FCP | FMD | FCI if depth == 0 => self.collect(v, depth + 1)?,
                _ => {}
            }
        }
        Ok(())
    }
}

fn be_u32(bytes: &[u8], tag: Tag) -> der::Result<u32> {
    if bytes.is_empty() || bytes.len() > 4 {
        return Err(tag.length_error());
    }
    Ok(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// An RSA public key as GENERATE ASYMMETRIC KEY PAIR returns it (ISO 7816-8):
/// `7F49 { 81 modulus, 82 public exponent }`, both unsigned big-endian without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKeyTemplate {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

impl RsaPublicKeyTemplate {
    /// The `7F49` template; leading zero bytes of either number are dropped.
    pub fn encode(&self) -> Vec<u8> {
        let modulus = strip_leading_zeros(&self.modulus);
        let exponent = strip_leading_zeros(&self.exponent);
        yasna::construct_der(|w| {
            w.write_tagged_implicit(yasna::Tag::application(73), |w| {
                w.write_sequence(|w| {
                    w.next()
                        .write_tagged_implicit(yasna::Tag::context(1), |w| w.write_bytes(modulus));
                    w.next()
                        .write_tagged_implicit(yasna::Tag::context(2), |w| w.write_bytes(exponent));
                })
            })
        })
    }

    /// Reads a `7F49` template holding `81` then `82`; leading zero bytes are dropped, and an
    /// empty modulus or exponent is an error.
    pub fn decode(bytes: &[u8]) -> Result<RsaPublicKeyTemplate, Pkcs15Error> {
        let (modulus, exponent) = yasna::parse_ber(bytes, |r| {
            r.read_tagged_implicit(yasna::Tag::application(73), |r| {
                r.read_sequence(|r| {
                    let modulus = r
                        .next()
                        .read_tagged_implicit(yasna::Tag::context(1), |r| r.read_bytes())?;
                    let exponent = r
                        .next()
                        .read_tagged_implicit(yasna::Tag::context(2), |r| r.read_bytes())?;
                    Ok((modulus, exponent))
                })
            })
        })
        .map_err(|e| Pkcs15Error::decode(KEY_WHAT, e))?;
        let key = RsaPublicKeyTemplate {
            modulus: strip_leading_zeros(&modulus).to_vec(),
            exponent: strip_leading_zeros(&exponent).to_vec(),
        };
        if key.modulus.is_empty() || key.exponent.is_empty() {
            return Err(Pkcs15Error::decode(
                KEY_WHAT,
                "the modulus or exponent is zero",
            ));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{FID_DF_PKCS15, PKCS15_AID, SFI_CDF};
    use crate::pkcs15::common::tests::hostile_inputs;

    fn ef() -> Fcp {
        Fcp {
            file_size: Some(0x0400),
            descriptor: DESCRIPTOR_TRANSPARENT_EF,
            fid: Some(0x4403),
            df_name: None,
            sfi: Some(SFI_CDF),
            life_cycle: Some(LIFE_CYCLE_ACTIVATED),
        }
    }

    fn df() -> Fcp {
        Fcp {
            file_size: None,
            descriptor: DESCRIPTOR_DF,
            fid: Some(FID_DF_PKCS15),
            df_name: Some(PKCS15_AID.to_vec()),
            sfi: None,
            life_cycle: Some(LIFE_CYCLE_ACTIVATED),
        }
    }

    #[test]
    fn encodes_an_ef_fcp_as_iso7816_codes_it() {
        assert_eq!(
            ef().encode().unwrap(),
            [
                0x62, 0x11, 0x80, 0x02, 0x04, 0x00, 0x82, 0x01, 0x01, 0x83, 0x02, 0x44, 0x03, 0x88,
                0x01, 0x28, 0x8A, 0x01, 0x05
            ]
        );
    }

    #[test]
    fn round_trips_ef_and_df() {
        for fcp in [ef(), df()] {
            assert_eq!(Fcp::decode(&fcp.encode().unwrap()).unwrap(), fcp);
        }
        let big = Fcp {
            file_size: Some(0x0001_0000),
            ..ef()
        };
        assert_eq!(Fcp::decode(&big.encode().unwrap()).unwrap(), big);
    }

    #[test]
    fn reads_81_size_fci_wrapper_and_unknown_tags() {
        // 6F { 62 { 81 0200, 82 01, 83 2F00, 86 security attributes, A5 { } } } 90 00
        let bytes = [
            0x6F, 0x13, 0x62, 0x11, 0x81, 0x02, 0x02, 0x00, 0x82, 0x01, 0x01, 0x83, 0x02, 0x2F,
            0x00, 0x86, 0x02, 0x00, 0x00, 0xA5, 0x00, 0x90, 0x00,
        ];
        let fcp = Fcp::decode(&bytes).unwrap();
        assert_eq!(fcp.file_size, Some(0x200));
        assert_eq!(fcp.fid, Some(0x2F00));
        assert_eq!(fcp.descriptor, DESCRIPTOR_TRANSPARENT_EF);
        // 80 wins over 81.
        let both = [
            0x62, 0x0A, 0x81, 0x02, 0x02, 0x00, 0x80, 0x01, 0x10, 0x82, 0x01, 0x01,
        ];
        assert_eq!(Fcp::decode(&both).unwrap().file_size, Some(0x10));
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(Fcp::decode(&[0x62, 0x00]).is_err()); // no descriptor
        assert!(Fcp::decode(&[0x30, 0x00]).is_err());
        assert!(Fcp::decode(&[0x62, 0x03, 0x83, 0x01, 0x44]).is_err());
        assert!(
            Fcp {
                sfi: Some(31),
                ..ef()
            }
            .encode()
            .is_err()
        );
    }

    #[test]
    fn public_key_template_round_trips_a_real_key() {
        use rsa::traits::PublicKeyParts;
        let mut rng = rand::thread_rng();
        let key = rsa::RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let template = RsaPublicKeyTemplate {
            modulus: key.n().to_bytes_be(),
            exponent: key.e().to_bytes_be(),
        };
        let bytes = template.encode();
        // 7F49 82 len: the two-byte tag and a long-form length.
        assert_eq!(&bytes[..3], &[0x7F, 0x49, 0x81]);
        let back = RsaPublicKeyTemplate::decode(&bytes).unwrap();
        assert_eq!(back, template);
        let rebuilt = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&back.modulus),
            rsa::BigUint::from_bytes_be(&back.exponent),
        )
        .unwrap();
        assert_eq!(&rebuilt, key.as_ref());
    }

    #[test]
    fn public_key_template_bytes_and_leading_zeros() {
        let template = RsaPublicKeyTemplate {
            modulus: vec![0x00, 0xC1, 0x02],
            exponent: vec![0x01, 0x00, 0x01],
        };
        let expected = [
            0x7F, 0x49, 0x09, 0x81, 0x02, 0xC1, 0x02, 0x82, 0x03, 0x01, 0x00, 0x01,
        ];
        assert_eq!(template.encode(), expected);
        let decoded = RsaPublicKeyTemplate::decode(&expected).unwrap();
        assert_eq!(decoded.modulus, [0xC1, 0x02]);
        // A card that sends a sign byte is still understood.
        let with_zero = [
            0x7F, 0x49, 0x0A, 0x81, 0x03, 0x00, 0xC1, 0x02, 0x82, 0x03, 0x01, 0x00, 0x01,
        ];
        assert_eq!(RsaPublicKeyTemplate::decode(&with_zero).unwrap(), decoded);
        assert!(RsaPublicKeyTemplate::decode(&[0x7F, 0x49, 0x04, 0x81, 0x00, 0x82, 0x00]).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        for input in hostile_inputs(&ef().encode().unwrap()) {
            let _ = Fcp::decode(&input);
        }
        let key = RsaPublicKeyTemplate {
            modulus: vec![0xC1; 20],
            exponent: vec![0x01, 0x00, 0x01],
        };
        for input in hostile_inputs(&key.encode()) {
            let _ = RsaPublicKeyTemplate::decode(&input);
        }
    }
}
