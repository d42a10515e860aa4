//! The worker thread's loop. It blocks on one channel that carries both the window's commands
//! and the reader monitor's events, so it uses no CPU between them; every task ends by reading
//! the card again, so the window always shows the card as it is after the task.

use crate::workflow::progress::Cancel;
use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use crate::card::{Access, SharedCard};
use crate::gui::demo::DemoWorld;
use crate::gui::protocol::{
    CaSettings, CardStatus, DemoAction, Environment, Event, Failure, Task, TaskOutcome,
    WorkerCommand,
};
use crate::transport::monitor::{ReaderEvent, ReaderMonitor};
use crate::virtual_card;
use crate::workflow::fetch_existing::Existing;

use super::card_source::{self, Found};
use super::{Events, Input, Mode, tasks};

enum CardFeed {
    Pcsc {
        /// The reader, or with a PKCS#11 module the token, to use; None: the first with a card.
        reader: Option<String>,
        /// Live reader events; None if the monitor could not start (Refresh still works).
        monitor: Option<(ReaderMonitor, JoinHandle<()>)>,
        /// Reach the card through this PKCS#11 module instead of APDUs (the reader monitor still
        /// says when to read again).
        module: Option<String>,
        /// A reader never to read a card from (the desk's operator reader).
        exclude: Option<String>,
    },
    /// None while the demo is being prepared, or when it could not be.
    Demo(Option<Box<DemoWorld>>),
    /// One more card of a demo that another worker runs.
    Seat(virtual_card::SharedVirtualCard),
}

struct Runner {
    events: Events,
    input: Receiver<Input>,
    /// Commands read ahead while collapsing a burst of reader events.
    pending: VecDeque<Input>,
    source: CardFeed,
    ca: CaSettings,
    /// The card as last read, open for tasks; None when there is no usable card.
    card: Option<SharedCard>,
    /// The window last saw a ready card: a re-read then needs no "Reading" in between.
    shown_ready: bool,
    /// The last list from the CA, for FetchWrite.
    existing: Vec<Existing>,
    /// Set by the window to stop the running job between two steps.
    cancel: Cancel,
    /// Demo mode: the real readers, watched only to offer a real card when one is inserted.
    watch: Option<(ReaderMonitor, JoinHandle<()>)>,
}

pub(super) fn run(
    mode: Mode,
    input: Receiver<Input>,
    tx: Sender<Input>,
    events: Events,
    cancel: Cancel,
) {
    // The window's own demo watches the real readers, so a holder who inserts a real card is
    // offered it rather than left in the demo (see `Mode::Demo`).
    let watch = matches!(mode, Mode::Demo(None))
        .then(|| start_monitor(tx.clone()))
        .flatten();
    let (source, ca) = match mode {
        Mode::Pcsc { reader, ca } => {
            events.send(Event::Environment(Environment::Pcsc));
            (
                CardFeed::Pcsc {
                    reader,
                    monitor: start_monitor(tx),
                    module: None,
                    exclude: None,
                },
                ca,
            )
        }
        Mode::DeskCustomer {
            reader,
            operator_reader,
            ca,
        } => {
            events.send(Event::Environment(Environment::Pcsc));
            (
                CardFeed::Pcsc {
                    reader,
                    monitor: start_monitor(tx),
                    module: None,
                    exclude: operator_reader,
                },
                ca,
            )
        }
        Mode::Pkcs11 { module, token, ca } => {
            events.send(Event::Environment(Environment::Pcsc));
            (
                CardFeed::Pcsc {
                    reader: token,
                    monitor: start_monitor(tx),
                    module: Some(module),
                    exclude: None,
                },
                ca,
            )
        }
        Mode::Demo(Some(world)) => demo_source(&events, world),
        Mode::Seat { seat, ca } => {
            events.send(Event::Environment(Environment::Demo {
                ca: ca.clone(),
                codes: seat.codes.clone(),
                holder: seat.holder.clone(),
            }));
            events.send(Event::Readers(Vec::new()));
            (CardFeed::Seat(seat.card), ca)
        }
        Mode::Demo(None) => {
            events.send(Event::Environment(Environment::DemoPreparing));
            match DemoWorld::prepare() {
                Ok(world) => demo_source(&events, world),
                Err(e) => {
                    events.send(Event::Environment(Environment::DemoFailed(e.to_string())));
                    (CardFeed::Demo(None), CaSettings::default())
                }
            }
        }
    };
    let mut runner = Runner {
        events,
        input,
        pending: VecDeque::new(),
        source,
        ca,
        card: None,
        shown_ready: false,
        existing: Vec::new(),
        cancel,
        watch,
    };
    runner.refresh(true);
    runner.serve();
    runner.shutdown();
}

fn demo_source(events: &Events, world: DemoWorld) -> (CardFeed, CaSettings) {
    events.send(Event::Environment(Environment::Demo {
        ca: world.ca.clone(),
        codes: world.codes.clone(),
        holder: world.holder.clone(),
    }));
    events.send(Event::Readers(Vec::new()));
    let ca = world.ca.clone();
    (CardFeed::Demo(Some(Box::new(world))), ca)
}

