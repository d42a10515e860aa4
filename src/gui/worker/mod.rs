//! The worker thread: it alone touches PC/SC, the card, the CA and files, so the window never
//! waits on a card that takes seconds to generate a key.
//!
//! The window sends [`WorkerCommand`]s with [`Worker::send`] and drains [`Event`]s with
//! [`Worker::try_recv`]; every event wakes the window through the [`Notifier`], so an idle window
//! repaints never and costs no CPU.
//!
//! - [`runner`]: the thread's loop, one input channel for commands and reader events.
//! - [`card_source`]: finding and reading the card (pcscd readers or the demo's virtual card).
//! - [`tasks`]: one function per card task, returning the
//!   [`TaskOutcome`](crate::gui::protocol::TaskOutcome) the window shows.

mod card_source;
mod runner;
mod tasks;

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::card::CardError;
use crate::gui::demo::DemoWorld;
use crate::gui::protocol::{CaSettings, CardStatus, Event, WorkerCommand};
use crate::transport::TransportError;
use crate::transport::monitor::ReaderEvent;

/// Wakes the window when an event is sent (egui repaints on events only: zero CPU when idle).
#[derive(Clone, Default)]
pub struct Notifier(Arc<Mutex<Option<egui::Context>>>);

impl Notifier {
    /// The window calls this every frame; it is cheap and makes the worker able to wake it.
    pub fn attach(&self, ctx: &egui::Context) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(ctx.clone());
        }
    }

    /// Ask the window to repaint, if one is attached (tests run without one).
    pub fn notify(&self) {
        if let Some(ctx) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            ctx.request_repaint();
        }
    }
}

/// Where the card and the CA come from.
// Made once per window; boxing the demo would only make the callers' code noisier.
#[allow(clippy::large_enum_variant)]
pub enum Mode {
    /// Real readers through pcscd; `reader` None = first reader with a card.
    Pcsc {
        reader: Option<String>,
        ca: CaSettings,
    },
    /// The desk's customer card: like `Pcsc`, but never from the operator's reader, so the
    /// operator's own card is never taken for the customer's.
    DeskCustomer {
        reader: Option<String>,
        operator_reader: Option<String>,
        ca: CaSettings,
    },
    /// A card through a PKCS#11 module (the card's middleware): a path or a known name
    /// (`crate::pkcs11::discovery`); `token` None = the first token the module shows.
    Pkcs11 {
        module: String,
        token: Option<String>,
        ca: CaSettings,
    },
    /// In-process virtual card + CA mock on loopback. None: the worker prepares a [`DemoWorld`]
    /// itself in its thread (`Environment(DemoPreparing)` first, then `Demo{..}` or
    /// `DemoFailed`). Some: tests and the desk demo prepare it up front (tests keep a clone of
    /// its card to pull it). Only the window's own demo (None) watches the real readers to
    /// offer a card inserted during it: a prepared world belongs to a test or the desk, and a
    /// PC/SC context made by it would fix the PC/SC socket of the whole process.
    Demo(Option<DemoWorld>),
    /// Another card of a running demo (the desk's operator card), served in-process; the CA is
    /// the demo's.
    Seat {
        seat: crate::gui::demo::DemoSeat,
        ca: CaSettings,
    },
}

impl Mode {
    /// The holder's own card: through the PKCS#11 module the settings name, else PC/SC. One
    /// place for the window's start and its switch back from the demo.
    pub fn readers(settings: &crate::gui::settings::Settings) -> Mode {
        let ca = CaSettings {
            url: settings.ca_url.clone(),
            root_pem: settings.ca_root.clone(),
        };
        match &settings.pkcs11_module {
            Some(module) => Mode::Pkcs11 {
                module: module.clone(),
                token: settings.reader.clone(),
                ca,
            },
            None => Mode::Pcsc {
                reader: settings.reader.clone(),
                ca,
            },
        }
    }
}

/// What reaches the worker thread: the window's commands and the reader monitor's events, in
/// one channel so the thread blocks in one place and never polls.
pub(crate) enum Input {
    Command(WorkerCommand),
    Reader(ReaderEvent),
}

/// Sends events in order and wakes the window after each.
#[derive(Clone)]
pub(crate) struct Events {
    tx: Sender<Event>,
    notifier: Notifier,
}

impl Events {
    pub(crate) fn send(&self, event: Event) {
        // The window is gone: nobody to tell, and the thread ends on its Quit.
        let _ = self.tx.send(event);
        self.notifier.notify();
    }
}

/// The window's handle on the worker thread. Dropping it stops the thread.
pub struct Worker {
    tx: Sender<Input>,
    rx: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
    /// Shared with the worker thread: the window sets it while the worker is deep in a job and
    /// reads no commands.
    cancel: crate::workflow::progress::Cancel,
}

impl Worker {
    /// Start the thread; its first events say where the app runs and what card it sees.
    pub fn spawn(mode: Mode, notifier: Notifier) -> Worker {
        let (tx, input) = mpsc::channel();
        let (event_tx, rx) = mpsc::channel();
        let events = Events {
            tx: event_tx,
            notifier,
        };
        let thread_events = events.clone();
        let thread_tx = tx.clone();
        let cancel = crate::workflow::progress::Cancel::default();
        let thread_cancel = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("siths-worker".into())
            .spawn(move || runner::run(mode, input, thread_tx, thread_events, thread_cancel));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                // The window must still say something rather than wait for ever.
                events.send(Event::Card(CardStatus::Unreadable(CardError::Transport(
                    TransportError::Other(format!("cannot start the card worker: {e}")),
                ))));
                None
            }
        };
        Worker {
            tx,
            rx,
            thread,
            cancel,
        }
    }

    /// Stop the running upgrade or renewal at its next step boundary (the card is then in a
    /// state a later run resumes from); the job ends with `WorkflowError::Cancelled`.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Never blocks and never panics; a command to a stopped worker is dropped.
    pub fn send(&self, command: WorkerCommand) {
        let _ = self.tx.send(Input::Command(command));
    }

    /// The next event, if any; the window drains these every frame.
    pub fn try_recv(&self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// Wait up to `timeout` for the next event (tests and tools driving the worker without a
    /// window). None when the time passed or the worker stopped.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.tx.send(Input::Command(WorkerCommand::Quit));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
