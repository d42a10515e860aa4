//! The one place that opens a card, for the CLI and the window's worker alike.
//!
//! Where the card is reached is a choice among three ([`Access`]); each ends in a [`Card`] that
//! holds the SITHS application, so no caller knows which backend it got. This is the only part
//! of `card` that knows the backends by name: a third backend is one more variant here.

use crate::card::{Card, CardError, SithsCard};
use crate::transport::pcsc::PcscTransport;
use crate::virtual_card;
use crate::virtual_card::memory::MemoryTransport;

/// Where the card is.
#[derive(Clone)]
pub enum Access {
    /// The in-process virtual card (the demo's, or one loaded from its state file): the
    /// caller loads it, since a state file that cannot be read is the caller's to word.
    InProcess(virtual_card::SharedVirtualCard),
    /// A PC/SC reader by name; None: the first reader with a card.
    Reader(Option<String>),
    /// A token of a PKCS#11 module (the card's middleware): `module` is a path or a known name
    /// (`crate::pkcs11::discovery`); `token` is the card's label or serial, None: the one SITHS
    /// card the module shows (several are a question, an empty name is refused).
    Pkcs11 {
        module: String,
        token: Option<String>,
    },
}

/// Connect to the card at `access` and check that it is a SITHS card.
pub fn open(access: Access) -> Result<Box<dyn Card>, CardError> {
    match access {
        Access::InProcess(card) => Ok(Box::new(SithsCard::open(Box::new(
            MemoryTransport::connect(card)?,
        ))?)),
        Access::Reader(reader) => Ok(Box::new(SithsCard::open(Box::new(
            PcscTransport::connect(reader.as_deref())?,
        ))?)),
        Access::Pkcs11 { module, token } => {
            let path = crate::pkcs11::discovery::resolve(&module)?;
            Ok(Box::new(crate::pkcs11::Pkcs11Card::open(
                &path,
                token.as_deref(),
            )?))
        }
    }
}
