//! How one card behind the card interface is shared between threads, apart from the interface
//! itself so that the backends implementing it know nothing of the sharing.

use std::sync::{Arc, Mutex, MutexGuard};

use super::interface::Card;

/// One card shared by the workflow, the TLS signer (called on reqwest's worker thread) and the
/// CSR signer; the mutex keeps their operations apart. Never hold the lock across a CA call: a
/// TLS handshake needs the card and would wait for ever.
pub type SharedCard = Arc<Mutex<Box<dyn Card>>>;

/// Wrap a card for sharing.
pub fn share(card: impl Card + 'static) -> SharedCard {
    Arc::new(Mutex::new(Box::new(card)))
}

/// Lock a shared card even if a thread panicked while holding it: each card operation stands
/// alone, so the card is still usable.
pub fn lock(card: &SharedCard) -> MutexGuard<'_, Box<dyn Card>> {
    card.lock().unwrap_or_else(|p| p.into_inner())
}
