//! The IDPrime dialect command by command, through the whole card (engine and card OS), as
//! OpenSC's idprime driver sends it.

use rsa::pkcs8::EncodePublicKey;
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Digest, Sha256};

use super::personalise::{IdprimeCodes, LEGACY_PAIR, blank_card, issue_legacy, verify_pin1_apdu};
use crate::idprime::files::{self, CertKind};
use crate::virtual_card::{CardState, Layout, VirtualCard};

pub(super) const PIN1: &str = "135790";
pub(super) const PIN2: &str = "246802";
pub(super) const PUK: &str = "13572468";
pub(super) const SERIAL: &str = "9752269000001001";

pub(super) fn codes() -> IdprimeCodes<'static> {
    IdprimeCodes {
        pin1: PIN1,
        pin2: Some(PIN2),
        puk: PUK,
    }
}

pub(super) fn sw(answer: &[u8]) -> u16 {
    let n = answer.len();
    u16::from_be_bytes([answer[n - 2], answer[n - 1]])
}

pub(super) fn data(answer: &[u8]) -> &[u8] {
    &answer[..answer.len() - 2]
}

pub(super) fn blank() -> VirtualCard {
    VirtualCard::new(blank_card(SERIAL, "SITHS e-id kort", &codes()).unwrap())
}

/// A card with the legacy pair, its certificates fake DER carrying the public key.
pub(super) fn issued() -> (VirtualCard, Vec<RsaPublicKey>) {
    let mut card = blank();
    let mut keys = Vec::new();
    let mut send = |apdu: &[u8]| card.respond(apdu).unwrap();
    let mut certify = |_: CertKind, public: &RsaPublicKey| {
        keys.push(public.clone());
        Ok(public.to_public_key_der().unwrap().as_bytes().to_vec())
    };
    issue_legacy(&mut send, PIN1, &LEGACY_PAIR, &mut certify).unwrap();
    card.reset();
    (card, keys)
}

/// PIN `code` padded with 00 to 16 bytes, as OpenSC sends it to an OSv4 card.
pub(super) fn verify(reference: u8, code: &[u8]) -> Vec<u8> {
    let mut apdu = vec![0x00, 0x20, 0x00, reference, 0x10];
    let mut padded = [0u8; 16];
    padded[..code.len()].copy_from_slice(code);
    apdu.extend_from_slice(&padded);
    apdu
}

pub(super) fn get_all(card: &mut VirtualCard, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut answer = card.respond(apdu).unwrap();
    let mut out = Vec::new();
    while sw(&answer) >> 8 == 0x61 {
        out.extend_from_slice(data(&answer));
        answer = card
            .respond(&[0x00, 0xC0, 0x00, 0x00, answer[answer.len() - 1]])
            .unwrap();
    }
    out.extend_from_slice(data(&answer));
    (out, sw(&answer))
}

#[test]
fn a_blank_card_has_the_940_atr_and_answers_the_applet_and_cplc() {
    let mut card = blank();
    assert_eq!(card.state().layout(), Layout::Idprime);
    assert_eq!(card.atr(), files::ATR_940);
    let mut select = vec![0x00, 0xA4, 0x04, 0x0C, 0x0B];
    select.extend_from_slice(&files::AID);
    assert_eq!(sw(&card.respond(&select).unwrap()), 0x9000);
    let cplc = card.respond(&[0x00, 0xCA, 0x9F, 0x7F, 0x2D]).unwrap();
    assert_eq!(sw(&cplc), 0x9000);
    assert_eq!(data(&cplc).len(), 45);
    assert_eq!(data(&cplc)[11], 0x04, "OS release level: OSv4");
}

#[test]
fn the_pkcs15_probes_find_nothing() {
    let mut card = blank();
    for probe in [
        &[0x00, 0xA4, 0x08, 0x00, 0x02, 0x2F, 0x00][..],
        &[0x00, 0xA4, 0x00, 0x00, 0x02, 0x50, 0x15],
        &[0x00, 0xA4, 0x08, 0x00, 0x04, 0x50, 0x15, 0x50, 0x31],
        &[
            0x00, 0xA4, 0x08, 0x00, 0x06, 0x3F, 0x00, 0x50, 0x15, 0x50, 0x31,
        ],
        // The PKCS#15 application by its AID.
        &[
            0x00, 0xA4, 0x04, 0x00, 0x0C, 0xA0, 0x00, 0x00, 0x00, 0x63, 0x50, 0x4B, 0x43, 0x53,
            0x2D, 0x31, 0x35,
        ],
    ] {
        assert_eq!(sw(&card.respond(probe).unwrap()), 0x6A82, "{probe:02X?}");
    }
}

