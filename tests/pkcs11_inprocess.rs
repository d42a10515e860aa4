//! The pkcs11 backend in-process on SoftHSM2: the upgrade pulled at every step boundary and
//! resumed, and the window (egui_kittest) reading and upgrading a SoftHSM2 token by clicks.
//!
//! A PKCS#11 module reads its configuration once per process, so this binary has one SoftHSM2
//! with every token its tests need, made before the module is first loaded.

mod support;

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use siths_upgrade::card::{Card, CardOverview, SecretCode, share};
use siths_upgrade::gui::app::SithsApp;
use siths_upgrade::gui::protocol::CaSettings;
use siths_upgrade::gui::settings::Settings;
use siths_upgrade::gui::worker::{Mode, Notifier, Worker};
use siths_upgrade::pkcs11::Pkcs11Card;
use siths_upgrade::workflow::upgrade::{UpgradeRequest, upgrade};
use support::persons::HOLDER;
use support::rig::Rig;
use support::softhsm::{Codes, MODULE, Model, SoftHsm, codes_of};
use support::watched_card::WatchedCard;
use support::world::world;

/// The card label of each test's token(s).
const PULLED: &str = "Pulled card";
const WINDOW: &str = "Window card";
const CHOSEN: &str = "Chosen card";

/// The SoftHSM2 tokens of this binary, made from the holder's card of the CA world.
struct Tokens {
    hsm: SoftHsm,
    codes: Codes,
}

fn tokens() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let state = world()
            .join("cards")
            .join(format!("{}.json", HOLDER.hsa_id));
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
        Tokens { hsm, codes }
    })
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
    let w = tokens();
    let rig = Rig::new();
    let root_pem = rig.root_pem.clone();
    let pin1 = SecretCode::pin(w.codes.pin1.clone()).unwrap();
    let pin2 = SecretCode::pin(w.codes.pin2.clone()).unwrap();
    let url = rig.url();
    let request = UpgradeRequest {
        ca_url: &url,
        ca_root_pem: &root_pem,
        pin1: &pin1,
        pin2: &pin2,
    };
    let total = 20;
    for step in 1..total {
        let card = WatchedCard::new(Pkcs11Card::open(module(), Some(PULLED)).unwrap());
        let pulled = card.pull_switch();
        let shared = share(card);
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
    let w = tokens();
    let rig = Rig::new();
    let notifier = Notifier::default();
    let worker = Worker::spawn(
        Mode::Pkcs11 {
            module: "softhsm".into(),
            token: Some(WINDOW.into()),
            ca: CaSettings {
                url: rig.url(),
                root_pem: Some(rig.dir.root_pem()),
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
    support::window::wait_for_text(&mut harness, HOLDER.given_name());
    let has =
        |h: &Harness<'static, SithsApp>, t: &str| h.query_all_by_label_contains(t).next().is_some();
    assert!(has(&harness, HOLDER.hsa_id));
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
    let _w = tokens();
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
        !has(&harness, HOLDER.given_name()),
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
    support::window::wait_for_text(&mut harness, HOLDER.given_name());
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
    support::window::wait_for_text(&mut again, HOLDER.given_name());
    assert!(has(&again, CHOSEN));
    assert!(!has(&again, "Datorn ser flera SITHS-kort"));
}
