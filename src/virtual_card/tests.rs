//! Behaviour of the whole engine, command by command, as a host (or OpenSC) sees it.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Digest, Sha256};

use super::keys::parse_public_key_template;
use super::*;
use crate::apdu::{Command, Response, StatusWord};
use crate::channel::{Channel, TransferStats};
use crate::layout;
use crate::transport::{Transmit, TransportError};

const PIN1: &[u8] = b"123456";
const PIN2: &[u8] = b"24681357";
const PUK: &[u8] = b"87654321";
const ODF: &[u8] = b"ODF: opaque bytes for the engine";

fn state() -> CardState {
    let mut s = CardState::new("9752000123");
    s.add_ef(0x3F00, 0x2F00, Some(0x1E), b"EF.DIR".to_vec(), 256)
        .unwrap();
    s.add_ef(
        0x5015,
        layout::FID_ODF,
        Some(layout::SFI_ODF),
        ODF.to_vec(),
        128,
    )
    .unwrap();
    s.add_ef(
        0x5015,
        layout::cert_fid(1),
        Some(layout::cert_sfi(1)),
        vec![0xC1; 600],
        2000,
    )
    .unwrap();
    s.set_pin(layout::PIN1_REF, PIN1, 3).unwrap();
    s.set_pin(layout::PIN2_REF, PIN2, 3).unwrap();
    s.set_pin(layout::PUK_REF, PUK, 10).unwrap();
    s
}

fn card() -> VirtualCard {
    VirtualCard::new(state())
}

/// Send raw bytes, return (data, status word).
fn raw(card: &mut VirtualCard, apdu: &[u8]) -> (Vec<u8>, u16) {
    let answer = card.respond(apdu).expect("card present");
    assert!(answer.len() >= 2, "every answer has a status word");
    let (data, sw) = answer.split_at(answer.len() - 2);
    (data.to_vec(), u16::from_be_bytes([sw[0], sw[1]]))
}

fn sw(card: &mut VirtualCard, cmd: &Command) -> u16 {
    raw(card, &cmd.to_bytes().unwrap()).1
}

struct Direct<'a>(&'a mut VirtualCard);

impl Transmit for Direct<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.0
            .respond(command)
            .map_err(|_| TransportError::CardRemoved)
    }
}

/// Exchange through the host channel: chaining out, GET RESPONSE in.
fn exchange(card: &mut VirtualCard, cmd: &Command) -> Response {
    let mut stats = TransferStats::default();
    Channel::new(&mut Direct(card), &mut stats)
        .exchange(cmd)
        .unwrap()
}

fn verify(card: &mut VirtualCard, reference: u8, pin: &[u8]) -> u16 {
    sw(card, &Command::verify(reference, Some(pin)))
}

fn padded(code: &[u8]) -> Vec<u8> {
    let mut v = code.to_vec();
    v.resize(8, 0xFF);
    v
}

fn select_odf(card: &mut VirtualCard) {
    assert_eq!(
        sw(card, &Command::select_path(&[0x50, 0x15, 0x50, 0x31])),
        0x9000
    );
}

// ---- SELECT, READ BINARY -------------------------------------------------------------------

#[test]
fn select_answers_fci_fcp_or_nothing() {
    let mut c = card();
    let r = exchange(&mut c, &Command::select_aid(&layout::PKCS15_AID));
    assert_eq!(r.sw, StatusWord::Ok);
    assert_eq!(r.data[0], 0x6F, "P2 00 answers the FCI");
    // As OpenSC selects the application: case 3, no Le, no answer data.
    let mut apdu = vec![0x00, 0xA4, 0x04, 0x00, 12];
    apdu.extend_from_slice(&layout::PKCS15_AID);
    assert_eq!(raw(&mut c, &apdu), (vec![], 0x9000));
    // Then the ODF relative to it, with its FCP.
    let (fcp, s) = raw(&mut c, &[0x00, 0xA4, 0x09, 0x04, 0x02, 0x50, 0x31, 0x00]);
    assert_eq!(s, 0x9000);
    assert_eq!(
        &fcp[..6],
        &[0x62, fcp.len() as u8 - 2, 0x80, 0x02, 0x00, ODF.len() as u8]
    );
    assert_eq!(
        sw(&mut c, &Command::select_fid(0x2F00)),
        0x9000,
        "EF.DIR from inside the DF"
    );
    assert_eq!(sw(&mut c, &Command::select_fid(0x4444)), 0x6A82);
    assert_eq!(
        sw(&mut c, &Command::select_path(&[0x3F, 0x00, 0x50, 0x15])),
        0x9000
    );
    assert_eq!(
        raw(&mut c, &[0x00, 0xA4, 0x08, 0x02, 0x02, 0x50, 0x15]).1,
        0x6A86
    );
    assert_eq!(
        raw(&mut c, &[0x00, 0xA4, 0x08, 0x0C, 0x03, 0x50, 0x15, 0x50]).1,
        0x6700
    );
}

