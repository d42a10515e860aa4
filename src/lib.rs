//! siths-upgrade: read, unblock and upgrade SITHS smart cards, with a virtual card for offline use.
//!
//! Layers, bottom up: [`apdu`] → [`transport`] (PC/SC or in-process) → [`channel`] (chaining,
//! GET RESPONSE) → [`card`] (the SITHS PKCS#15 application) → workflows and the CLI. The
//! [`virtual_card`] is the other end of both transports. See ARCHITECTURE.md.

pub mod apdu;
pub mod audit;
pub mod ca;
pub mod card;
pub mod channel;
pub mod cli;
pub mod gui;
pub mod idprime;
pub mod layout;
pub mod paths;
pub mod pkcs11;
pub mod pkcs15;
pub mod pki;
pub mod private_file;
pub mod provision;
pub mod report;
pub mod transport;
pub mod virtual_card;
pub mod workflow;
