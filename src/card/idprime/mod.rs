//! The apdu backend on an IDPrime card: the files stock OpenSC's `idprime` driver reads
//! (the index 0101, cardid, cmapfile, the key map 0005, compressed certificates) and our
//! extensions for what no public source describes (key generation, certificate writing and
//! removal, the PUK), all in docs/domain.md "The IDPrime layout".
//!
//! What differs only in a reference or a padding (VERIFY, CHANGE REFERENCE DATA, RESET RETRY
//! COUNTER, GENERATE, MSE SET, DELETE KEY) is [`super::dialect::Dialect`]'s business and shared
//! with the PKCS#15 layout in `SithsCard`; what is here is what the IDPrime card does its own
//! way: its files and the two-step signature.

mod card_files;
pub(crate) mod overview;
pub(crate) mod pairs;

use crate::apdu::{Command, StatusWord};
use crate::card::{CardError, KeySlot};
use crate::channel::Channel;

/// The IDPrime signature after MSE SET: the hash handed over first (the card echoes it), then
/// the signature over it [public: card-idprime.c `idprime_compute_signature`].
pub(crate) fn sign_held_hash(
    ch: &mut Channel<'_>,
    slot: KeySlot,
    sha256: &[u8; 32],
) -> Result<Vec<u8>, CardError> {
    let r = ch.exchange(&Command::pso_hash(sha256))?;
    match r.sw {
        StatusWord::Ok if r.data == sha256 => {}
        StatusWord::Ok => {
            return Err(CardError::Malformed(
                "the card echoed another hash than the one to sign".into(),
            ));
        }
        sw => {
            return Err(CardError::from_key_status(
                sw,
                slot,
                "PERFORM SECURITY OPERATION (hash)",
            ));
        }
    }
    let r = ch.exchange(&Command::pso_signature_of_held_hash())?;
    match r.sw {
        StatusWord::Ok => Ok(r.data),
        sw => Err(CardError::from_key_status(
            sw,
            slot,
            "COMPUTE DIGITAL SIGNATURE",
        )),
    }
}
