//! The frame around every screen: title and navigation, the demo banner, the status line.

use egui::RichText;

use crate::gui::app::{Screen, SithsApp};
use crate::gui::i18n::Lang;
use crate::gui::protocol::{CardStatus, DemoAction, Environment, Task, WorkerCommand};
use crate::gui::screens;
use crate::gui::widgets;

/// Each screen's own state: what is typed and chosen on it. The app resets a page when the card
/// or the source changes, and routes each finished task to the page that sent it.
pub struct Pages {
    pub home: screens::home::HomeState,
    pub upgrade: screens::upgrade::Wizard,
    pub unblock: screens::pins::PinForm,
    pub change: screens::pins::PinForm,
    pub certs: screens::certificates::CertsScreen,
    pub fetch: screens::fetch::FetchScreen,
    pub settings: screens::settings::SettingsForm,
}

impl Pages {
    pub fn new(settings: &crate::gui::settings::Settings) -> Pages {
        Pages {
            home: Default::default(),
            upgrade: Default::default(),
            unblock: screens::pins::PinForm::unblock(),
            change: screens::pins::PinForm::change(),
            certs: Default::default(),
            fetch: Default::default(),
            settings: screens::settings::SettingsForm::from(settings),
        }
    }
}

pub fn frame(app: &mut SithsApp, ui: &mut egui::Ui) {
    egui::Panel::top("top").show(ui, |ui| top_bar(app, ui));
    if app.settings_notice.is_some() {
        egui::Panel::top("settings_notice").show(ui, |ui| {
            app.draw(ui, |view, _, _, ui| screens::settings::notice(view, ui))
        });
    }
    if let Some(text) = desk_order(app) {
        egui::Panel::top("desk_order").show(ui, |ui| {
            ui.add_space(4.0);
            widgets::warning(ui, &text);
            ui.add_space(4.0);
        });
    }
    if app.is_demo() {
        egui::Panel::top("demo").show(ui, |ui| demo_banner(app, ui));
    }
    egui::Panel::bottom("status").show(ui, |ui| status_line(app, ui));
    egui::CentralPanel::default().show(ui, |ui| {
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| match app.screen {
                Screen::Home => app.draw(ui, |view, pages, _, ui| {
                    screens::home::show(view, &mut pages.home, ui)
                }),
                Screen::Upgrade => app.draw(ui, |view, pages, _, ui| {
                    screens::upgrade::show(view, &mut pages.upgrade, ui)
                }),
                Screen::Unblock => app.draw(ui, |view, pages, _, ui| {
                    screens::pins::show(view, &mut pages.unblock, ui)
                }),
                Screen::ChangePin => app.draw(ui, |view, pages, _, ui| {
                    screens::pins::show(view, &mut pages.change, ui)
                }),
                Screen::Certificates => app.draw(ui, |view, pages, _, ui| {
                    screens::certificates::show(view, &mut pages.certs, ui)
                }),
                Screen::Fetch => app.draw(ui, |view, pages, _, ui| {
                    screens::fetch::show(view, &mut pages.fetch, ui)
                }),
                Screen::Settings => app.draw(ui, |view, pages, _, ui| {
                    screens::settings::show(view, &mut pages.settings, ui)
                }),
                Screen::Desk => app.draw(ui, |view, _, model, ui| {
                    // Only the desk opens on this page; without one it shows its title alone.
                    let mut none = crate::gui::desk_model::DeskModel::default();
                    screens::desk::show(view, model.unwrap_or(&mut none), ui)
                }),
            });
    });
}

/// At the desk, on every page but the desk's own and the settings: until the customer's
/// identity is checked for the card in the reader, say so before anyone types a code (the
/// model refuses the command anyway, [`crate::gui::desk_model::DeskModel::allow`]).
fn desk_order(app: &SithsApp) -> Option<String> {
    let desk = app.desk.as_ref()?;
    let customer = app.overview()?;
    let elsewhere = !matches!(app.screen, Screen::Desk | Screen::Settings);
    (elsewhere && !desk.model.identity_holds(customer)).then(|| app.tr.t("desk-check-first-here"))
}

fn top_bar(app: &mut SithsApp, ui: &mut egui::Ui) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.heading(app.tr.t("app-title"));
        ui.add_space(16.0);
        let card_ready = app.overview().is_some();
        if app.desk.is_some() {
            let selected = app.screen == Screen::Desk;
            if ui
                .add(egui::Button::selectable(selected, app.tr.t("nav-desk")))
                .clicked()
            {
                app.go(Screen::Desk);
            }
        }
        for (screen, id, enabled) in [
            (Screen::Home, "nav-overview", true),
            (Screen::Certificates, "nav-certificates", card_ready),
            (Screen::Settings, "nav-settings", true),
        ] {
            let selected = app.screen == screen;
            if ui
                .add_enabled(enabled, egui::Button::selectable(selected, app.tr.t(id)))
                .clicked()
            {
                app.go(screen);
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            // The other language, named in that language, so anyone can switch.
            let other = match app.lang() {
                Lang::Sv => Lang::En,
                Lang::En => Lang::Sv,
            };
            if ui.button(other.native_name()).clicked() {
                app.set_lang(other);
            }
        });
    });
    ui.add_space(4.0);
}

