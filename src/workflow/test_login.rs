//! "Test login": log in to the CA with one certificate on the card, to prove to the holder that
//! the certificate and its key work together before a national service depends on them, and to
//! show who the CA takes them to be.

use crate::ca::client::{CaClient, Me};
use crate::card::{CardOverview, KeySlot, PinKind, SecretCode, SharedCard};
use crate::pki::{Identity, Purpose};
use crate::workflow::upgrade::UpgradeError;

/// Verify PIN1 and log in to the CA at `ca_url` with the authentication certificate in `slot`.
/// The card lock is released before the CA is called (the TLS handshake needs the card).
pub fn test_login(
    shared: &SharedCard,
    ca_url: &str,
    ca_root_pem: &[u8],
    slot: KeySlot,
    pin1: &SecretCode,
) -> Result<Me, UpgradeError> {
    let client = log_in_with(shared, ca_url, ca_root_pem, |_| Some(slot), pin1)?;
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
    let hsa_id_slot = |overview: &CardOverview| {
        overview
            .certificates
            .iter()
            .filter(|c| {
                c.info
                    .as_ref()
                    .is_ok_and(|i| matches!(i.identity, Identity::HsaId(_)))
            })
            .filter_map(|c| c.slot)
            .find(|slot| is_login_slot(overview, *slot))
    };
    let client = log_in_with(shared, ca_url, ca_root_pem, hsa_id_slot, pin1)?;
    Ok(client.puk_lookup(customer, reason)?)
}

/// Only a PIN1 authentication key can sign a TLS login.
fn is_login_slot(overview: &CardOverview, slot: KeySlot) -> bool {
    overview.certificates.iter().any(|c| {
        c.slot == Some(slot)
            && c.pin == Some(PinKind::Pin1)
            && c.info
                .as_ref()
                .is_ok_and(|i| i.purpose == Purpose::Authentication)
    })
}

/// Read the card, pick the login slot, verify PIN1, and make a client that logs in with that
/// slot's certificate. The card lock is released before any CA call.
fn log_in_with(
    shared: &SharedCard,
    ca_url: &str,
    ca_root_pem: &[u8],
    choose_slot: impl FnOnce(&CardOverview) -> Option<KeySlot>,
    pin1: &SecretCode,
) -> Result<CaClient, UpgradeError> {
    let (slot, cert_der) = {
        let mut card = crate::card::lock(shared);
        let overview = card.overview()?;
        let slot = choose_slot(&overview)
            .filter(|slot| is_login_slot(&overview, *slot))
            .ok_or(UpgradeError::NoLoginCertificate)?;
        let der = overview
            .certificates
            .iter()
            .find(|c| c.slot == Some(slot))
            .map(|c| c.der.clone())
            .ok_or(UpgradeError::NoLoginCertificate)?;
        card.verify_pin(PinKind::Pin1, pin1)?;
        (slot, der)
    };
    Ok(CaClient::new(
        ca_url,
        ca_root_pem,
        shared.clone(),
        slot,
        cert_der,
    )?)
}