/// The reader monitor, with a thread that forwards its events into the worker's one channel.
fn start_monitor(tx: Sender<Input>) -> Option<(ReaderMonitor, JoinHandle<()>)> {
    let (sender, receiver) = mpsc::channel();
    let monitor = match ReaderMonitor::start_with(sender) {
        Ok(m) => m,
        Err(e) => {
            log::warn!("no live reader events: {e}");
            return None;
        }
    };
    let forward = std::thread::Builder::new()
        .name("reader-events".into())
        .spawn(move || {
            for event in receiver {
                if tx.send(Input::Reader(event)).is_err() {
                    break;
                }
            }
        });
    match forward {
        Ok(thread) => Some((monitor, thread)),
        Err(e) => {
            log::warn!("no live reader events: {e}");
            None
        }
    }
}

impl Runner {
    fn emit(&self, event: Event) {
        self.events.send(event);
    }

    fn next(&mut self) -> Option<Input> {
        self.pending.pop_front().or_else(|| self.input.recv().ok())
    }

    fn serve(&mut self) {
        while let Some(input) = self.next() {
            match input {
                Input::Reader(event) if matches!(self.source, CardFeed::Demo(_)) => {
                    self.real_card_event(event)
                }
                Input::Reader(event) => {
                    log::debug!("reader event: {event:?}");
                    self.collapse_reader_events();
                    self.refresh(true);
                }
                Input::Command(WorkerCommand::Quit) => return,
                Input::Command(command) => self.command(command),
            }
        }
    }

    /// A card insertion comes with a burst of events; one read after all of them is enough.
    fn collapse_reader_events(&mut self) {
        while let Ok(input) = self.input.try_recv() {
            if let Input::Command(_) = input {
                self.pending.push_back(input);
                return;
            }
        }
    }

    /// Demo mode: a card in a real reader is offered to the window; its removal withdraws it.
    fn real_card_event(&mut self, event: ReaderEvent) {
        match event {
            ReaderEvent::CardInserted { reader, .. } => {
                self.emit(Event::RealCard(Some(reader)));
            }
            ReaderEvent::CardRemoved { .. }
            | ReaderEvent::ReaderRemoved(_)
            | ReaderEvent::ServiceDown => self.emit(Event::RealCard(None)),
            ReaderEvent::ReaderAdded(_) | ReaderEvent::ServiceUp => {}
        }
    }

    fn shutdown(&mut self) {
        self.card = None;
        if let Some((monitor, forward)) = self.watch.take() {
            monitor.stop();
            let _ = forward.join();
        }
        if let CardFeed::Pcsc { monitor, .. } = &mut self.source
            && let Some((monitor, forward)) = monitor.take()
        {
            // Stopping the monitor drops its sender, which ends the forwarding thread.
            monitor.stop();
            let _ = forward.join();
        }
    }

    /// Read the card again and tell the window; `announce` shows "Reading" first when the card
    /// may be a new one.
    fn refresh(&mut self, announce: bool) {
        self.card = None;
        let announce = announce || !self.shown_ready;
        let found = match &self.source {
            CardFeed::Pcsc {
                reader,
                module: Some(module),
                ..
            } => {
                let (module, token) = (module.clone(), reader.clone());
                self.read_pkcs11(&module, token.as_deref(), announce)
            }
            CardFeed::Pcsc {
                reader, exclude, ..
            } => {
                let (reader, exclude) = (reader.clone(), exclude.clone());
                self.read_pcsc(reader.as_deref(), exclude.as_deref(), announce)
            }
            CardFeed::Demo(Some(world)) => {
                let card = world.card.clone();
                self.read_demo(&card, announce)
            }
            CardFeed::Seat(card) => {
                let card = card.clone();
                self.read_demo(&card, announce)
            }
            CardFeed::Demo(None) => return,
        };
        self.shown_ready = matches!(found.status, CardStatus::Ready(_));
        self.card = found.card;
        self.emit(Event::Card(found.status));
    }

    fn read_pcsc(&self, wanted: Option<&str>, exclude: Option<&str>, announce: bool) -> Found {
        let readers = match card_source::pcsc_readers() {
            Ok(r) => r
                .into_iter()
                .filter(|r| Some(r.name.as_str()) != exclude)
                .collect::<Vec<_>>(),
            Err(status) => {
                self.emit(Event::Readers(Vec::new()));
                return Found { status, card: None };
            }
        };
        self.emit(Event::Readers(readers.clone()));
        let reader = match card_source::choose_reader(&readers, wanted) {
            Ok(r) => r,
            Err(status) => return Found { status, card: None },
        };
        if announce {
            self.emit(Event::Card(CardStatus::Reading));
        }
        card_source::read(Access::Reader(Some(reader.name.clone())))
    }

