//! "Hämta befintliga certifikat": what the CA holds for the holder, which of it fits this card,
//! and writing the chosen ones back.

use egui::RichText;
use zeroize::Zeroizing;

use crate::ca::Profile;
use crate::card::{PinKind, SecretCode};
use crate::gui::intent::{Intent, Intents};
use crate::gui::protocol::{Failure, TaskOutcome, WorkerCommand};
use crate::gui::view::View;
use crate::gui::widgets;
use crate::gui::words;
use crate::layout::PIN_MAX_LEN;
use crate::workflow::fetch_existing::Existing;
use crate::workflow::fit::Fit;

#[derive(Default)]
pub struct FetchScreen {
    pub pin1: Zeroizing<String>,
    pub list: Option<Vec<Existing>>,
    pub chosen: Vec<Profile>,
    pub written: Option<Vec<Profile>>,
    pub failure: Option<Failure>,
}

impl FetchScreen {
    pub fn finished(&mut self, outcome: TaskOutcome) {
        self.failure = None;
        match outcome {
            TaskOutcome::Existing(list) => {
                self.chosen = list
                    .iter()
                    .filter(|e| matches!(e.fit, Fit::Writable(_)))
                    .map(|e| e.profile)
                    .collect();
                self.list = Some(list);
                self.written = None;
            }
            TaskOutcome::Written(profiles) => {
                self.written = Some(profiles);
                self.list = None;
            }
            TaskOutcome::Failed(f) => self.failure = Some(f),
            _ => {}
        }
    }
}

pub fn show(app: &View<'_>, fetch: &mut FetchScreen, ui: &mut egui::Ui) -> Intents {
    let mut intents = Intents::default();
    ui.heading(app.tr.t("fetch-title"));
    ui.label(app.tr.t("fetch-intro"));
    ui.add_space(8.0);
    let idle = app.busy.is_none() && app.overview().is_some();

    let pin_label = app.tr.a(
        "enter-pin",
        &[(
            "pin",
            words::pin_name(app.tr, PinKind::Pin1).as_str().into(),
        )],
    );
    let enter = widgets::code_field(ui, &pin_label, &mut fetch.pin1, PIN_MAX_LEN);
    let ready = idle && !fetch.pin1.is_empty();
    if (widgets::primary(ui, &app.tr.t("fetch-list"), ready) || enter) && ready {
        let pin = SecretCode::pin(std::mem::take(&mut *fetch.pin1));
        widgets::forget_field(ui.ctx(), &pin_label);
        match pin {
            Ok(pin1) => {
                fetch.list = None;
                intents.push(Intent::Send(WorkerCommand::FetchList { pin1 }));
            }
            Err(e) => fetch.failure = Some(Failure::Card(e.into())),
        }
    }

    if let Some(list) = fetch.list.clone() {
        ui.add_space(8.0);
        if list.is_empty() {
            ui.label(app.tr.t("fetch-none"));
        }
        for e in &list {
            let writable = matches!(e.fit, Fit::Writable(_));
            let text = format!(
                "{} ({}) – {}",
                words::profile(app.tr, e.profile),
                e.info.not_after_date(),
                words::fit(app.tr, &e.fit)
            );
            let response = if writable {
                let mut on = fetch.chosen.contains(&e.profile);
                let r = ui.checkbox(&mut on, text);
                if r.changed() {
                    fetch.chosen.retain(|p| *p != e.profile);
                    if on {
                        fetch.chosen.push(e.profile);
                    }
                }
                r
            } else {
                ui.label(RichText::new(format!("• {text}")).weak())
            };
            // The slot or the failed check, for whoever helps the holder.
            if let Some(technical) = words::fit_technical(&e.fit) {
                response.on_hover_text(technical);
            }
        }
        let any = !fetch.chosen.is_empty();
        if widgets::primary(ui, &app.tr.t("fetch-write"), any && idle) {
            intents.push(Intent::Send(WorkerCommand::FetchWrite {
                profiles: fetch.chosen.clone(),
            }));
        }
    }
    if let Some(written) = &fetch.written {
        widgets::success(
            ui,
            &app.tr.a("fetch-written", &[("n", written.len().into())]),
        );
    }
    if let Some(f) = &fetch.failure {
        widgets::error_box(ui, &words::failure(app.tr, f));
    }
    ui.add_space(8.0);
    if widgets::secondary(ui, &app.tr.t("to-overview"), true) {
        intents.push(Intent::GoTo(app.home_screen()));
    }
    intents
}
