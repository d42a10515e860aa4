//! Our extensions of the IDPrime dialect (docs/domain.md "Our extensions") through the whole
//! card, as our APDU backend sends them: the PUK, PIN change, unblock and log out, key
//! generation and removal, CREATE and DELETE FILE, chained UPDATE BINARY, the dead card, the
//! state file, and the one-code card.

use rsa::pkcs8::EncodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};

use super::fs::FILE_MEMORY;
use super::personalise::{IdprimeCodes, ONE_CODE, blank_card, issue_legacy, verify_pin1_apdu};
use super::tests::{
    PIN1, PIN2, PSO_SIGN, PUK, SERIAL, blank, codes, get_all, issued, mse, pso_hash, sw, verify,
};
use crate::idprime::extensions::create_file_data;
use crate::idprime::files::{self, CertKind};
use crate::virtual_card::{CardState, VirtualCard};

const MF: u16 = 0x3F00;

/// A command APDU with Lc (when there is data) and no Le.
fn apdu(cla: u8, ins: u8, p1: u8, p2: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![cla, ins, p1, p2];
    if !body.is_empty() {
        out.push(body.len() as u8);
        out.extend_from_slice(body);
    }
    out
}

/// A code as the card wants it: digits padded with `00` to 16 bytes.
fn padded(code: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..code.len()].copy_from_slice(code.as_bytes());
    out
}

fn change(reference: u8, old: &str, new: &str) -> Vec<u8> {
    apdu(
        0x00,
        0x24,
        0x00,
        reference,
        &[padded(old), padded(new)].concat(),
    )
}

fn unblock(reference: u8, puk: &str, new: &str) -> Vec<u8> {
    apdu(
        0x00,
        0x2C,
        0x00,
        reference,
        &[padded(puk), padded(new)].concat(),
    )
}

fn tries(card: &mut VirtualCard, reference: u8) -> u16 {
    sw(&card.respond(&[0x00, 0x20, 0x00, reference]).unwrap())
}

fn send(card: &mut VirtualCard, apdu: &[u8]) -> u16 {
    sw(&card.respond(apdu).unwrap())
}

fn create(fid: u16, capacity: u16) -> Vec<u8> {
    apdu(0x00, 0xE0, 0x00, 0x00, &create_file_data(fid, capacity))
}

fn delete_file(fid: u16) -> Vec<u8> {
    apdu(0x00, 0xE4, 0x00, 0x00, &fid.to_be_bytes())
}

fn select(fid: u16) -> Vec<u8> {
    apdu(0x00, 0xA4, 0x00, 0x0C, &fid.to_be_bytes())
}

fn update(cla: u8, offset: u16, bytes: &[u8]) -> Vec<u8> {
    let [p1, p2] = offset.to_be_bytes();
    apdu(cla, 0xD6, p1, p2, bytes)
}

const GENERATE_58: [u8; 5] = [0x00, 0x46, 0x80, 0x58, 0x00];
const READ_KEY_58: [u8; 5] = [0x00, 0x46, 0x81, 0x58, 0x00];
const DELETE_KEY_58: [u8; 4] = [0x80, 0xE4, 0x00, 0x58];

fn content(card: &VirtualCard, fid: u16) -> Option<Vec<u8>> {
    card.state().ef_content(MF, fid).map(<[u8]>::to_vec)
}

/// A whole file read as OpenSC reads it: SELECT, then READ BINARY until the card has no more.
fn read_file(card: &mut VirtualCard, fid: u16) -> Vec<u8> {
    assert_eq!(send(card, &select(fid)), 0x9000);
    let mut out = Vec::new();
    loop {
        let [p1, p2] = (out.len() as u16).to_be_bytes();
        let answer = card.respond(&[0x00, 0xB0, p1, p2, 0x00]).unwrap();
        let (bytes, status) = (&answer[..answer.len() - 2], sw(&answer));
        assert!(status == 0x9000 || status == 0x6282, "{status:04X}");
        out.extend_from_slice(bytes);
        if bytes.is_empty() || status == 0x6282 {
            return out;
        }
    }
}

fn logged_in(card: &mut VirtualCard) {
    assert_eq!(send(card, &verify_pin1_apdu(PIN1)), 0x9000);
}

