//! Which of the card's certificates belong to which profile, which are the legacy pair, and
//! which are the holder's other objects.
//!
//! Two readings, one shape:
//!
//! - **By shape** ([`held`], [`legacy`], [`others`]): a certificate looks like a profile's when
//!   it names the profile's issuing CA, purpose and kind of identity and sits in one of the
//!   profile's two slots (where the upgrade put it, or where a renewal moved it); it looks like
//!   the legacy pair when it is an HSA-id authentication or signature certificate of no profile.
//!   Everything else (and every key no such certificate names, unless this program made it) is
//!   the holder's other objects, which no workflow touches. The window's verdict, `status` and
//!   `check-expiry` read the card this way: they need no CA.
//! - **Checked** ([`check`]): what the upgrade and the renewal act on. A certificate counts as a
//!   profile's only once it passes the full issuance check (chain to the configured roots
//!   through the profile's issuing CA, its policy, the holder's identity, the card's key), and
//!   as the legacy pair only once it chains through the legacy CA and names the holder. One
//!   that looks like either and fails is [`Rejected`]: reported, kept, and never the reason
//!   anything else is removed.

use crate::ca::check::{CertCheckError, Expected, check_genuine, check_legacy};
use crate::ca::{IdentityKind, Profile};
use crate::card::{CardCertificate, CardOverview, KeyEntry, KeySlot, PublicKey};
use crate::pki::{CertInfo, Identity, Purpose};

/// A certificate of `profile` on the card.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    pub profile: Profile,
    pub slot: KeySlot,
    pub cert: &'a CardCertificate,
    pub info: &'a CertInfo,
}

/// The profile a card certificate belongs to, if any.
pub fn profile_of(cert: &CardCertificate) -> Option<Profile> {
    let slot = cert.slot?;
    let info = cert.info.as_ref().ok()?;
    Profile::of_certificate(info).filter(|p| p.slots().contains(&slot))
}

/// The certificates of `profile` on the card, oldest (soonest to expire) first: one normally,
/// two while a renewal has written the new one and not yet removed the old.
pub fn held(overview: &CardOverview, profile: Profile) -> Vec<Held<'_>> {
    let mut v: Vec<Held<'_>> = overview
        .certificates
        .iter()
        .filter(|c| profile_of(c) == Some(profile))
        .filter_map(|c| {
            Some(Held {
                profile,
                slot: c.slot?,
                cert: c,
                info: c.info.as_ref().ok()?,
            })
        })
        .collect();
    v.sort_by_key(|h| (h.info.not_after, h.info.not_before));
    v
}

/// Whether a certificate of no profile looks like the legacy pair: an HSA-id certificate for
/// authentication or signature.
fn legacy_shaped(info: &CertInfo) -> bool {
    matches!(info.identity, Identity::HsaId(_))
        && matches!(info.purpose, Purpose::Authentication | Purpose::Signature)
}

/// Certificates in a key slot that look like the legacy pair, which the upgrade replaces (once
/// [`check`] proves them the holder's legacy pair).
pub fn legacy(overview: &CardOverview) -> impl Iterator<Item = &CardCertificate> {
    overview.certificates.iter().filter(|c| {
        c.slot.is_some() && profile_of(c).is_none() && c.info.as_ref().is_ok_and(legacy_shaped)
    })
}

/// The labels this program gives a key in `slot`: the label of its generation, and the
/// label of the slot's profile, which the key takes when its certificate is written (the legacy
/// pair of our pre-upgrade cards has the same labels in slots 1 and 5).
pub fn own_key_labels(slot: KeySlot) -> [String; 2] {
    [
        slot.generation_label(),
        Profile::of_slot(slot).card_label().to_string(),
    ]
}

/// Objects on the card that are neither a profile's nor the legacy pair: the holder's, kept as
/// they are by every workflow and listed in the overview.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Others {
    pub certificates: usize,
    pub keys: usize,
}

impl Others {
    pub fn is_empty(&self) -> bool {
        self.certificates == 0 && self.keys == 0
    }
}

/// The certificates and keys no workflow of ours will touch: certificates that look like no
/// profile's and not like the legacy pair, keys they name, and keys without a certificate that
/// this program did not make (a key of ours without one is a generation cut short).
pub fn others(overview: &CardOverview) -> Others {
    let ours = |c: &CardCertificate| {
        c.slot.is_some() && (profile_of(c).is_some() || c.info.as_ref().is_ok_and(legacy_shaped))
    };
    let certificates = overview.certificates.iter().filter(|c| !ours(c)).count();
    let key_is_other = |k: &KeyEntry| {
        if overview.certificates.iter().any(|c| c.id == k.id) {
            return overview
                .certificates
                .iter()
                .any(|c| c.id == k.id && !ours(c));
        }
        match k.slot {
            None => true,
            Some(slot) => {
                overview.certificates.iter().all(|c| c.slot != Some(slot))
                    && !own_key_labels(slot).contains(&k.label)
            }
        }
    };
    Others {
        certificates,
        keys: overview.keys.iter().filter(|k| key_is_other(k)).count(),
    }
}

