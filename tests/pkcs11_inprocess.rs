//! The pkcs11 backend in-process on SoftHSM2: the upgrade pulled at every step boundary and
//! resumed, and the window (egui_kittest) reading and upgrading a SoftHSM2 token by clicks.
//!
//! A PKCS#11 module reads its configuration once per process, so this binary has one SoftHSM2
//! with every token its tests need, made before the module is first loaded.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use siths_upgrade::ca::mock::{MockHandle, start};
use siths_upgrade::card::{
    Card, CardError, CardOverview, CardSource, KeySlot, PinKind, PinStatus, PublicKey, SecretCode,
    SignatureScheme, share,
};
use siths_upgrade::gui::app::SithsApp;
use siths_upgrade::gui::protocol::CaSettings;
use siths_upgrade::gui::settings::Settings;
use siths_upgrade::gui::worker::{Mode, Notifier, Worker};
use siths_upgrade::pkcs11::Pkcs11Card;
use siths_upgrade::transport::TransportError;
use siths_upgrade::workflow::upgrade::{UpgradeRequest, upgrade};
use support::softhsm::{Codes, MODULE, Model, SoftHsm, codes_of};

const KARIN: &str = "TST5565594230-1001";
/// The card label of each test's token(s).
const PULLED: &str = "Pulled card";
const WINDOW: &str = "Window card";
const CHOSEN: &str = "Chosen card";

struct World {
    _tmp: tempfile::TempDir,
    ca: PathBuf,
    hsm: SoftHsm,
    codes: Codes,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let ca = tmp.path().join("ca");
        siths_upgrade::ca::mock::init(&ca).unwrap();
        let state = ca.join("cards").join(format!("{KARIN}.json"));
        let codes = codes_of(&state);
        let hsm = SoftHsm::new();
        hsm.load_card_as(&state, &codes, Model::TokenPerPin, PULLED);
        // SoftHSM2 checks a context-specific login against the user PIN: PIN2 is PIN1 there.
        let single = Codes {
            pin2: codes.pin1.clone(),
            ..codes.clone()
        };
        hsm.load_card_as(&state, &single, Model::SingleToken, WINDOW);
        hsm.load_card_as(&state, &single, Model::SingleToken, CHOSEN);
        hsm.use_here();
        World {
            _tmp: tmp,
            ca,
            hsm,
            codes,
        }
    })
}

/// A CA of the test's own on a copy of the world.
fn own_ca() -> (tempfile::TempDir, MockHandle, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    support::files::copy_dir(&world().ca, &dir);
    let mock = start(&dir, "127.0.0.1:0").unwrap();
    let root = dir.join("root.pem");
    (tmp, mock, root)
}

/// The card, until the test pulls it: then every operation finds it gone, as a card taken out
/// of its reader, and the middleware's sessions are closed.
struct Pullable {
    card: Option<Pkcs11Card>,
    source: CardSource,
    pulled: Arc<AtomicBool>,
}

impl Pullable {
    fn card(&mut self) -> Result<&mut Pkcs11Card, CardError> {
        if self.pulled.load(Ordering::SeqCst) {
            self.card = None;
        }
        self.card
            .as_mut()
            .ok_or(CardError::Transport(TransportError::CardRemoved))
    }
}

