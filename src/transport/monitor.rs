//! Live reader and card events, so the GUI can follow a card being inserted or pulled without
//! polling, and survive pcscd being stopped or restarted underneath it.
//!
//! One thread with its own PC/SC context blocks in `SCardGetStatusChange` (infinite timeout) on
//! every reader plus the PnP pseudo-reader. [`ReaderMonitor::stop`] wakes it with
//! `SCardCancel` from the caller's thread. While pcscd is down the thread retries establishing a
//! context every [`SERVICE_RETRY`], parked, so stopping stays immediate.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use pcsc::{Context, ReaderState, Scope, State};

use super::TransportError;
use super::pcsc::is_dead_context;

/// How often to try reaching pcscd again while it is down.
pub const SERVICE_RETRY: Duration = Duration::from_millis(500);

/// Something the user would see change: a reader, a card, or the smart card service itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A reader appeared (also sent for each reader present when the monitor starts).
    ReaderAdded(String),
    /// Preceded by `CardRemoved` if the reader had a card.
    ReaderRemoved(String),
    /// A card is ready in `reader`; the ATR lets the GUI tell a SITHS card from others at once.
    CardInserted { reader: String, atr: Vec<u8> },
    /// The card left `reader`; anything shown about it is stale.
    CardRemoved { reader: String },
    /// pcscd stopped (or was never running). All known cards and readers were reported removed
    /// just before this.
    ServiceDown,
    /// pcscd is reachable again after `ServiceDown`; reader and card events follow.
    ServiceUp,
}

/// Owns the monitor thread; dropping it stops the thread.
pub struct ReaderMonitor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    /// The context the thread is waiting on, so another thread can cancel the wait.
    context: Mutex<Option<Context>>,
}

impl ReaderMonitor {
    /// Start watching. The current readers and cards arrive first, as `ReaderAdded` and
    /// `CardInserted` events (or `ServiceDown` if pcscd is not running).
    pub fn start() -> Result<(ReaderMonitor, Receiver<ReaderEvent>), TransportError> {
        let (sender, receiver) = mpsc::channel();
        Ok((ReaderMonitor::start_with(sender)?, receiver))
    }

    /// Like [`ReaderMonitor::start`], sending into a channel the caller already has (for
    /// example one that also carries other messages to a GUI).
    pub fn start_with(sender: Sender<ReaderEvent>) -> Result<ReaderMonitor, TransportError> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            context: Mutex::new(None),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("reader-monitor".into())
            .spawn(move || Watcher::new(thread_shared, sender).run())
            .map_err(|e| TransportError::Other(format!("cannot start the reader monitor: {e}")))?;
        Ok(ReaderMonitor {
            shared,
            thread: Some(thread),
        })
    }

    /// Stop the thread and wait for it. No events are sent after this returns.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        // A cancel that lands just before the thread enters its wait is lost, so repeat it
        // until the thread has seen the stop flag.
        while !thread.is_finished() {
            if let Some(context) = self
                .shared
                .context
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
            {
                let _ = context.cancel();
            }
            thread.thread().unpark();
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = thread.join();
    }
}

impl Drop for ReaderMonitor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[derive(Default)]
struct Seen {
    card: bool,
    /// pcsc-lite's per-reader insert/remove counter; a jump while the card still looks present
    /// means it was swapped between two waits.
    event_count: Option<u32>,
}

/// Why the inner loop on one context ended.
enum Exit {
    Stopped,
    ServiceLost,
}

struct Watcher {
    shared: Arc<Shared>,
    sender: Sender<ReaderEvent>,
    /// Readers we reported, with what we last reported about their card.
    known: HashMap<String, Seen>,
    service_down_reported: bool,
}