#[test]
fn read_binary_serves_offsets_and_the_end_of_file() {
    let mut c = card();
    assert_eq!(
        raw(&mut c, &[0x00, 0xB0, 0x00, 0x00, 0x10]).1,
        0x6986,
        "no current EF"
    );
    select_odf(&mut c);
    assert_eq!(
        raw(&mut c, &[0x00, 0xB0, 0x00, 0x00, 0x04]),
        (ODF[..4].to_vec(), 0x9000)
    );
    assert_eq!(
        raw(&mut c, &[0x00, 0xB0, 0x00, 0x05, 0x00]),
        (ODF[5..].to_vec(), 0x6282)
    );
    let end = ODF.len() as u8;
    assert_eq!(
        raw(&mut c, &[0x00, 0xB0, 0x00, end, 0x10]),
        (vec![], 0x9000)
    );
    assert_eq!(raw(&mut c, &[0x00, 0xB0, 0x00, end + 1, 0x10]).1, 0x6B00);
    assert_eq!(raw(&mut c, &[0x00, 0xB0, 0x00, 0x00]).1, 0x6700, "no Le");
    // A big EF in 256-byte pieces, the way OpenSC reads it.
    let r = exchange(&mut c, &Command::select_path_fcp(&[0x50, 0x15, 0x44, 0x11]));
    assert_eq!(&r.data[2..6], &[0x80, 0x02, 0x02, 0x58]);
    let first = raw(&mut c, &[0x00, 0xB0, 0x00, 0x00, 0x00]);
    assert_eq!((first.0.len(), first.1), (256, 0x9000));
    let last = raw(&mut c, &[0x00, 0xB0, 0x02, 0x00, 0x00]);
    assert_eq!((last.0.len(), last.1), (600 - 512, 0x6282));
}

#[test]
fn read_binary_by_short_ef_identifier_selects_the_file() {
    let mut c = card();
    assert_eq!(
        raw(&mut c, &[0x00, 0xB0, 0x9E, 0x00, 0x00]),
        (b"EF.DIR".to_vec(), 0x6282)
    );
    // SFIs are per DF: the ODF's SFI is not visible from the MF.
    assert_eq!(raw(&mut c, &[0x00, 0xB0, 0x81, 0x00, 0x00]).1, 0x6A82);
    exchange(&mut c, &Command::select_aid(&layout::PKCS15_AID));
    let r = raw(
        &mut c,
        &Command::read_binary_sfi(layout::SFI_ODF, 4, 4)
            .to_bytes()
            .unwrap(),
    );
    assert_eq!(r, (ODF[4..8].to_vec(), 0x9000));
    // The SFI read selected the ODF: a plain READ BINARY continues in it.
    assert_eq!(
        raw(&mut c, &[0x00, 0xB0, 0x00, 0x08, 0x02]),
        (ODF[8..10].to_vec(), 0x9000)
    );
    assert_eq!(raw(&mut c, &[0x00, 0xB0, 0xA1, 0x00, 0x00]).1, 0x6A86);
}

// ---- writes --------------------------------------------------------------------------------

#[test]
fn writes_need_pin1_and_respect_capacity() {
    let mut c = card();
    select_odf(&mut c);
    assert_eq!(sw(&mut c, &Command::update_binary(0, b"new")), 0x6982);
    assert_eq!(sw(&mut c, &Command::erase_binary(0)), 0x6982);
    assert_eq!(verify(&mut c, 1, PIN1), 0x9000);
    assert_eq!(sw(&mut c, &Command::update_binary(0, b"NEW")), 0x9000);
    let end = ODF.len() as u16;
    assert_eq!(
        sw(&mut c, &Command::update_binary(end, b"+tail")),
        0x9000,
        "grows"
    );
    let expected = [&b"NEW"[..], &ODF[3..], b"+tail"].concat();
    assert_eq!(c.state().ef_content(0x5015, 0x5031), Some(&expected[..]));
    assert_eq!(
        sw(&mut c, &Command::update_binary(end + 10, b"gap")),
        0x6B00
    );
    let full = expected.len();
    assert_eq!(
        sw(
            &mut c,
            &Command::update_binary(full as u16, &vec![0; 128 - full + 1])
        ),
        0x6A84
    );
    assert_eq!(
        sw(
            &mut c,
            &Command::update_binary(full as u16, &vec![0; 128 - full])
        ),
        0x9000
    );
    assert_eq!(
        c.state().ef_content(0x5015, 0x5031).map(<[u8]>::len),
        Some(128)
    );
    assert_eq!(sw(&mut c, &Command::erase_binary(3)), 0x9000);
    assert_eq!(c.state().ef_content(0x5015, 0x5031), Some(&b"NEW"[..]));
    assert_eq!(sw(&mut c, &Command::erase_binary(4)), 0x6B00);
    // SFI form of UPDATE BINARY.
    let cmd = Command::new(0x00, 0xD6, 0x80 | layout::SFI_ODF, 1).with_data(b"xy".to_vec());
    assert_eq!(sw(&mut c, &cmd), 0x9000);
    assert_eq!(c.state().ef_content(0x5015, 0x5031), Some(&b"Nxy"[..]));
}

