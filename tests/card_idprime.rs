//! Our apdu backend on a card laid out as current SITHS cards are (the virtual card's IDPrime
//! layout, in process): recognised by its answer to the application select, read, used and
//! written through the same `Card` interface as our PKCS#15 layout, a pull at every APDU of a
//! write leaving the old or the new state, and a card that came with one code.

mod support;

use std::path::{Path, PathBuf};

use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::{BigUint, Pss, RsaPublicKey};
use sha2::{Digest, Sha256};
use siths_upgrade::card::dialect::Dialect;
use siths_upgrade::card::{
    Card as _, CardError, KeySlot, PinKind, SecretCode, SignatureScheme, SithsCard,
};
use siths_upgrade::idprime::files::decompress_cert;
use siths_upgrade::provision::{
    Codes, DEMO_SERIAL, demo_holder, make_one_code_idprime_card, make_pre_upgrade_card,
    make_pre_upgrade_idprime_card,
};
use siths_upgrade::virtual_card::memory::MemoryTransport;
use siths_upgrade::virtual_card::{self, SharedVirtualCard, VirtualCard};
use support::fixed_card::FixedCard;
use support::persons::HOLDER;

/// The demo holder's pre-upgrade IDPrime card, made once per binary and copied per test.
fn template(one_code: bool) -> &'static Path {
    use std::sync::OnceLock;
    static TWO: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    static ONE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = if one_code { &ONE } else { &TWO }.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let codes = Codes::test_defaults();
        if one_code {
            make_one_code_idprime_card(&path, DEMO_SERIAL, &codes, &demo_holder()).unwrap();
        } else {
            make_pre_upgrade_idprime_card(&path, DEMO_SERIAL, &codes, &demo_holder()).unwrap();
        }
        (dir, path)
    });
    path
}

struct TestCard {
    _dir: tempfile::TempDir,
    shared: SharedVirtualCard,
}

impl TestCard {
    fn new() -> TestCard {
        TestCard::copy_of(template(false))
    }

    fn one_code() -> TestCard {
        TestCard::copy_of(template(true))
    }

    fn copy_of(template: &Path) -> TestCard {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        std::fs::copy(template, &path).unwrap();
        let shared = virtual_card::share_virtual_card(VirtualCard::open(&path).unwrap());
        TestCard { _dir: dir, shared }
    }

    fn open(&self) -> SithsCard {
        SithsCard::open(Box::new(
            MemoryTransport::connect(self.shared.clone()).unwrap(),
        ))
        .unwrap()
    }

    fn pull_after(&self, n: u32) {
        virtual_card::lock_virtual_card(&self.shared).pull_after(n);
    }

    fn insert(&self) {
        virtual_card::lock_virtual_card(&self.shared).insert();
    }

    fn commands(&self) -> u64 {
        virtual_card::lock_virtual_card(&self.shared).command_count()
    }
}

fn pin(s: &str) -> SecretCode {
    SecretCode::pin(s.into()).unwrap()
}

fn slot(n: u8) -> KeySlot {
    KeySlot::new(n).unwrap()
}

const PIN1: &str = "135790";
const PIN2: &str = "246802";
const PUK: &str = "13572468";

#[test]
fn both_layouts_are_recognised_by_their_answer_to_the_select() {
    let idprime = TestCard::new();
    assert_eq!(idprime.open().dialect(), Dialect::Idprime);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pkcs15.json");
    make_pre_upgrade_card(&path, DEMO_SERIAL, &Codes::test_defaults(), &demo_holder()).unwrap();
    let pkcs15 = virtual_card::share_virtual_card(VirtualCard::open(&path).unwrap());
    let card = SithsCard::open(Box::new(MemoryTransport::connect(pkcs15).unwrap())).unwrap();
    assert_eq!(card.dialect(), Dialect::Pkcs15);

    // A card with neither application is not a SITHS card.
    let e = SithsCard::open(Box::new(FixedCard(0x6A82))).err().unwrap();
    assert!(matches!(e, CardError::NotSiths), "{e}");
}

