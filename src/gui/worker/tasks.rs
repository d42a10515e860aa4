//! One function per card task. Each takes the open card and what the window sent, and returns
//! the [`TaskOutcome`] to show or the [`Failure`] to word; codes are taken by value so they are
//! wiped as soon as the task returns.

use std::path::{Path, PathBuf};

use crate::ca::Profile;
use crate::ca::client::CaError;
use crate::card::{CardError, KeySlot, PinKind, SecretCode, SharedCard};
use crate::gui::protocol::{CaSettings, Failure, TaskOutcome};
use crate::pki::pem;
use crate::workflow::error::WorkflowError;
use crate::workflow::fetch_existing::{self, Existing, FetchRequest};
use crate::workflow::fit::Fit;
use crate::workflow::progress::Cancel;
use crate::workflow::progress::Progress;
use crate::workflow::renew::{self, RenewRequest};
use crate::workflow::test_login::test_login;
use crate::workflow::upgrade::{self, UpgradeRequest};

use super::card_source::lock;

pub(super) fn verify_pin(
    card: &SharedCard,
    kind: PinKind,
    pin: SecretCode,
) -> Result<TaskOutcome, Failure> {
    lock(card).verify_pin(kind, &pin).map_err(Failure::Card)?;
    Ok(TaskOutcome::PinVerified(kind))
}

pub(super) fn change_pin(
    card: &SharedCard,
    kind: PinKind,
    old: SecretCode,
    new: SecretCode,
) -> Result<TaskOutcome, Failure> {
    lock(card)
        .change_pin(kind, &old, &new)
        .map_err(Failure::Card)?;
    Ok(TaskOutcome::PinChanged(kind))
}

pub(super) fn unblock_pin(
    card: &SharedCard,
    kind: PinKind,
    puk: SecretCode,
    new: SecretCode,
) -> Result<TaskOutcome, Failure> {
    lock(card)
        .unblock_pin(kind, &puk, &new)
        .map_err(Failure::Card)?;
    Ok(TaskOutcome::PinUnblocked(kind))
}

pub(super) fn upgrade(
    card: &SharedCard,
    ca: &CaSettings,
    cancel: &Cancel,
    pin1: SecretCode,
    pin2: SecretCode,
    progress: &mut dyn FnMut(Progress),
) -> Result<TaskOutcome, Failure> {
    let (url, root) = ca_material(ca)?;
    let request = UpgradeRequest {
        ca_url: &url,
        ca_root_pem: &root,
        pin1: &pin1,
        pin2: &pin2,
    };
    let summary =
        upgrade::upgrade_until(card, &request, cancel, progress).map_err(upgrade_failure)?;
    Ok(TaskOutcome::Upgraded(Box::new(summary)))
}

pub(super) fn renew(
    card: &SharedCard,
    ca: &CaSettings,
    cancel: &Cancel,
    pin1: SecretCode,
    pin2: SecretCode,
    progress: &mut dyn FnMut(Progress),
) -> Result<TaskOutcome, Failure> {
    let (url, root) = ca_material(ca)?;
    let request = RenewRequest {
        ca_url: &url,
        ca_root_pem: &root,
        pin1: &pin1,
        pin2: &pin2,
        only: &[],
    };
    let summary = renew::renew_until(card, &request, cancel, progress).map_err(upgrade_failure)?;
    Ok(TaskOutcome::Renewed(Box::new(summary)))
}

pub(super) fn log_in(
    card: &SharedCard,
    ca: &CaSettings,
    slot: KeySlot,
    pin1: SecretCode,
) -> Result<TaskOutcome, Failure> {
    let (url, root) = ca_material(ca)?;
    let me = test_login(card, &url, &root, slot, &pin1).map_err(upgrade_failure)?;
    Ok(TaskOutcome::LoggedIn {
        slot,
        me: Box::new(me),
    })
}

/// PEM when the file name ends in `.pem`, DER otherwise.
pub(super) fn export(card: &SharedCard, id: &[u8], path: PathBuf) -> Result<TaskOutcome, Failure> {
    let overview = lock(card).overview().map_err(Failure::Card)?;
    // The card changed since the window listed it.
    let cert = overview
        .certificates
        .iter()
        .find(|c| c.id == id)
        .ok_or(Failure::NoCard)?;
    let bytes = pem::certificate_file(&cert.der, pem::wants_pem(&path));
    std::fs::write(&path, bytes).map_err(|e| file_failure(&path, e))?;
    Ok(TaskOutcome::Exported(path))
}

