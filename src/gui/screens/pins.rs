//! Unblock a PIN with the PUK, and change a PIN: the same form, with each new-PIN rule shown as
//! it is met, and a guard before the PUK's last try.

use egui::RichText;
use zeroize::Zeroizing;

use crate::card::new_pin::NewPinCheck;
use crate::card::{CardError, PinKind, SecretCode};
use crate::gui::intent::{Intent, Intents};
use crate::gui::protocol::{Failure, Task, TaskOutcome, WorkerCommand};
use crate::gui::view::View;
use crate::gui::widgets;
use crate::gui::words::{self, NextAction};
use crate::layout::{PIN_MAX_LEN, PUK_LEN};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormPurpose {
    Unblock,
    Change,
}

pub struct PinForm {
    pub purpose: FormPurpose,
    pub kind: PinKind,
    /// The PUK (unblock) or the current PIN (change).
    pub code: Zeroizing<String>,
    pub new1: Zeroizing<String>,
    pub new2: Zeroizing<String>,
    /// Ticked: the holder knows a wrong PUK now blocks the card for good.
    pub last_try_understood: bool,
    /// The last attempt: the PIN that is now set, or why not (worded when drawn, so a language
    /// switch rewords it).
    pub result: Option<Result<PinKind, Failure>>,
}

impl PinForm {
    pub fn unblock() -> PinForm {
        PinForm::new(FormPurpose::Unblock)
    }

    pub fn change() -> PinForm {
        PinForm::new(FormPurpose::Change)
    }

    fn new(purpose: FormPurpose) -> PinForm {
        PinForm {
            purpose,
            kind: PinKind::Pin1,
            code: Zeroizing::default(),
            new1: Zeroizing::default(),
            new2: Zeroizing::default(),
            last_try_understood: false,
            result: None,
        }
    }

    /// Open the form for `kind` with its last result gone; at the desk with the customer's PUK
    /// already in the PUK field (moved, never copied).
    pub fn open(&mut self, kind: PinKind, puk: Option<Zeroizing<String>>) {
        self.kind = kind;
        self.result = None;
        if let Some(puk) = puk {
            self.code = puk;
        }
    }

    pub fn finished(&mut self, outcome: TaskOutcome) {
        self.result = match outcome {
            TaskOutcome::PinUnblocked(kind) | TaskOutcome::PinChanged(kind) => Some(Ok(kind)),
            TaskOutcome::Failed(f) => Some(Err(f)),
            _ => return,
        };
        self.last_try_understood = false;
    }

    fn task(&self) -> Task {
        match self.purpose {
            FormPurpose::Unblock => Task::UnblockPin,
            FormPurpose::Change => Task::ChangePin,
        }
    }
}

/// The form, unblock or change as the form was made for.
pub fn show(app: &View<'_>, form: &mut PinForm, ui: &mut egui::Ui) -> Intents {
    let mut intents = Intents::default();
    show_form(app, form, ui, &mut intents);
    intents
}

