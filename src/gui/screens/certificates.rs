//! Every certificate on the card in plain words; the holder picks the one to log in with, proves
//! it against the CA, and saves certificates to files.

use std::path::PathBuf;

use egui::RichText;
use zeroize::Zeroizing;

use crate::ca::client::Me;
use crate::card::{CardCertificate, PinKind, SecretCode};
use crate::gui::intent::{Intent, Intents, Screen};
use crate::gui::protocol::{Failure, TaskOutcome, WorkerCommand};
use crate::gui::settings::Settings;
use crate::gui::view::View;
use crate::gui::widgets;
use crate::gui::words;
use crate::layout::PIN_MAX_LEN;
use crate::pki::{CertInfo, Purpose};

#[derive(Default)]
pub struct CertsScreen {
    pub pin1: Zeroizing<String>,
    /// Where exported certificates go; empty: the home directory.
    pub export_dir: String,
    pub login: Option<(crate::card::KeySlot, Box<Me>)>,
    pub exported: Option<PathBuf>,
    pub failure: Option<Failure>,
}

impl CertsScreen {
    pub fn finished(&mut self, outcome: TaskOutcome) {
        self.failure = None;
        match outcome {
            TaskOutcome::LoggedIn { slot, me } => self.login = Some((slot, me)),
            TaskOutcome::Exported(path) => self.exported = Some(path),
            TaskOutcome::Failed(f) => self.failure = Some(f),
            _ => {}
        }
    }
}

/// Certificates that can log in: authentication certificates under PIN1 with a key slot.
fn can_log_in(c: &CardCertificate) -> bool {
    c.slot.is_some()
        && c.pin == Some(PinKind::Pin1)
        && c.info
            .as_ref()
            .is_ok_and(|i| i.purpose == Purpose::Authentication)
}

/// The holder's choice, or else the best login certificate: level 3 HSA-id first.
pub fn chosen_login<'a>(
    settings: &Settings,
    certs: &'a [CardCertificate],
) -> Option<&'a CardCertificate> {
    let fingerprint =
        |c: &CardCertificate| c.info.as_ref().ok().map(|i| i.fingerprint_sha256.clone());
    if let Some(chosen) = &settings.login_certificate
        && let Some(c) = certs
            .iter()
            .filter(|c| can_log_in(c))
            .find(|c| fingerprint(c).as_ref() == Some(chosen))
    {
        return Some(c);
    }
    certs.iter().filter(|c| can_log_in(c)).max_by_key(|c| {
        let i = c.info.as_ref().ok();
        (
            i.and_then(|i| i.trust_level).unwrap_or(0),
            i.is_some_and(|i| matches!(i.identity, crate::pki::Identity::HsaId(_))),
        )
    })
}

