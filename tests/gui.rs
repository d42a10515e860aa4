//! The desktop app driven like a holder drives it: clicks and typing through AccessKit (egui_kittest)
//! on the real app state machine, its real worker thread, the in-process demo card and the CA
//! mock over mutual TLS. Snapshot images of the main screens are checked in under
//! tests/snapshots (UPDATE_SNAPSHOTS=1 rewrites them).

mod support;

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use siths_upgrade::card::Card as _;
use siths_upgrade::card::{CardError, PinKind, SecretCode, SithsCard};
use siths_upgrade::gui::app::{Screen, SithsApp};
use siths_upgrade::gui::demo::{DemoCodes, DemoWorld};
use siths_upgrade::gui::settings::Settings;
use siths_upgrade::gui::worker::{Mode, Notifier, Worker};
use siths_upgrade::pki::CertInfo;
use siths_upgrade::virtual_card::memory::MemoryTransport;
use siths_upgrade::virtual_card::{self, SharedVirtualCard};
use support::persons::{HOLDER, LEGACY_DUE, RENEWAL_DUE};
use support::window::demo_cache;

/// The window on the demo world, its worker on its own thread, and the demo card it drives.
struct Window {
    harness: Harness<'static, SithsApp>,
    card: SharedVirtualCard,
    codes: DemoCodes,
}

/// "Today" for the window: an hour after the demo card's certificate was issued, so "expires in
/// N days" is the same on every run and every day.
fn fixed_now(card: &SharedVirtualCard) -> i64 {
    let der = {
        let mut c = open(card);
        c.overview().unwrap().certificates[0].der.clone()
    };
    CertInfo::from_der(&der).unwrap().not_before + 3600
}

fn open(card: &SharedVirtualCard) -> SithsCard {
    SithsCard::open(Box::new(MemoryTransport::connect(card.clone()).unwrap())).unwrap()
}

impl Window {
    fn new() -> Window {
        Window::with_scale(1.0)
    }

    fn with_scale(pixels_per_point: f32) -> Window {
        Window::with(pixels_per_point, egui::Theme::Dark)
    }

    fn with(pixels_per_point: f32, theme: egui::Theme) -> Window {
        let world = DemoWorld::prepare_in(demo_cache()).unwrap();
        let card = world.card.clone();
        let codes = world.codes.clone();
        let now = fixed_now(&card);
        let notifier = Notifier::default();
        let worker = Worker::spawn(Mode::Demo(Some(world)), notifier.clone());
        let app = SithsApp::new(worker, notifier, Settings::default(), None).with_fixed_now(now);
        let harness = Harness::builder()
            .with_size([900.0, 820.0])
            .with_pixels_per_point(pixels_per_point)
            .with_theme(theme)
            .with_max_steps(50)
            .build_ui_state(|ui, app: &mut SithsApp| app.show(ui), app);
        let mut rig = Window {
            harness,
            card,
            codes,
        };
        rig.wait_for_text(HOLDER.given_name());
        rig
    }

