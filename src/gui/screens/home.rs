//! The start screen (what is wrong and how to fix it) and, with a card, its overview.

use egui::RichText;

use crate::card::{CardCertificate, CardOverview, PinKind};
use crate::gui::intent::{Intent, Intents, Screen};
use crate::gui::protocol::{CardStatus, Environment, WorkerCommand};
use crate::gui::view::View;
use crate::gui::widgets;
use crate::gui::words;
use crate::pki::{CertInfo, Identity};
use crate::workflow::expiry::Fix;

/// The overview's own state.
#[derive(Default)]
pub struct HomeState {
    /// The holder asked to see the personnummer unmasked.
    pub show_personnummer: bool,
}

pub fn show(app: &View<'_>, state: &mut HomeState, ui: &mut egui::Ui) -> Intents {
    let mut intents = Intents::default();
    match app.card {
        CardStatus::Ready(overview) => overview_screen(app, state, ui, overview, &mut intents),
        other => start_screen(app, ui, other, &mut intents),
    }
    intents
}

fn start_screen(app: &View<'_>, ui: &mut egui::Ui, status: &CardStatus, intents: &mut Intents) {
    ui.add_space(24.0);
    if matches!(app.env, Environment::DemoPreparing) {
        ui.heading(app.tr.t("demo-preparing"));
        return;
    }
    let (title, body) = match status {
        CardStatus::NoService => ("start-no-service-title", "start-no-service-body"),
        CardStatus::NoReader => ("start-no-reader-title", "start-no-reader-body"),
        CardStatus::NoCard => ("start-no-card-title", "start-no-card-body"),
        CardStatus::Reading => ("start-reading-title", "start-reading-body"),
        CardStatus::NotSiths => ("start-not-siths-title", "start-not-siths-body"),
        CardStatus::InUse(_) => ("start-in-use-title", "start-in-use-body"),
        CardStatus::ChooseCard(_) => ("start-choose-card-title", "start-choose-card-body"),
        CardStatus::Unreadable(_) => ("start-unreadable-title", "start-unreadable-body"),
        CardStatus::Ready(_) => return,
    };
    ui.heading(app.tr.t(title));
    ui.add_space(8.0);
    if matches!(status, CardStatus::Reading) {
        ui.spinner();
    }
    ui.label(app.tr.t(body));
    if let CardStatus::NoService = status {
        // How to start the service is for whoever administers the computer, not the holder: it
        // is folded under "För IT-avdelningen", with a button that saves typing the command.
        ui.add_space(8.0);
        egui::CollapsingHeader::new(app.tr.t("for-it"))
            .id_salt("for-it-no-service")
            .default_open(false)
            .show(ui, |ui| {
                ui.label(app.tr.t("for-it-no-service"));
                ui.horizontal(|ui| {
                    ui.code(words::START_PCSCD);
                    if ui.small_button(app.tr.t("copy-command")).clicked() {
                        ui.ctx().copy_text(words::START_PCSCD.to_string());
                    }
                });
            });
    }
    if let CardStatus::Unreadable(e) = status {
        widgets::error_box(ui, &words::card_error(app.tr, e));
    }
    if let CardStatus::ChooseCard(cards) = status {
        ui.add_space(8.0);
        for card in cards {
            let name = if card.serial.is_empty() {
                card.label.clone()
            } else {
                app.tr.a(
                    "choose-card-button",
                    &[
                        ("label", card.label.as_str().into()),
                        ("serial", card.serial.as_str().into()),
                    ],
                )
            };
            if widgets::secondary(ui, &name, true) {
                // Remembered by serial (labels repeat: every card is "SITHS e-id kort").
                let chosen = Some(if card.serial.is_empty() {
                    card.label.clone()
                } else {
                    card.serial.clone()
                });
                let settings = crate::gui::settings::Settings {
                    reader: chosen.clone(),
                    ..app.settings.clone()
                };
                intents.push(Intent::SaveSettings(Box::new(settings)));
                intents.push(Intent::Send(WorkerCommand::UseReader(chosen)));
            }
        }
    }
    if matches!(app.env, Environment::Pcsc)
        && matches!(
            status,
            CardStatus::NoService | CardStatus::NoReader | CardStatus::NoCard
        )
    {
        ui.add_space(16.0);
        ui.label(app.tr.t("demo-offer"));
        if widgets::secondary(ui, &app.tr.t("demo-try"), true) {
            intents.push(Intent::SwitchToDemo);
        }
    }
}

/// The first certificate naming a personnummer (or samordningsnummer), for the holder line.
fn personnummer(overview: &CardOverview) -> Option<&crate::pki::identity::Personnummer> {
    overview
        .certificates
        .iter()
        .find_map(|c| match c.info.as_ref().ok()?.identity {
            Identity::Personnummer(ref p) | Identity::Samordningsnummer(ref p) => Some(p),
            _ => None,
        })
}

fn hsa_id(overview: &CardOverview) -> Option<&str> {
    overview
        .certificates
        .iter()
        .find_map(|c| match &c.info.as_ref().ok()?.identity {
            Identity::HsaId(h) => Some(h.as_str()),
            _ => None,
        })
}

