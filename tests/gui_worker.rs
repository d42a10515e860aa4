//! The GUI's worker thread driven without a window: the demo (in-process card and CA mock) from
//! start to a finished upgrade, the PIN tasks, a card pulled mid-upgrade, export, test login and
//! fetch-existing; and the live card status through a real pcscd with vpcd.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use siths_upgrade::ca::Profile;
use siths_upgrade::card::{CardError, CardOverview, PinKind, SecretCode};
use siths_upgrade::gui::demo::{DemoCodes, DemoWorld};
use siths_upgrade::gui::protocol::{
    CardStatus, DemoAction, Environment, Event, Failure, Task, TaskOutcome, WorkerCommand,
};
use siths_upgrade::gui::worker::{Mode, Notifier, Worker};
use siths_upgrade::pki::CertInfo;
use siths_upgrade::provision::DEMO_HSA_ID;
use siths_upgrade::transport::TransportError;
use siths_upgrade::virtual_card::{self, vpcd};
use siths_upgrade::workflow::error::WorkflowError;
use siths_upgrade::workflow::fit::Fit;
use siths_upgrade::workflow::progress::Step;

/// Hang guard for one awaited event (an upgrade makes four RSA keys on the card); not a timing
/// expectation.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// One cached demo CA world per test binary (made once: RSA-4096 root, a card per person);
/// each test's `DemoWorld` is a fresh copy of it.
fn cache() -> &'static Path {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            DemoWorld::prepare_in(dir.path()).unwrap();
            dir
        })
        .path()
}

fn short(event: &Event) -> String {
    let mut text = format!("{event:?}");
    text.truncate(160);
    text
}

/// The first event matching `want`, skipping others (bounded by [`HANG_GUARD`]).
fn wait_for(worker: &Worker, what: &str, want: impl Fn(&Event) -> bool) -> (Event, Vec<Event>) {
    let deadline = Instant::now() + HANG_GUARD;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match worker.recv_timeout(left) {
            Some(e) if want(&e) => return (e, skipped),
            Some(e) => skipped.push(e),
            None => panic!(
                "no {what}; events meanwhile: {:#?}",
                skipped.iter().map(short).collect::<Vec<_>>()
            ),
        }
    }
}

fn ready(worker: &Worker) -> CardOverview {
    match wait_for(worker, "ready card", |e| {
        matches!(e, Event::Card(CardStatus::Ready(_)))
    })
    .0
    {
        Event::Card(CardStatus::Ready(o)) => *o,
        _ => unreachable!(),
    }
}

/// The outcome of `task`, and the events before it (progress).
fn finished(worker: &Worker, task: Task) -> (TaskOutcome, Vec<Event>) {
    match wait_for(
        worker,
        "end of task",
        |e| matches!(e, Event::Finished(t, _) if *t == task),
    ) {
        (Event::Finished(_, outcome), before) => (outcome, before),
        _ => unreachable!(),
    }
}

fn pin(code: &str) -> SecretCode {
    SecretCode::pin(code.to_string()).unwrap()
}

/// A demo worker on a fresh copy of the demo world; returns it, its card and the codes the
/// window would show.
fn demo() -> (Worker, virtual_card::SharedVirtualCard, DemoCodes, PathBuf) {
    let world = DemoWorld::prepare_in(cache()).unwrap();
    let card = world.card.clone();
    let root = world.ca.root_pem.clone().unwrap();
    let worker = Worker::spawn(Mode::Demo(Some(world)), Notifier::default());
    let (env, _) = wait_for(&worker, "demo environment", |e| {
        matches!(e, Event::Environment(_))
    });
    let Event::Environment(Environment::Demo { ca, codes, holder }) = env else {
        panic!("expected the demo environment, got {env:?}");
    };
    assert_eq!(holder, DEMO_HSA_ID);
    assert!(ca.url.starts_with("https://127.0.0.1:"));
    (worker, card, codes, root)
}

fn upgrade(worker: &Worker, codes: &DemoCodes) {
    worker.send(WorkerCommand::Upgrade {
        pin1: pin(&codes.pin1),
        pin2: pin(&codes.pin2),
    });
}

fn is_card_removed(failure: &Failure) -> bool {
    matches!(
        failure,
        Failure::Card(CardError::Transport(TransportError::CardRemoved))
    )
}

fn assert_upgraded(overview: &CardOverview) {
    assert_eq!(overview.certificates.len(), 4, "{overview:?}");
    for cert in &overview.certificates {
        let info = cert.info.as_ref().unwrap();
        assert_eq!(info.trust_level, Some(3), "{}", cert.label);
    }
}

