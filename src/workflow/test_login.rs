//! "Test login": log in to the CA with one certificate on the card, to prove to the holder that
//! the certificate and its key work together before a national service depends on them, and to
//! show who the CA takes them to be.

use crate::ca::client::{CaClient, Me, SharedCard};
use crate::card::{PinKind, SecretCode};
use crate::pki::Purpose;
use crate::workflow::upgrade::UpgradeError;

/// Verify PIN1 and log in to the CA at `ca_url` with the authentication certificate in `slot`.
/// The card lock is released before the CA is called (the TLS handshake needs the card).
pub fn test_login(
    shared: &SharedCard,
    ca_url: &str,
    ca_root_pem: &[u8],
    slot: u8,
    pin1: &SecretCode,
) -> Result<Me, UpgradeError> {
    let cert_der = {
        let mut card = shared.lock().unwrap_or_else(|p| p.into_inner());
        let overview = card.overview()?;
        // Only a PIN1 authentication key can sign a TLS login.
        let der = overview
            .certificates
            .iter()
            .filter(|c| c.slot == Some(slot) && c.pin == Some(PinKind::Pin1))
            .find(|c| {
                c.info
                    .as_ref()
                    .is_ok_and(|i| i.purpose == Purpose::Authentication)
            })
            .map(|c| c.der.clone())
            .ok_or(UpgradeError::NoLoginCertificate)?;
        card.verify_pin(PinKind::Pin1, pin1)?;
        der
    };
    let client = CaClient::new(ca_url, ca_root_pem, shared.clone(), slot, cert_der)?;
    Ok(client.me()?)
}

/// Service centre: log in with the operator's card (its HSA-id authentication certificate, after
/// PIN1) and ask the CA for the PUK of `customer`. The CA checks that the caller is an operator
/// and logs who asked, for whom and why.
pub fn puk_lookup(
    shared: &SharedCard,
    ca_url: &str,
    ca_root_pem: &[u8],
    pin1: &SecretCode,
    customer: &str,
    reason: &str,
) -> Result<zeroize::Zeroizing<String>, UpgradeError> {
    let slot = {
        let mut card = shared.lock().unwrap_or_else(|p| p.into_inner());
        let overview = card.overview()?;
        overview
            .certificates
            .iter()
            .filter(|c| c.pin == Some(PinKind::Pin1))
            .filter(|c| {
                c.info.as_ref().is_ok_and(|i| {
                    i.purpose == Purpose::Authentication
                        && matches!(i.identity, crate::pki::Identity::HsaId(_))
                })
            })
            .find_map(|c| c.slot)
            .ok_or(UpgradeError::NoLoginCertificate)?
    };
    let cert_der = {
        let mut card = shared.lock().unwrap_or_else(|p| p.into_inner());
        let overview = card.overview()?;
        let der = overview
            .certificates
            .iter()
            .find(|c| c.slot == Some(slot))
            .map(|c| c.der.clone())
            .ok_or(UpgradeError::NoLoginCertificate)?;
        card.verify_pin(PinKind::Pin1, pin1)?;
        der
    };
    let client = CaClient::new(ca_url, ca_root_pem, shared.clone(), slot, cert_der)?;
    Ok(client.puk_lookup(customer, reason)?)
}