pub(super) fn fetch_list(
    card: &SharedCard,
    ca: &CaSettings,
    pin1: SecretCode,
) -> Result<Vec<Existing>, Failure> {
    let (url, root) = ca_material(ca)?;
    let request = FetchRequest {
        ca_url: &url,
        ca_root_pem: &root,
        pin1: &pin1,
    };
    fetch_existing::list(card, &request).map_err(upgrade_failure)
}

/// Write the chosen profiles of the last list; those written are then marked as on the card,
/// so a second click does not write them again.
pub(super) fn fetch_write(
    card: &SharedCard,
    listed: &mut [Existing],
    profiles: &[Profile],
) -> Result<TaskOutcome, Failure> {
    let mut written = Vec::new();
    for &profile in profiles {
        let entry = listed
            .iter_mut()
            .find(|e| e.profile == profile)
            .ok_or(Failure::Upgrade(WorkflowError::ProfileMissing(profile)))?;
        if !matches!(entry.fit, Fit::Writable(_)) {
            return Err(Failure::Upgrade(WorkflowError::NotWritable(
                entry.fit.clone(),
            )));
        }
        fetch_existing::write(card, entry).map_err(upgrade_failure)?;
        entry.fit = Fit::AlreadyOnCard;
        written.push(profile);
    }
    Ok(TaskOutcome::Written(written))
}

/// The CA's address and its root's PEM, read now so a fixed file is picked up.
fn ca_material(ca: &CaSettings) -> Result<(String, Vec<u8>), Failure> {
    let url = ca.url.trim();
    let Some(root_path) = ca.root_pem.as_ref().filter(|_| !url.is_empty()) else {
        return Err(Failure::CaNotSet);
    };
    let root = std::fs::read(root_path).map_err(|e| file_failure(root_path, e))?;
    Ok((url.to_string(), root))
}

fn file_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure::File {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Card trouble is reported as [`Failure::Card`] whichever step met it (a pulled card during a
/// TLS login included), so the window offers the same next action for it everywhere.
fn upgrade_failure(e: WorkflowError) -> Failure {
    match e {
        WorkflowError::Card(c) => Failure::Card(c),
        WorkflowError::Ca(CaError::CardSigning(c @ CardError::Transport(_))) => Failure::Card(c),
        WorkflowError::Ca(c) => Failure::Ca(c),
        other => Failure::Upgrade(other),
    }
}

/// Service centre: the customer's PUK, fetched with the operator's card (this worker's card).
pub(super) fn puk_lookup(
    card: &SharedCard,
    ca: &CaSettings,
    pin1: SecretCode,
    customer: &crate::workflow::puk_lookup::Customer<'_>,
    reason: &str,
    anchors: &[crate::audit::anchor::Anchor],
) -> Result<TaskOutcome, Failure> {
    let (url, root) = ca_material(ca)?;
    let puk = crate::workflow::puk_lookup::puk_lookup(card, &url, &root, &pin1, customer, reason)
        .map_err(upgrade_failure)?;
    // The lookup counts even when the CA takes no anchors: they wait for the next login.
    let anchored = crate::workflow::send_anchors::send_anchors(card, &url, &root, &pin1, anchors)
        .unwrap_or_else(|e| {
            log::warn!("desk audit entries not anchored: {e}");
            Vec::new()
        });
    Ok(TaskOutcome::Puk { puk, anchored })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportError;

    #[test]
    fn ca_must_be_set_and_its_root_readable() {
        let unset = CaSettings::default();
        assert!(matches!(ca_material(&unset), Err(Failure::CaNotSet)));
        let no_root = CaSettings {
            url: "https://127.0.0.1:1".into(),
            root_pem: None,
        };
        assert!(matches!(ca_material(&no_root), Err(Failure::CaNotSet)));
        let missing = CaSettings {
            url: "https://127.0.0.1:1".into(),
            root_pem: Some("/nonexistent/root.pem".into()),
        };
        assert!(matches!(
            ca_material(&missing),
            Err(Failure::File { path, .. }) if path == Path::new("/nonexistent/root.pem")
        ));
    }

    #[test]
    fn a_pulled_card_is_a_card_failure_wherever_it_happened() {
        let removed = CardError::Transport(TransportError::CardRemoved);
        assert!(matches!(
            upgrade_failure(WorkflowError::Ca(CaError::CardSigning(removed.clone()))),
            Failure::Card(CardError::Transport(TransportError::CardRemoved))
        ));
        assert!(matches!(
            upgrade_failure(WorkflowError::Card(removed)),
            Failure::Card(CardError::Transport(TransportError::CardRemoved))
        ));
        assert!(matches!(
            upgrade_failure(WorkflowError::ProfileMissing(Profile::PnrSign)),
            Failure::Upgrade(WorkflowError::ProfileMissing(Profile::PnrSign))
        ));
    }
}
