//! The upgrade wizard, which also renews: what will happen, the two PINs, the steps as the
//! workflow reports them, and the result or the way on from a failure. Both jobs take the same
//! codes, report the same steps and resume the same way, so one wizard serves both.

use egui::RichText;
use zeroize::Zeroizing;

use crate::card::CardOverview;
use crate::card::{CardError, PinKind, SecretCode};
use crate::gui::intent::{Intent, Intents, Screen};
use crate::gui::protocol::{CardStatus, Failure, TaskOutcome, WorkerCommand};
use crate::gui::view::View;
use crate::gui::widgets;
use crate::gui::words::{self, NextAction};
use crate::layout::PIN_MAX_LEN;
use crate::workflow::progress::{Progress, Step};

/// What the wizard does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WizardJob {
    #[default]
    Upgrade,
    /// Renew the pairs that are due.
    Renew,
}

impl WizardJob {
    /// The text for this job: the upgrade's or the renewal's.
    fn pick(self, upgrade: &'static str, renew: &'static str) -> &'static str {
        match self {
            WizardJob::Upgrade => upgrade,
            WizardJob::Renew => renew,
        }
    }
}

#[derive(Default)]
pub enum WizardStage {
    #[default]
    Intro,
    Pins,
    Running,
    /// The card as the job left it, and whether an old pair was removed.
    Done {
        overview: Box<CardOverview>,
        removed_old: bool,
    },
    Failed(Failure),
}

#[derive(Default)]
pub struct Wizard {
    pub job: WizardJob,
    pub stage: WizardStage,
    pub pin1: Zeroizing<String>,
    pub pin2: Zeroizing<String>,
    /// A typed code broke the rules; nothing was sent.
    pub typo: Option<String>,
    pub steps: Vec<Progress>,
    /// The card was taken out during this upgrade; resuming is offered once it is back.
    pub card_was_pulled: bool,
    /// The holder pressed Cancel: the job stops after the step it is in.
    pub cancelling: bool,
    /// A wrong or mistyped code: worded under the fields, the form shown again.
    pub code_error: Option<Failure>,
    /// Jobs started: the PIN form after each is a new form to the keyboard flow, so the focus
    /// goes back to its first field even when the job ended before a frame showed it running.
    attempts: u32,
}

impl Wizard {
    pub fn restart_if_finished(&mut self) {
        if matches!(self.stage, WizardStage::Done { .. }) {
            *self = Wizard::default();
        }
    }

    /// Set the job, unless one is under way (its failure and resume stay on screen).
    pub fn choose(&mut self, job: WizardJob) {
        if matches!(self.stage, WizardStage::Intro) {
            self.job = job;
        }
    }

    pub fn started(&mut self) {
        self.attempts += 1;
        self.stage = WizardStage::Running;
        self.steps.clear();
        self.cancelling = false;
    }

    pub fn progress(&mut self, p: Progress) {
        self.steps.push(p);
    }

    pub fn card_changed(&mut self, status: &CardStatus) {
        if matches!(self.stage, WizardStage::Running | WizardStage::Failed(_))
            && !matches!(status, CardStatus::Ready(_) | CardStatus::Reading)
        {
            self.card_was_pulled = true;
        }
    }

    pub fn finished(&mut self, outcome: TaskOutcome) {
        self.stage = match outcome {
            TaskOutcome::Upgraded(summary) => {
                self.card_was_pulled = false;
                WizardStage::Done {
                    removed_old: !summary.removed_slots.is_empty(),
                    overview: Box::new(summary.overview),
                }
            }
            TaskOutcome::Renewed(summary) => {
                self.card_was_pulled = false;
                WizardStage::Done {
                    removed_old: !summary.removed_slots.is_empty(),
                    overview: Box::new(summary.overview),
                }
            }
            // A wrong code is the holder's to fix on the form, not a failure page.
            TaskOutcome::Failed(Failure::Card(
                e @ (CardError::WrongCode { .. } | CardError::WrongCodeFewer { .. }),
            )) => {
                self.code_error = Some(Failure::Card(e));
                WizardStage::Pins
            }
            TaskOutcome::Failed(f) => WizardStage::Failed(f),
            _ => return,
        };
    }
}

