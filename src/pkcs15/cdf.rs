//! EF.CDF: the certificates, each linked by `id` to its private key and stored in its own EF,
//! which is how OpenSC and our client list the holder's certificate pairs.
//!
//! An X.509 certificate is the untagged `x509Certificate` alternative of `CertificateType`:
//! `SEQUENCE { CommonObjectAttributes, CommonCertificateAttributes { iD, authority DEFAULT
//! FALSE, ... }, [1] { X509CertificateAttributes { value Path, ... } } }` as in OpenSC's
//! `pkcs15-cert.c`. Other certificate types, and certificates stored directly in the CDF
//! (`value [0]`), are skipped on reading.

use der::asn1::{AnyRef, ContextSpecific, OctetStringRef};
use der::{Decode, Reader, Sequence, SliceReader, Tag, TagNumber, Tagged};

use super::common::{
    CommonObjectAttributes, ObjectFlags, PathAsn1, first_byte, objects, octets, to_der,
};
use super::error::Pkcs15Error;

const WHAT: &str = "the certificate directory (CDF)";

/// An X.509 certificate stored in the EF at `path`. `id` equals the `id` of its private key;
/// `authority` marks a CA certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateObject {
    pub label: String,
    pub flags: ObjectFlags,
    pub id: Vec<u8>,
    pub authority: bool,
    pub path: Vec<u8>,
}

fn default_false() -> bool {
    false
}

#[derive(Sequence)]
struct CommonCertificateAttributes<'a> {
    id: OctetStringRef<'a>,
    #[asn1(default = "default_false")]
    authority: bool,
}

#[derive(Sequence)]
struct X509CertificateAttributes<'a> {
    value: PathAsn1<'a>,
}

#[derive(Sequence)]
struct X509CertificateObject<'a> {
    common: CommonObjectAttributes<'a>,
    class: CommonCertificateAttributes<'a>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    type_attrs: X509CertificateAttributes<'a>,
}

/// The CDF's content: one certificate object per entry, in the given order.
pub fn encode_cdf(certs: &[CertificateObject]) -> Result<Vec<u8>, Pkcs15Error> {
    let mut out = Vec::new();
    for cert in certs {
        let flags = cert.flags.to_bits();
        let asn = X509CertificateObject {
            common: CommonObjectAttributes::new(&cert.label, &flags, None, WHAT)?,
            class: CommonCertificateAttributes {
                id: octets(&cert.id, WHAT)?,
                authority: cert.authority,
            },
            type_attrs: X509CertificateAttributes {
                value: PathAsn1::new(&cert.path, WHAT)?,
            },
        };
        out.extend(to_der(&asn, WHAT)?);
    }
    Ok(out)
}

/// Reads every X.509 certificate stored by path, up to the first padding byte. Optional fields
/// we do not model (identifier, subject, issuer, serial number and later extensions) are
/// skipped.
pub fn decode_cdf(file: &[u8]) -> Result<Vec<CertificateObject>, Pkcs15Error> {
    let mut certs = Vec::new();
    for tlv in objects(file, WHAT)? {
        if first_byte(tlv) != 0x30 {
            continue;
        }
        if let Some(cert) = decode_x509(tlv).map_err(|e| Pkcs15Error::decode(WHAT, e))? {
            certs.push(cert);
        }
    }
    Ok(certs)
}

fn skip_rest<'a, R: Reader<'a>>(reader: &mut R) -> der::Result<()> {
    while !reader.is_finished() {
        AnyRef::decode(reader)?;
    }
    Ok(())
}

