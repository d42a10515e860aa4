//! Language, the CA and the reader.

use std::path::PathBuf;

use crate::gui::app::SithsApp;
use crate::gui::i18n::Lang;
use crate::gui::protocol::{CaSettings, Environment, WorkerCommand};
use crate::gui::settings::{Settings, SettingsProblem};
use crate::gui::widgets;

/// What the holder is typing, applied on "Save".
#[derive(Default)]
pub struct SettingsForm {
    pub ca_url: String,
    pub ca_root: String,
    pub reader: Option<String>,
    /// PKCS#11 module: empty for PC/SC.
    pub pkcs11_module: String,
    pub saved: bool,
}

impl From<&Settings> for SettingsForm {
    fn from(s: &Settings) -> SettingsForm {
        SettingsForm {
            ca_url: s.ca_url.clone(),
            ca_root: s
                .ca_root
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            reader: s.reader.clone(),
            pkcs11_module: s.pkcs11_module.clone().unwrap_or_default(),
            saved: false,
        }
    }
}

pub fn show(app: &mut SithsApp, ui: &mut egui::Ui) {
    ui.heading(app.tr.t("settings-title"));
    ui.add_space(8.0);

    ui.label(app.tr.t("settings-language"));
    let mut lang = app.lang();
    ui.horizontal(|ui| {
        for l in Lang::ALL {
            ui.radio_value(&mut lang, l, l.native_name());
        }
    });
    app.set_lang(lang);
    ui.add_space(8.0);

    if let Environment::Demo { ca, .. } = &app.env {
        ui.label(
            app.tr
                .a("settings-demo-ca", &[("url", ca.url.as_str().into())]),
        );
        return;
    }
    widgets::text_field(
        ui,
        &app.tr.t("settings-ca-url"),
        &mut app.pages.settings.ca_url,
        320.0,
    );
    widgets::text_field(
        ui,
        &app.tr.t("settings-ca-root"),
        &mut app.pages.settings.ca_root,
        320.0,
    );
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        let label = ui.label(app.tr.t("settings-reader"));
        let auto = app.tr.t("settings-reader-auto");
        let selected = app
            .pages
            .settings
            .reader
            .clone()
            .unwrap_or_else(|| auto.clone());
        egui::ComboBox::from_id_salt("reader")
            .selected_text(selected)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut app.pages.settings.reader, None, auto);
                for r in &app.readers {
                    ui.selectable_value(
                        &mut app.pages.settings.reader,
                        Some(r.name.clone()),
                        &r.name,
                    );
                }
            })
            .response
            .labelled_by(label.id);
    });
    widgets::text_field(
        ui,
        &app.tr.t("settings-pkcs11"),
        &mut app.pages.settings.pkcs11_module,
        320.0,
    );
    ui.label(egui::RichText::new(app.tr.t("settings-pkcs11-help")).weak());
    ui.add_space(8.0);
    if widgets::primary(ui, &app.tr.t("save"), true) {
        let form = &app.pages.settings;
        app.settings.ca_url = form.ca_url.trim().to_string();
        app.settings.ca_root = Some(form.ca_root.trim())
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        app.settings.reader = form.reader.clone();
        let module = Some(form.pkcs11_module.trim().to_string()).filter(|m| !m.is_empty());
        let module_changed = module != app.settings.pkcs11_module;
        app.settings.pkcs11_module = module;
        app.save_settings();
        if module_changed {
            // Another way to the card: a new worker reads it from the start.
            app.switch_source(false);
            app.pages.settings.saved = true;
            return;
        }
        app.send(WorkerCommand::SetCa(CaSettings {
            url: app.settings.ca_url.clone(),
            root_pem: app.settings.ca_root.clone(),
        }));
        app.send(WorkerCommand::UseReader(app.settings.reader.clone()));
        app.pages.settings.saved = true;
    }
    if app.pages.settings.saved {
        widgets::success(ui, &app.tr.t("settings-saved"));
    }
}

/// The settings file could not all be read: which settings are back to their defaults (named
/// as the settings screen names them), that the others are kept, and where the original is.
pub fn notice(app: &mut SithsApp, ui: &mut egui::Ui) {
    let Some((problem, kept_as)) = &app.settings_notice else {
        return;
    };
    let tr = &app.tr;
    let mut text = match problem {
        SettingsProblem::Fields(fields) => {
            let names: Vec<String> = fields.iter().map(|f| field_name(tr, f)).collect();
            tr.a(
                "settings-notice-fields",
                &[("fields", names.join(", ").as_str().into())],
            )
        }
        SettingsProblem::Unreadable => tr.t("settings-notice-unreadable"),
    };
    text.push(' ');
    text.push_str(&match kept_as {
        Some(bad) => tr.a(
            "settings-notice-kept",
            &[("file", bad.display().to_string().as_str().into())],
        ),
        None => tr.t("settings-notice-not-saved"),
    });
    ui.add_space(4.0);
    ui.horizontal_wrapped(|ui| {
        widgets::warning(ui, &text);
        if widgets::secondary(ui, &app.tr.t("settings-notice-close"), true) {
            app.settings_notice = None;
        }
    });
    ui.add_space(4.0);
}

/// A settings field (its name in the file) as the window names it.
fn field_name(tr: &crate::gui::i18n::Tr, field: &str) -> String {
    let id = match field {
        "lang" => "settings-language",
        "ca_url" => "settings-ca-url",
        "ca_root" => "settings-ca-root",
        "reader" => "settings-reader",
        "pkcs11_module" => "settings-pkcs11",
        "login_certificate" => "settings-field-login-certificate",
        "desk_operator_reader" => "settings-field-desk-operator-reader",
        "desk_customer_reader" => "settings-field-desk-customer-reader",
        other => return other.to_string(),
    };
    tr.t(id)
}
