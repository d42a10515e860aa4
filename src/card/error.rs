//! What a card operation can end in, each with the next step for the holder. The step is said in
//! the card's terms (the PUK, the service centre); which command or button does it is for the
//! command line (`cli::words`) and the window (`gui::words`) to say.

use crate::apdu::StatusWord;
use crate::card::KeySlot;
use crate::card::pin::{PinKind, PinRuleError};
use crate::transport::TransportError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    PinRule(#[from] PinRuleError),
    #[error(transparent)]
    Middleware(#[from] crate::card::MiddlewareError),
    #[error(
        "this card is not a SITHS card (it has no SITHS e-id application): insert your SITHS card"
    )]
    NotSiths,
    #[error("{}", wrong_code_message(*.kind, *.tries_left))]
    WrongCode { kind: PinKind, tries_left: u8 },
    #[error(
        "wrong {kind}, fewer than {max} tries left; the card's middleware does not say how many"
    )]
    WrongCodeFewer { kind: PinKind, max: u8 },
    #[error("{}", blocked_message(*.0))]
    Blocked(PinKind),
    #[error(
        "the PUK is blocked and the card can no longer be used: order a new card from the service centre"
    )]
    CardDead,
    #[error("the {0} must be verified first: enter it and try again")]
    NotVerified(PinKind),
    #[error("the new PIN was refused by the card: use 6 to 8 digits")]
    NewPinRefused,
    #[error("the PUK cannot be changed; only PIN1 and PIN2 can")]
    PukNotChangeable,
    #[error(
        "this card has no {0}: it came with one code for logging in and signing alike; use your PIN1"
    )]
    NoSuchCode(PinKind),
    #[error("{0} already holds a key")]
    SlotOccupied(KeySlot),
    #[error("{0} holds no key")]
    SlotEmpty(KeySlot),
    #[error("the card has no room left for this: remove a certificate pair first")]
    CardFull,
    #[error("the card's data is damaged ({0}): contact the service centre")]
    Malformed(String),
    #[error(
        "the card refused {operation} (status {sw}): take the card out, put it back and try again"
    )]
    Refused {
        operation: &'static str,
        sw: StatusWord,
    },
}

fn wrong_code_message(kind: PinKind, tries_left: u8) -> String {
    match (kind, tries_left) {
        (PinKind::Puk, n) => format!(
            "wrong PUK, {n} {} left; after the last one the card is blocked for good",
            tries(n)
        ),
        (_, 1) => format!(
            "wrong {kind}, 1 try left; if that is wrong too, the PIN is blocked and you need your PUK"
        ),
        (_, n) => format!("wrong {kind}, {n} {} left", tries(n)),
    }
}

fn tries(n: u8) -> &'static str {
    if n == 1 { "try" } else { "tries" }
}

fn blocked_message(kind: PinKind) -> String {
    match kind {
        PinKind::Puk => "the PUK is blocked: order a new card from the service centre".to_string(),
        _ => format!("the {kind} is blocked: unblock it with your PUK"),
    }
}

impl CardError {
    /// The holder can fix it themselves (a wrong or badly typed code) rather than the system.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            CardError::PinRule(_)
                | CardError::WrongCode { .. }
                | CardError::WrongCodeFewer { .. }
                | CardError::Blocked(_)
                | CardError::NotVerified(_)
                | CardError::NewPinRefused
                | CardError::PukNotChangeable
                | CardError::NoSuchCode(_)
        )
    }

    /// Map the status word of a key command (GENERATE, MSE, PSO, READ PUBLIC KEY) on `slot`.
    pub(crate) fn from_key_status(sw: StatusWord, slot: KeySlot, operation: &'static str) -> Self {
        match sw {
            StatusWord::ReferenceNotFound => CardError::SlotEmpty(slot),
            StatusWord::SecurityStatusNotSatisfied => CardError::NotVerified(slot.pin()),
            StatusWord::ReferenceDataNotUsable => CardError::CardDead,
            StatusWord::NotEnoughMemory => CardError::CardFull,
            sw => CardError::Refused { operation, sw },
        }
    }

    /// Map the status word of a PIN command for `kind`.
    pub(crate) fn from_pin_status(kind: PinKind, sw: StatusWord, operation: &'static str) -> Self {
        match sw {
            StatusWord::TriesLeft(0) | StatusWord::AuthBlocked if kind == PinKind::Puk => {
                CardError::CardDead
            }
            StatusWord::TriesLeft(0) | StatusWord::AuthBlocked => CardError::Blocked(kind),
            StatusWord::TriesLeft(n) => CardError::WrongCode {
                kind,
                tries_left: n,
            },
            StatusWord::ReferenceDataNotUsable => CardError::CardDead,
            StatusWord::WrongData => CardError::NewPinRefused,
            StatusWord::SecurityStatusNotSatisfied => CardError::NotVerified(kind),
            StatusWord::FileNotFound => CardError::NotSiths,
            // A card that came with one code has no PIN2 (an IDPrime card answers 6A88).
            StatusWord::ReferenceNotFound => CardError::NoSuchCode(kind),
            sw => CardError::Refused { operation, sw },
        }
    }
}
