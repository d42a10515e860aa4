//! The service-centre desk: the operator's own card in one reader, the customer's in the other.
//! The customer's card at a glance with a plain verdict, an identity check that gates every help
//! that changes the card, the PUK fetched from the CA with the operator's card (shown once, masked
//! until revealed, never stored), and every action in the audit log.

use egui::RichText;

use crate::card::{CardOverview, PinKind};
use crate::gui::intent::{Intent, Intents, Screen};
use crate::gui::protocol::{CardStatus, Environment, Task};
use crate::gui::screens::home::{self, CardNeed};
use crate::gui::view::{DeskView, View};
use crate::gui::widgets;
use crate::gui::words;
use crate::gui::worker::Worker;
use crate::layout::PIN_MAX_LEN;

pub use crate::gui::desk_model::{
    CheckedHolder, DeskModel, Gate, IdDocument, IdentityCheck, hsa_id_of,
};

/// The desk: the operator's card (its own worker), the desk's rules and form
/// ([`DeskModel`]) and the audit log.
pub struct Desk {
    pub operator: Worker,
    pub operator_env: Environment,
    pub operator_card: CardStatus,
    pub operator_busy: Option<Task>,
    pub model: DeskModel,
    pub audit: crate::gui::desk_audit::DeskAudit,
}

impl Desk {
    pub fn new(operator: Worker, audit: crate::gui::desk_audit::DeskAudit) -> Desk {
        Desk {
            operator,
            operator_env: Environment::Pcsc,
            operator_card: CardStatus::Reading,
            operator_busy: None,
            model: DeskModel::default(),
            audit,
        }
    }

    /// See [`DeskModel::customer_changed`].
    pub fn customer_changed(&mut self, customer: Option<&CardOverview>) -> bool {
        self.model.customer_changed(customer)
    }
}

/// The desk page: its state is the [`DeskModel`]; the operator's card and the audit log are
/// read from the View's desk part.
pub fn show(app: &View<'_>, model: &mut DeskModel, ui: &mut egui::Ui) -> Intents {
    let mut intents = Intents::default();
    ui.heading(app.tr.t("desk-title"));
    ui.add_space(6.0);
    let Some(desk) = app.desk.as_ref() else {
        return intents;
    };
    let operator = desk.operator_overview();
    let customer = app.overview();

    ui.columns(2, |cols| {
        operator_panel(app, &mut cols[0], operator, desk.operator_card);
        customer_panel(app, &mut cols[1], customer);
    });
    ui.add_space(8.0);
    let Some(customer) = customer else {
        return intents;
    };
    ui.separator();
    identity_section(app, model, ui, customer, &mut intents);
    ui.separator();
    help_section(app, desk, model, ui, customer, operator, &mut intents);
    ui.separator();
    audit_line(app, desk, ui);
    intents
}

fn operator_panel(
    app: &View<'_>,
    ui: &mut egui::Ui,
    operator: Option<&CardOverview>,
    status: &CardStatus,
) {
    ui.label(RichText::new(app.tr.t("desk-operator-card")).strong());
    match operator {
        Some(o) => {
            ui.label(o.holder_name().unwrap_or("?"));
            ui.label(RichText::new(hsa_id_of(o).unwrap_or_default()).monospace());
        }
        None => {
            ui.label(match status {
                CardStatus::Reading => app.tr.t("status-reading"),
                CardStatus::NoService => app.tr.t("status-no-service"),
                CardStatus::NoReader => app.tr.t("status-no-reader"),
                _ => app.tr.t("desk-insert-operator-card"),
            });
        }
    }
}

fn customer_panel(app: &View<'_>, ui: &mut egui::Ui, customer: Option<&CardOverview>) {
    ui.label(RichText::new(app.tr.t("desk-customer-card")).strong());
    let Some(c) = customer else {
        // The operator's reader is never the customer's: with one reader there is none.
        let text = match (app.card, app.is_demo()) {
            (CardStatus::NoReader, false) => app.tr.t("desk-need-second-reader"),
            _ => app.tr.t("desk-insert-customer-card"),
        };
        ui.label(text);
        return;
    };
    ui.label(RichText::new(c.holder_name().unwrap_or("?")).strong());
    ui.label(RichText::new(hsa_id_of(c).unwrap_or_default()).monospace());
    ui.label(
        app.tr
            .a("desk-card-serial", &[("serial", c.serial.as_str().into())]),
    );
    let now = app.now;
    for cert in &c.certificates {
        if let Ok(i) = &cert.info {
            let (left, warn) = words::expiry(app.tr, i.days_left(now));
            let line = format!(
                "{} · {} · {}",
                words::identity_kind(app.tr, &i.identity),
                words::purpose(app.tr, i.purpose),
                left
            );
            if warn {
                ui.label(
                    RichText::new(format!("⚠ {line}"))
                        .color(widgets::colour(ui, widgets::Tone::Warn)),
                );
            } else {
                ui.label(line);
            }
        }
    }
    let tries = |kind: PinKind| {
        c.pin(kind)
            .map(|p| match p.known {
                crate::card::TriesKnown::Exact if !p.blocked() => p.tries_left.to_string(),
                _ => words::tries_left(app.tr, p),
            })
            .unwrap_or_else(|| "–".into())
    };
    ui.label(app.tr.a(
        "desk-tries",
        &[
            ("pin1", tries(PinKind::Pin1).as_str().into()),
            ("pin2", tries(PinKind::Pin2).as_str().into()),
            ("puk", tries(PinKind::Puk).as_str().into()),
        ],
    ));
    let need = home::card_need(c, now);
    ui.label(
        app.tr
            .t(if !c.dead() && crate::workflow::pairs::needs_upgrade(c) {
                "desk-upgrade-possible"
            } else {
                "desk-upgrade-not-needed"
            }),
    );
    verdict(app, ui, c, need, now);
}

