//! The upgrade: from one legacy HSA-id pair to the HSA-id pair and the personnummer pair, in an
//! order that loses nothing if the card is pulled or the CA goes away at any step.
//!
//! The card itself is the journal. Each profile has a fixed key slot (see [`Profile::slot`]), so
//! a rerun finds what an interrupted one did: a key already in a profile's slot is reused (its
//! certificate, if the CA issued one, is fetched again — the CA returns the same certificate for
//! the same key), a certificate already listed on the card is kept, and the legacy pair is removed
//! only once all four new pairs are on the card and have proved they sign.

use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::ca::check::{Expected, check_issued};
use crate::ca::client::{CaClient, CaError};
use crate::ca::csr::card_csr;
use crate::ca::{IdentityKind, Profile};
use crate::card::{
    Card, CardError, CardOverview, KeySlot, PinKind, PublicKey, SecretCode, SharedCard,
    SignatureScheme,
};
use crate::pki::{CertInfo, Identity, Purpose};
use crate::workflow::error::WorkflowError;
use crate::workflow::pairs;
use crate::workflow::progress::{Activity, Cancel, Progress, Reporter, Step};

/// What the upgrade needs from the holder and the site.
pub struct UpgradeRequest<'a> {
    pub ca_url: &'a str,
    /// PEM of the TEST/production root that the CA's TLS certificate and every issued
    /// certificate must chain to.
    pub ca_root_pem: &'a [u8],
    pub pin1: &'a SecretCode,
    pub pin2: &'a SecretCode,
}

/// Where the time went, for the benchmark; client time is the rest of the wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    pub total: Duration,
    pub card: Duration,
    pub ca: Duration,
}

impl Timing {
    pub fn client(&self) -> Duration {
        self.total.saturating_sub(self.card + self.ca)
    }
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

/// Card operations, timed.
pub(crate) struct Timed<'a> {
    pub(crate) shared: &'a SharedCard,
    pub(crate) timing: &'a mut Timing,
}