#[test]
fn the_overview_shows_the_holder_the_legacy_pair_and_every_code() {
    let t = TestCard::new();
    let mut card = t.open();
    let o = card.overview().unwrap();
    // The card number as the CA knows it (and OpenSC's PKCS#11 token shows it).
    assert_eq!(o.serial, DEMO_SERIAL);
    assert_eq!(o.label.as_deref(), Some("SITHS e-id kort"));
    assert_eq!(o.holder_name(), Some(HOLDER.name));
    let mut slots: Vec<_> = o.certificates.iter().map(|c| c.slot).collect();
    slots.sort();
    assert_eq!(slots, [Some(slot(1)), Some(slot(5))]);
    // Exactly the certificates the card's files hold, decompressed.
    let state = virtual_card::lock_virtual_card(&t.shared).state().clone();
    for c in &o.certificates {
        let fid = u16::from_be_bytes([c.path[0], c.path[1]]);
        let file = state.ef_content(0x3F00, fid).unwrap();
        assert_eq!(decompress_cert(file).unwrap(), c.der);
        let info = c.info.as_ref().unwrap();
        let pin_kind = if c.slot == Some(slot(1)) {
            PinKind::Pin1
        } else {
            PinKind::Pin2
        };
        assert_eq!(
            c.pin,
            Some(pin_kind),
            "{}",
            info.subject.common_name.as_deref().unwrap_or("")
        );
    }
    let tries: Vec<(PinKind, u8)> = o.pins.iter().map(|p| (p.kind, p.tries_left)).collect();
    assert_eq!(
        tries,
        [(PinKind::Pin1, 3), (PinKind::Pin2, 3), (PinKind::Puk, 10)]
    );
    assert_eq!(o.keys.len(), 2);
}

/// Check `signature` over `data` with the public key of the certificate in `slot`.
fn verifies(card: &mut SithsCard, s: KeySlot, data: &[u8], signature: &[u8], pss: bool) -> bool {
    let key = card.read_public_key(s).unwrap().unwrap();
    let public = RsaPublicKey::new(
        BigUint::from_bytes_be(&key.modulus),
        BigUint::from_bytes_be(&key.exponent),
    )
    .unwrap();
    let hash = Sha256::digest(data);
    if pss {
        public
            .verify(Pss::new::<Sha256>(), &hash, signature)
            .is_ok()
    } else {
        public
            .verify(Pkcs1v15Sign::new::<Sha256>(), &hash, signature)
            .is_ok()
    }
}

#[test]
fn codes_are_checked_by_the_card_and_both_keys_sign() {
    let t = TestCard::new();
    let mut card = t.open();
    let e = card.verify_pin(PinKind::Pin1, &pin("999999")).unwrap_err();
    assert!(
        matches!(
            e,
            CardError::WrongCode {
                kind: PinKind::Pin1,
                tries_left: 2
            }
        ),
        "{e}"
    );
    card.verify_pin(PinKind::Pin1, &pin(PIN1)).unwrap();
    assert_eq!(card.pin_status(PinKind::Pin1).unwrap().tries_left, 3);

    let data = b"the TLS handshake";
    let hash: [u8; 32] = Sha256::digest(data).into();
    for (scheme, pss) in [
        (SignatureScheme::Pkcs1Sha256, false),
        (SignatureScheme::PssSha256, true),
    ] {
        let sig = card.sign(slot(1), &hash, scheme).unwrap();
        assert!(verifies(&mut card, slot(1), data, &sig, pss), "{scheme:?}");
    }
    // The signing key needs PIN2 right before.
    let e = card
        .sign(slot(5), &hash, SignatureScheme::Pkcs1Sha256)
        .unwrap_err();
    assert!(matches!(e, CardError::NotVerified(PinKind::Pin2)), "{e}");
    card.authorize(slot(5), &pin(PIN2)).unwrap();
    let sig = card
        .sign(slot(5), &hash, SignatureScheme::Pkcs1Sha256)
        .unwrap();
    assert!(verifies(&mut card, slot(5), data, &sig, false));
    card.end_session().unwrap();
    assert!(!card.pin_status(PinKind::Pin1).unwrap().verified);
}

