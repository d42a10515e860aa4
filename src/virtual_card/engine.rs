//! The card engine: one `respond(command) -> response` over the persistent state and a session.
//!
//! The session is what a real card forgets on reset: the selected file, verified PINs, a
//! half-received command chain, answer bytes waiting for GET RESPONSE and the security
//! environment. Every change to persistent state is saved before the card answers, so a
//! killed process or a pulled card loses nothing that was acknowledged.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::apdu::{CLA_CHAINING, Command, MAX_SHORT_LE, StatusWord, ins};
use crate::layout;

use super::fs::{self, FileRef};
use super::keys;
use super::pace::{Clock, Pace, PaceSpent, Work};
use super::pins::{self, PinOutcome};
use super::state::{CardState, StateError};

const SW_OK: u16 = StatusWord::Ok.to_u16();
const SW_END_REACHED: u16 = StatusWord::EndOfFile.to_u16();
const SW_MEMORY_FAILURE: u16 = StatusWord::MemoryFailure.to_u16();
const SW_WRONG_LENGTH: u16 = StatusWord::WrongLength.to_u16();
const SW_CHAINING_UNSUPPORTED: u16 = StatusWord::ChainingNotSupported.to_u16();
const SW_SECURITY: u16 = StatusWord::SecurityStatusNotSatisfied.to_u16();
const SW_DEAD: u16 = StatusWord::ReferenceDataNotUsable.to_u16();
const SW_CONDITIONS: u16 = StatusWord::ConditionsNotSatisfied.to_u16();
const SW_NO_CURRENT_EF: u16 = StatusWord::CommandNotAllowed.to_u16();
const SW_WRONG_DATA: u16 = StatusWord::WrongData.to_u16();
const SW_NOT_ENOUGH_MEMORY: u16 = StatusWord::NotEnoughMemory.to_u16();
const SW_BAD_P1P2: u16 = StatusWord::IncorrectP1P2.to_u16();
const SW_REF_NOT_FOUND: u16 = StatusWord::ReferenceNotFound.to_u16();
const SW_OFFSET_OUTSIDE: u16 = StatusWord::WrongP1P2.to_u16();
const SW_INS_UNSUPPORTED: u16 = StatusWord::InsNotSupported.to_u16();
const SW_CLA_UNSUPPORTED: u16 = StatusWord::ClaNotSupported.to_u16();
const SW_NO_DIAGNOSIS: u16 = StatusWord::Unknown.to_u16();

/// The card left the reader (fault injection): the command was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the virtual card was pulled from the reader")]
pub struct CardPulled;

/// Links of a chained UPDATE BINARY received so far; applied only with the last link.
struct Chain {
    ins: u8,
    p1: u8,
    p2: u8,
    data: Vec<u8>,
}

/// What the card forgets on reset.
struct Session {
    current: FileRef,
    verified: BTreeSet<u8>,
    chain: Option<Chain>,
    pending: Vec<u8>,
    /// (algorithm, key slot) set by MSE SET.
    security_env: Option<(u8, u8)>,
}

impl Session {
    fn new() -> Self {
        Session {
            current: FileRef::Df(layout::FID_MF),
            verified: BTreeSet::new(),
            chain: None,
            pending: Vec::new(),
            security_env: None,
        }
    }
}

struct Reply {
    data: Vec<u8>,
    sw: u16,
}

impl Reply {
    fn sw(sw: u16) -> Self {
        Reply {
            data: Vec::new(),
            sw,
        }
    }

    fn ok(data: Vec<u8>) -> Self {
        Reply { data, sw: SW_OK }
    }
}

/// The virtual SITHS card: persistent state (optionally backed by a file), a session, and
/// fault injection (pull after N commands, answer slowly) for the tests that pull the card at
/// every step of every workflow.
pub struct VirtualCard {
    state: CardState,
    path: Option<PathBuf>,
    session: Session,
    present: bool,
    pull_countdown: Option<u32>,
    delay: Duration,
    /// How fast the card answers ([`Pace`]); the default answers at once.
    clock: Clock,
    /// What the command being answered made the card do, for the clock.
    work: Work,
    /// Fault injection: every save fails, as on a full disk or a read-only file system.
    fail_saves: bool,
    /// A wrong code was counted in memory but could not be saved: PIN commands are refused
    /// until the count is on disk, so a failing disk never buys unlimited tries.
    unsaved_tries: bool,
    commands: u64,
    command_bytes: u64,
    response_bytes: u64,
    insertions: u64,
}

