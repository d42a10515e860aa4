//! The upgrade: from one legacy HSA-id pair to the HSA-id pair and the personnummer pair, in an
//! order that loses nothing if the card is pulled or the CA goes away at any step.
//!
//! The card itself is the journal. Each profile has a fixed key slot (see [`Profile::slot`]), so
//! a rerun finds what an interrupted one did: a key already in a profile's slot is reused (its
//! certificate, if the CA issued one, is fetched again — the CA returns the same certificate for
//! the same key), a certificate already listed on the card is kept, and the legacy pair is removed
//! only once all four new pairs are on the card and have proved they sign.
//!
//! [`upgrade_until`] reads as the list of its steps; each is a function below, and the steps the
//! renewal takes too are in [`crate::workflow::steps`].

use std::time::Instant;

use crate::ca::client::{CaClient, IssuedCert};
use crate::ca::{IdentityKind, Profile};
use crate::card::{CardOverview, KeySlot, PinKind, PublicKey, SecretCode, SharedCard};
use crate::pki::CertInfo;
use crate::workflow::error::WorkflowError;
use crate::workflow::pairs;
use crate::workflow::progress::{Activity, Cancel, Progress, Reporter, Step};
use crate::workflow::steps::{
    Login, Timing, WorkflowRun, authorize_for_slot, check_card, check_for_card, csr_for,
    key_in_slot, log_in, prove, read_card, report_pin1, report_read, report_rejected,
    slot_free_of_certificates,
};

/// What the upgrade needs from the holder and the site.
pub struct UpgradeRequest<'a> {
    pub ca_url: &'a str,
    /// PEM of the TEST/production root that the CA's TLS certificate and every issued
    /// certificate must chain to.
    pub ca_root_pem: &'a [u8],
    pub pin1: &'a SecretCode,
    pub pin2: &'a SecretCode,
}

#[derive(Debug, Clone)]
pub struct UpgradeSummary {
    /// The profiles whose certificate this run wrote (empty when the card was already done).
    pub written: Vec<Profile>,
    /// Slots of legacy pairs this run removed.
    pub removed_slots: Vec<KeySlot>,
    /// Certificates that failed the checks and were left on the card.
    pub rejected: Vec<pairs::Rejected>,
    pub overview: CardOverview,
    pub timing: Timing,
}

/// The identity a profile's certificate must name, from the CA's record of the holder.
fn expected_identity(profile: Profile, hsa_id: &str, personnummer: Option<&str>) -> Option<String> {
    match profile.identity() {
        IdentityKind::HsaId => Some(hsa_id.to_string()),
        IdentityKind::Personnummer => personnummer.map(str::to_string),
    }
}

/// Run (or resume) the upgrade of the card in `shared`.
pub fn upgrade(
    shared: &SharedCard,
    request: &UpgradeRequest<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<UpgradeSummary, WorkflowError> {
    upgrade_until(shared, request, &Cancel::default(), progress)
}

/// [`upgrade`], stopping with [`WorkflowError::Cancelled`] at the first step boundary after
/// `cancel` is set.
pub fn upgrade_until(
    shared: &SharedCard,
    request: &UpgradeRequest<'_>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(Progress),
) -> Result<UpgradeSummary, WorkflowError> {
    let started = Instant::now();
    let mut timing = Timing::default();
    let overview = read_card(shared, &mut timing)?;
    let profiles = pairs::profiles_for(&overview);
    // Read card, PIN1, log in, 3 steps per profile, prove each, remove legacy.
    let total = 3 + 3 * profiles.len() + profiles.len() + 1;
    let mut job = WorkflowRun::new(shared, Reporter::new(progress, cancel, total));
    job.timing = timing;

    report_read(&mut job.report, &overview)?;
    let session = sign_in(&mut job, request, &overview, &profiles)?;
    let checked = check_holdings(&mut job, &overview, &session)?;
    let issued_before = may_go_on(&mut job, &session, &checked, &profiles)?;
    let new_certs = issue_missing(
        &mut job,
        request,
        &overview,
        &session,
        &checked,
        issued_before,
        &profiles,
    )?;
    let keep = prove_keys(&mut job, request, &checked, &new_certs, &profiles)?;
    let (removed_slots, overview) = remove_legacy(&mut job, request, &overview, &checked, &keep)?;

    job.timing.total = started.elapsed();
    job.report.finish(if profiles.len() == Profile::ALL.len() {
        "The card now holds the HSA-id pair and the personnummer pair".into()
    } else {
        "The card now holds the HSA-id and personnummer login certificates; their signing \
         certificates come once a signing code is set on the card"
            .into()
    });
    Ok(UpgradeSummary {
        written: new_certs.iter().map(|(p, _)| *p).collect(),
        removed_slots,
        rejected: checked.rejected.clone(),
        overview,
        timing: job.timing,
    })
}

/// Logged in to the CA, with what every issued certificate is checked against.
struct Session {
    client: CaClient,
    /// Whom the card's login certificate names, and the CA agrees.
    hsa_id: String,
    personnummer: Option<String>,
    roots: crate::ca::roots::Roots,
    /// Why the CA would issue nothing new, if it said so.
    refusal: Option<crate::ca::client::Refusal>,
}

/// PIN1, then the CA: it must let this card upgrade, offer every profile, and take the card for
/// whom its login certificate names; a CA that takes the card for someone else gets nothing
/// written.
fn sign_in(
    job: &mut WorkflowRun<'_>,
    request: &UpgradeRequest<'_>,
    overview: &CardOverview,
    profiles: &[Profile],
) -> Result<Session, WorkflowError> {
    let Login {
        client, me, hsa_id, ..
    } = log_in(
        job.shared,
        overview,
        request.ca_url,
        request.ca_root_pem,
        request.pin1,
        &mut job.timing,
    )?;
    report_pin1(&mut job.report)?;
    for &profile in profiles {
        if !me.profiles.iter().any(|p| p.label == profile.label()) {
            return Err(WorkflowError::ProfileMissing(profile));
        }
    }
    if hsa_id != me.hsa_id {
        return Err(WorkflowError::CaTookAnother {
            card: hsa_id,
            ca: me.hsa_id.clone(),
        });
    }
    let roots = client.roots().clone();
    job.report
        .step(Step::LogIn, format!("Logged in to the CA as {}", me.hsa_id))?;
    Ok(Session {
        client,
        hsa_id,
        personnummer: (!me.personnummer.is_empty()).then_some(me.personnummer),
        roots,
        refusal: me.refusal,
    })
}

/// What the card holds counts only once checked: a profile's certificate that passes the full
/// issuance check is done, the legacy pair is what chains through the legacy CA to the roots and
/// names the holder; anything that looks like either and fails is reported and left alone.
fn check_holdings<'o>(
    job: &mut WorkflowRun<'_>,
    overview: &'o CardOverview,
    session: &Session,
) -> Result<pairs::Checked<'o>, WorkflowError> {
    let checked = check_card(
        job.shared,
        &mut job.timing,
        &session.client,
        overview,
        session.roots.der(),
        pairs::ExpectedHolder {
            hsa_id: &session.hsa_id,
            personnummer: session.personnummer.as_deref(),
        },
    )?;
    report_rejected(&mut job.report, &checked);
    Ok(checked)
}

