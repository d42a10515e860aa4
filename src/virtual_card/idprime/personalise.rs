//! Making an IDPrime-layout card [ours]: the blank card a personaliser would deliver (applet
//! files, PINs `0x11`/`0x83` and the PUK `0x85`; a one-code card without `0x83`), then the
//! legacy certificates put on it through the card's own commands, as our client writes one
//! (docs/domain.md "Our extensions").
//!
//! Each certificate is committed in a crash-safe order: its file created and written, its
//! 0005 record, its cmapfile record, then its index record, and last the index's record
//! count, the one byte that makes OpenSC see the certificate. A card interrupted before that
//! byte shows no half-written certificate.

use rsa::RsaPublicKey;

use super::super::keys;
use super::super::state::{BuildError, CardState, Layout};
use crate::idprime::extensions as ext;
use crate::idprime::files::{self, CertKind};

/// Room for index records: ours use up to eleven, a real card has a few tens.
const INDEX_RECORDS: usize = 16;
/// The two certificates of a pre-upgrade card: authentication then signature.
pub const LEGACY_PAIR: [CertKind; 2] = [CertKind::KeyExchange, CertKind::Signature];
/// The one certificate of a one-code card: authentication.
pub const ONE_CODE: [CertKind; 1] = [CertKind::KeyExchange];
/// PIN tries [ours: the PKCS#15 layout's].
const PIN_TRIES: u8 = crate::layout::PIN_MAX_TRIES;

/// The codes a new card is made with (the holder's code letter). `pin2: None` makes a
/// one-code card: one PIN for authentication and signing, no PIN `0x83` on the card.
pub struct IdprimeCodes<'a> {
    pub pin1: &'a str,
    pub pin2: Option<&'a str>,
    pub puk: &'a str,
}

