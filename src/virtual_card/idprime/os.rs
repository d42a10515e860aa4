//! The IDPrime card OS: the commands stock OpenSC's `idprime` driver sends and our extensions
//! (docs/domain.md "The IDPrime layout", "Our extensions"), answered over the card's state.
//! Each answer is computed on a copy of the state; the caller saves a changed state before the
//! card answers, and gathers chained UPDATE BINARY links (CLA `10`) into one command.
//!
//! Here: dispatch, SELECT, READ BINARY and UPDATE BINARY; PINs in [`super::pins`], keys and
//! signatures in [`super::keys`], CREATE and DELETE FILE in [`super::fs`], what they share
//! (the session, a command's effect, the write check) in [`super::session`].

use crate::apdu::{Command, Response, StatusWord, ins};
use crate::idprime::extensions as ext;
use crate::idprime::files;
use crate::layout;

use super::super::pace::Work;
use super::super::state::CardState;
use super::session::may_write;
pub(crate) use super::session::{Session, Step};
use super::{fs, keys, pins};

/// The commands that compare or set a code, and so may spend a try.
pub(crate) fn is_pin_command(cmd: &Command) -> bool {
    matches!(
        cmd.ins,
        ins::VERIFY | ext::INS_CHANGE_REFERENCE_DATA | ext::INS_RESET_RETRY_COUNTER
    )
}

/// Answer one parsed command. GET RESPONSE and Le are handled by the caller; so is chaining:
/// `cmd` is a whole UPDATE BINARY (the links so far and this one), `chained` when more are to
/// come.
pub(crate) fn respond(
    state: &CardState,
    session: &mut Session,
    cmd: &Command,
    chained: bool,
) -> Step {
    if chained && cmd.ins != ins::UPDATE_BINARY {
        return Step::refuse(StatusWord::ChainingNotSupported);
    }
    if cmd.cla == ext::CLA_PROPRIETARY && cmd.ins == ext::INS_DELETE_KEY {
        return keys::delete_key(state, session, cmd);
    }
    if cmd.cla != 0x00 {
        return Step::refuse(StatusWord::ClaNotSupported);
    }
    let p1p2 = (cmd.p1, cmd.p2);
    match cmd.ins {
        0xA4 => Step::answer(select(state, session, cmd)),
        0xB0 => Step::answer(read_binary(state, session, cmd)),
        0xCA if p1p2 == (0x9F, 0x7F) => {
            Step::answer(Ok(Response::ok(files::cplc(state.serial().as_bytes()))))
        }
        0xCA => Step::refuse(StatusWord::ReferenceNotFound),
        0x84 => {
            let n = if cmd.p2 == 0x01 { 8 } else { 16 };
            let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
            Step::answer(Ok(Response::ok(bytes)))
        }
        ins::VERIFY => pins::verify(state, session, cmd),
        ext::INS_CHANGE_REFERENCE_DATA => pins::change(state, session, cmd),
        ext::INS_RESET_RETRY_COUNTER => pins::unblock(state, session, cmd),
        0x22 => Step::answer(keys::mse(state, session, cmd)),
        0x2A => keys::pso(state, session, cmd),
        ext::INS_GENERATE => keys::generate(state, session, cmd),
        ext::INS_CREATE_FILE => fs::create_file(state, session, cmd),
        ext::INS_DELETE_FILE => fs::delete_file(state, session, cmd),
        ins::UPDATE_BINARY => update_binary(state, session, cmd, chained),
        _ => Step::refuse(StatusWord::InsNotSupported),
    }
}