pub fn show(app: &View<'_>, w: &mut Wizard, ui: &mut egui::Ui) -> Intents {
    let mut intents = Intents::default();
    ui.heading(app.tr.t(w.job.pick("upgrade-title", "renew-title")));
    ui.add_space(8.0);
    match &w.stage {
        WizardStage::Intro => intro(app, w, ui, &mut intents),
        WizardStage::Pins => pins(app, w, ui, &mut intents),
        WizardStage::Running => running(app, w, ui, &mut intents),
        WizardStage::Done { .. } => done(app, w, ui, &mut intents),
        WizardStage::Failed(_) => failed(app, w, ui, &mut intents),
    }
    intents
}

fn intro(app: &View<'_>, w: &mut Wizard, ui: &mut egui::Ui, intents: &mut Intents) {
    let tr = app.tr;
    let job = w.job;
    ui.label(tr.t(job.pick("upgrade-intro", "renew-intro")));
    ui.add_space(4.0);
    for (upgrade, renew) in [
        ("upgrade-intro-1", "renew-intro-1"),
        ("upgrade-intro-2", "renew-intro-2"),
        ("upgrade-intro-3", "renew-intro-3"),
        ("upgrade-intro-4", "renew-intro-4"),
    ] {
        ui.label(format!("• {}", tr.t(job.pick(upgrade, renew))));
    }
    ui.add_space(8.0);
    widgets::warning(ui, &tr.t(job.pick("upgrade-keep-card", "renew-keep-card")));
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        if widgets::primary(ui, &app.tr.t("continue"), app.overview().is_some()) {
            w.stage = WizardStage::Pins;
        }
        if widgets::secondary(ui, &app.tr.t("cancel"), true) {
            intents.push(Intent::GoTo(app.home_screen()));
        }
    });
}

fn pins(app: &View<'_>, w: &mut Wizard, ui: &mut egui::Ui, intents: &mut Intents) {
    let tr = app.tr;
    ui.label(tr.t("pin-rules"));
    ui.add_space(6.0);
    let tries = |kind| {
        app.overview()
            .and_then(|o| o.pin(kind))
            .map(|p| words::tries_left(tr, p))
            .unwrap_or_default()
    };
    let pin1_label = words::with_pin(tr, "enter-pin", PinKind::Pin1);
    let pin2_label = words::with_pin(tr, "enter-pin", PinKind::Pin2);
    let (t1, t2) = (tries(PinKind::Pin1), tries(PinKind::Pin2));
    // A card that came with one code has no PIN2 to ask for: its one code serves both.
    let one_code = app.overview().is_some_and(CardOverview::one_code);
    let mut rows = vec![widgets::CodeRow {
        label: &pin1_label,
        value: &mut w.pin1,
        max_len: PIN_MAX_LEN,
        note: t1,
    }];
    if !one_code {
        rows.push(widgets::CodeRow {
            label: &pin2_label,
            value: &mut w.pin2,
            max_len: PIN_MAX_LEN,
            note: t2,
        });
    }
    let keys = widgets::code_grid(ui, &format!("upgrade-{}", w.attempts), rows);
    if one_code {
        ui.label(tr.t("one-code-card"));
    }
    if let Some(typo) = &w.typo {
        ui.label(RichText::new(typo).color(widgets::colour(ui, widgets::Tone::Error)));
    }
    if let Some(f) = &w.code_error {
        let text = words::failure(app.tr, f).text;
        ui.label(
            RichText::new(text)
                .color(widgets::colour(ui, widgets::Tone::Error))
                .strong(),
        );
    }
    ui.add_space(8.0);
    // Both codes typed: Enter in PIN1 alone moves on to PIN2 instead of failing.
    let ready = app.overview().is_some()
        && app.busy.is_none()
        && !w.pin1.is_empty()
        && (one_code || !w.pin2.is_empty());
    let mut start = false;
    ui.horizontal(|ui| {
        let label = app.tr.t(w.job.pick("upgrade-start", "renew-start"));
        start = widgets::primary(ui, &label, ready);
        if widgets::secondary(ui, &app.tr.t("cancel"), true) || keys.cancel {
            intents.push(Intent::GoTo(app.home_screen()));
        }
    });
    if (start || keys.submit) && ready {
        let pin1 = SecretCode::pin(std::mem::take(&mut *w.pin1));
        // The one code is the signing code too.
        let pin2 = if one_code {
            pin1.clone()
        } else {
            SecretCode::pin(std::mem::take(&mut *w.pin2))
        };
        widgets::forget_field(ui.ctx(), &pin1_label);
        widgets::forget_field(ui.ctx(), &pin2_label);
        match (pin1, pin2) {
            (Ok(pin1), Ok(pin2)) => {
                w.typo = None;
                w.code_error = None;
                intents.push(Intent::Send(match w.job {
                    WizardJob::Upgrade => WorkerCommand::Upgrade { pin1, pin2 },
                    WizardJob::Renew => WorkerCommand::Renew { pin1, pin2 },
                }));
                w.started();
            }
            (Err(e), _) | (_, Err(e)) => {
                w.typo = Some(words::pin_rule_error(app.tr, &e));
            }
        }
    }
}

