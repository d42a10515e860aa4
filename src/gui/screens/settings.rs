//! Language, the CA and the reader.

use std::path::PathBuf;

use crate::gui::i18n::Lang;
use crate::gui::intent::{Intent, Intents};
use crate::gui::protocol::{CaSettings, Environment, WorkerCommand};
use crate::gui::settings::{Settings, SettingsProblem};
use crate::gui::view::View;
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

pub fn show(app: &View<'_>, form: &mut SettingsForm, ui: &mut egui::Ui) -> Intents {
    let mut intents = Intents::default();
    ui.heading(app.tr.t("settings-title"));
    ui.add_space(8.0);

    ui.label(app.tr.t("settings-language"));
    let mut lang = app.lang();
    ui.horizontal(|ui| {
        for l in Lang::ALL {
            ui.radio_value(&mut lang, l, l.native_name());
        }
    });
    if lang != app.lang() {
        intents.push(Intent::SetLanguage(lang));
    }
    ui.add_space(8.0);

    if let Environment::Demo { ca, .. } = app.env {
        ui.label(
            app.tr
                .a("settings-demo-ca", &[("url", ca.url.as_str().into())]),
        );
        return intents;
    }
    widgets::text_field(ui, &app.tr.t("settings-ca-url"), &mut form.ca_url, 320.0);
    widgets::text_field(ui, &app.tr.t("settings-ca-root"), &mut form.ca_root, 320.0);
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        let label = ui.label(app.tr.t("settings-reader"));
        let auto = app.tr.t("settings-reader-auto");
        let selected = form.reader.clone().unwrap_or_else(|| auto.clone());
        egui::ComboBox::from_id_salt("reader")
            .selected_text(selected)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut form.reader, None, auto);
                for r in app.readers {
                    ui.selectable_value(&mut form.reader, Some(r.name.clone()), &r.name);
                }
            })
            .response
            .labelled_by(label.id);
    });
    widgets::text_field(
        ui,
        &app.tr.t("settings-pkcs11"),
        &mut form.pkcs11_module,
        320.0,
    );
    ui.label(egui::RichText::new(app.tr.t("settings-pkcs11-help")).weak());
    ui.add_space(8.0);
    if widgets::primary(ui, &app.tr.t("save"), true) {
        let mut settings = app.settings.clone();
        settings.ca_url = form.ca_url.trim().to_string();
        settings.ca_root = Some(form.ca_root.trim())
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        settings.reader = form.reader.clone();
        let module = Some(form.pkcs11_module.trim().to_string()).filter(|m| !m.is_empty());
        let module_changed = module != settings.pkcs11_module;
        settings.pkcs11_module = module;
        let ca = CaSettings {
            url: settings.ca_url.clone(),
            root_pem: settings.ca_root.clone(),
        };
        let reader = settings.reader.clone();
        intents.push(Intent::SaveSettings(Box::new(settings)));
        if module_changed {
            // Another way to the card: a new worker reads it from the start.
            intents.push(Intent::SwitchToReaders);
        } else {
            intents.push(Intent::Send(WorkerCommand::SetCa(ca)));
            intents.push(Intent::Send(WorkerCommand::UseReader(reader)));
        }
        form.saved = true;
    }
    if form.saved {
        widgets::success(ui, &app.tr.t("settings-saved"));
    }
    intents
}

/// The settings file could not all be read: which settings are back to their defaults (named
/// as the settings screen names them), that the others are kept, and where the original is.
pub fn notice(app: &View<'_>, ui: &mut egui::Ui) -> Intents {
    let mut intents = Intents::default();
    let Some((problem, kept_as)) = app.settings_notice else {
        return intents;
    };
    let tr = app.tr;
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
            intents.push(Intent::DismissSettingsNotice);
        }
    });
    ui.add_space(4.0);
    intents
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

#[cfg(test)]
mod tests {
    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::gui::i18n::Tr;
    use crate::gui::intent::Screen;
    use crate::gui::protocol::CardStatus;
    use crate::gui::view::type_into;

    /// The settings page alone, without an app: what it draws from and what it asked for.
    struct Page {
        tr: Tr,
        settings: Settings,
        env: Environment,
        card: CardStatus,
        form: SettingsForm,
        asked: Vec<Intent>,
    }

    fn page() -> Harness<'static, Page> {
        let settings = Settings::default();
        let page = Page {
            tr: Tr::new(Lang::Sv),
            form: SettingsForm::from(&settings),
            settings,
            env: Environment::Pcsc,
            card: CardStatus::NoCard,
            asked: Vec::new(),
        };
        Harness::builder().build_ui_state(
            |ui, page: &mut Page| {
                let view = View::alone(
                    &page.tr,
                    &page.settings,
                    &page.env,
                    &page.card,
                    Screen::Settings,
                );
                let asked = show(&view, &mut page.form, ui);
                page.asked.extend(asked);
            },
            page,
        )
    }

    #[test]
    fn a_page_nobody_touches_asks_for_nothing() {
        let mut harness = page();
        harness.run();
        assert!(harness.state().asked.is_empty());
        harness
            .get_by_role_and_label(Role::RadioButton, "English")
            .click();
        harness.run();
        let asked = &harness.state().asked;
        assert!(
            matches!(asked.as_slice(), [Intent::SetLanguage(Lang::En)]),
            "one language switch, asked once"
        );
    }

    #[test]
    fn saving_points_the_worker_at_the_typed_ca_and_a_new_module_at_a_new_worker() {
        let mut harness = page();
        harness.run();
        type_into(
            &mut harness,
            "Certifikatutfärdarens adress",
            " https://ca.example ",
        );
        harness.get_by_role_and_label(Role::Button, "Spara").click();
        harness.run();
        match harness.state().asked.as_slice() {
            [
                Intent::SaveSettings(saved),
                Intent::Send(WorkerCommand::SetCa(ca)),
                Intent::Send(WorkerCommand::UseReader(None)),
            ] => {
                assert_eq!(saved.ca_url, "https://ca.example");
                assert_eq!(ca.url, "https://ca.example");
            }
            _ => panic!("not saved and sent to the worker"),
        }
        assert!(
            harness
                .query_by_label_contains("Inställningarna är sparade.")
                .is_some()
        );

        harness.state_mut().asked.clear();
        type_into(
            &mut harness,
            "Kortets mellanprogram (PKCS#11-modul)",
            "opensc",
        );
        harness.get_by_role_and_label(Role::Button, "Spara").click();
        harness.run();
        match harness.state().asked.as_slice() {
            [Intent::SaveSettings(saved), Intent::SwitchToReaders] => {
                assert_eq!(saved.pkcs11_module.as_deref(), Some("opensc"));
            }
            _ => panic!("a new module did not ask for a new worker"),
        }
    }
}