#[test]
fn the_puk_verifies_with_ten_tries_and_malformed_ones_cost_nothing() {
    let mut card = blank();
    assert_eq!(tries(&mut card, 0x85), 0x63CA);
    assert_eq!(send(&mut card, &verify(0x85, b"87654321")), 0x63C9);
    // Seven digits, FF padding, or not 16 bytes: refused before any comparison.
    assert_eq!(send(&mut card, &verify(0x85, b"1357246")), 0x6A80);
    let ff = [&b"13572468"[..], &[0xFF; 8]].concat();
    assert_eq!(send(&mut card, &apdu(0, 0x20, 0, 0x85, &ff)), 0x6A80);
    assert_eq!(
        send(&mut card, &apdu(0, 0x20, 0, 0x85, PUK.as_bytes())),
        0x6700
    );
    assert_eq!(card.state().pin_tries_left(0x85), Some(9));
    assert_eq!(send(&mut card, &verify(0x85, PUK.as_bytes())), 0x9000);
    assert_eq!(tries(&mut card, 0x85), 0x9000, "verified in this session");
    assert_eq!(card.state().pin_tries_left(0x85), Some(10));
}

#[test]
fn a_pin_changes_with_its_old_code_and_a_wrong_one_is_counted() {
    let mut card = blank();
    // A wrong old PIN spends a try.
    assert_eq!(send(&mut card, &change(0x11, "999999", "11223344")), 0x63C2);
    assert_eq!(card.state().pin_tries_left(0x11), Some(2));
    // Malformed: a new PIN of 5 or 9 digits, FF padding, 16 bytes instead of 32: no try.
    for bad in [
        change(0x11, PIN1, "12345"),
        apdu(
            0,
            0x24,
            0,
            0x11,
            &[padded(PIN1), padded("123456789")].concat(),
        ),
        apdu(
            0,
            0x24,
            0,
            0x11,
            &[&padded(PIN1)[..], b"112233\xFF\xFF", &[0; 8]].concat(),
        ),
    ] {
        assert_eq!(send(&mut card, &bad), 0x6A80);
    }
    assert_eq!(
        send(&mut card, &apdu(0, 0x24, 0, 0x11, &padded(PIN1))),
        0x6700
    );
    assert_eq!(card.state().pin_tries_left(0x11), Some(2));
    // The right old PIN: changed, tries restored, and the PIN counts as verified.
    assert_eq!(send(&mut card, &change(0x11, PIN1, "11223344")), 0x9000);
    assert_eq!(card.state().pin_tries_left(0x11), Some(3));
    assert_eq!(tries(&mut card, 0x11), 0x9000);
    card.reset();
    assert_eq!(send(&mut card, &verify(0x11, PIN1.as_bytes())), 0x63C2);
    assert_eq!(send(&mut card, &verify(0x11, b"11223344")), 0x9000);
    // PIN2 changes alike; the PUK cannot be changed, and trying costs nothing.
    assert_eq!(send(&mut card, &change(0x83, PIN2, "445566")), 0x9000);
    assert_eq!(send(&mut card, &verify(0x83, b"445566")), 0x9000);
    assert_eq!(send(&mut card, &change(0x85, PUK, "24681357")), 0x6985);
    assert_eq!(card.state().pin_tries_left(0x85), Some(10));
    // Three wrong old PINs block it.
    for expected in [0x63C2, 0x63C1, 0x6983] {
        assert_eq!(send(&mut card, &change(0x83, "000000", "111111")), expected);
    }
    assert_eq!(send(&mut card, &change(0x83, "445566", "111111")), 0x6983);
}

