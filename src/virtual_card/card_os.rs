//! The card OS: one `process(apdu) -> answer` over the persistent state and a session.
//!
//! The raw APDU is parsed into a [`CardCommand`] first; each handler then returns
//! `Result<Response, StatusWord>`, the status word being the card's refusal, so `?` answers it.
//! Fault injection at the reader (pulls, slowness) and the counters are not here but in the
//! card that wraps this one (`engine`), so the OS knows nothing of the reader around it.
//!
//! The session is what a real card forgets on reset: the selected file, verified PINs, a
//! half-received command chain, answer bytes waiting for GET RESPONSE and the security
//! environment. Every change to persistent state is saved before the card answers, so a
//! killed process or a pulled card loses nothing that was acknowledged.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::apdu::{CLA_CHAINING, Command, Response, StatusWord, ins};
use crate::layout;

use super::command::{BinaryTarget, CardCommand, SelectAnswer};
use super::fs::{self, FileRef};
use super::idprime::os as idprime_os;
use super::keys;
use super::pace::Work;
use super::pins::{self, PinOutcome};
use super::state::{CardState, Layout};

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
    /// The IDPrime card OS's own session, used when the card has that layout.
    idprime: idprime_os::Session,
}

impl Session {
    fn new() -> Self {
        Session {
            current: FileRef::Df(layout::FID_MF),
            verified: BTreeSet::new(),
            chain: None,
            pending: Vec::new(),
            security_env: None,
            idprime: idprime_os::Session::default(),
        }
    }
}

/// A handler's answer: data and a status the command succeeded with, or the refusal.
type Answer = Result<Response, StatusWord>;

fn done() -> Answer {
    Ok(Response::status(StatusWord::Ok))
}

/// The card's persistent state, optionally backed by a file, and its session.
pub(crate) struct CardOs {
    pub(crate) state: CardState,
    pub(crate) path: Option<PathBuf>,
    session: Session,
    /// Fault injection at the disk: every save fails, as on a full disk or a read-only file
    /// system.
    pub(crate) fail_saves: bool,
    /// A wrong code was counted in memory but could not be saved: PIN commands are refused
    /// until the count is on disk, so a failing disk never buys unlimited tries.
    unsaved_tries: bool,
    /// What the command being answered made the card do, for the pace.
    pub(crate) work: Work,
}

impl CardOs {
    pub(crate) fn new(state: CardState) -> Self {
        CardOs {
            state,
            path: None,
            session: Session::new(),
            fail_saves: false,
            unsaved_tries: false,
            work: Work::Plain,
        }
    }

    /// Forget the session (reset, pull, insertion); the state stays.
    pub(crate) fn reset(&mut self) {
        self.session = Session::new();
    }

