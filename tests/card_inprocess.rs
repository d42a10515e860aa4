//! Every card operation and every card error against the in-process virtual card.

mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pss, RsaPublicKey};
use sha2::{Digest, Sha256};
use siths_upgrade::apdu::StatusWord;
use siths_upgrade::card::Card as _;
use siths_upgrade::card::{
    CardError, PinKind, PinRuleError, SecretCode, SignatureScheme, SithsCard,
};
use siths_upgrade::pki::{Identity, Purpose};
use siths_upgrade::transport::TransportError;
use siths_upgrade::virtual_card::VirtualCard;
use siths_upgrade::virtual_card::memory::MemoryTransport;
use support::persons::HOLDER;
use support::world::demo_card;

struct TestCard {
    _dir: tempfile::TempDir,
    path: PathBuf,
    shared: Arc<Mutex<VirtualCard>>,
}

impl TestCard {
    fn new() -> TestCard {
        let dir = tempfile::tempdir().unwrap();
        let (path, shared) = demo_card(dir.path());
        TestCard {
            _dir: dir,
            path,
            shared,
        }
    }

    fn open(&self) -> SithsCard {
        SithsCard::open(Box::new(
            MemoryTransport::connect(self.shared.clone()).unwrap(),
        ))
        .unwrap()
    }

    /// The card as a new process would see it: loaded again from its state file.
    fn reopened(&self) -> SithsCard {
        let card = VirtualCard::open(&self.path).unwrap();
        SithsCard::open(Box::new(
            MemoryTransport::connect(Arc::new(Mutex::new(card))).unwrap(),
        ))
        .unwrap()
    }
}

fn pin(s: &str) -> SecretCode {
    SecretCode::pin(s.into()).unwrap()
}

fn puk(s: &str) -> SecretCode {
    SecretCode::puk(s.into()).unwrap()
}

fn tries(card: &mut SithsCard, kind: PinKind) -> u8 {
    card.pin_status(kind).unwrap().tries_left
}

#[test]
fn overview_shows_the_legacy_pair_and_full_tries() {
    let t = TestCard::new();
    let mut card = t.open();
    let o = card.overview().unwrap();
    assert_eq!(o.serial, "9752269000001001");
    assert_eq!(o.holder_name(), Some(HOLDER.name));
    assert_eq!(o.certificates.len(), 2);
    let hsa = Identity::HsaId(siths_upgrade::pki::HsaId::parse(HOLDER.hsa_id).unwrap());
    let pair = o.certificates_of(&hsa);
    assert_eq!(pair.len(), 2, "one HSA-id pair");
    let auth = pair[0].info.as_ref().unwrap();
    let sign = pair[1].info.as_ref().unwrap();
    assert_eq!(auth.purpose, Purpose::Authentication);
    assert_eq!(sign.purpose, Purpose::Signature);
    assert_eq!(pair[0].pin, Some(PinKind::Pin1));
    assert_eq!(pair[1].pin, Some(PinKind::Pin2));
    assert_eq!(auth.trust_level, Some(3));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (1800..=1830).contains(&auth.days_left(now)),
        "about 5 years"
    );
    for (kind, n) in [(PinKind::Pin1, 3), (PinKind::Pin2, 3), (PinKind::Puk, 10)] {
        let p = o.pin(kind).unwrap();
        assert_eq!((p.tries_left, p.max_tries), (n, n), "{kind}");
    }
    assert!(!o.dead());
}