fn show_form(app: &View<'_>, f: &mut PinForm, ui: &mut egui::Ui, intents: &mut Intents) {
    let purpose = f.purpose;
    let title = match purpose {
        FormPurpose::Unblock => "unblock-title",
        FormPurpose::Change => "change-title",
    };
    ui.heading(app.tr.t(title));
    ui.add_space(8.0);
    let Some(overview) = app.overview() else {
        ui.label(app.tr.t("start-no-card-body"));
        return;
    };
    if overview.dead() {
        widgets::warning(ui, &app.tr.t("err-card-dead"));
        return;
    }

    // Which PIN.
    let mut kind = f.kind;
    ui.horizontal(|ui| {
        ui.label(app.tr.t("which-pin"));
        // Only the codes the card has: one that came with one code has no PIN2.
        for k in [PinKind::Pin1, PinKind::Pin2] {
            if overview.pin(k).is_some() {
                ui.radio_value(&mut kind, k, words::pin_name(app.tr, k));
            }
        }
    });
    if overview.pin(kind).is_none() {
        kind = PinKind::Pin1;
    }
    f.kind = kind;

    if let Some(result) = &f.result {
        match result {
            Ok(done) => {
                let id = match purpose {
                    FormPurpose::Unblock => "unblock-done",
                    FormPurpose::Change => "change-done",
                };
                widgets::success(ui, &words::with_pin(app.tr, id, *done));
                if widgets::primary(ui, &app.tr.t("to-overview"), true) {
                    f.result = None;
                    intents.push(Intent::GoTo(app.home_screen()));
                }
                return;
            }
            Err(f) => {
                let explained = words::failure(app.tr, f);
                widgets::error_box(ui, &explained);
                if explained.next.contains(&NextAction::ServiceCentre) {
                    ui.label(RichText::new(app.tr.t("contact-service-centre")).strong());
                }
            }
        }
    }

    let status_of = |k: PinKind| overview.pin(k).cloned();
    let (code_kind, code_max) = match purpose {
        FormPurpose::Unblock => (PinKind::Puk, PUK_LEN),
        FormPurpose::Change => (kind, PIN_MAX_LEN),
    };
    let code_status = status_of(code_kind);
    if purpose == FormPurpose::Change && code_status.as_ref().is_some_and(|s| s.blocked()) {
        widgets::warning(ui, &words::with_pin(app.tr, "err-pin-blocked", kind));
        if widgets::primary(ui, &words::with_pin(app.tr, "action-unblock", kind), true) {
            intents.push(Intent::OpenUnblock { kind, puk: None });
        }
        return;
    }

    ui.add_space(6.0);
    ui.label(app.tr.t("pin-rules"));
    let code_label = match purpose {
        FormPurpose::Unblock => app.tr.t("enter-puk"),
        FormPurpose::Change => words::with_pin(app.tr, "enter-current-pin", kind),
    };
    let new1_label = words::with_pin(app.tr, "enter-new-pin", kind);
    let new2_label = app.tr.t("enter-new-pin-again");
    let tries_text = code_status
        .as_ref()
        .map(|s| words::tries_left(app.tr, s))
        .unwrap_or_default();
    let keys = widgets::code_grid(
        ui,
        match purpose {
            FormPurpose::Unblock => "unblock",
            FormPurpose::Change => "change",
        },
        vec![
            widgets::CodeRow {
                label: &code_label,
                value: &mut f.code,
                max_len: code_max,
                note: tries_text,
            },
            widgets::CodeRow {
                label: &new1_label,
                value: &mut f.new1,
                max_len: PIN_MAX_LEN,
                note: String::new(),
            },
            widgets::CodeRow {
                label: &new2_label,
                value: &mut f.new2,
                max_len: PIN_MAX_LEN,
                note: String::new(),
            },
        ],
    );
    let enter = keys.submit;
    let check = NewPinCheck::of(&f.new1, &f.new2, Some(&f.code));
    let typed = !f.new1.is_empty();
    let other_rule = match purpose {
        FormPurpose::Unblock => "rule-not-puk",
        FormPurpose::Change => "rule-not-old",
    };
    ui.add_space(4.0);
    for (ok, id) in [
        (check.length_ok, "rule-length"),
        (check.digits_only, "rule-digits"),
        (check.not_trivial, "rule-not-trivial"),
        (check.differs_from_other, other_rule),
        (check.entries_match, "rule-match"),
    ] {
        widgets::rule(ui, typed.then_some(ok), &app.tr.t(id));
    }

    // The PUK's last try: a wrong one makes the card useless, so ask for an explicit yes.
    let last_puk_try =
        purpose == FormPurpose::Unblock && code_status.as_ref().is_some_and(|s| s.tries_left == 1);
    if last_puk_try {
        ui.add_space(6.0);
        widgets::warning(ui, &app.tr.t("puk-last-try"));
        let label = app.tr.t("puk-last-try-confirm");
        ui.checkbox(&mut f.last_try_understood, label);
    }

    let code_len_ok = match purpose {
        FormPurpose::Unblock => f.code.len() == PUK_LEN,
        FormPurpose::Change => (crate::layout::PIN_MIN_LEN..=PIN_MAX_LEN).contains(&f.code.len()),
    };
    let allowed = check.all_ok()
        && code_len_ok
        && (!last_puk_try || f.last_try_understood)
        && app.busy.is_none();
    ui.add_space(8.0);
    let mut submit = false;
    ui.horizontal(|ui| {
        let button = match purpose {
            FormPurpose::Unblock => app.tr.t("unblock-submit"),
            FormPurpose::Change => app.tr.t("change-submit"),
        };
        submit = widgets::primary(ui, &button, allowed);
        if widgets::secondary(ui, &app.tr.t("cancel"), true) || keys.cancel {
            intents.push(Intent::GoTo(app.home_screen()));
        }
    });
    if (submit || enter) && allowed {
        let code = SecretCode::for_kind(code_kind, std::mem::take(&mut *f.code));
        let new = SecretCode::pin(std::mem::take(&mut *f.new1));
        f.new2 = Zeroizing::default();
        for label in [&code_label, &new1_label, &new2_label] {
            widgets::forget_field(ui.ctx(), label);
        }
        let command = match (code, new) {
            (Ok(code), Ok(new)) => match purpose {
                FormPurpose::Unblock => WorkerCommand::UnblockPin {
                    kind,
                    puk: code,
                    new,
                },
                FormPurpose::Change => WorkerCommand::ChangePin {
                    kind,
                    old: code,
                    new,
                },
            },
            (Err(e), _) | (_, Err(e)) => {
                f.result = Some(Err(Failure::Card(CardError::PinRule(e))));
                return;
            }
        };
        f.result = None;
        let task = f.task();
        intents.push(Intent::Send(command));
        intents.push(Intent::Busy(task));
    }
}

