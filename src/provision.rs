//! A pre-upgrade card as holders have them today: one legacy HSA-id pair and known test codes.
//!
//! This sits above both the card client and the virtual card (it personalises a virtual card,
//! then drives it through the client), so neither of those depends on the other.
//!
//! The card is personalised, then keys and certificates go on it through its own commands, as a
//! real issuing system would; the certificates come from a throwaway test CA saved beside it.
//! The demo's cards are the exception: their legacy keys are the TEST keys of
//! assets/demo-test-world, put in at personalisation, because generating them takes seconds.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rsa::RsaPrivateKey;

use crate::card::{
    Card, CardError, KeySlot, PinKind, PinRuleError, PublicKey, SecretCode, SithsCard,
};
use crate::pki::issue::{PersonCertRequest, PersonName, TestCa};
use crate::pki::{PkiError, Purpose};
use crate::transport::TransportError;
use crate::virtual_card::memory::MemoryTransport;
use crate::virtual_card::personalise::{InitialCodes, blank_card};
use crate::virtual_card::{BuildError, CardState, Layout, StateError, VirtualCard};

/// The test codes of a card, as in its `.pins` file (the card's code letter).
#[derive(Clone)]
pub struct Codes {
    pub pin1: String,
    pub pin2: String,
    pub puk: String,
}