#[test]
fn wrong_pin_counts_down_and_the_third_blocks() {
    let t = TestCard::new();
    let mut card = t.open();
    assert_eq!(
        card.verify_pin(PinKind::Pin1, &pin("000000")),
        Err(CardError::WrongCode {
            kind: PinKind::Pin1,
            tries_left: 2
        })
    );
    let e = card.verify_pin(PinKind::Pin1, &pin("000000")).unwrap_err();
    assert_eq!(
        e,
        CardError::WrongCode {
            kind: PinKind::Pin1,
            tries_left: 1
        }
    );
    assert!(e.to_string().contains("1 try left"), "{e}");
    let e = card.verify_pin(PinKind::Pin1, &pin("000000")).unwrap_err();
    assert_eq!(e, CardError::Blocked(PinKind::Pin1));
    assert!(e.to_string().contains("PUK"), "says how to unblock: {e}");
    // Blocked stays blocked, even with the right PIN, and survives a restart of the card.
    assert_eq!(
        card.verify_pin(PinKind::Pin1, &pin("135790")),
        Err(CardError::Blocked(PinKind::Pin1))
    );
    let o = t.reopened().overview().unwrap();
    assert!(o.pin(PinKind::Pin1).unwrap().blocked());
    assert_eq!(o.pin(PinKind::Pin2).unwrap().tries_left, 3);
}

#[test]
fn right_pin_resets_the_counter() {
    let t = TestCard::new();
    let mut card = t.open();
    let _ = card.verify_pin(PinKind::Pin2, &pin("000000"));
    assert_eq!(tries(&mut card, PinKind::Pin2), 2);
    card.verify_pin(PinKind::Pin2, &pin("246802")).unwrap();
    assert_eq!(tries(&mut card, PinKind::Pin2), 3);
}

#[test]
fn unblock_with_puk_sets_the_new_pin() {
    let t = TestCard::new();
    let mut card = t.open();
    for _ in 0..3 {
        let _ = card.verify_pin(PinKind::Pin2, &pin("999999"));
    }
    assert!(card.pin_status(PinKind::Pin2).unwrap().blocked());
    card.unblock_pin(PinKind::Pin2, &puk("13572468"), &pin("8642097"))
        .unwrap();
    assert_eq!(tries(&mut card, PinKind::Pin2), 3);
    assert_eq!(
        card.verify_pin(PinKind::Pin2, &pin("246802")),
        Err(CardError::WrongCode {
            kind: PinKind::Pin2,
            tries_left: 2
        }),
        "the old PIN no longer works"
    );
    card.verify_pin(PinKind::Pin2, &pin("8642097")).unwrap();
    assert_eq!(tries(&mut card, PinKind::Puk), 10);
}

#[test]
fn tenth_wrong_puk_kills_the_card_for_good() {
    let t = TestCard::new();
    let mut card = t.open();
    for left in (1..10).rev() {
        assert_eq!(
            card.unblock_pin(PinKind::Pin1, &puk("00000000"), &pin("111111")),
            Err(CardError::WrongCode {
                kind: PinKind::Puk,
                tries_left: left
            })
        );
    }
    let e = card
        .unblock_pin(PinKind::Pin1, &puk("00000000"), &pin("111111"))
        .unwrap_err();
    assert_eq!(e, CardError::CardDead);
    assert!(e.to_string().contains("new card"), "{e}");
    // Not even the right PUK helps now, and the card says so after a restart too.
    assert_eq!(
        card.unblock_pin(PinKind::Pin1, &puk("13572468"), &pin("111111")),
        Err(CardError::CardDead)
    );
    let o = t.reopened().overview().unwrap();
    assert!(o.dead());
    assert_eq!(
        o.certificates.len(),
        2,
        "the certificates are still readable"
    );
}

#[test]
fn badly_typed_codes_never_reach_the_card() {
    let t = TestCard::new();
    let mut card = t.open();
    let before = card.stats().apdus;
    for typed in ["12345", "123456789", "12 456", "abcdef", ""] {
        assert!(SecretCode::pin(typed.into()).is_err(), "{typed:?}");
    }
    assert_eq!(
        SecretCode::puk("1234567".into()),
        Err(PinRuleError::PukLength {
            len: 7,
            expected: 8
        })
    );
    assert_eq!(card.stats().apdus, before);
    assert_eq!(tries(&mut card, PinKind::Pin1), 3);
    assert_eq!(tries(&mut card, PinKind::Puk), 10);
}

