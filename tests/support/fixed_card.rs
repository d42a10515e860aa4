//! A card that answers every command with one status word and keeps nothing: for tests of the
//! host side alone (a card without the SITHS application, a card that says yes to every code).

use siths_upgrade::transport::{Transmit, Transport, TransportError};

pub struct FixedCard(pub u16);

impl Transmit for FixedCard {
    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.to_be_bytes().to_vec())
    }
}

impl Transport for FixedCard {
    fn reader_name(&self) -> &str {
        "Test reader"
    }
    fn atr(&self) -> &[u8] {
        &[0x3B, 0x00]
    }
    fn transaction(
        &mut self,
        body: &mut dyn FnMut(&mut dyn Transmit),
    ) -> Result<(), TransportError> {
        body(self);
        Ok(())
    }
}
