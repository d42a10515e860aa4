//! The desktop window: a face on the same card operations and workflows the CLI uses.
//!
//! - [`protocol`]: what the window and the worker say to each other.
//! - [`worker`]: the thread that owns PC/SC, the card and the network.
//! - [`demo`]: the in-process demo card and CA mock.

pub mod demo;
pub mod protocol;
pub mod worker;