#[test]
fn change_pin_needs_the_old_pin() {
    let t = TestCard::new();
    let mut card = t.open();
    assert_eq!(
        card.change_pin(PinKind::Pin1, &pin("000000"), &pin("97531864")),
        Err(CardError::WrongCode {
            kind: PinKind::Pin1,
            tries_left: 2
        })
    );
    card.change_pin(PinKind::Pin1, &pin("135790"), &pin("97531864"))
        .unwrap();
    let mut again = t.reopened();
    assert!(again.verify_pin(PinKind::Pin1, &pin("135790")).is_err());
    again.verify_pin(PinKind::Pin1, &pin("97531864")).unwrap();
    assert_eq!(
        card.change_pin(PinKind::Puk, &puk("13572468"), &pin("12345678")),
        Err(CardError::PukNotChangeable)
    );
}

fn rsa_key(card: &mut SithsCard, slot: siths_upgrade::card::KeySlot) -> RsaPublicKey {
    let k = card
        .read_public_key(slot)
        .unwrap()
        .expect("a key in the slot");
    RsaPublicKey::new(
        BigUint::from_bytes_be(&k.modulus),
        BigUint::from_bytes_be(&k.exponent),
    )
    .unwrap()
}

#[test]
fn signing_needs_the_right_pin_and_verifies_against_the_certificate() {
    let t = TestCard::new();
    let mut card = t.open();
    let hash: [u8; 32] = Sha256::digest(b"login challenge").into();
    assert_eq!(
        card.sign(key_slot(1), &hash, SignatureScheme::Pkcs1Sha256),
        Err(CardError::NotVerified(PinKind::Pin1))
    );
    card.verify_pin(PinKind::Pin1, &pin("135790")).unwrap();
    let key = rsa_key(&mut card, key_slot(1));
    // The key on the card is the one in the certificate.
    let o = card.overview().unwrap();
    let cert = o
        .certificates
        .iter()
        .find(|c| c.slot == siths_upgrade::card::KeySlot::new(1))
        .unwrap();
    assert_eq!(
        cert.info.as_ref().unwrap().rsa_modulus,
        Some(key.n().to_bytes_be())
    );
    let sig = card
        .sign(key_slot(1), &hash, SignatureScheme::Pkcs1Sha256)
        .unwrap();
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &sig)
        .unwrap();
    let sig = card
        .sign(key_slot(1), &hash, SignatureScheme::PssSha256)
        .unwrap();
    key.verify(Pss::new::<Sha256>(), &hash, &sig).unwrap();

    // The signing key wants PIN2 right before every signature.
    assert_eq!(
        card.sign(key_slot(5), &hash, SignatureScheme::Pkcs1Sha256),
        Err(CardError::NotVerified(PinKind::Pin2))
    );
    card.verify_pin(PinKind::Pin2, &pin("246802")).unwrap();
    let key5 = rsa_key(&mut card, key_slot(5));
    let sig = card
        .sign(key_slot(5), &hash, SignatureScheme::Pkcs1Sha256)
        .unwrap();
    key5.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &sig)
        .unwrap();
    assert_eq!(
        card.sign(key_slot(5), &hash, SignatureScheme::Pkcs1Sha256),
        Err(CardError::NotVerified(PinKind::Pin2))
    );
}

#[test]
fn ending_the_session_logs_the_card_out() {
    let t = TestCard::new();
    let mut card = t.open();
    card.verify_pin(PinKind::Pin1, &pin("135790")).unwrap();
    card.verify_pin(PinKind::Pin2, &pin("246802")).unwrap();
    assert!(card.pin_status(PinKind::Pin1).unwrap().verified);
    card.end_session().unwrap();
    // Another connection to the same card (another program) finds it logged out: no signature
    // without the PIN again, and no try was spent.
    let mut other = t.open();
    for kind in [PinKind::Pin1, PinKind::Pin2] {
        let status = other.pin_status(kind).unwrap();
        assert!(!status.verified, "{kind}");
        assert_eq!(status.tries_left, 3, "{kind}");
    }
    let hash = [7u8; 32];
    assert_eq!(
        other.sign(key_slot(1), &hash, SignatureScheme::Pkcs1Sha256),
        Err(CardError::NotVerified(PinKind::Pin1))
    );
}