/// The CA's refusal in `me` is about new certificates. Past the deadline, or with every
/// profile's certificate issued already, the CA still gives back what it issued: an upgrade
/// whose certificates are all on the card or at the CA resumes whatever `me` says. Anything else
/// stops here, before the card is touched. What the CA listed, when it had to be asked.
fn may_go_on(
    job: &mut WorkflowRun<'_>,
    session: &Session,
    checked: &pairs::Checked<'_>,
    profiles: &[Profile],
) -> Result<Option<Vec<IssuedCert>>, WorkflowError> {
    let Some(refusal) = &session.refusal else {
        return Ok(None);
    };
    let mut existing = None;
    let resumable = matches!(
        refusal.error,
        crate::ca::RefusalCode::DeadlinePassed | crate::ca::RefusalCode::AlreadyEnrolled
    ) && {
        let missing: Vec<Profile> = profiles
            .iter()
            .copied()
            .filter(|p| checked.held(*p).is_empty())
            .collect();
        missing.is_empty() || {
            let ca_started = Instant::now();
            let issued = existing.insert(session.client.certificates()?);
            job.timing.ca += ca_started.elapsed();
            missing
                .iter()
                .all(|p| issued.iter().any(|c| c.profile == *p))
        }
    };
    if !resumable {
        return Err(WorkflowError::NotAllowed {
            code: refusal.error,
            message: refusal.message.clone(),
        });
    }
    Ok(existing)
}

/// Per profile not yet on the card: a key in its slot, its certificate issued and checked, and
/// written. What this run wrote, by profile.
fn issue_missing(
    job: &mut WorkflowRun<'_>,
    request: &UpgradeRequest<'_>,
    overview: &CardOverview,
    session: &Session,
    checked: &pairs::Checked<'_>,
    mut issued_before: Option<Vec<IssuedCert>>,
    profiles: &[Profile],
) -> Result<Vec<(Profile, Vec<u8>)>, WorkflowError> {
    let mut new_certs = Vec::new();
    for &profile in profiles {
        let slot = profile.slot();
        let Some(identity) =
            expected_identity(profile, &session.hsa_id, session.personnummer.as_deref())
        else {
            return Err(WorkflowError::ProfileMissing(profile));
        };
        // Already on the card from an earlier run, or moved by a renewal, and checked?
        if !checked.held(profile).is_empty() {
            job.report.skip(3);
            continue;
        }
        slot_free_of_certificates(overview, checked, slot)?;

        let key = key_in_slot(
            job.shared,
            &mut job.timing,
            &mut job.report,
            profile,
            slot,
            request.pin2,
        )?;
        job.report.step(
            Step::GenerateKey(profile),
            format!("Key for {} ready on the card", profile.card_label()),
        )?;

        let cert = certificate_for(job, request, session, &mut issued_before, profile, &key)?;
        check_for_card(
            &session.client,
            &mut job.timing,
            session.roots.der(),
            &cert,
            profile,
            &key,
            identity,
        )?;
        job.report.step(
            Step::Enrol(profile),
            format!("{} issued and checked", profile.card_label()),
        )?;

        job.card()
            .with(|c| c.write_certificate(slot, profile.card_label(), &cert))?;
        new_certs.push((profile, cert));
        job.report.step(
            Step::WriteCertificate(profile),
            format!("{} written to the card", profile.card_label()),
        )?;
    }
    Ok(new_certs)
}