#[test]
fn the_puk_unblocks_a_pin_and_a_wrong_puk_counts_the_puks_tries() {
    let mut card = blank();
    for _ in 0..3 {
        card.respond(&verify(0x11, b"000000")).unwrap();
    }
    assert_eq!(tries(&mut card, 0x11), 0x6983);
    assert_eq!(
        send(&mut card, &unblock(0x11, "87654321", "123123")),
        0x63C9
    );
    assert_eq!(card.state().pin_tries_left(0x85), Some(9));
    assert_eq!(card.state().pin_tries_left(0x11), Some(0));
    // A new PIN that breaks the rules costs no PUK try; nor does a malformed PUK.
    assert_eq!(send(&mut card, &unblock(0x11, PUK, "12345")), 0x6A80);
    assert_eq!(send(&mut card, &unblock(0x11, "1357246", "123123")), 0x6A80);
    assert_eq!(card.state().pin_tries_left(0x85), Some(9));
    // The PUK cannot unblock itself.
    assert_eq!(send(&mut card, &unblock(0x85, PUK, "24681357")), 0x6985);
    assert_eq!(send(&mut card, &unblock(0x11, PUK, "123123")), 0x9000);
    assert_eq!(card.state().pin_tries_left(0x85), Some(10));
    assert_eq!(tries(&mut card, 0x11), 0x63C3, "unblocked, not verified");
    assert_eq!(send(&mut card, &verify(0x11, PIN1.as_bytes())), 0x63C2);
    assert_eq!(send(&mut card, &verify(0x11, b"123123")), 0x9000);
    // PIN2 is unblocked by the same PUK.
    assert_eq!(send(&mut card, &unblock(0x83, PUK, "654321")), 0x9000);
    assert_eq!(send(&mut card, &verify(0x83, b"654321")), 0x9000);
}

#[test]
fn verify_ff_logs_out_and_writes_need_pin1_again() {
    let mut card = blank();
    logged_in(&mut card);
    assert_eq!(send(&mut card, &create(0x0213, 10)), 0x9000);
    assert_eq!(send(&mut card, &[0x00, 0x20, 0xFF, 0x11]), 0x9000);
    assert_eq!(tries(&mut card, 0x11), 0x63C3);
    assert_eq!(send(&mut card, &create(0x0214, 10)), 0x6982);
    assert_eq!(send(&mut card, &[0x00, 0x20, 0xFF, 0x01]), 0x6A88);
    assert_eq!(card.state().pin_tries_left(0x11), Some(3), "no try spent");
}

#[test]
fn every_write_needs_pin1_and_reading_does_not() {
    let (mut card, keys) = issued();
    // PIN2 is not enough.
    assert_eq!(send(&mut card, &verify(0x83, PIN2.as_bytes())), 0x9000);
    assert_eq!(send(&mut card, &select(files::FID_INDEX)), 0x9000);
    assert_eq!(send(&mut card, &update(0x00, 0, &[9])), 0x6982);
    assert_eq!(send(&mut card, &update(0x10, 0, &[9])), 0x6982);
    assert_eq!(send(&mut card, &create(0x0213, 10)), 0x6982);
    assert_eq!(send(&mut card, &delete_file(0x0211)), 0x6982);
    assert_eq!(send(&mut card, &GENERATE_58), 0x6982);
    assert_eq!(send(&mut card, &[0x80, 0xE4, 0x00, 0x56]), 0x6982);
    assert_eq!(content(&card, files::FID_INDEX).unwrap()[0], 5);
    assert!(content(&card, 0x0211).is_some());
    assert_eq!(card.state().occupied_slots(), vec![1, 5]);
    // Reading: the certificate file and the public key.
    assert_eq!(
        read_file(&mut card, 0x0210),
        content(&card, 0x0210).unwrap()
    );
    let (template, status) = get_all(&mut card, &[0x00, 0x46, 0x81, 0x56, 0x00]);
    assert_eq!(status, 0x9000);
    let public = crate::virtual_card::keys::parse_public_key_template(&template).unwrap();
    assert_eq!(public, keys[0]);
}

#[test]
fn keys_are_made_read_and_deleted_in_our_slots() {
    let (mut card, keys) = issued();
    // The legacy pair: kxc00 in slot 1, ksc01 in slot 5, as on the PKCS#15 layout.
    assert_eq!(card.state().occupied_slots(), vec![1, 5]);
    assert_eq!(card.state().public_key(5).as_ref(), Some(&keys[1]));
    assert_eq!(
        send(&mut card, &READ_KEY_58),
        0x6A88,
        "container 2 holds none"
    );
    logged_in(&mut card);
    assert_eq!(send(&mut card, &[0x00, 0x46, 0x00, 0x58, 0x00]), 0x6A86);
    assert_eq!(send(&mut card, &[0x00, 0x46, 0x80, 0x5E, 0x00]), 0x6A88);
    let (made, status) = get_all(&mut card, &GENERATE_58);
    assert_eq!(status, 0x9000);
    assert_eq!(&made[..2], &[0x7F, 0x49]);
    // Container 2 (kxc02, HSA-id authentication) is slot 2.
    assert_eq!(card.state().occupied_slots(), vec![1, 2, 5]);
    assert_eq!(get_all(&mut card, &READ_KEY_58), (made.clone(), 0x9000));
    assert_eq!(
        send(&mut card, &GENERATE_58),
        0x6985,
        "occupied: never replaced"
    );
    assert_eq!(get_all(&mut card, &READ_KEY_58), (made, 0x9000));
    // Container 3 (ksc03) is slot 6.
    assert_eq!(
        get_all(&mut card, &[0x00, 0x46, 0x80, 0x59, 0x00]).1,
        0x9000
    );
    assert_eq!(card.state().occupied_slots(), vec![1, 2, 5, 6]);
    assert_eq!(send(&mut card, &DELETE_KEY_58), 0x9000);
    assert_eq!(card.state().occupied_slots(), vec![1, 5, 6]);
    assert_eq!(send(&mut card, &DELETE_KEY_58), 0x6A88);
    assert_eq!(send(&mut card, &READ_KEY_58), 0x6A88);
    assert_eq!(send(&mut card, &mse(0x42, 0x58)), 0x6A88);
}