#[test]
fn generate_write_and_delete_a_pair() {
    let t = TestCard::new();
    let mut card = t.open();
    assert_eq!(card.read_public_key(key_slot(2)).unwrap(), None);
    assert_eq!(
        card.generate_key(key_slot(2)),
        Err(CardError::NotVerified(PinKind::Pin1))
    );
    card.verify_pin(PinKind::Pin1, &pin("135790")).unwrap();
    let public = card.generate_key(key_slot(2)).unwrap();
    assert_eq!(public.modulus.len(), 256, "RSA-2048");
    assert_eq!(
        card.generate_key(key_slot(2)),
        Err(CardError::SlotOccupied(key_slot(2)))
    );
    // Reuse the legacy certificate bytes as content: the card stores what it is given.
    let o = card.overview().unwrap();
    let der = o.certificates[0].der.clone();
    card.write_certificate(key_slot(2), "Test", &der).unwrap();
    let o = t.reopened().overview().unwrap();
    assert_eq!(o.certificates.len(), 3);
    let written = o
        .certificates
        .iter()
        .find(|c| c.slot == siths_upgrade::card::KeySlot::new(2))
        .unwrap();
    assert_eq!(written.der, der);
    assert_eq!(written.label, "Test");

    card.delete_pair(key_slot(1)).unwrap();
    let o = t.reopened().overview().unwrap();
    assert_eq!(o.certificates.len(), 2);
    assert!(o.certificates.iter().all(|c| c.slot != Some(key_slot(1))));
    assert!(o.keys.iter().all(|k| k.slot != Some(key_slot(1))));
    assert_eq!(
        card.read_public_key(key_slot(1)).unwrap(),
        None,
        "the key is gone too"
    );
}

#[test]
fn card_pulled_during_a_write_keeps_its_previous_content() {
    // With the session's files known (as in an upgrade, after its overview) and without.
    for cached in [true, false] {
        pull_before_every_apdu_of_a_write(cached);
    }
}

/// Count the APDUs that writing a new pair's certificate takes, then pull the card before each
/// one of them in turn: the card must show the old content or the new pair, whole.
fn pull_before_every_apdu_of_a_write(cached: bool) {
    let open = |t: &TestCard| {
        let card = t.open();
        if cached {
            card
        } else {
            card.without_session_cache()
        }
    };
    let t = TestCard::new();
    let mut card = open(&t);
    card.verify_pin(PinKind::Pin1, &pin("135790")).unwrap();
    card.generate_key(key_slot(2)).unwrap();
    let before = card.overview().unwrap();
    let new_der = before.certificates[1].der.clone();
    card.reset_stats();
    card.write_certificate(key_slot(2), "New", &new_der)
        .unwrap();
    let apdus = card.stats().apdus as u32;
    assert!(apdus > 5);

    let mut saw_old = false;
    for n in 0..apdus {
        let t = TestCard::new();
        let mut card = open(&t);
        card.verify_pin(PinKind::Pin1, &pin("135790")).unwrap();
        card.generate_key(key_slot(2)).unwrap();
        card.overview().unwrap();
        t.shared.lock().unwrap().pull_after(n);
        let e = card
            .write_certificate(key_slot(2), "New", &new_der)
            .unwrap_err();
        assert_eq!(
            e,
            CardError::Transport(TransportError::CardRemoved),
            "pulled after {n}"
        );
        t.shared.lock().unwrap().insert();
        // Like PC/SC, a connection made before the pull stays dead: connect again. Also read
        // the card as a new process would, from its state file.
        for o in [
            t.open().overview().unwrap(),
            t.reopened().overview().unwrap(),
        ] {
            assert!(o.certificates.iter().all(|c| c.info.is_ok()), "at {n}");
            let legacy: Vec<_> = o
                .certificates
                .iter()
                .filter(|c| c.slot != Some(key_slot(2)))
                .collect();
            assert_eq!(legacy.len(), 2, "the legacy pair is untouched at {n}");
            match o
                .certificates
                .iter()
                .find(|c| c.slot == siths_upgrade::card::KeySlot::new(2))
            {
                None => saw_old = true,
                Some(c) => {
                    assert_eq!((c.label.as_str(), &c.der), ("New", &new_der), "at {n}");
                    assert_eq!(c.pin, Some(PinKind::Pin1));
                }
            }
        }
    }
    assert!(
        saw_old,
        "pulls before the commit point leave the card as it was (cached: {cached})"
    );
}

