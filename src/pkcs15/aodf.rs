//! EF.AODF: the PINs and the PUK, which tell OpenSC and our client how to VERIFY, how long a
//! PIN may be, how to pad it and which PUK unblocks it.
//!
//! A PIN object is the untagged `pin` alternative of `AuthenticationObject`:
//! `SEQUENCE { CommonObjectAttributes, CommonAuthenticationObjectAttributes { authId },
//! [1] { PinAttributes } }`, with `pinReference [0]` implicit inside `PinAttributes`, as in
//! OpenSC's `pkcs15-pin.c`. Other authentication objects (biometric `[0]`, authKey `[1]`,
//! external `[2]`) are skipped on reading.

use der::Enumerated;
use der::Sequence;
use der::asn1::{BitStringRef, GeneralizedTime, OctetStringRef};

use super::common::{
    CommonObjectAttributes, NamedBits, ObjectFlags, PathAsn1, bit, first_byte, from_der, objects,
    octets, to_der,
};
use super::error::Pkcs15Error;

const WHAT: &str = "the PIN directory (AODF)";

/// `PinFlags`, one bool per named bit, in bit order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinFlags {
    pub case_sensitive: bool,
    pub local: bool,
    pub change_disabled: bool,
    pub unblock_disabled: bool,
    pub initialized: bool,
    pub needs_padding: bool,
    pub unblocking_pin: bool,
    pub so_pin: bool,
    pub disable_allowed: bool,
    pub integrity_protected: bool,
    pub confidentiality_protected: bool,
    pub exchange_ref_data: bool,
}

impl PinFlags {
    fn to_bits(self) -> [bool; 12] {
        [
            self.case_sensitive,
            self.local,
            self.change_disabled,
            self.unblock_disabled,
            self.initialized,
            self.needs_padding,
            self.unblocking_pin,
            self.so_pin,
            self.disable_allowed,
            self.integrity_protected,
            self.confidentiality_protected,
            self.exchange_ref_data,
        ]
    }

    fn from_bits(bits: BitStringRef<'_>) -> Self {
        let b = |n| bit(Some(bits), n);
        PinFlags {
            case_sensitive: b(0),
            local: b(1),
            change_disabled: b(2),
            unblock_disabled: b(3),
            initialized: b(4),
            needs_padding: b(5),
            unblocking_pin: b(6),
            so_pin: b(7),
            disable_allowed: b(8),
            integrity_protected: b(9),
            confidentiality_protected: b(10),
            exchange_ref_data: b(11),
        }
    }
}

/// `PinType ::= ENUMERATED`: how the card wants the PIN's characters sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enumerated)]
#[repr(u32)]
pub enum PinType {
    Bcd = 0,
    AsciiNumeric = 1,
    Utf8 = 2,
    HalfNibbleBcd = 3,
    Iso9564_1 = 4,
}

/// A PIN or PUK as the AODF describes it. `unblocked_by` is the auth id of the PUK that unblocks
/// this PIN (the object's `CommonObjectAttributes.authId`); `auth_id` is this PIN's own id,
/// which keys name in their `auth_id`. `reference` is the VERIFY P2 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinObject {
    pub label: String,
    pub flags: ObjectFlags,
    pub unblocked_by: Option<Vec<u8>>,
    pub auth_id: Vec<u8>,
    pub pin_flags: PinFlags,
    pub pin_type: PinType,
    pub min_length: u32,
    pub stored_length: u32,
    pub max_length: Option<u32>,
    pub reference: i32,
    pub pad_char: Option<u8>,
    pub path: Option<Vec<u8>>,
}

#[derive(Sequence)]
struct CommonAuthObjectAttributes<'a> {
    auth_id: OctetStringRef<'a>,
    /// ISO/IEC 7816-15 `authReference`: read past, never written.
    #[asn1(optional = "true")]
    auth_reference: Option<i32>,
    /// ISO/IEC 7816-15 `seIdentifier [0]`: read past, never written.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    se_identifier: Option<u32>,
}

#[derive(Sequence)]
struct PinAttributesAsn1<'a> {
    pin_flags: BitStringRef<'a>,
    pin_type: PinType,
    min_length: u32,
    stored_length: u32,
    #[asn1(optional = "true")]
    max_length: Option<u32>,
    /// `pinReference [0] Reference DEFAULT 0`.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pin_reference: Option<i32>,
    #[asn1(optional = "true")]
    pad_char: Option<OctetStringRef<'a>>,
    #[asn1(optional = "true")]
    last_pin_change: Option<GeneralizedTime>,
    #[asn1(optional = "true")]
    path: Option<PathAsn1<'a>>,
}

