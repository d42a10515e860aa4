//! Which of the card's certificates belong to which profile.
//!
//! A certificate belongs to a profile when the profile's CA issued it for the profile's purpose
//! and kind of identity, and it sits in one of the profile's two slots (where the upgrade put it,
//! or where a renewal moved it). Everything else with a key slot is legacy: the old pair, or
//! something no workflow of ours wrote. One reading for the upgrade, the renewal, the window's
//! verdict and `check-expiry`, so they never disagree about a card.

use crate::ca::{IdentityKind, Profile};
use crate::card::{CardCertificate, CardOverview, KeySlot};
use crate::pki::CertInfo;

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

/// Certificates in a key slot that belong to no profile: the legacy pair, which the upgrade
/// replaces.
pub fn legacy(overview: &CardOverview) -> impl Iterator<Item = &CardCertificate> {
    overview
        .certificates
        .iter()
        .filter(|c| c.slot.is_some() && profile_of(c).is_none())
}

/// Every profile has its certificate on the card.
pub fn complete(overview: &CardOverview) -> bool {
    Profile::ALL
        .into_iter()
        .all(|p| !held(overview, p).is_empty())
}

/// The card still needs the upgrade: a legacy pair is left, or a profile has no certificate.
pub fn needs_upgrade(overview: &CardOverview) -> bool {
    legacy(overview).next().is_some() || !complete(overview)
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