#[test]
fn a_deleted_key_cannot_sign_even_with_its_environment_set() {
    let (mut card, _) = issued();
    logged_in(&mut card);
    assert_eq!(send(&mut card, &mse(0x42, 0x56)), 0x9000);
    assert_eq!(send(&mut card, &pso_hash(&[5; 32])), 0x9000);
    assert_eq!(send(&mut card, &[0x80, 0xE4, 0x00, 0x56]), 0x9000);
    assert_ne!(sw(&card.respond(&PSO_SIGN).unwrap()), 0x9000);
    assert_eq!(card.state().occupied_slots(), vec![5]);
}

#[test]
fn files_are_created_and_deleted_and_the_applets_own_stay() {
    let mut card = blank();
    // Personalisation makes no certificate file: CREATE FILE does.
    assert_eq!(send(&mut card, &select(0x0210)), 0x6A82);
    logged_in(&mut card);
    assert_eq!(send(&mut card, &create(0x0213, 0x0640)), 0x9000);
    let ef = card.state().df(MF).unwrap().ef(0x0213).unwrap();
    assert_eq!((ef.content.len(), ef.capacity), (0, 0x0640));
    let (fcp, status) = get_all(&mut card, &apdu(0, 0xA4, 0, 0, &[0x02, 0x13]));
    assert_eq!(status, 0x9000);
    assert_eq!(&fcp[2..6], &[0x80, 0x02, 0x00, 0x00], "empty until written");
    assert_eq!(send(&mut card, &create(0x0213, 10)), 0x6A89);
    assert_eq!(send(&mut card, &create(files::FID_INDEX, 10)), 0x6A89);
    // Not the one form: a DF, a short FCP, other P1 P2.
    let mut df = create_file_data(0x0214, 10);
    df[8] = 0x38;
    assert_eq!(send(&mut card, &apdu(0, 0xE0, 0, 0, &df)), 0x6A80);
    assert_eq!(send(&mut card, &apdu(0, 0xE0, 0, 0, &df[..12])), 0x6A80);
    assert_eq!(
        send(
            &mut card,
            &apdu(0, 0xE0, 1, 0, &create_file_data(0x0214, 10))
        ),
        0x6A86
    );
    assert!(content(&card, 0x0214).is_none());
    // The applet's own files cannot be deleted; a missing one is not found.
    for own in [0x0101, 0x0201, 0x0204, 0x0005, 0x0206] {
        assert_eq!(send(&mut card, &delete_file(own)), 0x6985, "{own:04X}");
        assert!(content(&card, own).is_some());
    }
    assert_eq!(send(&mut card, &delete_file(0x0215)), 0x6A82);
    assert_eq!(send(&mut card, &apdu(0, 0xE4, 0, 0, &[0x02])), 0x6700);
    assert_eq!(send(&mut card, &delete_file(0x0213)), 0x9000);
    assert_eq!(send(&mut card, &select(0x0213)), 0x6A82);
    assert_eq!(send(&mut card, &delete_file(0x0213)), 0x6A82);
}

