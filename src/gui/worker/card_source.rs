//! Finding the card and reading it: the readers pcscd knows, or the demo's one virtual reader.
//! Each read opens a fresh connection, so a card swapped or re-inserted meanwhile is never
//! mistaken for the one read before.

use std::sync::MutexGuard;

use crate::card::{Access, Card, CardError, MiddlewareError, SharedCard};
use crate::gui::protocol::CardStatus;
use crate::transport::TransportError;
use crate::transport::pcsc::{ReaderInfo, list_readers};
use crate::virtual_card;

/// What one read found: the card's status, and the open card when it is ready for tasks.
pub(super) struct Found {
    pub status: CardStatus,
    pub card: Option<SharedCard>,
}

impl Found {
    fn status(status: CardStatus) -> Found {
        Found { status, card: None }
    }
}

/// The readers pcscd knows, or the status to show when there are none to look at.
pub(super) fn pcsc_readers() -> Result<Vec<ReaderInfo>, CardStatus> {
    list_readers().map_err(status_of_transport)
}

/// The reader to use: the configured one, or the first with a card. `Err` is what to show
/// instead of a card.
pub(super) fn choose_reader<'a>(
    readers: &'a [ReaderInfo],
    wanted: Option<&str>,
) -> Result<&'a ReaderInfo, CardStatus> {
    if readers.is_empty() {
        return Err(CardStatus::NoReader);
    }
    let chosen = match wanted {
        Some(name) => readers
            .iter()
            .find(|r| r.name == name)
            .ok_or(CardStatus::NoReader)?,
        None => readers
            .iter()
            .find(|r| r.card_present)
            .ok_or(CardStatus::NoCard)?,
    };
    if !chosen.card_present {
        return Err(CardStatus::NoCard);
    }
    if chosen.exclusive {
        return Err(CardStatus::InUse(chosen.name.clone()));
    }
    Ok(chosen)
}

/// Open the card at `access` ([`crate::card::open`], as the CLI does) and read it.
pub(super) fn read(access: Access) -> Found {
    match crate::card::open(access) {
        Ok(card) => open_card(card),
        Err(e) => Found::status(status_of_card(e)),
    }
}

/// Whether the demo's virtual card is in its reader (the window says "Reading" only then).
pub(super) fn demo_present(card: &virtual_card::SharedVirtualCard) -> bool {
    virtual_card::lock_virtual_card(card).is_present()
}

/// Read the overview of a card already open, whichever backend serves it.
pub(super) fn open_card(mut card: Box<dyn Card>) -> Found {
    match card.overview() {
        Ok(overview) => Found {
            status: CardStatus::Ready(Box::new(overview)),
            card: Some(std::sync::Arc::new(std::sync::Mutex::new(card))),
        },
        Err(e) => Found::status(status_of_card(e)),
    }
}

/// Lock the open card; a panic elsewhere does not make the card unusable.
pub(super) fn lock(card: &SharedCard) -> MutexGuard<'_, Box<dyn Card>> {
    crate::card::lock(card)
}

pub(super) fn status_of_card(e: CardError) -> CardStatus {
    match e {
        CardError::NotSiths => CardStatus::NotSiths,
        CardError::Middleware(MiddlewareError::NoToken(_)) => CardStatus::NoCard,
        CardError::Middleware(MiddlewareError::NotSiths { .. }) => CardStatus::NotSiths,
        CardError::Middleware(MiddlewareError::SeveralCards { cards }) => {
            CardStatus::ChooseCard(cards)
        }
        CardError::Transport(t) => status_of_transport(t),
        e => CardStatus::Unreadable(e),
    }
}

pub(super) fn status_of_transport(e: TransportError) -> CardStatus {
    match e {
        TransportError::NoService => CardStatus::NoService,
        TransportError::NoReader | TransportError::ReaderNotFound(_) => CardStatus::NoReader,
        TransportError::NoCard(_) | TransportError::CardRemoved => CardStatus::NoCard,
        TransportError::CardInUse(reader) => CardStatus::InUse(reader),
        e => CardStatus::Unreadable(CardError::Transport(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(name: &str, card: bool, exclusive: bool) -> ReaderInfo {
        ReaderInfo {
            name: name.into(),
            card_present: card,
            atr: if card { vec![0x3B, 0x00] } else { Vec::new() },
            exclusive,
        }
    }

    #[test]
    fn first_reader_with_a_card_unless_one_is_chosen() {
        let readers = [reader("A", false, false), reader("B", true, false)];
        assert_eq!(choose_reader(&readers, None).unwrap().name, "B");
        assert!(matches!(
            choose_reader(&readers, Some("A")),
            Err(CardStatus::NoCard)
        ));
        assert!(matches!(
            choose_reader(&readers, Some("C")),
            Err(CardStatus::NoReader)
        ));
        assert!(matches!(
            choose_reader(&[], None),
            Err(CardStatus::NoReader)
        ));
        assert!(matches!(
            choose_reader(&readers[..1], None),
            Err(CardStatus::NoCard)
        ));
        let held = [reader("A", true, true)];
        assert!(matches!(choose_reader(&held, None), Err(CardStatus::InUse(n)) if n == "A"));
    }

    #[test]
    fn transport_errors_become_what_the_start_screen_shows() {
        assert!(matches!(
            status_of_transport(TransportError::NoService),
            CardStatus::NoService
        ));
        assert!(matches!(
            status_of_card(CardError::Transport(TransportError::CardRemoved)),
            CardStatus::NoCard
        ));
        assert!(matches!(
            status_of_card(CardError::NotSiths),
            CardStatus::NotSiths
        ));
        assert!(matches!(
            status_of_transport(TransportError::Unresponsive),
            CardStatus::Unreadable(CardError::Transport(TransportError::Unresponsive))
        ));
    }
}