#[test]
fn a_chained_write_is_applied_whole() {
    let mut c = card();
    assert_eq!(verify(&mut c, 1, PIN1), 0x9000);
    let cert: Vec<u8> = (0..1500u32).map(|i| (i % 251) as u8).collect();
    exchange(&mut c, &Command::select_path(&[0x50, 0x15, 0x44, 0x11]));
    let r = exchange(&mut c, &Command::update_binary(0, &cert));
    assert_eq!(r.sw, StatusWord::Ok);
    let mut expected = cert.clone();
    assert_eq!(c.state().ef_content(0x5015, 0x4411), Some(&expected[..]));
    // Over capacity: refused at the link that overflows, nothing written.
    let r = exchange(&mut c, &Command::update_binary(0, &[1; 2001]));
    assert_eq!(r.sw, StatusWord::NotEnoughMemory);
    assert_eq!(c.state().ef_content(0x5015, 0x4411), Some(&expected[..]));
    // A chain interrupted by another command is discarded; the last link alone is applied.
    assert_eq!(
        raw(&mut c, &[&[0x10, 0xD6, 0, 0, 3][..], &[9, 9, 9]].concat()).1,
        0x9000
    );
    assert_eq!(raw(&mut c, &[0x00, 0xCA, 0x00, 0x5A, 0x00]).1, 0x9000);
    assert_eq!(raw(&mut c, &[0x00, 0xD6, 0, 0, 2, 7, 7]).1, 0x9000);
    expected[..2].copy_from_slice(&[7, 7]);
    assert_eq!(c.state().ef_content(0x5015, 0x4411), Some(&expected[..]));
    // A link with other P1 P2 also ends the chain.
    assert_eq!(
        raw(&mut c, &[&[0x10, 0xD6, 0, 0, 3][..], &[5, 5, 5]].concat()).1,
        0x9000
    );
    assert_eq!(raw(&mut c, &[0x00, 0xD6, 0, 10, 1, 6]).1, 0x9000);
    expected[10] = 6;
    assert_eq!(c.state().ef_content(0x5015, 0x4411), Some(&expected[..]));
    // Only UPDATE BINARY may be chained.
    assert_eq!(raw(&mut c, &[0x10, 0x20, 0x00, 0x01, 1, 0x31]).1, 0x6884);
}

#[test]
fn a_pull_during_a_chained_write_leaves_the_old_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let mut c = VirtualCard::create(&path, state()).unwrap();
    assert_eq!(verify(&mut c, 1, PIN1), 0x9000);
    select_odf(&mut c);
    c.pull_after(1);
    let link1 = [&[0x10, 0xD6, 0, 0, 4][..], b"BAD!"].concat();
    assert_eq!(raw(&mut c, &link1).1, 0x9000);
    assert_eq!(
        c.respond(&[0x00, 0xD6, 0, 4, 4, b'.', b'.', b'.', b'.']),
        Err(CardPulled)
    );
    assert_eq!(c.respond(&[0x00, 0xCA, 0x00, 0x5A, 0x00]), Err(CardPulled));
    assert!(!c.is_present());
    c.insert();
    assert!(c.is_present());
    assert_eq!(c.state().ef_content(0x5015, 0x5031), Some(ODF));
    let reopened = VirtualCard::open(&path).unwrap();
    assert_eq!(reopened.state().ef_content(0x5015, 0x5031), Some(ODF));
    // The session went with the pull: PIN1 must be verified again.
    select_odf(&mut c);
    assert_eq!(sw(&mut c, &Command::update_binary(0, b"x")), 0x6982);
}

// ---- PINs ----------------------------------------------------------------------------------

#[test]
fn wrong_pins_count_down_and_block() {
    let mut c = card();
    assert_eq!(sw(&mut c, &Command::verify(1, None)), 0x63C3);
    assert_eq!(verify(&mut c, 1, b"000000"), 0x63C2);
    assert_eq!(verify(&mut c, 1, b"000000"), 0x63C1);
    assert_eq!(
        sw(&mut c, &Command::verify(1, None)),
        0x63C1,
        "asking costs nothing"
    );
    assert_eq!(verify(&mut c, 1, b"000000"), 0x6983);
    assert_eq!(
        verify(&mut c, 1, PIN1),
        0x6983,
        "blocked even for the right PIN"
    );
    assert_eq!(sw(&mut c, &Command::verify(1, None)), 0x6983);
    assert_eq!(c.state().pin_tries_left(1), Some(0));
    // PIN2 is independent.
    assert_eq!(verify(&mut c, 2, &padded(PIN2)), 0x9000);
    assert_eq!(
        sw(&mut c, &Command::verify(2, None)),
        0x9000,
        "verified in this session"
    );
    assert_eq!(sw(&mut c, &Command::verify(9, None)), 0x6A88);
}