#[test]
fn a_full_card_refuses_a_file_and_deleting_one_makes_room() {
    let (mut card, _) = issued();
    logged_in(&mut card);
    let free = FILE_MEMORY - card.state().file_memory_used();
    let free = u16::try_from(free).unwrap();
    assert_eq!(send(&mut card, &create(0x0212, u16::MAX)), 0x6A84);
    assert_eq!(send(&mut card, &create(0x0212, free - 100)), 0x9000);
    assert_eq!(send(&mut card, &create(0x0213, 101)), 0x6A84);
    assert!(content(&card, 0x0213).is_none());
    assert_eq!(send(&mut card, &create(0x0213, 100)), 0x9000);
    assert_eq!(send(&mut card, &create(0x0214, 1)), 0x6A84);
    assert_eq!(send(&mut card, &delete_file(0x0213)), 0x9000);
    assert_eq!(send(&mut card, &create(0x0214, 100)), 0x9000);
}

#[test]
fn a_chained_update_is_applied_only_when_its_last_link_arrives() {
    let mut card = blank();
    logged_in(&mut card);
    assert_eq!(send(&mut card, &create(0x0213, 600)), 0x9000);
    let first = vec![0x11; 250];
    let second = vec![0x22; 250];
    let last = vec![0x33; 50];
    assert_eq!(send(&mut card, &update(0x10, 0, &first)), 0x9000);
    assert_eq!(
        content(&card, 0x0213),
        Some(vec![]),
        "nothing before the last link"
    );
    assert_eq!(send(&mut card, &update(0x10, 0, &second)), 0x9000);
    assert_eq!(content(&card, 0x0213), Some(vec![]));
    assert_eq!(send(&mut card, &update(0x00, 0, &last)), 0x9000);
    assert_eq!(
        content(&card, 0x0213),
        Some([first.clone(), second.clone(), last.clone()].concat())
    );
    // The index rewritten from offset 0 in one chain, as removing pairs does.
    assert_eq!(send(&mut card, &select(files::FID_INDEX)), 0x9000);
    let index = content(&card, files::FID_INDEX).unwrap();
    let mut shorter = index.clone();
    shorter[0] = 2;
    shorter[1 + 2 * 21..].fill(0);
    assert_eq!(send(&mut card, &update(0x10, 0, &shorter[..40])), 0x9000);
    assert_eq!(content(&card, files::FID_INDEX), Some(index.clone()));
    assert_eq!(send(&mut card, &update(0x00, 0, &shorter[40..])), 0x9000);
    assert_eq!(content(&card, files::FID_INDEX), Some(shorter));
}

#[test]
fn an_interrupted_or_overflowing_chain_is_discarded() {
    let mut card = blank();
    logged_in(&mut card);
    assert_eq!(send(&mut card, &create(0x0213, 300)), 0x9000);
    // Another command between the links: the chain so far is forgotten, the last link
    // alone is written.
    assert_eq!(send(&mut card, &update(0x10, 0, &[0xAA; 200])), 0x9000);
    assert_eq!(tries(&mut card, 0x11), 0x9000);
    assert_eq!(send(&mut card, &update(0x00, 0, &[0xBB; 10])), 0x9000);
    assert_eq!(content(&card, 0x0213), Some(vec![0xBB; 10]));
    // A reset between links: the same.
    assert_eq!(send(&mut card, &update(0x10, 0, &[0xCC; 200])), 0x9000);
    card.reset();
    logged_in(&mut card);
    assert_eq!(send(&mut card, &select(0x0213)), 0x9000);
    assert_eq!(send(&mut card, &update(0x00, 5, &[0xDD; 5])), 0x9000);
    assert_eq!(
        content(&card, 0x0213),
        Some([vec![0xBB; 5], vec![0xDD; 5]].concat())
    );
    // A link past the capacity: refused there, nothing written, the chain gone.
    assert_eq!(send(&mut card, &update(0x10, 0, &[0xEE; 200])), 0x9000);
    assert_eq!(send(&mut card, &update(0x10, 0, &[0xEE; 200])), 0x6A84);
    assert_eq!(send(&mut card, &update(0x00, 0, &[0xEF; 1])), 0x9000);
    assert_eq!(
        content(&card, 0x0213),
        Some([vec![0xEF], vec![0xBB; 4], vec![0xDD; 5]].concat())
    );
    // Only UPDATE BINARY chains: a chained VERIFY is refused and costs no try.
    let mut chained_verify = verify(0x11, b"000000");
    chained_verify[0] = 0x10;
    assert_eq!(send(&mut card, &chained_verify), 0x6884);
    assert_eq!(card.state().pin_tries_left(0x11), Some(3));
}

