//! The window on real readers when the smart card service is not there: the start screen says how
//! to start it and offers the demo, the settings are reachable by name, and the demo switch works.
//! A test binary of its own, because it points PC/SC and the caches at private places through the
//! environment before any thread starts.

mod support;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use siths_upgrade::gui::app::SithsApp;
use siths_upgrade::gui::protocol::CaSettings;
use siths_upgrade::gui::settings::Settings;
use siths_upgrade::gui::worker::{Mode, Notifier, Worker};
use support::persons::HOLDER;

#[test]
fn without_pcscd_the_start_screen_says_what_to_do_and_offers_the_demo() {
    let private = tempfile::tempdir().unwrap();
    // SAFETY: the only test in this binary, and no other thread has started yet.
    unsafe {
        std::env::set_var("PCSCLITE_CSOCK_NAME", private.path().join("no-pcscd.comm"));
        std::env::set_var("XDG_CACHE_HOME", private.path().join("cache"));
    }
    let notifier = Notifier::default();
    let worker = Worker::spawn(
        Mode::Pcsc {
            reader: None,
            ca: CaSettings::default(),
        },
        notifier.clone(),
    );
    let app = SithsApp::new(worker, notifier, Settings::default(), None);
    let mut harness = Harness::builder()
        .with_size([900.0, 640.0])
        .with_max_steps(50)
        .build_ui_state(|ui, app: &mut SithsApp| app.show(ui), app);

    support::window::wait_for_text(&mut harness, "Smartkortstjänsten körs inte");
    // The command is for the IT department: folded away until asked for.
    assert!(
        harness
            .query_all_by_label_contains("sudo systemctl start pcscd.socket")
            .next()
            .is_none(),
        "the command is folded under För IT-avdelningen"
    );
    harness.get_by_label("För IT-avdelningen").click();
    harness.run_ok();
    assert!(
        harness
            .query_all_by_label_contains("sudo systemctl start pcscd.socket")
            .next()
            .is_some(),
        "För IT-avdelningen says how to start pcscd"
    );
    assert!(
        harness
            .query_by_role_and_label(Role::Button, "Kopiera kommandot")
            .is_some(),
        "the command has a copy button"
    );
    // The click left the pointer over the header: the image shows no cursor.
    support::window::steady_snapshot(&mut harness, "start_no_service");

    // Settings: every field reachable by its name (the accessibility check runs on each step).
    harness
        .get_by_role_and_label(Role::Button, "Inställningar")
        .click();
    harness.run_ok();
    let url = harness.get_by_label("Certifikatutfärdarens adress");
    url.focus();
    url.type_text("https://ca.example:8443");
    harness.run_ok();
    harness.get_by_role_and_label(Role::Button, "Spara").click();
    harness.run_ok();
    assert!(harness.state().settings_url() == "https://ca.example:8443");
    assert!(
        harness
            .query_all_by_label_contains("Inställningarna är sparade")
            .next()
            .is_some()
    );

    // The demo from the start screen.
    harness
        .get_by_role_and_label(Role::Button, "Översikt")
        .click();
    harness.run_ok();
    harness
        .get_by_role_and_label(Role::Button, "Prova med ett demokort")
        .click();
    support::window::wait_for_text(&mut harness, HOLDER.name);
    assert!(
        harness
            .query_all_by_label_contains("DEMOLÄGE")
            .next()
            .is_some()
    );
}