/// The CA's certificate for `key`: the one it issued to an earlier run for the same key (asked
/// for once per run), or a new one.
fn certificate_for(
    job: &mut WorkflowRun<'_>,
    request: &UpgradeRequest<'_>,
    session: &Session,
    issued_before: &mut Option<Vec<IssuedCert>>,
    profile: Profile,
    key: &PublicKey,
) -> Result<Vec<u8>, WorkflowError> {
    let ca_started = Instant::now();
    let previously = match issued_before {
        Some(list) => list,
        None => issued_before.insert(session.client.certificates()?),
    };
    let reissue = previously
        .iter()
        .filter(|c| c.profile == profile)
        .find(|c| {
            CertInfo::from_der(&c.der).is_ok_and(|i| i.matches_rsa_key(&key.modulus, &key.exponent))
        })
        .map(|c| c.der.clone());
    job.timing.ca += ca_started.elapsed();
    if let Some(der) = reissue {
        return Ok(der);
    }
    job.report.working(
        Activity::Enrolling(profile),
        format!("The CA issues {}", profile.card_label()),
    )?;
    let csr = csr_for(
        job.shared,
        &mut job.timing,
        profile.slot(),
        key,
        request.pin2,
    )?;
    let ca_started = Instant::now();
    let der = session.client.enroll(profile, &csr)?;
    job.timing.ca += ca_started.elapsed();
    Ok(der)
}

/// Prove each new key signs and verifies against its certificate: the one this run wrote, or
/// the newest checked one the card already held. No second overview: only the profile slots
/// changed since the first, and this run knows what it wrote there. The slots to keep.
fn prove_keys(
    job: &mut WorkflowRun<'_>,
    request: &UpgradeRequest<'_>,
    checked: &pairs::Checked<'_>,
    new_certs: &[(Profile, Vec<u8>)],
    profiles: &[Profile],
) -> Result<Vec<KeySlot>, WorkflowError> {
    let mut keep = Vec::new();
    for &profile in profiles {
        let held = checked.held(profile);
        let (slot, info) = match new_certs.iter().find(|(p, _)| *p == profile) {
            Some((_, der)) => (
                profile.slot(),
                CertInfo::from_der(der).map_err(|_| WorkflowError::ProofFailed(profile))?,
            ),
            None => {
                let newest = held.last().ok_or(WorkflowError::ProofFailed(profile))?;
                (newest.slot, newest.info.clone())
            }
        };
        prove(
            job.shared,
            &mut job.timing,
            profile,
            slot,
            &info,
            request.pin2,
        )?;
        keep.push(slot);
        keep.extend(held.iter().map(|h| h.slot));
        job.report.step(
            Step::ProveKey(profile),
            format!("{} signs correctly", profile.card_label()),
        )?;
    }
    Ok(keep)
}

/// Only now, and only what is provably ours: the holder's legacy pair, and keys this program
/// made that no certificate names (a run cut short), in one transaction (one CDF write drops
/// them all). Every other certificate and key stays. The slots removed and the card after.
fn remove_legacy(
    job: &mut WorkflowRun<'_>,
    request: &UpgradeRequest<'_>,
    overview: &CardOverview,
    checked: &pairs::Checked<'_>,
    keep: &[KeySlot],
) -> Result<(Vec<KeySlot>, CardOverview), WorkflowError> {
    let mut removed_slots: Vec<KeySlot> = checked.legacy.clone();
    removed_slots.retain(|s| !keep.contains(s));
    removed_slots.sort();
    removed_slots.dedup();
    let mut card = job.card();
    for slot in KeySlot::ALL {
        if keep.contains(&slot)
            || removed_slots.contains(&slot)
            || overview.certificates.iter().any(|c| c.slot == Some(slot))
        {
            continue;
        }
        let labels = pairs::own_key_labels(slot);
        if card.with(|c| c.unfinished_key(slot, &labels))?.is_some() {
            removed_slots.push(slot);
        }
    }
    if !removed_slots.is_empty() {
        card.with(|c| {
            if let Some(&slot) = removed_slots.iter().find(|s| s.pin() == PinKind::Pin2) {
                authorize_for_slot(c, slot, request.pin2)?;
            }
            c.delete_pairs(&removed_slots)
        })?;
    }
    let overview = card.with(|c| c.overview())?;
    job.report.step(
        Step::RemoveLegacy,
        if removed_slots.is_empty() {
            "No legacy pair left to remove".to_string()
        } else {
            "Legacy pair removed".to_string()
        },
    )?;
    Ok((removed_slots, overview))
}