/// Why an IDPrime card could not be made.
#[derive(Debug, thiserror::Error)]
pub enum IdprimeError {
    #[error("card layout: {0}")]
    Build(#[from] BuildError),
    #[error("the card refused {step}: status {sw:04X}")]
    Refused { step: &'static str, sw: u16 },
    #[error("the card's answer to {0} is malformed")]
    Malformed(&'static str),
    #[error("certificate: {0}")]
    Certificate(String),
}

/// A blank IDPrime card: applet files with the index naming cardid, cmapfile and tinfo, PIN1
/// (`0x11`), PIN2 (`0x83`) unless it is a one-code card, and the PUK (`0x85`); no keys,
/// certificates or certificate files (those are made with CREATE FILE).
pub fn blank_card(
    serial_hex: &str,
    label: &str,
    codes: &IdprimeCodes<'_>,
) -> Result<CardState, IdprimeError> {
    let mut state = CardState::new_layout(serial_hex, Layout::Idprime, files::ATR_940.to_vec());
    let mf = crate::layout::FID_MF;
    let cardid = files::card_id_of(serial_hex).to_vec();
    let tinfo = files::tinfo(label);
    let fixed = [
        (files::FID_CARDID, "cardid", "", files::CARDID_LEN),
        (
            files::FID_CMAPFILE,
            "cmapfile",
            "mscp",
            files::CMAP_RECORD_LEN * 8,
        ),
        (files::FID_TINFO, "tinfo", "p11", tinfo.len()),
    ];
    let mut index = vec![fixed.len() as u8];
    for (fid, name, dir, size) in fixed {
        let record = files::index_record(fid, size as u16, name, dir)
            .ok_or(BuildError::DuplicateFid(fid))?;
        index.extend_from_slice(&record);
    }
    let index_capacity = 1 + files::INDEX_RECORD_LEN * INDEX_RECORDS;
    state.add_ef(mf, files::FID_INDEX, None, index, index_capacity)?;
    state.add_ef(mf, files::FID_CARDID, None, cardid, files::CARDID_LEN)?;
    state.add_ef(
        mf,
        files::FID_CMAPFILE,
        None,
        Vec::new(),
        files::CMAP_RECORD_LEN * 8,
    )?;
    state.add_ef(
        mf,
        files::FID_KEYREFS,
        None,
        Vec::new(),
        files::KEYREF_RECORD_LEN * 8,
    )?;
    let tinfo_len = tinfo.len();
    state.add_ef(mf, files::FID_TINFO, None, tinfo, tinfo_len)?;
    state.set_pin(files::PIN1_REF, codes.pin1.as_bytes(), PIN_TRIES)?;
    if let Some(pin2) = codes.pin2 {
        state.set_pin(files::PIN2_REF, pin2.as_bytes(), PIN_TRIES)?;
    }
    state.set_pin(ext::PUK_REF, codes.puk.as_bytes(), ext::PUK_MAX_TRIES)?;
    Ok(state)
}

/// PIN1 as VERIFY carries it: digits padded with `00` to 16 bytes.
pub fn verify_pin1_apdu(pin1: &str) -> zeroize::Zeroizing<Vec<u8>> {
    let mut apdu = zeroize::Zeroizing::new(vec![0x00, 0x20, 0x00, files::PIN1_REF, 0x10]);
    let mut padded = [0u8; files::PIN_LEN];
    for (o, b) in padded.iter_mut().zip(pin1.bytes()) {
        *o = b;
    }
    apdu.extend_from_slice(&padded);
    zeroize::Zeroize::zeroize(&mut padded);
    apdu
}

/// Turns a key generated on the card into its certificate (DER), or says why not.
pub type Certify<'a> = dyn FnMut(CertKind, &RsaPublicKey) -> Result<Vec<u8>, String> + 'a;

/// Put the legacy certificates `kinds` ([`LEGACY_PAIR`] or [`ONE_CODE`]) on a blank card
/// through `send` (one command APDU in, the answer with its status word out): PIN1, then for
/// certificate N a key generated on the card in container N, `certify` turning its public key
/// into a certificate, and the files in commit order, the certificate file made with CREATE
/// FILE at its exact size.
pub fn issue_legacy(
    send: &mut dyn FnMut(&[u8]) -> Vec<u8>,
    pin1: &str,
    kinds: &[CertKind],
    certify: &mut Certify<'_>,
) -> Result<(), IdprimeError> {
    expect_ok(send(&verify_pin1_apdu(pin1)), "VERIFY PIN1")?;
    for (index, &kind) in kinds.iter().enumerate() {
        let index = index as u8;
        let key_ref = files::key_reference(index);
        let template = expect_ok(
            transmit(
                send,
                &[0x00, ext::INS_GENERATE, ext::P1_GENERATE, key_ref, 0x00],
            ),
            "GENERATE",
        )?;
        let public = keys::parse_public_key_template(&template)
            .ok_or(IdprimeError::Malformed("GENERATE"))?;
        let der = certify(kind, &public).map_err(IdprimeError::Certificate)?;
        let file = files::compressed_cert(&der)
            .ok_or_else(|| IdprimeError::Certificate("too long for the card".into()))?;
        let cert_fid = ext::cert_fid(index);
        create_file(send, cert_fid, file.len())?;
        write_at(send, cert_fid, 0, &file)?;
        let pin_index = if kind == CertKind::KeyExchange { 1 } else { 2 };
        let keyref = files::keyref_record(key_ref, index, pin_index);
        write_at(
            send,
            files::FID_KEYREFS,
            files::KEYREF_RECORD_LEN * usize::from(index),
            &keyref,
        )?;
        let guid = files::container_guid(&serial_of(send)?, index);
        let cmap = files::cmap_record(&guid, kind, crate::layout::RSA_BITS as u16);
        write_at(
            send,
            files::FID_CMAPFILE,
            files::CMAP_RECORD_LEN * usize::from(index),
            &cmap,
        )?;
        // The index: the record first, then the count that commits it.
        let count = read_index_count(send)?;
        let name = files::cert_name(kind, index);
        let record = files::index_record(cert_fid, file.len() as u16, &name, "mscp")
            .ok_or(IdprimeError::Malformed("index"))?;
        write_at(
            send,
            files::FID_INDEX,
            1 + files::INDEX_RECORD_LEN * usize::from(count),
            &record,
        )?;
        write_at(send, files::FID_INDEX, 0, &[count + 1])?;
    }
    Ok(())
}

/// Send a command and collect an answer longer than Le through GET RESPONSE (`61xx`).
fn transmit(send: &mut dyn FnMut(&[u8]) -> Vec<u8>, apdu: &[u8]) -> Vec<u8> {
    let mut answer = send(apdu);
    let mut data = Vec::new();
    // A card that keeps answering 61xx is cut off after 64 KiB.
    for _ in 0..256 {
        match answer.len().checked_sub(2) {
            Some(split) if answer[split] == 0x61 => {
                let le = answer[split + 1];
                data.extend_from_slice(&answer[..split]);
                answer = send(&[0x00, 0xC0, 0x00, 0x00, le]);
            }
            _ => break,
        }
    }
    data.extend_from_slice(&answer);
    data
}

fn expect_ok(answer: Vec<u8>, step: &'static str) -> Result<Vec<u8>, IdprimeError> {
    let Some(split) = answer.len().checked_sub(2) else {
        return Err(IdprimeError::Malformed(step));
    };
    let sw = u16::from_be_bytes([answer[split], answer[split + 1]]);
    if sw != 0x9000 && sw != 0x6282 {
        return Err(IdprimeError::Refused { step, sw });
    }
    Ok(answer[..split].to_vec())
}

/// CREATE FILE of an empty EF `fid` with room for `capacity` bytes.
fn create_file(
    send: &mut dyn FnMut(&[u8]) -> Vec<u8>,
    fid: u16,
    capacity: usize,
) -> Result<(), IdprimeError> {
    let capacity = u16::try_from(capacity)
        .map_err(|_| IdprimeError::Certificate("too long for the card".into()))?;
    let data = ext::create_file_data(fid, capacity);
    let mut apdu = vec![0x00, ext::INS_CREATE_FILE, 0x00, 0x00, data.len() as u8];
    apdu.extend_from_slice(&data);
    expect_ok(send(&apdu), "CREATE FILE").map(|_| ())
}

fn select(send: &mut dyn FnMut(&[u8]) -> Vec<u8>, fid: u16) -> Result<(), IdprimeError> {
    let [hi, lo] = fid.to_be_bytes();
    expect_ok(send(&[0x00, 0xA4, 0x00, 0x0C, 0x02, hi, lo]), "SELECT").map(|_| ())
}

/// UPDATE BINARY of `data` at `at` in `fid`, in links of at most 255 bytes.
fn write_at(
    send: &mut dyn FnMut(&[u8]) -> Vec<u8>,
    fid: u16,
    at: usize,
    data: &[u8],
) -> Result<(), IdprimeError> {
    select(send, fid)?;
    for (n, chunk) in data.chunks(255).enumerate() {
        let offset = u16::try_from(at + n * 255).map_err(|_| IdprimeError::Malformed("offset"))?;
        let [p1, p2] = offset.to_be_bytes();
        let mut apdu = vec![0x00, 0xD6, p1, p2, chunk.len() as u8];
        apdu.extend_from_slice(chunk);
        expect_ok(send(&apdu), "UPDATE BINARY")?;
    }
    Ok(())
}

fn read_index_count(send: &mut dyn FnMut(&[u8]) -> Vec<u8>) -> Result<u8, IdprimeError> {
    select(send, files::FID_INDEX)?;
    let data = expect_ok(send(&[0x00, 0xB0, 0x00, 0x00, 0x01]), "READ BINARY")?;
    data.first()
        .copied()
        .ok_or(IdprimeError::Malformed("index"))
}

/// The card's serial as hex digits, read from cardid (the GUIDs derive from it).
fn serial_of(send: &mut dyn FnMut(&[u8]) -> Vec<u8>) -> Result<String, IdprimeError> {
    select(send, files::FID_CARDID)?;
    let data = expect_ok(send(&[0x00, 0xB0, 0x00, 0x00, 0x10]), "READ BINARY")?;
    Ok(data.iter().map(|b| format!("{b:02X}")).collect())
}
