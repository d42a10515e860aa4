//! The virtual card's second layout [ours]: an IDPrime card as stock OpenSC's `idprime` driver
//! reads it (card-idprime.c, pkcs15-idprime.c), so the independent peer can read and use a
//! card laid out like a current SITHS card. See docs/domain.md "The IDPrime layout".

pub(crate) mod os;
pub mod personalise;

#[cfg(test)]
mod tests;
