//! Shared test harness. Each test binary includes it with `mod support;` and uses a subset.
//!
//! - [`persons`]: the test persons of the CA mock's directory as named constants
//!   (`HOLDER`, `RENEWAL_DUE`, `OPERATOR`, …), each with HSA-id, personnummer and name; no test
//!   spells one itself.
//! - [`world`]: what `ca-mock init` makes, once per binary (in-process or from the command
//!   line), and the demo holder's pre-upgrade card made once without a CA.
//! - [`rig`]: `Rig`, a private copy of the world served in-process by the CA mock, with a
//!   holder's virtual card when the test names one; builder options for what differs, and each
//!   binary adds its own `impl Rig` block for what only it needs.
//! - [`served`]: the same as separate processes a user starts: `ServedCa` (`ca-mock serve`
//!   on a copy of the world) and `ServedCard` (a pcscd of its own and `virtual-card serve`).
//! - [`watched_card`]: `WatchedCard`, one wrapper around any card that counts each
//!   operation's APDUs and bytes and can pull the card at a chosen step.
//! - [`cli`]: our binary run as a separate process; [`pcscd`]: a pcscd in namespaces of its
//!   own; [`softhsm`]: SoftHSM2 tokens made from a virtual card.
//! - [`window`]: the window's fixed calendar, the demo world cache made at it, waits and
//!   steady snapshots.
//! - [`idprime`]: a holder's IDPrime-layout card (as stock OpenSC reads current SITHS cards)
//!   served, our CLI through `opensc-pkcs11.so` with stock opensc.conf, and the card's state.
//! - [`fixed_card`], [`fake_vpcd_card`]: cards for the host side alone; [`files`]: copying a
//!   directory tree.
#![allow(dead_code)]

pub mod cli;
pub mod fake_vpcd_card;
pub mod files;
pub mod fixed_card;
pub mod idprime;
pub mod pcscd;
pub mod persons;
pub mod rig;
pub mod served;
pub mod softhsm;
pub mod watched_card;
pub mod window;
pub mod world;
