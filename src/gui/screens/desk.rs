//! The service-centre desk: the operator's own card in one reader, the customer's in the other.
//! The customer's card at a glance with a plain verdict, an identity check that gates every help
//! that changes the card, the PUK fetched from the CA with the operator's card (shown once, masked
//! until revealed, never stored), and every action in the audit log.

use egui::RichText;
use zeroize::Zeroizing;

use crate::card::{CardOverview, PinKind, SecretCode};
use crate::gui::app::{Screen, SithsApp};
use crate::gui::protocol::{CardStatus, Command, Environment, Event, Failure, Outcome, Task};
use crate::gui::screens::home::{self, CardNeed};
use crate::gui::widgets;
use crate::gui::words;
use crate::gui::worker::Worker;
use crate::layout::PIN_MAX_LEN;
use crate::pki::Identity;

/// The kinds of ID document an operator checks at the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdDocument {
    Passport,
    NationalIdCard,
    DrivingLicence,
    EmployeeCard,
}

impl IdDocument {
    pub const ALL: [IdDocument; 4] = [
        IdDocument::Passport,
        IdDocument::NationalIdCard,
        IdDocument::DrivingLicence,
        IdDocument::EmployeeCard,
    ];

    fn message_id(self) -> &'static str {
        match self {
            IdDocument::Passport => "id-doc-passport",
            IdDocument::NationalIdCard => "id-doc-national",
            IdDocument::DrivingLicence => "id-doc-driving",
            IdDocument::EmployeeCard => "id-doc-employee",
        }
    }

    /// Stable words for the audit log, whatever the window's language.
    pub fn audit_name(self) -> &'static str {
        match self {
            IdDocument::Passport => "passport",
            IdDocument::NationalIdCard => "national id card",
            IdDocument::DrivingLicence => "driving licence",
            IdDocument::EmployeeCard => "employee card",
        }
    }
}

/// What the operator checked, bound to the customer card it was checked for: a new card needs a
/// new check.
#[derive(Default)]
pub struct IdentityCheck {
    pub document: Option<IdDocument>,
    pub last_four: String,
    pub photo_matches: bool,
    /// The serial of the card whose holder was checked.
    pub confirmed_for: Option<String>,
}

impl IdentityCheck {
    fn complete(&self) -> bool {
        self.document.is_some()
            && self.last_four.chars().count() == 4
            && self.last_four.chars().all(|c| c.is_ascii_alphanumeric())
            && self.photo_matches
    }
}

/// The desk's state beside the customer-card app.
pub struct Desk {
    pub operator: Worker,
    pub operator_env: Environment,
    pub operator_card: CardStatus,
    pub operator_busy: Option<Task>,
    pub identity: IdentityCheck,
    pub reason: String,
    pub operator_pin: Zeroizing<String>,
    /// The customer's PUK for this visit only; wiped when dropped.
    pub puk: Option<Zeroizing<String>>,
    pub puk_revealed: bool,
    pub failure: Option<Failure>,
    pub audit: crate::gui::desk_audit::DeskAudit,
}

impl Desk {
    pub fn new(operator: Worker, audit: crate::gui::desk_audit::DeskAudit) -> Desk {
        Desk {
            operator,
            operator_env: Environment::Pcsc,
            operator_card: CardStatus::Reading,
            operator_busy: None,
            identity: IdentityCheck::default(),
            reason: String::new(),
            operator_pin: Zeroizing::default(),
            puk: None,
            puk_revealed: false,
            failure: None,
            audit,
        }
    }

    /// The customer's card is not the one the identity check and the PUK were for any more:
    /// forget both (and say so, so the app forgets what was typed for that customer too).
    pub fn customer_changed(&mut self, serial: Option<&str>) -> bool {
        let checked_other = self
            .identity
            .confirmed_for
            .as_deref()
            .is_some_and(|s| Some(s) != serial);
        if checked_other || (self.identity.confirmed_for.is_none() && self.puk.is_some()) {
            self.identity = IdentityCheck::default();
            self.puk = None;
            self.puk_revealed = false;
            self.reason.clear();
            self.failure = None;
            return true;
        }
        false
    }

    pub fn identity_confirmed_for(&self, serial: &str) -> bool {
        self.identity.confirmed_for.as_deref() == Some(serial)
    }
}