impl Timed<'_> {
    pub(crate) fn with<R>(
        &mut self,
        op: impl FnOnce(&mut dyn Card) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        let started = Instant::now();
        let mut guard = crate::card::lock(self.shared);
        let r = op(guard.as_mut());
        self.timing.card += started.elapsed();
        r
    }
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
    // Read card, PIN1, log in, 3 steps per profile, prove 4, remove legacy.
    let total = 3 + 3 * Profile::ALL.len() + Profile::ALL.len() + 1;
    let mut report = Reporter::new(progress, cancel, total);

    let overview = Timed {
        shared,
        timing: &mut timing,
    }
    .with(|c| c.overview())?;
    if overview.dead() {
        return Err(CardError::CardDead.into());
    }
    for kind in [PinKind::Pin1, PinKind::Pin2] {
        if overview.pin(kind).is_some_and(|p| p.blocked()) {
            return Err(CardError::Blocked(kind).into());
        }
    }
    report.step(
        Step::ReadCard,
        format!(
            "Read the card of {}",
            overview.holder_name().unwrap_or("the holder")
        ),
    )?;

    let Login {
        client,
        me,
        hsa_id: card_hsa_id,
        ..
    } = log_in(
        shared,
        &overview,
        request.ca_url,
        request.ca_root_pem,
        request.pin1,
        &mut timing,
    )?;
    report.step(
        Step::VerifyPin(PinKind::Pin1),
        "Identification PIN accepted".into(),
    )?;
    if let Some(refusal) = &me.refusal {
        return Err(WorkflowError::NotAllowed {
            code: refusal.error,
            message: refusal.message.clone(),
        });
    }
    for profile in Profile::ALL {
        if !me.profiles.iter().any(|p| p.label == profile.label()) {
            return Err(WorkflowError::ProfileMissing(profile));
        }
    }
    // The HSA-id certificates must name whom the card's own login certificate names; a CA that
    // takes the card for someone else gets nothing written.
    if card_hsa_id != me.hsa_id {
        return Err(WorkflowError::CaTookAnother {
            card: card_hsa_id,
            ca: me.hsa_id.clone(),
        });
    }
    let roots = crate::ca::check::roots_der(request.ca_root_pem)?;
    report.step(Step::LogIn, format!("Logged in to the CA as {}", me.hsa_id))?;

    // What the card holds counts only once checked: a profile's certificate that passes the
    // full issuance check is done, the legacy pair is what chains through the legacy CA to the
    // roots and names the holder; anything that looks like either and fails is reported and
    // left alone.
    let personnummer = (!me.personnummer.is_empty()).then_some(me.personnummer.as_str());
    let checked = check_card(
        shared,
        &mut timing,
        &client,
        &overview,
        &roots,
        pairs::Holder {
            hsa_id: &card_hsa_id,
            personnummer,
        },
    )?;
    report_rejected(&mut report, &checked);

    let mut existing: Option<Vec<crate::ca::client::IssuedCert>> = None;
    let mut written = Vec::new();
    let mut new_certs: Vec<(Profile, Vec<u8>)> = Vec::new();
    for profile in Profile::ALL {
        let slot = profile.slot();
        let Some(identity) = expected_identity(profile, &card_hsa_id, personnummer) else {
            return Err(WorkflowError::ProfileMissing(profile));
        };

        // Already on the card from an earlier run, or moved by a renewal, and checked?
        if !checked.held(profile).is_empty() {
            report.skip(3);
            continue;
        }
        slot_free_of_certificates(&overview, &checked, slot)?;

        let key = key_in_slot(
            shared,
            &mut timing,
            &mut report,
            profile,
            slot,
            request.pin2,
        )?;
        report.step(
            Step::GenerateKey(profile),
            format!("Key for {} ready on the card", profile.card_label()),
        )?;

        let ca_started = Instant::now();
        let previously = match &existing {
            Some(list) => list,
            None => existing.insert(client.certificates()?),
        };
        let reissue = previously
            .iter()
            .filter(|c| c.profile == profile)
            .find(|c| {
                CertInfo::from_der(&c.der)
                    .is_ok_and(|i| i.matches_rsa_key(&key.modulus, &key.exponent))
            })
            .map(|c| c.der.clone());
        timing.ca += ca_started.elapsed();
        let cert = match reissue {
            Some(der) => der,
            None => {
                report.working(
                    Activity::Enrolling(profile),
                    format!("The CA issues {}", profile.card_label()),
                )?;
                let csr = csr_for(shared, &mut timing, slot, &key, request.pin2)?;
                let ca_started = Instant::now();
                let der = client.enroll(profile, &csr)?;
                timing.ca += ca_started.elapsed();
                der
            }
        };
        check_for_card(&client, &mut timing, &roots, &cert, profile, &key, identity)?;
        report.step(
            Step::Enrol(profile),
            format!("{} issued and checked", profile.card_label()),
        )?;

        Timed {
            shared,
            timing: &mut timing,
        }
        .with(|c| c.write_certificate(slot, profile.card_label(), &cert))?;
        written.push(profile);
        new_certs.push((profile, cert));
        report.step(
            Step::WriteCertificate(profile),
            format!("{} written to the card", profile.card_label()),
        )?;
    }

    // Prove each new key signs and verifies against its certificate: the one this run wrote,
    // or the newest checked one the card already held. No second overview: only the profile
    // slots changed since the first, and this run knows what it wrote there.
    let mut keep = Vec::new();
    for profile in Profile::ALL {
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
        prove(shared, &mut timing, profile, slot, &info, request.pin2)?;
        keep.push(slot);
        keep.extend(held.iter().map(|h| h.slot));
        report.step(
            Step::ProveKey(profile),
            format!("{} signs correctly", profile.card_label()),
        )?;
    }

    // Only now, and only what is provably ours: the holder's legacy pair, and keys this
    // program made that no certificate names (a run cut short), in one transaction (one CDF
    // write drops them all). Every other certificate and key stays.
    let mut removed_slots: Vec<KeySlot> = checked.legacy.clone();
    removed_slots.retain(|s| !keep.contains(s));
    removed_slots.sort();
    removed_slots.dedup();
    let mut card = Timed {
        shared,
        timing: &mut timing,
    };
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
    let rejected = checked.rejected.clone();
    let overview = card.with(|c| c.overview())?;
    report.step(
        Step::RemoveLegacy,
        if removed_slots.is_empty() {
            "No legacy pair left to remove".to_string()
        } else {
            "Legacy pair removed".to_string()
        },
    )?;
    timing.total = started.elapsed();
    report.finish("The card now holds the HSA-id pair and the personnummer pair".into());
    Ok(UpgradeSummary {
        written,
        removed_slots,
        rejected,
        overview,
        timing,
    })
}

/// Check the card's certificates ([`pairs::check`]) against the CA's certificates and the
/// configured roots, reading the card's key in each slot that holds a certificate looking like
/// a profile's.
pub(crate) fn check_card<'a>(
    shared: &SharedCard,
    timing: &mut Timing,
    client: &CaClient,
    overview: &'a CardOverview,
    roots: &[Vec<u8>],
    holder: pairs::Holder<'_>,
) -> Result<pairs::Checked<'a>, WorkflowError> {
    let slots = pairs::slots_to_check(overview);
    let nothing_to_check = slots.is_empty() && pairs::legacy(overview).next().is_none();
    if nothing_to_check {
        return Ok(pairs::Checked::default());
    }
    let mut keys = Vec::new();
    let mut card = Timed {
        shared,
        timing: &mut *timing,
    };
    for slot in slots {
        if let Some(key) = card.with(|c| c.read_public_key(slot))? {
            keys.push((slot, key));
        }
    }
    let ca_started = Instant::now();
    let issuers = client.all_cacerts()?;
    timing.ca += ca_started.elapsed();
    Ok(pairs::check(
        overview,
        &pairs::Evidence {
            issuers: &issuers,
            roots,
            holder,
            keys: &keys,
            now: crate::pki::date::now_unix(),
        },
    ))
}

