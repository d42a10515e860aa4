//! One module per screen. Each owns its state (what is typed and chosen on it), draws from the
//! read-only `View` and returns the `Intents` the app applies; none sees the app itself.

pub mod certificates;
pub mod desk;
pub mod fetch;
pub mod home;
pub mod pins;
pub mod settings;
pub mod upgrade;
