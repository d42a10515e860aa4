//! The card's key slots as one type that knows its PIN, its certificate file and its PKCS#11 id,
//! so no caller has to remember which numbers mean what.
//!
//! Slots 1-4 hold authentication keys (PIN1), 5-8 signing keys (PIN2), fixed when the card is
//! made [ours]. On a PKCS#11 token a slot is the key's `CKA_ID` of one byte; keys with other ids
//! are mapped onto the free slots of their PIN by the PKCS#11 backend.

use std::fmt;

use crate::card::PinKind;
use crate::layout;

/// One of the card's eight key slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeySlot(u8);

impl KeySlot {
    /// Every slot, authentication slots first.
    pub const ALL: [KeySlot; 8] = [
        KeySlot(1),
        KeySlot(2),
        KeySlot(3),
        KeySlot(4),
        KeySlot(5),
        KeySlot(6),
        KeySlot(7),
        KeySlot(8),
    ];

    /// The slot with this number (1-8), or None for a number no card of ours has.
    pub const fn new(number: u8) -> Option<KeySlot> {
        if number >= 1 && number <= 8 {
            Some(KeySlot(number))
        } else {
            None
        }
    }

    /// The slot's key reference on the card (MSE, GENERATE, the PrKDF's keyReference).
    pub const fn number(self) -> u8 {
        self.0
    }

    /// The PIN that guards this slot's key.
    pub const fn pin(self) -> PinKind {
        if self.0 <= 4 {
            PinKind::Pin1
        } else {
            PinKind::Pin2
        }
    }

    /// The EF that holds the certificate of this slot's key (our layout).
    pub fn cert_fid(self) -> u16 {
        layout::cert_fid(self.0)
    }

    /// The id that links this slot's key and certificate: the PKCS#15 id on our card and the
    /// `CKA_ID` on a PKCS#11 token.
    pub fn id(self) -> [u8; 1] {
        [self.0]
    }

    /// The label a key gets when this program generates it in this slot, before a certificate
    /// is written for it: part of how a half-made key is told from someone else's.
    pub fn generation_label(self) -> String {
        format!("siths-upgrade key {}", self.0)
    }

    /// The slot an id of one byte names, as [`KeySlot::id`] writes it.
    pub fn from_id(id: &[u8]) -> Option<KeySlot> {
        match id {
            [n] => KeySlot::new(*n),
            _ => None,
        }
    }
}

impl fmt::Display for KeySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key slot {}", self.0)
    }
}

impl serde::Serialize for KeySlot {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_know_their_pin_and_id() {
        assert_eq!(KeySlot::new(0), None);
        assert_eq!(KeySlot::new(9), None);
        for slot in KeySlot::ALL {
            assert_eq!(KeySlot::from_id(&slot.id()), Some(slot));
            let expected = if slot.number() <= 4 {
                PinKind::Pin1
            } else {
                PinKind::Pin2
            };
            assert_eq!(slot.pin(), expected);
            assert_eq!(layout::slot_pin(slot.number()), slot.pin().reference());
        }
        assert_eq!(KeySlot::from_id(&[1, 2]), None);
    }
}