/// The profiles this card takes: all four, or on a card that came with one code (no signing
/// PIN on the card, only the authentication certificate) the two authentication profiles. A
/// signing key needs a signing code of its own, which the holder sets later in the card's
/// own software [public: Inera's SITHS eID help pages]; nothing here asks for a PIN2 the card
/// does not have. A code the middleware only hides (`TriesKnown::NotShown`) is not missing.
pub fn profiles_for(overview: &CardOverview) -> Vec<Profile> {
    let one_code = overview.one_code();
    Profile::ALL
        .into_iter()
        .filter(|p| !one_code || p.purpose() == Purpose::Authentication)
        .collect()
}

/// Every profile the card takes has its certificate on the card.
pub fn complete(overview: &CardOverview) -> bool {
    profiles_for(overview)
        .into_iter()
        .all(|p| !held(overview, p).is_empty())
}

/// The card still needs the upgrade: a legacy pair is left, or a profile has no certificate.
pub fn needs_upgrade(overview: &CardOverview) -> bool {
    legacy(overview).next().is_some() || !complete(overview)
}

/// Whom every certificate kept on the card must name: the HSA-id of the card's login
/// certificate (which the CA confirmed) and the personnummer the CA has for that holder.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedHolder<'a> {
    pub hsa_id: &'a str,
    pub personnummer: Option<&'a str>,
}

impl ExpectedHolder<'_> {
    fn identity(&self, kind: IdentityKind) -> Option<&str> {
        match kind {
            IdentityKind::HsaId => Some(self.hsa_id),
            IdentityKind::Personnummer => self.personnummer.filter(|p| !p.is_empty()),
        }
    }
}

/// What the checks need: the CA's certificates (EST `cacerts`, the default CA's whole set),
/// the configured roots, the holder, and the card's public key in each slot that holds a
/// certificate looking like a profile's.
pub struct Evidence<'a> {
    pub issuers: &'a [Vec<u8>],
    pub roots: &'a [Vec<u8>],
    pub holder: ExpectedHolder<'a>,
    pub keys: &'a [(KeySlot, PublicKey)],
    pub now: i64,
}

/// A certificate that looks like a profile's or the legacy pair's and fails its check: left on
/// the card, counted as nothing, reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub slot: KeySlot,
    /// The profile it looks like; None when it looks like the legacy pair.
    pub looks_like: Option<Profile>,
    pub error: CertCheckError,
}

/// The card's certificates after the full check.
#[derive(Debug, Clone, Default)]
pub struct Checked<'a> {
    held: Vec<Held<'a>>,
    /// Slots of the holder's legacy pair, proven: the upgrade removes these.
    pub legacy: Vec<KeySlot>,
    pub rejected: Vec<Rejected>,
}

impl<'a> Checked<'a> {
    /// The checked certificates of `profile`, oldest (soonest to expire) first.
    pub fn held(&self, profile: Profile) -> Vec<Held<'a>> {
        let mut v: Vec<Held<'a>> = self
            .held
            .iter()
            .filter(|h| h.profile == profile)
            .copied()
            .collect();
        v.sort_by_key(|h| (h.info.not_after, h.info.not_before));
        v
    }

    /// The rejected certificate in `slot`, if one is there.
    pub fn rejected_in(&self, slot: KeySlot) -> Option<&Rejected> {
        self.rejected.iter().find(|r| r.slot == slot)
    }
}

/// The slots whose public key [`check`] needs: those holding a certificate that looks like a
/// profile's.
pub fn slots_to_check(overview: &CardOverview) -> Vec<KeySlot> {
    let mut slots: Vec<KeySlot> = overview
        .certificates
        .iter()
        .filter(|c| profile_of(c).is_some())
        .filter_map(|c| c.slot)
        .collect();
    slots.sort();
    slots.dedup();
    slots
}

/// Check every certificate in a key slot that looks like a profile's or the legacy pair's.
/// Others (no key slot, or of another kind) are the holder's and are not looked at.
pub fn check<'a>(overview: &'a CardOverview, evidence: &Evidence<'_>) -> Checked<'a> {
    let mut checked = Checked::default();
    for cert in &overview.certificates {
        let (Some(slot), Ok(info)) = (cert.slot, cert.info.as_ref()) else {
            continue;
        };
        if let Some(profile) = profile_of(cert) {
            match check_profile(cert, info, profile, slot, evidence) {
                Ok(()) => checked.held.push(Held {
                    profile,
                    slot,
                    cert,
                    info,
                }),
                Err(error) => checked.rejected.push(Rejected {
                    slot,
                    looks_like: Some(profile),
                    error,
                }),
            }
        } else if legacy_shaped(info) {
            match check_legacy(
                info,
                evidence.issuers,
                evidence.roots,
                evidence.holder.hsa_id,
                evidence.now,
            ) {
                Ok(()) => checked.legacy.push(slot),
                Err(error) => checked.rejected.push(Rejected {
                    slot,
                    looks_like: None,
                    error,
                }),
            }
        }
    }
    checked
}