impl Codes {
    /// The codes of a card made without `--pins`, documented in the README for testers.
    pub fn test_defaults() -> Codes {
        Codes {
            pin1: "135790".into(),
            pin2: "246802".into(),
            puk: "13572468".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0}: {1}")]
    Rule(&'static str, PinRuleError),
    #[error(transparent)]
    Card(#[from] CardError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("test CA: {0}")]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Layout(#[from] crate::virtual_card::personalise::PersonaliseError),
    #[error(transparent)]
    Idprime(#[from] crate::virtual_card::idprime::personalise::IdprimeError),
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("card slot {} holds no key to certify; personalise the card again", .0.number())]
    NoKey(KeySlot),
}

impl From<TransportError> for InitError {
    fn from(e: TransportError) -> Self {
        InitError::Card(e.into())
    }
}

/// The made-up holder of the demo card and of `virtual-card init` without options.
pub fn demo_holder() -> PersonName {
    PersonName {
        serial_number: DEMO_HSA_ID.into(),
        given_name: "Karin".into(),
        surname: "Åström".into(),
        common_name: "Karin Åström".into(),
        organisation: "Testregionen Västra Götaland".into(),
        locality: Some("Västra Götalands län".into()),
    }
}

/// The demo holder's made-up HSA-id and the demo card's serial number.
pub const DEMO_HSA_ID: &str = "TST5565594230-1001";
pub const DEMO_SERIAL: &str = "9752269000001001";

/// The HSA-id of the test persons' service-centre operator (assets/test-persons.json), whose
/// card is the desk demo's second card.
pub const DEMO_OPERATOR_HSA_ID: &str = "TST5565594230-1007";

/// Where a card's codes are kept: beside its state file.
pub fn pins_path(state: &Path) -> PathBuf {
    state.with_extension("pins")
}

/// Make the card in `state` (overwriting it) and write `<state>.pins` and `<state>.ca.pem`.
pub fn make_pre_upgrade_card(
    state: &Path,
    serial: &str,
    codes: &Codes,
    person: &PersonName,
) -> Result<(), InitError> {
    with_throwaway_legacy_ca(state, codes, |legacy| {
        make_pre_upgrade_card_with(Layout::Pkcs15, state, serial, codes, person, legacy, None)
    })
}

/// A card made on its own, outside a CA mock's world: its legacy pair is issued by a throwaway
/// test root and legacy CA, and `<state>.ca.pem` holds both so that a verifier can check it.
fn with_throwaway_legacy_ca(
    state: &Path,
    codes: &Codes,
    make: impl FnOnce(&TestCa) -> Result<(), InitError>,
) -> Result<(), InitError> {
    check_codes(codes)?;
    with_throwaway_ca(state, make)
}

/// [`with_throwaway_legacy_ca`] without checking the codes (the caller has).
fn with_throwaway_ca(
    state: &Path,
    make: impl FnOnce(&TestCa) -> Result<(), InitError>,
) -> Result<(), InitError> {
    let root = TestCa::new_root("TEST SITHS Root CA v1 (virtual-card init)", 2048)?;
    let legacy = TestCa::new_issuing(&root, "TEST SITHS Type 1 CA v1", 2048, Some(3))?;
    make(&legacy)?;
    let ca_pem = state.with_extension("ca.pem");
    std::fs::write(&ca_pem, format!("{}{}", legacy.cert_pem(), root.cert_pem()))
        .map_err(|e| InitError::Io(ca_pem.clone(), e))
}

/// Like [`make_pre_upgrade_card`] for a card in the IDPrime layout (a current SITHS card as
/// OpenSC reads it): the legacy pair generated on the card, certified by a throwaway test CA,
/// written compressed through the card's own commands. The card is put together in memory
/// and its state file written once, atomically, at the end; writes `<state>.pins` and
/// `<state>.ca.pem`.
pub fn make_pre_upgrade_idprime_card(
    state: &Path,
    serial: &str,
    codes: &Codes,
    person: &PersonName,
) -> Result<(), InitError> {
    with_throwaway_legacy_ca(state, codes, |legacy| {
        make_pre_upgrade_idprime_card_with(state, serial, codes, person, legacy)
    })
}

/// Like [`make_pre_upgrade_idprime_card`] with the legacy pair issued by `legacy_ca`; writes
/// `<state>.pins` but no `.ca.pem`. The card's PUK is `codes.puk`, the one the person's
/// PKCS#15 cards get. Overwrites an existing state file.
pub fn make_pre_upgrade_idprime_card_with(
    state: &Path,
    serial: &str,
    codes: &Codes,
    person: &PersonName,
    legacy_ca: &TestCa,
) -> Result<(), InitError> {
    use crate::virtual_card::idprime::personalise::LEGACY_PAIR;
    check_codes(codes)?;
    make_idprime_card(state, serial, codes, person, legacy_ca, &LEGACY_PAIR)
}

/// A newer SITHS eID card in the IDPrime layout that came with one code: PIN1 for both
/// authentication and signing (no PIN `0x83` on the card), the PUK, and only the
/// authentication certificate (`kxc00`) and its key, certified by a throwaway test CA. The
/// holder sets a signing code later. Writes `<state>.pins` (no PIN2 line) and
/// `<state>.ca.pem`; `codes.pin2` is not used.
pub fn make_one_code_idprime_card(
    state: &Path,
    serial: &str,
    codes: &Codes,
    person: &PersonName,
) -> Result<(), InitError> {
    check_one_code(codes)?;
    with_throwaway_ca(state, |legacy| {
        make_one_code_idprime_card_with(state, serial, codes, person, legacy)
    })
}

/// Like [`make_one_code_idprime_card`] with the certificate issued by `legacy_ca`; writes
/// `<state>.pins` but no `.ca.pem`. Overwrites an existing state file.
pub fn make_one_code_idprime_card_with(
    state: &Path,
    serial: &str,
    codes: &Codes,
    person: &PersonName,
    legacy_ca: &TestCa,
) -> Result<(), InitError> {
    use crate::virtual_card::idprime::personalise::ONE_CODE;
    check_one_code(codes)?;
    make_idprime_card(state, serial, codes, person, legacy_ca, &ONE_CODE)
}

/// An IDPrime card with the legacy certificates `kinds`; a card without a signature
/// certificate is a one-code card (no PIN2).
fn make_idprime_card(
    state: &Path,
    serial: &str,
    codes: &Codes,
    person: &PersonName,
    legacy_ca: &TestCa,
    kinds: &[crate::idprime::files::CertKind],
) -> Result<(), InitError> {
    use crate::idprime::files::CertKind;
    use crate::virtual_card::idprime::personalise::{IdprimeCodes, blank_card, issue_legacy};
    let one_code = !kinds.contains(&CertKind::Signature);
    let blank = blank_card(
        serial,
        CARD_LABEL,
        &IdprimeCodes {
            pin1: &codes.pin1,
            pin2: (!one_code).then_some(codes.pin2.as_str()),
            puk: &codes.puk,
        },
    )?;
    let mut card = VirtualCard::new(blank);
    let mut send = |apdu: &[u8]| card.respond(apdu).unwrap_or_default();
    let mut certify = |kind: CertKind, public: &rsa::RsaPublicKey| {
        use rsa::pkcs8::EncodePublicKey;
        let purpose = match kind {
            CertKind::KeyExchange => Purpose::Authentication,
            CertKind::Signature => Purpose::Signature,
        };
        let spki = public.to_public_key_der().map_err(|e| e.to_string())?;
        legacy_ca
            .issue_person_cert(&legacy_request(person, purpose, None), spki.as_bytes())
            .map_err(|e| e.to_string())
    };
    issue_legacy(&mut send, &codes.pin1, kinds, &mut certify)?;
    card.state().save_atomic(state)?;
    if one_code {
        write_one_code(state, codes)
    } else {
        write_codes(state, codes)
    }
}

/// The legacy pair of a pre-upgrade card: slot, purpose and the label it has on the card.
const LEGACY_PAIR: [(KeySlot, Purpose, &str); 2] = [
    (
        KeySlot::ALL[0],
        Purpose::Authentication,
        "HSA-id legitimering",
    ),
    (KeySlot::ALL[4], Purpose::Signature, "HSA-id underskrift"),
];

/// The certificate request of one legacy certificate: trust level 3, as the legacy CA issued.
fn legacy_request(
    person: &PersonName,
    purpose: Purpose,
    validity: Option<(i64, i64)>,
) -> PersonCertRequest {
    PersonCertRequest {
        subject: person.clone(),
        purpose,
        trust_level: Some(3),
        upn: None,
        not_before: validity.map(|v| v.0),
        not_after: validity.map(|v| v.1),
    }
}

/// Like [`make_pre_upgrade_card`], in `layout`, with the legacy pair issued by `legacy_ca`
/// (the CA mock's, so its server trusts the card) and, if given, the pair's validity
/// `(not_before, not_after)` in unix seconds (a card about to expire). The pair goes on the
/// card through our own client, whichever layout it has. Writes `<state>.pins` but no
/// `.ca.pem`: the CA's own files name the chain.
pub fn make_pre_upgrade_card_with(
    layout: Layout,
    state: &Path,
    serial: &str,
    codes: &Codes,
    person: &PersonName,
    legacy_ca: &TestCa,
    validity: Option<(i64, i64)>,
) -> Result<(), InitError> {
    let mut card = personalised_card(layout, state, serial, codes)?;
    for (slot, purpose, label) in LEGACY_PAIR {
        let req = legacy_request(person, purpose, validity);
        generate_and_certify(&mut card, slot, label, legacy_ca, &req)?;
    }
    write_codes(state, codes)
}

/// Like [`make_pre_upgrade_card_with`], with the legacy pair's keys given (authentication key,
/// signing key) instead of generated by the card: two RSA-2048 generations take a second or
/// more, and the demo's card must be ready at once, so it is made from the TEST keys in
/// assets/demo-test-world. The card is put together in memory and its state file written once
/// at the end (one fsync instead of one per command). Refuses to overwrite an existing card.
pub fn make_pre_upgrade_card_from_keys(
    layout: Layout,
    state: &Path,
    serial: &str,
    codes: &Codes,
    person: &PersonName,
    legacy_ca: &TestCa,
    keys: [&RsaPrivateKey; 2],
) -> Result<(), InitError> {
    let pin1 = check_codes(codes)?;
    if state.exists() {
        return Err(StateError::AlreadyExists(state.to_path_buf()).into());
    }
    let mut blank = blank_state(layout, serial, codes)?;
    for ((slot, _, _), key) in LEGACY_PAIR.into_iter().zip(keys) {
        blank.put_key(slot.number(), key)?;
    }
    let shared = crate::virtual_card::share_virtual_card(VirtualCard::new(blank));
    {
        let mut card = SithsCard::open(Box::new(MemoryTransport::connect(shared.clone())?))?;
        card.verify_pin(PinKind::Pin1, &pin1)?;
        for (slot, purpose, label) in LEGACY_PAIR {
            let req = legacy_request(person, purpose, None);
            certify_key_in(&mut card, slot, label, legacy_ca, &req)?;
        }
    }
    let made = crate::virtual_card::lock_virtual_card(&shared)
        .state()
        .clone();
    made.save_atomic(state)?;
    write_codes(state, codes)
}

/// A personalised card in `layout` with no keys, opened with PIN1 verified, and its `.pins`
/// written: the start of every test card (the CA mock's already-upgraded card included).
pub fn personalised_card(
    layout: Layout,
    state: &Path,
    serial: &str,
    codes: &Codes,
) -> Result<SithsCard, InitError> {
    let pin1 = check_codes(codes)?;
    let card = VirtualCard::create(state, blank_state(layout, serial, codes)?)?;
    let shared = Arc::new(Mutex::new(card));
    let mut card = SithsCard::open(Box::new(MemoryTransport::connect(shared)?))?;
    card.verify_pin(PinKind::Pin1, &pin1)?;
    write_codes(state, codes)?;
    Ok(card)
}

/// Generate a key in `slot`, have `ca` certify it for `req` and write the certificate under
/// `label`; returns the certificate. PIN1 must be verified.
pub fn generate_and_certify(
    card: &mut dyn Card,
    slot: KeySlot,
    label: &str,
    ca: &TestCa,
    req: &PersonCertRequest,
) -> Result<Vec<u8>, InitError> {
    let public = card.generate_key(slot)?;
    certify(card, slot, label, ca, req, &public)
}

/// Have `ca` certify the key already in `slot` for `req` and write the certificate under
/// `label`; returns the certificate. PIN1 must be verified.
pub fn certify_key_in(
    card: &mut dyn Card,
    slot: KeySlot,
    label: &str,
    ca: &TestCa,
    req: &PersonCertRequest,
) -> Result<Vec<u8>, InitError> {
    let public = card.read_public_key(slot)?.ok_or(InitError::NoKey(slot))?;
    certify(card, slot, label, ca, req, &public)
}

fn certify(
    card: &mut dyn Card,
    slot: KeySlot,
    label: &str,
    ca: &TestCa,
    req: &PersonCertRequest,
    public: &PublicKey,
) -> Result<Vec<u8>, InitError> {
    let spki = public
        .to_spki_der()
        .map_err(|e| CardError::Malformed(format!("card public key: {e}")))?;
    let cert = ca.issue_person_cert(req, &spki)?;
    card.write_certificate(slot, label, &cert)?;
    Ok(cert)
}

/// A personalised card's state with `codes`, no keys yet.
/// The token label of every test card.
const CARD_LABEL: &str = "SITHS e-id kort";

/// A personalised card in `layout` with no keys.
fn blank_state(layout: Layout, serial: &str, codes: &Codes) -> Result<CardState, InitError> {
    let initial = InitialCodes {
        pin1: &codes.pin1,
        pin2: &codes.pin2,
        puk: &codes.puk,
    };
    Ok(match layout {
        Layout::Pkcs15 => blank_card(serial, CARD_LABEL, &initial)?,
        Layout::Idprime => crate::virtual_card::idprime::personalise::blank_card(
            serial,
            CARD_LABEL,
            &crate::virtual_card::idprime::personalise::IdprimeCodes {
                pin1: &codes.pin1,
                pin2: Some(&codes.pin2),
                puk: &codes.puk,
            },
        )?,
    })
}

fn check_codes(codes: &Codes) -> Result<SecretCode, InitError> {
    let pin1 = SecretCode::pin(codes.pin1.clone()).map_err(|e| InitError::Rule("PIN1", e))?;
    SecretCode::pin(codes.pin2.clone()).map_err(|e| InitError::Rule("PIN2", e))?;
    SecretCode::puk(codes.puk.clone()).map_err(|e| InitError::Rule("PUK", e))?;
    Ok(pin1)
}

/// The codes of a one-code card: PIN1 and the PUK (its PIN2 is not on the card).
fn check_one_code(codes: &Codes) -> Result<(), InitError> {
    SecretCode::pin(codes.pin1.clone()).map_err(|e| InitError::Rule("PIN1", e))?;
    SecretCode::puk(codes.puk.clone()).map_err(|e| InitError::Rule("PUK", e))?;
    Ok(())
}

/// A one-code card's letter: no PIN2 line, since the card has no second code.
fn write_one_code(state: &Path, codes: &Codes) -> Result<(), InitError> {
    write_file(
        pins_path(state),
        format!("PIN1={}\nPUK={}\n", codes.pin1, codes.puk),
    )
}

fn write_codes(state: &Path, codes: &Codes) -> Result<(), InitError> {
    write_file(
        pins_path(state),
        format!(
            "PIN1={}\nPIN2={}\nPUK={}\n",
            codes.pin1, codes.pin2, codes.puk
        ),
    )
}

/// The codes letter: owner only, created so.
fn write_file(path: PathBuf, text: String) -> Result<(), InitError> {
    let text = zeroize::Zeroizing::new(text);
    crate::private_file::write(&path, text.as_bytes()).map_err(|e| InitError::Io(path.clone(), e))
}