/// What the card needs, from its certificates and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardNeed {
    /// The PUK is blocked: only a new card helps.
    Dead,
    /// A PIN is blocked: unblock it first.
    Blocked(PinKind),
    /// The card holds a pair below trust level 3 (the legacy pair) and no complete upgrade.
    Upgrade,
    /// Upgraded, and a pair expires within 30 days (or a renewal was cut short): renew it.
    Renew,
    /// The HSA-id and personnummer pairs are there at level 3.
    UpToDate,
}

/// What the card needs at `now` (unix seconds): the first of a dead card, a blocked PIN, the
/// upgrade, a renewal.
pub fn card_need(overview: &CardOverview, now: i64) -> CardNeed {
    if overview.dead() {
        return CardNeed::Dead;
    }
    for kind in [PinKind::Pin1, PinKind::Pin2] {
        if overview.pin(kind).is_some_and(|p| p.blocked()) {
            return CardNeed::Blocked(kind);
        }
    }
    if crate::workflow::pairs::needs_upgrade(overview) {
        CardNeed::Upgrade
    } else if crate::workflow::renew::plan(overview, &[], now).is_ok_and(|p| !p.is_empty()) {
        CardNeed::Renew
    } else {
        CardNeed::UpToDate
    }
}

fn overview_screen(
    app: &View<'_>,
    state: &mut HomeState,
    ui: &mut egui::Ui,
    overview: &CardOverview,
    intents: &mut Intents,
) {
    let tr = app.tr;
    let name = overview.holder_name().unwrap_or("?").to_string();
    ui.heading(&name);
    egui::Grid::new("holder")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            ui.label(tr.t("holder-hsa-id"));
            ui.label(RichText::new(hsa_id(overview).unwrap_or("–")).monospace());
            ui.end_row();
            if let Some(p) = personnummer(overview) {
                ui.label(tr.t("holder-personnummer"));
                ui.horizontal(|ui| {
                    let shown = if state.show_personnummer {
                        p.formatted()
                    } else {
                        p.masked()
                    };
                    ui.label(RichText::new(shown).monospace());
                    let button = if state.show_personnummer {
                        tr.t("hide")
                    } else {
                        tr.t("show")
                    };
                    if ui.small_button(button).clicked() {
                        state.show_personnummer = !state.show_personnummer;
                    }
                });
                ui.end_row();
            }
            ui.label(tr.t("card-serial"));
            ui.label(RichText::new(&overview.serial).monospace());
            ui.end_row();
            if let crate::card::CardSource::Pkcs11 { .. } = overview.source {
                ui.label(tr.t("card-read-via"));
                ui.label(&overview.reader);
                ui.end_row();
            }
        });
    ui.add_space(8.0);

    let now = app.now;
    let need = card_need(overview, now);
    status_banner(app, ui, overview, now, need, intents);
    ui.add_space(8.0);

    ui.label(RichText::new(app.tr.t("pairs-title")).strong());
    pairs(app, ui, overview, now);
    ui.add_space(8.0);
    pins(app, ui, overview, need, intents);
}

/// The overview's one verdict and its primary action: unblock, upgrade or renew; the expiry
/// reminder (the same as `check-expiry`'s) as its detail line.
fn status_banner(
    app: &View<'_>,
    ui: &mut egui::Ui,
    overview: &CardOverview,
    now: i64,
    need: CardNeed,
    intents: &mut Intents,
) {
    let due = crate::workflow::expiry::reminders(overview, now);
    let expiry = due.first().map(|first| {
        let (when, _) = words::expiry(app.tr, first.days_left);
        let id = match crate::workflow::expiry::card_fix(&due) {
            Some(Fix::Renew(_)) => "expiry-banner-renew",
            Some(Fix::NewCard) => "expiry-banner-new-card",
            Some(Fix::Upgrade) | None => "expiry-banner",
        };
        app.tr.a(id, &[("when", when.as_str().into())])
    });
    let tr = app.tr;
    let idle = app.busy.is_none();
    let (status, text, detail, action) = match need {
        CardNeed::Dead => (widgets::Tone::Error, tr.t("verdict-dead"), None, None),
        CardNeed::Blocked(kind) => (
            widgets::Tone::Error,
            words::with_pin(tr, "verdict-blocked", kind),
            expiry,
            Some(words::with_pin(tr, "action-unblock", kind)),
        ),
        CardNeed::Upgrade => (
            widgets::Tone::Warn,
            tr.t("verdict-upgrade"),
            expiry,
            Some(tr.t("action-upgrade")),
        ),
        CardNeed::Renew => (
            widgets::Tone::Warn,
            expiry.unwrap_or_else(|| tr.t("verdict-renew")),
            None,
            Some(tr.t("action-renew")),
        ),
        CardNeed::UpToDate => match expiry {
            Some(e) => (widgets::Tone::Warn, e, None, None),
            None => (widgets::Tone::Ok, tr.t("verdict-up-to-date"), None, None),
        },
    };
    let clicked = widgets::banner(
        ui,
        status,
        &text,
        detail.as_deref(),
        action.as_deref().map(|a| (a, idle)),
    );
    if clicked {
        match need {
            CardNeed::Blocked(kind) => intents.push(Intent::OpenUnblock { kind, puk: None }),
            CardNeed::Upgrade => intents.push(Intent::GoTo(Screen::Upgrade)),
            CardNeed::Renew => intents.push(Intent::OpenRenew),
            CardNeed::Dead | CardNeed::UpToDate => {}
        }
    }
}