/// The HSA-id a card's certificates name.
pub fn hsa_id_of(overview: &CardOverview) -> Option<String> {
    overview
        .certificates
        .iter()
        .find_map(|c| match &c.info.as_ref().ok()?.identity {
            Identity::HsaId(h) => Some(h.as_str().to_string()),
            _ => None,
        })
}

/// Take in the operator worker's events (the customer's come through the app).
pub fn drain(app: &mut SithsApp) {
    let Some(desk) = app.desk.as_mut() else {
        return;
    };
    let mut finished = Vec::new();
    while let Some(event) = desk.operator.try_recv() {
        match event {
            Event::Environment(env) => desk.operator_env = env,
            Event::Card(status) => desk.operator_card = status,
            Event::Busy(task) => desk.operator_busy = Some(task),
            Event::Finished(task, outcome) => {
                desk.operator_busy = None;
                finished.push((task, outcome));
            }
            Event::Readers(_) | Event::Progress(_) => {}
        }
    }
    for (task, outcome) in finished {
        operator_finished(app, task, outcome);
    }
}

fn operator_finished(app: &mut SithsApp, task: Task, outcome: Outcome) {
    if task != Task::PukLookup {
        return;
    }
    let (result, detail) = match &outcome {
        Outcome::Puk(_) => (Ok(()), String::new()),
        Outcome::Failed(f) => (Err(()), app.audit_words(f)),
        _ => return,
    };
    let reason = app
        .desk
        .as_ref()
        .map(|d| d.reason.clone())
        .unwrap_or_default();
    app.audit(
        crate::audit::Action::PukLookup,
        result,
        format!(
            "reason: {reason}{}{detail}",
            if detail.is_empty() { "" } else { "; " }
        ),
    );
    let Some(desk) = app.desk.as_mut() else {
        return;
    };
    match outcome {
        Outcome::Puk(puk) => {
            desk.puk = Some(puk);
            desk.puk_revealed = false;
            desk.failure = None;
        }
        Outcome::Failed(f) => desk.failure = Some(f),
        _ => {}
    }
}

pub fn show(app: &mut SithsApp, ui: &mut egui::Ui) {
    ui.heading(app.tr.t("desk-title"));
    ui.add_space(6.0);
    let Some(desk) = app.desk.as_ref() else {
        return;
    };
    let operator = match &desk.operator_card {
        CardStatus::Ready(o) => Some((**o).clone()),
        _ => None,
    };
    let operator_status = desk.operator_card.clone();
    let customer = app.overview().cloned();

    ui.columns(2, |cols| {
        operator_panel(app, &mut cols[0], operator.as_ref(), &operator_status);
        customer_panel(app, &mut cols[1], customer.as_ref());
    });
    ui.add_space(8.0);
    let Some(customer) = customer else {
        return;
    };
    ui.separator();
    identity_section(app, ui, &customer);
    ui.separator();
    help_section(app, ui, &customer, operator.as_ref());
    ui.separator();
    audit_line(app, ui);
}

