//! Every PKCS#11 return value (`CKR_*`) is mapped, in this one place, onto the shared card
//! errors ([`CardError`], [`MiddlewareError`]), each naming the next step.

use cryptoki::error::{Error, RvError};

use crate::card::{CardError, MiddlewareError, PinKind};
use crate::transport::TransportError;

/// Map a failed PKCS#11 call made to `action` (in words) with, or needing, the code `kind`.
///
/// A wrong code comes back as [`CardError::WrongCode`] with the most tries the flags allow; the
/// caller that can read the token's flags narrows it (see `Pkcs11Card::wrong_code`).
pub(crate) fn card_error(e: Error, action: &'static str, kind: PinKind) -> CardError {
    let (rv, function) = match e {
        Error::Pkcs11(rv, function) => (rv, function),
        other => {
            return CardError::Middleware(MiddlewareError::Failed {
                action,
                rv: other.to_string(),
            });
        }
    };
    match rv {
        RvError::PinIncorrect => CardError::WrongCode {
            kind,
            tries_left: max_tries(kind).saturating_sub(1),
        },
        RvError::PinLocked if kind == PinKind::Puk => CardError::CardDead,
        RvError::PinLocked => CardError::Blocked(kind),
        RvError::PinLenRange | RvError::PinInvalid | RvError::PinTooWeak => {
            CardError::NewPinRefused
        }
        RvError::UserNotLoggedIn | RvError::UserPinNotInitialized => CardError::NotVerified(kind),
        RvError::DeviceRemoved
        | RvError::TokenNotPresent
        | RvError::SessionHandleInvalid
        | RvError::SessionClosed => CardError::Transport(TransportError::CardRemoved),
        RvError::DeviceMemory => CardError::CardFull,
        RvError::FunctionNotSupported
        | RvError::MechanismInvalid
        | RvError::MechanismParamInvalid
        | RvError::TokenWriteProtected
        | RvError::AttributeTypeInvalid
        | RvError::AttributeValueInvalid
        | RvError::TemplateInconsistent
        | RvError::KeySizeRange => CardError::Middleware(MiddlewareError::NotSupported {
            action,
            function: format!("{function:?}"),
        }),
        rv => CardError::Middleware(MiddlewareError::Failed {
            action,
            rv: format!("{function:?}: {rv}"),
        }),
    }
}

/// The tries a SITHS card gives each code [public]: 3 for a PIN, 10 for the PUK.
pub(crate) fn max_tries(kind: PinKind) -> u8 {
    match kind {
        PinKind::Puk => crate::layout::PUK_MAX_TRIES,
        _ => crate::layout::PIN_MAX_TRIES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    fn rv(rv: RvError, f: Function) -> CardError {
        card_error(Error::Pkcs11(rv, f), "generate a key", PinKind::Pin1)
    }

    #[test]
    fn every_outcome_names_what_to_do() {
        assert_eq!(
            rv(RvError::PinLocked, Function::Login),
            CardError::Blocked(PinKind::Pin1)
        );
        assert_eq!(
            card_error(
                Error::Pkcs11(RvError::PinLocked, Function::Login),
                "unblock",
                PinKind::Puk
            ),
            CardError::CardDead
        );
        assert_eq!(
            rv(RvError::DeviceRemoved, Function::Sign),
            CardError::Transport(TransportError::CardRemoved)
        );
        let unsupported = rv(RvError::FunctionNotSupported, Function::GenerateKeyPair);
        let text = unsupported.to_string();
        assert!(text.contains("cannot generate a key"), "{text}");
        assert!(text.contains("SafeNet Authentication Client"), "{text}");
        let other = rv(RvError::GeneralError, Function::Sign).to_string();
        assert!(other.contains("take the card out"), "{other}");
        assert_eq!(
            rv(RvError::PinIncorrect, Function::Login),
            CardError::WrongCode {
                kind: PinKind::Pin1,
                tries_left: 2
            }
        );
    }
}