/// Each rejected certificate, as a line of its own in the progress (not a step).
pub(crate) fn report_rejected(report: &mut Reporter<'_>, checked: &pairs::Checked<'_>) {
    for r in &checked.rejected {
        log::warn!(
            "the certificate in {} fails the checks: {}",
            r.slot,
            r.error
        );
        report.note(
            Step::Rejected(r.clone()),
            format!(
                "The certificate in {} fails the checks and is left as it is: {}",
                r.slot, r.error
            ),
        );
    }
}

/// The slot the workflow is about to use must hold no certificate: a rejected one is named
/// with its reason, anything else is not part of the upgrade.
pub(crate) fn slot_free_of_certificates(
    overview: &CardOverview,
    checked: &pairs::Checked<'_>,
    slot: KeySlot,
) -> Result<(), WorkflowError> {
    if !overview.certificates.iter().any(|c| c.slot == Some(slot)) {
        return Ok(());
    }
    Err(match checked.rejected_in(slot) {
        Some(r) => WorkflowError::Untrusted {
            slot,
            error: r.error.clone(),
        },
        None => WorkflowError::SlotInUse(slot),
    })
}

/// Verify PIN1 and log in to the CA with one of the card's HSA-id authentication certificates:
/// the legacy one, or after an interrupted removal of the legacy pair, the new one. A card may
/// also carry a certificate that only looks like one (a forgery, another CA's): when the CA
/// refuses a login certificate, the next one is tried.
pub(crate) fn log_in(
    shared: &SharedCard,
    overview: &CardOverview,
    ca_url: &str,
    ca_root_pem: &[u8],
    pin1: &SecretCode,
    timing: &mut Timing,
) -> Result<Login, WorkflowError> {
    let candidates = login_certificates(overview);
    if candidates.is_empty() {
        return Err(WorkflowError::NoLoginCertificate);
    }
    Timed {
        shared,
        timing: &mut *timing,
    }
    .with(|c| c.verify_pin(PinKind::Pin1, pin1))?;
    let mut first_error = None;
    for (slot, cert, info) in candidates {
        let Some(hsa_id) = info.identity.value().map(str::to_string) else {
            continue;
        };
        let started = Instant::now();
        let attempt = CaClient::new(ca_url, ca_root_pem, shared.clone(), slot, cert.der.clone())
            .and_then(|client| client.me().map(|me| (client, me)));
        timing.ca += started.elapsed();
        match attempt {
            Ok((client, me)) => {
                return Ok(Login {
                    client,
                    me,
                    hsa_id,
                    slot,
                });
            }
            Err(e) if login_refused(&e) => {
                log::warn!("the CA refused the login certificate in {slot}: {e}");
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(first_error.map_or(WorkflowError::NoLoginCertificate, WorkflowError::Ca))
}

/// A session with the CA: the client, who the CA takes the holder to be, and the HSA-id and slot
/// of the certificate the CA accepted.
pub(crate) struct Login {
    pub(crate) client: CaClient,
    pub(crate) me: crate::ca::client::Me,
    pub(crate) hsa_id: String,
    pub(crate) slot: KeySlot,
}

/// The CA turned down the certificate the card logged in with (not the network, not the CA's
/// own trouble): another login certificate may do.
fn login_refused(e: &CaError) -> bool {
    match e {
        CaError::ClientCertRefused(_) | CaError::Tls(_) => true,
        CaError::Refused { status, .. } => matches!(status, 401 | 403),
        _ => false,
    }
}

/// The certificates the card may log in to the CA with, best first: HSA-id authentication
/// certificates under PIN1, the legacy one before the new one (it is the one the CA knows until
/// the upgrade ends), those valid today before the others.
fn login_certificates(
    overview: &CardOverview,
) -> Vec<(KeySlot, &crate::card::CardCertificate, &CertInfo)> {
    let now = crate::pki::date::now_unix();
    let mut v: Vec<_> = overview
        .certificates
        .iter()
        .filter(|c| c.pin == Some(PinKind::Pin1))
        .filter_map(|c| Some((c.slot?, c, c.info.as_ref().ok()?)))
        .filter(|(_, _, i)| {
            i.purpose == Purpose::Authentication && matches!(i.identity, Identity::HsaId(_))
        })
        .collect();
    v.sort_by_key(|(slot, _, i)| (!i.is_valid_at(now), *slot == Profile::HsaAuth.slot(), *slot));
    v
}

/// The key for `profile` in `slot`: made by the card, or an earlier run's half-made key reused.
/// Both backends refuse to generate into an occupied slot, so generating first costs one APDU
/// less per key than asking first; the slow generation is announced before it starts.
pub(crate) fn key_in_slot(
    shared: &SharedCard,
    timing: &mut Timing,
    report: &mut Reporter<'_>,
    profile: Profile,
    slot: KeySlot,
    pin2: &SecretCode,
) -> Result<PublicKey, WorkflowError> {
    report.working(
        Activity::GeneratingKey(profile),
        format!(
            "The card is making a key for {} (usually a few seconds)",
            profile.card_label()
        ),
    )?;
    Timed { shared, timing }.with(|c| {
        // A PKCS#11 token per PIN shows, and makes, PIN2 keys only once PIN2 is given.
        authorize_for_slot(c, slot, pin2)?;
        match c.generate_key(slot) {
            // Reused only when this program made it and nothing names it yet; anyone else's
            // key stays, and so does the slot's claim on it.
            Err(CardError::SlotOccupied(_)) => {
                match c.unfinished_key(slot, &pairs::own_key_labels(slot))? {
                    Some(key) => Ok(Ok(key)),
                    None => Ok(Err(WorkflowError::SlotInUse(slot))),
                }
            }
            other => other.map(Ok),
        }
    })?
}

/// Every check an issued certificate passes before it touches the card (chain through the
/// profile's CA to the root, the card's key, the identity, purpose and trust level), the
/// profile's CAs fetched from the CA itself.
pub(crate) fn check_for_card(
    client: &CaClient,
    timing: &mut Timing,
    roots: &[Vec<u8>],
    cert: &[u8],
    profile: Profile,
    key: &PublicKey,
    identity: String,
) -> Result<(), WorkflowError> {
    let ca_started = Instant::now();
    let issuers = client.cacerts(profile)?;
    timing.ca += ca_started.elapsed();
    check_issued(
        cert,
        &issuers,
        roots,
        &Expected {
            identity,
            purpose: profile.purpose(),
            modulus: key.modulus.clone(),
            exponent: key.exponent.clone(),
            trust_level: profile.trust_level(),
            profile,
        },
        crate::pki::date::now_unix(),
    )
    .map_err(|error| WorkflowError::Check { profile, error })?;
    Ok(())
}

/// Verify the PIN the slot needs right before its signature (PIN2 for signing keys).
pub(crate) fn authorize_for_slot(
    card: &mut dyn Card,
    slot: KeySlot,
    pin2: &SecretCode,
) -> Result<(), CardError> {
    if slot.pin() == PinKind::Pin2 {
        card.authorize(slot, pin2)?;
    }
    Ok(())
}

/// A CSR for the key in `slot`, signed by the card.
pub(crate) fn csr_for(
    shared: &SharedCard,
    timing: &mut Timing,
    slot: KeySlot,
    key: &PublicKey,
    pin2: &SecretCode,
) -> Result<Vec<u8>, WorkflowError> {
    Timed { shared, timing }.with(|c| authorize_for_slot(c, slot, pin2))?;
    let started = Instant::now();
    let csr = card_csr(shared, slot, key)?;
    timing.card += started.elapsed();
    Ok(csr)
}

/// Sign a fresh challenge with the key in `slot` and verify it with the certificate's key.
pub(crate) fn prove(
    shared: &SharedCard,
    timing: &mut Timing,
    profile: Profile,
    slot: KeySlot,
    cert: &CertInfo,
    pin2: &SecretCode,
) -> Result<(), WorkflowError> {
    use rsa::pkcs1v15::Pkcs1v15Sign;
    let mut challenge = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut challenge);
    let hash: [u8; 32] = Sha256::digest(challenge).into();
    let signature = Timed { shared, timing }.with(|c| {
        authorize_for_slot(c, slot, pin2)?;
        c.sign(slot, &hash, SignatureScheme::Pkcs1Sha256)
    })?;
    let (Some(n), Some(e)) = (&cert.rsa_modulus, &cert.rsa_exponent) else {
        return Err(WorkflowError::ProofFailed(profile));
    };
    let key = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(n),
        rsa::BigUint::from_bytes_be(e),
    )
    .map_err(|_| WorkflowError::ProofFailed(profile))?;
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &signature)
        .map_err(|_| WorkflowError::ProofFailed(profile))
}
