//! Making a new virtual card: the PKCS#15 file structure, PINs and PUK [ours].
//!
//! This is what a card personaliser does before a card reaches its holder. Keys and
//! certificates are then put on it through the card's own commands, like any client would.

use super::state::CardState;
use crate::layout::{self, KEY_SLOTS, PIN_MAX_LEN, PIN_MIN_LEN, PIN_PAD, PIN_STORED_LEN};
use crate::pkcs15::{
    self, DirRecord, ObjectFlags, OdfEntry, OdfKind, PinFlags, PinObject, PinType, Pkcs15Error,
    TokenFlags, TokenInfo,
};

/// Room for directory files and certificates; real cards have a few tens of KiB.
const DIRECTORY_CAPACITY: usize = 2048;
const CERT_CAPACITY: usize = 4096;

/// Why a card could not be made; only a bug in the layout can cause either.
#[derive(Debug, thiserror::Error)]
pub enum PersonaliseError {
    #[error("card layout: {0}")]
    Encode(#[from] Pkcs15Error),
    #[error("card layout: {0}")]
    Build(#[from] super::state::BuildError),
}

/// The codes a new card is made with (the holder's code letter).
pub struct InitialCodes<'a> {
    pub pin1: &'a str,
    pub pin2: &'a str,
    pub puk: &'a str,
}

fn path(fid: u16) -> Vec<u8> {
    layout::app_path(fid)
}

fn pin_object(label: &str, reference: u8, unblocked_by: Option<u8>, puk: bool) -> PinObject {
    PinObject {
        label: label.to_string(),
        flags: ObjectFlags {
            private: true,
            modifiable: !puk,
        },
        unblocked_by: unblocked_by.map(|r| vec![r]),
        auth_id: vec![reference],
        pin_flags: PinFlags {
            local: true,
            initialized: true,
            needs_padding: true,
            unblocking_pin: puk,
            change_disabled: puk,
            ..PinFlags::default()
        },
        pin_type: PinType::AsciiNumeric,
        min_length: if puk { layout::PUK_LEN } else { PIN_MIN_LEN } as u32,
        stored_length: PIN_STORED_LEN as u32,
        max_length: Some(if puk { layout::PUK_LEN } else { PIN_MAX_LEN } as u32),
        reference: reference as i32,
        pad_char: Some(PIN_PAD),
        path: Some(path(layout::FID_DF_PKCS15)[..4].to_vec()),
    }
}

/// A blank SITHS card: PKCS#15 structure, PIN1, PIN2 and PUK, no keys or certificates.
pub fn blank_card(
    serial_hex: &str,
    label: &str,
    codes: &InitialCodes<'_>,
) -> Result<CardState, PersonaliseError> {
    let serial: Vec<u8> = (0..serial_hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(serial_hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    let mut state = CardState::new(serial_hex);
    let ef_dir = pkcs15::encode_ef_dir(&[DirRecord {
        aid: layout::PKCS15_AID.to_vec(),
        label: Some(layout::APP_LABEL.to_string()),
        path: path(layout::FID_DF_PKCS15)[..4].to_vec(),
    }])?;
    state.add_ef(
        layout::FID_MF,
        layout::FID_EF_DIR,
        Some(layout::SFI_EF_DIR),
        ef_dir,
        256,
    )?;
    let odf = pkcs15::encode_odf(&[
        OdfEntry {
            kind: OdfKind::PrivateKeys,
            path: path(layout::FID_PRKDF),
        },
        OdfEntry {
            kind: OdfKind::Certificates,
            path: path(layout::FID_CDF),
        },
        OdfEntry {
            kind: OdfKind::AuthObjects,
            path: path(layout::FID_AODF),
        },
    ])?;
    let df = layout::FID_DF_PKCS15;
    state.add_ef(df, layout::FID_ODF, Some(layout::SFI_ODF), odf, 256)?;
    let token = TokenInfo {
        version: 0,
        serial_number: serial,
        manufacturer_id: Some("siths-upgrade virtual card".to_string()),
        label: Some(label.to_string()),
        flags: TokenFlags {
            login_required: true,
            prn_generation: true,
            ..TokenFlags::default()
        },
    };
    state.add_ef(
        df,
        layout::FID_TOKEN_INFO,
        Some(layout::SFI_TOKEN_INFO),
        token.encode()?,
        256,
    )?;
    let aodf = pkcs15::encode_aodf(&[
        pin_object(
            "Legitimering",
            layout::PIN1_REF,
            Some(layout::PUK_REF),
            false,
        ),
        pin_object(
            "Underskrift",
            layout::PIN2_REF,
            Some(layout::PUK_REF),
            false,
        ),
        pin_object("PUK", layout::PUK_REF, None, true),
    ])?;
    state.add_ef(df, layout::FID_AODF, Some(layout::SFI_AODF), aodf, 512)?;
    state.add_ef(
        df,
        layout::FID_PRKDF,
        Some(layout::SFI_PRKDF),
        Vec::new(),
        DIRECTORY_CAPACITY,
    )?;
    state.add_ef(
        df,
        layout::FID_CDF,
        Some(layout::SFI_CDF),
        Vec::new(),
        DIRECTORY_CAPACITY,
    )?;
    for slot in KEY_SLOTS {
        state.add_ef(
            df,
            layout::cert_fid(slot),
            Some(layout::cert_sfi(slot)),
            Vec::new(),
            CERT_CAPACITY,
        )?;
    }
    state.set_pin(
        layout::PIN1_REF,
        codes.pin1.as_bytes(),
        layout::PIN_MAX_TRIES,
    )?;
    state.set_pin(
        layout::PIN2_REF,
        codes.pin2.as_bytes(),
        layout::PIN_MAX_TRIES,
    )?;
    state.set_pin(layout::PUK_REF, codes.puk.as_bytes(), layout::PUK_MAX_TRIES)?;
    Ok(state)
}
