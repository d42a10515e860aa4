//! Where things live on a SITHS card as this product lays it out [ours].
//!
//! Real SITHS applets and AIDs are not public (see docs/domain.md); legacy SIS cards were ISO
//! 7816-4 cards with a PKCS#15 application, so the virtual card follows that (docs/domain.md
//! "The virtual SITHS card"). The client finds files through EF.DIR and the ODF like any
//! PKCS#15 reader would; only the AID, the PIN references and the key-slot convention below are
//! fixed.

/// PKCS#15 application identifier (ISO/IEC 7816-15).
pub const PKCS15_AID: [u8; 12] = [
    0xA0, 0x00, 0x00, 0x00, 0x63, 0x50, 0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35,
];
/// Label of the application in EF.DIR.
pub const APP_LABEL: &str = "SITHS e-id";

pub const FID_MF: u16 = 0x3F00;
pub const FID_EF_DIR: u16 = 0x2F00;
pub const FID_DF_PKCS15: u16 = 0x5015;
pub const FID_ODF: u16 = 0x5031;
pub const FID_TOKEN_INFO: u16 = 0x5032;
pub const FID_AODF: u16 = 0x4401;
pub const FID_PRKDF: u16 = 0x4402;
pub const FID_CDF: u16 = 0x4403;

/// Short EF identifiers under DF.PKCS15, so one READ BINARY both selects and reads.
pub const SFI_ODF: u8 = 0x01;
pub const SFI_TOKEN_INFO: u8 = 0x02;
pub const SFI_AODF: u8 = 0x03;
pub const SFI_PRKDF: u8 = 0x04;
pub const SFI_CDF: u8 = 0x05;
/// Short EF identifier of EF.DIR under the MF (ISO 7816-4's usual value).
pub const SFI_EF_DIR: u8 = 0x1E;

/// PIN and PUK references (VERIFY P2) and their PKCS#15 auth ids.
pub const PIN1_REF: u8 = 0x01;
pub const PIN2_REF: u8 = 0x02;
pub const PUK_REF: u8 = 0x03;

/// Every PIN and the PUK are stored padded to this length with [`PIN_PAD`], so that
/// CHANGE REFERENCE DATA and RESET RETRY COUNTER can tell where one code ends.
pub const PIN_STORED_LEN: usize = 8;
pub const PIN_PAD: u8 = 0xFF;
pub const PIN_MIN_LEN: usize = 6;
pub const PIN_MAX_LEN: usize = 8;
pub const PUK_LEN: usize = 8;
pub const PIN_MAX_TRIES: u8 = 3;
pub const PUK_MAX_TRIES: u8 = 10;

/// Key slots 1..=8. Slots 1-4 hold authentication keys (PIN1), 5-8 signing keys (PIN2):
/// the PIN that guards a slot is fixed when the card is made, as on real cards.
pub const KEY_SLOTS: std::ops::RangeInclusive<u8> = 1..=8;
pub const RSA_BITS: usize = 2048;

/// The PIN that guards the key in `slot`.
pub fn slot_pin(slot: u8) -> u8 {
    if slot <= 4 { PIN1_REF } else { PIN2_REF }
}

/// The EF that holds the certificate of the key in `slot`.
pub fn cert_fid(slot: u8) -> u16 {
    0x4410 + slot as u16
}

/// Short EF identifier of the certificate EF of `slot`.
pub fn cert_sfi(slot: u8) -> u8 {
    0x10 + slot
}

/// Path of an EF in DF.PKCS15, from the MF, as the PKCS#15 files name it: a fact of the
/// layout that the card's personalisation and the client share.
pub fn app_path(fid: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(6);
    p.extend_from_slice(&FID_MF.to_be_bytes());
    p.extend_from_slice(&FID_DF_PKCS15.to_be_bytes());
    p.extend_from_slice(&fid.to_be_bytes());
    p
}

/// MSE algorithm references [ours]: the card gets a SHA-256 hash and pads it itself.
pub const ALG_RSA_PKCS1_SHA256: u8 = 0x42;
pub const ALG_RSA_PSS_SHA256: u8 = 0x45;

/// GET DATA tag of the card serial number.
pub const TAG_CARD_SERIAL: u16 = 0x005A;