#[test]
fn a_right_pin_restores_the_tries() {
    let mut c = card();
    assert_eq!(verify(&mut c, 1, b"999999"), 0x63C2);
    assert_eq!(verify(&mut c, 1, &padded(PIN1)), 0x9000);
    assert_eq!(c.state().pin_tries_left(1), Some(3));
    // A wrong try after a right one also ends the verified state.
    assert_eq!(verify(&mut c, 1, b"999999"), 0x63C2);
    assert_eq!(sw(&mut c, &Command::verify(1, None)), 0x63C2);
}

#[test]
fn pin_format_errors_spend_no_try() {
    let mut c = card();
    for bad in [&b"12345"[..], b"12a456", b"123456789", b"1234\xFF6"] {
        let s = verify(&mut c, 1, bad);
        assert!(s == 0x6A80 || s == 0x6700, "{s:04X}");
    }
    assert_eq!(c.state().pin_tries_left(1), Some(3));
    // CHANGE with a new PIN that is too short or not digits.
    let data = [padded(PIN1), padded(b"12345")].concat();
    assert_eq!(
        sw(&mut c, &Command::change_reference_data(1, &data)),
        0x6A80
    );
    let data = [padded(PIN1), padded(b"12345x")].concat();
    assert_eq!(
        sw(&mut c, &Command::change_reference_data(1, &data)),
        0x6A80
    );
    // RESET RETRY COUNTER with a malformed new PIN and a wrong PUK: the format is checked first.
    let data = [padded(b"00000000"), padded(b"123")].concat();
    assert_eq!(sw(&mut c, &Command::reset_retry_counter(1, &data)), 0x6A80);
    assert_eq!(c.state().pin_tries_left(1), Some(3));
    assert_eq!(c.state().pin_tries_left(3), Some(10));
    assert_eq!(
        sw(&mut c, &Command::change_reference_data(1, &[0x31; 15])),
        0x6700
    );
}

#[test]
fn change_pin() {
    let mut c = card();
    let data = [padded(b"111111"), padded(b"7654321")].concat();
    assert_eq!(
        sw(&mut c, &Command::change_reference_data(1, &data)),
        0x63C2
    );
    let data = [padded(PIN1), padded(b"7654321")].concat();
    assert_eq!(
        sw(&mut c, &Command::change_reference_data(1, &data)),
        0x9000
    );
    assert_eq!(c.state().pin_tries_left(1), Some(3));
    assert_eq!(verify(&mut c, 1, PIN1), 0x63C2);
    assert_eq!(verify(&mut c, 1, b"7654321"), 0x9000);
    let data = [padded(PUK), padded(b"11112222")].concat();
    assert_eq!(
        sw(&mut c, &Command::change_reference_data(3, &data)),
        0x6985
    );
    assert_eq!(verify(&mut c, 3, PUK), 0x9000, "the PUK did not change");
    assert_eq!(
        raw(&mut c, &[0x00, 0x24, 0x01, 0x01, 8, 1, 2, 3, 4, 5, 6, 7, 8]).1,
        0x6A86
    );
}

#[test]
fn puk_unblocks_a_pin() {
    let mut c = card();
    for _ in 0..3 {
        verify(&mut c, 2, b"000000");
    }
    assert_eq!(verify(&mut c, 2, PIN2), 0x6983);
    let wrong = [padded(b"11111111"), padded(b"135790")].concat();
    assert_eq!(sw(&mut c, &Command::reset_retry_counter(2, &wrong)), 0x63C9);
    let right = [padded(PUK), padded(b"135790")].concat();
    assert_eq!(sw(&mut c, &Command::reset_retry_counter(2, &right)), 0x9000);
    assert_eq!(
        c.state().pin_tries_left(3),
        Some(10),
        "the PUK's tries are back"
    );
    assert_eq!(c.state().pin_tries_left(2), Some(3));
    assert_eq!(
        sw(&mut c, &Command::verify(2, None)),
        0x63C3,
        "not verified by the unblock"
    );
    assert_eq!(verify(&mut c, 2, b"135790"), 0x9000);
    assert_eq!(sw(&mut c, &Command::reset_retry_counter(3, &right)), 0x6985);
    // The new PIN may also come unpadded after the 8-digit PUK.
    let unpadded = [PUK, b"2468013"].concat();
    assert_eq!(
        sw(&mut c, &Command::reset_retry_counter(2, &unpadded)),
        0x9000
    );
    assert_eq!(verify(&mut c, 2, b"2468013"), 0x9000);
    assert_eq!(
        sw(
            &mut c,
            &Command::reset_retry_counter(2, &[PUK, b"12345"].concat())
        ),
        0x6700
    );
    assert_eq!(raw(&mut c, &[0x00, 0x2C, 0x03, 0x01]).1, 0x6A86);
}