/// Days left of the certificate that expires first among those with a reminder due.
pub fn soonest_reminder(overview: &CardOverview, now: i64) -> Option<i64> {
    crate::workflow::expiry::reminders(overview, now)
        .first()
        .map(|r| r.days_left)
}

/// Certificates grouped by identity, each identity's pair together.
fn pairs(app: &View<'_>, ui: &mut egui::Ui, overview: &CardOverview, now: i64) {
    let tr = app.tr;
    let mut identities: Vec<&Identity> = Vec::new();
    for c in &overview.certificates {
        if let Ok(i) = &c.info
            && !identities.contains(&&i.identity)
        {
            identities.push(&i.identity);
        }
    }
    for identity in identities {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(
                RichText::new(format!(
                    "{} {}",
                    words::identity_kind(tr, identity),
                    identity.display_masked()
                ))
                .strong(),
            );
            egui::Grid::new(("pair", identity.display_masked()))
                .num_columns(3)
                .spacing([16.0, 2.0])
                .show(ui, |ui| {
                    for c in overview.certificates_of(identity) {
                        if let Ok(info) = &c.info {
                            cert_row(app, ui, overview, c, info, now);
                        }
                    }
                });
        });
    }
    let unreadable = overview
        .certificates
        .iter()
        .filter(|c| c.info.is_err())
        .count();
    if unreadable > 0 {
        widgets::warning(ui, &tr.a("certs-unreadable", &[("n", unreadable.into())]));
    }
    let others = crate::workflow::pairs::others(overview);
    if !others.is_empty() {
        ui.label(words::others(tr, others));
    }
}

/// One certificate: what it is for, its level (or that it is the old one the upgrade
/// replaces), and the last day it is valid.
fn cert_row(
    app: &View<'_>,
    ui: &mut egui::Ui,
    overview: &CardOverview,
    cert: &CardCertificate,
    info: &CertInfo,
    now: i64,
) {
    let tr = app.tr;
    ui.label(words::purpose(tr, info.purpose));
    let legacy = crate::workflow::pairs::legacy(overview).any(|c| std::ptr::eq(c, cert));
    ui.label(if legacy {
        tr.t("legacy-certificate")
    } else {
        match info.trust_level {
            Some(l) => tr.a("trust-level", &[("level", l.into())]),
            None => tr.t("trust-level-unknown"),
        }
    });
    let date = crate::pki::date::Date::from_unix(info.not_after).to_string();
    let valid = tr.a("valid-until", &[("date", date.as_str().into())]);
    let (when, warn) = words::expiry(tr, info.days_left(now));
    if warn {
        ui.label(
            RichText::new(format!("⚠ {valid} ({when})"))
                .color(widgets::colour(ui, widgets::Tone::Warn)),
        );
    } else {
        ui.label(valid);
    }
    ui.end_row();
}

/// The codes and their tries left, with what can be done about them beside them.
fn pins(
    app: &View<'_>,
    ui: &mut egui::Ui,
    overview: &CardOverview,
    need: CardNeed,
    intents: &mut Intents,
) {
    let tr = app.tr;
    ui.label(RichText::new(tr.t("codes-title")).strong());
    egui::Grid::new("pins")
        .num_columns(2)
        .spacing([16.0, 2.0])
        .show(ui, |ui| {
            for kind in [PinKind::Pin1, PinKind::Pin2, PinKind::Puk] {
                let Some(status) = overview.pin(kind) else {
                    continue;
                };
                ui.label(words::pin_name(tr, kind));
                let text = words::tries_left(tr, status);
                if status.tries_left <= 1 {
                    ui.label(
                        RichText::new(text)
                            .color(widgets::colour(ui, widgets::Tone::Error))
                            .strong(),
                    );
                } else {
                    ui.label(text);
                }
                ui.end_row();
            }
        });
    if overview.one_code() {
        ui.label(tr.t("one-code-card"));
    }
    // Secondary actions, apart from the banner's primary one: none for a dead card, no change
    // of a blocked PIN (the banner offers its unblock).
    if matches!(need, CardNeed::Dead | CardNeed::Blocked(_)) {
        return;
    }
    let idle = app.busy.is_none();
    ui.add_space(4.0);
    ui.horizontal_wrapped(|ui| {
        if widgets::secondary(ui, &app.tr.t("action-change-pin"), idle) {
            intents.push(Intent::OpenChangePin);
        }
        if widgets::secondary(ui, &app.tr.t("action-unblock-any"), idle) {
            intents.push(Intent::OpenUnblock {
                kind: PinKind::Pin1,
                puk: None,
            });
        }
    });
}
