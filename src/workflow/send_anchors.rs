//! Sending the desk's audit anchors to the CA with the operator's card logged in, so the CA keeps
//! each entry's hash where the desk cannot change it (see `audit::anchor` for what they prove).

use crate::card::{SecretCode, SharedCard};
use crate::workflow::ca_login::{hsa_id_login_slot, log_in_with};
use crate::workflow::error::WorkflowError;

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
    let client = log_in_with(shared, ca_url, ca_root_pem, hsa_id_login_slot, pin1)?;
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
