//! Which of the two card applications the apdu backend is talking to, and what differs
//! between them on the wire: the application's AID, the codes' references and padding, and
//! which key reference holds a key slot. Everything else a card does (files, listings) lives
//! in `card::files` (our PKCS#15 layout) and `card::idprime` (the IDPrime card).
//!
//! The card is recognised by its answer to the application select, never by a setting: a
//! reader may hold either kind of card, and the holder may swap it between two operations.

use zeroize::Zeroizing;

use crate::apdu::{Command, StatusWord};
use crate::card::{CardError, KeySlot, PinKind, SecretCode};
use crate::channel::Channel;
use crate::idprime::{extensions, files as idprime_files};
use crate::layout;

/// The card application this session found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Our PKCS#15 application (docs/domain.md "The virtual SITHS card").
    Pkcs15,
    /// A Thales IDPrime card as OpenSC's `idprime` driver reads it, with our extensions for
    /// what no public source describes (docs/domain.md "The IDPrime layout").
    Idprime,
}

impl Dialect {
    /// The application's SELECT: ours answers its FCI; the IDPrime applet is selected as
    /// OpenSC selects it, without an answer (a real card may refuse P2 `00`).
    fn select_command(self) -> Command {
        match self {
            Dialect::Pkcs15 => Command::select_aid(&layout::PKCS15_AID),
            Dialect::Idprime => Command::select_aid_no_answer(&idprime_files::AID),
        }
    }

    fn other(self) -> Dialect {
        match self {
            Dialect::Pkcs15 => Dialect::Idprime,
            Dialect::Idprime => Dialect::Pkcs15,
        }
    }

    /// Select the application, trying the one this session last found first (one APDU in
    /// the common case), then the other: another card may be in the reader now. Which one
    /// answered is the dialect from here on.
    pub(crate) fn select(ch: &mut Channel<'_>, dialect: &mut Dialect) -> Result<(), CardError> {
        for candidate in [*dialect, dialect.other()] {
            let r = ch.exchange(&candidate.select_command())?;
            match r.sw {
                StatusWord::Ok => {
                    *dialect = candidate;
                    return Ok(());
                }
                StatusWord::FileNotFound
                | StatusWord::IncorrectP1P2
                | StatusWord::InsNotSupported
                | StatusWord::ClaNotSupported
                | StatusWord::WrongP1P2 => continue,
                sw => {
                    return Err(CardError::Refused {
                        operation: "SELECT",
                        sw,
                    });
                }
            }
        }
        Err(CardError::NotSiths)
    }

    /// The code's reference in VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER.
    pub(crate) fn pin_reference(self, kind: PinKind) -> u8 {
        match (self, kind) {
            (Dialect::Pkcs15, kind) => kind.reference(),
            (Dialect::Idprime, PinKind::Pin1) => idprime_files::PIN1_REF,
            (Dialect::Idprime, PinKind::Pin2) => idprime_files::PIN2_REF,
            (Dialect::Idprime, PinKind::Puk) => extensions::PUK_REF,
        }
    }

    /// The code as this card takes it: `FF`-padded to 8 bytes on ours, `00`-padded to 16 on
    /// an IDPrime card.
    pub(crate) fn padded(self, code: &SecretCode) -> Zeroizing<Vec<u8>> {
        match self {
            Dialect::Pkcs15 => code.padded(),
            Dialect::Idprime => code.padded_to(idprime_files::PIN_LEN, 0x00),
        }
    }

    /// Two padded codes in one buffer made at its final size, so no copy of either is left in
    /// a buffer given back by a reallocation.
    pub(crate) fn two_codes(self, first: &SecretCode, second: &SecretCode) -> Zeroizing<Vec<u8>> {
        let (a, b) = (self.padded(first), self.padded(second));
        let mut data = Zeroizing::new(Vec::with_capacity(a.len() + b.len()));
        data.extend_from_slice(&a);
        data.extend_from_slice(&b);
        data
    }

    /// The key reference of `slot`: the slot number on ours, the container's (`0x56` + N) on
    /// an IDPrime card.
    pub(crate) fn key_reference(self, slot: KeySlot) -> u8 {
        match self {
            Dialect::Pkcs15 => slot.number(),
            Dialect::Idprime => {
                // Every slot has a container (extensions::container_of_slot covers 1-8).
                let index = extensions::container_of_slot(slot.number()).unwrap_or(0);
                idprime_files::key_reference(index)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_keys_are_named_per_dialect() {
        let pin = SecretCode::pin("123456".into()).unwrap();
        assert_eq!(&Dialect::Pkcs15.padded(&pin)[..], b"123456\xFF\xFF");
        let idprime = Dialect::Idprime.padded(&pin);
        assert_eq!(idprime.len(), 16);
        assert_eq!(&idprime[..8], b"123456\0\0");
        assert_eq!(Dialect::Idprime.pin_reference(PinKind::Pin1), 0x11);
        assert_eq!(Dialect::Idprime.pin_reference(PinKind::Pin2), 0x83);
        assert_eq!(Dialect::Idprime.pin_reference(PinKind::Puk), 0x85);
        assert_eq!(Dialect::Pkcs15.pin_reference(PinKind::Pin2), 0x02);
        let slot = |n| KeySlot::new(n).unwrap();
        assert_eq!(Dialect::Idprime.key_reference(slot(1)), 0x56);
        assert_eq!(Dialect::Idprime.key_reference(slot(5)), 0x57);
        assert_eq!(Dialect::Idprime.key_reference(slot(7)), 0x5B);
        assert_eq!(Dialect::Pkcs15.key_reference(slot(7)), 7);
    }
}
