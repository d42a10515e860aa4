//! The service centre's PUK lookup: the operator's card logs in, the customer's card proves whose
//! it is, and the CA gives the PUK only for a card it issued.

use crate::ca::check::chain_to_root;
use crate::ca::client::CaClient;
use crate::card::{SecretCode, SharedCard};
use crate::pki::CertInfo;
use crate::workflow::ca_login::{hsa_id_login_slot, log_in_with};
use crate::workflow::error::WorkflowError;

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