impl Card for Pullable {
    fn source(&self) -> CardSource {
        self.source.clone()
    }
    fn overview(&mut self) -> Result<CardOverview, CardError> {
        self.card()?.overview()
    }
    fn pin_statuses(&mut self, kinds: &[PinKind]) -> Result<Vec<PinStatus>, CardError> {
        self.card()?.pin_statuses(kinds)
    }
    fn verify_pin(&mut self, kind: PinKind, code: &SecretCode) -> Result<(), CardError> {
        self.card()?.verify_pin(kind, code)
    }
    fn authorize(&mut self, slot: KeySlot, code: &SecretCode) -> Result<(), CardError> {
        self.card()?.authorize(slot, code)
    }
    fn change_pin(
        &mut self,
        kind: PinKind,
        old: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError> {
        self.card()?.change_pin(kind, old, new)
    }
    fn unblock_pin(
        &mut self,
        kind: PinKind,
        puk: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError> {
        self.card()?.unblock_pin(kind, puk, new)
    }
    fn read_public_key(&mut self, slot: KeySlot) -> Result<Option<PublicKey>, CardError> {
        self.card()?.read_public_key(slot)
    }
    fn generate_key(&mut self, slot: KeySlot) -> Result<PublicKey, CardError> {
        self.card()?.generate_key(slot)
    }
    fn unfinished_key(
        &mut self,
        slot: KeySlot,
        labels: &[String],
    ) -> Result<Option<PublicKey>, CardError> {
        self.card()?.unfinished_key(slot, labels)
    }
    fn sign(
        &mut self,
        slot: KeySlot,
        sha256: &[u8; 32],
        scheme: SignatureScheme,
    ) -> Result<Vec<u8>, CardError> {
        self.card()?.sign(slot, sha256, scheme)
    }
    fn write_certificate(
        &mut self,
        slot: KeySlot,
        label: &str,
        cert_der: &[u8],
    ) -> Result<(), CardError> {
        self.card()?.write_certificate(slot, label, cert_der)
    }
    fn delete_pair(&mut self, slot: KeySlot) -> Result<(), CardError> {
        self.card()?.delete_pair(slot)
    }
}

fn module() -> &'static Path {
    Path::new(MODULE)
}

fn ids(overview: &CardOverview) -> Vec<String> {
    let mut ids: Vec<String> = overview.certificates.iter().map(|c| c.id_hex()).collect();
    ids.sort();
    ids
}

#[test]
fn the_upgrade_pulled_at_every_step_boundary_resumes_to_the_same_card() {
    let w = world();
    let (_tmp, mock, root) = own_ca();
    let root_pem = std::fs::read(root).unwrap();
    let pin1 = SecretCode::pin(w.codes.pin1.clone()).unwrap();
    let pin2 = SecretCode::pin(w.codes.pin2.clone()).unwrap();
    let url = mock.url();
    let request = UpgradeRequest {
        ca_url: &url,
        ca_root_pem: &root_pem,
        pin1: &pin1,
        pin2: &pin2,
    };
    let total = 20;
    for step in 1..total {
        let card = Pkcs11Card::open(module(), Some(PULLED)).unwrap();
        let pulled = Arc::new(AtomicBool::new(false));
        let shared = share(Pullable {
            source: card.source(),
            card: Some(card),
            pulled: pulled.clone(),
        });
        let result = upgrade(&shared, &request, &mut |p| {
            if p.done >= step {
                pulled.store(true, Ordering::SeqCst);
            }
        });
        if let Err(e) = result {
            assert!(
                pulled.load(Ordering::SeqCst),
                "step {step}: failed before the card was pulled: {e}"
            );
        }
        drop(shared);
        // Put back: it reads, nothing is listed twice, and the legacy pair stays until all
        // four new pairs are on the card.
        let overview = Pkcs11Card::open(module(), Some(PULLED))
            .unwrap()
            .overview()
            .unwrap();
        let ids = ids(&overview);
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique, ids, "step {step}");
        let new = ["02", "03", "06", "07"];
        let all_new = new.iter().all(|n| ids.iter().any(|i| i == n));
        assert!(
            all_new || ids.iter().any(|i| i == "01"),
            "step {step}: the legacy pair went before the new pairs were on the card: {ids:?}"
        );
    }
    let card = share(Pkcs11Card::open(module(), Some(PULLED)).unwrap());
    let summary = upgrade(&card, &request, &mut |_| {}).unwrap();
    assert_eq!(ids(&summary.overview), ["02", "03", "06", "07"]);
    // OpenSC's pkcs11-tool, another process, sees four certificates and four private keys.
    let logins = [
        (format!("{PULLED} (Legitimering)"), w.codes.pin1.clone()),
        (format!("{PULLED} (Underskrift)"), w.codes.pin2.clone()),
    ];
    let logins: Vec<(&str, &str)> = logins
        .iter()
        .map(|(l, p)| (l.as_str(), p.as_str()))
        .collect();
    assert_eq!(w.hsm.count_objects(&logins), (4, 4));
}

fn click(harness: &mut Harness<'static, SithsApp>, label: &str) {
    harness.get_by_role_and_label(Role::Button, label).click();
    harness.run_ok();
}

fn type_into(harness: &mut Harness<'static, SithsApp>, field: &str, text: &str) {
    let node = harness.get_by_label(field);
    node.focus();
    node.type_text(text);
    harness.run_ok();
}

