//! What the holder does with the card, as one implementation that the CLI and the GUI both drive:
//! the GUI shows [`progress::Progress`] events as a step list, the CLI prints them.
//!
//! Layered so that no module here imports one that imports it back: `progress` (the steps and the
//! cancel), `error` (the one [`error::WorkflowError`]), `fit` and `pairs` depend on no workflow;
//! `steps` (what the workflows share) on those; `upgrade`, `renew`, `fetch_existing` and
//! `test_login` on `steps` and below, never on each other. The CA logins of the test login, the
//! desk (`puk_lookup`, `send_anchors`) and `audit verify --ca` share `ca_login`.

pub(crate) mod ca_login;
pub mod error;
pub mod expiry;
pub mod fetch_existing;
pub mod fit;
pub mod pairs;
pub mod progress;
pub mod puk_lookup;
pub mod renew;
pub mod send_anchors;
pub mod steps;
pub mod test_login;
pub mod upgrade;
