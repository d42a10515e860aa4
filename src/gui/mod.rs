//! The desktop window: a face on the same card operations and workflows the CLI uses.
//!
//! - [`protocol`]: what the window and the worker say to each other.
//! - [`worker`]: the thread that owns PC/SC, the card and the network.
//! - [`app`]: the window's state machine; [`layout`] and [`screens`] draw it from a read-only
//!   [`view::View`] and hand back [`intent::Intents`], which only the app applies.
//! - [`i18n`] and [`words`]: every text from the catalogs in assets/i18n.
//! - [`demo`]: the in-process demo card and CA mock.
//! - [`window`]: the native window.

pub mod app;
pub mod demo;
pub mod desk_audit;
pub mod desk_model;
pub mod i18n;
pub mod intent;
pub mod layout;
pub mod protocol;
pub mod screens;
pub mod settings;
pub mod theme;
pub mod view;
pub mod widgets;
pub mod window;
pub mod words;
pub mod worker;