/// A few milestones instead of twenty steps: one per new pair, then the old pair's removal
/// (a renewal removes each old pair with its new one).
fn milestones(app: &View<'_>, w: &Wizard, ui: &mut egui::Ui, running: bool) {
    let renew = w.job == WizardJob::Renew;
    let reached = w
        .steps
        .iter()
        .map(|p| milestone_of(&p.step, renew))
        .max()
        .unwrap_or(0);
    let mut list = vec![(1, "milestone-hsa"), (2, "milestone-pnr")];
    if !renew {
        list.push((3, "milestone-remove-legacy"));
    }
    for (n, id) in list {
        let text = app.tr.t(id);
        if reached > n {
            widgets::success(ui, &text);
        } else if reached == n && running {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(RichText::new(text).strong());
            });
        } else {
            ui.label(RichText::new(format!("○ {text}")).weak());
        }
    }
}

/// Which milestone a step belongs to: 0 preparing, 1 the HSA-id pair, 2 the personnummer
/// pair, 3 removing the legacy pair, 4 done.
fn milestone_of(step: &Step, renew: bool) -> u8 {
    use crate::ca::IdentityKind;
    use crate::workflow::progress::Activity;
    let pair = |p: &crate::ca::Profile| match p.identity() {
        IdentityKind::HsaId => 1,
        IdentityKind::Personnummer => 2,
    };
    match step {
        Step::ReadCard | Step::VerifyPin(_) | Step::LogIn => 0,
        Step::GenerateKey(p) | Step::Enrol(p) | Step::WriteCertificate(p) | Step::RemoveOld(p) => {
            pair(p)
        }
        Step::Working(Activity::GeneratingKey(p) | Activity::Enrolling(p)) => pair(p),
        // The upgrade proves all four keys after writing them, just before the removal.
        Step::ProveKey(p) if renew => pair(p),
        Step::ProveKey(_) => 2,
        Step::RemoveLegacy => 3,
        Step::Done => 4,
        // A note before any pair is made.
        Step::Rejected(_) => 0,
    }
}

/// The steps done so far (not the notes of what the card was busy with).
fn step_list(app: &View<'_>, w: &Wizard, ui: &mut egui::Ui) {
    for p in &w.steps {
        match p.step {
            Step::Working(_) => {}
            Step::Rejected(_) => widgets::warning(ui, &words::step(app.tr, &p.step)),
            _ => widgets::success(ui, &words::step(app.tr, &p.step)),
        }
    }
}

fn running(app: &View<'_>, w: &mut Wizard, ui: &mut egui::Ui, intents: &mut Intents) {
    let keep = w.job.pick("upgrade-keep-card", "renew-keep-card");
    widgets::warning(ui, &app.tr.t(keep));
    let (done, total) = w
        .steps
        .last()
        .map(|p| (p.done, p.total.max(1)))
        .unwrap_or((0, 1));
    ui.add(egui::ProgressBar::new(done as f32 / total as f32));
    ui.add_space(6.0);
    milestones(app, w, ui, true);
    ui.add_space(6.0);
    // What the card is doing now, when the job said so before a slow step.
    if let Some(p) = w.steps.last()
        && matches!(p.step, Step::Working(_))
    {
        ui.label(words::step(app.tr, &p.step));
    }
    egui::CollapsingHeader::new(app.tr.t("show-details"))
        .id_salt("upgrade-details")
        .show(ui, |ui| {
            ui.label(app.tr.a(
                "upgrade-progress",
                &[("done", done.into()), ("total", total.into())],
            ));
            step_list(app, w, ui);
        });
    ui.add_space(8.0);
    if w.cancelling {
        ui.label(RichText::new(app.tr.t("cancel-after-step")).weak());
    } else if widgets::secondary(ui, &app.tr.t("cancel"), true)
        || ui.input(|i| i.key_pressed(egui::Key::Escape))
    {
        w.cancelling = true;
        intents.push(Intent::CancelJob);
    }
}