#[test]
fn files_are_selected_by_fid_and_path_with_their_size_in_tag_80() {
    let (mut card, _) = issued();
    for select in [
        [0x00, 0xA4, 0x00, 0x00, 0x02, 0x01, 0x01],
        [0x00, 0xA4, 0x08, 0x00, 0x02, 0x01, 0x01],
    ] {
        let (fcp, status) = get_all(&mut card, &select);
        assert_eq!(status, 0x9000);
        assert_eq!(&fcp[..4], &[0x62, fcp.len() as u8 - 2, 0x80, 0x02]);
        let size = usize::from(u16::from_be_bytes([fcp[4], fcp[5]]));
        let index = card.state().ef_content(0x3F00, 0x0101).unwrap().to_vec();
        assert_eq!(size, index.len());
        // cardid, cmapfile, tinfo, then the two certificates, committed.
        assert_eq!(index[0], 5);
        assert_eq!(size, 1 + 5 * files::INDEX_RECORD_LEN);
        let (read, status) = get_all(&mut card, &[0x00, 0xB0, 0x00, 0x00, size as u8]);
        assert_eq!(status, 0x9000);
        assert_eq!(read, index);
        let kxc = &index[1 + 3 * 21..1 + 4 * 21];
        assert_eq!(&kxc[4..9], b"kxc00");
        assert_eq!(&kxc[12..16], b"mscp");
        let ksc = &index[1 + 4 * 21..];
        assert_eq!(&ksc[4..9], b"ksc01");
    }
    let cert = card.state().ef_content(0x3F00, 0x0210).unwrap();
    assert_eq!(&cert[..2], &[0x01, 0x00], "a compressed certificate file");
    let keyrefs = card.state().ef_content(0x3F00, 0x0005).unwrap();
    assert_eq!(
        keyrefs,
        [1, 0x56, 0, 0, 0, 0, 0, 1, 1, 0x57, 1, 0, 0, 0, 0, 2]
    );
    assert_eq!(
        card.state().ef_content(0x3F00, 0x0204).unwrap().len(),
        2 * files::CMAP_RECORD_LEN
    );
    assert_eq!(
        sw(&card
            .respond(&[0x00, 0xA4, 0x00, 0x00, 0x02, 0x01, 0x99])
            .unwrap()),
        0x6A82
    );
}

#[test]
fn pins_are_16_bytes_padded_with_zero_and_counted() {
    let mut card = blank();
    let status = |card: &mut VirtualCard| sw(&card.respond(&[0x00, 0x20, 0x00, 0x11]).unwrap());
    assert_eq!(status(&mut card), 0x63C3);
    // Unpadded, FF-padded or too long: refused as malformed, no try spent.
    for malformed in [
        [&[0x00, 0x20, 0x00, 0x11, 0x06][..], PIN1.as_bytes()].concat(),
        [
            &[0x00, 0x20, 0x00, 0x11, 0x10][..],
            PIN1.as_bytes(),
            &[0xFF; 10],
        ]
        .concat(),
        [&[0x00, 0x20, 0x00, 0x11, 0x10][..], b"13579\x000", &[0; 9]].concat(),
    ] {
        assert_ne!(sw(&card.respond(&malformed).unwrap()), 0x9000);
    }
    assert_eq!(status(&mut card), 0x63C3);
    assert_eq!(sw(&card.respond(&verify(0x11, b"999999")).unwrap()), 0x63C2);
    assert_eq!(card.state().pin_tries_left(0x11), Some(2));
    assert_eq!(status(&mut card), 0x63C2);
    assert_eq!(sw(&card.respond(&verify_pin1_apdu(PIN1)).unwrap()), 0x9000);
    assert_eq!(status(&mut card), 0x9000);
    assert_eq!(card.state().pin_tries_left(0x11), Some(3));
    // PIN2 is its own: PIN1's code is wrong for it.
    assert_eq!(
        sw(&card.respond(&verify(0x83, PIN1.as_bytes())).unwrap()),
        0x63C2
    );
    for _ in 0..2 {
        card.respond(&verify(0x83, b"000000")).unwrap();
    }
    assert_eq!(
        sw(&card.respond(&[0x00, 0x20, 0x00, 0x83]).unwrap()),
        0x6983
    );
    assert_eq!(
        sw(&card.respond(&verify(0x83, PIN2.as_bytes())).unwrap()),
        0x6983
    );
    assert_eq!(
        sw(&card.respond(&verify(0x01, PIN1.as_bytes())).unwrap()),
        0x6A88
    );
}