/// Both legacy pairs go in one transaction with each directory file written once; pulled
/// before any of its APDUs, the card shows both certificates or neither, and a new connection
/// finishes the removal.
#[test]
fn pairs_deleted_together_go_together_even_when_pulled() {
    let legacy = [key_slot(1), key_slot(5)];
    let t = TestCard::new();
    let mut card = t.open();
    card.verify_pin(PinKind::Pin1, &pin("135790")).unwrap();
    card.overview().unwrap();
    card.reset_stats();
    card.delete_pairs(&legacy).unwrap();
    let apdus = card.stats().apdus as u32;
    // SELECT, CDF and PrKDF (up to two links each), two ERASE BINARY, two DELETE KEY.
    assert!(apdus <= 9, "{apdus} APDUs");

    let mut saw = (false, false);
    for n in 0..apdus {
        let t = TestCard::new();
        let mut card = t.open();
        card.verify_pin(PinKind::Pin1, &pin("135790")).unwrap();
        card.overview().unwrap();
        t.shared.lock().unwrap().pull_after(n);
        assert_eq!(
            card.delete_pairs(&legacy).unwrap_err(),
            CardError::Transport(TransportError::CardRemoved),
            "pulled after {n}"
        );
        t.shared.lock().unwrap().insert();
        let o = t.reopened().overview().unwrap();
        match o.certificates.len() {
            2 => saw.0 = true,
            0 => saw.1 = true,
            other => panic!("{other} certificates after a pull at {n}"),
        }
        let mut card = t.open();
        card.verify_pin(PinKind::Pin1, &pin("135790")).unwrap();
        card.delete_pairs(&legacy).unwrap();
        let o = t.reopened().overview().unwrap();
        assert!(o.certificates.is_empty() && o.keys.is_empty(), "at {n}");
        for slot in legacy {
            assert_eq!(card.read_public_key(slot).unwrap(), None, "at {n}");
        }
    }
    assert_eq!(saw, (true, true));
}

/// What the session knows must be what the card holds: after every write and delete, the
/// card's overview (from its session cache) equals a new connection's (read from the card).
#[test]
fn the_session_reads_each_file_once_and_stays_true_to_the_card() {
    let t = TestCard::new();
    let mut card = t.open();
    card.reset_stats();
    let first = card.overview().unwrap();
    let cold = card.stats().apdus;
    card.reset_stats();
    let again = card.overview().unwrap();
    assert_eq!(
        card.stats().apdus,
        4,
        "a second overview selects the application and asks the three codes' tries, no more \
         (the first took {cold})"
    );
    assert_same(&first, &again);

    card.verify_pin(PinKind::Pin1, &pin("135790")).unwrap();
    card.generate_key(key_slot(2)).unwrap();
    let der = first.certificates[0].der.clone();
    card.reset_stats();
    card.write_certificate(key_slot(2), "New", &der).unwrap();
    // SELECT, the certificate (UPDATE BINARY by short identifier, chained) and ERASE BINARY,
    // then the PrKDF and the CDF (one chained UPDATE BINARY each): no READ BINARY, no SELECT
    // by path.
    let links = der.len().div_ceil(255) as u64;
    assert!(
        card.stats().apdus <= 1 + links + 1 + 2 + 2,
        "{:?}",
        card.stats()
    );
    assert_same(&card.overview().unwrap(), &t.open().overview().unwrap());
    assert_same(&card.overview().unwrap(), &t.reopened().overview().unwrap());

    card.delete_pair(key_slot(1)).unwrap();
    assert_same(&card.overview().unwrap(), &t.reopened().overview().unwrap());
    // Writing into a slot whose file held a longer certificate before: the rest is erased.
    card.delete_pair(key_slot(2)).unwrap();
    let short = first.certificates[1].der.clone();
    card.write_certificate(key_slot(2), "Shorter", &short)
        .unwrap();
    let o = card.overview().unwrap();
    assert_same(&o, &t.reopened().overview().unwrap());
    assert!(o.certificates.iter().any(|c| c.der == short));
}

