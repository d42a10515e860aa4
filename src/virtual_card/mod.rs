//! The virtual SITHS card [ours]: an ISO 7816-4 card with a PKCS#15 application, whose memory
//! is one state file.
//!
//! One card, [`VirtualCard::respond`]: each APDU is parsed into a typed command (`command`),
//! answered by the card OS (`card_os`), whose handlers return the refusing status word as
//! their error; the reader around it (`engine`) adds fault injection and counters. Two doors
//! reach it: in-process through
//! [`crate::virtual_card::memory::MemoryTransport`], and a TCP link to pcscd's vpcd driver
//! ([`vpcd::serve`]) so the real pcscd, OpenSC and our PC/SC client see it as a reader. The
//! card OS treats file contents as opaque bytes; personalisation (the PKCS#15 files) is built on
//! top with the [`CardState`] builder. See docs/domain.md "The virtual SITHS card".

mod card_os;
mod command;
mod engine;
mod fs;
mod keys;
pub mod memory;
pub mod pace;
pub mod personalise;
mod pin_code;
mod pins;
mod state;
pub mod vpcd;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

pub use engine::{CardPulled, VirtualCard};
pub use pace::{Pace, PaceSpent};
pub use state::{BuildError, CardState, Df, Ef, MAX_EF_CAPACITY, Pin, StateError};

/// One card shared by the doors that serve it (in-process transport, vpcd link) and by tests
/// that pull it or inspect its state.
pub type SharedCard = Arc<Mutex<VirtualCard>>;

/// Wrap a card for sharing.
pub fn share(card: VirtualCard) -> SharedCard {
    Arc::new(Mutex::new(card))
}

/// Lock a shared card even if a thread panicked while holding it: the card's state is saved
/// after every change, so what is in memory is still the card.
pub fn lock(card: &SharedCard) -> std::sync::MutexGuard<'_, VirtualCard> {
    card.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
