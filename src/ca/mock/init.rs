//! `ca-mock init`: a complete test world in one directory: the TEST PKI shaped after Inera's,
//! the TLS server certificate, the directory of persons and a virtual card per person.
//!
//! RSA key generation is the whole cost, so keys are made on two threads (the machines this runs
//! on have two cores) and the root's RSA-4096 key is made once, alongside the others.

use std::path::Path;
use std::time::Instant;

use rsa::RsaPrivateKey;

use super::MockError;
use super::dir::{CaName, Config, DEFAULT_DEADLINE, MockDir, parse_date, write_json};
use super::persons::{BUILTIN_PERSONS_JSON, Directory, Person};
use super::store::Store;
use crate::ca::Profile;
use crate::pki::date::now_unix;
use crate::pki::keys::{RsaSpki, generate_rsa_key, private_key_pkcs8_der};
use crate::pki::{Date, TestCa};
use crate::private_file;
use crate::provision::{generate_and_certify, make_pre_upgrade_card_with, personalised_card};

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

/// Make DIR (which must be absent or empty) with the built-in directory of persons.
pub fn init(dir: &Path) -> Result<InitSummary, MockError> {
    init_with_persons(dir, BUILTIN_PERSONS_JSON)
}

/// Like [`init`] with another directory of persons (JSON as in assets/test-persons.json).
pub fn init_with_persons(dir: &Path, persons_json: &str) -> Result<InitSummary, MockError> {
    let started = Instant::now();
    let directory = Directory::parse(persons_json, Path::new("the directory of persons"))?;
    prepare_empty_dir(dir)?;
    let md = MockDir::new(dir);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| MockError::Io(p, e)
    };
    private_file::create_dir_all(&dir.join("ca")).map_err(io(&dir.join("ca")))?;
    private_file::create_dir_all(&md.cards_dir()).map_err(io(&md.cards_dir()))?;

    // Root key (4096, slow) on one thread, the six 2048-bit keys on the other.
    let (root_key, keys) = std::thread::scope(|s| {
        let root = s.spawn(|| generate_rsa_key(4096));
        let others: Result<Vec<RsaPrivateKey>, _> =
            (0..6).map(|_| generate_rsa_key(2048)).collect();
        let root = root
            .join()
            .unwrap_or_else(|_| Err(crate::pki::PkiError::KeyGeneration("thread".into())));
        (root, others)
    });
    let pki = |e| MockError::Pki(dir.to_path_buf(), e);
    let root_key = root_key.map_err(pki)?;
    let mut keys = keys.map_err(pki)?.into_iter();
    let mut next_key = || {
        keys.next().ok_or_else(|| {
            MockError::Pki(
                dir.to_path_buf(),
                crate::pki::PkiError::KeyGeneration("too few keys".into()),
            )
        })
    };

    let root = TestCa::new_root_with_key(CaName::Root.common_name(), &root_key).map_err(pki)?;
    write_ca(&md, CaName::Root, &root)?;
    let mut issuing = Vec::new();
    for name in CaName::ISSUING {
        let ca = TestCa::new_issuing_with_key(
            &root,
            name.common_name(),
            &next_key()?,
            name.trust_level(),
        )
        .map_err(pki)?;
        write_ca(&md, name, &ca)?;
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

    let server_key = next_key()?;
    let server_spki = RsaSpki::from_key(&rsa::RsaPublicKey::from(&server_key)).map_err(pki)?;
    let server_cert = root
        .issue_server_cert(
            "TEST CA mock localhost",
            &SERVER_NAMES,
            &server_spki.spki_der,
            825,
        )
        .map_err(pki)?;
    write(&md.server_pem(), pem("CERTIFICATE", &server_cert))?;
    write_key(&md.server_key(), &server_key)?;

    write_json(
        &md.config_json(),
        &Config {
            deadline: default_deadline(),
        },
    )?;
    // The directory of persons holds every card's PIN and PUK.
    write_secret(&md.persons_json(), persons_json.to_string())?;

    let ca = |name: CaName| {
        issuing
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, ca)| ca)
            .ok_or_else(|| MockError::Config(dir.to_path_buf(), "issuing CA missing".into()))
    };
    let (legacy, hsa3, pnr3) = (ca(CaName::Legacy)?, ca(CaName::Hsa3)?, ca(CaName::Pnr3)?);
    let store = Store::open(&md.store())?;

    // Cards on two threads: each person's card keys are made by the virtual card itself.
    let persons = directory.persons();
    let (first, second) = persons.split_at(persons.len() / 2);
    let results: Vec<Result<Vec<Issued>, MockError>> = std::thread::scope(|s| {
        let handles: Vec<_> = [first, second]
            .into_iter()
            .map(|part| {
                let md = &md;
                s.spawn(move || {
                    let mut issued = Vec::new();
                    for person in part {
                        issued.extend(make_card(md, person, legacy, hsa3, pnr3)?);
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
        for (person, profile, der) in result? {
            store.insert(&person.hsa_id, profile, &der)?;
        }
    }
    Ok(InitSummary {
        persons: persons.len(),
        cards: persons.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A person's card: pre-upgrade (legacy pair from DIR's legacy CA), or already upgraded (the
/// four profile pairs, returned so the store can hold them).
fn make_card(
    md: &MockDir,
    person: &Person,
    legacy: &TestCa,
    hsa3: &TestCa,
    pnr3: &TestCa,
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
            &state,
            &person.card_serial,
            &codes,
            &person.name_with(&person.hsa_id),
            legacy,
            validity,
        )
        .map_err(card_err)?;
        return Ok(Vec::new());
    }
    let mut card = personalised_card(&state, &person.card_serial, &codes).map_err(card_err)?;
    let mut issued = Vec::new();
    for profile in Profile::ALL {
        let ca = match profile.identity() {
            crate::ca::IdentityKind::HsaId => hsa3,
            crate::ca::IdentityKind::Personnummer => pnr3,
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