pub(super) fn mse(alg: u8, key: u8) -> Vec<u8> {
    vec![
        0x00, 0x22, 0x41, 0xB6, 0x06, 0x80, 0x01, alg, 0x84, 0x01, key,
    ]
}

pub(super) fn pso_hash(hash: &[u8]) -> Vec<u8> {
    let mut apdu = vec![
        0x00,
        0x2A,
        0x90,
        0xA0,
        hash.len() as u8 + 2,
        0x90,
        hash.len() as u8,
    ];
    apdu.extend_from_slice(hash);
    apdu.push(hash.len() as u8);
    apdu
}

pub(super) const PSO_SIGN: [u8; 5] = [0x00, 0x2A, 0x9E, 0x9A, 0x00];

#[test]
fn mse_then_two_step_pso_signs_with_each_algorithm() {
    let (mut card, keys) = issued();
    let hash = Sha256::digest(b"signed by the card");
    assert_eq!(sw(&card.respond(&verify_pin1_apdu(PIN1)).unwrap()), 0x9000);

    for alg in [0x42, 0x02, 0x45] {
        assert_eq!(sw(&card.respond(&mse(alg, 0x56)).unwrap()), 0x9000);
        let input: Vec<u8> = if alg == 0x02 {
            // OpenSC sends a SHA-1 DigestInfo or MD5+SHA-1 this way; any short input signs.
            b"36 bytes of md5 and sha1 concatenat".to_vec()
        } else {
            hash.to_vec()
        };
        let echo = card.respond(&pso_hash(&input)).unwrap();
        assert_eq!((data(&echo), sw(&echo)), (&input[..], 0x9000));
        let (signature, status) = get_all(&mut card, &PSO_SIGN);
        assert_eq!(status, 0x9000);
        let checked = match alg {
            0x42 => keys[0].verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &signature),
            0x02 => keys[0].verify(Pkcs1v15Sign::new_unprefixed(), &input, &signature),
            _ => keys[0].verify(Pss::new_with_salt::<Sha256>(32), &hash, &signature),
        };
        assert!(checked.is_ok(), "algorithm {alg:02X}");
    }
}

#[test]
fn pso_out_of_order_or_without_its_pin_is_refused_with_a_status_word() {
    let (mut card, _) = issued();
    let hash = [7u8; 32];
    // No MSE: neither step.
    assert_eq!(sw(&card.respond(&pso_hash(&hash)).unwrap()), 0x6985);
    assert_eq!(sw(&card.respond(&PSO_SIGN).unwrap()), 0x6985);
    // MSE but no hash yet.
    assert_eq!(sw(&card.respond(&mse(0x42, 0x56)).unwrap()), 0x9000);
    assert_eq!(sw(&card.respond(&PSO_SIGN).unwrap()), 0x6985);
    // Hash, but PIN1 not verified.
    assert_eq!(sw(&card.respond(&pso_hash(&hash)).unwrap()), 0x9000);
    assert_eq!(sw(&card.respond(&PSO_SIGN).unwrap()), 0x6982);
    // The signature key wants PIN2, not PIN1.
    card.respond(&verify_pin1_apdu(PIN1)).unwrap();
    assert_eq!(sw(&card.respond(&mse(0x42, 0x57)).unwrap()), 0x9000);
    assert_eq!(sw(&card.respond(&pso_hash(&hash)).unwrap()), 0x9000);
    assert_eq!(sw(&card.respond(&PSO_SIGN).unwrap()), 0x6982);
    // A hash of the wrong length, an unknown algorithm, a key that is not there.
    assert_eq!(sw(&card.respond(&mse(0x42, 0x56)).unwrap()), 0x9000);
    assert_eq!(sw(&card.respond(&pso_hash(&[1; 20])).unwrap()), 0x6A80);
    assert_eq!(sw(&card.respond(&mse(0x99, 0x56)).unwrap()), 0x6A80);
    assert_eq!(sw(&card.respond(&mse(0x42, 0x5A)).unwrap()), 0x6A88);
    // The hash is used once.
    assert_eq!(sw(&card.respond(&mse(0x42, 0x56)).unwrap()), 0x9000);
    card.respond(&pso_hash(&hash)).unwrap();
    assert_eq!(get_all(&mut card, &PSO_SIGN).1, 0x9000);
    assert_eq!(sw(&card.respond(&PSO_SIGN).unwrap()), 0x6985);
}

