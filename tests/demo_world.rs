//! The demo's CA world made from an empty cache (assets/demo-test-world's TEST keys, certificates
//! issued at that moment): a real PKI that OpenSSL accepts, private files, a fresh deadline, the
//! demo card upgraded end to end against it, and another person's card made when first asked for.
//! Behaviour only: how fast it is lives in `cargo bench --bench gui`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::{Duration, Instant};

use siths_upgrade::ca::Profile;
use siths_upgrade::ca::mock::{CaName, MockDir};
use siths_upgrade::card::{CardOverview, SecretCode};
use siths_upgrade::gui::demo::{DEMO_OPERATOR_HSA_ID, DemoWorld};
use siths_upgrade::gui::protocol::{CardStatus, Event, Task, TaskOutcome, WorkerCommand};
use siths_upgrade::gui::worker::{Mode, Notifier, Worker};
use siths_upgrade::pki::date::now_unix;
use siths_upgrade::pki::{CertInfo, Date};
use siths_upgrade::provision::DEMO_HSA_ID;
use support::persons::{OTHER_HOLDER, RENEWAL_DUE, UNKNOWN};

/// Hang guard for one awaited event (an upgrade makes four RSA keys on the card); not a timing
/// expectation.
const HANG_GUARD: Duration = Duration::from_secs(180);

/// `openssl verify` of each certificate against the world's root and issuing CAs.
fn openssl_verify(md: &MockDir, certs: &[(String, Vec<u8>)]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, der) in certs {
        let file = dir.path().join(format!("{name}.pem"));
        std::fs::write(
            &file,
            siths_upgrade::pki::pem::certificate(der).into_bytes(),
        )
        .unwrap();
        let out = Process::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(md.root_pem())
            .arg("-untrusted")
            .arg(md.issuing_pem())
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn der_of_pem_file(path: &Path) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(path).unwrap().to_vec()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The world's certificates: every CA, the server, and the legacy pairs of the cards it holds.
fn world_certificates(md: &MockDir, cards: &[CardOverview]) -> Vec<(String, Vec<u8>)> {
    let mut certs: Vec<(String, Vec<u8>)> = CaName::ALL
        .iter()
        .map(|ca| (format!("ca-{ca:?}"), md.ca_cert_der(*ca).unwrap()))
        .collect();
    certs.push(("server".into(), der_of_pem_file(&md.server_pem())));
    for (i, card) in cards.iter().enumerate() {
        for cert in &card.certificates {
            certs.push((format!("card{i}-{}", cert.label), cert.der.clone()));
        }
    }
    certs
}

fn wait_for(worker: &Worker, what: &str, want: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match worker.recv_timeout(left) {
            Some(e) if want(&e) => return e,
            Some(_) => {}
            None => panic!("no {what} within the hang guard"),
        }
    }
}

/// The window's upgrade through `worker` with the demo codes: it writes all four profiles.
fn upgrade_through(worker: &Worker, codes: &siths_upgrade::gui::demo::DemoCodes) {
    worker.send(WorkerCommand::Upgrade {
        pin1: SecretCode::pin(codes.pin1.clone()).unwrap(),
        pin2: SecretCode::pin(codes.pin2.clone()).unwrap(),
    });
    let outcome = match wait_for(worker, "end of the upgrade", |e| {
        matches!(e, Event::Finished(Task::Upgrade, _))
    }) {
        Event::Finished(_, outcome) => outcome,
        _ => unreachable!(),
    };
    let TaskOutcome::Upgraded(summary) = outcome else {
        panic!("the demo upgrade failed: {outcome:?}");
    };
    assert_eq!(summary.written, Profile::ALL.to_vec());
}

fn ready(worker: &Worker) -> CardOverview {
    match wait_for(worker, "ready card", |e| {
        matches!(e, Event::Card(CardStatus::Ready(_)))
    }) {
        Event::Card(CardStatus::Ready(o)) => *o,
        _ => unreachable!(),
    }
}

