//! One virtual card shared by the doors that serve it (in-process transport, vpcd link) and by
//! tests that pull it or inspect its state. Named apart from the card interface's shared card
//! (`card::SharedCard`), which is any card behind that interface, not this card's hardware.

use std::sync::{Arc, Mutex, MutexGuard};

use super::engine::VirtualCard;

/// The card in its (virtual) reader, reachable from several threads.
pub type SharedVirtualCard = Arc<Mutex<VirtualCard>>;

/// Wrap a card for sharing.
pub fn share_virtual_card(card: VirtualCard) -> SharedVirtualCard {
    Arc::new(Mutex::new(card))
}

/// Lock a shared card even if a thread panicked while holding it: the card's state is saved
/// after every change, so what is in memory is still the card.
pub fn lock_virtual_card(card: &SharedVirtualCard) -> MutexGuard<'_, VirtualCard> {
    card.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