#[test]
fn the_tenth_wrong_puk_kills_the_card() {
    let mut c = card();
    let wrong = [padded(b"11111111"), padded(b"135790")].concat();
    for left in (1..10).rev() {
        assert_eq!(
            sw(&mut c, &Command::reset_retry_counter(1, &wrong)),
            0x63C0 | left
        );
    }
    assert!(!c.state().is_dead());
    assert_eq!(sw(&mut c, &Command::reset_retry_counter(1, &wrong)), 0x6983);
    assert!(c.state().is_dead());
    let right = [padded(PUK), padded(b"135790")].concat();
    assert_eq!(sw(&mut c, &Command::reset_retry_counter(1, &right)), 0x6984);
    assert_eq!(verify(&mut c, 3, PUK), 0x6983);
    assert_eq!(verify(&mut c, 1, PIN1), 0x6984);
    assert_eq!(sw(&mut c, &Command::verify(2, None)), 0x6984);
    let change = [padded(PIN1), padded(b"222222")].concat();
    assert_eq!(
        sw(&mut c, &Command::change_reference_data(1, &change)),
        0x6984
    );
    // Still readable, never usable.
    select_odf(&mut c);
    assert_eq!(raw(&mut c, &[0x00, 0xB0, 0x00, 0x00, 0x03]).1, 0x9000);
    assert_eq!(sw(&mut c, &Command::update_binary(0, b"x")), 0x6984);
    assert_eq!(sw(&mut c, &Command::generate_key(3)), 0x6984);
    assert_eq!(sw(&mut c, &Command::compute_signature(&[0; 32])), 0x6984);
    assert_eq!(sw(&mut c, &Command::delete_key(1)), 0x6984);
}

// ---- keys and signatures -------------------------------------------------------------------

fn public_key(card: &mut VirtualCard, slot: u8) -> RsaPublicKey {
    let r = exchange(card, &Command::read_public_key(slot));
    assert_eq!(r.sw, StatusWord::Ok);
    parse_public_key_template(&r.data).expect("a 7F49 template")
}

fn sign(card: &mut VirtualCard, algorithm: u8, slot: u8, hash: &[u8]) -> Response {
    assert_eq!(
        sw(card, &Command::mse_set_signature(algorithm, slot)),
        0x9000
    );
    exchange(card, &Command::compute_signature(hash))
}