fn cache_and_world() -> (tempfile::TempDir, PathBuf) {
    let cache = tempfile::tempdir().unwrap();
    let world = cache
        .path()
        .join(format!("demo-ca-{}", env!("CARGO_PKG_VERSION")));
    (cache, world)
}

/// `demo --layout idprime`: the demo's card laid out as current SITHS cards are, cached apart
/// from the PKCS#15 world, and the window's worker upgrades it like the other.
#[test]
fn the_idprime_demo_world_is_cached_on_its_own_and_its_card_upgrades() {
    use siths_upgrade::virtual_card::Layout;
    let cache = tempfile::tempdir().unwrap();
    let world = DemoWorld::prepare_layout_in(cache.path(), Layout::Idprime).unwrap();
    assert!(
        cache
            .path()
            .join(format!("demo-ca-{}-idprime", env!("CARGO_PKG_VERSION")))
            .is_dir()
    );
    assert_eq!(
        siths_upgrade::virtual_card::lock_virtual_card(&world.card)
            .state()
            .layout(),
        Layout::Idprime
    );
    let codes = world.codes.clone();
    let worker = Worker::spawn(Mode::Demo(Some(world)), Notifier::default());
    let before = ready(&worker);
    assert_eq!(before.certificates.len(), 2, "the legacy pair");
    upgrade_through(&worker, &codes);
    assert_eq!(ready(&worker).certificates.len(), 4);
}

#[test]
fn a_demo_world_from_an_empty_cache_is_a_real_pki_and_its_card_upgrades() {
    let (cache, cached) = cache_and_world();
    assert!(!cached.exists());
    let world = DemoWorld::prepare_in(cache.path()).unwrap();
    assert!(cached.is_dir(), "the world is kept in the cache");
    assert_eq!(world.holder, DEMO_HSA_ID);

    // This run's private copy: 0700, a deadline half a year ahead, the CA keys 0600.
    let root = world.ca.root_pem.clone().unwrap();
    let copy = MockDir::new(root.parent().unwrap());
    assert_ne!(copy.path(), cached.as_path());
    #[cfg(unix)]
    {
        assert_eq!(mode(copy.path().parent().unwrap()), 0o700, "the run's copy");
        assert_eq!(mode(copy.path()), 0o700, "DIR");
        assert_eq!(mode(&copy.cards_dir()), 0o700, "DIR/cards");
        for ca in CaName::ALL {
            assert_eq!(mode(&copy.ca_key(ca)), 0o600, "{ca:?} key");
        }
        assert_eq!(mode(&copy.server_key()), 0o600, "server key");
        assert_eq!(mode(&copy.persons_json()), 0o600, "persons.json");
        for id in [DEMO_HSA_ID, DEMO_OPERATOR_HSA_ID] {
            assert_eq!(mode(&copy.card_state(id)), 0o600, "{id} card");
            assert_eq!(mode(&copy.card_pins(id)), 0o600, "{id} codes");
        }
    }
    let deadline = copy.config().unwrap().deadline_date().unwrap();
    assert!(
        deadline >= Date::from_unix(now_unix() + 180 * 86_400),
        "deadline {deadline}"
    );
    // The root is an RSA-4096 CA like Inera's; the cards' legacy pairs are RSA-2048.
    assert_eq!(
        CertInfo::from_der(&copy.ca_cert_der(CaName::Root).unwrap())
            .unwrap()
            .key_bits,
        4096
    );

    // The desk demo's second card is there from the start, from the same world.
    let seat = world.seat(DEMO_OPERATOR_HSA_ID).unwrap();
    let notifier = Notifier::default();
    let seat_worker = Worker::spawn(
        Mode::Seat {
            seat,
            ca: world.ca.clone(),
        },
        notifier.clone(),
    );
    let operator = ready(&seat_worker);
    drop(seat_worker);

    let codes = world.codes.clone();
    let worker = Worker::spawn(Mode::Demo(Some(world)), notifier);
    let before = ready(&worker);
    assert_eq!(before.certificates.len(), 2, "the legacy pair");
    assert_eq!(operator.certificates.len(), 2, "the operator's legacy pair");
    for cert in before.certificates.iter().chain(&operator.certificates) {
        let info = cert.info.as_ref().unwrap();
        assert_eq!(info.key_bits, 2048, "{}", cert.label);
        assert!(
            info.days_left(now_unix()) > 1800,
            "{}: issued now",
            cert.label
        );
    }
    openssl_verify(
        &copy,
        &world_certificates(&copy, &[before.clone(), operator]),
    );

    upgrade_through(&worker, &codes);
    let after = ready(&worker);
    assert_eq!(after.certificates.len(), 4, "{after:?}");
    let upgraded: Vec<(String, Vec<u8>)> = after
        .certificates
        .iter()
        .map(|c| (format!("upgraded-{}", c.label), c.der.clone()))
        .collect();
    openssl_verify(&copy, &upgraded);
    drop(worker);

    // The cached world is as it was made: the next run starts from the same pre-upgrade card.
    let again = DemoWorld::prepare_in(cache.path()).unwrap();
    let notifier = Notifier::default();
    let worker = Worker::spawn(Mode::Demo(Some(again)), notifier);
    assert_eq!(ready(&worker).certificates.len(), 2, "a fresh legacy pair");
}

