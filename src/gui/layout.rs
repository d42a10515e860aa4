//! The frame around every screen: title and navigation, the demo banner, the status line.

use egui::RichText;

use crate::gui::desk_model::DeskModel;
use crate::gui::i18n::Lang;
use crate::gui::intent::{Intent, Intents, Screen};
use crate::gui::protocol::{CardStatus, DemoAction, Environment, Task, WorkerCommand};
use crate::gui::screens;
use crate::gui::view::View;
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

/// The whole window for one frame: the frame around the page and the page itself, each drawn
/// from `app` and its own state; what any of them asked for, in order.
pub fn frame(
    app: &View<'_>,
    pages: &mut Pages,
    mut desk: Option<&mut DeskModel>,
    ui: &mut egui::Ui,
) -> Intents {
    let mut intents = Intents::default();
    egui::Panel::top("top").show(ui, |ui| intents.append(top_bar(app, ui)));
    if app.settings_notice.is_some() {
        egui::Panel::top("settings_notice")
            .show(ui, |ui| intents.append(screens::settings::notice(app, ui)));
    }
    if let Some(text) = desk_order(app, desk.as_deref()) {
        egui::Panel::top("desk_order").show(ui, |ui| {
            ui.add_space(4.0);
            widgets::warning(ui, &text);
            ui.add_space(4.0);
        });
    }
    if app.is_demo() {
        egui::Panel::top("demo").show(ui, |ui| intents.append(demo_banner(app, ui)));
    }
    egui::Panel::bottom("status").show(ui, |ui| status_line(app, ui));
    egui::CentralPanel::default().show(ui, |ui| {
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                intents.append(match app.screen {
                    Screen::Home => screens::home::show(app, &mut pages.home, ui),
                    Screen::Upgrade => screens::upgrade::show(app, &mut pages.upgrade, ui),
                    Screen::Unblock => screens::pins::show(app, &mut pages.unblock, ui),
                    Screen::ChangePin => screens::pins::show(app, &mut pages.change, ui),
                    Screen::Certificates => screens::certificates::show(app, &mut pages.certs, ui),
                    Screen::Fetch => screens::fetch::show(app, &mut pages.fetch, ui),
                    Screen::Settings => screens::settings::show(app, &mut pages.settings, ui),
                    Screen::Desk => {
                        // Only the desk opens on this page; without one it shows its title.
                        let mut none = DeskModel::default();
                        screens::desk::show(app, desk.take().unwrap_or(&mut none), ui)
                    }
                })
            });
    });
    intents
}

/// At the desk, on every page but the desk's own and the settings: until the customer's
/// identity is checked for the card in the reader, say so before anyone types a code (the
/// model refuses the command anyway, [`crate::gui::desk_model::DeskModel::allow`]).
fn desk_order(app: &View<'_>, desk: Option<&DeskModel>) -> Option<String> {
    let desk = desk?;
    let customer = app.overview()?;
    let elsewhere = !matches!(app.screen, Screen::Desk | Screen::Settings);
    (elsewhere && !desk.identity_holds(customer)).then(|| app.tr.t("desk-check-first-here"))
}

fn top_bar(app: &View<'_>, ui: &mut egui::Ui) -> Intents {
    let mut intents = Intents::default();
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
                intents.push(Intent::GoTo(Screen::Desk));
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
                intents.push(Intent::GoTo(screen));
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            // The other language, named in that language, so anyone can switch.
            let other = match app.lang() {
                Lang::Sv => Lang::En,
                Lang::En => Lang::Sv,
            };
            if ui.button(other.native_name()).clicked() {
                intents.push(Intent::SetLanguage(other));
            }
        });
    });
    ui.add_space(4.0);
    intents
}

fn demo_banner(app: &View<'_>, ui: &mut egui::Ui) -> Intents {
    let mut intents = Intents::default();
    ui.add_space(4.0);
    match app.env {
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
            let (codes, id) = match app.desk.as_ref().map(|d| d.operator_env) {
                Some(Environment::Demo { codes, .. }) => (codes, "demo-codes-operator"),
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
                    intents.push(Intent::Send(WorkerCommand::DemoCard(DemoAction::Pull)));
                }
                if widgets::secondary(ui, &app.tr.t("demo-insert-card"), !present) {
                    intents.push(Intent::Send(WorkerCommand::DemoCard(DemoAction::Insert)));
                }
                if app.desk.is_none()
                    && widgets::secondary(ui, &app.tr.t("demo-leave"), app.busy.is_none())
                {
                    intents.push(Intent::SwitchToReaders);
                }
            });
            // A real card went into a reader: offer it, once the demo is not mid-task.
            if let Some(reader) = app.real_card
                && app.desk.is_none()
            {
                ui.add_space(4.0);
                widgets::success(
                    ui,
                    &app.tr.a("demo-real-card", &[("reader", reader.into())]),
                );
                if widgets::primary(ui, &app.tr.t("demo-switch-to-card"), app.busy.is_none()) {
                    intents.push(Intent::SwitchToReaders);
                }
            }
        }
        Environment::Pcsc => {}
    }
    ui.add_space(4.0);
    intents
}

fn status_line(app: &View<'_>, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        let card = match app.card {
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
