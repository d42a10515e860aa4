//! One card interface, two backends.
//!
//! The workflows, the CLI, the window and the desk talk to a [`Card`]: read the overview, the
//! PINs and the PUK, keys, signatures, certificates. Behind it sit two backends:
//!
//! - **apdu** ([`SithsCard`]): our PKCS#15 layout through ISO 7816-4 APDUs, over PC/SC or the
//!   in-process virtual card;
//! - **pkcs11** ([`crate::pkcs11::Pkcs11Card`]): any card through its middleware's PKCS#11
//!   module, which is how real SITHS cards are reached.
//!
//! Types shared by both (the overview, PIN kinds and rules, key slots, errors) live here, so a
//! caller never knows which backend it has.

pub mod dialect;
pub mod error;
pub(crate) mod files;
pub(crate) mod idprime;
mod interface;
pub mod middleware;
pub mod new_pin;
mod open;
pub mod overview;
pub mod pin;
mod shared;
pub mod siths;
pub mod slot;
mod source;

pub use error::CardError;
pub use interface::{Card, PublicKey, SignatureScheme};
pub use middleware::{CardChoice, MiddlewareError};
pub use open::{Access, open};
pub use overview::{CardCertificate, CardOverview, KeyEntry, PinStatus, TriesKnown};
pub use pin::{PinKind, PinRuleError, SecretCode};
pub use shared::{SharedCard, lock, share};
pub use siths::SithsCard;
pub use slot::KeySlot;
pub use source::CardSource;