/// Spend all ten PUK tries.
fn kill(card: &mut VirtualCard) {
    for left in (0..10u16).rev() {
        let expected = if left == 0 { 0x6983 } else { 0x63C0 | left };
        assert_eq!(send(card, &verify(0x85, b"87654321")), expected);
    }
}

#[test]
fn at_no_puk_tries_the_card_is_dead_but_its_certificates_still_read() {
    let (mut card, keys) = issued();
    logged_in(&mut card);
    kill(&mut card);
    assert!(card.state().is_dead());
    // PIN commands 6984, the PUK's 6983, whatever the code.
    assert_eq!(tries(&mut card, 0x11), 0x6984);
    assert_eq!(send(&mut card, &verify(0x11, PIN1.as_bytes())), 0x6984);
    assert_eq!(send(&mut card, &verify(0x11, b"1")), 0x6984);
    assert_eq!(send(&mut card, &change(0x11, PIN1, "123123")), 0x6984);
    assert_eq!(send(&mut card, &unblock(0x83, PUK, "123123")), 0x6984);
    assert_eq!(tries(&mut card, 0x85), 0x6983);
    assert_eq!(send(&mut card, &verify(0x85, PUK.as_bytes())), 0x6983);
    assert_eq!(send(&mut card, &change(0x85, PUK, "12341234")), 0x6983);
    // No signature, though PIN1 was verified before; no write.
    assert_eq!(send(&mut card, &mse(0x42, 0x56)), 0x9000);
    assert_eq!(send(&mut card, &pso_hash(&[1; 32])), 0x9000);
    assert_eq!(send(&mut card, &PSO_SIGN), 0x6984);
    assert_eq!(send(&mut card, &select(files::FID_INDEX)), 0x9000);
    assert_eq!(send(&mut card, &update(0x00, 0, &[0])), 0x6984);
    assert_eq!(send(&mut card, &create(0x0213, 10)), 0x6984);
    assert_eq!(send(&mut card, &delete_file(0x0211)), 0x6984);
    assert_eq!(send(&mut card, &GENERATE_58), 0x6984);
    assert_eq!(send(&mut card, &[0x80, 0xE4, 0x00, 0x56]), 0x6984);
    assert_eq!(card.state().occupied_slots(), vec![1, 5]);
    // The certificates and public keys still read.
    let der = files::decompress_cert(&read_file(&mut card, 0x0210)).unwrap();
    assert_eq!(der, keys[0].to_public_key_der().unwrap().as_bytes());
    assert_eq!(
        get_all(&mut card, &[0x00, 0x46, 0x81, 0x57, 0x00]).1,
        0x9000
    );
}

#[test]
fn what_the_extensions_change_survives_a_reload_from_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let state = blank_card(SERIAL, "SITHS e-id kort", &codes()).unwrap();
    let mut card = VirtualCard::create(&path, state).unwrap();
    logged_in(&mut card);
    assert_eq!(send(&mut card, &change(0x11, PIN1, "77889900")), 0x9000);
    assert_eq!(send(&mut card, &verify(0x85, b"87654321")), 0x63C9);
    assert_eq!(send(&mut card, &create(0x0213, 400)), 0x9000);
    assert_eq!(send(&mut card, &update(0x10, 0, &[0x44; 255])), 0x9000);
    assert_eq!(send(&mut card, &update(0x00, 0, &[0x55; 45])), 0x9000);
    let (made, status) = get_all(&mut card, &GENERATE_58);
    assert_eq!(status, 0x9000);
    assert_eq!(send(&mut card, &create(0x0214, 10)), 0x9000);
    assert_eq!(send(&mut card, &delete_file(0x0214)), 0x9000);
    // A chain left open is never saved.
    assert_eq!(send(&mut card, &select(files::FID_TINFO)), 0x9000);
    assert_eq!(send(&mut card, &update(0x10, 0, &[0x66; 5])), 0x9000);
    drop(card);

    let mut card = VirtualCard::open(&path).unwrap();
    assert_eq!(card.state().pin_tries_left(0x85), Some(9));
    assert_eq!(send(&mut card, &verify(0x11, PIN1.as_bytes())), 0x63C2);
    assert_eq!(send(&mut card, &verify(0x11, b"77889900")), 0x9000);
    assert_eq!(
        content(&card, 0x0213),
        Some([vec![0x44; 255], vec![0x55; 45]].concat())
    );
    assert!(content(&card, 0x0214).is_none());
    assert_eq!(content(&card, files::FID_TINFO).unwrap()[0], 0x01);
    assert_eq!(get_all(&mut card, &READ_KEY_58), (made, 0x9000));
    assert_eq!(CardState::load(&path).unwrap().occupied_slots(), vec![2]);
}