#[test]
fn keys_are_generated_used_and_deleted_under_their_pins() {
    let mut c = card();
    let hash: [u8; 32] = Sha256::digest(b"the to-be-signed data").into();

    assert_eq!(sw(&mut c, &Command::generate_key(1)), 0x6982, "needs PIN1");
    assert_eq!(verify(&mut c, 1, PIN1), 0x9000);
    assert_eq!(sw(&mut c, &Command::generate_key(9)), 0x6A86);
    assert_eq!(sw(&mut c, &Command::read_public_key(1)), 0x6A88);
    // The 7F49 answer is longer than 256 bytes: 61xx, then GET RESPONSE.
    let (first, s) = raw(&mut c, &Command::generate_key(1).to_bytes().unwrap());
    assert_eq!((first.len(), s >> 8), (256, 0x61));
    let (rest, s) = raw(&mut c, &[0x00, 0xC0, 0x00, 0x00, (s & 0xFF) as u8]);
    assert_eq!(s, 0x9000);
    let generated = parse_public_key_template(&[first, rest].concat()).unwrap();
    assert_eq!(generated, public_key(&mut c, 1));
    assert_eq!(Some(generated.clone()), c.state().public_key(1));
    assert_eq!(
        sw(&mut c, &Command::generate_key(1)),
        0x6985,
        "occupied: nothing destroyed"
    );
    assert_eq!(Some(generated.clone()), c.state().public_key(1));

    // An answer longer than Le is cut; the rest waits behind 61xx.
    let (part, s) = raw(&mut c, &[0x00, 0x46, 0x81, 0x01, 0x10]);
    assert_eq!((part.len(), s), (16, 0x6100 | (270 - 16)));
    let (more, s) = raw(&mut c, &[0x00, 0xC0, 0x00, 0x00, 0x40]);
    assert_eq!((more.len(), s), (0x40, 0x6100 | (270 - 16 - 0x40)));
    assert_eq!(raw(&mut c, &[0x00, 0xCA, 0x00, 0x5A, 0x00]).1, 0x9000);
    assert_eq!(
        raw(&mut c, &[0x00, 0xC0, 0x00, 0x00, 0x00]).1,
        0x6985,
        "another command ended it"
    );

    // PKCS#1 v1.5 and PSS with the authentication key (PIN1, verified once per session).
    let r = sign(&mut c, layout::ALG_RSA_PKCS1_SHA256, 1, &hash);
    assert_eq!((r.sw, r.data.len()), (StatusWord::Ok, 256));
    generated
        .verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &r.data)
        .expect("PKCS#1 signature verifies");
    let r = sign(&mut c, layout::ALG_RSA_PSS_SHA256, 1, &hash);
    assert_eq!(r.sw, StatusWord::Ok);
    generated
        .verify(Pss::new::<Sha256>(), &hash, &r.data)
        .expect("PSS signature verifies");
    assert!(
        generated
            .verify(Pss::new::<Sha256>(), &[0; 32], &r.data)
            .is_err()
    );

    // A signing key: PIN2 right before each signature.
    assert_eq!(
        sw(&mut c, &Command::generate_key(5)),
        0x610E,
        "256 bytes now, 14 later"
    );
    let signing = public_key(&mut c, 5);
    assert_eq!(
        sign(&mut c, layout::ALG_RSA_PKCS1_SHA256, 5, &hash).sw,
        StatusWord::SecurityStatusNotSatisfied
    );
    assert_eq!(verify(&mut c, 2, PIN2), 0x9000);
    let r = exchange(&mut c, &Command::compute_signature(&hash));
    assert_eq!(r.sw, StatusWord::Ok);
    signing
        .verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &r.data)
        .unwrap();
    let again = exchange(&mut c, &Command::compute_signature(&hash));
    assert_eq!(again.sw, StatusWord::SecurityStatusNotSatisfied);
    assert_eq!(verify(&mut c, 2, PIN2), 0x9000);
    assert_eq!(
        exchange(&mut c, &Command::compute_signature(&hash)).sw,
        StatusWord::Ok
    );

    // Bad inputs.
    assert_eq!(sw(&mut c, &Command::compute_signature(&hash[..31])), 0x6700);
    assert_eq!(sw(&mut c, &Command::mse_set_signature(0x99, 1)), 0x6A80);
    assert_eq!(
        sw(&mut c, &Command::compute_signature(&hash)),
        0x6985,
        "no security environment"
    );
    assert_eq!(
        sw(
            &mut c,
            &Command::mse_set_signature(layout::ALG_RSA_PSS_SHA256, 3)
        ),
        0x6A88
    );
    assert_eq!(
        raw(&mut c, &[0x00, 0x22, 0x41, 0xB6, 3, 0x80, 1, 0x42]).1,
        0x6A80
    );

    // Delete: needs PIN1 in this session.
    c.reset();
    assert_eq!(sw(&mut c, &Command::delete_key(1)), 0x6982);
    assert_eq!(verify(&mut c, 1, PIN1), 0x9000);
    assert_eq!(
        sw(
            &mut c,
            &Command::mse_set_signature(layout::ALG_RSA_PSS_SHA256, 1)
        ),
        0x9000
    );
    assert_eq!(sw(&mut c, &Command::delete_key(1)), 0x9000);
    assert_eq!(sw(&mut c, &Command::delete_key(1)), 0x6A88);
    assert_eq!(sw(&mut c, &Command::compute_signature(&hash)), 0x6985);
    assert_eq!(sw(&mut c, &Command::read_public_key(1)), 0x6A88);
    assert_eq!(c.state().occupied_slots(), vec![5]);
}

// ---- misc commands, session and fault injection --------------------------------------------

#[test]
fn get_data_and_error_words() {
    let mut c = card();
    assert_eq!(
        raw(&mut c, &[0x00, 0xCA, 0x00, 0x5A, 0x00]),
        (b"9752000123".to_vec(), 0x9000)
    );
    assert_eq!(raw(&mut c, &[0x00, 0xCA, 0x00, 0x5A, 0x04]).1, 0x610A - 4);
    assert_eq!(raw(&mut c, &[0x00, 0xCA, 0x01, 0x01, 0x00]).1, 0x6A88);
    assert_eq!(raw(&mut c, &[0x84, 0xB0, 0x00, 0x00, 0x00]).1, 0x6E00);
    assert_eq!(raw(&mut c, &[0x00, 0x12, 0x00, 0x00]).1, 0x6D00);
    assert_eq!(raw(&mut c, &[0x80, 0x12, 0x00, 0x00]).1, 0x6D00);
    assert_eq!(raw(&mut c, &[0x00, 0xA4, 0x00]).1, 0x6700);
    assert_eq!(raw(&mut c, &[0x00, 0xA4, 0x00, 0x0C, 0x05, 0x3F]).1, 0x6700);
    assert_eq!(
        raw(&mut c, &[0x00, 0xC0, 0x00, 0x00, 0x00]).1,
        0x6985,
        "nothing pending"
    );
    assert_eq!(raw(&mut c, &[0x00, 0x20, 0x01, 0x01]).1, 0x6A86);
}