    /// Answer one command APDU; any bytes get an answer.
    pub(crate) fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.work = Work::Plain;
        let cmd = match Command::parse(apdu) {
            Ok(cmd) => cmd,
            Err(_) => {
                self.session.chain = None;
                self.session.pending.clear();
                log::debug!("virtual card: malformed APDU of {} bytes", apdu.len());
                return StatusWord::WrongLength.to_u16().to_be_bytes().to_vec();
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
        if self.state.layout() == Layout::Idprime && !is_get_response {
            let reply = self.idprime(&cmd).unwrap_or_else(Response::status);
            return self.finish(reply, cmd.le);
        }
        let reply = match CardCommand::try_from(&cmd) {
            Ok(command) => self.dispatch(command),
            Err(sw) => {
                // A refused link of a chain ends the chain.
                self.session.chain = None;
                Err(sw)
            }
        }
        .unwrap_or_else(Response::status);
        // Headers and status only: command data may be a PIN.
        log::debug!(
            "virtual card: {:02X} {:02X} {:02X} {:02X} ({} bytes) -> {} bytes {}",
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
    fn finish(&mut self, reply: Response, le: Option<usize>) -> Vec<u8> {
        let limit = le.unwrap_or(0);
        if reply.data.len() <= limit {
            return reply.to_bytes();
        }
        let mut data = reply.data;
        self.session.pending = data.split_off(limit);
        Response::new(data, more_data(self.session.pending.len())).to_bytes()
    }

    fn dispatch(&mut self, command: CardCommand<'_>) -> Answer {
        match command {
            CardCommand::Select {
                p1,
                answer,
                name,
                wants_answer,
            } => self.select(p1, answer, name, wants_answer),
            CardCommand::ReadBinary { target, le } => self.read_binary(target, le),
            CardCommand::UpdateBinary {
                p1,
                p2,
                data,
                chained,
            } => self.update_binary(p1, p2, data, chained),
            CardCommand::EraseBinary { p1, p2 } => self.erase_binary(p1, p2),
            CardCommand::ResetVerification { reference } => {
                self.session.verified.remove(&reference);
                done()
            }
            CardCommand::Verify { reference, code } => {
                // A status query without data still answers, from memory.
                self.pin_command(reference, !code.is_empty(), |next, verified| {
                    pins::verify(next, reference, code, verified)
                })
            }
            CardCommand::ChangeReferenceData {
                reference,
                old_and_new,
            } => self.pin_command(reference, true, |next, _| {
                pins::change(next, reference, old_and_new)
            }),
            CardCommand::ResetRetryCounter {
                reference,
                puk_and_new,
            } => self.pin_command(reference, true, |next, _| {
                pins::unblock(next, reference, puk_and_new)
            }),
            CardCommand::GenerateKey { slot } => self.generate(slot),
            CardCommand::ReadPublicKey { slot } => self.read_public_key(slot),
            CardCommand::SetSignatureEnvironment { algorithm_and_slot } => {
                self.mse(algorithm_and_slot)
            }
            CardCommand::ComputeSignature { hash } => self.pso(hash),
            CardCommand::GetResponse { le } => self.get_response(le),
            CardCommand::GetSerial => Ok(Response::ok(self.state.serial().as_bytes().to_vec())),
            CardCommand::DeleteKey { slot } => self.delete_key(slot),
        }
    }

    /// An IDPrime card's command: answered by its OS, a changed state saved first. A wrong
    /// code counts even when the disk fails (kept in memory, PIN commands then refused until
    /// it is saved), as for the PKCS#15 layout. A chained UPDATE BINARY (CLA `10`) is gathered
    /// here as for the PKCS#15 layout: the OS checks the links so far as one command and
    /// writes only when the last arrives.
    fn idprime(&mut self, cmd: &Command) -> Answer {
        let is_pin = idprime_os::is_pin_command(cmd);
        if is_pin && let Err(sw) = self.flush_unsaved_tries() {
            self.session.idprime = idprime_os::Session::default();
            return Err(sw);
        }
        let chained = cmd.cla == CLA_CHAINING;
        let whole;
        let cmd = if cmd.ins == ins::UPDATE_BINARY && (cmd.cla == 0x00 || chained) {
            whole = Command {
                cla: 0x00,
                ins: cmd.ins,
                p1: cmd.p1,
                p2: cmd.p2,
                data: self.chain_so_far(&cmd.data),
                le: cmd.le,
            };
            &whole
        } else {
            cmd
        };
        let step = idprime_os::respond(&self.state, &mut self.session.idprime, cmd, chained);
        self.work = step.work;
        if step.holds_chain {
            self.hold_chain(cmd.ins, cmd.p1, cmd.p2, cmd.data.clone());
        }
        if let Some(next) = step.next
            && let Err(sw) = self.commit_counting(next, is_pin && step.answer.is_err())
        {
            self.session.idprime = idprime_os::Session::default();
            return Err(sw);
        }
        step.answer
    }

    /// The data of the chain received so far (already checked to match this link) followed
    /// by this link; the chain is taken out and goes back only through [`Self::hold_chain`],
    /// when this link is accepted and more are to come.
    fn chain_so_far(&mut self, link: &[u8]) -> Vec<u8> {
        let mut data = self
            .session
            .chain
            .take()
            .map(|c| c.data)
            .unwrap_or_default();
        data.extend_from_slice(link);
        data
    }

    /// Keep an accepted link's chain until the next link (same INS P1 P2) or anything else.
    fn hold_chain(&mut self, ins: u8, p1: u8, p2: u8, data: Vec<u8>) {
        self.session.chain = Some(Chain { ins, p1, p2, data });
    }

    /// Fail closed: a try counted only in memory must reach the disk before any code is
    /// compared again.
    fn flush_unsaved_tries(&mut self) -> Result<(), StatusWord> {
        if self.unsaved_tries {
            self.save(&self.state)?;
            self.unsaved_tries = false;
        }
        Ok(())
    }

    /// [`Self::commit`] for a PIN command: when the save fails, a try it spent still counts
    /// (kept in memory, and PIN commands refused until [`Self::flush_unsaved_tries`] gets it to
    /// the disk); a code whose check succeeded only loses its effect.
    fn commit_counting(&mut self, next: CardState, spent_a_try: bool) -> Result<(), StatusWord> {
        if let Err(sw) = self.save(&next) {
            if spent_a_try {
                self.state = next;
                self.unsaved_tries = true;
            }
            return Err(sw);
        }
        self.state = next;
        Ok(())
    }

    /// Make `next` the card's state, saving it first; on a failed save the card keeps its old
    /// state and answers "memory failure".
    fn commit(&mut self, next: CardState) -> Result<(), StatusWord> {
        self.save(&next)?;
        self.state = next;
        Ok(())
    }

    fn save(&self, state: &CardState) -> Result<(), StatusWord> {
        if let Some(path) = &self.path {
            if self.fail_saves {
                log::error!(
                    "virtual card: saving {} failed (fault injection)",
                    path.display()
                );
                return Err(StatusWord::MemoryFailure);
            }
            if let Err(e) = state.save_atomic(path) {
                log::error!("virtual card: {e}");
                return Err(StatusWord::MemoryFailure);
            }
        }
        Ok(())
    }

    fn verified(&self, reference: u8) -> bool {
        self.session.verified.contains(&reference)
    }

    fn select(&mut self, p1: u8, answer: SelectAnswer, name: &[u8], wants_answer: bool) -> Answer {
        let current = self.session.current.df();
        let file = fs::select(&self.state, current, p1, name)?;
        self.session.current = file;
        if !wants_answer {
            return done();
        }
        let template = match answer {
            SelectAnswer::Fci => fs::fci(&self.state, file),
            SelectAnswer::Fcp => fs::fcp(&self.state, file),
            SelectAnswer::Nothing => return done(),
        };
        template.map(Response::ok).ok_or(StatusWord::Unknown)
    }

    /// The EF and offset a binary command addresses; a short EF identifier also selects it.
    fn binary_target(&mut self, target: BinaryTarget) -> Result<(u16, u16, usize), StatusWord> {
        match target {
            BinaryTarget::Sfi { sfi, offset } => {
                let df = self.session.current.df();
                let fid = self
                    .state
                    .df(df)
                    .and_then(|d| d.ef_by_sfi(sfi))
                    .map(|e| e.fid)
                    .ok_or(StatusWord::FileNotFound)?;
                self.session.current = FileRef::Ef { df, fid };
                Ok((df, fid, offset))
            }
            BinaryTarget::Current { offset } => match self.session.current {
                FileRef::Ef { df, fid } => Ok((df, fid, offset)),
                FileRef::Df(_) => Err(StatusWord::CommandNotAllowed),
            },
        }
    }

    fn read_binary(&mut self, target: BinaryTarget, le: usize) -> Answer {
        let (df, fid, offset) = self.binary_target(target)?;
        let content = self.state.ef_content(df, fid).unwrap_or(&[]);
        let rest = content.get(offset..).ok_or(StatusWord::WrongP1P2)?;
        // Fewer bytes than asked: `6282` lets OpenSC's iso7816_read_binary stop without
        // another READ BINARY; none left at all is a plain empty answer, which ends its loop.
        if rest.is_empty() {
            return done();
        }
        if rest.len() < le {
            return Ok(Response::new(rest.to_vec(), StatusWord::EndOfFile));
        }
        Ok(Response::ok(rest[..le].to_vec()))
    }

    /// Refusals shared by every write: a dead card, or PIN1 not verified in this session.
    fn may_write(&self) -> Result<(), StatusWord> {
        if self.state.is_dead() {
            Err(StatusWord::ReferenceDataNotUsable)
        } else if !self.verified(layout::PIN1_REF) {
            Err(StatusWord::SecurityStatusNotSatisfied)
        } else {
            Ok(())
        }
    }

    fn update_binary(&mut self, p1: u8, p2: u8, link: &[u8], chained: bool) -> Answer {
        let data = self.chain_so_far(link);
        self.may_write()?;
        let (df, fid, offset) = self.binary_target(BinaryTarget::parse(p1, p2)?)?;
        let ef = self
            .state
            .df(df)
            .and_then(|d| d.ef(fid))
            .ok_or(StatusWord::FileNotFound)?;
        if offset > ef.content.len() {
            return Err(StatusWord::WrongP1P2);
        }
        if offset + data.len() > ef.capacity {
            return Err(StatusWord::NotEnoughMemory);
        }
        if chained {
            self.hold_chain(ins::UPDATE_BINARY, p1, p2, data);
            return done();
        }
        let mut next = self.state.clone();
        if let Some(ef) = next.df_mut(df).and_then(|d| d.ef_mut(fid)) {
            let end = offset + data.len();
            if ef.content.len() < end {
                ef.content.resize(end, 0);
            }
            ef.content[offset..end].copy_from_slice(&data);
        }
        self.commit(next)?;
        done()
    }

    fn erase_binary(&mut self, p1: u8, p2: u8) -> Answer {
        self.may_write()?;
        let (df, fid, offset) = self.binary_target(BinaryTarget::parse(p1, p2)?)?;
        let len = self.state.ef_content(df, fid).map_or(0, <[u8]>::len);
        if offset > len {
            return Err(StatusWord::WrongP1P2);
        }
        if offset == len {
            return done();
        }
        let mut next = self.state.clone();
        if let Some(ef) = next.df_mut(df).and_then(|d| d.ef_mut(fid)) {
            ef.content.truncate(offset);
        }
        self.commit(next)?;
        done()
    }

    /// Run a PIN command on a copy of the state and keep its effect once saved. `compares`:
    /// the command compares a code (and so may spend a try).
    fn pin_command(
        &mut self,
        reference: u8,
        compares: bool,
        run: impl FnOnce(&mut CardState, bool) -> PinOutcome,
    ) -> Answer {
        if compares && let Err(sw) = self.flush_unsaved_tries() {
            self.session.verified.clear();
            return Err(sw);
        }
        let mut next = self.state.clone();
        let outcome = run(&mut next, self.verified(reference));
        if outcome.changed {
            let spent_a_try = outcome.sw != StatusWord::Ok;
            if let Err(sw) = self.commit_counting(next, spent_a_try) {
                if spent_a_try {
                    self.session.verified.remove(&reference);
                }
                return Err(sw);
            }
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
        Ok(Response::status(outcome.sw))
    }

    fn read_public_key(&mut self, slot: u8) -> Answer {
        let der = self
            .state
            .key_der(slot)
            .ok_or(StatusWord::ReferenceNotFound)?;
        match keys::load(der) {
            Ok(key) => Ok(Response::ok(keys::public_key_template(
                &key.to_public_key(),
            ))),
            Err(e) => {
                log::error!("virtual card: slot {slot}: {e}");
                Err(StatusWord::Unknown)
            }
        }
    }

    fn generate(&mut self, slot: u8) -> Answer {
        self.may_write()?;
        if self.state.key_der(slot).is_some() {
            // Nothing is destroyed silently: delete the old key first.
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        self.work = Work::KeyGeneration;
        let made = keys::generate().and_then(|der| keys::load(&der).map(|key| (der, key)));
        let (der, key) = made.map_err(|e| {
            log::error!("virtual card: {e}");
            StatusWord::Unknown
        })?;
        let mut next = self.state.clone();
        next.store_key(slot, der.to_vec());
        self.commit(next)?;
        log::info!("virtual card: generated a key in slot {slot}");
        Ok(Response::ok(keys::public_key_template(
            &key.to_public_key(),
        )))
    }

    fn mse(&mut self, algorithm_and_slot: Option<(u8, u8)>) -> Answer {
        self.session.security_env = None;
        let (algorithm, slot) = algorithm_and_slot.ok_or(StatusWord::WrongData)?;
        if self.state.key_der(slot).is_none() {
            return Err(StatusWord::ReferenceNotFound);
        }
        self.session.security_env = Some((algorithm, slot));
        done()
    }

    fn pso(&mut self, hash: &[u8]) -> Answer {
        if self.state.is_dead() {
            return Err(StatusWord::ReferenceDataNotUsable);
        }
        let (algorithm, slot) = self
            .session
            .security_env
            .ok_or(StatusWord::ConditionsNotSatisfied)?;
        let der = self
            .state
            .key_der(slot)
            .ok_or(StatusWord::ReferenceNotFound)?;
        let pin = layout::slot_pin(slot);
        if !self.verified(pin) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        self.work = Work::Signature;
        let signature = keys::load(der)
            .and_then(|key| keys::sign(&key, algorithm, hash))
            .map_err(|e| {
                log::error!("virtual card: slot {slot}: {e}");
                StatusWord::Unknown
            })?;
        // A signing key needs PIN2 right before each signature.
        if pin == layout::PIN2_REF {
            self.session.verified.remove(&pin);
        }
        Ok(Response::ok(signature))
    }

    fn get_response(&mut self, le: usize) -> Answer {
        if self.session.pending.is_empty() {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        let n = le.min(self.session.pending.len());
        let data: Vec<u8> = self.session.pending.drain(..n).collect();
        let left = self.session.pending.len();
        let sw = if left == 0 {
            StatusWord::Ok
        } else {
            more_data(left)
        };
        Ok(Response::new(data, sw))
    }

    fn delete_key(&mut self, slot: u8) -> Answer {
        self.may_write()?;
        let mut next = self.state.clone();
        if !next.remove_key(slot) {
            return Err(StatusWord::ReferenceNotFound);
        }
        self.commit(next)?;
        if self.session.security_env.is_some_and(|(_, s)| s == slot) {
            self.session.security_env = None;
        }
        log::info!("virtual card: deleted the key in slot {slot}");
        done()
    }
}

/// `61xx`: `xx` bytes wait for GET RESPONSE, `00` meaning 256 or more.
fn more_data(left: usize) -> StatusWord {
    StatusWord::MoreData(if left >= 256 { 0 } else { left as u8 })
}