#[test]
fn the_window_reads_and_upgrades_a_pkcs11_token() {
    let w = world();
    let (_tmp, mock, root) = own_ca();
    let notifier = Notifier::default();
    let worker = Worker::spawn(
        Mode::Pkcs11 {
            module: "softhsm".into(),
            token: Some(WINDOW.into()),
            ca: CaSettings {
                url: mock.url(),
                root_pem: Some(root),
            },
        },
        notifier.clone(),
    );
    let app = SithsApp::new(worker, notifier, Settings::default(), None);
    let mut harness = Harness::builder()
        .with_size([900.0, 820.0])
        .with_max_steps(50)
        .build_ui_state(|ui, app: &mut SithsApp| app.show(ui), app);

    // The overview: the holder, the legacy pair, how the card is reached, honest tries.
    support::window::wait_for_text(&mut harness, "Karin");
    let has =
        |h: &Harness<'static, SithsApp>, t: &str| h.query_all_by_label_contains(t).next().is_some();
    assert!(has(&harness, "TST5565594230-1001"));
    assert!(has(&harness, "Kortet nås via"));
    assert!(has(&harness, "PKCS#11"));
    assert!(has(&harness, WINDOW));
    assert!(
        has(&harness, "alla försök kvar"),
        "flags only: no invented count"
    );
    assert!(has(&harness, "Kortet har det gamla certifikatparet"));

    // The upgrade by clicking and typing, as on the demo card.
    click(&mut harness, "Uppgradera kortet");
    click(&mut harness, "Fortsätt");
    type_into(&mut harness, "PIN1 (legitimering)", &w.codes.pin1);
    type_into(&mut harness, "PIN2 (underskrift)", &w.codes.pin1);
    click(&mut harness, "Starta uppgraderingen");
    support::window::wait_for_text(&mut harness, "Uppgraderingen är klar.");
    assert!(has(&harness, "Det gamla certifikatparet är borttaget"));
    click(&mut harness, "Till översikten");
    support::window::wait_for_text(&mut harness, "Kortet är uppgraderat");

    // The token agrees, read afresh through the module.
    let overview = Pkcs11Card::open(module(), Some(WINDOW))
        .unwrap()
        .overview()
        .unwrap();
    assert_eq!(ids(&overview), ["02", "03", "06", "07"]);
}

#[test]
fn several_cards_are_a_question_and_the_choice_is_remembered_by_card_number() {
    let _w = world();
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("settings.json");
    let settings = Settings {
        pkcs11_module: Some("softhsm".into()),
        ..Settings::default()
    };
    let window = |settings: Settings| {
        let notifier = Notifier::default();
        let worker = Worker::spawn(Mode::readers(&settings), notifier.clone());
        let app = SithsApp::new(worker, notifier, settings, Some(settings_path.clone()));
        Harness::builder()
            .with_size([900.0, 820.0])
            .with_max_steps(50)
            .build_ui_state(|ui, app: &mut SithsApp| app.show(ui), app)
    };
    let has =
        |h: &Harness<'static, SithsApp>, t: &str| h.query_all_by_label_contains(t).next().is_some();

    // Three SITHS cards in the module: a question, one button per card, none taken silently.
    let mut harness = window(settings);
    support::window::wait_for_text(&mut harness, "Datorn ser flera SITHS-kort");
    assert!(has(&harness, "Valet sparas"));
    assert!(
        !has(&harness, "Karin"),
        "no card was opened before the choice"
    );
    for label in [PULLED, WINDOW, CHOSEN] {
        assert!(
            has(&harness, &format!("{label}, kortnummer ")),
            "no button for {label}"
        );
    }
    let button = harness
        .query_all_by_role(Role::Button)
        .find(|n| {
            n.accesskit_node()
                .label()
                .is_some_and(|l| l.starts_with(&format!("{CHOSEN}, kortnummer ")))
        })
        .expect("the chosen card's button");
    button.click();
    harness.run_ok();

    // The chosen card opens, named on the status line.
    support::window::wait_for_text(&mut harness, "Karin");
    assert!(has(&harness, CHOSEN));
    assert!(!has(&harness, "Datorn ser flera SITHS-kort"));

    // Saved by card number (every card is "SITHS e-id kort" to its holder, numbers differ).
    let serial = match Pkcs11Card::open(module(), Some(CHOSEN)).unwrap().source() {
        siths_upgrade::card::CardSource::Pkcs11 { serial, .. } => serial,
        other => panic!("not a PKCS#11 card: {other:?}"),
    };
    assert!(!serial.is_empty());
    let saved = Settings::load(&settings_path);
    assert_eq!(saved.reader.as_deref(), Some(serial.as_str()));

    // The next start opens that card without asking again.
    drop(harness);
    let mut again = window(saved);
    support::window::wait_for_text(&mut again, "Karin");
    assert!(has(&again, CHOSEN));
    assert!(!has(&again, "Datorn ser flera SITHS-kort"));
}