pub fn show(app: &View<'_>, certs: &mut CertsScreen, ui: &mut egui::Ui) -> Intents {
    let mut intents = Intents::default();
    ui.heading(app.tr.t("certs-title"));
    ui.label(app.tr.t("certs-intro"));
    ui.add_space(8.0);
    let Some(overview) = app.overview() else {
        ui.label(app.tr.t("start-no-card-body"));
        return intents;
    };
    let now = app.now;
    let chosen_fp = chosen_login(app.settings, &overview.certificates)
        .and_then(|c| c.info.as_ref().ok())
        .map(|i| i.fingerprint_sha256.clone());
    for c in &overview.certificates {
        let Ok(info) = &c.info else {
            widgets::warning(
                ui,
                &app.tr
                    .a("cert-unreadable", &[("label", c.label.as_str().into())]),
            );
            continue;
        };
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(
                RichText::new(format!(
                    "{} {} · {}",
                    words::identity_kind(app.tr, &info.identity),
                    info.identity.display_masked(),
                    words::purpose(app.tr, info.purpose)
                ))
                .strong(),
            );
            details(app, ui, info, now);
            ui.horizontal(|ui| {
                if can_log_in(c) {
                    let selected = chosen_fp.as_deref() == Some(info.fingerprint_sha256.as_str());
                    let label = app.tr.t("use-for-login");
                    if ui.radio(selected, label).clicked() && !selected {
                        let settings = Settings {
                            login_certificate: Some(info.fingerprint_sha256.clone()),
                            ..app.settings.clone()
                        };
                        certs.login = None;
                        intents.push(Intent::SaveSettings(Box::new(settings)));
                    }
                }
                let label = app
                    .tr
                    .a("export-cert", &[("label", c.label.as_str().into())]);
                if widgets::secondary(ui, &label, app.busy.is_none()) {
                    let dir = export_dir(&certs.export_dir);
                    let path = dir.join(export_file_name(&c.label, &info.serial_hex));
                    certs.exported = None;
                    intents.push(Intent::Send(WorkerCommand::ExportCertificate {
                        id: c.id.clone(),
                        path,
                    }));
                }
            });
        });
        ui.add_space(4.0);
    }

    // Certificates the CA already issued for this holder, written back to this card.
    if !overview.dead() && widgets::secondary(ui, &app.tr.t("action-fetch"), app.busy.is_none()) {
        intents.push(Intent::GoTo(Screen::Fetch));
    }

    ui.add_space(8.0);
    ui.label(RichText::new(app.tr.t("test-login-title")).strong());
    ui.label(app.tr.t("test-login-explain"));
    let pin_label = app.tr.a(
        "enter-pin",
        &[(
            "pin",
            words::pin_name(app.tr, PinKind::Pin1).as_str().into(),
        )],
    );
    let enter = widgets::code_field(ui, &pin_label, &mut certs.pin1, PIN_MAX_LEN);
    let slot = chosen_login(app.settings, &overview.certificates).and_then(|c| c.slot);
    let ready = slot.is_some() && app.busy.is_none() && !certs.pin1.is_empty();
    let clicked = widgets::primary(ui, &app.tr.t("test-login"), ready);
    if (clicked || enter)
        && ready
        && let Some(slot) = slot
    {
        let pin = SecretCode::pin(std::mem::take(&mut *certs.pin1));
        widgets::forget_field(ui.ctx(), &pin_label);
        match pin {
            Ok(pin1) => {
                certs.login = None;
                intents.push(Intent::Send(WorkerCommand::TestLogin { slot, pin1 }));
            }
            Err(e) => certs.failure = Some(Failure::Card(e.into())),
        }
    }
    if let Some((_, me)) = &certs.login {
        widgets::success(
            ui,
            &app.tr.a(
                "test-login-ok",
                &[
                    ("name", me.name.as_str().into()),
                    ("hsa", me.hsa_id.as_str().into()),
                ],
            ),
        );
    }
    if let Some(path) = &certs.exported {
        widgets::success(
            ui,
            &app.tr.a(
                "exported-to",
                &[("path", path.display().to_string().as_str().into())],
            ),
        );
    }
    if let Some(f) = &certs.failure {
        widgets::error_box(ui, &words::failure(app.tr, f));
    }
    ui.add_space(6.0);
    widgets::text_field(ui, &app.tr.t("export-dir"), &mut certs.export_dir, 320.0);

    ui.add_space(8.0);
    egui::CollapsingHeader::new(app.tr.t("chooser-help-title"))
        .id_salt("chooser-help")
        .show(ui, |ui| {
            for id in [
                "chooser-help-1",
                "chooser-help-2",
                "chooser-help-3",
                "chooser-help-4",
            ] {
                ui.label(format!("• {}", app.tr.t(id)));
            }
        });
    intents
}

/// `<label>-<serial start>.pem`, with anything but letters, digits, `-` and `_` replaced: the
/// label comes from the card, and must not be able to name another directory.
fn export_file_name(label: &str, serial_hex: &str) -> String {
    let safe: String = label
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let serial: String = serial_hex
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    format!("{safe}-{serial}.pem")
}

fn export_dir(typed: &str) -> PathBuf {
    if !typed.trim().is_empty() {
        return PathBuf::from(typed.trim());
    }
    crate::paths::home_dir().unwrap_or_else(std::env::temp_dir)
}

fn details(app: &View<'_>, ui: &mut egui::Ui, info: &CertInfo, now: i64) {
    let tr = app.tr;
    egui::Grid::new(("cert", &info.fingerprint_sha256))
        .num_columns(2)
        .spacing([16.0, 2.0])
        .show(ui, |ui| {
            ui.label(tr.t("cert-holder"));
            ui.label(info.subject.common_name.as_deref().unwrap_or("–"));
            ui.end_row();
            ui.label(tr.t("cert-trust"));
            ui.label(match info.trust_level {
                Some(l) => {
                    let services = crate::pki::trust::services_for_level(l);
                    if services.is_empty() {
                        tr.a("trust-level-no-services", &[("level", l.into())])
                    } else {
                        tr.a(
                            "trust-level-services",
                            &[
                                ("level", l.into()),
                                ("services", services.join(", ").as_str().into()),
                            ],
                        )
                    }
                }
                None => tr.t("trust-level-unknown"),
            });
            ui.end_row();
            ui.label(tr.t("cert-validity"));
            let (left, _) = words::expiry(tr, info.days_left(now));
            ui.label(format!(
                "{} – {} ({left})",
                info.not_before_date(),
                info.not_after_date()
            ));
            ui.end_row();
            ui.label(tr.t("cert-issuer"));
            ui.label(info.issuer_cn.as_deref().unwrap_or(&info.issuer_dn));
            ui.end_row();
            ui.label(tr.t("cert-fingerprint"));
            ui.label(RichText::new(&info.fingerprint_sha256).monospace().small());
            ui.end_row();
        });
}

#[cfg(test)]
mod tests {
    use super::export_file_name;

    #[test]
    fn a_label_from_the_card_cannot_leave_the_export_folder() {
        assert_eq!(
            export_file_name("HSA-id legitimering", "0a1b2c3d4e5f"),
            "HSA-id_legitimering-0a1b2c3d.pem"
        );
        let name = export_file_name("../../etc/passwd", "zz/..");
        assert!(!name.contains('/') && !name.contains(".."), "{name}");
        assert_eq!(name, "______etc_passwd-.pem");
    }
}