fn demo_banner(app: &mut SithsApp, ui: &mut egui::Ui) {
    ui.add_space(4.0);
    match app.env.clone() {
        Environment::DemoPreparing => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(RichText::new(app.tr.t("demo-preparing")).strong());
            });
        }
        Environment::DemoFailed(reason) => {
            ui.label(
                RichText::new(
                    app.tr
                        .a("demo-failed", &[("detail", reason.as_str().into())]),
                )
                .color(widgets::colour(ui, widgets::Tone::Error)),
            );
        }
        Environment::Demo { codes, .. } => {
            ui.label(
                RichText::new(app.tr.t("demo-banner"))
                    .strong()
                    .color(widgets::colour(ui, widgets::Tone::Warn)),
            );
            // At the desk the codes shown are the operator's own: the customer's PUK is what the
            // desk fetches, so showing it here would defeat the exercise.
            let (codes, id) = match app.desk.as_ref().map(|d| &d.operator_env) {
                Some(Environment::Demo { codes, .. }) => (codes.clone(), "demo-codes-operator"),
                _ => (codes, "demo-codes"),
            };
            ui.label(app.tr.a(
                id,
                &[
                    ("pin1", codes.pin1.as_str().into()),
                    ("pin2", codes.pin2.as_str().into()),
                    ("puk", codes.puk.as_str().into()),
                ],
            ));
            ui.horizontal(|ui| {
                let present = !matches!(app.card, CardStatus::NoCard);
                if widgets::secondary(ui, &app.tr.t("demo-pull-card"), present) {
                    app.send(WorkerCommand::DemoCard(DemoAction::Pull));
                }
                if widgets::secondary(ui, &app.tr.t("demo-insert-card"), !present) {
                    app.send(WorkerCommand::DemoCard(DemoAction::Insert));
                }
                if app.desk.is_none()
                    && widgets::secondary(ui, &app.tr.t("demo-leave"), app.busy.is_none())
                {
                    app.switch_source(false);
                }
            });
            // A real card went into a reader: offer it, once the demo is not mid-task.
            if let Some(reader) = app.real_card.clone()
                && app.desk.is_none()
            {
                ui.add_space(4.0);
                widgets::success(
                    ui,
                    &app.tr
                        .a("demo-real-card", &[("reader", reader.as_str().into())]),
                );
                if widgets::primary(ui, &app.tr.t("demo-switch-to-card"), app.busy.is_none()) {
                    app.switch_source(false);
                }
            }
        }
        Environment::Pcsc => {}
    }
    ui.add_space(4.0);
}

fn status_line(app: &mut SithsApp, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        let card = match &app.card {
            // The demo's in-process card has a reader name for logs, not for people.
            CardStatus::Ready(o) if o.reader == crate::virtual_card::memory::READER_NAME => {
                app.tr.t("status-card-demo")
            }
            CardStatus::Ready(o) => app
                .tr
                .a("status-card-in", &[("reader", o.reader.as_str().into())]),
            CardStatus::NoService => app.tr.t("status-no-service"),
            CardStatus::NoReader => app.tr.t("status-no-reader"),
            CardStatus::NoCard => app.tr.t("status-no-card"),
            CardStatus::Reading => app.tr.t("status-reading"),
            CardStatus::NotSiths => app.tr.t("status-not-siths"),
            CardStatus::InUse(_) => app.tr.t("status-in-use"),
            CardStatus::ChooseCard(_) => app.tr.t("status-choose-card"),
            CardStatus::Unreadable(_) => app.tr.t("status-unreadable"),
        };
        ui.label(card);
        if let Some(task) = app.busy {
            ui.separator();
            ui.spinner();
            ui.label(app.tr.t(task_id(task)));
        }
    });
}

pub fn task_id(task: Task) -> &'static str {
    match task {
        Task::VerifyPin => "task-verify-pin",
        Task::ChangePin => "task-change-pin",
        Task::UnblockPin => "task-unblock-pin",
        Task::Upgrade => "task-upgrade",
        Task::Renew => "task-renew",
        Task::TestLogin => "task-test-login",
        Task::Export => "task-export",
        Task::FetchList => "task-fetch-list",
        Task::FetchWrite => "task-fetch-write",
        Task::PukLookup => "task-puk-lookup",
    }
}
