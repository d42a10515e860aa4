//! The window's state machine: it drains the worker's events into what to show, lends each frame
//! a read-only [`View`] to the screens and applies the [`Intents`] they return, here and nowhere
//! else. Nothing here waits on a card or the network.

use std::path::PathBuf;

use crate::card::CardOverview;
use crate::gui::i18n::{Lang, Tr};
pub use crate::gui::intent::Screen;
use crate::gui::intent::{Intent, Intents};
use crate::gui::layout::Pages;
use crate::gui::protocol::{CardStatus, Environment, Event, Task, TaskOutcome, WorkerCommand};
use crate::gui::screens;
use crate::gui::settings::{Settings, SettingsProblem};
use crate::gui::view::{DeskView, View};
use crate::gui::worker::{Mode, Notifier, Worker};
use crate::transport::pcsc::ReaderInfo;

/// Everything the window shows, and the worker it sends commands to.
pub struct SithsApp {
    worker: Worker,
    notifier: Notifier,
    tr: Tr,
    settings: Settings,
    /// Where settings are saved; `None` keeps them in memory only (tests).
    settings_path: Option<PathBuf>,
    env: Environment,
    readers: Vec<ReaderInfo>,
    card: CardStatus,
    screen: Screen,
    busy: Option<Task>,
    /// Demo mode: the real reader that now holds a card, offered in the demo banner.
    real_card: Option<String>,
    /// Each screen's own state.
    pages: Pages,
    /// Desk mode: the operator's card and the desk's checks and log.
    desk: Option<screens::desk::Desk>,
    /// What was unreadable in the saved settings, and where the original was kept: shown
    /// until the holder closes it.
    settings_notice: Option<(SettingsProblem, Option<PathBuf>)>,
    /// Desk mode: tasks the desk refused to send to the customer's card, finished as refused
    /// in the next frame, as the worker's own failures are.
    refused: Vec<(Task, crate::gui::protocol::DeskRefusal)>,
    /// Today, as unix seconds; fixed in tests and snapshots so "expires in N days" is stable.
    now: Option<i64>,
    first_frame_logged: bool,
}

impl SithsApp {
    /// A window on `worker`. `settings_path` is where settings live between runs (`None`: not
    /// saved).
    pub fn new(
        worker: Worker,
        notifier: Notifier,
        settings: Settings,
        settings_path: Option<PathBuf>,
    ) -> SithsApp {
        let tr = Tr::new(settings.lang);
        let pages = Pages::new(&settings);
        SithsApp {
            worker,
            notifier,
            tr,
            settings,
            settings_path,
            env: Environment::Pcsc,
            readers: Vec::new(),
            card: CardStatus::Reading,
            screen: Screen::Home,
            busy: None,
            real_card: None,
            pages,
            desk: None,
            settings_notice: None,
            refused: Vec::new(),
            now: None,
            first_frame_logged: false,
        }
    }

    /// Pin "today" (unix seconds) so expiry texts do not change from day to day in snapshots.
    pub fn with_fixed_now(mut self, now_unix: i64) -> SithsApp {
        self.now = Some(now_unix);
        self
    }

    /// The saved settings could not all be read ([`Settings::load_checked`]): the window says
    /// which were reset and where the original file was kept.
    pub fn with_settings_problem(
        mut self,
        problem: SettingsProblem,
        kept_as: Option<PathBuf>,
    ) -> SithsApp {
        self.settings_notice = Some((problem, kept_as));
        self
    }

    /// Desk mode: the window opens on the desk, with the operator's card in `desk`.
    pub fn with_desk(mut self, desk: screens::desk::Desk) -> SithsApp {
        self.desk = Some(desk);
        self.screen = Screen::Desk;
        self
    }

    pub fn now_unix(&self) -> i64 {
        self.now.unwrap_or_else(crate::pki::date::now_unix)
    }

    pub fn screen(&self) -> Screen {
        self.screen
    }

    /// The CA address in the saved settings.
    pub fn settings_url(&self) -> &str {
        &self.settings.ca_url
    }

    pub fn lang(&self) -> Lang {
        self.tr.lang()
    }