fn check_profile(
    cert: &CardCertificate,
    info: &CertInfo,
    profile: Profile,
    slot: KeySlot,
    evidence: &Evidence<'_>,
) -> Result<(), CertCheckError> {
    let identity = evidence
        .holder
        .identity(profile.identity())
        .ok_or_else(|| CertCheckError::WrongIdentity {
            expected: "the holder's personnummer, which the CA does not have".into(),
            found: info.identity.kind().to_string(),
        })?;
    let key = evidence
        .keys
        .iter()
        .find(|(s, _)| *s == slot)
        .map(|(_, k)| k)
        .ok_or(CertCheckError::WrongKey)?;
    check_genuine(
        &cert.der,
        evidence.issuers,
        evidence.roots,
        &Expected {
            identity: identity.to_string(),
            purpose: profile.purpose(),
            modulus: key.modulus.clone(),
            exponent: key.exponent.clone(),
            trust_level: profile.trust_level(),
            profile,
        },
        evidence.now,
    )
    .map(|_| ())
}

/// The two profiles of an identity's pair, authentication first.
pub fn pair(kind: IdentityKind) -> [Profile; 2] {
    match kind {
        IdentityKind::HsaId => [Profile::HsaAuth, Profile::HsaSign],
        IdentityKind::Personnummer => [Profile::PnrAuth, Profile::PnrSign],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::mock::CaName;
    use crate::card::{CardSource, PinKind};
    use crate::pki::Purpose;
    use crate::pki::issue::{PersonCertRequest, PersonName, TestCa};

    fn name(serial: &str) -> PersonName {
        PersonName {
            serial_number: serial.into(),
            given_name: "Karin".into(),
            surname: "Åström".into(),
            common_name: "Karin Åström".into(),
            organisation: "Testregionen".into(),
            locality: None,
        }
    }

    fn cert(ca: &TestCa, serial: &str, purpose: Purpose, slot: u8) -> CardCertificate {
        // The CA's own key: what matters here is who issued the certificate.
        let key = ca.info().spki_der.clone();
        let der = ca
            .issue_person_cert(
                &PersonCertRequest {
                    subject: name(serial),
                    purpose,
                    trust_level: Some(3),
                    upn: None,
                    not_before: None,
                    not_after: None,
                },
                &key,
            )
            .unwrap();
        let slot = KeySlot::new(slot).unwrap();
        CardCertificate {
            id: slot.id().to_vec(),
            label: "x".into(),
            path: vec![],
            slot: Some(slot),
            pin: Some(slot.pin()),
            info: CertInfo::from_der(&der).map_err(|e| e.to_string()),
            der,
        }
    }

    fn card(certificates: Vec<CardCertificate>) -> CardOverview {
        CardOverview {
            reader: "test".into(),
            source: CardSource::Reader {
                name: "test".into(),
                atr: Vec::new(),
            },
            serial: "1".into(),
            label: None,
            manufacturer: None,
            pins: vec![],
            keys: vec![],
            certificates,
        }
    }

    #[test]
    fn the_issuer_not_the_slot_tells_legacy_from_a_renewed_pair() {
        let root = TestCa::new_root(CaName::Root.common_name(), 2048).unwrap();
        let issuing =
            |n: CaName| TestCa::new_issuing(&root, n.common_name(), 2048, Some(3)).unwrap();
        let (legacy_ca, hsa, pnr) = (
            issuing(CaName::Legacy),
            issuing(CaName::Hsa3),
            issuing(CaName::Pnr3),
        );
        let hsa_id = "TST5565594230-1001";
        let pnr_id = "198102179804";

        // Before the upgrade: the legacy pair in slots 1 and 5.
        let before = card(vec![
            cert(&legacy_ca, hsa_id, Purpose::Authentication, 1),
            cert(&legacy_ca, hsa_id, Purpose::Signature, 5),
        ]);
        assert!(needs_upgrade(&before));
        assert_eq!(legacy(&before).count(), 2);

        // Renewed: the HSA-id pair moved to slots 1 and 5, where the legacy pair was.
        let renewed = card(vec![
            cert(&hsa, hsa_id, Purpose::Authentication, 1),
            cert(&hsa, hsa_id, Purpose::Signature, 5),
            cert(&pnr, pnr_id, Purpose::Authentication, 3),
            cert(&pnr, pnr_id, Purpose::Signature, 7),
        ]);
        assert!(!needs_upgrade(&renewed));
        assert_eq!(held(&renewed, Profile::HsaAuth)[0].slot.number(), 1);

        // A profile certificate in another profile's slot is not that profile's.
        let misplaced = card(vec![cert(&hsa, hsa_id, Purpose::Authentication, 3)]);
        assert!(held(&misplaced, Profile::HsaAuth).is_empty());
        assert_eq!(legacy(&misplaced).count(), 1);
        assert_eq!(
            misplaced.certificates[0].pin,
            Some(PinKind::Pin1),
            "the test card is built as the card reads"
        );
    }
}