#[test]
fn pins_change_and_unblock_with_the_puk() {
    let t = TestCard::new();
    let mut card = t.open();
    card.change_pin(PinKind::Pin2, &pin(PIN2), &pin("11223344"))
        .unwrap();
    card.verify_pin(PinKind::Pin2, &pin("11223344")).unwrap();
    for left in [2, 1] {
        let e = card.verify_pin(PinKind::Pin1, &pin("000000")).unwrap_err();
        assert!(matches!(e, CardError::WrongCode { tries_left, .. } if tries_left == left));
    }
    let e = card.verify_pin(PinKind::Pin1, &pin("000000")).unwrap_err();
    assert!(matches!(e, CardError::Blocked(PinKind::Pin1)), "{e}");
    // A wrong PUK spends a PUK try; the right one unblocks and sets the new PIN.
    let e = card
        .unblock_pin(
            PinKind::Pin1,
            &SecretCode::puk("87654321".into()).unwrap(),
            &pin("424242"),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            CardError::WrongCode {
                kind: PinKind::Puk,
                tries_left: 9
            }
        ),
        "{e}"
    );
    card.unblock_pin(
        PinKind::Pin1,
        &SecretCode::puk(PUK.into()).unwrap(),
        &pin("424242"),
    )
    .unwrap();
    card.verify_pin(PinKind::Pin1, &pin("424242")).unwrap();
    assert!(matches!(
        card.change_pin(PinKind::Puk, &pin("123456"), &pin("654321")),
        Err(CardError::PukNotChangeable)
    ));
}

/// Which certificate DER each slot shows, and whether the overview reads at all.
fn shown(t: &TestCard) -> Vec<(KeySlot, Vec<u8>)> {
    let mut card = t.open();
    let o = card
        .overview()
        .unwrap_or_else(|e| panic!("the card must read after any pull: {e}"));
    let mut v: Vec<_> = o
        .certificates
        .iter()
        .map(|c| (c.slot.unwrap(), c.der.clone()))
        .collect();
    v.sort();
    v
}

impl TestCard {
    /// The card as it is now, saved as a template for copies.
    fn save_to(&self, path: &Path) {
        virtual_card::lock_virtual_card(&self.shared)
            .state()
            .save_atomic(path)
            .unwrap();
    }
}

/// Pull a fresh copy of `before` after each APDU that `op` sends in turn: the card must then
/// show `old` or `new` and nothing else, and `op` run again on it must finish at `new`.
fn pull_at_every_apdu(
    before: &Path,
    old: &[(KeySlot, Vec<u8>)],
    new: &[(KeySlot, Vec<u8>)],
    op: &dyn Fn(&mut SithsCard) -> Result<(), CardError>,
) {
    let probe = TestCard::copy_of(before);
    let mut c = probe.open();
    c.verify_pin(PinKind::Pin1, &pin(PIN1)).unwrap();
    let start = probe.commands();
    op(&mut c).unwrap();
    let apdus = (probe.commands() - start) as u32;
    assert!(apdus > 3, "{apdus}");
    assert_eq!(shown(&probe), new);
    for n in 0..apdus {
        let t = TestCard::copy_of(before);
        let mut c = t.open();
        c.verify_pin(PinKind::Pin1, &pin(PIN1)).unwrap();
        t.pull_after(n);
        assert!(op(&mut c).is_err(), "pulled after {n} of {apdus} APDUs");
        t.insert();
        let now = shown(&t);
        assert!(
            now == old || now == new,
            "pulled after {n} of {apdus} APDUs: {} certificates",
            now.len()
        );
        let mut c = t.open();
        c.verify_pin(PinKind::Pin1, &pin(PIN1)).unwrap();
        op(&mut c).unwrap_or_else(|e| panic!("resumed after a pull at {n}: {e}"));
        assert_eq!(shown(&t), new, "resumed after a pull at {n}");
    }
}

