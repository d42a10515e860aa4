//! The IDPrime card's codes: VERIFY [public: iso7816.c, OSv4 padding], and our PUK `0x85`,
//! CHANGE REFERENCE DATA, RESET RETRY COUNTER and log out [ours: docs/domain.md "Our
//! extensions"].
//!
//! The codes arrive as their digits padded with `00` to 16 bytes; each is brought to the
//! stored form and handed to the PKCS#15 layout's PIN logic (`virtual_card::pins`), so both
//! layouts count tries, unblock, refuse malformed codes at no cost and die with the PUK alike.

use zeroize::Zeroizing;

use crate::apdu::{Command, Response, StatusWord};
use crate::idprime::extensions as ext;
use crate::idprime::files::PIN_LEN;
use crate::layout::{PIN_PAD, PIN_STORED_LEN};

use super::super::pace::Work;
use super::super::pins::{self as codes, PinOutcome};
use super::super::state::CardState;
use super::session::{Session, Step};

/// One code as it arrives (16 bytes: digits, then `00`) in the stored form (digits, then
/// `FF` to 8 bytes); None when malformed, which then costs no try.
fn stored_form(wire: &[u8]) -> Option<Zeroizing<[u8; PIN_STORED_LEN]>> {
    if wire.len() != PIN_LEN {
        return None;
    }
    let digits = wire.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > PIN_STORED_LEN || wire[digits..].iter().any(|&b| b != 0) {
        return None;
    }
    let mut out = Zeroizing::new([PIN_PAD; PIN_STORED_LEN]);
    out[..digits].copy_from_slice(&wire[..digits]);
    Some(out)
}

/// Two codes of 16 bytes each (old and new, or PUK and new) in the stored form, one after
/// the other, as the PKCS#15 layout's commands carry them.
fn two_codes(data: &[u8]) -> Result<Zeroizing<Vec<u8>>, StatusWord> {
    if data.len() != 2 * PIN_LEN {
        return Err(StatusWord::WrongLength);
    }
    let (first, second) = data.split_at(PIN_LEN);
    let (Some(first), Some(second)) = (stored_form(first), stored_form(second)) else {
        return Err(StatusWord::WrongData);
    };
    let mut both = Zeroizing::new(Vec::with_capacity(2 * PIN_STORED_LEN));
    both.extend_from_slice(&*first);
    both.extend_from_slice(&*second);
    Ok(both)
}

/// The effect of a PIN command run on a copy of the state: its session status applied, the
/// copy kept when it changed.
fn step(session: &mut Session, reference: u8, next: CardState, outcome: PinOutcome) -> Step {
    match outcome.verified {
        Some(true) => {
            session.verified.insert(reference);
        }
        Some(false) => {
            session.verified.remove(&reference);
        }
        None => {}
    }
    Step {
        answer: if outcome.sw == StatusWord::Ok {
            Ok(Response::status(StatusWord::Ok))
        } else {
            Err(outcome.sw)
        },
        next: outcome.changed.then_some(next),
        work: Work::Plain,
        holds_chain: false,
    }
}

/// VERIFY `00 20 00 <ref>`: the code, or without data the tries left (`9000` when verified in
/// this session); `00 20 FF <ref>` without data forgets the verification.
pub(super) fn verify(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    let reference = cmd.p2;
    match cmd.p1 {
        0x00 => {}
        ext::P1_VERIFY_RESET => {
            if state.pin(reference).is_none() {
                return Step::refuse(StatusWord::ReferenceNotFound);
            }
            if !cmd.data.is_empty() {
                return Step::refuse(StatusWord::WrongLength);
            }
            session.verified.remove(&reference);
            return Step::answer(Ok(Response::status(StatusWord::Ok)));
        }
        _ => return Step::refuse(StatusWord::IncorrectP1P2),
    }
    if let Some(sw) = unusable(state, reference) {
        return Step::refuse(sw);
    }
    let code = if cmd.data.is_empty() {
        Zeroizing::new(Vec::new())
    } else {
        if cmd.data.len() != PIN_LEN {
            return Step::refuse(StatusWord::WrongLength);
        }
        let Some(code) = stored_form(&cmd.data) else {
            return Step::refuse(StatusWord::WrongData);
        };
        Zeroizing::new(code.to_vec())
    };
    let mut next = state.clone();
    let verified = session.verified.contains(&reference);
    let outcome = codes::verify(&mut next, reference, &code, verified);
    step(session, reference, next, outcome)
}

/// CHANGE REFERENCE DATA `00 24 00 <ref> 20 <old> <new>`: a wrong old PIN spends a try, the
/// PUK cannot be changed (`6985`).
pub(super) fn change(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    set_code(state, session, cmd, codes::change)
}

/// RESET RETRY COUNTER `00 2C 00 <ref> 20 <PUK> <new PIN>`: a wrong PUK spends a PUK try, and
/// its `63Cx` counts the PUK's.
pub(super) fn unblock(state: &CardState, session: &mut Session, cmd: &Command) -> Step {
    set_code(state, session, cmd, codes::unblock)
}

/// A command that sets a code from two (old PIN or PUK, then the new PIN): the checks both
/// share, then `apply` (the PKCS#15 layout's logic) on a copy of the state.
fn set_code(
    state: &CardState,
    session: &mut Session,
    cmd: &Command,
    apply: fn(&mut CardState, u8, &[u8]) -> PinOutcome,
) -> Step {
    if cmd.p1 != 0x00 {
        return Step::refuse(StatusWord::IncorrectP1P2);
    }
    let reference = cmd.p2;
    let both = match not_settable(state, reference).map_or_else(|| two_codes(&cmd.data), Err) {
        Ok(both) => both,
        Err(sw) => return Step::refuse(sw),
    };
    let mut next = state.clone();
    let outcome = apply(&mut next, reference, &both);
    step(session, reference, next, outcome)
}

/// What the shared PIN logic answers before it looks at any code, so that these win over a
/// malformed code as on the PKCS#15 layout: an unknown reference (`6A88`), a dead card
/// (`6984`, the PUK `6983`).
fn unusable(state: &CardState, reference: u8) -> Option<StatusWord> {
    if state.pin(reference).is_none() {
        Some(StatusWord::ReferenceNotFound)
    } else if state.is_dead() {
        Some(if reference == state.puk_reference() {
            StatusWord::AuthBlocked
        } else {
            StatusWord::ReferenceDataNotUsable
        })
    } else {
        None
    }
}

/// [`unusable`], or the PUK, which cannot be set (`6985`).
fn not_settable(state: &CardState, reference: u8) -> Option<StatusWord> {
    unusable(state, reference).or_else(|| {
        (reference == state.puk_reference()).then_some(StatusWord::ConditionsNotSatisfied)
    })
}