impl std::fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualCard")
            .field("state", &self.state)
            .field("path", &self.path)
            .field("present", &self.present)
            .field("commands", &self.commands)
            .finish()
    }
}

impl VirtualCard {
    /// A card that lives in memory only (tests).
    pub fn new(state: CardState) -> Self {
        VirtualCard {
            state,
            path: None,
            session: Session::new(),
            present: true,
            pull_countdown: None,
            delay: Duration::ZERO,
            clock: Clock::new(Pace::Fast),
            work: Work::Plain,
            fail_saves: false,
            unsaved_tries: false,
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
        card.path = Some(path.to_path_buf());
        Ok(card)
    }

    /// Load a card from its file; every later change is saved back to it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StateError> {
        let path = path.as_ref();
        let state = CardState::load(path)?;
        let mut card = VirtualCard::new(state);
        card.path = Some(path.to_path_buf());
        Ok(card)
    }

    pub fn atr(&self) -> &[u8] {
        self.state.atr()
    }

    pub fn state(&self) -> &CardState {
        &self.state
    }

    /// The file the card is saved to, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
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
        self.fail_saves = on;
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
        self.session = Session::new();
    }

    /// Put the card back: present, with a fresh session.
    pub fn insert(&mut self) {
        self.present = true;
        self.pull_countdown = None;
        self.session = Session::new();
        self.insertions += 1;
    }

    /// Warm reset: the session is forgotten, the state stays.
    pub fn reset(&mut self) {
        self.session = Session::new();
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
        self.work = Work::Plain;
        let started = std::time::Instant::now();
        let response = self.process(apdu);
        self.command_bytes += apdu.len() as u64;
        self.response_bytes += response.len() as u64;
        // What the emulation itself took (an RSA key on this computer: tenths of a second)
        // counts towards the paced time, so the pace does not depend on the host's speed.
        let paced = self.clock.cost(apdu.len(), response.len(), self.work);
        let busy = self.delay + paced.saturating_sub(started.elapsed());
        Ok((response, busy))
    }

    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let cmd = match Command::parse(apdu) {
            Ok(cmd) => cmd,
            Err(_) => {
                self.session.chain = None;
                self.session.pending.clear();
                log::debug!("virtual card: malformed APDU of {} bytes", apdu.len());
                return SW_WRONG_LENGTH.to_be_bytes().to_vec();
            }
        };
        let is_get_response = cmd.cla == 0x00 && cmd.ins == ins::GET_RESPONSE;
        if !is_get_response {
            self.session.pending.clear();
        }
        // A chain continues only with the same INS P1 P2; anything else discards it.
        if let Some(chain) = &self.session.chain {
            let continues = (cmd.cla == 0x00 || cmd.cla == CLA_CHAINING)
                && (cmd.ins, cmd.p1, cmd.p2) == (chain.ins, chain.p1, chain.p2);
            if !continues {
                log::debug!("virtual card: command chain interrupted, discarded");
                self.session.chain = None;
            }
        }
        let reply = match cmd.cla {
            0x00 => self.dispatch(&cmd),
            CLA_CHAINING if cmd.ins == ins::UPDATE_BINARY => self.update_binary(&cmd),
            CLA_CHAINING => Reply::sw(SW_CHAINING_UNSUPPORTED),
            0x80 if cmd.ins == ins::DELETE_KEY => self.delete_key(&cmd),
            0x80 => Reply::sw(SW_INS_UNSUPPORTED),
            _ => Reply::sw(SW_CLA_UNSUPPORTED),
        };
        // Headers and status only: command data may be a PIN.
        log::debug!(
            "virtual card: {:02X} {:02X} {:02X} {:02X} ({} bytes) -> {} bytes {:04X}",
            cmd.cla,
            cmd.ins,
            cmd.p1,
            cmd.p2,
            cmd.data.len(),
            reply.data.len(),
            reply.sw
        );
        self.finish(reply, cmd.le)
    }

    /// Cut an answer longer than Le; the rest waits for GET RESPONSE behind `61xx`.
    fn finish(&mut self, reply: Reply, le: Option<usize>) -> Vec<u8> {
        let Reply { mut data, sw } = reply;
        let limit = le.unwrap_or(0);
        if data.len() <= limit {
            data.extend_from_slice(&sw.to_be_bytes());
            return data;
        }
        self.session.pending = data.split_off(limit);
        data.extend_from_slice(&more_data_sw(self.session.pending.len()).to_be_bytes());
        data
    }

    fn dispatch(&mut self, cmd: &Command) -> Reply {
        match cmd.ins {
            ins::SELECT => self.select(cmd),
            ins::READ_BINARY => self.read_binary(cmd),
            ins::UPDATE_BINARY => self.update_binary(cmd),
            ins::ERASE_BINARY => self.erase_binary(cmd),
            ins::VERIFY | ins::CHANGE_REFERENCE_DATA | ins::RESET_RETRY_COUNTER => {
                self.pin_command(cmd)
            }
            ins::GENERATE_ASYMMETRIC_KEY_PAIR => self.generate(cmd),
            ins::MANAGE_SECURITY_ENVIRONMENT => self.mse(cmd),
            ins::PERFORM_SECURITY_OPERATION => self.pso(cmd),
            ins::GET_RESPONSE => self.get_response(cmd),
            ins::GET_DATA => self.get_data(cmd),
            _ => Reply::sw(SW_INS_UNSUPPORTED),
        }
    }

    /// Make `next` the card's state, saving it first; on a failed save the card keeps its old
    /// state and answers "memory failure".
    fn commit(&mut self, next: CardState) -> Result<(), u16> {
        self.save(&next)?;
        self.state = next;
        Ok(())
    }

    fn save(&self, state: &CardState) -> Result<(), u16> {
        if let Some(path) = &self.path {
            if self.fail_saves {
                log::error!(
                    "virtual card: saving {} failed (fault injection)",
                    path.display()
                );
                return Err(SW_MEMORY_FAILURE);
            }
            if let Err(e) = state.save_atomic(path) {
                log::error!("virtual card: {e}");
                return Err(SW_MEMORY_FAILURE);
            }
        }
        Ok(())
    }

    fn verified(&self, reference: u8) -> bool {
        self.session.verified.contains(&reference)
    }

    fn select(&mut self, cmd: &Command) -> Reply {
        let answer = match cmd.p2 {
            0x00 | 0x04 | 0x0C => cmd.p2,
            _ => return Reply::sw(SW_BAD_P1P2),
        };
        let current = self.session.current.df();
        let file = match fs::select(&self.state, current, cmd.p1, &cmd.data) {
            Ok(file) => file,
            Err(sw) => return Reply::sw(sw),
        };
        self.session.current = file;
        // No Le means no answer data expected (case 3), as OpenSC sends SELECT by AID.
        if cmd.le.is_none() {
            return Reply::sw(SW_OK);
        }
        match answer {
            0x00 => fs::fci(&self.state, file).map_or(Reply::sw(SW_NO_DIAGNOSIS), Reply::ok),
            0x04 => fs::fcp(&self.state, file).map_or(Reply::sw(SW_NO_DIAGNOSIS), Reply::ok),
            _ => Reply::sw(SW_OK),
        }
    }

    /// The EF and offset a binary command addresses: P1 bit 8 set means P1 carries a short EF
    /// identifier (which also selects the EF) and P2 the offset; else P1P2 is a 15-bit offset
    /// in the current EF.
    fn binary_target(&mut self, p1: u8, p2: u8) -> Result<(u16, u16, usize), u16> {
        if p1 & 0x80 != 0 {
            let sfi = p1 & 0x1F;
            if p1 & 0x60 != 0 || sfi == 0 || sfi == 0x1F {
                return Err(SW_BAD_P1P2);
            }
            let df = self.session.current.df();
            let fid = self
                .state
                .df(df)
                .and_then(|d| d.ef_by_sfi(sfi))
                .map(|e| e.fid)
                .ok_or(fs::SW_FILE_NOT_FOUND)?;
            self.session.current = FileRef::Ef { df, fid };
            return Ok((df, fid, usize::from(p2)));
        }
        match self.session.current {
            FileRef::Ef { df, fid } => Ok((df, fid, usize::from(u16::from_be_bytes([p1, p2])))),
            FileRef::Df(_) => Err(SW_NO_CURRENT_EF),
        }
    }

    fn read_binary(&mut self, cmd: &Command) -> Reply {
        let Some(le) = cmd.le else {
            return Reply::sw(SW_WRONG_LENGTH);
        };
        if !cmd.data.is_empty() {
            return Reply::sw(SW_WRONG_LENGTH);
        }
        let (df, fid, offset) = match self.binary_target(cmd.p1, cmd.p2) {
            Ok(t) => t,
            Err(sw) => return Reply::sw(sw),
        };
        let content = self.state.ef_content(df, fid).unwrap_or(&[]);
        let Some(rest) = content.get(offset..) else {
            return Reply::sw(SW_OFFSET_OUTSIDE);
        };
        // Fewer bytes than asked: `6282` lets OpenSC's iso7816_read_binary stop without
        // another READ BINARY; none left at all is a plain empty answer, which ends its loop.
        if rest.is_empty() {
            return Reply::sw(SW_OK);
        }
        if rest.len() < le {
            return Reply {
                data: rest.to_vec(),
                sw: SW_END_REACHED,
            };
        }
        Reply::ok(rest[..le].to_vec())
    }

    /// Refusals shared by every write: a dead card, or PIN1 not verified in this session.
    fn write_refusal(&self) -> Option<u16> {
        if self.state.is_dead() {
            Some(SW_DEAD)
        } else if !self.verified(layout::PIN1_REF) {
            Some(SW_SECURITY)
        } else {
            None
        }
    }

    fn update_binary(&mut self, cmd: &Command) -> Reply {
        // The chain so far (already checked to match this link) is taken out; it goes back
        // only if this link is accepted and more are to come.
        let so_far = self.session.chain.take();
        if cmd.data.is_empty() {
            return Reply::sw(SW_WRONG_LENGTH);
        }
        if let Some(sw) = self.write_refusal() {
            return Reply::sw(sw);
        }
        let (df, fid, offset) = match self.binary_target(cmd.p1, cmd.p2) {
            Ok(t) => t,
            Err(sw) => return Reply::sw(sw),
        };
        let Some(ef) = self.state.df(df).and_then(|d| d.ef(fid)) else {
            return Reply::sw(fs::SW_FILE_NOT_FOUND);
        };
        let mut data = so_far.map(|c| c.data).unwrap_or_default();
        data.extend_from_slice(&cmd.data);
        if offset > ef.content.len() {
            return Reply::sw(SW_OFFSET_OUTSIDE);
        }
        if offset + data.len() > ef.capacity {
            return Reply::sw(SW_NOT_ENOUGH_MEMORY);
        }
        if cmd.cla == CLA_CHAINING {
            self.session.chain = Some(Chain {
                ins: cmd.ins,
                p1: cmd.p1,
                p2: cmd.p2,
                data,
            });
            return Reply::sw(SW_OK);
        }
        let mut next = self.state.clone();
        if let Some(ef) = next.df_mut(df).and_then(|d| d.ef_mut(fid)) {
            let end = offset + data.len();
            if ef.content.len() < end {
                ef.content.resize(end, 0);
            }
            ef.content[offset..end].copy_from_slice(&data);
        }
        match self.commit(next) {
            Ok(()) => Reply::sw(SW_OK),
            Err(sw) => Reply::sw(sw),
        }
    }

    /// ERASE BINARY [ours]: the EF ends at the offset, so a shorter file can be written.
    fn erase_binary(&mut self, cmd: &Command) -> Reply {
        if !cmd.data.is_empty() {
            return Reply::sw(SW_WRONG_LENGTH);
        }
        if let Some(sw) = self.write_refusal() {
            return Reply::sw(sw);
        }
        let (df, fid, offset) = match self.binary_target(cmd.p1, cmd.p2) {
            Ok(t) => t,
            Err(sw) => return Reply::sw(sw),
        };
        let len = self.state.ef_content(df, fid).map_or(0, <[u8]>::len);
        if offset > len {
            return Reply::sw(SW_OFFSET_OUTSIDE);
        }
        if offset == len {
            return Reply::sw(SW_OK);
        }
        let mut next = self.state.clone();
        if let Some(ef) = next.df_mut(df).and_then(|d| d.ef_mut(fid)) {
            ef.content.truncate(offset);
        }
        match self.commit(next) {
            Ok(()) => Reply::sw(SW_OK),
            Err(sw) => Reply::sw(sw),
        }
    }

    fn pin_command(&mut self, cmd: &Command) -> Reply {
        // VERIFY with P1 'FF' and no data resets the reference's verification status
        // (ISO/IEC 7816-4 11.5.6): how a host logs out at the end of a task.
        if cmd.ins == ins::VERIFY && cmd.p1 == 0xFF && cmd.data.is_empty() {
            self.session.verified.remove(&cmd.p2);
            return Reply::sw(SW_OK);
        }
        if cmd.p1 != 0x00 {
            return Reply::sw(SW_BAD_P1P2);
        }
        let reference = cmd.p2;
        // Fail closed: a try counted only in memory must reach the disk before any code is
        // compared again (a status query without data still answers, from memory).
        let compares = !(cmd.ins == ins::VERIFY && cmd.data.is_empty());
        if self.unsaved_tries && compares {
            if let Err(sw) = self.save(&self.state) {
                self.session.verified.clear();
                return Reply::sw(sw);
            }
            self.unsaved_tries = false;
        }
        let mut next = self.state.clone();
        let outcome: PinOutcome = match cmd.ins {
            ins::VERIFY => pins::verify(&mut next, reference, &cmd.data, self.verified(reference)),
            ins::CHANGE_REFERENCE_DATA => pins::change(&mut next, reference, &cmd.data),
            _ => pins::unblock(&mut next, reference, &cmd.data),
        };
        if outcome.changed {
            let spent_a_try = outcome.sw != SW_OK;
            if let Err(sw) = self.save(&next) {
                if spent_a_try {
                    // The wrong code counts even though the disk failed; a code whose check
                    // succeeded only loses its effect (the old state stays).
                    self.state = next;
                    self.unsaved_tries = true;
                    self.session.verified.remove(&reference);
                }
                return Reply::sw(sw);
            }
            self.state = next;
        }
        match outcome.verified {
            Some(true) => {
                self.session.verified.insert(reference);
            }
            Some(false) => {
                self.session.verified.remove(&reference);
            }
            None => {}
        }
        Reply::sw(outcome.sw)
    }

    fn generate(&mut self, cmd: &Command) -> Reply {
        if cmd.p1 != 0x80 && cmd.p1 != 0x81 {
            return Reply::sw(SW_BAD_P1P2);
        }
        let slot = cmd.p2;
        if !layout::KEY_SLOTS.contains(&slot) {
            return Reply::sw(SW_BAD_P1P2);
        }
        if !cmd.data.is_empty() {
            return Reply::sw(SW_WRONG_LENGTH);
        }
        if cmd.p1 == 0x81 {
            let Some(der) = self.state.key_der(slot) else {
                return Reply::sw(SW_REF_NOT_FOUND);
            };
            return match keys::load(der) {
                Ok(key) => Reply::ok(keys::public_key_template(&key.to_public_key())),
                Err(e) => {
                    log::error!("virtual card: slot {slot}: {e}");
                    Reply::sw(SW_NO_DIAGNOSIS)
                }
            };
        }
        if let Some(sw) = self.write_refusal() {
            return Reply::sw(sw);
        }
        if self.state.key_der(slot).is_some() {
            // Nothing is destroyed silently: delete the old key first.
            return Reply::sw(SW_CONDITIONS);
        }
        self.work = Work::KeyGeneration;
        let made = keys::generate().and_then(|der| keys::load(&der).map(|key| (der, key)));
        let (der, key) = match made {
            Ok(pair) => pair,
            Err(e) => {
                log::error!("virtual card: {e}");
                return Reply::sw(SW_NO_DIAGNOSIS);
            }
        };
        let mut next = self.state.clone();
        next.store_key(slot, der.to_vec());
        match self.commit(next) {
            Ok(()) => {
                log::info!("virtual card: generated a key in slot {slot}");
                Reply::ok(keys::public_key_template(&key.to_public_key()))
            }
            Err(sw) => Reply::sw(sw),
        }
    }

    fn mse(&mut self, cmd: &Command) -> Reply {
        if (cmd.p1, cmd.p2) != (0x41, 0xB6) {
            return Reply::sw(SW_BAD_P1P2);
        }
        self.session.security_env = None;
        let Some((algorithm, slot)) = keys::parse_mse(&cmd.data) else {
            return Reply::sw(SW_WRONG_DATA);
        };
        if algorithm != layout::ALG_RSA_PKCS1_SHA256 && algorithm != layout::ALG_RSA_PSS_SHA256 {
            return Reply::sw(SW_WRONG_DATA);
        }
        if self.state.key_der(slot).is_none() {
            return Reply::sw(SW_REF_NOT_FOUND);
        }
        self.session.security_env = Some((algorithm, slot));
        Reply::sw(SW_OK)
    }

    fn pso(&mut self, cmd: &Command) -> Reply {
        if (cmd.p1, cmd.p2) != (0x9E, 0x9A) {
            return Reply::sw(SW_BAD_P1P2);
        }
        if cmd.data.len() != keys::HASH_LEN {
            return Reply::sw(SW_WRONG_LENGTH);
        }
        if self.state.is_dead() {
            return Reply::sw(SW_DEAD);
        }
        let Some((algorithm, slot)) = self.session.security_env else {
            return Reply::sw(SW_CONDITIONS);
        };
        let Some(der) = self.state.key_der(slot) else {
            return Reply::sw(SW_REF_NOT_FOUND);
        };
        let pin = layout::slot_pin(slot);
        if !self.verified(pin) {
            return Reply::sw(SW_SECURITY);
        }
        self.work = Work::Signature;
        let signature = keys::load(der).and_then(|key| keys::sign(&key, algorithm, &cmd.data));
        match signature {
            Ok(signature) => {
                // A signing key needs PIN2 right before each signature.
                if pin == layout::PIN2_REF {
                    self.session.verified.remove(&pin);
                }
                Reply::ok(signature)
            }
            Err(e) => {
                log::error!("virtual card: slot {slot}: {e}");
                Reply::sw(SW_NO_DIAGNOSIS)
            }
        }
    }

    fn get_response(&mut self, cmd: &Command) -> Reply {
        if (cmd.p1, cmd.p2) != (0x00, 0x00) {
            return Reply::sw(SW_BAD_P1P2);
        }
        if !cmd.data.is_empty() {
            return Reply::sw(SW_WRONG_LENGTH);
        }
        if self.session.pending.is_empty() {
            return Reply::sw(SW_CONDITIONS);
        }
        let le = cmd.le.unwrap_or(MAX_SHORT_LE);
        let n = le.min(self.session.pending.len());
        let data: Vec<u8> = self.session.pending.drain(..n).collect();
        let left = self.session.pending.len();
        Reply {
            data,
            sw: if left == 0 { SW_OK } else { more_data_sw(left) },
        }
    }

    fn get_data(&mut self, cmd: &Command) -> Reply {
        if u16::from_be_bytes([cmd.p1, cmd.p2]) != layout::TAG_CARD_SERIAL {
            return Reply::sw(SW_REF_NOT_FOUND);
        }
        if !cmd.data.is_empty() {
            return Reply::sw(SW_WRONG_LENGTH);
        }
        Reply::ok(self.state.serial().as_bytes().to_vec())
    }

    /// DELETE KEY [ours] (CLA 80): empties a slot so a new key can be made there.
    fn delete_key(&mut self, cmd: &Command) -> Reply {
        let slot = cmd.p2;
        if cmd.p1 != 0x00 || !layout::KEY_SLOTS.contains(&slot) {
            return Reply::sw(SW_BAD_P1P2);
        }
        if !cmd.data.is_empty() {
            return Reply::sw(SW_WRONG_LENGTH);
        }
        if let Some(sw) = self.write_refusal() {
            return Reply::sw(sw);
        }
        let mut next = self.state.clone();
        if !next.remove_key(slot) {
            return Reply::sw(SW_REF_NOT_FOUND);
        }
        match self.commit(next) {
            Ok(()) => {
                if self.session.security_env.is_some_and(|(_, s)| s == slot) {
                    self.session.security_env = None;
                }
                log::info!("virtual card: deleted the key in slot {slot}");
                Reply::sw(SW_OK)
            }
            Err(sw) => Reply::sw(sw),
        }
    }
}

/// `61xx`: `xx` bytes wait for GET RESPONSE, `00` meaning 256 or more.
fn more_data_sw(left: usize) -> u16 {
    0x6100 | if left >= 256 { 0 } else { left as u16 }
}