#[test]
fn writes_and_key_generation_need_pin1() {
    let mut card = blank();
    assert_eq!(
        sw(&card.respond(&[0x00, 0x46, 0x80, 0x56, 0x00]).unwrap()),
        0x6982
    );
    card.respond(&[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x01, 0x01])
        .unwrap();
    assert_eq!(
        sw(&card.respond(&[0x00, 0xD6, 0x00, 0x00, 0x01, 0x09]).unwrap()),
        0x6982
    );
    assert_eq!(card.state().ef_content(0x3F00, 0x0101).unwrap()[0], 3);
}

#[test]
fn short_and_garbled_apdus_get_a_status_word() {
    let (mut card, _) = issued();
    card.respond(&verify_pin1_apdu(PIN1)).unwrap();
    let mut rng_state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let heads: [&[u8]; 9] = [
        &[0x00, 0xA4],
        &[0x00, 0xB0],
        &[0x00, 0x20],
        &[0x00, 0x22],
        &[0x00, 0x2A],
        &[0x00, 0x46],
        &[0x00, 0xD6],
        &[0x00, 0xCA],
        &[0x80, 0xA4],
    ];
    for i in 0..3000 {
        let mut apdu = heads[i % heads.len()].to_vec();
        let len = (next() % 24) as usize;
        apdu.extend((0..len).map(|_| next() as u8));
        // Never a key generation: it would only take time.
        if apdu.len() > 1 && apdu[1] == 0x46 {
            apdu.truncate(3);
        }
        let answer = card.respond(&apdu).unwrap();
        assert!(answer.len() >= 2, "{apdu:02X?}");
    }
    for short in [&[][..], &[0x00], &[0x00, 0xA4, 0x04]] {
        assert_eq!(card.respond(short).unwrap().len(), 2);
    }
}

#[test]
fn a_state_file_without_a_layout_is_a_pkcs15_card() {
    let pkcs15 = CardState::new("123");
    let mut json: serde_json::Value = serde_json::to_value(&pkcs15).unwrap();
    assert_eq!(json["layout"], "pkcs15");
    json.as_object_mut().unwrap().remove("layout");
    let old: CardState = serde_json::from_value(json).unwrap();
    assert_eq!(old.layout(), Layout::Pkcs15);
    let idprime = blank_card("12", "x", &codes()).unwrap();
    let json = serde_json::to_value(&idprime).unwrap();
    assert_eq!(json["layout"], "idprime");
}

#[test]
fn a_wrong_pin_counts_even_when_the_disk_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let state = blank_card(SERIAL, "SITHS e-id kort", &codes()).unwrap();
    let mut card = VirtualCard::create(&path, state).unwrap();
    card.fail_saves(true);
    assert_eq!(sw(&card.respond(&verify(0x11, b"999999")).unwrap()), 0x6581);
    assert_eq!(
        card.state().pin_tries_left(0x11),
        Some(2),
        "counted in memory"
    );
    // The right code is not compared until the count is on disk.
    assert_eq!(sw(&card.respond(&verify_pin1_apdu(PIN1)).unwrap()), 0x6581);
    card.fail_saves(false);
    assert_eq!(sw(&card.respond(&verify_pin1_apdu(PIN1)).unwrap()), 0x9000);
    let saved = CardState::load(&path).unwrap();
    assert_eq!(saved.pin_tries_left(0x11), Some(3));
    assert_eq!(saved.layout(), Layout::Idprime);
}