fn done(app: &View<'_>, w: &mut Wizard, ui: &mut egui::Ui, intents: &mut Intents) {
    let WizardStage::Done {
        overview,
        removed_old,
    } = &w.stage
    else {
        return;
    };
    let job = w.job;
    widgets::success(ui, &app.tr.t(job.pick("upgrade-done", "renew-done")));
    ui.add_space(6.0);
    ui.label(RichText::new(app.tr.t("upgrade-now-on-card")).strong());
    // Grouped by identity: each pair's two certificates together, HSA-id first.
    let mut certs: Vec<&crate::pki::CertInfo> = overview
        .certificates
        .iter()
        .filter_map(|c| c.info.as_ref().ok())
        .collect();
    certs.sort_by_key(|i| {
        (
            !matches!(i.identity, crate::pki::Identity::HsaId(_)),
            i.purpose != crate::pki::Purpose::Authentication,
        )
    });
    for info in certs {
        ui.label(format!(
            "• {} – {} ({})",
            words::identity_kind(app.tr, &info.identity),
            words::purpose(app.tr, info.purpose),
            match info.trust_level {
                Some(l) => app.tr.a("trust-level", &[("level", l.into())]),
                None => app.tr.t("trust-level-unknown"),
            }
        ));
    }
    if *removed_old {
        ui.label(
            app.tr
                .t(job.pick("upgrade-legacy-removed", "renew-old-removed")),
        );
    }
    // The next step: try the new login, and know which certificate to pick when asked.
    ui.add_space(8.0);
    ui.label(app.tr.t("upgrade-next-login"));
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        if widgets::primary(ui, &app.tr.t("action-try-login"), true) {
            *w = Wizard::default();
            intents.push(Intent::GoTo(Screen::Certificates));
        }
        if widgets::secondary(ui, &app.tr.t("to-overview"), true) {
            *w = Wizard::default();
            intents.push(Intent::GoTo(app.home_screen()));
        }
    });
}

fn failed(app: &View<'_>, w: &mut Wizard, ui: &mut egui::Ui, intents: &mut Intents) {
    let WizardStage::Failed(failure) = &w.stage else {
        return;
    };
    let explained = words::failure(app.tr, failure);
    widgets::error_box(ui, &explained);
    ui.add_space(6.0);
    step_list(app, w, ui);
    ui.add_space(8.0);
    let card_ready = app.overview().is_some() && app.busy.is_none();
    let pulled = w.card_was_pulled || explained.next.contains(&NextAction::InsertAndResume);
    if pulled {
        let explain = w.job.pick("upgrade-resume-explain", "renew-resume-explain");
        ui.label(app.tr.t(explain));
        if !card_ready {
            widgets::warning(ui, &app.tr.t("insert-card-again"));
        }
    }
    ui.horizontal_wrapped(|ui| {
        for next in &explained.next {
            match next {
                NextAction::TryAgain => {
                    if widgets::primary(ui, &app.tr.t("try-again"), card_ready) {
                        w.stage = WizardStage::Pins;
                    }
                }
                NextAction::InsertAndResume => {
                    let resume = app.tr.t(w.job.pick("upgrade-resume", "renew-resume"));
                    if widgets::primary(ui, &resume, card_ready) {
                        w.stage = WizardStage::Pins;
                    }
                }
                NextAction::Resume => {
                    let resume = app.tr.t(w.job.pick("upgrade-resume", "renew-resume"));
                    if widgets::primary(ui, &resume, card_ready) {
                        w.stage = WizardStage::Pins;
                    }
                }
                NextAction::Unblock(kind) => {
                    let kind = *kind;
                    if widgets::primary(ui, &words::with_pin(app.tr, "action-unblock", kind), true)
                    {
                        intents.push(Intent::OpenUnblock { kind, puk: None });
                    }
                }
                NextAction::ServiceCentre => {
                    ui.label(RichText::new(app.tr.t("contact-service-centre")).strong());
                }
                NextAction::OpenSettings => {
                    if widgets::secondary(ui, &app.tr.t("open-settings"), true) {
                        intents.push(Intent::GoTo(Screen::Settings));
                    }
                }
            }
        }
        if widgets::secondary(ui, &app.tr.t("to-overview"), true) {
            intents.push(Intent::GoTo(app.home_screen()));
        }
    });
}
