//! [ours] CREATE FILE and DELETE FILE on the IDPrime card (docs/domain.md "Our extensions"):
//! empty transparent EFs in the applet, made and removed under PIN1 within a memory budget.

use crate::apdu::{Command, Response, StatusWord};
use crate::idprime::extensions as ext;
use crate::idprime::files;
use crate::layout;

use super::super::pace::Work;
use super::super::state::CardState;
use super::session::{Session, Step, may_write};

/// The bytes the card's files may take together, counted as the sum of their capacities
/// ([`CardState::file_memory_used`]) [ours: room for the applet's own files and a
/// certificate file of up to 7 KiB in each of the 8 containers, so only a card written
/// wastefully is full].
pub(crate) const FILE_MEMORY: usize = 64 * 1024;

/// The applet's own files, which DELETE FILE refuses (`6985`).
pub(crate) const APPLET_FILES: [u16; 5] = [
    files::FID_INDEX,
    files::FID_CARDID,
    files::FID_CMAPFILE,
    files::FID_KEYREFS,
    files::FID_TINFO,
];

/// CREATE FILE `00 E0 00 00 <62 0B 80 02 capacity 82 01 01 83 02 FID>`: `6A89` when the FID
/// exists, `6A84` when the capacity does not fit what is left of [`FILE_MEMORY`].
pub(super) fn create_file(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    if (cmd.p1, cmd.p2) != (0x00, 0x00) {
        return Step::refuse(StatusWord::IncorrectP1P2);
    }
    if let Err(sw) = may_write(state, session) {
        return Step::refuse(sw);
    }
    let Some((fid, capacity)) = ext::parse_create_file(&cmd.data) else {
        return Step::refuse(StatusWord::WrongData);
    };
    let exists = state.df(layout::FID_MF).and_then(|df| df.ef(fid)).is_some();
    if exists || fid == layout::FID_MF {
        return Step::refuse(StatusWord::Other(ext::SW_FILE_EXISTS));
    }
    if matches!(fid, 0x3FFF | 0xFFFF) {
        return Step::refuse(StatusWord::WrongData);
    }
    let capacity = usize::from(capacity);
    if state.file_memory_used() + capacity > FILE_MEMORY {
        return Step::refuse(StatusWord::NotEnoughMemory);
    }
    let mut next = state.clone();
    if let Err(e) = next.add_ef(layout::FID_MF, fid, None, Vec::new(), capacity) {
        log::error!("virtual card: CREATE FILE {fid:04X}: {e}");
        return Step::refuse(StatusWord::WrongData);
    }
    // ISO 7816-9: the new file is the current one.
    session.current = Some(fid);
    Step::changed(Response::status(StatusWord::Ok), next, Work::Plain)
}

/// DELETE FILE `00 E4 00 00 02 <FID>`: `6A82` when none, `6985` for the applet's own files.
pub(super) fn delete_file(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    if (cmd.p1, cmd.p2) != (0x00, 0x00) {
        return Step::refuse(StatusWord::IncorrectP1P2);
    }
    if let Err(sw) = may_write(state, session) {
        return Step::refuse(sw);
    }
    let [hi, lo] = cmd.data[..] else {
        return Step::refuse(StatusWord::WrongLength);
    };
    let fid = u16::from_be_bytes([hi, lo]);
    if APPLET_FILES.contains(&fid) {
        return Step::refuse(StatusWord::ConditionsNotSatisfied);
    }
    let mut next = state.clone();
    let Some(df) = next.df_mut(layout::FID_MF) else {
        return Step::refuse(StatusWord::FileNotFound);
    };
    let before = df.efs.len();
    df.efs.retain(|ef| ef.fid != fid);
    if df.efs.len() == before {
        return Step::refuse(StatusWord::FileNotFound);
    }
    if session.current == Some(fid) {
        session.current = None;
    }
    Step::changed(Response::status(StatusWord::Ok), next, Work::Plain)
}
