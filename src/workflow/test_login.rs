//! "Test login": log in to the CA with one certificate on the card, to prove to the holder that
//! the certificate and its key work together before a national service depends on them, and to
//! show who the CA takes them to be.

use crate::ca::client::Me;
use crate::card::{KeySlot, SecretCode, SharedCard};
use crate::workflow::ca_login::log_in_with;
use crate::workflow::error::WorkflowError;

/// Verify PIN1 and log in to the CA at `ca_url` with the authentication certificate in `slot`.
/// The card lock is released before the CA is called (the TLS handshake needs the card).
pub fn test_login(
    shared: &SharedCard,
    ca_url: &str,
    ca_root_pem: &[u8],
    slot: KeySlot,
    pin1: &SecretCode,
) -> Result<Me, WorkflowError> {
    let client = log_in_with(shared, ca_url, ca_root_pem, |_| Some(slot), pin1)?;
    Ok(client.me()?)
}
