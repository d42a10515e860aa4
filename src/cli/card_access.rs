//! Which card a command works on, from its flags (`--virtual-card`, `--pkcs11`, `--reader`),
//! opened through the one `card::open`, and logged out of when the command ends.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::card::Card;
use crate::cli::exit::CliError;
use crate::virtual_card::VirtualCard;

/// Where the card is: a virtual card's state file, a PKCS#11 module, or else PC/SC.
#[derive(Debug, Clone, Copy, Default)]
pub struct CardAccess<'a> {
    pub virtual_card: Option<&'a Path>,
    pub pkcs11: Option<&'a str>,
}

/// Connect to the card the user pointed at and check it is a SITHS card. `reader` names the
/// PC/SC reader, or for PKCS#11 the token (its label or its slot's description).
pub fn open_card(access: CardAccess<'_>, reader: Option<&str>) -> Result<Box<dyn Card>, CliError> {
    if reader.is_some_and(|r| r.trim().is_empty()) {
        return Err(CliError::usage(
            "--reader is empty, and an empty name would match every reader and card: give the \
             reader's name, or for --pkcs11 the card's label or serial",
        ));
    }
    let reader = reader.map(str::to_string);
    let access = match (access.pkcs11, access.virtual_card) {
        (Some(module), _) => crate::card::Access::Pkcs11 {
            module: module.to_string(),
            token: reader,
        },
        (None, Some(path)) => {
            crate::card::Access::InProcess(Arc::new(Mutex::new(VirtualCard::open(path)?)))
        }
        (None, None) => crate::card::Access::Reader(reader),
    };
    Ok(crate::card::open(access)?)
}

/// No card stays logged in after a command: a failure here (a card already pulled) only logs.
pub(crate) fn log_out(card: &mut dyn Card) {
    if let Err(e) = card.end_session() {
        log::debug!("could not log out of the card: {e}");
    }
}