    /// Send a command to the worker. At the desk the model decides first
    /// ([`screens::desk::DeskModel::allow`]): a command to the customer's card before the
    /// identity check is not sent, and its task finishes at once as refused (the screen that
    /// sent it says why and what to do, its busy state ends, nothing is logged as done to the
    /// card).
    fn send(&mut self, command: WorkerCommand) {
        if let Some(desk) = &self.desk
            && let Some(task) = crate::gui::desk_model::customer_card_task(&command)
            && let Err(refusal) =
                desk.model
                    .allow(&command, self.overview(), desk.audit.status().is_ok())
        {
            log::warn!("desk: {task:?} not sent to the customer's card: {refusal:?}");
            self.refused.push((task, refusal));
            return;
        }
        self.worker.send(command);
    }

    fn overview(&self) -> Option<&CardOverview> {
        match &self.card {
            CardStatus::Ready(o) => Some(o),
            _ => None,
        }
    }

    fn go(&mut self, screen: Screen) {
        if screen == Screen::Upgrade && self.screen != Screen::Upgrade {
            self.pages.upgrade.restart_if_finished();
            self.pages
                .upgrade
                .choose(screens::upgrade::WizardJob::Upgrade);
        }
        self.screen = screen;
    }

    /// Open the wizard for a renewal of the card's due pairs (the same steps, resume and
    /// progress as the upgrade).
    fn go_renew(&mut self) {
        self.pages.upgrade.restart_if_finished();
        self.pages
            .upgrade
            .choose(screens::upgrade::WizardJob::Renew);
        self.screen = Screen::Upgrade;
    }

    /// Leave the demo for the real readers, or try the demo from the start screen: a new worker
    /// for the new source (the old one stops), and everything shown starts over.
    fn switch_source(&mut self, demo: bool) {
        let mode = if demo {
            Mode::Demo(None)
        } else {
            Mode::readers(&self.settings)
        };
        let old = std::mem::replace(&mut self.worker, Worker::spawn(mode, self.notifier.clone()));
        // Stopping the old worker waits for its thread (which may be preparing the demo's CA):
        // never on the UI thread.
        let _ = std::thread::Builder::new()
            .name("worker-stop".into())
            .spawn(move || drop(old));
        self.env = if demo {
            Environment::DemoPreparing
        } else {
            Environment::Pcsc
        };
        self.readers.clear();
        self.real_card = None;
        self.card = CardStatus::Reading;
        self.busy = None;
        self.screen = Screen::Home;
        self.pages.upgrade = Default::default();
        self.pages.certs = Default::default();
        self.pages.fetch = Default::default();
        self.pages.unblock = screens::pins::PinForm::unblock();
        self.pages.change = screens::pins::PinForm::change();
    }

    fn set_lang(&mut self, lang: Lang) {
        if lang != self.tr.lang() {
            self.tr = Tr::new(lang);
            self.settings.lang = lang;
            self.save_settings();
        }
    }

    fn save_settings(&self) {
        if let Some(path) = &self.settings_path
            && let Err(e) = self.settings.save(path)
        {
            log::warn!("cannot save settings to {}: {e}", path.display());
        }
    }

    /// Draw the window from a [`View`] of the app and the screens' own state, then apply what
    /// it asked for. A frame that asked for something is followed by another, which shows it.
    fn draw(&mut self, ui: &mut egui::Ui) {
        let now = self.now_unix();
        let (desk, model) = match self.desk.as_mut() {
            Some(screens::desk::Desk {
                operator_env,
                operator_card,
                operator_busy,
                model,
                audit,
                ..
            }) => (
                Some(DeskView {
                    operator_env,
                    operator_card,
                    operator_busy: *operator_busy,
                    audit,
                }),
                Some(model),
            ),
            None => (None, None),
        };
        let view = View {
            tr: &self.tr,
            settings: &self.settings,
            env: &self.env,
            readers: &self.readers,
            card: &self.card,
            busy: self.busy,
            screen: self.screen,
            now,
            real_card: self.real_card.as_deref(),
            settings_notice: self.settings_notice.as_ref(),
            desk,
        };
        let intents = crate::gui::layout::frame(&view, &mut self.pages, model, ui);
        if !intents.is_empty() {
            self.apply_intents(intents);
            ui.ctx().request_repaint();
        }
    }