#[test]
fn a_pull_at_any_apdu_of_a_write_or_a_removal_leaves_the_old_or_the_new_card() {
    let t = TestCard::new();
    let legacy = shown(&t);
    let cert = legacy[0].1.clone();
    let mut card = t.open();
    card.verify_pin(PinKind::Pin1, &pin(PIN1)).unwrap();
    card.generate_key(slot(2)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let before_write = dir.path().join("before-write.json");
    t.save_to(&before_write);
    // A key generated but not yet certified is ours and unfinished; the holder's are not.
    assert!(card.unfinished_key(slot(2), &[]).unwrap().is_some());
    assert_eq!(card.unfinished_key(slot(1), &[]).unwrap(), None);
    assert_eq!(card.unfinished_key(slot(5), &[]).unwrap(), None);
    let mut with_new = legacy.clone();
    with_new.push((slot(2), cert.clone()));
    with_new.sort();

    let write = |c: &mut SithsCard| c.write_certificate(slot(2), "HSA-id legitimering", &cert);
    pull_at_every_apdu(&before_write, &legacy, &with_new, &write);

    let written = TestCard::copy_of(&before_write);
    let mut c = written.open();
    c.verify_pin(PinKind::Pin1, &pin(PIN1)).unwrap();
    write(&mut c).unwrap();
    assert_eq!(
        c.unfinished_key(slot(2), &[]).unwrap(),
        None,
        "now certified"
    );
    let before_removal = dir.path().join("before-removal.json");
    written.save_to(&before_removal);
    let remove = |c: &mut SithsCard| c.delete_pairs(&[slot(2)]);
    pull_at_every_apdu(&before_removal, &with_new, &legacy, &remove);

    let t = TestCard::copy_of(&before_removal);
    let mut c = t.open();
    c.verify_pin(PinKind::Pin1, &pin(PIN1)).unwrap();
    remove(&mut c).unwrap();
    assert_eq!(
        c.read_public_key(slot(2)).unwrap(),
        None,
        "the key went too"
    );
}

#[test]
fn a_card_with_one_code_shows_no_signing_pin_and_its_one_certificate() {
    let t = TestCard::one_code();
    let mut card = t.open();
    let o = card.overview().unwrap();
    assert_eq!(o.certificates.len(), 1);
    assert_eq!(o.certificates[0].slot, Some(slot(1)));
    let kinds: Vec<PinKind> = o.pins.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [PinKind::Pin1, PinKind::Puk]);
    assert_eq!(o.pin(PinKind::Pin2), None);
    assert!(card.pin_statuses(&[PinKind::Pin2]).unwrap().is_empty());
    card.verify_pin(PinKind::Pin1, &pin(PIN1)).unwrap();
    card.end_session().unwrap();
}

/// The command line on a card that came with one code: `status` says so, nothing asks for a
/// PIN2, and asking to check one is a plain refusal that spends nothing.
#[test]
fn the_command_line_says_the_card_has_one_code_and_never_asks_for_pin2() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    std::fs::copy(template(true), &state).unwrap();
    let card = ["--virtual-card", state.to_str().unwrap()];
    let run = |args: &[&str], stdin: &str| {
        let mut all = card.to_vec();
        all.extend_from_slice(args);
        support::cli::run(&all, stdin, &[])
    };
    let status = run(&["status"], "");
    let out = support::cli::text(&status);
    assert!(status.status.success(), "{out}");
    assert!(
        out.contains("one code for both logging in and signing"),
        "{out}"
    );
    assert!(!out.contains("PIN2:"), "{out}");

    let pin2 = run(
        &["verify-pin", "--which", "sign", "--pin-stdin"],
        "246802\n",
    );
    let out = support::cli::text(&pin2);
    assert_eq!(pin2.status.code(), Some(1), "{out}");
    assert!(out.contains("no signing PIN (PIN2)"), "{out}");
    assert!(out.contains("use your PIN1"), "{out}");
    let after = support::cli::text(&run(&["status"], ""));
    assert!(
        after.contains("3 of 3 tries left"),
        "nothing spent: {after}"
    );
}
