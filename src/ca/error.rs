//! What can go wrong talking to the CA. Its own module so that the TLS setup, the root file and
//! the client all report through one type without depending on each other.
//!
//! Every variant says whether the card was touched and what to do next, so the upgrade workflow
//! can stop cleanly at any request and be resumed later.

use crate::card::{CardError, PinKind};

use super::refusal_code::RefusalCode;

const NOTHING_CHANGED: &str = "nothing on the card was changed";

/// What can go wrong talking to the CA, each with the next step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaError {
    #[error(
        "the CA at {url} cannot be reached ({detail}): check the CA address and your network, \
         then try again; {NOTHING_CHANGED}"
    )]
    Unreachable { url: String, detail: String },
    #[error(
        "the CA's server certificate is not trusted ({0}): check that the CA root file is the \
         CA's root.pem and that the address is the CA's; {NOTHING_CHANGED}"
    )]
    ServerNotTrusted(String),
    #[error(
        "the CA refused this card's certificate ({0}): the card's login certificate is not one \
         the CA accepts; contact the service centre; {NOTHING_CHANGED}"
    )]
    ClientCertRefused(String),
    #[error(
        "the secure connection to the CA failed ({0}): check the CA address, then try again; \
         {NOTHING_CHANGED}"
    )]
    Tls(String),
    #[error(
        "the card would not sign the login to the CA because the identification PIN (PIN1) is \
         not verified: verify PIN1 first, then connect again; {NOTHING_CHANGED}"
    )]
    PinNotVerified,
    #[error("the card could not sign for the CA: {0}")]
    CardSigning(CardError),
    #[error("the CA refused: {message} ({code}, HTTP {status})")]
    Refused {
        status: u16,
        code: RefusalCode,
        message: String,
    },
    #[error(
        "the CA's answer could not be understood ({0}): check that the address is the CA's, \
         then try again; {NOTHING_CHANGED}"
    )]
    Malformed(String),
    #[error("the CA connection cannot be set up: {0}")]
    Config(String),
    #[error("the certificate request could not be built ({0}); {NOTHING_CHANGED}")]
    Csr(String),
}

impl CaError {
    /// The machine-readable code of a CA refusal.
    pub fn refusal_code(&self) -> Option<RefusalCode> {
        match self {
            CaError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// A card that would not sign the TLS login: an unverified PIN1 is the holder's to fix.
    pub(crate) fn from_card(e: CardError) -> CaError {
        match e {
            CardError::NotVerified(PinKind::Pin1) => CaError::PinNotVerified,
            other => CaError::CardSigning(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_errors_map_to_next_steps() {
        assert_eq!(
            CaError::from_card(CardError::NotVerified(PinKind::Pin1)),
            CaError::PinNotVerified
        );
        assert!(
            CaError::PinNotVerified
                .to_string()
                .contains("verify PIN1 first")
        );
        assert!(matches!(
            CaError::from_card(CardError::CardDead),
            CaError::CardSigning(CardError::CardDead)
        ));
    }
}
