//! PIN and PUK logic: VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER.
//!
//! Format errors are answered before any comparison, so a typo never costs a try; only a
//! well-formed wrong code spends one. A PUK that reaches zero tries kills the card for good.
//! Both layouts use this logic on the stored form of a code (the IDPrime OS converts its
//! `00`-padded codes first); the PUK is the one of the card's layout (`03` or `85`).

use crate::apdu::StatusWord;

use crate::layout::PIN_STORED_LEN;

use super::pin_code::normalise;
use super::state::{CardState, StoredPin};

/// What a PIN command did: its status word, whether persistent state changed (so it must be
/// saved), and the new session status of the referenced PIN, applied only once saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PinOutcome {
    pub sw: StatusWord,
    pub changed: bool,
    pub verified: Option<bool>,
}

impl PinOutcome {
    fn sw(sw: StatusWord) -> Self {
        PinOutcome {
            sw,
            changed: false,
            verified: None,
        }
    }
}

/// Compare without an early exit, so timing does not tell how many bytes were right.
fn same(a: &[u8; PIN_STORED_LEN], b: &[u8; PIN_STORED_LEN]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The dead card's answer for a reference: the PUK is blocked, PINs are unusable.
fn dead_sw(state: &CardState, reference: u8) -> StatusWord {
    if reference == state.puk_reference() {
        StatusWord::AuthBlocked
    } else {
        StatusWord::ReferenceDataNotUsable
    }
}

/// Check `candidate` against the stored code of `reference`, spending a try when wrong.
/// The caller has checked that the reference exists and the card is alive.
fn check(state: &mut CardState, reference: u8, candidate: &[u8; PIN_STORED_LEN]) -> PinOutcome {
    let puk = state.puk_reference();
    let Some(pin) = state.pin_mut(reference) else {
        return PinOutcome::sw(StatusWord::ReferenceNotFound);
    };
    if pin.tries_left == 0 {
        return PinOutcome::sw(StatusWord::AuthBlocked);
    }
    if same(&pin.value, candidate) {
        let changed = pin.tries_left != pin.max_tries;
        pin.tries_left = pin.max_tries;
        return PinOutcome {
            sw: StatusWord::Ok,
            changed,
            verified: Some(true),
        };
    }
    pin.tries_left -= 1;
    let left = pin.tries_left;
    if left == 0 && reference == puk {
        log::warn!("virtual card: the PUK is blocked; the card is dead for good");
        state.dead = true;
    }
    PinOutcome {
        sw: if left == 0 {
            StatusWord::AuthBlocked
        } else {
            StatusWord::TriesLeft(left)
        },
        changed: true,
        verified: Some(false),
    }
}

/// VERIFY: with no data, report the status without spending a try.
pub(crate) fn verify(
    state: &mut CardState,
    reference: u8,
    data: &[u8],
    verified_now: bool,
) -> PinOutcome {
    let Some(pin) = state.pin(reference) else {
        return PinOutcome::sw(StatusWord::ReferenceNotFound);
    };
    if state.dead {
        return PinOutcome::sw(dead_sw(state, reference));
    }
    if data.is_empty() {
        return PinOutcome::sw(if verified_now {
            StatusWord::Ok
        } else if pin.tries_left == 0 {
            StatusWord::AuthBlocked
        } else {
            StatusWord::TriesLeft(pin.tries_left)
        });
    }
    if data.len() > PIN_STORED_LEN {
        return PinOutcome::sw(StatusWord::WrongLength);
    }
    let Some(candidate) = normalise(data, pin.min_len, pin.max_len) else {
        return PinOutcome::sw(StatusWord::WrongData);
    };
    check(state, reference, &candidate)
}

/// The PIN that CHANGE REFERENCE DATA or RESET RETRY COUNTER would set: PIN1 or PIN2 of a live
/// card (the PUK cannot be set).
fn settable_pin(state: &CardState, reference: u8) -> Result<&StoredPin, PinOutcome> {
    let Some(pin) = state.pin(reference) else {
        return Err(PinOutcome::sw(StatusWord::ReferenceNotFound));
    };
    if state.dead {
        return Err(PinOutcome::sw(dead_sw(state, reference)));
    }
    if reference == state.puk_reference() {
        return Err(PinOutcome::sw(StatusWord::ConditionsNotSatisfied));
    }
    Ok(pin)
}

/// CHANGE REFERENCE DATA: old code (8, padded) then new code (8, padded). The PUK cannot change.
pub(crate) fn change(state: &mut CardState, reference: u8, data: &[u8]) -> PinOutcome {
    let pin = match settable_pin(state, reference) {
        Ok(pin) => pin,
        Err(refused) => return refused,
    };
    if data.len() != 2 * PIN_STORED_LEN {
        return PinOutcome::sw(StatusWord::WrongLength);
    }
    let (old, new) = data.split_at(PIN_STORED_LEN);
    let (Some(old), Some(new)) = (
        normalise(old, pin.min_len, pin.max_len),
        normalise(new, pin.min_len, pin.max_len),
    ) else {
        return PinOutcome::sw(StatusWord::WrongData);
    };
    let outcome = check(state, reference, &old);
    if outcome.sw != StatusWord::Ok {
        return outcome;
    }
    if let Some(pin) = state.pin_mut(reference) {
        pin.value = *new;
    }
    PinOutcome {
        sw: StatusWord::Ok,
        changed: true,
        verified: Some(true),
    }
}

/// RESET RETRY COUNTER (P1 00): PUK (8) then the new PIN (padded to 8, or not). The new PIN's format is
/// checked first so a typo never costs a PUK try.
pub(crate) fn unblock(state: &mut CardState, reference: u8, data: &[u8]) -> PinOutcome {
    let pin = match settable_pin(state, reference) {
        Ok(pin) => pin,
        Err(refused) => return refused,
    };
    let puk_ref = state.puk_reference();
    let Some(puk) = state.pin(puk_ref) else {
        return PinOutcome::sw(StatusWord::ReferenceNotFound);
    };
    // The PUK always fills its 8 bytes, so the new PIN may come padded or not (OpenSC sends
    // it unpadded when the PIN object lacks the needs-padding flag).
    if data.len() < PIN_STORED_LEN + pin.min_len || data.len() > 2 * PIN_STORED_LEN {
        return PinOutcome::sw(StatusWord::WrongLength);
    }
    let (puk_part, new_part) = data.split_at(PIN_STORED_LEN);
    let (Some(new), Some(puk_code)) = (
        normalise(new_part, pin.min_len, pin.max_len),
        normalise(puk_part, puk.min_len, puk.max_len),
    ) else {
        return PinOutcome::sw(StatusWord::WrongData);
    };
    let outcome = check(state, puk_ref, &puk_code);
    if outcome.sw != StatusWord::Ok {
        return PinOutcome {
            verified: None,
            ..outcome
        };
    }
    if let Some(pin) = state.pin_mut(reference) {
        pin.value = *new;
        pin.tries_left = pin.max_tries;
    }
    PinOutcome {
        sw: StatusWord::Ok,
        changed: true,
        verified: Some(false),
    }
}
