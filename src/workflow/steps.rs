//! The steps the workflows share: read the card, log in to the CA, check what the card holds,
//! put a key in a slot, have a certificate issued for it, check it before it touches the card,
//! and prove the key signs. Each is written once so that the upgrade, the renewal and the
//! fetching of existing certificates keep the same rules (which certificate may log in, what
//! counts as ours, which PIN a slot needs) and cannot drift apart.
//!
//! Every step counts the time it spends on the card and at the CA in [`Timing`].

use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::ca::Profile;
use crate::ca::check::{Expected, check_issued};
use crate::ca::client::{CaClient, CaError};
use crate::ca::csr::card_csr;
use crate::card::{
    Card, CardError, CardOverview, KeySlot, PinKind, PublicKey, SecretCode, SharedCard,
    SignatureScheme,
};
use crate::pki::{CertInfo, Identity, Purpose};
use crate::workflow::error::WorkflowError;
use crate::workflow::pairs;
use crate::workflow::progress::{Activity, Reporter, Step};

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

/// What every step of one run works with: the card, the time spent so far, and the progress.
pub(crate) struct WorkflowRun<'a> {
    pub(crate) shared: &'a SharedCard,
    pub(crate) timing: Timing,
    pub(crate) report: Reporter<'a>,
}

impl<'a> WorkflowRun<'a> {
    pub(crate) fn new(shared: &'a SharedCard, report: Reporter<'a>) -> WorkflowRun<'a> {
        WorkflowRun {
            shared,
            timing: Timing::default(),
            report,
        }
    }

    /// The card, its time counted in this run's [`Timing`].
    pub(crate) fn card(&mut self) -> Timed<'_> {
        Timed {
            shared: self.shared,
            timing: &mut self.timing,
        }
    }
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

/// Read the card and stop before anything else when it cannot take part: a dead card, or a
/// blocked PIN (the workflow would need it and must not spend a try finding out).
pub(crate) fn read_card(
    shared: &SharedCard,
    timing: &mut Timing,
) -> Result<CardOverview, WorkflowError> {
    let overview = Timed { shared, timing }.with(|c| c.overview())?;
    if overview.dead() {
        return Err(CardError::CardDead.into());
    }
    for kind in [PinKind::Pin1, PinKind::Pin2] {
        if overview.pin(kind).is_some_and(|p| p.blocked()) {
            return Err(CardError::Blocked(kind).into());
        }
    }
    Ok(overview)
}

/// The first step of a long workflow: whose card it is.
pub(crate) fn report_read(
    report: &mut Reporter<'_>,
    overview: &CardOverview,
) -> Result<(), WorkflowError> {
    report.step(
        Step::ReadCard,
        format!(
            "Read the card of {}",
            overview.holder_name().unwrap_or("the holder")
        ),
    )
}

/// The second: PIN1 accepted (by [`log_in`], or on its own when the CA is not needed).
pub(crate) fn report_pin1(report: &mut Reporter<'_>) -> Result<(), WorkflowError> {
    report.step(
        Step::VerifyPin(PinKind::Pin1),
        "Identification PIN accepted".into(),
    )
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
    holder: pairs::ExpectedHolder<'_>,
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
