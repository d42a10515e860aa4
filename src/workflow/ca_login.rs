//! Logging in to the CA with a card's authentication certificate after PIN1, as the test login,
//! the desk's PUK lookup and anchors, and `audit verify --ca` do: one place that knows which
//! certificate may sign a TLS login and that the card lock is released before the CA is called.

use crate::ca::client::CaClient;
use crate::card::{CardOverview, KeySlot, PinKind, SecretCode, SharedCard};
use crate::pki::{Identity, Purpose};
use crate::workflow::error::WorkflowError;

/// Log in with the operator's card (PIN1) for what only operators may ask the CA: the audit
/// logs and their anchors (`audit verify --ca`).
pub fn operator_client(
    shared: &SharedCard,
    ca_url: &str,
    ca_root_pem: &[u8],
    pin1: &SecretCode,
) -> Result<CaClient, WorkflowError> {
    log_in_with(shared, ca_url, ca_root_pem, hsa_id_login_slot, pin1)
}

/// The slot of the card's HSA-id authentication certificate that logs in.
pub(crate) fn hsa_id_login_slot(overview: &CardOverview) -> Option<KeySlot> {
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
}

/// Only a PIN1 authentication key can sign a TLS login.
pub(crate) fn is_login_slot(overview: &CardOverview, slot: KeySlot) -> bool {
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
pub(crate) fn log_in_with(
    shared: &SharedCard,
    ca_url: &str,
    ca_root_pem: &[u8],
    choose_slot: impl FnOnce(&CardOverview) -> Option<KeySlot>,
    pin1: &SecretCode,
) -> Result<CaClient, WorkflowError> {
    let (slot, cert_der) = {
        let mut card = crate::card::lock(shared);
        let overview = card.overview()?;
        let slot = choose_slot(&overview)
            .filter(|slot| is_login_slot(&overview, *slot))
            .ok_or(WorkflowError::NoLoginCertificate)?;
        let der = overview
            .certificates
            .iter()
            .find(|c| c.slot == Some(slot))
            .map(|c| c.der.clone())
            .ok_or(WorkflowError::NoLoginCertificate)?;
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