impl Watcher {
    fn new(shared: Arc<Shared>, sender: Sender<ReaderEvent>) -> Self {
        Watcher {
            shared,
            sender,
            known: HashMap::new(),
            service_down_reported: false,
        }
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Returns false when nobody listens any more, which also ends the thread.
    fn send(&self, event: ReaderEvent) -> bool {
        self.sender.send(event).is_ok()
    }

    fn run(mut self) {
        while !self.stopping() {
            match Context::establish(Scope::User) {
                Ok(context) => {
                    *self
                        .shared
                        .context
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(context.clone());
                    if self.service_down_reported {
                        self.service_down_reported = false;
                        if !self.send(ReaderEvent::ServiceUp) {
                            return;
                        }
                    }
                    let exit = self.watch(&context);
                    *self
                        .shared
                        .context
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = None;
                    drop(context);
                    match exit {
                        Exit::Stopped => return,
                        Exit::ServiceLost => {
                            if !self.report_service_down() {
                                return;
                            }
                        }
                    }
                }
                Err(_) => {
                    if !self.report_service_down() {
                        return;
                    }
                    std::thread::park_timeout(SERVICE_RETRY);
                }
            }
        }
    }

    fn report_service_down(&mut self) -> bool {
        if self.service_down_reported {
            return true;
        }
        let mut names: Vec<String> = self.known.keys().cloned().collect();
        names.sort();
        for name in names {
            if !self.forget_reader(&name) {
                return false;
            }
        }
        self.service_down_reported = true;
        self.send(ReaderEvent::ServiceDown)
    }

    fn forget_reader(&mut self, name: &str) -> bool {
        if self.known.remove(name).is_some_and(|seen| seen.card)
            && !self.send(ReaderEvent::CardRemoved {
                reader: name.to_owned(),
            })
        {
            return false;
        }
        self.send(ReaderEvent::ReaderRemoved(name.to_owned()))
    }

    /// Follow one context until pcscd goes away or we are told to stop.
    fn watch(&mut self, context: &Context) -> Exit {
        let mut states: Vec<ReaderState> =
            vec![ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE)];
        loop {
            if self.stopping() {
                return Exit::Stopped;
            }
            let names = match context.list_readers_owned() {
                Ok(names) => names,
                Err(e) if is_dead_context(e) => return Exit::ServiceLost,
                Err(_) => {
                    // Unknown trouble: do not spin on it.
                    std::thread::park_timeout(SERVICE_RETRY);
                    continue;
                }
            };
            if !self.sync_readers(&names, &mut states) {
                return Exit::Stopped;
            }
            for state in states.iter_mut() {
                state.sync_current_state();
            }
            match context.get_status_change(None, &mut states) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(pcsc::Error::Cancelled) => continue,
                // A reader vanished between listing and waiting: list again.
                Err(pcsc::Error::UnknownReader) => continue,
                Err(e) if is_dead_context(e) => return Exit::ServiceLost,
                Err(_) => {
                    std::thread::park_timeout(SERVICE_RETRY);
                    continue;
                }
            }
            if !self.report_cards(&states) {
                return Exit::Stopped;
            }
        }
    }

    /// Bring `states` (PnP entry first) and `known` in line with the reader list, reporting
    /// readers that came and went.
    fn sync_readers(&mut self, names: &[CString], states: &mut Vec<ReaderState>) -> bool {
        let current: Vec<String> = names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        let mut gone: Vec<String> = self
            .known
            .keys()
            .filter(|k| !current.contains(k))
            .cloned()
            .collect();
        gone.sort();
        for name in &gone {
            if !self.forget_reader(name) {
                return false;
            }
        }
        let mut index = 1;
        while index < states.len() {
            let name = states[index].name().to_string_lossy().into_owned();
            if current.contains(&name) {
                index += 1;
            } else {
                states.remove(index);
            }
        }
        for (name, name_c) in current.iter().zip(names) {
            if !self.known.contains_key(name) {
                self.known.insert(name.clone(), Seen::default());
                if !self.send(ReaderEvent::ReaderAdded(name.clone())) {
                    return false;
                }
                states.push(ReaderState::new(name_c.clone(), State::UNAWARE));
            }
        }
        true
    }

    fn report_cards(&mut self, states: &[ReaderState]) -> bool {
        for state in states.iter().skip(1) {
            let name = state.name().to_string_lossy().into_owned();
            let event = state.event_state();
            let present = event.contains(State::PRESENT) && !event.contains(State::MUTE);
            let count = state.event_count();
            let Some(seen) = self.known.get_mut(&name) else {
                continue;
            };
            let swapped = seen.card && present && seen.event_count.is_some_and(|c| c != count);
            let was_present = seen.card;
            seen.card = present;
            seen.event_count = Some(count);
            if (was_present && !present) || swapped {
                let sent = self.send(ReaderEvent::CardRemoved {
                    reader: name.clone(),
                });
                if !sent {
                    return false;
                }
            }
            if (present && !was_present) || swapped {
                let sent = self.send(ReaderEvent::CardInserted {
                    reader: name,
                    atr: state.atr().to_vec(),
                });
                if !sent {
                    return false;
                }
            }
        }
        true
    }
}
