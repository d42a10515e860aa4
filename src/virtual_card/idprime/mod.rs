//! The virtual card's second layout [ours]: an IDPrime card as stock OpenSC's `idprime` driver
//! reads it (card-idprime.c, pkcs15-idprime.c), so the independent peer can read and use a
//! card laid out like a current SITHS card, plus our extensions for what no public source
//! describes (writing it). See docs/domain.md "The IDPrime layout".
//!
//! `os` dispatches and answers the file reads and writes; `pins`, `keys` and `fs` the codes,
//! the keys and signatures, and CREATE/DELETE FILE; `session` what they share.

mod fs;
mod keys;
pub(crate) mod os;
pub mod personalise;
mod pins;
mod session;

#[cfg(test)]
mod extension_tests;
#[cfg(test)]
mod tests;
