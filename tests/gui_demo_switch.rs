//! The demo watches the real readers: a holder who inserts a real card while the demo runs is
//! offered that card, and one click leaves the demo for it. The "real" card is the virtual card
//! served through a pcscd of its own (vpcd), so the window meets it exactly as a reader's card.
//! A test binary of its own, because it points PC/SC at that pcscd through the environment
//! before any thread starts.

mod support;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use siths_upgrade::gui::app::SithsApp;
use siths_upgrade::gui::settings::Settings;
use siths_upgrade::gui::worker::{Mode, Notifier, Worker};
use support::pcscd::{Pcscd, READER_0, SOCKET_ENV};
use support::persons::HOLDER;

#[test]
fn a_real_card_inserted_during_the_demo_is_offered_and_taken() {
    let pcscd = Pcscd::start();
    let private = tempfile::tempdir().unwrap();
    // SAFETY: the only test in this binary, and no other thread has started yet.
    unsafe {
        std::env::set_var(SOCKET_ENV, pcscd.socket_path());
        std::env::set_var("XDG_CACHE_HOME", private.path().join("cache"));
    }
    // The window's own demo, which makes its world itself (in the private cache).
    let notifier = Notifier::default();
    let worker = Worker::spawn(Mode::Demo(None), notifier.clone());
    let app = SithsApp::new(worker, notifier, Settings::default(), None);
    let mut harness = Harness::builder()
        .with_size([900.0, 820.0])
        .with_max_steps(50)
        .build_ui_state(|ui, app: &mut SithsApp| app.show(ui), app);
    support::window::wait_for_text(&mut harness, "DEMOLÄGE");
    support::window::wait_for_text(&mut harness, HOLDER.name);
    assert!(
        harness
            .query_all_by_label_contains("Ett kort sattes i läsaren")
            .next()
            .is_none(),
        "nothing offered while the reader is empty"
    );

    // A card goes into the real reader.
    let state = private.path().join("card.json");
    let init = support::cli::run(
        &["virtual-card", "init", "--state", state.to_str().unwrap()],
        "",
        &[],
    );
    assert!(init.status.success());
    let mut server = support::cli::serve_virtual_card(&state, &pcscd);
    pcscd.wait_for_card(true);
    support::window::wait_for_text(
        &mut harness,
        &format!("Ett kort sattes i läsaren {READER_0}"),
    );
    harness
        .get_by_role_and_label(Role::Button, "Byt till kortet i läsaren")
        .click();
    harness.run_ok();
    // The window now reads the reader: no demo banner, the card named by its reader.
    support::window::wait_for_text(&mut harness, &format!("Kort i {READER_0}"));
    assert!(
        harness
            .query_all_by_label_contains("DEMOLÄGE")
            .next()
            .is_none(),
        "the demo is left"
    );
    let _ = server.kill();
    let _ = server.wait();
}
