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

use crate::ca::check::{CertCheckError, Expected, check_issued};
use crate::ca::client::{CaClient, CaError};
use crate::ca::csr::card_csr;
use crate::ca::{IdentityKind, Profile};
use crate::card::{
    Card, CardError, CardOverview, KeySlot, PinKind, PublicKey, SecretCode, SharedCard,
    SignatureScheme,
};
use crate::pki::{CertInfo, Identity, Purpose};
use crate::workflow::pairs;
use crate::workflow::progress::{Cancel, Reporter};

/// Where the upgrade is; the GUI shows these as a step list, the CLI as lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    ReadCard,
    VerifyPin(PinKind),
    LogIn,
    GenerateKey(Profile),
    Enrol(Profile),
    WriteCertificate(Profile),
    ProveKey(Profile),
    RemoveLegacy,
    /// Renewal: the old certificate of a profile and its key are removed.
    RemoveOld(Profile),
    /// Not a step: what comes next and takes a while (the step count stays).
    Working(Activity),
    Done,
}

/// What the card or the CA is busy with before a slow step, so the holder sees what is
/// happening and roughly how long it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// The card makes an RSA-2048 key pair: seconds on a real card.
    GeneratingKey(Profile),
    /// The card signs the request and the CA issues the certificate.
    Enrolling(Profile),
}

/// One progress report: the step, how far along the whole upgrade is, and words for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub step: Step,
    pub done: usize,
    pub total: usize,
    pub message: String,
}

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
    pub overview: CardOverview,
    pub timing: Timing,
}

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error(transparent)]
    Card(#[from] CardError),
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(
        "the certificate for {profile} was refused and nothing was written to the card: {error}"
    )]
    Check {
        profile: &'static str,
        error: CertCheckError,
    },
    #[error("the CA will not upgrade this card: {message}")]
    NotAllowed {
        code: crate::ca::RefusalCode,
        message: String,
    },
    #[error(
        "the CA offers no {0} certificate for you, so the upgrade cannot make both pairs: contact the service centre"
    )]
    ProfileMissing(&'static str),
    #[error(
        "the card has no authentication certificate to log in to the CA with: contact the service centre"
    )]
    NoLoginCertificate,
    #[error(
        "the CA took this card for {ca}, but its login certificate names {card}: nothing was \
         changed; contact the service centre"
    )]
    CaTookAnother { card: String, ca: String },
    #[error(
        "the customer's card does not carry a certificate this CA stands behind ({0}): no PUK \
         was fetched; check that this is the customer's own card, and contact the service centre"
    )]
    CustomerNotTrusted(String),
    #[error(
        "stopped as you asked: what is done stays on the card; run it again to carry on where it \
         stopped"
    )]
    Cancelled,
    #[error(
        "this card has not been upgraded yet, so there is nothing to renew: upgrade the card \
         first (siths-upgrade upgrade)"
    )]
    NotUpgraded,
    #[error(
        "the card's authentication certificate for this pair has expired, so the CA cannot \
         renew it: order a new card from the service centre"
    )]
    LoginExpired,
    #[error("{0} holds a certificate that is not part of the upgrade: contact the service centre")]
    SlotInUse(KeySlot),
    #[error("this certificate {}", .0.explain())]
    NotWritable(crate::workflow::fetch_existing::Fit),
    #[error(
        "a new key on the card did not produce a valid signature ({0}): take the card out, put it back and resume the upgrade"
    )]
    ProofFailed(&'static str),
}

