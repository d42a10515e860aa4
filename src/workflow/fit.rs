//! Whether a certificate the CA already issued can go onto this card. A module of its own because
//! both the fetching of existing certificates and the workflows' error (`NotWritable`) speak of
//! it, and neither may import the other.

use crate::ca::check::CertCheckError;
use crate::card::KeySlot;

/// Where a certificate the CA holds would go on this card, or why it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// The card holds the matching key in this slot; the certificate can be written there.
    Writable(KeySlot),
    /// The card already lists this certificate.
    AlreadyOnCard,
    /// No key on this card matches: it was made on another card.
    KeyNotOnCard,
    /// The certificate is no longer valid.
    Expired,
    /// The card holds its key, but in another slot than its kind of certificate's, or in a slot
    /// that holds another certificate.
    WrongSlot(KeySlot),
    /// It fails the checks every certificate passes before it touches the card.
    FailsChecks(CertCheckError),
}

impl Fit {
    /// Plain words for why a certificate can or cannot go onto this card.
    pub fn explain(&self) -> String {
        match self {
            Fit::Writable(slot) => format!("can be written to this card ({slot})"),
            Fit::AlreadyOnCard => "already on this card".into(),
            Fit::KeyNotOnCard => {
                "cannot go onto this card: its private key is on another card, and keys never leave a card"
                    .into()
            }
            Fit::Expired => "has expired; it is of no use on a card".into(),
            Fit::WrongSlot(slot) => format!(
                "cannot go onto this card: its key is in {slot}, which holds another kind of \
                 certificate; contact the service centre"
            ),
            Fit::FailsChecks(e) => format!("cannot go onto this card: {e}"),
        }
    }
}
