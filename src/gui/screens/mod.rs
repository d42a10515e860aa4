//! One module per screen; each draws from the app's state and sends commands, nothing more.

pub mod certificates;
pub mod desk;
pub mod fetch;
pub mod home;
pub mod pins;
pub mod settings;
pub mod upgrade;
