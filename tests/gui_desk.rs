//! The service-centre desk, driven like an operator drives it: two demo cards (the operator's and
//! the customer's) from one CA mock, the identity check that gates every help, the PUK lookup
//! with the operator's card, the customer typing their new PIN, and the audit log that records it
//! all and never a code.

mod support;

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use siths_upgrade::card::Card as _;
use siths_upgrade::card::{CardError, PinKind, SecretCode, SithsCard};
use siths_upgrade::gui::app::SithsApp;
use siths_upgrade::gui::demo::{DEMO_OPERATOR_HSA_ID, DemoCodes, DemoWorld};
use siths_upgrade::gui::desk_audit::DeskAudit;
use siths_upgrade::gui::screens::desk::Desk;
use siths_upgrade::gui::settings::Settings;
use siths_upgrade::gui::worker::{Mode, Notifier, Worker};
use siths_upgrade::virtual_card::SharedVirtualCard;
use siths_upgrade::virtual_card::memory::MemoryTransport;
use support::persons::{HOLDER, OPERATOR, RENEWAL_DUE};
use support::window::demo_cache;

/// Everything the application logs during the test, to look for codes in it.
struct Capture(Mutex<String>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        if let Ok(mut s) = self.0.lock() {
            s.push_str(&format!("{} {}\n", record.target(), record.args()));
        }
    }
    fn flush(&self) {}
}

fn captured() -> &'static Capture {
    static LOG: OnceLock<&'static Capture> = OnceLock::new();
    LOG.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(String::new()))));
        let _ = log::set_logger(capture);
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

fn open(card: &SharedVirtualCard) -> SithsCard {
    SithsCard::open(Box::new(MemoryTransport::connect(card.clone()).unwrap())).unwrap()
}

struct Desk2 {
    harness: Harness<'static, SithsApp>,
    customer: SharedVirtualCard,
    customer_codes: DemoCodes,
    operator_codes: DemoCodes,
    audit_path: std::path::PathBuf,
    puk_log: std::path::PathBuf,
    _dir: tempfile::TempDir,
    /// The CA mock, when the customer's worker does not own the world.
    _world: Option<DemoWorld>,
    /// What the operator and customer did: clicks (a field focused by the mouse counts as one)
    /// and keys typed or pressed.
    clicks: usize,
    keys: usize,
}

impl Desk2 {
    fn new(block_pin1: bool) -> Desk2 {
        Desk2::with_customer(None, block_pin1)
    }