#[cfg(test)]
mod tests {
    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::card::{CardOverview, CardSource, PinStatus, TriesKnown};
    use crate::gui::i18n::{Lang, Tr};
    use crate::gui::intent::Screen;
    use crate::gui::protocol::{CardStatus, Environment};
    use crate::gui::settings::Settings;
    use crate::gui::view::type_into;

    /// The unblock form alone, without an app, on a card with PIN1 blocked.
    struct Page {
        tr: Tr,
        settings: Settings,
        env: Environment,
        card: CardStatus,
        form: PinForm,
        asked: Vec<Intent>,
    }

    fn pin(kind: PinKind, tries_left: u8) -> PinStatus {
        PinStatus {
            kind,
            label: String::new(),
            tries_left,
            max_tries: 3,
            verified: false,
            known: TriesKnown::Exact,
        }
    }

    fn page() -> Harness<'static, Page> {
        let card = CardOverview {
            reader: "test".into(),
            source: CardSource::Reader {
                name: "test".into(),
                atr: Vec::new(),
            },
            serial: "1001".into(),
            label: None,
            manufacturer: None,
            pins: vec![
                pin(PinKind::Pin1, 0),
                pin(PinKind::Pin2, 3),
                pin(PinKind::Puk, 3),
            ],
            keys: Vec::new(),
            certificates: Vec::new(),
        };
        let mut form = PinForm::unblock();
        form.open(PinKind::Pin1, None);
        let page = Page {
            tr: Tr::new(Lang::Sv),
            settings: Settings::default(),
            env: Environment::Pcsc,
            card: CardStatus::Ready(Box::new(card)),
            form,
            asked: Vec::new(),
        };
        Harness::builder().build_ui_state(
            |ui, page: &mut Page| {
                let view = View::alone(
                    &page.tr,
                    &page.settings,
                    &page.env,
                    &page.card,
                    Screen::Unblock,
                );
                let asked = show(&view, &mut page.form, ui);
                page.asked.extend(asked);
            },
            page,
        )
    }

    #[test]
    fn the_codes_leave_the_form_in_one_command_and_the_fields_are_empty() {
        let mut harness = page();
        harness.run();
        let tr = Tr::new(Lang::Sv);
        let new_label = words::with_pin(&tr, "enter-new-pin", PinKind::Pin1);
        type_into(&mut harness, &tr.t("enter-puk"), "13572468");
        type_into(&mut harness, &new_label, "482915");
        type_into(&mut harness, &tr.t("enter-new-pin-again"), "482915");
        assert!(harness.state().asked.is_empty(), "typing asks for nothing");
        harness
            .get_by_role_and_label(Role::Button, &tr.t("unblock-submit"))
            .click();
        harness.run();
        let page = harness.state();
        match page.asked.as_slice() {
            [
                Intent::Send(WorkerCommand::UnblockPin { kind, puk, new }),
                Intent::Busy(Task::UnblockPin),
            ] => {
                assert_eq!(*kind, PinKind::Pin1);
                assert_eq!(puk.expose_digits(), "13572468");
                assert_eq!(new.expose_digits(), "482915");
            }
            _ => panic!("the unblock was not asked for once"),
        }
        assert!(page.form.code.is_empty() && page.form.new1.is_empty());
        assert!(page.form.new2.is_empty());
    }
}