    /// Step the window until `check` holds; the worker runs on its own thread, so this waits
    /// (up to three minutes on a loaded machine: a wait, not a timed assertion).
    fn wait_until(&mut self, what: &str, check: impl Fn(&Harness<'static, SithsApp>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            self.harness.step();
            if check(&self.harness) {
                self.harness.run_ok();
                return;
            }
            assert!(Instant::now() < deadline, "the window never showed {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for_text(&mut self, text: &str) {
        let owned = text.to_string();
        self.wait_until(text, move |h| {
            h.query_all_by_label_contains(&owned).next().is_some()
        });
    }

    fn has_text(&self, text: &str) -> bool {
        self.harness
            .query_all_by_label_contains(text)
            .next()
            .is_some()
    }

    fn click_button(&mut self, label: &str) {
        self.harness
            .get_by_role_and_label(Role::Button, label)
            .click();
        self.harness.run_ok();
    }

    fn button_enabled(&self, label: &str) -> bool {
        !self
            .harness
            .get_by_role_and_label(Role::Button, label)
            .accesskit_node()
            .is_disabled()
    }

    fn type_into(&mut self, field: &str, text: &str) {
        let node = self.harness.get_by_label(field);
        node.focus();
        node.type_text(text);
        self.harness.run_ok();
    }

    fn start_upgrade(&mut self, pin1: &str, pin2: &str) {
        self.click_button("Uppgradera kortet");
        self.click_button("Fortsätt");
        self.type_into("PIN1 (legitimering)", pin1);
        self.type_into("PIN2 (underskrift)", pin2);
        self.click_button("Starta uppgraderingen");
    }

    fn snapshot(&mut self, name: &str) {
        support::window::steady_snapshot(&mut self.harness, name);
    }
}

#[test]
fn the_whole_upgrade_by_clicking_and_typing() {
    let mut rig = Window::new();
    // The overview: holder, masked personnummer, the legacy pair, tries left, what to do.
    assert!(rig.has_text("DEMOLÄGE"));
    assert!(rig.has_text(HOLDER.hsa_id));
    assert!(rig.has_text("Kortet har det gamla certifikatparet"));
    assert!(rig.has_text("3 försök kvar"));
    assert!(rig.has_text("10 försök kvar"));
    rig.snapshot("overview_before_upgrade");

    rig.click_button("Uppgradera kortet");
    assert!(rig.has_text("Låt kortet sitta kvar i läsaren"));
    rig.click_button("Fortsätt");
    assert!(
        rig.has_text("6–8 siffror"),
        "the PIN rules are shown before typing"
    );
    let (pin1, pin2) = (rig.codes.pin1.clone(), rig.codes.pin2.clone());
    rig.type_into("PIN1 (legitimering)", &pin1);
    rig.type_into("PIN2 (underskrift)", &pin2);
    rig.snapshot("upgrade_pins");
    rig.click_button("Starta uppgraderingen");

    rig.wait_for_text("Uppgraderingen är klar.");
    assert!(rig.has_text("Personnummer – Underskrift (tillitsnivå 3)"));
    assert!(rig.has_text("HSA-id – Legitimering (tillitsnivå 3)"));
    assert!(rig.has_text("Det gamla certifikatparet är borttaget"));
    rig.snapshot("upgrade_done");

    rig.click_button("Till översikten");
    rig.wait_for_text("Kortet är uppgraderat");
    assert_eq!(
        rig.harness.query_all_by_label("tillitsnivå 3").count(),
        4,
        "four certificates at trust level 3 in the overview"
    );
    assert!(
        !rig.has_text("Uppgradera kortet"),
        "no upgrade offered for an upgraded card"
    );
    // The personnummer pair names the holder's personnummer, masked until asked for.
    assert!(rig.has_text("19810217-****"));
    rig.click_button("Visa");
    assert!(
        rig.has_text("19810217-9804"),
        "Visa shows the whole personnummer"
    );
    rig.click_button("Dölj");
    assert!(!rig.has_text("19810217-9804"));
    // The card itself agrees.
    let overview = open(&rig.card).overview().unwrap();
    assert_eq!(overview.certificates.len(), 4);
    rig.snapshot("overview_after_upgrade");
}

#[test]
fn a_wrong_pin_shows_the_tries_left_and_changes_nothing() {
    let mut rig = Window::new();
    let pin2 = rig.codes.pin2.clone();
    rig.start_upgrade("111222", &pin2);
    // Back on the form, the message under the fields: no failure page.
    rig.wait_for_text("Fel PIN1 (legitimering), 2 försök kvar.");
    assert!(
        rig.has_text("Starta uppgraderingen"),
        "the form is shown again"
    );
    // The field's note follows once the worker has read the card again.
    rig.wait_until("the tries left beside PIN1", |h| {
        h.query_all_by_label("2 försök kvar").next().is_some()
    });
    rig.snapshot("upgrade_wrong_pin");
    // Nothing on the card changed: still the legacy pair only.
    let overview = open(&rig.card).overview().unwrap();
    assert_eq!(overview.certificates.len(), 2);
    assert_eq!(overview.pin(PinKind::Pin1).unwrap().tries_left, 2);
}

/// Spend tries on the card directly, as a holder who mistyped earlier would have.
fn spend(card: &SharedVirtualCard, kind: PinKind, wrong: &str, times: usize) {
    let mut c = open(card);
    for _ in 0..times {
        let code = SecretCode::for_kind(kind, wrong.to_string()).unwrap();
        let r = match kind {
            PinKind::Puk => c.unblock_pin(
                PinKind::Pin1,
                &code,
                &SecretCode::pin("975310".into()).unwrap(),
            ),
            _ => c.verify_pin(kind, &code),
        };
        assert!(
            matches!(
                r,
                Err(CardError::WrongCode { .. } | CardError::Blocked(_) | CardError::CardDead)
            ),
            "{r:?}"
        );
    }
}

#[test]
fn unblock_with_the_puk_asks_before_the_last_try() {
    let mut rig = Window::new();
    spend(&rig.card, PinKind::Pin1, "000111", 3);
    spend(&rig.card, PinKind::Puk, "00001111", 9);
    rig.click_button("Ta ut kortet");
    rig.wait_for_text("Sätt i ditt SITHS-kort");
    rig.snapshot("start_no_card");
    rig.click_button("Sätt i kortet");
    rig.wait_for_text("PIN1 (legitimering) är spärrad");
    assert!(
        !rig.has_text("Uppgradera kortet"),
        "no upgrade offered with a blocked PIN"
    );

    rig.click_button("Lås upp PIN1 (legitimering)");
    assert_eq!(rig.harness.state().screen(), Screen::Unblock);
    let puk = rig.codes.puk.clone();
    rig.type_into("PUK-kod", &puk);
    rig.type_into("Ny PIN1 (legitimering)", "123456");
    assert!(
        !rig.button_enabled("Lås upp"),
        "a trivial PIN is refused before sending"
    );
    // Replace the text: select all and type.
    rig.harness.get_by_label("Ny PIN1 (legitimering)").focus();
    rig.harness
        .key_combination_modifiers(egui::Modifiers::COMMAND, &[egui::Key::A]);
    rig.harness.run_ok();
    rig.type_into("Ny PIN1 (legitimering)", "482915");
    rig.type_into("Upprepa den nya PIN-koden", "482915");
    assert!(rig.has_text("PUK-koden har bara ett försök kvar"));
    assert!(
        !rig.button_enabled("Lås upp"),
        "the last PUK try needs an explicit confirmation"
    );
    rig.snapshot("unblock_last_try");
    rig.harness
        .get_by_label_contains("Jag har kontrollerat PUK-koden")
        .click();
    rig.harness.run_ok();
    assert!(rig.button_enabled("Lås upp"));
    rig.click_button("Lås upp");
    rig.wait_for_text("är upplåst och har din nya kod");
    // The new PIN works on the card.
    open(&rig.card)
        .verify_pin(PinKind::Pin1, &SecretCode::pin("482915".into()).unwrap())
        .unwrap();
}

#[test]
fn a_card_with_a_blocked_puk_says_to_order_a_new_card() {
    let mut rig = Window::new();
    spend(&rig.card, PinKind::Puk, "00001111", 10);
    rig.click_button("Ta ut kortet");
    rig.wait_for_text("Sätt i ditt SITHS-kort");
    rig.click_button("Sätt i kortet");
    rig.wait_for_text("Beställ ett nytt kort");
    assert!(!rig.has_text("Uppgradera kortet"));
    assert!(
        rig.harness
            .query_by_role_and_label(Role::Button, "Byt PIN-kod")
            .is_none()
    );
}

#[test]
fn the_certificate_chooser_and_test_login() {
    let mut rig = Window::new();
    rig.click_button("Certifikat");
    rig.wait_for_text("Certifikaten på kortet");
    assert!(rig.has_text("Fingeravtryck (SHA-256)"));
    assert!(
        rig.has_text("nivå 3, godtas av NPÖ"),
        "level 3 names the national services"
    );
    let choices = rig
        .harness
        .query_all_by_label("Använd för inloggning")
        .count();
    assert_eq!(choices, 1, "one login certificate before the upgrade");
    rig.harness.get_by_label("Använd för inloggning").click();
    rig.harness.run_ok();
    let pin1 = rig.codes.pin1.clone();
    rig.type_into("PIN1 (legitimering)", &pin1);
    rig.click_button("Prova inloggning");
    rig.wait_for_text("Inloggningen fungerar");
    assert!(rig.has_text(&format!("({})", HOLDER.hsa_id)));
}

#[test]
fn the_language_switch_rewords_the_whole_window() {
    let mut rig = Window::new();
    assert!(rig.has_text("SITHS-kortuppgradering"));
    rig.click_button("English");
    assert!(rig.has_text("SITHS card upgrade"));
    assert!(rig.has_text("The card has the old certificate pair"));
    assert!(rig.has_text("3 tries left"));
    assert!(
        rig.harness
            .query_by_role_and_label(Role::Button, "Upgrade the card")
            .is_some()
    );
    rig.snapshot("overview_english");
    rig.click_button("Svenska");
    assert!(rig.has_text("SITHS-kortuppgradering"));
    assert!(rig.has_text("3 försök kvar"));
}

#[test]
fn a_card_pulled_mid_upgrade_offers_to_resume_and_the_resume_finishes() {
    let mut rig = Window::new();
    // Pull the card part-way through: after the legacy pair is read and the first keys made.
    virtual_card::lock_virtual_card(&rig.card).pull_after(60);
    let (pin1, pin2) = (rig.codes.pin1.clone(), rig.codes.pin2.clone());
    rig.start_upgrade(&pin1, &pin2);
    rig.wait_for_text("Kortet togs ut mitt i arbetet");
    assert!(rig.has_text("Inget har gått förlorat"));
    assert!(
        !rig.button_enabled("Fortsätt uppgraderingen"),
        "resume waits for the card"
    );
    rig.snapshot("upgrade_card_pulled");
    rig.click_button("Sätt i kortet");
    rig.wait_until("the resume button enabled", |h| {
        !h.get_by_role_and_label(Role::Button, "Fortsätt uppgraderingen")
            .accesskit_node()
            .is_disabled()
    });
    rig.click_button("Fortsätt uppgraderingen");
    rig.type_into("PIN1 (legitimering)", &pin1);
    rig.type_into("PIN2 (underskrift)", &pin2);
    rig.click_button("Starta uppgraderingen");
    rig.wait_for_text("Uppgraderingen är klar.");
    let overview = open(&rig.card).overview().unwrap();
    assert_eq!(overview.certificates.len(), 4);
}

#[test]
fn the_overview_is_readable_at_125_percent() {
    let mut rig = Window::with_scale(1.25);
    assert!(rig.has_text("Uppgradera kortet"));
    rig.snapshot("overview_125_percent");
}

/// Most hospital desktops are light: the overview in the light theme (the window follows the
/// system's theme).
#[test]
fn the_overview_in_the_light_theme() {
    let mut rig = Window::with(1.0, egui::Theme::Light);
    assert!(rig.has_text("Kortet har det gamla certifikatparet"));
    rig.snapshot("overview_light");
}

#[test]
fn keyboard_only_tab_and_enter_reach_the_upgrade() {
    let mut rig = Window::new();
    rig.click_button("Uppgradera kortet");
    rig.click_button("Fortsätt");
    let (pin1, pin2) = (rig.codes.pin1.clone(), rig.codes.pin2.clone());
    // Focus the first field, then only keys: type, Tab, type, Enter.
    rig.harness.get_by_label("PIN1 (legitimering)").focus();
    rig.harness.run_ok();
    rig.harness
        .get_by_label("PIN1 (legitimering)")
        .type_text(&pin1);
    rig.harness.run_ok();
    rig.harness.key_press(egui::Key::Tab);
    rig.harness.run_ok();
    assert!(
        rig.harness.get_by_label("PIN2 (underskrift)").is_focused(),
        "Tab moves to PIN2"
    );
    rig.harness
        .get_by_label("PIN2 (underskrift)")
        .type_text(&pin2);
    rig.harness.run_ok();
    rig.harness.key_press(egui::Key::Enter);
    rig.harness.run_ok();
    rig.wait_for_text("Uppgraderingen är klar.");
}

/// The form's keyboard flow: focus starts in PIN1, Enter there moves to PIN2 (it does not
/// submit half a form), Enter in PIN2 starts; Esc leaves a form.
#[test]
fn enter_moves_through_the_form_and_submits_only_a_complete_one() {
    let mut rig = Window::new();
    rig.click_button("Uppgradera kortet");
    rig.click_button("Fortsätt");
    rig.harness.run_ok();
    assert!(
        rig.harness.get_by_label("PIN1 (legitimering)").is_focused(),
        "focus starts in the first code field"
    );
    let (pin1, pin2) = (rig.codes.pin1.clone(), rig.codes.pin2.clone());
    rig.harness
        .get_by_label("PIN1 (legitimering)")
        .type_text(&pin1);
    rig.harness.run_ok();
    rig.harness.key_press(egui::Key::Enter);
    rig.harness.run_ok();
    assert!(
        rig.harness.get_by_label("PIN2 (underskrift)").is_focused(),
        "Enter in PIN1 moves to PIN2"
    );
    assert!(
        rig.has_text("Starta uppgraderingen"),
        "nothing was submitted with PIN2 empty"
    );
    assert!(!rig.button_enabled("Starta uppgraderingen"));
    rig.harness
        .get_by_label("PIN2 (underskrift)")
        .type_text(&pin2);
    rig.harness.run_ok();
    rig.harness.key_press(egui::Key::Escape);
    rig.harness.run_ok();
    assert!(
        rig.has_text("Kortet har det gamla certifikatparet"),
        "Esc leaves the form for the overview"
    );

    // The PIN change form: focus in its first field, the rules neutral until typing.
    rig.click_button("Byt PIN-kod");
    rig.harness.run_ok();
    assert!(
        rig.harness
            .get_by_label("Nuvarande PIN1 (legitimering)")
            .is_focused()
    );
    assert!(
        rig.has_text("• 6–8 siffror"),
        "no ✖ before anything is typed"
    );
    assert!(!rig.has_text("✖"));
}

#[test]
fn a_card_that_expires_soon_shows_the_reminder_banner() {
    // Björn's legacy pair expires in 20 days (assets/test-persons.json): the 30-day reminder.
    let world = DemoWorld::prepare_in(demo_cache()).unwrap();
    let seat = world.seat(LEGACY_DUE.hsa_id).unwrap();
    let ca = world.ca.clone();
    let notifier = Notifier::default();
    let worker = Worker::spawn(Mode::Seat { seat, ca }, notifier.clone());
    let app = SithsApp::new(worker, notifier, Settings::default(), None);
    let mut harness = Harness::builder()
        .with_size([900.0, 820.0])
        .build_ui_state(|ui, app: &mut SithsApp| app.show(ui), app);
    let deadline = Instant::now() + Duration::from_secs(180);
    while harness
        .query_all_by_label_contains(LEGACY_DUE.name)
        .next()
        .is_none()
    {
        assert!(Instant::now() < deadline, "the card was never shown");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_ok();
    // 20 days, or 19 if the test runs just after the card was made at a day boundary.
    let banner = harness
        .query_all_by_label_contains("Ett certifikat på kortet går ut om")
        .next()
        .map(|n| n.value().unwrap_or_default());
    let banner = banner.expect("the expiry banner");
    assert!(
        banner.contains("om 20 dagar") || banner.contains("om 19 dagar"),
        "{banner}"
    );
    drop(world);
}

/// Lena's upgraded card expires in 20 days (`"renewal_due": true`): the banner carries "Förnya
/// nu", the wizard renews both pairs, and the overview then offers nothing.
#[test]
fn a_due_card_is_renewed_from_the_banner() {
    let world = DemoWorld::prepare_in(demo_cache()).unwrap();
    let seat = world.seat(RENEWAL_DUE.hsa_id).unwrap();
    let (codes, card) = (seat.codes.clone(), seat.card.clone());
    let now = fixed_now(&card);
    let ca = world.ca.clone();
    let notifier = Notifier::default();
    let worker = Worker::spawn(Mode::Seat { seat, ca }, notifier.clone());
    let app = SithsApp::new(worker, notifier, Settings::default(), None).with_fixed_now(now);
    let harness = Harness::builder()
        .with_size([900.0, 820.0])
        .with_max_steps(50)
        .build_ui_state(|ui, app: &mut SithsApp| app.show(ui), app);
    let mut rig = Window {
        harness,
        card,
        codes,
    };
    rig.wait_for_text(RENEWAL_DUE.name);
    assert!(rig.has_text("Förnya det nu"), "the banner says what to do");
    assert!(
        !rig.has_text("Uppgradera kortet"),
        "an upgraded card is renewed, not upgraded"
    );
    rig.snapshot("renew_banner");

    rig.click_button("Förnya nu");
    rig.wait_for_text("Förnya certifikaten");
    assert!(rig.has_text("Låt kortet sitta kvar i läsaren tills förnyelsen är klar"));
    rig.click_button("Fortsätt");
    let (pin1, pin2) = (rig.codes.pin1.clone(), rig.codes.pin2.clone());
    rig.type_into("PIN1 (legitimering)", &pin1);
    rig.type_into("PIN2 (underskrift)", &pin2);
    rig.click_button("Starta förnyelsen");
    rig.wait_for_text("Förnyelsen är klar.");
    assert!(rig.has_text("De gamla certifikaten är borttagna."));
    assert!(rig.has_text("Personnummer – Underskrift (tillitsnivå 3)"));
    rig.snapshot("renew_done");

    rig.click_button("Till översikten");
    rig.wait_for_text("Kortet är uppgraderat");
    assert!(!rig.has_text("Förnya nu"), "nothing is due any more");
    assert!(!rig.has_text("Ett certifikat på kortet"));
    let overview = open(&rig.card).overview().unwrap();
    assert_eq!(overview.certificates.len(), 4);
    let slots: Vec<u8> = overview
        .certificates
        .iter()
        .filter_map(|c| c.slot.map(|s| s.number()))
        .collect();
    assert!(
        slots.iter().all(|s| [1, 4, 5, 8].contains(s)),
        "the renewed pairs are in the renewal slots: {slots:?}"
    );
    drop(world);
}

/// "Avbryt" while the card works stops the upgrade after the step it is in; the window says
/// nothing is lost and offers to carry on, and carrying on finishes the upgrade.
#[test]
fn cancel_stops_between_steps_and_the_upgrade_carries_on() {
    let mut rig = Window::new();
    // A slow card, so the upgrade is still running when Avbryt is clicked.
    virtual_card::lock_virtual_card(&rig.card).set_delay(Duration::from_millis(30));
    let (pin1, pin2) = (rig.codes.pin1.clone(), rig.codes.pin2.clone());
    rig.start_upgrade(&pin1, &pin2);
    rig.wait_for_text("Kortet skapar en nyckel");
    rig.click_button("Avbryt");
    rig.wait_for_text("Avbrutet. Det som redan är gjort ligger kvar på kortet");
    virtual_card::lock_virtual_card(&rig.card).set_delay(Duration::ZERO);
    let legacy_left = open(&rig.card)
        .overview()
        .unwrap()
        .certificates
        .iter()
        .any(|c| c.slot.is_some_and(|s| s.number() == 1));
    assert!(legacy_left, "the legacy pair stays until the upgrade ends");
    rig.click_button("Fortsätt uppgraderingen");
    rig.type_into("PIN1 (legitimering)", &pin1);
    rig.type_into("PIN2 (underskrift)", &pin2);
    rig.click_button("Starta uppgraderingen");
    rig.wait_for_text("Uppgraderingen är klar.");
    assert_eq!(open(&rig.card).overview().unwrap().certificates.len(), 4);
}