#[test]
fn demo_upgrade_then_fetch_list_test_login_and_export() {
    let (worker, _card, codes, _root) = demo();
    let before = ready(&worker);
    assert_eq!(before.certificates.len(), 2, "the legacy pair");
    assert!(
        before
            .certificates
            .iter()
            .all(|c| c.slot == siths_upgrade::card::KeySlot::new(1)
                || c.slot == siths_upgrade::card::KeySlot::new(5))
    );

    upgrade(&worker, &codes);
    let (outcome, events) = finished(&worker, Task::Upgrade);
    assert!(matches!(events.first(), Some(Event::Busy(Task::Upgrade))));
    let steps: Vec<Step> = events
        .iter()
        .filter_map(|e| match e {
            Event::Progress(p) => Some(p.step.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(steps.first(), Some(&Step::ReadCard));
    assert_eq!(steps.last(), Some(&Step::Done));
    let TaskOutcome::Upgraded(summary) = outcome else {
        panic!("upgrade failed: {outcome:?}");
    };
    assert_eq!(summary.written, Profile::ALL.to_vec());
    let after = ready(&worker);
    assert_upgraded(&after);

    worker.send(WorkerCommand::FetchList {
        pin1: pin(&codes.pin1),
    });
    match finished(&worker, Task::FetchList).0 {
        TaskOutcome::Existing(list) => {
            assert_eq!(list.len(), 4);
            assert!(list.iter().all(|e| e.fit == Fit::AlreadyOnCard), "{list:?}");
        }
        other => panic!("fetch list failed: {other:?}"),
    }
    ready(&worker);
    // Already on the card: writing it again is refused and changes nothing.
    worker.send(WorkerCommand::FetchWrite {
        profiles: vec![Profile::HsaAuth],
    });
    assert!(matches!(
        finished(&worker, Task::FetchWrite).0,
        TaskOutcome::Failed(Failure::Upgrade(WorkflowError::NotWritable(_)))
    ));
    assert_upgraded(&ready(&worker));

    let auth = Profile::HsaAuth.slot();
    worker.send(WorkerCommand::TestLogin {
        slot: auth,
        pin1: pin(&codes.pin1),
    });
    match finished(&worker, Task::TestLogin).0 {
        TaskOutcome::LoggedIn { slot, me } => {
            assert_eq!(slot, auth);
            assert_eq!(me.hsa_id, DEMO_HSA_ID);
        }
        other => panic!("test login failed: {other:?}"),
    }
    ready(&worker);

    let cert = after
        .certificates
        .iter()
        .find(|c| c.slot == Some(auth))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("login.pem");
    worker.send(WorkerCommand::ExportCertificate {
        id: cert.id.clone(),
        path: path.clone(),
    });
    match finished(&worker, Task::Export).0 {
        TaskOutcome::Exported(p) => assert_eq!(p, path),
        other => panic!("export failed: {other:?}"),
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(CertInfo::from_pem(&text).unwrap().der, cert.der);

    let der_path = dir.path().join("login.cer");
    worker.send(WorkerCommand::ExportCertificate {
        id: cert.id.clone(),
        path: der_path.clone(),
    });
    assert!(matches!(
        finished(&worker, Task::Export).0,
        TaskOutcome::Exported(_)
    ));
    assert_eq!(std::fs::read(&der_path).unwrap(), cert.der);
}

#[test]
fn wrong_pin_shows_tries_left_and_puk_unblocks() {
    let (worker, _card, codes, _root) = demo();
    ready(&worker);
    let wrong = if codes.pin1 == "999999" {
        "999998"
    } else {
        "999999"
    };
    for expected in [
        CardError::WrongCode {
            kind: PinKind::Pin1,
            tries_left: 2,
        },
        CardError::WrongCode {
            kind: PinKind::Pin1,
            tries_left: 1,
        },
        CardError::Blocked(PinKind::Pin1),
    ] {
        worker.send(WorkerCommand::VerifyPin {
            kind: PinKind::Pin1,
            pin: pin(wrong),
        });
        match finished(&worker, Task::VerifyPin).0 {
            TaskOutcome::Failed(Failure::Card(e)) => assert_eq!(e, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
        let overview = ready(&worker);
        if let CardError::WrongCode { tries_left, .. } = expected {
            assert_eq!(overview.pin(PinKind::Pin1).unwrap().tries_left, tries_left);
        }
    }

    worker.send(WorkerCommand::UnblockPin {
        kind: PinKind::Pin1,
        puk: SecretCode::puk(codes.puk.clone()).unwrap(),
        new: pin("482915"),
    });
    assert!(matches!(
        finished(&worker, Task::UnblockPin).0,
        TaskOutcome::PinUnblocked(PinKind::Pin1)
    ));
    let overview = ready(&worker);
    let status = overview.pin(PinKind::Pin1).unwrap();
    assert_eq!(status.tries_left, status.max_tries);

    worker.send(WorkerCommand::VerifyPin {
        kind: PinKind::Pin1,
        pin: pin("482915"),
    });
    assert!(matches!(
        finished(&worker, Task::VerifyPin).0,
        TaskOutcome::PinVerified(PinKind::Pin1)
    ));
}

#[test]
fn card_pulled_mid_upgrade_then_resumed() {
    let (worker, card, codes, _root) = demo();
    ready(&worker);
    upgrade(&worker, &codes);
    // Logged in: key generation is next, so the card is pulled inside the upgrade.
    wait_for(
        &worker,
        "login step",
        |e| matches!(e, Event::Progress(p) if p.step == Step::LogIn),
    );
    virtual_card::lock_virtual_card(&card).pull_after(3);
    match finished(&worker, Task::Upgrade).0 {
        TaskOutcome::Failed(f) if is_card_removed(&f) => {}
        other => panic!("expected the card to be reported removed, got {other:?}"),
    }
    let (next, _) = wait_for(&worker, "card status", |e| matches!(e, Event::Card(_)));
    assert!(matches!(next, Event::Card(CardStatus::NoCard)), "{next:?}");

    worker.send(WorkerCommand::DemoCard(DemoAction::Insert));
    let (next, _) = wait_for(&worker, "card status", |e| matches!(e, Event::Card(_)));
    assert!(matches!(next, Event::Card(CardStatus::Reading)), "{next:?}");
    ready(&worker);

    upgrade(&worker, &codes);
    assert!(matches!(
        finished(&worker, Task::Upgrade).0,
        TaskOutcome::Upgraded(_)
    ));
    assert_upgraded(&ready(&worker));

    worker.send(WorkerCommand::DemoCard(DemoAction::Pull));
    let (next, _) = wait_for(&worker, "card status", |e| matches!(e, Event::Card(_)));
    assert!(matches!(next, Event::Card(CardStatus::NoCard)), "{next:?}");
    // A task with no card says so instead of touching anything.
    worker.send(WorkerCommand::VerifyPin {
        kind: PinKind::Pin1,
        pin: pin(&codes.pin1),
    });
    assert!(matches!(
        finished(&worker, Task::VerifyPin).0,
        TaskOutcome::Failed(Failure::NoCard)
    ));
}

#[test]
fn upgrade_without_ca_settings_says_so() {
    let (worker, _card, codes, root) = demo();
    ready(&worker);
    worker.send(WorkerCommand::SetCa(Default::default()));
    upgrade(&worker, &codes);
    assert!(matches!(
        finished(&worker, Task::Upgrade).0,
        TaskOutcome::Failed(Failure::CaNotSet)
    ));
    let missing = root.with_file_name("no-such-root.pem");
    worker.send(WorkerCommand::SetCa(
        siths_upgrade::gui::protocol::CaSettings {
            url: "https://127.0.0.1:1".into(),
            root_pem: Some(missing.clone()),
        },
    ));
    upgrade(&worker, &codes);
    match finished(&worker, Task::Upgrade).0 {
        TaskOutcome::Failed(Failure::File { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected the root file to be reported, got {other:?}"),
    }
    // Nothing was touched: the card still has its legacy pair.
    assert_eq!(ready(&worker).certificates.len(), 2);
}

#[test]
fn pcsc_mode_follows_the_card_and_the_service() {
    let mut pcscd = support::pcscd::shared();
    let world = DemoWorld::prepare_in(cache()).unwrap();
    let worker = Worker::spawn(
        Mode::Pcsc {
            reader: None,
            ca: world.ca.clone(),
        },
        Notifier::default(),
    );
    wait_for(&worker, "pcsc environment", |e| {
        matches!(e, Event::Environment(Environment::Pcsc))
    });
    let (readers, _) = wait_for(&worker, "readers", |e| matches!(e, Event::Readers(_)));
    let Event::Readers(readers) = readers else {
        unreachable!()
    };
    assert!(
        readers.iter().any(|r| r.name == support::pcscd::READER_0),
        "{readers:?}"
    );
    wait_for(&worker, "no card", |e| {
        matches!(e, Event::Card(CardStatus::NoCard))
    });

    let stop = Arc::new(AtomicBool::new(false));
    let serving = {
        let card = world.card.clone();
        let stop = stop.clone();
        let addr = format!("127.0.0.1:{}", pcscd.vpcd_port());
        std::thread::spawn(move || vpcd::serve(card, &addr, stop))
    };
    let overview = ready(&worker);
    assert_eq!(overview.reader, support::pcscd::READER_0);
    assert_eq!(overview.certificates.len(), 2);

    stop.store(true, Ordering::Relaxed);
    serving.join().unwrap().unwrap();
    wait_for(&worker, "card removed", |e| {
        matches!(e, Event::Card(CardStatus::NoCard))
    });

    pcscd.stop();
    wait_for(&worker, "service gone", |e| {
        matches!(e, Event::Card(CardStatus::NoService))
    });
    pcscd.start_again();
    wait_for(&worker, "service back", |e| {
        matches!(e, Event::Card(CardStatus::NoCard))
    });
}