fn select(state: &CardState, session: &mut Session, cmd: &Command) -> Result<Response, StatusWord> {
    match cmd.p1 {
        0x04 => {
            // Another AID (the PKCS#15 application OpenSC probes) is not on this card; the
            // applet stays selected, as on a real card.
            if cmd.data != files::AID {
                return Err(StatusWord::FileNotFound);
            }
            session.current = None;
            Ok(Response::status(StatusWord::Ok))
        }
        0x00 | 0x08 => {
            let mut path = cmd.data.as_slice();
            if cmd.p1 == 0x08 && path.len() > 2 && path[..2] == [0x3F, 0x00] {
                path = &path[2..];
            }
            let [hi, lo] = path else {
                return Err(if path.len() % 2 == 0 && !path.is_empty() {
                    StatusWord::FileNotFound
                } else {
                    StatusWord::WrongLength
                });
            };
            let fid = u16::from_be_bytes([*hi, *lo]);
            let ef = state
                .df(layout::FID_MF)
                .and_then(|df| df.ef(fid))
                .ok_or(StatusWord::FileNotFound)?;
            session.current = Some(fid);
            if cmd.p2 == 0x0C {
                return Ok(Response::status(StatusWord::Ok));
            }
            // FCP: 80 size (what OpenSC reads), 82 a transparent EF, 83 the FID.
            let size = u16::try_from(ef.content.len()).unwrap_or(u16::MAX);
            let mut fcp = vec![0x62, 0x0C, 0x80, 0x02];
            fcp.extend_from_slice(&size.to_be_bytes());
            fcp.extend_from_slice(&[0x82, 0x01, 0x01, 0x83, 0x02, *hi, *lo]);
            fcp[1] = (fcp.len() - 2) as u8;
            Ok(Response::ok(fcp))
        }
        _ => Err(StatusWord::IncorrectP1P2),
    }
}

fn current_ef(state: &CardState, session: &Session) -> Result<(u16, usize), StatusWord> {
    let fid = session.current.ok_or(StatusWord::CommandNotAllowed)?;
    let len = state
        .ef_content(layout::FID_MF, fid)
        .ok_or(StatusWord::FileNotFound)?
        .len();
    Ok((fid, len))
}

fn offset(cmd: &Command) -> Result<usize, StatusWord> {
    if cmd.p1 & 0x80 != 0 {
        return Err(StatusWord::IncorrectP1P2);
    }
    Ok(usize::from(u16::from_be_bytes([cmd.p1, cmd.p2])))
}

fn read_binary(
    state: &CardState,
    session: &Session,
    cmd: &Command,
) -> Result<Response, StatusWord> {
    if !cmd.data.is_empty() {
        return Err(StatusWord::WrongLength);
    }
    let at = offset(cmd)?;
    let (fid, _) = current_ef(state, session)?;
    let content = state.ef_content(layout::FID_MF, fid).unwrap_or(&[]);
    let rest = content.get(at..).ok_or(StatusWord::WrongP1P2)?;
    let le = cmd.le.unwrap_or(256);
    if rest.is_empty() {
        return Ok(Response::status(StatusWord::Ok));
    }
    if rest.len() < le {
        return Ok(Response::new(rest.to_vec(), StatusWord::EndOfFile));
    }
    Ok(Response::ok(rest[..le].to_vec()))
}

/// [ours] UPDATE BINARY at an offset into the selected EF, under PIN1; the EF grows up to its
/// capacity. A chained link is checked as the whole so far and held; only the last link
/// writes.
fn update_binary(state: &CardState, session: &mut Session, cmd: &Command, chained: bool) -> Step {
    let run = || -> Result<Option<CardState>, StatusWord> {
        may_write(state, session)?;
        let at = offset(cmd)?;
        let (fid, len) = current_ef(state, session)?;
        if at > len {
            return Err(StatusWord::WrongP1P2);
        }
        let capacity = state
            .df(layout::FID_MF)
            .and_then(|df| df.ef(fid))
            .map_or(0, |ef| ef.capacity);
        let end = at + cmd.data.len();
        if end > capacity {
            return Err(StatusWord::NotEnoughMemory);
        }
        if chained {
            return Ok(None);
        }
        let mut next = state.clone();
        let ef = next
            .df_mut(layout::FID_MF)
            .and_then(|df| df.ef_mut(fid))
            .ok_or(StatusWord::FileNotFound)?;
        if ef.content.len() < end {
            ef.content.resize(end, 0);
        }
        ef.content[at..end].copy_from_slice(&cmd.data);
        Ok(Some(next))
    };
    match run() {
        Ok(Some(next)) => Step::changed(Response::status(StatusWord::Ok), next, Work::Plain),
        Ok(None) => Step {
            holds_chain: true,
            ..Step::answer(Ok(Response::status(StatusWord::Ok)))
        },
        Err(sw) => Step::refuse(sw),
    }
}
