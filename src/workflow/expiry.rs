//! Which certificates on a card are due for an expiry reminder, and how urgent the card is.
//!
//! One implementation for `check-expiry` (a scheduler acts on its exit code) and the window's
//! banner, so the two never disagree about a card. The steps themselves are
//! [`crate::pki::expiry::THRESHOLDS`].

use crate::ca::IdentityKind;
use crate::card::{CardCertificate, CardOverview};
use crate::pki::expiry::warning_threshold;
use crate::pki::{Identity, Purpose};
use crate::workflow::pairs;

/// One certificate that has reached a reminder step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// PKCS#15 id of the certificate, hex, as `certs` shows it (so the user can find it there).
    pub id_hex: String,
    pub label: String,
    pub identity: Identity,
    pub purpose: Purpose,
    /// Unix seconds (UTC).
    pub not_after: i64,
    /// Whole days left, negative once expired ([`crate::pki::CertInfo::days_left`]).
    pub days_left: i64,
    /// The narrowest step reached: 30, 15, 7, 5, 3, 1 or 0 (0 also once expired).
    pub threshold: i64,
    /// What the holder does about it.
    pub fix: Fix,
}

/// What fixes an expiring certificate, so every reminder comes with its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// A pair of the upgrade: renew it (the pair's authentication certificate still logs in).
    Renew(IdentityKind),
    /// The legacy pair: the upgrade replaces it.
    Upgrade,
    /// Nothing on the card can log in to fix it any more: a new card from the service centre.
    NewCard,
}

impl Fix {
    /// The word in `check-expiry --json` (stable).
    pub fn as_str(self) -> &'static str {
        match self {
            Fix::Renew(_) => "renew",
            Fix::Upgrade => "upgrade",
            Fix::NewCard => "new_card",
        }
    }
}

/// What fixes `cert` on this card at `now`.
fn fix_for(overview: &CardOverview, cert: &CardCertificate, now_unix: i64) -> Fix {
    match pairs::profile_of(cert) {
        Some(profile) => {
            let [auth, _] = pairs::pair(profile.identity());
            if pairs::held(overview, auth)
                .iter()
                .any(|h| h.info.is_valid_at(now_unix))
            {
                Fix::Renew(profile.identity())
            } else {
                Fix::NewCard
            }
        }
        None if cert.info.as_ref().is_ok_and(|i| i.is_valid_at(now_unix)) => Fix::Upgrade,
        None => Fix::NewCard,
    }
}

/// The one fix for the whole card: renewal or upgrade when every reminder allows it, else a new
/// card; `None` without reminders.
pub fn card_fix(reminders: &[Reminder]) -> Option<Fix> {
    if reminders.iter().any(|r| r.fix == Fix::NewCard) {
        return Some(Fix::NewCard);
    }
    if reminders.iter().any(|r| r.fix == Fix::Upgrade) {
        return Some(Fix::Upgrade);
    }
    reminders.first().map(|r| r.fix)
}

impl Reminder {
    pub fn expired(&self) -> bool {
        self.days_left < 0
    }

    /// How urgent this one certificate is.
    pub fn urgency(&self) -> Urgency {
        Urgency::of_days_left(self.days_left)
    }
}

/// How urgent a card is as a whole: what a scheduler or the window decides on. Ordered, so the
/// card's urgency is the most urgent of its certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Urgency {
    /// Nothing expires within 30 days.
    None,
    /// Something expires within 30 days (but more than 7): time to plan the upgrade or new card.
    Due,
    /// Something expires within 7 days: act now, or the holder cannot log in or sign.
    Urgent,
    /// Something has expired: it no longer works.
    Expired,
}

impl Urgency {
    /// The urgency of one certificate with `days_left` whole days left.
    pub fn of_days_left(days_left: i64) -> Urgency {
        match days_left {
            d if d < 0 => Urgency::Expired,
            0..=7 => Urgency::Urgent,
            8..=crate::pki::expiry::RENEWAL_WINDOW_DAYS => Urgency::Due,
            _ => Urgency::None,
        }
    }

