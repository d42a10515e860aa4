//! The virtual card in its reader: the card OS ([`CardOs`]) plus what happens around it,
//! fault injection (pull after N commands, slow answers, a card's pace) and the counters the
//! tests and benchmarks read. Keeping these outside the card OS lets the OS answer only
//! commands.

use std::path::Path;
use std::time::Duration;

use super::card_os::CardOs;
use super::pace::{Clock, Pace, PaceSpent};
use super::state::{CardState, StateError};

/// The card left the reader (fault injection): the command was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the virtual card was pulled from the reader")]
pub struct CardPulled;

/// The virtual SITHS card in its reader: the card OS (state, optionally backed by a file, and
/// session) with fault injection (pull after N commands, answer slowly) for the tests that pull
/// the card at every step of every workflow.
pub struct VirtualCard {
    os: CardOs,
    present: bool,
    pull_countdown: Option<u32>,
    delay: Duration,
    /// How fast the card answers ([`Pace`]); the default answers at once.
    clock: Clock,
    commands: u64,
    command_bytes: u64,
    response_bytes: u64,
    insertions: u64,
}

impl std::fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualCard")
            .field("state", &self.os.state)
            .field("path", &self.os.path)
            .field("present", &self.present)
            .field("commands", &self.commands)
            .finish()
    }
}

impl VirtualCard {
    /// A card that lives in memory only (tests).
    pub fn new(state: CardState) -> Self {
        VirtualCard {
            os: CardOs::new(state),
            present: true,
            pull_countdown: None,
            delay: Duration::ZERO,
            clock: Clock::new(Pace::Fast),
            commands: 0,
            command_bytes: 0,
            response_bytes: 0,
            insertions: 0,
        }
    }

    /// Write a new card file and serve it. Refuses to overwrite an existing card.
    pub fn create(path: impl AsRef<Path>, state: CardState) -> Result<Self, StateError> {
        let path = path.as_ref();
        state.validate().map_err(StateError::Invalid)?;
        if path.exists() {
            return Err(StateError::AlreadyExists(path.to_path_buf()));
        }
        state.save_atomic(path)?;
        let mut card = VirtualCard::new(state);
        card.os.path = Some(path.to_path_buf());
        Ok(card)
    }

    /// Load a card from its file; every later change is saved back to it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StateError> {
        let path = path.as_ref();
        let state = CardState::load(path)?;
        let mut card = VirtualCard::new(state);
        card.os.path = Some(path.to_path_buf());
        Ok(card)
    }

    pub fn atr(&self) -> &[u8] {
        self.os.state.atr()
    }

    pub fn state(&self) -> &CardState {
        &self.os.state
    }

    /// The file the card is saved to, if any.
    pub fn path(&self) -> Option<&Path> {
        self.os.path.as_deref()
    }

    /// Commands answered since the card was made, so a test can pull the card at each of them.
    pub fn command_count(&self) -> u64 {
        self.commands
    }

    /// Bytes of the commands answered since the card was made, so a benchmark can compare
    /// what different clients (ours, OpenSC) cost the card.
    pub fn command_bytes(&self) -> u64 {
        self.command_bytes
    }

    /// Bytes of the responses given (data and status word), counted like [`Self::command_bytes`].
    pub fn response_bytes(&self) -> u64 {
        self.response_bytes
    }

    /// How many times the card was put back; a transport connected before a re-insertion
    /// sees the card as removed, as PC/SC does.
    pub fn insertions(&self) -> u64 {
        self.insertions
    }

    pub fn is_present(&self) -> bool {
        self.present
    }

    /// Fault injection: while on, every save of the card's state fails (a full disk, a read-only
    /// file system). The card then keeps its old state, except that a wrong code still counts.
    pub fn fail_saves(&mut self, on: bool) {
        self.os.fail_saves = on;
    }

    /// Answer every command after waiting this long ("answer slowly").
    pub fn set_delay(&mut self, delay: Duration) {
        self.delay = delay;
    }

    /// Answer at this [`Pace`] from now on: at a physical card's pace, every command also waits
    /// for its bytes on the wire, and key generations and signatures for the card's own time,
    /// drawn from the pace's seed (restarted by each call).
    pub fn set_pace(&mut self, pace: Pace) {
        self.clock = Clock::new(pace);
    }

    pub fn pace(&self) -> Pace {
        self.clock.pace()
    }

    /// Where the card's time went at its pace since [`Self::set_pace`] (all zero when fast).
    pub fn pace_spent(&self) -> PaceSpent {
        self.clock.spent()
    }

    /// Answer the next `n` commands, then pull the card: the (n+1)-th command is not applied.
    pub fn pull_after(&mut self, n: u32) {
        self.pull_countdown = Some(n);
    }

    /// Take the card out now.
    pub fn pull(&mut self) {
        self.present = false;
        self.pull_countdown = None;
        self.os.reset();
    }

    /// Put the card back: present, with a fresh session.
    pub fn insert(&mut self) {
        self.present = true;
        self.pull_countdown = None;
        self.os.reset();
        self.insertions += 1;
    }

    /// Warm reset: the session is forgotten, the state stays.
    pub fn reset(&mut self) {
        self.os.reset();
    }

    /// Answer one command APDU. Any bytes get an answer; only a pulled card gives none. Waits
    /// as long as the card takes (the delay and the pace) before returning.
    pub fn respond(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardPulled> {
        let (answer, busy) = self.respond_timed(apdu)?;
        if !busy.is_zero() {
            std::thread::sleep(busy);
        }
        Ok(answer)
    }

    /// Answer one command APDU at once, and say how long the card is still busy with it (the
    /// delay, plus the pace's time less what answering took here): a door that can wait without holding the card's lock
    /// (vpcd) waits itself, so tests and other threads are not held up longer than the card
    /// is busy.
    pub fn respond_timed(&mut self, apdu: &[u8]) -> Result<(Vec<u8>, Duration), CardPulled> {
        if !self.present {
            return Err(CardPulled);
        }
        if let Some(n) = self.pull_countdown {
            if n == 0 {
                log::info!("virtual card: pulled (fault injection)");
                self.pull();
                return Err(CardPulled);
            }
            self.pull_countdown = Some(n - 1);
        }
        self.commands += 1;
        let started = std::time::Instant::now();
        let response = self.os.process(apdu);
        self.command_bytes += apdu.len() as u64;
        self.response_bytes += response.len() as u64;
        // What the emulation itself took (an RSA key on this computer: tenths of a second)
        // counts towards the paced time, so the pace does not depend on the host's speed.
        let paced = self.clock.cost(apdu.len(), response.len(), self.os.work);
        let busy = self.delay + paced.saturating_sub(started.elapsed());
        Ok((response, busy))
    }
}