/// A reset by another program (here: another connection changes the card, then the card is
/// reset under ours) makes the session forget what it read: the redone operation reads the
/// card again and shows the other program's change.
#[test]
fn a_reset_by_another_program_forgets_the_session_files() {
    let t = TestCard::new();
    let reset = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut card = SithsCard::open(Box::new(ResettingTransport {
        inner: MemoryTransport::connect(t.shared.clone()).unwrap(),
        reset: reset.clone(),
    }))
    .unwrap();
    assert_eq!(card.overview().unwrap().certificates.len(), 2);

    let mut other = t.open();
    other.verify_pin(PinKind::Pin1, &pin("135790")).unwrap();
    other.delete_pair(key_slot(5)).unwrap();
    reset.store(true, std::sync::atomic::Ordering::SeqCst);

    let o = card.overview().unwrap();
    assert_eq!(o.certificates.len(), 1, "the session read the card again");
    assert_same(&o, &t.reopened().overview().unwrap());
}

/// Reports one reset by another program when asked to, as PC/SC does on the next transaction.
struct ResettingTransport {
    inner: MemoryTransport,
    reset: Arc<std::sync::atomic::AtomicBool>,
}

impl siths_upgrade::transport::Transport for ResettingTransport {
    fn reader_name(&self) -> &str {
        self.inner.reader_name()
    }
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn transaction(
        &mut self,
        body: &mut dyn FnMut(&mut dyn siths_upgrade::transport::Transmit),
    ) -> Result<(), TransportError> {
        if self.reset.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.inner.card().lock().unwrap().reset();
            return Err(TransportError::CardReset);
        }
        self.inner.transaction(body)
    }
}

/// Two overviews show the same card: certificates, keys and codes.
fn assert_same(a: &siths_upgrade::card::CardOverview, b: &siths_upgrade::card::CardOverview) {
    let certs = |o: &siths_upgrade::card::CardOverview| {
        o.certificates
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    c.label.clone(),
                    c.path.clone(),
                    c.slot,
                    c.der.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(certs(a), certs(b));
    assert_eq!(a.keys, b.keys);
    assert_eq!((&a.serial, &a.label), (&b.serial, &b.label));
    let tries = |o: &siths_upgrade::card::CardOverview| {
        o.pins
            .iter()
            .map(|p| (p.kind, p.tries_left))
            .collect::<Vec<_>>()
    };
    assert_eq!(tries(a), tries(b));
}

#[test]
fn a_card_without_the_siths_application_is_named_as_such() {
    let e = SithsCard::open(Box::new(support::fixed_card::FixedCard(
        StatusWord::FileNotFound.to_u16(),
    )))
    .err()
    .unwrap();
    assert_eq!(e, CardError::NotSiths);
    assert!(e.to_string().contains("not a SITHS card"));
}

#[test]
fn a_card_taken_out_is_reported_as_removed() {
    let t = TestCard::new();
    let mut card = t.open();
    t.shared.lock().unwrap().pull_after(0);
    assert_eq!(
        card.overview().unwrap_err(),
        CardError::Transport(TransportError::CardRemoved)
    );
}

/// Key slot `n` (1-8) of the card.
fn key_slot(n: u8) -> siths_upgrade::card::KeySlot {
    siths_upgrade::card::KeySlot::new(n).expect("a slot 1-8")
}