#[test]
fn a_wrong_puk_or_old_pin_counts_even_when_the_disk_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let state = blank_card(SERIAL, "SITHS e-id kort", &codes()).unwrap();
    let mut card = VirtualCard::create(&path, state).unwrap();
    card.fail_saves(true);
    assert_eq!(
        send(&mut card, &unblock(0x11, "87654321", "123123")),
        0x6581
    );
    assert_eq!(
        card.state().pin_tries_left(0x85),
        Some(9),
        "counted in memory"
    );
    // No code is compared until that count is on disk: not the PUK, not an old PIN.
    assert_eq!(send(&mut card, &unblock(0x11, PUK, "123123")), 0x6581);
    assert_eq!(send(&mut card, &change(0x11, "999999", "123123")), 0x6581);
    assert_eq!(card.state().pin_tries_left(0x11), Some(3));
    card.fail_saves(false);
    assert_eq!(send(&mut card, &change(0x11, "999999", "123123")), 0x63C2);
    let saved = CardState::load(&path).unwrap();
    assert_eq!(saved.pin_tries_left(0x85), Some(9));
    assert_eq!(saved.pin_tries_left(0x11), Some(2));
}

/// A one-code card with its one certificate, the public key it carries.
fn one_code_card() -> (VirtualCard, RsaPublicKey) {
    let codes = IdprimeCodes {
        pin1: PIN1,
        pin2: None,
        puk: PUK,
    };
    let mut card = VirtualCard::new(blank_card(SERIAL, "SITHS e-id kort", &codes).unwrap());
    let mut keys = Vec::new();
    let mut send = |apdu: &[u8]| card.respond(apdu).unwrap();
    let mut certify = |kind: CertKind, public: &RsaPublicKey| {
        assert_eq!(kind, CertKind::KeyExchange);
        keys.push(public.clone());
        Ok(public.to_public_key_der().unwrap().as_bytes().to_vec())
    };
    issue_legacy(&mut send, PIN1, &ONE_CODE, &mut certify).unwrap();
    card.reset();
    (card, keys.remove(0))
}

#[test]
fn a_one_code_card_has_no_pin2_and_only_the_authentication_certificate() {
    let (mut card, key) = one_code_card();
    assert_eq!(tries(&mut card, 0x83), 0x6A88);
    assert_eq!(send(&mut card, &verify(0x83, PIN1.as_bytes())), 0x6A88);
    assert_eq!(send(&mut card, &change(0x83, PIN1, "123123")), 0x6A88);
    assert_eq!(card.state().occupied_slots(), vec![1]);
    let index = content(&card, files::FID_INDEX).unwrap();
    assert_eq!(index[0], 4, "cardid, cmapfile, tinfo and kxc00");
    assert_eq!(&index[1 + 3 * 21 + 4..1 + 3 * 21 + 9], b"kxc00");
    assert_eq!(
        content(&card, files::FID_KEYREFS).unwrap(),
        [1, 0x56, 0, 0, 0, 0, 0, 1]
    );
    assert!(content(&card, 0x0211).is_none());
    assert_eq!(send(&mut card, &mse(0x42, 0x57)), 0x6A88);
    // The one code signs with the authentication key.
    logged_in(&mut card);
    let hash = Sha256::digest(b"one code");
    assert_eq!(send(&mut card, &mse(0x42, 0x56)), 0x9000);
    assert_eq!(send(&mut card, &pso_hash(&hash)), 0x9000);
    let (signature, status) = get_all(&mut card, &PSO_SIGN);
    assert_eq!(status, 0x9000);
    assert!(
        key.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &signature)
            .is_ok()
    );
    // Its PUK unblocks the one PIN.
    card.reset();
    for _ in 0..3 {
        card.respond(&verify(0x11, b"000000")).unwrap();
    }
    assert_eq!(send(&mut card, &unblock(0x11, PUK, "246246")), 0x9000);
    assert_eq!(send(&mut card, &verify(0x11, b"246246")), 0x9000);
}
