//! `ca-mock init`: a complete test world in one directory: the TEST PKI shaped after Inera's,
//! the TLS server certificate, the directory of persons and a virtual card per person.
//!
//! RSA key generation is the whole cost, so keys are made on two threads (the machines this runs
//! on have two cores) and the root's RSA-4096 key is made once, alongside the others.
//!
//! The demo cannot wait those seconds, so [`init_demo`] makes the same PKI from TEST keys shipped
//! in assets/demo-test-world (published, so nothing they sign is trusted outside the demo), with
//! certificates issued at that moment, and only the cards the demo opens at once; another
//! person's card is made when first asked for ([`ensure_card`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rsa::RsaPrivateKey;

use super::dir::{CaName, Config, DEFAULT_DEADLINE, MockDir, parse_date, write_json};
use super::error::MockError;
use super::persons::{BUILTIN_PERSONS_JSON, Directory, Person};
use super::store::Store;
use crate::ca::Profile;
use crate::pki::date::now_unix;
use crate::pki::keys::{RsaSpki, generate_rsa_key, private_key_pkcs8_der, rsa_key_from_pem};
use crate::pki::{Date, PkiError, TestCa};
use crate::private_file;
use crate::provision::{
    generate_and_certify, make_pre_upgrade_card_from_keys, make_pre_upgrade_card_with,
    personalised_card,
};
use crate::virtual_card::Layout;

/// A certificate issued at init for an already-upgraded card, to go into the store.
type Issued = (Person, Profile, Vec<u8>);

/// What `init` made, for the command line to report.
#[derive(Debug, Clone)]
pub struct InitSummary {
    pub persons: usize,
    pub cards: usize,
    pub seconds: f64,
}

/// Names the server certificate answers to.
pub const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// Make DIR (which must be absent or empty) with the built-in directory of persons and cards
/// of the PKCS#15 layout.
pub fn init(dir: &Path) -> Result<InitSummary, MockError> {
    init_with_persons(dir, BUILTIN_PERSONS_JSON, Layout::Pkcs15)
}