    fn read_pkcs11(&self, module: &str, token: Option<&str>, announce: bool) -> Found {
        if announce {
            self.emit(Event::Card(CardStatus::Reading));
        }
        card_source::read(Access::Pkcs11 {
            module: module.to_string(),
            token: token.map(str::to_string),
        })
    }

    fn read_demo(&self, card: &virtual_card::SharedVirtualCard, announce: bool) -> Found {
        if announce && card_source::demo_present(card) {
            self.emit(Event::Card(CardStatus::Reading));
        }
        card_source::read(Access::InProcess(card.clone()))
    }

    fn command(&mut self, command: WorkerCommand) {
        match command {
            WorkerCommand::Refresh => self.refresh(false),
            WorkerCommand::UseReader(name) => {
                if let CardFeed::Pcsc { reader, .. } = &mut self.source {
                    *reader = name;
                }
                self.refresh(true);
            }
            WorkerCommand::SetCa(ca) => self.ca = ca,
            WorkerCommand::DemoCard(action) => self.demo_card(action),
            WorkerCommand::VerifyPin { kind, pin } => self.task(Task::VerifyPin, |_, card| {
                tasks::verify_pin(card, kind, pin)
            }),
            WorkerCommand::ChangePin { kind, old, new } => self.task(Task::ChangePin, |_, card| {
                tasks::change_pin(card, kind, old, new)
            }),
            WorkerCommand::UnblockPin { kind, puk, new } => self
                .task(Task::UnblockPin, |_, card| {
                    tasks::unblock_pin(card, kind, puk, new)
                }),
            WorkerCommand::Upgrade { pin1, pin2 } => self.task(Task::Upgrade, |runner, card| {
                let events = runner.events.clone();
                tasks::upgrade(card, &runner.ca, &runner.cancel, pin1, pin2, &mut |p| {
                    events.send(Event::Progress(p))
                })
            }),
            WorkerCommand::Renew { pin1, pin2 } => self.task(Task::Renew, |runner, card| {
                let events = runner.events.clone();
                tasks::renew(card, &runner.ca, &runner.cancel, pin1, pin2, &mut |p| {
                    events.send(Event::Progress(p))
                })
            }),
            WorkerCommand::TestLogin { slot, pin1 } => self
                .task(Task::TestLogin, |runner, card| {
                    tasks::log_in(card, &runner.ca, slot, pin1)
                }),
            WorkerCommand::ExportCertificate { id, path } => {
                self.task(Task::Export, |_, card| tasks::export(card, &id, path))
            }
            WorkerCommand::FetchList { pin1 } => self.task(Task::FetchList, |runner, card| {
                let list = tasks::fetch_list(card, &runner.ca, pin1)?;
                runner.existing = list.clone();
                Ok(TaskOutcome::Existing(list))
            }),
            WorkerCommand::PukLookup {
                pin1,
                customer,
                customer_cert,
                customer_serial,
                reason,
                anchors,
            } => self.task(Task::PukLookup, |runner, card| {
                tasks::puk_lookup(
                    card,
                    &runner.ca,
                    pin1,
                    &crate::workflow::puk_lookup::Customer {
                        hsa_id: &customer,
                        certificate: &customer_cert,
                        serial: &customer_serial,
                    },
                    &reason,
                    &anchors,
                )
            }),
            WorkerCommand::FetchWrite { profiles } => self
                .task(Task::FetchWrite, |runner, card| {
                    tasks::fetch_write(card, &mut runner.existing, &profiles)
                }),
            WorkerCommand::Quit => {}
        }
    }

    /// Busy, the task, Finished, and the card as it is afterwards.
    fn task(
        &mut self,
        task: Task,
        body: impl FnOnce(&mut Runner, &SharedCard) -> Result<TaskOutcome, Failure>,
    ) {
        self.emit(Event::Busy(task));
        // A cancel pressed for an earlier job (or after it ended) must not stop this one.
        self.cancel.reset();
        let outcome = match self.card.clone() {
            Some(card) => {
                let outcome = body(self, &card).unwrap_or_else(TaskOutcome::Failed);
                // No card stays logged in after a task.
                if let Err(e) = crate::card::lock(&card).end_session() {
                    log::warn!("could not log out of the card: {e}");
                }
                outcome
            }
            None => TaskOutcome::Failed(Failure::NoCard),
        };
        self.emit(Event::Finished(task, outcome));
        self.refresh(false);
    }

    fn demo_card(&mut self, action: DemoAction) {
        let shared = match &self.source {
            CardFeed::Demo(Some(world)) => world.card.clone(),
            CardFeed::Seat(card) => card.clone(),
            _ => return,
        };
        {
            let mut card = virtual_card::lock_virtual_card(&shared);
            match action {
                DemoAction::Pull => card.pull(),
                DemoAction::Insert if !card.is_present() => card.insert(),
                // Already in: pushing it in again changes nothing.
                DemoAction::Insert => {}
            }
        }
        self.refresh(action == DemoAction::Insert);
    }
}
