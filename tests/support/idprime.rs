//! The virtual card in its IDPrime layout (a current SITHS card as stock OpenSC reads it),
//! served through a pcscd of its own, and what a test reads back from its state file.
//!
//! Stock OpenSC binds this layout with its own `idprime` driver and its own opensc.conf: every
//! program a test starts here has `OPENSC_CONF` removed from its environment, so no site
//! setting (ours or the host's environment's) is in play.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use siths_upgrade::ca::mock::{CaName, MockDir};
use siths_upgrade::idprime::files::decompress_cert;
use siths_upgrade::provision::make_pre_upgrade_idprime_card_with;
use siths_upgrade::virtual_card::CardState;

use super::persons::Person;
use super::served::{ServedCa, ServedCard};

/// The IDPrime PIN1 reference, whose tries the card keeps [public: OpenSC pkcs15-idprime.c].
pub const PIN1_REF: u8 = 0x11;
/// The signature PIN's reference (0x83), which OpenSC 0.23 does not show.
pub const PIN2_REF: u8 = 0x83;
/// The files of the legacy pair on our IDPrime layout (authentication, then signature).
pub const CERT_FIDS: [u16; 2] = [0x0210, 0x0211];

/// OpenSC's PKCS#11 module, where Debian installs it.
pub fn opensc_module() -> &'static str {
    [
        "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
        "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
        "/usr/lib/opensc-pkcs11.so",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("OpenSC's opensc-pkcs11.so is installed")
}

/// `person`'s pre-upgrade IDPrime card, its legacy pair issued by the legacy CA of `ca`'s world
/// (so that CA takes its login), made in a directory of its own and served. The card's serial
/// and codes are the person's in the CA's directory.
pub fn served_card_for(ca: &ServedCa, person: Person) -> ServedCard {
    let md = MockDir::new(&ca.dir);
    let directory = md.persons().unwrap();
    let entry = directory.by_hsa_id(person.hsa_id).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    make_pre_upgrade_idprime_card_with(
        &state,
        &entry.card_serial,
        &entry.codes(),
        &entry.name_with(person.hsa_id),
        &md.load_ca(CaName::Legacy).unwrap(),
    )
    .unwrap_or_else(|e| panic!("an IDPrime card for {}: {e}", person.hsa_id));
    let mut card = ServedCard::of(state, dir);
    card.serve();
    card
}

/// The codes of `person`'s card, from the CA's directory (its code letter).
pub fn codes_of(ca: &ServedCa, person: Person) -> siths_upgrade::provision::Codes {
    let md = MockDir::new(&ca.dir);
    md.persons()
        .unwrap()
        .by_hsa_id(person.hsa_id)
        .unwrap()
        .codes()
}

/// The DER of a legacy certificate as the card holds it (its compressed file decompressed):
/// 0 authentication, 1 signature.
pub fn cert_on_card(state: &Path, index: usize) -> Vec<u8> {
    let state = CardState::load(state).unwrap();
    let stored = state.ef_content(0x3F00, CERT_FIDS[index]).unwrap();
    decompress_cert(stored).expect("a compressed certificate file")
}

/// Tries left of the PIN with `reference`, as the card's state file holds them.
pub fn tries_on_card(state: &Path, reference: u8) -> Option<u8> {
    CardState::load(state).unwrap().pin_tries_left(reference)
}

/// The card's 16-byte cardid (file 0201), as the card holds it.
pub fn cardid_on_card(state: &Path) -> Vec<u8> {
    CardState::load(state)
        .unwrap()
        .ef_content(0x3F00, 0x0201)
        .unwrap()
        .to_vec()
}

/// `siths-upgrade --pkcs11 opensc ARGS` against `card`, with stock opensc.conf (no
/// `OPENSC_CONF`), `stdin` for the codes.
pub fn p11(card: &ServedCard, args: &[&str], stdin: &str) -> Output {
    let mut all = vec!["--pkcs11", "opensc"];
    all.extend_from_slice(args);
    run_stock(card, super::cli::BIN, &all, stdin)
}

/// Run `program` with `card`'s pcscd environment and stock opensc.conf.
pub fn run_stock(card: &ServedCard, program: &str, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .envs(super::cli::private_home())
        .envs(card.env())
        .env_remove("OPENSC_CONF")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A file in the card's own directory.
pub fn file(card: &ServedCard, name: &str) -> PathBuf {
    card.dir.path().join(name)
}