#[derive(Sequence)]
struct PinObjectAsn1<'a> {
    common: CommonObjectAttributes<'a>,
    class: CommonAuthObjectAttributes<'a>,
    /// `[1]` wraps the PinAttributes SEQUENCE; `extensible` skips a `[0]` subclass if present.
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", extensible = "true")]
    type_attrs: PinAttributesAsn1<'a>,
}

/// The AODF's content: one PIN object per entry, in the given order.
pub fn encode_aodf(pins: &[PinObject]) -> Result<Vec<u8>, Pkcs15Error> {
    let mut out = Vec::new();
    for pin in pins {
        out.extend(encode_pin(pin)?);
    }
    Ok(out)
}

fn encode_pin(pin: &PinObject) -> Result<Vec<u8>, Pkcs15Error> {
    let object_flags = pin.flags.to_bits();
    let pin_flags = NamedBits::new(&pin.pin_flags.to_bits());
    let pad = pin.pad_char.map(|c| [c]);
    let asn = PinObjectAsn1 {
        common: CommonObjectAttributes::new(
            &pin.label,
            &object_flags,
            pin.unblocked_by.as_deref(),
            WHAT,
        )?,
        class: CommonAuthObjectAttributes {
            auth_id: octets(&pin.auth_id, WHAT)?,
            auth_reference: None,
            se_identifier: None,
        },
        type_attrs: PinAttributesAsn1 {
            pin_flags: pin_flags.as_der(WHAT)?,
            pin_type: pin.pin_type,
            min_length: pin.min_length,
            stored_length: pin.stored_length,
            max_length: pin.max_length,
            // DER leaves out a value equal to its DEFAULT.
            pin_reference: (pin.reference != 0).then_some(pin.reference),
            pad_char: pad.as_ref().map(|p| octets(p, WHAT)).transpose()?,
            last_pin_change: None,
            path: pin
                .path
                .as_deref()
                .map(|p| PathAsn1::new(p, WHAT))
                .transpose()?,
        },
    };
    to_der(&asn, WHAT)
}