    /// The one place where what the user asked for changes the app.
    fn apply_intents(&mut self, intents: Intents) {
        for intent in intents {
            match intent {
                Intent::GoTo(screen) => self.go(screen),
                Intent::OpenUnblock { kind, puk } => {
                    self.pages.unblock.open(kind, puk);
                    self.screen = Screen::Unblock;
                }
                Intent::OpenChangePin => {
                    self.pages.change.result = None;
                    self.go(Screen::ChangePin);
                }
                Intent::OpenRenew => self.go_renew(),
                Intent::Send(command) => self.send(command),
                Intent::Busy(task) => self.busy = Some(task),
                Intent::CancelJob => self.worker.cancel(),
                Intent::SwitchToDemo => self.switch_source(true),
                Intent::SwitchToReaders => self.switch_source(false),
                Intent::SetLanguage(lang) => self.set_lang(lang),
                Intent::SaveSettings(settings) => {
                    self.settings = *settings;
                    self.save_settings();
                }
                Intent::DismissSettingsNotice => self.settings_notice = None,
                Intent::Audit {
                    action,
                    result,
                    detail,
                } => self.audit(action, result, detail),
                Intent::LookUpPuk(mut command) => {
                    if let Some(desk) = self.desk.as_mut() {
                        if let WorkerCommand::PukLookup { anchors, .. } = &mut command {
                            *anchors = desk.audit.pending_anchors();
                        }
                        desk.operator.send(command);
                    }
                }
            }
        }
    }

