//! The IDPrime card's dialect, shared by the two ends that speak it: our APDU backend
//! (`card`) and the virtual card's IDPrime layout (`virtual_card::idprime`), as [`crate::pkcs15`]
//! is for the PKCS#15 layout. See docs/domain.md "The IDPrime layout".
//!
//! [`files`] holds what the public sources (OpenSC's `card-idprime.c` and `pkcs15-idprime.c`)
//! say a card holds; [`extensions`] what they do not say and this program decides [ours]: the
//! PUK, key generation, certificate writing and removal, PIN change and unblock, and which
//! container holds which of our key slots.

pub mod extensions;
pub mod files;