fn operator_panel(
    app: &SithsApp,
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

fn customer_panel(app: &SithsApp, ui: &mut egui::Ui, customer: Option<&CardOverview>) {
    ui.label(RichText::new(app.tr.t("desk-customer-card")).strong());
    let Some(c) = customer else {
        ui.label(app.tr.t("desk-insert-customer-card"));
        return;
    };
    ui.label(RichText::new(c.holder_name().unwrap_or("?")).strong());
    ui.label(RichText::new(hsa_id_of(c).unwrap_or_default()).monospace());
    ui.label(
        app.tr
            .a("desk-card-serial", &[("serial", c.serial.as_str().into())]),
    );
    let now = app.now_unix();
    for cert in &c.certificates {
        if let Ok(i) = &cert.info {
            let (left, warn) = words::expiry(&app.tr, i.days_left(now));
            let line = format!(
                "{} · {} · {}",
                words::identity_kind(&app.tr, &i.identity),
                words::purpose(&app.tr, i.purpose),
                left
            );
            if warn {
                ui.label(RichText::new(format!("⚠ {line}")).color(widgets::WARN_COLOUR));
            } else {
                ui.label(line);
            }
        }
    }
    let tries = |kind: PinKind| {
        c.pin(kind)
            .map(|p| match p.known {
                crate::card::TriesKnown::Exact if !p.blocked() => p.tries_left.to_string(),
                _ => words::tries_left(&app.tr, p),
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
    let need = home::card_need(c);
    ui.label(app.tr.t(if !c.dead() && home::needs_upgrade(c) {
        "desk-upgrade-possible"
    } else {
        "desk-upgrade-not-needed"
    }));
    verdict(app, ui, c, need, now);
}

/// One plain verdict with the next step, most urgent first.
fn verdict(app: &SithsApp, ui: &mut egui::Ui, c: &CardOverview, need: CardNeed, now: i64) {
    let tr = &app.tr;
    let soonest = home::soonest_reminder(c, now);
    let text = match need {
        CardNeed::Dead => tr.t("desk-verdict-dead"),
        CardNeed::Blocked(kind) => words::with_pin(tr, "desk-verdict-blocked", kind),
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

fn identity_section(app: &mut SithsApp, ui: &mut egui::Ui, customer: &CardOverview) {
    let Some(desk) = app.desk.as_mut() else {
        return;
    };
    ui.label(RichText::new(app.tr.t("desk-identity-title")).strong());
    if desk.identity_confirmed_for(&customer.serial) {
        let doc = desk
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
                    ("last", desk.identity.last_four.as_str().into()),
                ],
            ),
        );
        return;
    }
    ui.label(app.tr.t("desk-identity-explain"));
    ui.horizontal(|ui| {
        let label = ui.label(app.tr.t("desk-id-document"));
        let chosen = desk
            .identity
            .document
            .map(|d| app.tr.t(d.message_id()))
            .unwrap_or_else(|| app.tr.t("desk-id-choose"));
        egui::ComboBox::from_id_salt("id-document")
            .selected_text(chosen)
            .show_ui(ui, |ui| {
                for d in IdDocument::ALL {
                    ui.selectable_value(
                        &mut desk.identity.document,
                        Some(d),
                        app.tr.t(d.message_id()),
                    );
                }
            })
            .response
            .labelled_by(label.id);
    });
    widgets::text_field(
        ui,
        &app.tr.t("desk-id-last-four"),
        &mut desk.identity.last_four,
        80.0,
    );
    ui.checkbox(&mut desk.identity.photo_matches, app.tr.t("desk-id-photo"));
    let complete = desk.identity.complete();
    if widgets::primary(ui, &app.tr.t("desk-identity-confirm"), complete) && complete {
        desk.identity.confirmed_for = Some(customer.serial.clone());
        let detail = format!(
            "document: {}, last four: {}, photo matches",
            desk.identity
                .document
                .map(IdDocument::audit_name)
                .unwrap_or("?"),
            desk.identity.last_four
        );
        app.audit(crate::audit::Action::IdentityCheck, Ok(()), detail);
    }
}

fn help_section(
    app: &mut SithsApp,
    ui: &mut egui::Ui,
    customer: &CardOverview,
    operator: Option<&CardOverview>,
) {
    let Some(desk) = app.desk.as_ref() else {
        return;
    };
    // Help waits for the identity check, and for a log that can record it.
    let checked = desk.identity_confirmed_for(&customer.serial) && desk.audit.status().is_ok();
    ui.label(RichText::new(app.tr.t("desk-help-title")).strong());
    if !checked {
        widgets::warning(ui, &app.tr.t("desk-check-first"));
    }
    let idle = app.busy.is_none() && desk.operator_busy.is_none();

    // The PUK, from the CA with the operator's card.
    ui.add_space(4.0);
    ui.label(app.tr.t("desk-puk-explain"));
    let Some(desk) = app.desk.as_mut() else {
        return;
    };
    widgets::text_field(ui, &app.tr.t("desk-reason"), &mut desk.reason, 360.0);
    let pin_label = app.tr.t("desk-operator-pin");
    let enter = widgets::code_field(ui, &pin_label, &mut desk.operator_pin, PIN_MAX_LEN);
    let ready = checked
        && idle
        && operator.is_some()
        && !desk.reason.trim().is_empty()
        && !desk.operator_pin.is_empty();
    let clicked = widgets::primary(ui, &app.tr.t("desk-fetch-puk"), ready);
    if (clicked || enter) && ready {
        let pin = SecretCode::pin(std::mem::take(&mut *desk.operator_pin));
        widgets::forget_field(ui.ctx(), &pin_label);
        match (pin, hsa_id_of(customer)) {
            (Ok(pin1), Some(customer_id)) => {
                desk.puk = None;
                desk.operator.send(Command::PukLookup {
                    pin1,
                    customer: customer_id,
                    reason: desk.reason.trim().to_string(),
                });
            }
            (Err(e), _) => desk.failure = Some(Failure::Card(e.into())),
            (_, None) => desk.failure = Some(Failure::NoCard),
        }
    }
    if let Some(f) = &desk.failure {
        widgets::error_box(ui, &words::failure(&app.tr, f));
    }
    let mut reveal = false;
    if let Some(puk) = &desk.puk {
        ui.horizontal(|ui| {
            let shown = if desk.puk_revealed {
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
            if !desk.puk_revealed && ui.button(app.tr.t("desk-puk-reveal")).clicked() {
                reveal = true;
            }
        });
        ui.label(app.tr.t("desk-puk-customer-types"));
    }
    if reveal {
        desk.puk_revealed = true;
    }

    // Help that changes the customer's card.
    ui.add_space(6.0);
    let need = home::card_need(customer);
    let has_puk = desk.puk.is_some();
    let mut go = None;
    ui.horizontal_wrapped(|ui| {
        for kind in [PinKind::Pin1, PinKind::Pin2] {
            let label = words::with_pin(&app.tr, "action-unblock", kind);
            let blocked = customer.pin(kind).is_some_and(|p| p.blocked());
            if (blocked || has_puk)
                && widgets::primary(ui, &label, checked && idle && has_puk && !customer.dead())
            {
                go = Some(Screen::Unblock);
                app.unblock.kind = kind;
            }
        }
        if need == CardNeed::Upgrade
            && widgets::secondary(ui, &app.tr.t("action-upgrade"), checked && idle)
        {
            go = Some(Screen::Upgrade);
        }
        if widgets::secondary(
            ui,
            &app.tr.t("action-fetch"),
            checked && idle && !customer.dead(),
        ) {
            go = Some(Screen::Fetch);
        }
    });
    if let Some(screen) = go {
        if screen == Screen::Unblock {
            // The customer types the new PIN; the PUK goes into the form from the lookup and is
            // gone from the desk.
            if let Some(desk) = app.desk.as_mut()
                && let Some(puk) = desk.puk.take()
            {
                app.unblock.code = puk;
            }
            app.unblock.result = None;
        }
        app.go(screen);
    }
}

fn audit_line(app: &SithsApp, ui: &mut egui::Ui) {
    let Some(desk) = app.desk.as_ref() else {
        return;
    };
    match desk.audit.status() {
        Ok((path, entries)) => ui.label(
            RichText::new(app.tr.a(
                "desk-audit-status",
                &[("path", path.as_str().into()), ("n", entries.into())],
            ))
            .weak(),
        ),
        Err(e) => ui.label(
            RichText::new(
                app.tr
                    .a("desk-audit-broken", &[("detail", e.as_str().into())]),
            )
            .color(widgets::ERROR_COLOUR),
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desk() -> Desk {
        let worker = Worker::spawn(
            crate::gui::worker::Mode::Pcsc {
                reader: Some("no such reader".into()),
                ca: Default::default(),
            },
            Default::default(),
        );
        let dir = std::env::temp_dir().join(format!("desk-test-{}", std::process::id()));
        Desk::new(
            worker,
            crate::gui::desk_audit::DeskAudit::open(&dir.join("audit.log")),
        )
    }

    #[test]
    fn a_new_customer_card_needs_a_new_identity_check_and_drops_the_puk() {
        let mut d = desk();
        d.identity = IdentityCheck {
            document: Some(IdDocument::Passport),
            last_four: "4821".into(),
            photo_matches: true,
            confirmed_for: Some("1001".into()),
        };
        d.puk = Some(Zeroizing::new("13572468".into()));
        d.customer_changed(Some("1001"));
        assert!(
            d.identity_confirmed_for("1001") && d.puk.is_some(),
            "same card: kept"
        );
        d.customer_changed(Some("2002"));
        assert!(!d.identity_confirmed_for("2002") && !d.identity_confirmed_for("1001"));
        assert!(d.puk.is_none(), "another card: the PUK is gone");
    }

    #[test]
    fn the_check_needs_a_document_four_characters_and_the_photo() {
        let mut c = IdentityCheck::default();
        assert!(!c.complete());
        c.document = Some(IdDocument::DrivingLicence);
        c.last_four = "48".into();
        c.photo_matches = true;
        assert!(!c.complete());
        c.last_four = "48A1".into();
        assert!(c.complete());
        c.photo_matches = false;
        assert!(!c.complete());
    }
}