#[test]
fn reset_forgets_the_session_not_the_card() {
    let mut c = card();
    assert_eq!(verify(&mut c, 1, PIN1), 0x9000);
    assert_eq!(verify(&mut c, 2, b"000000"), 0x63C2);
    select_odf(&mut c);
    c.reset();
    assert_eq!(raw(&mut c, &[0x00, 0xB0, 0x00, 0x00, 0x01]).1, 0x6986);
    select_odf(&mut c);
    assert_eq!(sw(&mut c, &Command::update_binary(0, b"x")), 0x6982);
    assert_eq!(c.state().pin_tries_left(2), Some(2));
}

#[test]
fn pull_after_answers_n_commands_then_applies_nothing() {
    let mut c = card();
    c.set_delay(std::time::Duration::from_millis(1));
    let before = c.command_count();
    c.pull_after(2);
    assert_eq!(sw(&mut c, &Command::verify(1, None)), 0x63C3);
    assert_eq!(sw(&mut c, &Command::verify(1, None)), 0x63C3);
    let wrong = Command::verify(1, Some(b"000000")).to_bytes().unwrap();
    assert_eq!(c.respond(&wrong), Err(CardPulled));
    assert_eq!(c.command_count(), before + 2);
    assert_eq!(
        c.state().pin_tries_left(1),
        Some(3),
        "the pulled command was not applied"
    );
    c.insert();
    assert_eq!(c.insertions(), 1);
    assert_eq!(sw(&mut c, &Command::verify(1, None)), 0x63C3);
    assert_eq!(
        sw(&mut c, &Command::verify(1, None)),
        0x63C3,
        "no pull pending after insert"
    );
}

#[test]
fn state_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("card.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    assert!(matches!(
        VirtualCard::open(&path),
        Err(StateError::Missing(_))
    ));
    let mut c = VirtualCard::create(&path, state()).unwrap();
    assert!(matches!(
        VirtualCard::create(&path, state()),
        Err(StateError::AlreadyExists(_))
    ));
    assert_eq!(verify(&mut c, 2, b"000000"), 0x63C2);
    assert_eq!(verify(&mut c, 1, PIN1), 0x9000);
    select_odf(&mut c);
    assert_eq!(sw(&mut c, &Command::update_binary(0, b"saved")), 0x9000);
    drop(c);
    let mut c = VirtualCard::open(&path).unwrap();
    assert_eq!(c.state().pin_tries_left(2), Some(2));
    assert_eq!(
        &c.state().ef_content(0x5015, 0x5031).unwrap()[..5],
        b"saved"
    );
    assert_eq!(verify(&mut c, 1, PIN1), 0x9000, "PIN values survive too");
    assert_eq!(c.path(), Some(path.as_path()));
    let bad = CardState::new("not digits");
    assert!(matches!(
        VirtualCard::create(dir.path().join("bad.json"), bad),
        Err(StateError::Invalid(_))
    ));
}

#[test]
fn a_wrong_pin_counts_even_when_the_card_cannot_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let mut c = VirtualCard::create(&path, state()).unwrap();
    c.fail_saves(true);
    // The wrong code is refused with "memory failure", but the try is spent.
    assert_eq!(verify(&mut c, 1, b"000000"), 0x6581);
    assert_eq!(c.state().pin_tries_left(1), Some(2));
    // No code is compared again while that try is not on disk: not even the right one, so
    // a failing disk cannot be used to guess without limit.
    assert_eq!(verify(&mut c, 1, PIN1), 0x6581);
    assert_eq!(verify(&mut c, 1, b"111111"), 0x6581);
    assert_eq!(
        sw(
            &mut c,
            &Command::reset_retry_counter(1, &[padded(PUK), padded(b"555555")].concat())
        ),
        0x6581
    );
    assert_eq!(c.state().pin_tries_left(1), Some(2));
    assert_eq!(c.state().pin_tries_left(layout::PUK_REF), Some(10));
    // The status query still answers, from the count in memory.
    assert_eq!(sw(&mut c, &Command::verify(1, None)), 0x63C2);
    // Once the disk works again the spent try is saved first, then the card goes on.
    c.fail_saves(false);
    assert_eq!(verify(&mut c, 1, b"000000"), 0x63C1);
    drop(c);
    let mut c = VirtualCard::open(&path).unwrap();
    assert_eq!(c.state().pin_tries_left(1), Some(1));
    assert_eq!(verify(&mut c, 1, PIN1), 0x9000);
}