/// One plain verdict with the next step, most urgent first.
fn verdict(app: &View<'_>, ui: &mut egui::Ui, c: &CardOverview, need: CardNeed, now: i64) {
    let tr = app.tr;
    let soonest = home::soonest_reminder(c, now);
    let text = match need {
        CardNeed::Dead => tr.t("desk-verdict-dead"),
        CardNeed::Blocked(kind) => words::with_pin(tr, "desk-verdict-blocked", kind),
        CardNeed::Renew => {
            let (when, _) = words::expiry(tr, soonest.unwrap_or(0));
            tr.a("desk-verdict-renew", &[("when", when.as_str().into())])
        }
        _ if soonest.is_some() => {
            let (when, _) = words::expiry(tr, soonest.unwrap_or(0));
            tr.a("desk-verdict-expiring", &[("when", when.as_str().into())])
        }
        CardNeed::Upgrade => tr.t("desk-verdict-upgrade"),
        CardNeed::UpToDate => tr.t("desk-verdict-ok"),
    };
    ui.add_space(4.0);
    if matches!(need, CardNeed::UpToDate) && soonest.is_none() {
        widgets::success(ui, &text);
    } else {
        widgets::warning(ui, &text);
    }
}

fn identity_section(
    app: &View<'_>,
    model: &mut DeskModel,
    ui: &mut egui::Ui,
    customer: &CardOverview,
    intents: &mut Intents,
) {
    ui.label(RichText::new(step_title(app.tr, 1, "desk-identity-title")).strong());
    if model.identity_holds(customer) {
        let doc = model
            .identity
            .document
            .map(|d| app.tr.t(d.message_id()))
            .unwrap_or_default();
        widgets::success(
            ui,
            &app.tr.a(
                "desk-identity-done",
                &[
                    ("doc", doc.as_str().into()),
                    ("last", model.identity.last_four.as_str().into()),
                ],
            ),
        );
        return;
    }
    ui.label(app.tr.t("desk-identity-explain"));
    ui.horizontal(|ui| {
        let label = ui.label(app.tr.t("desk-id-document"));
        let chosen = model
            .identity
            .document
            .map(|d| app.tr.t(d.message_id()))
            .unwrap_or_else(|| app.tr.t("desk-id-choose"));
        egui::ComboBox::from_id_salt("id-document")
            .selected_text(chosen)
            .show_ui(ui, |ui| {
                for d in IdDocument::ALL {
                    ui.selectable_value(
                        &mut model.identity.document,
                        Some(d),
                        app.tr.t(d.message_id()),
                    );
                }
            })
            .response
            .labelled_by(label.id);
    });
    ui.checkbox(&mut model.identity.photo_matches, app.tr.t("desk-id-photo"));
    // The last field typed: Enter there confirms a complete check.
    let last_four = widgets::text_field(
        ui,
        &app.tr.t("desk-id-last-four"),
        &mut model.identity.last_four,
        80.0,
    );
    let entered = last_four.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    let complete = model.identity.complete();
    if (widgets::primary(ui, &app.tr.t("desk-identity-confirm"), complete) || entered)
        && complete
        && let Some(detail) = model.confirm_identity(customer)
    {
        intents.push(Intent::Audit {
            action: crate::audit::Action::IdentityCheck,
            result: Ok(()),
            detail,
        });
    }
}

