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
pub mod idprime;
mod keys;
pub mod memory;
pub mod pace;
pub mod personalise;
mod pin_code;
mod pins;
mod shared;
mod state;
mod state_encoding;
pub mod vpcd;

#[cfg(test)]
mod tests;

pub use engine::{CardPulled, VirtualCard};
pub use pace::{Pace, PaceSpent};
pub use shared::{SharedVirtualCard, lock_virtual_card, share_virtual_card};
pub use state::{BuildError, CardState, Df, Ef, Layout, MAX_EF_CAPACITY, StateError, StoredPin};
