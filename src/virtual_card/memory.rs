//! In-process transport: APDUs go straight into a [`VirtualCard`] in this process, with no
//! pcscd. Used by tests, the demo mode and the CA mock's tooling.
//!
//! It behaves like PC/SC where it matters to the layers above: a transaction holds the card
//! exclusively, a pulled card gives `CardRemoved`, and a handle made before the card was
//! re-inserted stays removed until the caller connects again.

use crate::transport::{Transmit, Transport, TransportError};

use super::engine::VirtualCard;
use super::shared::{SharedVirtualCard, lock_virtual_card};

/// The reader name the in-process card appears under.
pub const READER_NAME: &str = "Virtual SITHS card (in-process)";

/// A connection to a shared virtual card.
pub struct MemoryTransport {
    card: SharedVirtualCard,
    atr: Vec<u8>,
    /// The card's insertion count when we connected: a re-inserted card is a new card to us.
    insertion: u64,
}

impl MemoryTransport {
    /// Connect to the card; `NoCard` when it is not in the (virtual) reader.
    pub fn connect(card: SharedVirtualCard) -> Result<Self, TransportError> {
        let (atr, insertion) = {
            let guard = lock_virtual_card(&card);
            if !guard.is_present() {
                return Err(TransportError::NoCard(READER_NAME.to_string()));
            }
            (guard.atr().to_vec(), guard.insertions())
        };
        Ok(MemoryTransport {
            card,
            atr,
            insertion,
        })
    }

    /// The card behind this transport, for tests that pull it or look at its state.
    pub fn card(&self) -> &SharedVirtualCard {
        &self.card
    }
}

struct Link<'a> {
    card: &'a mut VirtualCard,
}

impl Transmit for Link<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.card
            .respond(command)
            .map_err(|_| TransportError::CardRemoved)
    }
}

impl Transport for MemoryTransport {
    fn reader_name(&self) -> &str {
        READER_NAME
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn transaction(
        &mut self,
        body: &mut dyn FnMut(&mut dyn Transmit),
    ) -> Result<(), TransportError> {
        let mut guard = lock_virtual_card(&self.card);
        if !guard.is_present() || guard.insertions() != self.insertion {
            return Err(TransportError::CardRemoved);
        }
        body(&mut Link { card: &mut guard });
        if !guard.is_present() {
            return Err(TransportError::CardRemoved);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::{Command, StatusWord};
    use crate::channel::{Channel, TransferStats};
    use crate::virtual_card::{CardState, share_virtual_card};

    fn shared() -> SharedVirtualCard {
        let mut state = CardState::new("9752");
        state
            .add_ef(0x3F00, 0x2F00, Some(0x1E), vec![7; 600], 1000)
            .unwrap();
        share_virtual_card(VirtualCard::new(state))
    }

    fn exchange(
        t: &mut MemoryTransport,
        cmd: &Command,
    ) -> Result<crate::apdu::Response, TransportError> {
        let mut out = None;
        let mut stats = TransferStats::default();
        t.transaction(&mut |tx| {
            out = Some(Channel::new(tx, &mut stats).exchange(cmd));
        })?;
        out.unwrap_or(Err(TransportError::Other("no answer".into())))
    }

    #[test]
    fn reads_through_the_channel() {
        let mut t = MemoryTransport::connect(shared()).unwrap();
        assert_eq!(t.reader_name(), READER_NAME);
        assert_eq!(t.atr()[0], 0x3B);
        let r = exchange(&mut t, &Command::get_data(0x005A)).unwrap();
        assert_eq!(r.data, b"9752");
        exchange(&mut t, &Command::select_path(&[0x2F, 0x00])).unwrap();
        let r = exchange(&mut t, &Command::read_binary(0, 256)).unwrap();
        assert_eq!((r.data.len(), r.sw), (256, StatusWord::Ok));
    }

    #[test]
    fn pulled_card_is_removed_until_reconnected() {
        let card = shared();
        let mut t = MemoryTransport::connect(card.clone()).unwrap();
        lock_virtual_card(&card).pull_after(0);
        assert_eq!(
            exchange(&mut t, &Command::get_data(0x005A)),
            Err(TransportError::CardRemoved)
        );
        assert_eq!(
            MemoryTransport::connect(card.clone()).err(),
            Some(TransportError::NoCard(READER_NAME.into()))
        );
        lock_virtual_card(&card).insert();
        // The old handle saw a removal; a new connection sees the card again.
        assert_eq!(
            exchange(&mut t, &Command::get_data(0x005A)),
            Err(TransportError::CardRemoved)
        );
        let mut t = MemoryTransport::connect(card).unwrap();
        assert!(exchange(&mut t, &Command::get_data(0x005A)).is_ok());
    }

    #[test]
    fn a_poisoned_lock_does_not_panic() {
        let card = shared();
        let c2 = card.clone();
        let _ = std::thread::spawn(move || {
            let _guard = c2.lock();
            panic!("poison the card's mutex");
        })
        .join();
        assert!(card.is_poisoned());
        let mut t = MemoryTransport::connect(card).unwrap();
        assert_eq!(
            exchange(&mut t, &Command::get_data(0x005A)).unwrap().data,
            b"9752"
        );
    }
}