    /// The desk with the demo holder's card as the customer's, or the card of `customer` (an
    /// HSA-id of the test world).
    fn with_customer(customer_id: Option<&str>, block_pin1: bool) -> Desk2 {
        captured();
        let world = DemoWorld::prepare_in(demo_cache()).unwrap();
        let seat = world.seat(DEMO_OPERATOR_HSA_ID).unwrap();
        let customer_seat = customer_id.map(|id| world.seat(id).unwrap());
        let customer = match &customer_seat {
            Some(s) => s.card.clone(),
            None => world.card.clone(),
        };
        if block_pin1 {
            let mut c = open(&customer);
            for _ in 0..3 {
                let r = c.verify_pin(PinKind::Pin1, &SecretCode::pin("000111".into()).unwrap());
                assert!(matches!(
                    r,
                    Err(CardError::WrongCode { .. } | CardError::Blocked(_))
                ));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let audit_path = dir.path().join("audit.log");
        let puk_log = world.mock().dir().puk_log();
        let customer_codes = match &customer_seat {
            Some(s) => s.codes.clone(),
            None => world.codes.clone(),
        };
        let operator_codes = seat.codes.clone();
        let ca = world.ca.clone();
        let notifier = Notifier::default();
        let (worker, kept) = match customer_seat {
            Some(customer) => (
                Worker::spawn(
                    Mode::Seat {
                        seat: customer,
                        ca: ca.clone(),
                    },
                    notifier.clone(),
                ),
                Some(world),
            ),
            None => (
                Worker::spawn(Mode::Demo(Some(world)), notifier.clone()),
                None,
            ),
        };
        let operator = Worker::spawn(Mode::Seat { seat, ca }, notifier.clone());
        let app = SithsApp::new(worker, notifier, Settings::default(), None)
            .with_desk(Desk::new(operator, DeskAudit::open(&audit_path)));
        let harness = Harness::builder()
            .with_size([1000.0, 980.0])
            .with_max_steps(50)
            .build_ui_state(|ui, app: &mut SithsApp| app.show(ui), app);
        let mut desk = Desk2 {
            harness,
            customer,
            customer_codes,
            operator_codes,
            audit_path,
            puk_log,
            _dir: dir,
            _world: kept,
            clicks: 0,
            keys: 0,
        };
        desk.wait_for(OPERATOR.name);
        desk.wait_for(if customer_id.is_some() {
            RENEWAL_DUE.hsa_id
        } else {
            HOLDER.name
        });
        desk
    }

    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            self.harness.step();
            if self.has(text) {
                self.harness.run_ok();
                return;
            }
            assert!(Instant::now() < deadline, "the desk never showed {text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Step until one of `texts` shows; which one.
    fn wait_for_any(&mut self, texts: &[&str]) -> usize {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            self.harness.step();
            if let Some(i) = texts.iter().position(|t| self.has(t)) {
                self.harness.run_ok();
                return i;
            }
            assert!(Instant::now() < deadline, "the desk never showed {texts:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn has(&self, text: &str) -> bool {
        self.harness
            .query_all_by_label_contains(text)
            .next()
            .is_some()
    }

    fn enabled(&self, button: &str) -> bool {
        !self
            .harness
            .get_by_role_and_label(Role::Button, button)
            .accesskit_node()
            .is_disabled()
    }

    fn click(&mut self, button: &str) {
        self.harness
            .get_by_role_and_label(Role::Button, button)
            .click();
        self.harness.run_ok();
        self.clicks += 1;
    }

    /// Click a checkbox, a list item or another labelled widget.
    fn click_label(&mut self, label: &str) {
        self.harness.get_by_label(label).click();
        self.harness.run_ok();
        self.clicks += 1;
    }

    /// Click into the field, then type.
    fn type_into(&mut self, field: &str, text: &str) {
        let node = self.harness.get_by_label(field);
        node.focus();
        node.type_text(text);
        self.harness.run_ok();
        self.clicks += 1;
        self.keys += text.chars().count();
    }

    /// Type into the field that has the focus already.
    fn type_here(&mut self, field: &str, text: &str) {
        assert!(
            self.harness.get_by_label(field).is_focused(),
            "{field} has the focus"
        );
        self.harness.get_by_label(field).type_text(text);
        self.harness.run_ok();
        self.keys += text.chars().count();
    }

    fn press(&mut self, key: egui::Key) {
        self.harness.key_press(key);
        self.harness.run_ok();
        self.keys += 1;
    }

    /// Document, photo, the last four characters and Enter (which confirms a complete check).
    fn check_identity(&mut self) {
        self.click_label("Id-handling");
        self.click_label("Pass");
        self.click_label("Fotot stämmer med personen");
        self.type_into("Fyra sista tecknen", "4821");
        self.press(egui::Key::Enter);
        assert!(self.has("Identiteten är kontrollerad (Pass, …4821)"));
    }

    fn audit_text(&self) -> String {
        std::fs::read_to_string(&self.audit_path).unwrap_or_default()
    }

    /// No code of either card anywhere the desk writes or logs.
    fn assert_no_codes_anywhere(&self) {
        let log = captured().0.lock().unwrap().clone();
        let puk_log = std::fs::read_to_string(&self.puk_log).unwrap_or_default();
        for codes in [&self.customer_codes, &self.operator_codes] {
            for code in [&codes.pin1, &codes.pin2, &codes.puk] {
                assert!(
                    !self.audit_text().contains(code.as_str()),
                    "a code in the audit log"
                );
                assert!(
                    !log.contains(code.as_str()),
                    "a code in the application log"
                );
                assert!(
                    !puk_log.contains(code.as_str()),
                    "a code in the CA's PUK log"
                );
            }
        }
        assert!(
            !self.audit_text().contains("482915"),
            "the new PIN in the audit log"
        );
        assert!(
            !log.contains("482915"),
            "the new PIN in the application log"
        );
    }
}

#[test]
fn the_identity_check_gates_the_puk_lookup_and_the_unblock() {
    let mut desk = Desk2::new(true);
    // At a glance: holder, tries left, the verdict with the next step.
    assert!(desk.has(HOLDER.hsa_id));
    assert!(desk.has("Försök kvar: PIN1 spärrad, PIN2 3, PUK-kod 10"));
    assert!(desk.has("PIN1 (legitimering) är spärrad: lås upp med PUK-koden."));
    assert!(
        desk.has("Uppgradering: möjlig"),
        "the legacy pair can still be upgraded"
    );
    assert!(desk.has("Kontrollera identiteten först"));
    desk.click_label("Glömt PIN1");
    assert_eq!(
        desk.harness.get_by_label("Anledning").value().as_deref(),
        Some("Glömt PIN1"),
        "the preset fills in the reason"
    );
    let op_pin = desk.operator_codes.pin1.clone();
    desk.type_into("Din PIN1 (handläggarens)", &op_pin);
    assert!(
        !desk.enabled("Hämta kundens PUK-kod"),
        "no lookup before the identity check"
    );
    assert!(
        !desk.enabled("Lås upp PIN1 (legitimering)"),
        "no unblock before the identity check"
    );
    assert!(
        desk.audit_text().is_empty(),
        "nothing happened, nothing logged"
    );

    // The identity check, then the lookup with the operator's card.
    desk.check_identity();
    desk.harness.remove_cursor();
    desk.harness.run_ok();
    // The log's path (a fresh temp dir) is only in a tooltip: the picture needs no mask.
    assert!(desk.has("Granskningsloggen: 1 post"));
    support::window::steady_snapshot(&mut desk.harness, "desk_identity_checked");
    assert!(desk.enabled("Hämta kundens PUK-kod"));
    // Enter in the operator's PIN fetches the PUK.
    desk.harness
        .get_by_label("Din PIN1 (handläggarens)")
        .focus();
    desk.harness.run_ok();
    desk.press(egui::Key::Enter);
    desk.wait_for("PUK-kod: ••••••••");
    assert!(
        !desk.has(&desk.customer_codes.puk.clone()),
        "masked until revealed"
    );
    desk.click("Visa PUK-koden");
    let puk = desk.customer_codes.puk.clone();
    assert!(
        desk.has(&format!("PUK-kod: {puk}")),
        "the PUK from the customer's code letter"
    );
    // Reading the CA's own log of lookups: who asked, for whom, why; never the PUK.
    let puk_log = std::fs::read_to_string(&desk.puk_log).unwrap();
    assert!(puk_log.contains(OPERATOR.hsa_id) && puk_log.contains(HOLDER.hsa_id));
    // The lookup's login also anchored the desk's log at the CA: the identity check's entry
    // is there, under the log's id, and the log checks out against it.
    let log_id = siths_upgrade::audit::anchor::log_id(&desk.audit_path)
        .unwrap()
        .unwrap();
    // Read from the CA's store (the CA lists anchors to operators only).
    let dir = siths_upgrade::ca::mock::MockDir::new(desk.puk_log.parent().unwrap());
    let store = siths_upgrade::ca::mock::store::Store::open(&dir.store()).unwrap();
    let anchors: Vec<siths_upgrade::audit::anchor::StoredAnchor> = store
        .anchors(&log_id)
        .unwrap()
        .into_iter()
        .map(
            |(seq, hash, action, _)| siths_upgrade::audit::anchor::StoredAnchor {
                seq,
                hash,
                action,
                received: String::new(),
            },
        )
        .collect();
    assert_eq!(
        anchors
            .iter()
            .map(|a| a.action.as_str())
            .collect::<Vec<_>>(),
        ["identity-check"]
    );
    let report = siths_upgrade::audit::anchor::check(
        &desk.audit_path,
        &anchors,
        siths_upgrade::pki::date::now_unix(),
    )
    .unwrap();
    assert_eq!(report.anchored, 1);
    // The log is the operator's, and the only one the CA holds of hers.
    let logs = store.logs_of(OPERATOR.hsa_id).unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].log, log_id);

    // The customer types the new PIN; the PUK is already in the form.
    desk.click("Lås upp PIN1 (legitimering)");
    desk.wait_for("Lås upp en PIN-kod med PUK-koden");
    // The PUK is in the form; the focus waits in the new PIN; Enter moves on and submits.
    desk.type_here("Ny PIN1 (legitimering)", "482915");
    desk.press(egui::Key::Enter);
    desk.type_here("Upprepa den nya PIN-koden", "482915");
    desk.press(egui::Key::Enter);
    desk.wait_for("är upplåst och har din nya kod");
    // What it takes at the desk (typing the codes included): printed, not asserted on.
    println!(
        "desk, blocked PIN1 to a new PIN: {} clicks and {} keys (was about 12 clicks plus the \
         reason typed out)",
        desk.clicks, desk.keys
    );
    open(&desk.customer)
        .verify_pin(PinKind::Pin1, &SecretCode::pin("482915".into()).unwrap())
        .unwrap();

    // The log: three entries in order, the chain intact, no codes anywhere.
    let report = siths_upgrade::audit::verify(&desk.audit_path).unwrap();
    assert_eq!(report.entries, 3);
    let text = desk.audit_text();
    let actions: Vec<&str> = ["identity-check", "puk-lookup", "unblock"]
        .into_iter()
        .filter(|a| text.contains(&format!("\"{a}\"")))
        .collect();
    assert_eq!(actions, ["identity-check", "puk-lookup", "unblock"]);
    assert!(text.contains(OPERATOR.hsa_id), "the operator is named");
    assert!(
        text.contains("9752269000001001"),
        "the card serial is named"
    );
    desk.assert_no_codes_anywhere();
}

#[test]
fn a_failed_lookup_is_logged_and_shown() {
    let mut desk = Desk2::new(false);
    assert!(desk.has("Kortet har det gamla paret: uppgradera det."));
    desk.check_identity();
    desk.type_into("Anledning", "Test av fel PIN");
    desk.type_into("Din PIN1 (handläggarens)", "111222");
    desk.click("Hämta kundens PUK-kod");
    desk.wait_for("Fel PIN1 (legitimering), 2 försök kvar.");
    let text = desk.audit_text();
    assert!(
        text.contains("\"puk-lookup\"") && text.contains("\"failed\""),
        "{text}"
    );
    desk.assert_no_codes_anywhere();
}

/// Lena's card is due (`"renewal_due": true`): the desk's verdict offers renewal, after the
/// identity check only; the renewal is done and the audit log says so.
#[test]
fn a_due_card_is_renewed_at_the_desk_and_logged() {
    let mut desk = Desk2::with_customer(Some(RENEWAL_DUE.hsa_id), false);
    assert!(
        desk.has("Certifikaten går ut om"),
        "the verdict names the expiry"
    );
    assert!(desk.has("förnya dem nu"));
    assert!(
        !desk.enabled("Förnya nu"),
        "no renewal before the identity check"
    );
    desk.check_identity();
    assert!(desk.enabled("Förnya nu"));
    desk.click("Förnya nu");
    desk.wait_for("Förnya certifikaten");
    desk.click("Fortsätt");
    let (pin1, pin2) = (
        desk.customer_codes.pin1.clone(),
        desk.customer_codes.pin2.clone(),
    );
    desk.type_into("PIN1 (legitimering)", &pin1);
    desk.type_into("PIN2 (underskrift)", &pin2);
    desk.click("Starta förnyelsen");
    desk.wait_for("Förnyelsen är klar.");

    let report = siths_upgrade::audit::verify(&desk.audit_path).unwrap();
    assert_eq!(report.entries, 2, "{}", desk.audit_text());
    let text = desk.audit_text();
    let renew_line = text
        .lines()
        .find(|l| l.contains("\"renew\""))
        .unwrap_or_else(|| panic!("no renewal entry: {text}"));
    assert!(renew_line.contains("\"done\""), "{renew_line}");
    assert!(
        renew_line.contains("4 certificate(s) renewed"),
        "{renew_line}"
    );
    assert!(renew_line.contains("9752269000001013"), "{renew_line}");
    desk.assert_no_codes_anywhere();
}

/// Issue 24: on the Översikt tab the customer's PIN could be changed before the identity check
/// (three wrong current PINs blocked it, and the log held three change-pin entries before the
/// identity check). Now the desk's model refuses every command to the customer's card before
/// the check, whichever tab sends it: the window says why and what to do, no try is spent,
/// nothing is logged; after the check the same change goes through, logged after the check.
#[test]
fn the_pin_cannot_be_changed_from_the_overview_before_the_identity_check() {
    let mut desk = Desk2::new(false);
    let tries = |desk: &Desk2| {
        open(&desk.customer)
            .pin_status(PinKind::Pin1)
            .unwrap()
            .tries_left
    };
    desk.click("Översikt");
    desk.click("Byt PIN-kod");
    desk.wait_for("Nuvarande PIN1 (legitimering)");
    let refused = "Kontrollera kundens identitet först. Inget på kundens kort ändras innan dess, \
                   och inga försök har gått åt.";
    for attempt in 1..=3 {
        desk.type_into("Nuvarande PIN1 (legitimering)", "000111");
        desk.type_into("Ny PIN1 (legitimering)", "482915");
        desk.type_into("Upprepa den nya PIN-koden", "482915");
        desk.click("Byt kod");
        let shown = desk.wait_for_any(&[refused, "Fel PIN1", "spärrad"]);
        assert_eq!(
            (shown, tries(&desk)),
            (0, 3),
            "attempt {attempt} reached the card before the identity check"
        );
    }
    // Said before anyone types, on every page but the desk's own.
    assert!(desk.has("Kontrollera kundens identitet först, på fliken Servicedisk."));
    assert!(
        desk.audit_text().is_empty(),
        "a refused command is not logged as done to the card: {}",
        desk.audit_text()
    );

    // The check on the desk's tab, then the same change from the overview.
    desk.click("Servicedisk");
    desk.check_identity();
    desk.click("Översikt");
    assert!(!desk.has("Kontrollera kundens identitet först"));
    desk.click("Byt PIN-kod");
    let pin1 = desk.customer_codes.pin1.clone();
    desk.type_into("Nuvarande PIN1 (legitimering)", &pin1);
    desk.type_into("Ny PIN1 (legitimering)", "482915");
    desk.type_into("Upprepa den nya PIN-koden", "482915");
    desk.click("Byt kod");
    desk.wait_for("PIN1 (legitimering) är bytt.");
    assert_eq!(tries(&desk), 3);

    let report = siths_upgrade::audit::verify(&desk.audit_path).unwrap();
    assert_eq!(report.entries, 2, "{}", desk.audit_text());
    let text = desk.audit_text();
    let actions: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["action"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(actions, ["identity-check", "change-pin"]);
    desk.assert_no_codes_anywhere();
}
