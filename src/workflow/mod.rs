//! What the holder does with the card, as one implementation that the CLI and the GUI both drive:
//! the GUI shows [`progress::Progress`] events as a step list, the CLI prints them.

pub mod error;
pub mod expiry;
pub mod fetch_existing;
pub mod fit;
pub mod pairs;
pub mod progress;
pub mod renew;
pub mod steps;
pub mod test_login;
pub mod upgrade;