fn help_section(
    app: &View<'_>,
    desk: &DeskView<'_>,
    model: &mut DeskModel,
    ui: &mut egui::Ui,
    customer: &CardOverview,
    operator: Option<&CardOverview>,
    intents: &mut Intents,
) {
    let idle = app.busy.is_none();
    let audit_ok = desk.audit.status().is_ok();
    let idle = idle && desk.operator_busy.is_none();
    let help = model.help_gate(customer, audit_ok, idle);
    ui.label(RichText::new(step_title(app.tr, 2, "desk-puk-title")).strong());
    if matches!(help, Err(Gate::CheckIdentity)) {
        widgets::warning(ui, &app.tr.t("desk-check-first"));
    }

    // The PUK, from the CA with the operator's card.
    ui.add_space(4.0);
    ui.label(app.tr.t("desk-puk-explain"));
    let now = app.now;
    // The usual reasons are one click; anything else is typed.
    ui.horizontal_wrapped(|ui| {
        for id in [
            "desk-reason-forgot-pin1",
            "desk-reason-forgot-pin2",
            "desk-reason-blocked",
        ] {
            let text = app.tr.t(id);
            let chosen = model.reason == text;
            if ui.selectable_label(chosen, &text).clicked() {
                model.reason = text;
            }
        }
    });
    widgets::text_field(ui, &app.tr.t("desk-reason"), &mut model.reason, 360.0);
    let pin_label = app.tr.t("desk-operator-pin");
    let enter = widgets::code_field(ui, &pin_label, &mut model.operator_pin, PIN_MAX_LEN);
    let ready = model
        .lookup_gate(customer, operator, audit_ok, idle)
        .is_ok();
    let clicked = widgets::primary(ui, &app.tr.t("desk-fetch-puk"), ready);
    if (clicked || enter) && ready {
        widgets::forget_field(ui.ctx(), &pin_label);
        if let Ok(command) = model.start_lookup(customer, operator, audit_ok, idle) {
            intents.push(Intent::LookUpPuk(command));
        }
    }
    if let Some(f) = &model.failure {
        widgets::error_box(ui, &words::failure(app.tr, f));
    }
    let mut reveal = false;
    if let Some(puk) = &model.puk {
        ui.horizontal(|ui| {
            let shown = if model.puk_revealed {
                puk.as_str().to_string()
            } else {
                "••••••••".to_string()
            };
            ui.label(
                RichText::new(
                    app.tr
                        .a("desk-puk-fetched", &[("puk", shown.as_str().into())]),
                )
                .strong(),
            );
            if !model.puk_revealed && ui.button(app.tr.t("desk-puk-reveal")).clicked() {
                reveal = true;
            }
        });
        ui.label(app.tr.t("desk-puk-customer-types"));
    }
    if reveal {
        model.puk_revealed = true;
    }

    // Help that changes the customer's card.
    ui.add_space(6.0);
    ui.label(RichText::new(step_title(app.tr, 3, "desk-help-title")).strong());
    let need = home::card_need(customer, now);
    let has_puk = model.puk.is_some();
    let ok = help.is_ok();
    let mut go = None;
    let mut unblock = None;
    let mut renew = false;
    ui.horizontal_wrapped(|ui| {
        for kind in [PinKind::Pin1, PinKind::Pin2] {
            let label = words::with_pin(app.tr, "action-unblock", kind);
            let blocked = customer.pin(kind).is_some_and(|p| p.blocked());
            if (blocked || has_puk)
                && widgets::primary(ui, &label, ok && has_puk && !customer.dead())
            {
                unblock = Some(kind);
            }
        }
        if need == CardNeed::Upgrade && widgets::secondary(ui, &app.tr.t("action-upgrade"), ok) {
            go = Some(Screen::Upgrade);
        }
        if need == CardNeed::Renew && widgets::primary(ui, &app.tr.t("action-renew"), ok) {
            renew = true;
        }
        if widgets::secondary(ui, &app.tr.t("action-fetch"), ok && !customer.dead()) {
            go = Some(Screen::Fetch);
        }
    });
    if renew {
        intents.push(Intent::OpenRenew);
    }
    if let Some(kind) = unblock {
        let puk = model.take_puk_for_unblock(customer);
        intents.push(Intent::OpenUnblock { kind, puk });
    }
    if let Some(screen) = go {
        intents.push(Intent::GoTo(screen));
    }
}

/// "1. Identitet": the desk's steps are numbered in the order they are done.
fn step_title(tr: &crate::gui::i18n::Tr, n: u8, id: &str) -> String {
    tr.a(
        "desk-step",
        &[("n", n.into()), ("title", tr.t(id).as_str().into())],
    )
}

fn audit_line(app: &View<'_>, desk: &DeskView<'_>, ui: &mut egui::Ui) {
    match desk.audit.status() {
        // The file's path is for IT, in the tooltip; the count is what the operator checks.
        Ok((path, entries)) => ui
            .label(RichText::new(app.tr.a("desk-audit-entries", &[("n", entries.into())])).weak())
            .on_hover_text(path),
        Err(e) => ui.label(
            RichText::new(
                app.tr
                    .a("desk-audit-broken", &[("detail", e.as_str().into())]),
            )
            .color(widgets::colour(ui, widgets::Tone::Error)),
        ),
    };
}
