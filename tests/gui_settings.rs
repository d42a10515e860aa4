//! A settings file the window cannot fully read: one bad field is named in the window, reset
//! alone, the original kept beside as settings.json.bad; an unparsable file gives the defaults
//! with the same notice. A test binary of its own, because it points PC/SC at a private place
//! through the environment before any thread starts.

mod support;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use siths_upgrade::gui::app::SithsApp;
use siths_upgrade::gui::protocol::CaSettings;
use siths_upgrade::gui::settings::Settings;
use siths_upgrade::gui::worker::{Mode, Notifier, Worker};

/// The window on the settings at `path`, loaded as the window loads them at start.
fn window(path: &std::path::Path) -> Harness<'static, SithsApp> {
    let loaded = Settings::load_checked(path);
    let notifier = Notifier::default();
    let worker = Worker::spawn(
        Mode::Pcsc {
            reader: None,
            ca: CaSettings::default(),
        },
        notifier.clone(),
    );
    let save_to = loaded.may_save.then(|| path.to_path_buf());
    let mut app = SithsApp::new(worker, notifier, loaded.settings, save_to);
    if let Some(problem) = loaded.problem {
        app = app.with_settings_problem(problem, loaded.kept_as);
    }
    Harness::builder()
        .with_size([900.0, 640.0])
        .with_max_steps(50)
        .build_ui_state(|ui, app: &mut SithsApp| app.show(ui), app)
}

fn has(harness: &Harness<'static, SithsApp>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

#[test]
fn a_bad_settings_field_is_named_reset_alone_and_the_file_kept() {
    let private = tempfile::tempdir().unwrap();
    // SAFETY: the only test in this binary, and no other thread has started yet.
    unsafe {
        std::env::set_var("PCSCLITE_CSOCK_NAME", private.path().join("no-pcscd.comm"));
    }
    let path = private.path().join("settings.json");
    let original = br#"{
  "lang": "En",
  "ca_url": "https://ca.example.se:8443",
  "ca_root": 5,
  "reader": "Reader 1"
}"#;
    std::fs::write(&path, original).unwrap();

    let mut harness = window(&path);
    harness.run_ok();
    let bad = private.path().join("settings.json.bad");
    // In English, as the file says: the language field was read.
    assert!(
        has(
            &harness,
            "Some settings could not be read and are back to their defaults: The certificate \
             authority's root certificate (PEM file). The other settings are kept."
        ),
        "the notice names the field"
    );
    assert!(has(
        &harness,
        &format!("The original file is kept as {}", bad.display())
    ));
    assert_eq!(std::fs::read(&bad).unwrap(), original);
    harness.get_by_label("Settings").click();
    harness.run_ok();
    assert_eq!(
        harness
            .get_by_label("The certificate authority's address")
            .value()
            .as_deref(),
        Some("https://ca.example.se:8443"),
        "the other fields keep their values"
    );
    // A save writes the settings as they are now; the original stays beside.
    harness
        .get_by_role_and_label(Role::Button, "Svenska")
        .click();
    harness.run_ok();
    assert!(has(
        &harness,
        "Några inställningar gick inte att läsa och har fått sina standardvärden: \
         Certifikatutfärdarens rotcertifikat (PEM-fil)."
    ));
    harness.get_by_label("Stäng").click();
    harness.run_ok();
    assert!(!has(&harness, "Några inställningar"), "closed");
    let saved = Settings::load_checked(&path);
    assert!(saved.problem.is_none());
    assert_eq!(saved.settings.ca_url, "https://ca.example.se:8443");
    assert_eq!(saved.settings.reader.as_deref(), Some("Reader 1"));
    assert_eq!(std::fs::read(&bad).unwrap(), original);
    drop(harness);

    // Not a settings file at all: the defaults (Swedish), and the same care for the original.
    std::fs::write(&path, b"{\"lang\": \"En\", \"ca_url\": ").unwrap();
    let mut harness = window(&path);
    harness.run_ok();
    assert!(has(
        &harness,
        "Inställningsfilen gick inte att läsa, så alla inställningar har fått sina \
         standardvärden."
    ));
    assert!(has(
        &harness,
        &format!("Originalfilen finns kvar som {}", bad.display())
    ));
    assert_eq!(
        std::fs::read(&bad).unwrap(),
        b"{\"lang\": \"En\", \"ca_url\": "
    );
}