    /// The word used in `check-expiry --json` (stable).
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::None => "none",
            Urgency::Due => "due",
            Urgency::Urgent => "urgent",
            Urgency::Expired => "expired",
        }
    }
}

/// Certificates on the card (not CA certificates) that have reached a reminder step, soonest
/// first. Certificates that cannot be read are left out: `status` reports them.
pub fn reminders(overview: &CardOverview, now_unix: i64) -> Vec<Reminder> {
    let mut v: Vec<Reminder> = overview
        .certificates
        .iter()
        .filter_map(|c| {
            let info = c.info.as_ref().ok()?;
            if info.is_ca || info.purpose == Purpose::Ca {
                return None;
            }
            let days_left = info.days_left(now_unix);
            let threshold = warning_threshold(days_left)?;
            Some(Reminder {
                id_hex: c.id_hex(),
                label: c.label.clone(),
                identity: info.identity.clone(),
                purpose: info.purpose,
                not_after: info.not_after,
                days_left,
                threshold,
                fix: fix_for(overview, c, now_unix),
            })
        })
        .collect();
    v.sort_by(|a, b| {
        a.not_after
            .cmp(&b.not_after)
            .then_with(|| a.id_hex.cmp(&b.id_hex))
    });
    v
}

/// The most urgent of `reminders` ([`Urgency::None`] when there are none).
pub fn urgency(reminders: &[Reminder]) -> Urgency {
    reminders
        .iter()
        .map(Reminder::urgency)
        .max()
        .unwrap_or(Urgency::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CardCertificate;
    use crate::pki::issue::{PersonCertRequest, PersonName, TestCa};
    use crate::pki::{CertInfo, PkiError};

    const DAY: i64 = 86_400;
    /// A fixed "now" (2030-01-01T00:00:00Z), so the boundaries are exact to the second.
    const NOW: i64 = 1_893_456_000;

    fn holder(serial: &str) -> PersonName {
        PersonName {
            serial_number: serial.into(),
            given_name: "Karin".into(),
            surname: "Åström".into(),
            common_name: "Karin Åström".into(),
            organisation: "Testregionen Västra Götaland".into(),
            locality: None,
        }
    }

    struct Issuer {
        ca: TestCa,
    }

    impl Issuer {
        fn new() -> Issuer {
            Issuer {
                ca: TestCa::new_root("TEST expiry unit CA", 2048).unwrap(),
            }
        }

        /// A real certificate, for the CA's own key (what matters here is its validity).
        fn cert(&self, serial: &str, purpose: Purpose, not_after: i64) -> CertInfo {
            let req = PersonCertRequest {
                subject: holder(serial),
                purpose,
                trust_level: Some(3),
                upn: None,
                not_before: Some(NOW - 400 * DAY),
                not_after: Some(not_after),
            };
            let der = self
                .ca
                .issue_person_cert(&req, &self.ca.info().spki_der)
                .unwrap();
            let info = CertInfo::from_der(&der).unwrap();
            assert_eq!(
                info.not_after, not_after,
                "the CA must not clamp the test date"
            );
            info
        }
    }

    fn on_card(id: u8, label: &str, info: Result<CertInfo, PkiError>) -> CardCertificate {
        CardCertificate {
            id: vec![id],
            label: label.into(),
            path: vec![0x44, 0x10 + id],
            slot: crate::card::KeySlot::new(id),
            pin: None,
            der: info.as_ref().map(|i| i.der.clone()).unwrap_or_default(),
            info: info.map_err(|e| e.to_string()),
        }
    }

    fn overview(certificates: Vec<CardCertificate>) -> CardOverview {
        CardOverview {
            source: crate::card::CardSource::Reader {
                name: "test".into(),
                atr: Vec::new(),
            },
            reader: "test".into(),
            serial: "9752269000001001".into(),
            label: None,
            manufacturer: None,
            pins: Vec::new(),
            keys: Vec::new(),
            certificates,
        }
    }

    #[test]
    fn every_step_and_its_edges_on_one_card() {
        let issuer = Issuer::new();
        let hsa = "TST5565594230-1001";
        // (seconds from NOW to not_after, expected days_left, threshold, urgency)
        let cases: [(i64, i64, Option<i64>, Urgency); 12] = [
            (31 * DAY, 31, None, Urgency::None),
            (31 * DAY - 1, 30, Some(30), Urgency::Due),
            (30 * DAY, 30, Some(30), Urgency::Due),
            (15 * DAY + DAY / 2, 15, Some(15), Urgency::Due),
            (8 * DAY, 8, Some(15), Urgency::Due),
            (8 * DAY - 1, 7, Some(7), Urgency::Urgent),
            (5 * DAY, 5, Some(5), Urgency::Urgent),
            (3 * DAY, 3, Some(3), Urgency::Urgent),
            (DAY, 1, Some(1), Urgency::Urgent),
            (0, 0, Some(0), Urgency::Urgent),
            (-1, -1, Some(0), Urgency::Expired),
            (-40 * DAY, -40, Some(0), Urgency::Expired),
        ];
        for (offset, days, threshold, want) in cases {
            let info = issuer.cert(hsa, Purpose::Authentication, NOW + offset);
            let o = overview(vec![on_card(1, "HSA-id legitimering", Ok(info))]);
            let r = reminders(&o, NOW);
            match threshold {
                None => assert!(r.is_empty(), "{offset}s left: {r:?}"),
                Some(t) => {
                    assert_eq!(r.len(), 1, "{offset}s left");
                    assert_eq!((r[0].days_left, r[0].threshold), (days, t), "{offset}s");
                    assert_eq!(r[0].id_hex, "01");
                    assert_eq!(r[0].purpose, Purpose::Authentication);
                    assert!(matches!(r[0].identity, Identity::HsaId(_)));
                }
            }
            assert_eq!(urgency(&r), want, "{offset}s left");
        }
    }

    #[test]
    fn soonest_first_worst_wins_and_unreadable_or_ca_certificates_are_left_out() {
        let issuer = Issuer::new();
        let hsa = "TST5565594230-1001";
        let pnr = "191212121212";
        let auth = issuer.cert(hsa, Purpose::Authentication, NOW + 20 * DAY);
        let sign = issuer.cert(hsa, Purpose::Signature, NOW + 2 * DAY);
        let pnr_auth = issuer.cert(pnr, Purpose::Authentication, NOW + 300 * DAY);
        let mut ca = issuer.ca.info().clone();
        ca.not_after = NOW + DAY;
        let o = overview(vec![
            on_card(1, "HSA-id legitimering", Ok(auth)),
            on_card(2, "Personnummer legitimering", Ok(pnr_auth)),
            on_card(3, "broken", Err(PkiError::BadCertificate("not DER".into()))),
            on_card(4, "CA", Ok(ca)),
            on_card(5, "HSA-id underskrift", Ok(sign)),
        ]);
        let r = reminders(&o, NOW);
        let ids: Vec<&str> = r.iter().map(|r| r.id_hex.as_str()).collect();
        assert_eq!(ids, ["05", "01"], "{r:?}");
        assert_eq!(r[0].purpose, Purpose::Signature);
        assert_eq!(r[0].threshold, 3);
        assert_eq!(r[1].threshold, 30);
        assert_eq!(urgency(&r), Urgency::Urgent);
        assert_eq!(urgency(&[]), Urgency::None);
    }

    #[test]
    fn urgency_words_are_stable() {
        let words: Vec<&str> = [
            Urgency::None,
            Urgency::Due,
            Urgency::Urgent,
            Urgency::Expired,
        ]
        .iter()
        .map(|u| u.as_str())
        .collect();
        assert_eq!(words, ["none", "due", "urgent", "expired"]);
        assert!(Urgency::Expired > Urgency::Urgent && Urgency::Urgent > Urgency::Due);
    }
}