/// Like [`init`] with another directory of persons (JSON as in assets/test-persons.json) and
/// the cards in `layout`.
pub fn init_with_persons(
    dir: &Path,
    persons_json: &str,
    layout: Layout,
) -> Result<InitSummary, MockError> {
    let started = Instant::now();
    let directory = Directory::parse(persons_json, Path::new("the directory of persons"))?;
    let md = make_dir(dir)?;

    // Root key (4096, slow) on one thread, the six 2048-bit keys on the other.
    let (root_key, keys) = std::thread::scope(|s| {
        let root = s.spawn(|| generate_rsa_key(4096));
        let others: Result<Vec<RsaPrivateKey>, _> =
            (0..6).map(|_| generate_rsa_key(2048)).collect();
        let root = root
            .join()
            .unwrap_or_else(|_| Err(PkiError::KeyGeneration("thread".into())));
        (root, others)
    });
    let pki = |e| MockError::Pki(dir.to_path_buf(), e);
    let root_key = root_key.map_err(pki)?;
    let keys = keys.map_err(pki)?;
    let [hsa3, pnr3, hsa2, pnr2, legacy, server]: [RsaPrivateKey; 6] =
        keys.try_into().map_err(|_| {
            MockError::Pki(
                dir.to_path_buf(),
                PkiError::KeyGeneration("too few keys".into()),
            )
        })?;
    let cas = write_pki(
        &md,
        &PkiKeys {
            root: &root_key,
            issuing: [&hsa3, &pnr3, &hsa2, &pnr2, &legacy],
            server: &server,
        },
    )?;
    write_config_and_persons(&md, persons_json, layout)?;
    let store = Store::open(&md.store())?;

    // Cards on two threads: each person's card keys are made by the virtual card itself.
    let persons = directory.persons();
    let (first, second) = persons.split_at(persons.len() / 2);
    let results: Vec<Result<Vec<Issued>, MockError>> = std::thread::scope(|s| {
        let handles: Vec<_> = [first, second]
            .into_iter()
            .map(|part| {
                let (md, cas) = (&md, &cas);
                s.spawn(move || {
                    let mut issued = Vec::new();
                    for person in part {
                        issued.extend(make_card(md, person, cas, layout)?);
                    }
                    Ok(issued)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(MockError::Config(
                        dir.to_path_buf(),
                        "a card thread failed".into(),
                    ))
                })
            })
            .collect()
    });
    for result in results {
        store_issued(&store, result?)?;
    }
    Ok(InitSummary {
        persons: persons.len(),
        cards: persons.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The demo's world in DIR (absent or empty): the same CAs, server certificate, configuration
/// and directory of persons as [`init`], made from the TEST keys in assets/demo-test-world with
/// certificates issued now, and the cards of [`DEMO_CARDS`] only. Milliseconds instead of
/// seconds: nothing here generates a key. [`ensure_card`] makes any other person's card.
pub fn init_demo(dir: &Path, layout: Layout) -> Result<InitSummary, MockError> {
    let started = Instant::now();
    let directory = Directory::parse(BUILTIN_PERSONS_JSON, Path::new("the directory of persons"))?;
    let md = make_dir(dir)?;
    let key =
        |k: &TestKey| rsa_key_from_pem(k.pem).map_err(|e| MockError::Pki(PathBuf::from(k.file), e));
    let [root, hsa3, pnr3, hsa2, pnr2, legacy] = &DEMO_CA_KEYS;
    let cas = write_pki(
        &md,
        &PkiKeys {
            root: &key(root)?,
            issuing: [
                &key(hsa3)?,
                &key(pnr3)?,
                &key(hsa2)?,
                &key(pnr2)?,
                &key(legacy)?,
            ],
            server: &key(&DEMO_SERVER_KEY)?,
        },
    )?;
    write_config_and_persons(&md, BUILTIN_PERSONS_JSON, layout)?;
    Store::open(&md.store())?;
    for card in &DEMO_CARDS {
        let person = directory.by_hsa_id(card.hsa_id).ok_or_else(|| {
            MockError::Directory(
                PathBuf::from("assets/test-persons.json"),
                format!("the demo card's holder {} is missing", card.hsa_id),
            )
        })?;
        let state = md.card_state(&person.hsa_id);
        make_pre_upgrade_card_from_keys(
            layout,
            &state,
            &person.card_serial,
            &person.codes(),
            &person.name_with(&person.hsa_id),
            &cas.legacy,
            [&key(&card.auth)?, &key(&card.sign)?],
        )
        .map_err(|e| MockError::Card(state.clone(), e.to_string()))?;
    }
    Ok(InitSummary {
        persons: directory.persons().len(),
        cards: DEMO_CARDS.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The card of `hsa_id` in DIR, made now (fresh keys from the card, certificates from DIR's CAs,
/// an upgraded card's certificates into the store) if DIR has none: the demo world holds only
/// [`DEMO_CARDS`] until another is asked for. A card whose making failed is removed, so the
/// next call makes it again rather than open half a card (a killed run leaves its copy of DIR
/// behind, never reused).
pub fn ensure_card(md: &MockDir, hsa_id: &str) -> Result<(), MockError> {
    let state = md.card_state(hsa_id);
    if state.is_file() && md.card_pins(hsa_id).is_file() {
        return Ok(());
    }
    let directory = md.persons()?;
    let person = directory.by_hsa_id(hsa_id).ok_or_else(|| {
        MockError::Directory(
            md.persons_json(),
            format!("no test person has the HSA-id {hsa_id}"),
        )
    })?;
    let remove_card = || {
        for file in [md.card_state(hsa_id), md.card_pins(hsa_id)] {
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(MockError::Io(file, e));
                }
                _ => {}
            }
        }
        Ok(())
    };
    remove_card()?;
    let made = (|| {
        let cas = IssuingCas {
            legacy: md.load_ca(CaName::Legacy)?,
            hsa3: md.load_ca(CaName::Hsa3)?,
            pnr3: md.load_ca(CaName::Pnr3)?,
        };
        let issued = make_card(md, person, &cas, md.config()?.card_layout)?;
        store_issued(&Store::open(&md.store())?, issued)
    })();
    if made.is_err() {
        // The error that matters is the one above; a file left here is removed next time.
        let _ = remove_card();
    }
    made
}

/// A TEST key shipped with the source (assets/demo-test-world/README.md): its file, for error
/// messages, and its PEM.
struct TestKey {
    file: &'static str,
    pem: &'static str,
}

macro_rules! test_key {
    ($file:literal) => {
        TestKey {
            file: concat!("assets/demo-test-world/", $file),
            pem: include_str!(concat!("../../../assets/demo-test-world/", $file)),
        }
    };
}

/// The demo's CA keys, in the order of [`CaName::ALL`]. The root's is RSA-4096 like Inera's
/// (shipped, so its size costs nothing to make), the others RSA-2048.
const DEMO_CA_KEYS: [TestKey; 6] = [
    test_key!("TEST-root-ca.key.pem"),
    test_key!("TEST-hsa3-ca.key.pem"),
    test_key!("TEST-pnr3-ca.key.pem"),
    test_key!("TEST-hsa2-ca.key.pem"),
    test_key!("TEST-pnr2-ca.key.pem"),
    test_key!("TEST-legacy-ca.key.pem"),
];

const DEMO_SERVER_KEY: TestKey = test_key!("TEST-ca-mock-server.key.pem");

/// A card the demo world holds from the start, with its legacy pair's TEST keys.
pub struct DemoCard {
    pub hsa_id: &'static str,
    auth: TestKey,
    sign: TestKey,
}

/// The cards the demo opens at once: the demo holder's (the demo card) and the service-centre
/// operator's (the desk demo's second card). Both are pre-upgrade cards in the directory of
/// persons.
pub const DEMO_CARDS: [DemoCard; 2] = [
    DemoCard {
        hsa_id: crate::provision::DEMO_HSA_ID,
        auth: test_key!("TEST-card-TST5565594230-1001-slot1.key.pem"),
        sign: test_key!("TEST-card-TST5565594230-1001-slot5.key.pem"),
    },
    DemoCard {
        hsa_id: crate::provision::DEMO_OPERATOR_HSA_ID,
        auth: test_key!("TEST-card-TST5565594230-1007-slot1.key.pem"),
        sign: test_key!("TEST-card-TST5565594230-1007-slot5.key.pem"),
    },
];

/// The keys of DIR's PKI: the root, the issuing CAs in the order of [`CaName::ISSUING`], the
/// TLS server.
struct PkiKeys<'a> {
    root: &'a RsaPrivateKey,
    issuing: [&'a RsaPrivateKey; 5],
    server: &'a RsaPrivateKey,
}

/// The CAs that issue the cards' certificates.
struct IssuingCas {
    legacy: TestCa,
    hsa3: TestCa,
    pnr3: TestCa,
}

/// DIR made (0700) with its `ca` and `cards` folders.
fn make_dir(dir: &Path) -> Result<MockDir, MockError> {
    prepare_empty_dir(dir)?;
    let md = MockDir::new(dir);
    for folder in [dir.join("ca"), md.cards_dir()] {
        private_file::create_dir_all(&folder).map_err(|e| MockError::Io(folder.clone(), e))?;
    }
    Ok(md)
}

/// The root, the issuing CAs and the TLS server certificate, certified now, with their keys,
/// root.pem and issuing.pem.
fn write_pki(md: &MockDir, keys: &PkiKeys<'_>) -> Result<IssuingCas, MockError> {
    let pki = |e| MockError::Pki(md.path().to_path_buf(), e);
    let root = TestCa::new_root_with_key(CaName::Root.common_name(), keys.root).map_err(pki)?;
    write_ca(md, CaName::Root, &root)?;
    let mut issuing = Vec::new();
    for (name, key) in CaName::ISSUING.into_iter().zip(keys.issuing) {
        let ca = TestCa::new_issuing_with_key(&root, name.common_name(), key, name.trust_level())
            .map_err(pki)?;
        write_ca(md, name, &ca)?;
        issuing.push((name, ca));
    }
    write(&md.root_pem(), root.cert_pem())?;
    write(
        &md.issuing_pem(),
        issuing
            .iter()
            .map(|(_, ca)| ca.cert_pem())
            .collect::<String>(),
    )?;

    let server_spki = RsaSpki::from_key(&rsa::RsaPublicKey::from(keys.server)).map_err(pki)?;
    let server_cert = root
        .issue_server_cert(
            "TEST CA mock localhost",
            &SERVER_NAMES,
            &server_spki.spki_der,
            825,
        )
        .map_err(pki)?;
    write(&md.server_pem(), pem("CERTIFICATE", &server_cert))?;
    write_key(&md.server_key(), keys.server)?;

    let mut take = |name: CaName| {
        let at = issuing
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or_else(|| {
                MockError::Config(md.path().to_path_buf(), "issuing CA missing".into())
            })?;
        Ok::<_, MockError>(issuing.swap_remove(at).1)
    };
    Ok(IssuingCas {
        legacy: take(CaName::Legacy)?,
        hsa3: take(CaName::Hsa3)?,
        pnr3: take(CaName::Pnr3)?,
    })
}

/// config.json (the upgrade deadline) and persons.json (every card's codes, so 0600).
fn write_config_and_persons(
    md: &MockDir,
    persons_json: &str,
    card_layout: Layout,
) -> Result<(), MockError> {
    write_json(
        &md.config_json(),
        &Config {
            deadline: default_deadline(),
            card_layout,
        },
    )?;
    write_secret(&md.persons_json(), persons_json.to_string())
}

fn store_issued(store: &Store, issued: Vec<Issued>) -> Result<(), MockError> {
    for (person, profile, der) in issued {
        store.insert(&person.hsa_id, profile, &der)?;
    }
    Ok(())
}

/// A person's card: pre-upgrade (legacy pair from DIR's legacy CA), or already upgraded (the
/// four profile pairs, returned so the store can hold them).
fn make_card(
    md: &MockDir,
    person: &Person,
    cas: &IssuingCas,
    layout: Layout,
) -> Result<Vec<Issued>, MockError> {
    let state = md.card_state(&person.hsa_id);
    let card_err = |e: crate::provision::InitError| MockError::Card(state.clone(), e.to_string());
    let codes = person.codes();
    if !person.already_upgraded {
        let validity = person.legacy_expires_in_days.map(|days| {
            let end = now_unix() + days * 86_400;
            (
                end - crate::pki::issue::DEFAULT_PERSON_VALIDITY_DAYS * 86_400,
                end,
            )
        });
        make_pre_upgrade_card_with(
            layout,
            &state,
            &person.card_serial,
            &codes,
            &person.name_with(&person.hsa_id),
            &cas.legacy,
            validity,
        )
        .map_err(card_err)?;
        return Ok(Vec::new());
    }
    let mut card =
        personalised_card(layout, &state, &person.card_serial, &codes).map_err(card_err)?;
    let mut issued = Vec::new();
    for profile in Profile::ALL {
        let ca = match profile.identity() {
            crate::ca::IdentityKind::HsaId => &cas.hsa3,
            crate::ca::IdentityKind::Personnummer => &cas.pnr3,
        };
        let mut request = person.cert_request(profile);
        if person.renewal_due {
            request.not_after = Some(now_unix() + super::persons::RENEWAL_DUE_IN_DAYS * 86_400);
        }
        let der = generate_and_certify(
            &mut card,
            profile.slot(),
            profile.card_label(),
            ca,
            &request,
        )
        .map_err(card_err)?;
        issued.push((person.clone(), profile, der));
    }
    Ok(issued)
}

/// [`DEFAULT_DEADLINE`], or half a year from today once that date is near: a directory made
/// later must still allow upgrades.
fn default_deadline() -> String {
    let soon = Date::from_unix(now_unix() + 183 * 86_400);
    match parse_date(DEFAULT_DEADLINE) {
        Some(d) if d >= soon => DEFAULT_DEADLINE.to_string(),
        _ => soon.to_string(),
    }
}

/// DIR holds PUKs and CA keys: it is made 0700, and an empty DIR the caller made is set to 0700
/// before anything is written into it.
fn prepare_empty_dir(dir: &Path) -> Result<(), MockError> {
    let io = |e| MockError::Io(dir.to_path_buf(), e);
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(MockError::NotEmpty(dir.to_path_buf()));
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(
                    dir,
                    std::fs::Permissions::from_mode(private_file::DIR_MODE),
                )
                .map_err(io)?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            private_file::create_dir_all(dir).map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}

fn write_ca(md: &MockDir, name: CaName, ca: &TestCa) -> Result<(), MockError> {
    write(&md.ca_pem(name), ca.cert_pem())?;
    write_secret(&md.ca_key(name), pem("PRIVATE KEY", ca.key_pkcs8_der()))
}

fn write_key(path: &Path, key: &RsaPrivateKey) -> Result<(), MockError> {
    let der = private_key_pkcs8_der(key).map_err(|e| MockError::Pki(path.to_path_buf(), e))?;
    write_secret(path, pem("PRIVATE KEY", &der))
}

fn write(path: &Path, text: String) -> Result<(), MockError> {
    std::fs::write(path, text).map_err(|e| MockError::Io(path.to_path_buf(), e))
}

/// Private keys and codes are readable by their owner only, even test ones.
fn write_secret(path: &Path, text: String) -> Result<(), MockError> {
    let text = zeroize::Zeroizing::new(text);
    private_file::write(path, text.as_bytes()).map_err(|e| MockError::Io(path.to_path_buf(), e))
}

/// PEM armour for DER.
pub fn pem(label: &str, der: &[u8]) -> String {
    crate::pki::pem::encode(label, der)
}

#[cfg(test)]
mod tests {
    use rsa::traits::PublicKeyParts;

    use super::*;

    /// Every shipped TEST key: readable, the size the demo promises, marked TEST before its PEM,
    /// and no key used twice (a CA and a card sharing a key would make a PKI no real CA has).
    #[test]
    fn the_demo_test_keys_are_distinct_marked_rsa_keys() {
        let mut all: Vec<(&TestKey, usize)> = DEMO_CA_KEYS
            .iter()
            .enumerate()
            .map(|(i, k)| (k, if i == 0 { 4096 } else { 2048 }))
            .collect();
        all.push((&DEMO_SERVER_KEY, 2048));
        for card in &DEMO_CARDS {
            all.push((&card.auth, 2048));
            all.push((&card.sign, 2048));
        }
        let mut moduli = std::collections::HashSet::new();
        for (key, bits) in all {
            let note = key.pem.split("-----BEGIN").next().unwrap_or_default();
            assert!(note.contains("TEST KEY, NOT SECRET"), "{}", key.file);
            assert!(key.file.contains("/TEST-"), "{}", key.file);
            let rsa = rsa_key_from_pem(key.pem).unwrap_or_else(|e| panic!("{}: {e}", key.file));
            assert_eq!(rsa.n().bits(), bits, "{}", key.file);
            assert!(moduli.insert(rsa.n().clone()), "{} is used twice", key.file);
        }
        // The CA keys are in the order their names say.
        for (name, key) in CaName::ALL.iter().zip(&DEMO_CA_KEYS) {
            assert!(
                key.file.contains(&format!("TEST-{}-ca", name.file_stem())),
                "{name:?}: {}",
                key.file
            );
        }
    }
}