#[test]
fn another_persons_card_is_made_when_first_asked_for() {
    let (cache, cached) = cache_and_world();
    let world = DemoWorld::prepare_in(cache.path()).unwrap();
    // The renewal case (assets/test-persons.json): an upgraded card whose four certificates
    // expire in 20 days, so the CA's store must hold them too.
    let due = RENEWAL_DUE.hsa_id;
    assert!(!MockDir::new(&cached).card_state(due).exists());
    let seat = world.seat(due).unwrap();
    assert_eq!(seat.holder, due);
    let root = world.ca.root_pem.clone().unwrap();
    let copy = MockDir::new(root.parent().unwrap());
    #[cfg(unix)]
    {
        assert_eq!(mode(&copy.card_state(due)), 0o600);
        assert_eq!(mode(&copy.card_pins(due)), 0o600);
    }
    assert!(
        !MockDir::new(&cached).card_state(due).exists(),
        "made in this run's copy, not in the cache"
    );
    let stored = world.mock().certificates_for(due).unwrap();
    assert_eq!(stored.len(), 4, "the CA knows the card's certificates");

    let notifier = Notifier::default();
    let worker = Worker::spawn(
        Mode::Seat {
            seat,
            ca: world.ca.clone(),
        },
        notifier,
    );
    let card = ready(&worker);
    assert_eq!(card.certificates.len(), 4);
    for cert in &card.certificates {
        let days = cert.info.as_ref().unwrap().days_left(now_unix());
        assert!((19..=20).contains(&days), "{}: {days} days", cert.label);
        assert!(
            stored.iter().any(|s| s.der == cert.der),
            "{} is in the store",
            cert.label
        );
    }
    openssl_verify(&copy, &world_certificates(&copy, &[card]));

    // Asked again, the card is opened, not made again.
    let state_before = std::fs::read(copy.card_state(due)).unwrap();
    drop(worker);
    world.seat(due).unwrap();
    assert_eq!(std::fs::read(copy.card_state(due)).unwrap(), state_before);
    // A name no test person has is an error, not a panic.
    assert!(world.seat(UNKNOWN).is_err());

    // Half a card (a state file without its code letter, here garbage) is made again.
    let half = OTHER_HOLDER.hsa_id;
    std::fs::write(copy.card_state(half), b"not a card").unwrap();
    let seat = world.seat(half).unwrap();
    assert_eq!(seat.holder, half);
    assert!(copy.card_pins(half).is_file());
    let worker = Worker::spawn(
        Mode::Seat {
            seat,
            ca: world.ca.clone(),
        },
        Notifier::default(),
    );
    assert_eq!(ready(&worker).certificates.len(), 2, "a new legacy pair");
}
