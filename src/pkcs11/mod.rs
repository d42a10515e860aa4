//! The pkcs11 backend: a card through its middleware's PKCS#11 module, which is how real SITHS
//! cards are reached (SafeNet Authentication Client in Inera's SITHS eID app, Net iD, OpenSC).
//!
//! A two-PIN card shows up in one of three ways, and all are served:
//!
//! - **one token per PIN** (OpenSC, Net iD): "<card> (Legitimering)" holds the PIN1 keys and
//!   "<card> (Underskrift)" the PIN2 keys; each token's user PIN is that PIN and its SO PIN the
//!   PUK (OpenSC 0.24+ shows an IDPrime card as "<card>" and "<card> (Digital Signature PIN)");
//! - **one token** (SafeNet-style): the user PIN is PIN1, the PUK is the SO PIN, and the signing
//!   keys carry `CKA_ALWAYS_AUTHENTICATE`: PIN2 is given by a context-specific login at each
//!   signature, which is the only time such middleware checks it;
//! - **one PIN shown** (OpenSC 0.23 on an IDPrime card, a current SITHS card): one token, PIN1
//!   its user PIN, every key under it, no PIN2 and no PUK. The overview says they are not shown
//!   (`TriesKnown::NotShown`), and nothing asks for them or uses them
//!   (`MiddlewareError::PinNotShown`). OpenSC makes no keys there: `can_generate_keys` says so
//!   before a workflow starts.
//!
//! Keys and certificates are linked by `CKA_ID`. Ours are one byte, the [`KeySlot`] number. A
//! card personalised elsewhere gives its legacy pair other ids: an id whose certificate looks
//! like the legacy pair (an HSA-id authentication or signature certificate of no profile's CA)
//! is mapped onto a free legacy slot of its PIN, so the upgrade can log in with it and, once the
//! certificate is proven the holder's legacy one, remove it. Every other id (a decryption key,
//! another application's certificate) gets no slot: the overview lists it as the holder's
//! other objects, and no operation by slot can reach it.

mod card;
pub mod discovery;
mod error;
mod module;
mod objects;
mod raw;
mod tokens;

pub use card::Pkcs11Card;
pub use tokens::TokenCard;