/// Reads every PIN object up to the first padding byte; other authentication objects are
/// skipped.
pub fn decode_aodf(file: &[u8]) -> Result<Vec<PinObject>, Pkcs15Error> {
    let mut pins = Vec::new();
    for tlv in objects(file, WHAT)? {
        if first_byte(tlv) != 0x30 {
            continue;
        }
        let asn: PinObjectAsn1<'_> = from_der(tlv, WHAT)?;
        let attrs = &asn.type_attrs;
        let pad_char = match attrs.pad_char {
            None => None,
            Some(p) => match p.as_bytes() {
                [c] => Some(*c),
                other => {
                    return Err(Pkcs15Error::decode(
                        WHAT,
                        format!("padChar must be one byte, found {}", other.len()),
                    ));
                }
            },
        };
        pins.push(PinObject {
            label: asn.common.label(),
            flags: ObjectFlags::from_bits(asn.common.flags),
            unblocked_by: asn.common.auth_id.map(|id| id.as_bytes().to_vec()),
            auth_id: asn.class.auth_id.as_bytes().to_vec(),
            pin_flags: PinFlags::from_bits(attrs.pin_flags),
            pin_type: attrs.pin_type,
            min_length: attrs.min_length,
            stored_length: attrs.stored_length,
            max_length: attrs.max_length,
            reference: attrs.pin_reference.unwrap_or(0),
            pad_char,
            path: attrs.path.as_ref().map(PathAsn1::to_vec),
        });
    }
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkcs15::common::tests::hostile_inputs;
    use crate::pkcs15::pad_to;

    fn user_pin_flags() -> PinFlags {
        PinFlags {
            local: true,
            initialized: true,
            needs_padding: true,
            ..PinFlags::default()
        }
    }

    fn pin(label: &str, id: u8, unblocked_by: Option<u8>, flags: PinFlags) -> PinObject {
        PinObject {
            label: label.to_owned(),
            flags: ObjectFlags {
                private: false,
                modifiable: true,
            },
            unblocked_by: unblocked_by.map(|p| vec![p]),
            auth_id: vec![id],
            pin_flags: flags,
            pin_type: PinType::AsciiNumeric,
            min_length: 6,
            stored_length: 8,
            max_length: Some(8),
            reference: i32::from(id),
            pad_char: Some(0xFF),
            path: Some(vec![0x3F, 0x00, 0x50, 0x15]),
        }
    }

    /// The card's three authentication objects.
    pub(crate) fn siths_pins() -> Vec<PinObject> {
        vec![
            pin("Legitimering", 0x01, Some(0x03), user_pin_flags()),
            pin("Underskrift", 0x02, Some(0x03), user_pin_flags()),
            pin(
                "PUK",
                0x03,
                None,
                PinFlags {
                    unblocking_pin: true,
                    ..user_pin_flags()
                },
            ),
        ]
    }

    #[test]
    fn encodes_pin1_byte_for_byte() {
        let pin1 = PinObject {
            path: None,
            ..siths_pins().remove(0)
        };
        let mut expected = vec![0x30, 0x36];
        // CommonObjectAttributes { "Legitimering", flags modifiable, authId 03 }
        expected.extend([0x30, 0x15, 0x0C, 0x0C]);
        expected.extend(b"Legitimering");
        expected.extend([0x03, 0x02, 0x06, 0x40, 0x04, 0x01, 0x03]);
        // CommonAuthenticationObjectAttributes { authId 01 }
        expected.extend([0x30, 0x03, 0x04, 0x01, 0x01]);
        // [1] { PinAttributes { flags local|initialized|needsPadding, ascii-numeric,
        //        min 6, stored 8, max 8, [0] ref 1, padChar FF } }
        expected.extend([0xA1, 0x18, 0x30, 0x16]);
        expected.extend([0x03, 0x02, 0x02, 0x4C]);
        expected.extend([0x0A, 0x01, 0x01]);
        expected.extend([0x02, 0x01, 0x06, 0x02, 0x01, 0x08, 0x02, 0x01, 0x08]);
        expected.extend([0x80, 0x01, 0x01]);
        expected.extend([0x04, 0x01, 0xFF]);
        assert_eq!(encode_aodf(&[pin1]).unwrap(), expected);
    }

    #[test]
    fn puk_carries_the_unblocking_flag() {
        let bytes = encode_aodf(&siths_pins()[2..]).unwrap();
        // local|initialized|needsPadding|unblockingPin = 0100 1110, one unused bit.
        let needle = [0x03, 0x02, 0x01, 0x4E];
        assert!(bytes.windows(4).any(|w| w == needle));
        let decoded = decode_aodf(&bytes).unwrap();
        assert!(decoded[0].pin_flags.unblocking_pin);
        assert_eq!(decoded[0].unblocked_by, None);
    }

    #[test]
    fn round_trips_with_padding() {
        let file = pad_to(encode_aodf(&siths_pins()).unwrap(), 400);
        assert_eq!(decode_aodf(&file).unwrap(), siths_pins());
    }

    #[test]
    fn round_trips_every_flag_and_pin_type() {
        let all = PinFlags {
            case_sensitive: true,
            local: true,
            change_disabled: true,
            unblock_disabled: true,
            initialized: true,
            needs_padding: true,
            unblocking_pin: true,
            so_pin: true,
            disable_allowed: true,
            integrity_protected: true,
            confidentiality_protected: true,
            exchange_ref_data: true,
        };
        let types = [
            PinType::Bcd,
            PinType::AsciiNumeric,
            PinType::Utf8,
            PinType::HalfNibbleBcd,
            PinType::Iso9564_1,
        ];
        let pins: Vec<_> = types
            .into_iter()
            .map(|pin_type| PinObject {
                pin_type,
                pin_flags: all,
                reference: 0x81,
                max_length: None,
                pad_char: None,
                ..pin("x", 9, None, all)
            })
            .collect();
        assert_eq!(decode_aodf(&encode_aodf(&pins).unwrap()).unwrap(), pins);
    }

    #[test]
    fn reference_zero_is_the_default_and_left_out() {
        let p = PinObject {
            reference: 0,
            ..siths_pins().remove(0)
        };
        let bytes = encode_aodf(std::slice::from_ref(&p)).unwrap();
        assert!(!bytes.windows(2).any(|w| w == [0x80, 0x01]));
        assert_eq!(decode_aodf(&bytes).unwrap(), vec![p]);
    }

    #[test]
    fn skips_other_authentication_objects() {
        // authKey [1] { ... } followed by PIN1.
        let mut file = vec![0xA1, 0x02, 0x30, 0x00];
        file.extend(encode_aodf(&siths_pins()[..1]).unwrap());
        assert_eq!(decode_aodf(&file).unwrap(), siths_pins()[..1].to_vec());
    }

    #[test]
    fn rejects_a_two_byte_pad_char() {
        let mut bytes = encode_aodf(&[PinObject {
            path: None,
            ..siths_pins().remove(0)
        }])
        .unwrap();
        // Replace the final padChar "04 01 FF" with "04 02 FF FF" and fix the three lengths.
        let n = bytes.len();
        bytes.truncate(n - 3);
        bytes.extend([0x04, 0x02, 0xFF, 0xFF]);
        bytes[1] += 1; // outer SEQUENCE
        let a1 = bytes.iter().position(|b| *b == 0xA1).unwrap();
        bytes[a1 + 1] += 1;
        bytes[a1 + 3] += 1;
        assert!(decode_aodf(&bytes).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let valid = encode_aodf(&siths_pins()).unwrap();
        for input in hostile_inputs(&valid) {
            let _ = decode_aodf(&input);
        }
    }
}