#[test]
fn keys_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let mut s = state();
    let public = s.generate_key(2).unwrap();
    assert_eq!(s.generate_key(2), Err(BuildError::SlotOccupied(2)));
    VirtualCard::create(&path, s).unwrap();
    let mut c = VirtualCard::open(&path).unwrap();
    assert_eq!(public_key(&mut c, 2), public);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("123456"), "PINs are stored in hex, padded");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x5175);
    let mut c = card();
    let interesting_ins = [
        0xA4, 0xB0, 0xD6, 0x0E, 0x20, 0x24, 0x2C, 0x46, 0x22, 0x2A, 0xC0, 0xCA, 0xE4,
    ];
    for i in 0..30_000 {
        let len = rng.gen_range(0..300);
        let mut apdu: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
        if apdu.len() >= 4 && i % 2 == 0 {
            apdu[0] = [0x00, 0x10, 0x80][rng.gen_range(0..3)];
            apdu[1] = interesting_ins[rng.gen_range(0..interesting_ins.len())];
            if apdu.len() >= 5 && i % 4 == 0 {
                // A consistent Lc so the body reaches the command handlers.
                let lc = (apdu.len() - 5).min(255);
                apdu.truncate(5 + lc);
                apdu[4] = lc as u8;
                if lc == 0 {
                    apdu[4] = rng.r#gen();
                }
            }
        }
        let answer = c.respond(&apdu).expect("present");
        assert!(answer.len() >= 2 && answer.len() <= 258, "{:02X?}", &apdu);
        if i % 1000 == 0 {
            c.reset();
        }
    }
    // Still the same card.
    assert_eq!(c.state().pin_tries_left(3).map(|t| t > 0), Some(true));
    assert_eq!(verify(&mut c, 2, PIN2), 0x9000);
}

// ---- Pace ----------------------------------------------------------------------------------

/// The time `respond_timed` says the card is busy with `cmd` (its answer is not looked at).
fn busy(card: &mut VirtualCard, cmd: &Command) -> (u16, std::time::Duration) {
    let (answer, busy) = card.respond_timed(&cmd.to_bytes().unwrap()).unwrap();
    let sw = u16::from_be_bytes([answer[answer.len() - 2], answer[answer.len() - 1]]);
    (sw, busy)
}

#[test]
fn real_pace_makes_keys_and_signatures_take_a_cards_time() {
    use super::pace::{APDU_OVERHEAD, KEY_GENERATION, SIGNATURE};
    let hash: [u8; 32] = Sha256::digest(b"paced").into();
    let mut c = card();
    assert_eq!(c.pace(), Pace::Fast);
    assert_eq!(
        busy(&mut c, &Command::verify(1, None)).1,
        std::time::Duration::ZERO
    );
    assert_eq!(c.pace_spent(), PaceSpent::default());

    c.set_pace(Pace::Real { seed: 3 });
    let (sw, _) = busy(&mut c, &Command::verify(1, Some(PIN1)));
    assert_eq!(sw, 0x9000);
    let spent = c.pace_spent();
    assert_eq!((spent.apdus, spent.overhead), (1, APDU_OVERHEAD));
    // A refused generation (slot 9 does not exist) makes no key and takes no key's time.
    assert_eq!(busy(&mut c, &Command::generate_key(9)).0, 0x6A86);
    assert_eq!(c.pace_spent().key_generations, 0);
    let before = c.pace_spent().total();
    let (sw, keygen) = busy(&mut c, &Command::generate_key(1));
    assert_eq!(sw >> 8, 0x61);
    let spent = c.pace_spent();
    assert_eq!(spent.key_generations, 1);
    assert!(
        (KEY_GENERATION.0..=KEY_GENERATION.1).contains(&spent.key_generation),
        "{spent:?}"
    );
    // What making the key here took is part of the card's time, not added to it.
    assert!(keygen <= spent.total() - before, "{keygen:?} {spent:?}");
    assert_eq!(
        busy(
            &mut c,
            &Command::mse_set_signature(layout::ALG_RSA_PSS_SHA256, 1)
        )
        .0,
        0x9000
    );
    assert_eq!(busy(&mut c, &Command::compute_signature(&hash)).0, 0x9000);
    let spent = c.pace_spent();
    assert_eq!(spent.signatures, 1);
    assert!(
        (SIGNATURE.0..=SIGNATURE.1).contains(&spent.signing),
        "{spent:?}"
    );

    // The same seed draws the same key generation time again.
    let mut again = card();
    again.set_pace(Pace::Real { seed: 3 });
    busy(&mut again, &Command::verify(1, Some(PIN1)));
    busy(&mut again, &Command::generate_key(1));
    assert_eq!(
        again.pace_spent().key_generation,
        c.pace_spent().key_generation
    );
}
