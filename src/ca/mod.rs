//! The certificate authority side: profiles, EST's PKCS#7 messages, and (in submodules) the CA
//! client that logs in with the card and the CA mock used offline.
//!
//! - [`contract`]: the wire contract both sides share (paths, media types, JSON bodies).
//! - [`client`]: the client; [`tls`] its mutual TLS with the card's key; [`error`] what fails.
//! - [`roots`]: the configured root file, read once for TLS and for [`check`].
//! - [`mock`]: the CA mock.

pub mod check;
pub mod client;
pub mod contract;
pub mod csr;
pub mod error;
pub mod mock;
pub mod pkcs7;
pub mod profile;
pub mod refusal_code;
pub mod roots;
pub mod tls;

pub use profile::{IdentityKind, Profile};
pub use refusal_code::RefusalCode;
