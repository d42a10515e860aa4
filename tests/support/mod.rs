//! Shared test harness. Each test binary includes it with `mod support;` and uses a subset.
#![allow(dead_code)]

pub mod cli;
pub mod fake_vpcd_card;
pub mod files;
pub mod fixed_card;
pub mod pcscd;
pub mod softhsm;
pub mod window;
