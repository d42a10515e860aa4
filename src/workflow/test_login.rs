//! "Test login": log in to the CA with one certificate on the card, to prove to the holder that
//! the certificate and its key work together before a national service depends on them, and to
//! show who the CA takes them to be.

use crate::ca::check::chain_to_root;
use crate::ca::client::{CaClient, Me};
use crate::card::{CardOverview, KeySlot, PinKind, SecretCode, SharedCard};
use crate::pki::{CertInfo, Identity, Purpose};
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

/// The customer at the desk, as their card in the desk's reader shows them.
pub use crate::ca::client::CustomerCard as Customer;

/// Service centre: log in with the operator's card (its HSA-id authentication certificate, after
/// PIN1) and ask the CA for the PUK of `customer`. First the customer's certificate must chain,
/// through one of the CA's own CAs, to the configured root, and name that HSA-id: a card that
/// merely reports someone's serial, or carries a certificate from elsewhere, gets no PUK. The
/// lookup then carries that certificate and the card's serial against a fresh challenge of the
/// CA, which checks them against what it issued; it also checks that the caller is an operator
/// and logs who asked, for whom and why.
pub fn puk_lookup(
    shared: &SharedCard,
    ca_url: &str,
    ca_root_pem: &[u8],
    pin1: &SecretCode,
    customer: &Customer<'_>,
    reason: &str,
) -> Result<zeroize::Zeroizing<String>, WorkflowError> {
    let client = log_in_with(shared, ca_url, ca_root_pem, hsa_id_login_slot, pin1)?;
    check_customer(&client, customer)?;
    Ok(client.puk_lookup(customer, reason)?)
}

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
fn hsa_id_login_slot(overview: &CardOverview) -> Option<KeySlot> {
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

/// Anchor desk audit entries at the CA while the operator's card is logged in: the entries
/// the CA took (or already had), in order; it stops at the first refusal.
pub fn send_anchors(
    shared: &SharedCard,
    ca_url: &str,
    ca_root_pem: &[u8],
    pin1: &SecretCode,
    anchors: &[crate::audit::anchor::Anchor],
) -> Result<Vec<u64>, WorkflowError> {
    if anchors.is_empty() {
        return Ok(Vec::new());
    }
    let hsa_id_slot = |overview: &CardOverview| {
        overview
            .certificates
            .iter()
            .filter_map(|c| c.slot)
            .find(|slot| is_login_slot(overview, *slot))
    };
    let client = log_in_with(shared, ca_url, ca_root_pem, hsa_id_slot, pin1)?;
    let mut sent = Vec::new();
    for anchor in anchors {
        if let Err(e) = client.send_anchor(anchor) {
            log::warn!("audit entry {} not anchored: {e}", anchor.seq);
            break;
        }
        sent.push(anchor.seq);
    }
    Ok(sent)
}

fn check_customer(client: &CaClient, customer: &Customer<'_>) -> Result<(), WorkflowError> {
    let not_trusted = |why: String| WorkflowError::CustomerNotTrusted(why);
    let cert = CertInfo::from_der(customer.certificate).map_err(|e| not_trusted(e.to_string()))?;
    if cert.identity.value() != Some(customer.hsa_id) {
        return Err(not_trusted(format!(
            "it names {}, not {}",
            cert.identity.value().unwrap_or("no one"),
            customer.hsa_id
        )));
    }
    let roots = client.roots();
    let cas = client.all_cacerts()?;
    chain_to_root(&cert, &cas, roots.der(), crate::pki::date::now_unix())
        .map_err(|e| not_trusted(e.to_string()))?;
    if !cert.is_valid_at(crate::pki::date::now_unix()) {
        return Err(not_trusted("it is not valid today".into()));
    }
    Ok(())
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