fn decode_x509(tlv: &[u8]) -> der::Result<Option<CertificateObject>> {
    let mut reader = SliceReader::new(tlv)?;
    let (common, (id, authority), value) = reader.sequence(|r| {
        let common: CommonObjectAttributes<'_> = r.decode()?;
        let class = r.sequence(|r| {
            let id: OctetStringRef<'_> = r.decode()?;
            let authority = Option::<bool>::decode(r)?.unwrap_or(false);
            skip_rest(r)?;
            Ok((id, authority))
        })?;
        // Skips a [0] subclass (none is defined for certificates) before the [1] type attributes.
        let type_attrs = ContextSpecific::<AnyRef<'_>>::decode_explicit(r, TagNumber::N1)?
            .ok_or_else(|| {
                Tag::ContextSpecific {
                    constructed: true,
                    number: TagNumber::N1,
                }
                .value_error()
            })?;
        skip_rest(r)?;
        let value = type_attrs.value.sequence(|r| {
            let value = AnyRef::decode(r)?;
            skip_rest(r)?;
            Ok(value)
        })?;
        Ok((common, class, value))
    })?;
    reader.finish(())?;
    if value.tag() != Tag::Sequence {
        // `direct [0]` or another ObjectValue alternative: not one of ours.
        return Ok(None);
    }
    let path: PathAsn1<'_> = value.decode_as()?;
    Ok(Some(CertificateObject {
        label: common.label(),
        flags: ObjectFlags::from_bits(common.flags),
        id: id.as_bytes().to_vec(),
        authority,
        path: path.to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::cert_fid;
    use crate::pkcs15::common::tests::hostile_inputs;
    use crate::pkcs15::pad_to;

    fn cert(label: &str, slot: u8) -> CertificateObject {
        let fid = cert_fid(slot).to_be_bytes();
        CertificateObject {
            label: label.to_owned(),
            flags: ObjectFlags::default(),
            id: vec![0x10 + slot],
            authority: false,
            path: vec![0x3F, 0x00, 0x50, 0x15, fid[0], fid[1]],
        }
    }

    #[test]
    fn encodes_a_certificate_byte_for_byte() {
        let expected = [
            0x30, 0x1C, // x509Certificate
            0x30, 0x07, 0x0C, 0x05, b'A', b'u', b't', b'h', b'1', // label, no flags
            0x30, 0x03, 0x04, 0x01, 0x11, // iD (authority FALSE is the default)
            0xA1, 0x0C, 0x30, 0x0A, // [1] { X509CertificateAttributes
            0x30, 0x08, 0x04, 0x06, 0x3F, 0x00, 0x50, 0x15, 0x44, 0x11, // value: path }
        ];
        assert_eq!(encode_cdf(&[cert("Auth1", 1)]).unwrap(), expected);
    }

    #[test]
    fn round_trips_with_padding() {
        let certs = vec![
            cert("Legitimering HSA-id", 1),
            cert("Underskrift HSA-id", 5),
            CertificateObject {
                authority: true,
                flags: ObjectFlags {
                    private: false,
                    modifiable: true,
                },
                ..cert("TEST SITHS e-id Root CA v2", 8)
            },
        ];
        let file = pad_to(encode_cdf(&certs).unwrap(), 400);
        assert_eq!(decode_cdf(&file).unwrap(), certs);
    }

    #[test]
    fn skips_direct_values_and_other_certificate_types() {
        // attributeCertificate-like [0] { }, then a certificate whose value is direct [0] { },
        // then one of ours with an extra subject Name after the path.
        let mut file = vec![0xA0, 0x00];
        file.extend([
            0x30, 0x0D, 0x30, 0x00, 0x30, 0x03, 0x04, 0x01, 0x01, 0xA1, 0x04, 0x30, 0x02, 0xA0,
            0x00,
        ]);
        let mut ours = encode_cdf(&[cert("Auth1", 1)]).unwrap();
        ours.extend([0x30, 0x00]); // subject: empty Name, inside X509CertificateAttributes
        ours[1] += 2;
        ours[17] += 2; // A1
        ours[19] += 2; // its SEQUENCE
        file.extend(ours);
        assert_eq!(decode_cdf(&file).unwrap(), vec![cert("Auth1", 1)]);
    }

    #[test]
    fn garbage_never_panics() {
        let valid = encode_cdf(&[cert("Auth1", 1), cert("Sign1", 5)]).unwrap();
        for input in hostile_inputs(&valid) {
            let _ = decode_cdf(&input);
        }
    }
}