    /// Take in the operator worker's events (the customer's come through the app).
    fn drain_operator(&mut self) {
        let Some(desk) = self.desk.as_mut() else {
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
                Event::Readers(_) | Event::Progress(_) | Event::RealCard(_) => {}
            }
        }
        for (task, outcome) in finished {
            self.operator_finished(task, outcome);
        }
    }

    fn operator_finished(&mut self, task: Task, outcome: TaskOutcome) {
        if task != Task::PukLookup {
            return;
        }
        let (result, detail) = match &outcome {
            TaskOutcome::Puk { .. } => (Ok(()), String::new()),
            TaskOutcome::Failed(f) => (Err(()), self.audit_words(f)),
            _ => return,
        };
        let reason = self
            .desk
            .as_ref()
            .map(|d| d.model.reason.clone())
            .unwrap_or_default();
        self.audit(
            crate::audit::Action::PukLookup,
            result,
            format!(
                "reason: {reason}{}{detail}",
                if detail.is_empty() { "" } else { "; " }
            ),
        );
        let customer = self.overview().cloned();
        let Some(desk) = self.desk.as_mut() else {
            return;
        };
        match outcome {
            TaskOutcome::Puk { puk, anchored } => {
                desk.audit.anchored(&anchored);
                desk.model.puk_arrived(customer.as_ref(), puk);
            }
            TaskOutcome::Failed(f) => desk.model.failure = Some(f),
            _ => {}
        }
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.worker.try_recv() {
            self.apply(event);
        }
        for (task, refusal) in std::mem::take(&mut self.refused) {
            self.apply(Event::Finished(
                task,
                TaskOutcome::Failed(crate::gui::protocol::Failure::Desk(refusal)),
            ));
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Environment(env) => self.env = env,
            Event::Readers(readers) => self.readers = readers,
            Event::Card(status) => {
                if let (Some(desk), CardStatus::Ready(o)) = (self.desk.as_mut(), &status)
                    && desk.customer_changed(Some(o))
                {
                    // Another customer: nothing typed or fetched for the last one stays.
                    self.pages.unblock = screens::pins::PinForm::unblock();
                    self.pages.change = screens::pins::PinForm::change();
                    self.pages.upgrade = Default::default();
                }
                self.card = status;
                self.pages.upgrade.card_changed(&self.card);
            }
            Event::Busy(task) => {
                self.busy = Some(task);
                if matches!(task, Task::Upgrade | Task::Renew) {
                    self.pages.upgrade.started();
                }
            }
            Event::Progress(p) => self.pages.upgrade.progress(p),
            Event::RealCard(reader) => self.real_card = reader,
            Event::Finished(task, outcome) => {
                self.busy = None;
                self.finished(task, outcome);
            }
        }
    }

    fn finished(&mut self, task: Task, outcome: TaskOutcome) {
        // A refused command never reached the card: nothing to log as done to it.
        let refused = matches!(
            outcome,
            TaskOutcome::Failed(crate::gui::protocol::Failure::Desk(_))
        );
        if self.desk.is_some() && !refused {
            self.audit_customer_task(task, &outcome);
        }
        match task {
            Task::Upgrade | Task::Renew => self.pages.upgrade.finished(outcome),
            Task::UnblockPin => self.pages.unblock.finished(outcome),
            Task::ChangePin => self.pages.change.finished(outcome),
            Task::VerifyPin | Task::TestLogin | Task::Export => self.pages.certs.finished(outcome),
            Task::FetchList | Task::FetchWrite => self.pages.fetch.finished(outcome),
            Task::PukLookup => {}
        }
    }

    /// Desk mode: what happened to the customer's card goes into the audit log.
    fn audit_customer_task(&mut self, task: Task, outcome: &TaskOutcome) {
        use crate::audit::Action;
        let action = match task {
            Task::UnblockPin => Action::Unblock,
            Task::ChangePin => Action::ChangePin,
            Task::Upgrade => Action::Upgrade,
            Task::Renew => Action::Renew,
            Task::FetchList | Task::FetchWrite => Action::FetchExisting,
            Task::TestLogin => Action::TestLogin,
            Task::VerifyPin | Task::Export | Task::PukLookup => return,
        };
        let (result, detail) = match outcome {
            TaskOutcome::Failed(f) => (Err(()), self.audit_words(f)),
            TaskOutcome::PinUnblocked(k) | TaskOutcome::PinChanged(k) => (Ok(()), format!("{k}")),
            TaskOutcome::Upgraded(s) => (
                Ok(()),
                format!(
                    "{} certificate(s) written, {} legacy slot(s) cleared",
                    s.written.len(),
                    s.removed_slots.len()
                ),
            ),
            TaskOutcome::Renewed(s) => (
                Ok(()),
                format!(
                    "{} certificate(s) renewed, {} old slot(s) cleared",
                    s.renewed.len(),
                    s.removed_slots.len()
                ),
            ),
            TaskOutcome::Existing(list) => {
                (Ok(()), format!("listed {} certificate(s)", list.len()))
            }
            TaskOutcome::Written(p) => (Ok(()), format!("wrote {} certificate(s)", p.len())),
            _ => (Ok(()), String::new()),
        };
        self.audit(action, result, detail);
    }

    /// A failure in the audit log's words (Swedish, as the service centre reads it).
    fn audit_words(&self, f: &crate::gui::protocol::Failure) -> String {
        crate::gui::words::failure(&Tr::new(Lang::Sv), f).text
    }

    /// Append one desk action to the audit log: who (the operator's HSA-id), which card and
    /// customer, what, and how it went. There is no field for a code.
    fn audit(&mut self, action: crate::audit::Action, result: Result<(), ()>, detail: String) {
        let customer = self.overview();
        let card_serial = customer.map(|o| o.serial.clone()).unwrap_or_default();
        let customer_id = customer
            .and_then(screens::desk::hsa_id_of)
            .unwrap_or_default();
        let Some(desk) = self.desk.as_mut() else {
            return;
        };
        let operator = match &desk.operator_card {
            CardStatus::Ready(o) => screens::desk::hsa_id_of(o).unwrap_or_default(),
            _ => String::new(),
        };
        desk.audit.record(crate::audit::Record {
            operator,
            card_serial,
            customer: customer_id,
            action,
            outcome: match result {
                Ok(()) => crate::audit::Outcome::Done,
                Err(()) => crate::audit::Outcome::Failed,
            },
            detail,
        });
    }

    /// One frame: take in what the worker said, then draw.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.notifier.attach(ui.ctx());
        if !self.first_frame_logged {
            crate::gui::theme::apply(ui.ctx());
        }
        self.drain_events();
        self.drain_operator();
        self.draw(ui);
        if !self.first_frame_logged {
            self.first_frame_logged = true;
            log::info!(target: "siths_upgrade::startup", "first frame drawn");
        }
    }
}
