//! Every PKCS#11 return value becomes, in this one place, a typed error whose message names the
//! next step.

use cryptoki::error::{Error, RvError};

use crate::card::{CardError, PinKind};
use crate::transport::TransportError;

/// What only the PKCS#11 path can end in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pkcs11Error {
    #[error(
        "no PKCS#11 module {0} was found: install your card's middleware (SafeNet Authentication \
         Client, Net iD or OpenSC), or give the module's full path with --pkcs11"
    )]
    ModuleNotFound(String),
    #[error(
        "the PKCS#11 module {module} cannot be loaded ({detail}): reinstall the card's \
         middleware, or give the path of another module with --pkcs11"
    )]
    ModuleUnloadable { module: String, detail: String },
    #[error(
        "the PKCS#11 module {0} sees no card: insert your SITHS card and check that the \
         middleware sees the card reader"
    )]
    NoToken(String),
    #[error(
        "the PKCS#11 module sees no card named {wanted} (it sees: {seen}): insert that card, or \
         name one of those"
    )]
    TokenNotFound { wanted: String, seen: String },
    #[error(
        "the PKCS#11 module shows several SITHS cards ({}): name the one to use with \
         --reader (its label or serial)",
        .cards.iter().map(|c| c.describe()).collect::<Vec<_>>().join("; ")
    )]
    SeveralCards { cards: Vec<super::TokenCard> },
    #[error(
        "the PKCS#11 module shows no SITHS card, only {tokens}: insert your SITHS card; these \
         tokens are left as they are"
    )]
    NotSiths { tokens: String },
    #[error("an empty card name matches every card: give the card's label or serial")]
    EmptyName,
    #[error(
        "this middleware cannot {action} on the card ({function} is not supported): use the \
         card's own middleware (SafeNet Authentication Client in Inera's SITHS eID app) or \
         contact the service centre"
    )]
    NotSupported {
        action: &'static str,
        function: String,
    },
    #[error(
        "this middleware checks the signing PIN (PIN2) only when you sign, and changes or \
         unblocks it only in its own program: use the middleware's tool (e.g. SafeNet \
         Authentication Client) for PIN2"
    )]
    Pin2InMiddleware,
    #[error(
        "the card's middleware refused to {action} ({rv}): take the card out, put it back and \
         try again; if it happens again, contact the service centre"
    )]
    Failed { action: &'static str, rv: String },
}

/// Map a failed PKCS#11 call made to `action` (in words) with, or needing, the code `kind`.
///
/// A wrong code comes back as [`CardError::WrongCode`] with the most tries the flags allow; the
/// caller that can read the token's flags narrows it (see `Pkcs11Card::wrong_code`).
pub(crate) fn card_error(e: Error, action: &'static str, kind: PinKind) -> CardError {
    let (rv, function) = match e {
        Error::Pkcs11(rv, function) => (rv, function),
        other => {
            return CardError::Pkcs11(Pkcs11Error::Failed {
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
        | RvError::KeySizeRange => CardError::Pkcs11(Pkcs11Error::NotSupported {
            action,
            function: format!("{function:?}"),
        }),
        rv => CardError::Pkcs11(Pkcs11Error::Failed {
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