impl UpgradeError {
    /// The holder can fix it (wrong or blocked PIN) rather than the site or the service centre.
    pub fn is_user_error(&self) -> bool {
        matches!(self, UpgradeError::Card(e) if e.is_user_error())
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

/// The certificate in the profile's upgrade slot, whoever issued it.
fn profile_cert(
    overview: &CardOverview,
    profile: Profile,
) -> Option<&crate::card::CardCertificate> {
    overview
        .certificates
        .iter()
        .find(|c| c.slot == Some(profile.slot()))
}

/// The identity a profile's certificate must name, from the CA's record of the holder.
fn expected_identity(profile: Profile, hsa_id: &str, personnummer: Option<&str>) -> Option<String> {
    match profile.identity() {
        IdentityKind::HsaId => Some(hsa_id.to_string()),
        IdentityKind::Personnummer => personnummer.map(str::to_string),
    }
}

fn identity_matches(info: &CertInfo, expected: &str) -> bool {
    info.identity.value() == Some(expected)
}

/// Run (or resume) the upgrade of the card in `shared`.
pub fn upgrade(
    shared: &SharedCard,
    request: &UpgradeRequest<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<UpgradeSummary, UpgradeError> {
    upgrade_until(shared, request, &Cancel::default(), progress)
}

/// [`upgrade`], stopping with [`UpgradeError::Cancelled`] at the first step boundary after
/// `cancel` is set.
pub fn upgrade_until(
    shared: &SharedCard,
    request: &UpgradeRequest<'_>,
    cancel: &Cancel,
    progress: &mut dyn FnMut(Progress),
) -> Result<UpgradeSummary, UpgradeError> {
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

    let (client, me) = log_in(
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
        return Err(UpgradeError::NotAllowed {
            code: refusal.error,
            message: refusal.message.clone(),
        });
    }
    for profile in Profile::ALL {
        if !me.profiles.iter().any(|p| p.label == profile.label()) {
            return Err(UpgradeError::ProfileMissing(profile.label()));
        }
    }
    // The HSA-id certificates must name whom the card's own login certificate names; a CA that
    // takes the card for someone else gets nothing written.
    let card_hsa_id = login_hsa_id(&overview).ok_or(UpgradeError::NoLoginCertificate)?;
    if card_hsa_id != me.hsa_id {
        return Err(UpgradeError::CaTookAnother {
            card: card_hsa_id,
            ca: me.hsa_id.clone(),
        });
    }
    let root_der = crate::ca::check::root_der(request.ca_root_pem)?;
    report.step(Step::LogIn, format!("Logged in to the CA as {}", me.hsa_id))?;

    let mut existing: Option<Vec<crate::ca::client::IssuedCert>> = None;
    let mut written = Vec::new();
    let mut new_certs: Vec<(Profile, Vec<u8>)> = Vec::new();
    for profile in Profile::ALL {
        let slot = profile.slot();
        let Some(identity) = expected_identity(
            profile,
            &card_hsa_id,
            (!me.personnummer.is_empty()).then_some(me.personnummer.as_str()),
        ) else {
            return Err(UpgradeError::ProfileMissing(profile.label()));
        };

        // Already on the card from an earlier run, or moved by a renewal?
        if !pairs::held(&overview, profile).is_empty() {
            report.skip(3);
            continue;
        }
        let on_card = profile_cert(&overview, profile);
        if let Some(c) = on_card {
            match c.info.as_ref() {
                Ok(info)
                    if identity_matches(info, &identity) && info.purpose == profile.purpose() =>
                {
                    report.skip(3);
                    continue;
                }
                _ => return Err(UpgradeError::SlotInUse(slot)),
            }
        }

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
        check_for_card(
            &client,
            &mut timing,
            &root_der,
            &cert,
            profile,
            &key,
            identity,
        )?;
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
    // or the newest the card already held. No second overview: only the profile slots changed
    // since the first, and this run knows what it wrote there.
    let mut keep = Vec::new();
    for profile in Profile::ALL {
        let held = pairs::held(&overview, profile);
        let (slot, info) = match new_certs.iter().find(|(p, _)| *p == profile) {
            Some((_, der)) => (
                profile.slot(),
                CertInfo::from_der(der).map_err(|_| UpgradeError::ProofFailed(profile.label()))?,
            ),
            None => {
                let newest = held
                    .last()
                    .ok_or(UpgradeError::ProofFailed(profile.label()))?;
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

    // Only now: remove the legacy pair, and any key no profile certificate names, in one
    // transaction (one CDF write drops them all).
    let mut removed_slots = Vec::new();
    let mut card = Timed {
        shared,
        timing: &mut timing,
    };
    for slot in KeySlot::ALL.into_iter().filter(|s| !keep.contains(s)) {
        let listed = overview.certificates.iter().any(|c| c.slot == Some(slot))
            || overview.keys.iter().any(|k| k.slot == Some(slot));
        if listed || card.with(|c| c.read_public_key(slot))?.is_some() {
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
        overview,
        timing,
    })
}

/// Verify PIN1 and log in to the CA with the card's HSA-id authentication certificate: the legacy
/// one, or after an interrupted removal of the legacy pair, the new one.
pub(crate) fn log_in(
    shared: &SharedCard,
    overview: &CardOverview,
    ca_url: &str,
    ca_root_pem: &[u8],
    pin1: &SecretCode,
    timing: &mut Timing,
) -> Result<(CaClient, crate::ca::client::Me), UpgradeError> {
    let (slot, cert) = login_certificate(overview)
        .map(|(slot, c, _)| (slot, c.der.clone()))
        .ok_or(UpgradeError::NoLoginCertificate)?;
    Timed { shared, timing }.with(|c| c.verify_pin(PinKind::Pin1, pin1))?;
    let started = Instant::now();
    let client = CaClient::new(ca_url, ca_root_pem, shared.clone(), slot, cert)?;
    let me = client.me()?;
    timing.ca += started.elapsed();
    Ok((client, me))
}

/// The HSA-id of the certificate the card logs in with: who the holder is, as the card (not the
/// CA) says.
pub(crate) fn login_hsa_id(overview: &CardOverview) -> Option<String> {
    login_certificate(overview).and_then(|(_, _, i)| i.identity.value().map(str::to_string))
}

/// The certificate the card logs in to the CA with: an HSA-id authentication certificate under
/// PIN1, the legacy one before the new one (it is the one the CA knows until the upgrade ends).
fn login_certificate(
    overview: &CardOverview,
) -> Option<(KeySlot, &crate::card::CardCertificate, &CertInfo)> {
    overview
        .certificates
        .iter()
        .filter(|c| c.pin == Some(PinKind::Pin1))
        .filter_map(|c| Some((c.slot?, c, c.info.as_ref().ok()?)))
        .filter(|(_, _, i)| {
            i.purpose == Purpose::Authentication && matches!(i.identity, Identity::HsaId(_))
        })
        .min_by_key(|(slot, _, _)| *slot == Profile::HsaAuth.slot())
}

/// The key for `profile` in `slot`: made by the card, or an earlier run's reused. Both backends
/// refuse to generate into an occupied slot, so generating first costs one APDU less per key
/// than asking first; the slow generation is announced before it starts.
pub(crate) fn key_in_slot(
    shared: &SharedCard,
    timing: &mut Timing,
    report: &mut Reporter<'_>,
    profile: Profile,
    slot: KeySlot,
    pin2: &SecretCode,
) -> Result<PublicKey, UpgradeError> {
    report.working(
        Activity::GeneratingKey(profile),
        format!(
            "The card is making a key for {} (usually a few seconds)",
            profile.card_label()
        ),
    )?;
    Ok(Timed { shared, timing }.with(|c| {
        // A PKCS#11 token per PIN shows, and makes, PIN2 keys only once PIN2 is given.
        authorize_for_slot(c, slot, pin2)?;
        match c.generate_key(slot) {
            Err(CardError::SlotOccupied(_)) => {
                c.read_public_key(slot)?.ok_or(CardError::SlotEmpty(slot))
            }
            other => other,
        }
    })?)
}

/// Every check an issued certificate passes before it touches the card (chain through the
/// profile's CA to the root, the card's key, the identity, purpose and trust level), the
/// profile's CAs fetched from the CA itself.
pub(crate) fn check_for_card(
    client: &CaClient,
    timing: &mut Timing,
    root_der: &[u8],
    cert: &[u8],
    profile: Profile,
    key: &PublicKey,
    identity: String,
) -> Result<(), UpgradeError> {
    let ca_started = Instant::now();
    let issuers = client.cacerts(profile)?;
    timing.ca += ca_started.elapsed();
    check_issued(
        cert,
        &issuers,
        root_der,
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
    .map_err(|error| UpgradeError::Check {
        profile: profile.label(),
        error,
    })?;
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
) -> Result<Vec<u8>, UpgradeError> {
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
) -> Result<(), UpgradeError> {
    use rsa::pkcs1v15::Pkcs1v15Sign;
    let mut challenge = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut challenge);
    let hash: [u8; 32] = Sha256::digest(challenge).into();
    let signature = Timed { shared, timing }.with(|c| {
        authorize_for_slot(c, slot, pin2)?;
        c.sign(slot, &hash, SignatureScheme::Pkcs1Sha256)
    })?;
    let (Some(n), Some(e)) = (&cert.rsa_modulus, &cert.rsa_exponent) else {
        return Err(UpgradeError::ProofFailed(profile.label()));
    };
    let key = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(n),
        rsa::BigUint::from_bytes_be(e),
    )
    .map_err(|_| UpgradeError::ProofFailed(profile.label()))?;
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &signature)
        .map_err(|_| UpgradeError::ProofFailed(profile.label()))
}
