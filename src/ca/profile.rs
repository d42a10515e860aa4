//! The four certificate profiles of an upgraded card [ours]: what each is for, its EST label and
//! the key slot it lives in on the card.
//!
//! Fixed slots make an interrupted upgrade resumable from the card alone: a key in a profile's
//! slot was made for that profile, so it is reused instead of a new one being minted.

use crate::card::KeySlot;
use crate::pki::Purpose;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Profile {
    #[serde(rename = "hsa-auth")]
    HsaAuth,
    #[serde(rename = "hsa-sign")]
    HsaSign,
    #[serde(rename = "pnr-auth")]
    PnrAuth,
    #[serde(rename = "pnr-sign")]
    PnrSign,
}

/// Which identity a profile's certificate names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    HsaId,
    Personnummer,
}

impl Profile {
    pub const ALL: [Profile; 4] = [
        Profile::HsaAuth,
        Profile::HsaSign,
        Profile::PnrAuth,
        Profile::PnrSign,
    ];

    /// EST label (`/.well-known/est/<label>/`).
    pub fn label(self) -> &'static str {
        match self {
            Profile::HsaAuth => "hsa-auth",
            Profile::HsaSign => "hsa-sign",
            Profile::PnrAuth => "pnr-auth",
            Profile::PnrSign => "pnr-sign",
        }
    }

    pub fn from_label(label: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.label() == label)
    }

    pub fn purpose(self) -> Purpose {
        match self {
            Profile::HsaAuth | Profile::PnrAuth => Purpose::Authentication,
            Profile::HsaSign | Profile::PnrSign => Purpose::Signature,
        }
    }

    pub fn identity(self) -> IdentityKind {
        match self {
            Profile::HsaAuth | Profile::HsaSign => IdentityKind::HsaId,
            Profile::PnrAuth | Profile::PnrSign => IdentityKind::Personnummer,
        }
    }

    /// The card slot of this profile's key (slots 2-3 under PIN1, 6-7 under PIN2; the legacy
    /// pair keeps 1 and 5 until it is removed).
    pub fn slot(self) -> KeySlot {
        let number = match self {
            Profile::HsaAuth => 2,
            Profile::PnrAuth => 3,
            Profile::HsaSign => 6,
            Profile::PnrSign => 7,
        };
        KeySlot::ALL[number - 1]
    }

    /// The slot a renewal moves this profile's key to, and the next renewal back: the slot
    /// beside [`Profile::slot`] under the same PIN (HSA-id 1 and 5, which the legacy pair holds
    /// until the upgrade removes it; personnummer 4 and 8). A renewal writes the new pair there
    /// before it removes the old one, so a pull at any step loses nothing.
    pub fn renewal_slot(self) -> KeySlot {
        let number = match self {
            Profile::HsaAuth => 1,
            Profile::PnrAuth => 4,
            Profile::HsaSign => 5,
            Profile::PnrSign => 8,
        };
        KeySlot::ALL[number - 1]
    }

    /// Both slots this profile's key may be in: where the upgrade put it, and where the last
    /// renewal moved it.
    pub fn slots(self) -> [KeySlot; 2] {
        [self.slot(), self.renewal_slot()]
    }

    /// The profile a certificate belongs to: issued by the profile's CA, for its purpose and
    /// its kind of identity. The legacy pair (from the old CA) belongs to none, whatever its
    /// slot and trust level.
    pub fn of_certificate(info: &crate::pki::CertInfo) -> Option<Profile> {
        let issuer = info.issuer_cn.as_deref()?;
        let kind = match info.identity {
            crate::pki::Identity::HsaId(_) => IdentityKind::HsaId,
            crate::pki::Identity::Personnummer(_) => IdentityKind::Personnummer,
            _ => return None,
        };
        Profile::ALL.into_iter().find(|p| {
            p.identity() == kind && p.purpose() == info.purpose && p.is_issuing_ca(issuer)
        })
    }

    /// The other profile of the same identity pair (authentication ↔ signature).
    pub fn partner(self) -> Profile {
        match self {
            Profile::HsaAuth => Profile::HsaSign,
            Profile::HsaSign => Profile::HsaAuth,
            Profile::PnrAuth => Profile::PnrSign,
            Profile::PnrSign => Profile::PnrAuth,
        }
    }

    /// The label written into the card's directory files.
    pub fn card_label(self) -> &'static str {
        match self {
            Profile::HsaAuth => "HSA-id legitimering",
            Profile::HsaSign => "HSA-id underskrift",
            Profile::PnrAuth => "Personnummer legitimering",
            Profile::PnrSign => "Personnummer underskrift",
        }
    }

    pub fn trust_level(self) -> u8 {
        3
    }

    /// The issuing CA of this profile's certificates [public names]; a TEST environment puts
    /// "TEST " before them.
    pub fn issuing_ca(self) -> &'static str {
        match self.identity() {
            IdentityKind::HsaId => "SITHS e-id Person HSA-id 3 CA v1",
            IdentityKind::Personnummer => "SITHS e-id Person ID 3 CA v1",
        }
    }

    /// Whether `common_name` names this profile's issuing CA, in production or TEST.
    pub fn is_issuing_ca(self, common_name: &str) -> bool {
        names(common_name, self.issuing_ca())
    }

    /// The profile whose key may be in `slot`: each of the eight slots is one profile's (its
    /// upgrade slot or its renewal slot), so a key this program made in a slot was made for
    /// that profile.
    pub fn of_slot(slot: KeySlot) -> Profile {
        Profile::ALL
            .into_iter()
            .find(|p| p.slots().contains(&slot))
            .unwrap_or(Profile::HsaAuth)
    }
}

/// The CA that issued the pre-upgrade pair [public: `SITHS Type 1 CA v1`]. Only a certificate
/// this CA issued (checked to the configured root) for the holder counts as the legacy pair,
/// which the upgrade may remove.
pub const LEGACY_ISSUING_CA: &str = "SITHS Type 1 CA v1";

/// Whether `common_name` names the legacy CA, in production or TEST.
pub fn is_legacy_ca(common_name: &str) -> bool {
    names(common_name, LEGACY_ISSUING_CA)
}

fn names(common_name: &str, ca: &str) -> bool {
    let name = common_name.trim();
    name == ca || name.strip_prefix("TEST ") == Some(ca)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::PinKind;

    #[test]
    fn slots_are_distinct_and_guarded_by_the_right_pin() {
        let mut slots: Vec<KeySlot> = Profile::ALL.iter().map(|p| p.slot()).collect();
        slots.sort();
        slots.dedup();
        assert_eq!(slots.len(), 4);
        for p in Profile::ALL {
            let pin = p.slot().pin();
            match p.purpose() {
                Purpose::Authentication => assert_eq!(pin, PinKind::Pin1),
                _ => assert_eq!(pin, PinKind::Pin2),
            }
            assert_eq!(Profile::from_label(p.label()), Some(p));
            assert!(
                ![1, 5].contains(&p.slot().number()),
                "never the legacy slots"
            );
            assert_eq!(p.renewal_slot().pin(), pin, "a renewal keeps the key's PIN");
            assert_eq!(p.partner().partner(), p);
            assert_eq!(p.partner().identity(), p.identity());
            assert_ne!(p.partner().purpose(), p.purpose());
        }
        for slot in KeySlot::ALL {
            assert!(Profile::of_slot(slot).slots().contains(&slot));
        }
        assert!(is_legacy_ca("TEST SITHS Type 1 CA v1"));
        assert!(!is_legacy_ca("TEST SITHS e-id Person HSA-id 3 CA v1"));
        let mut all: Vec<KeySlot> = Profile::ALL.iter().flat_map(|p| p.slots()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8, "no two profiles share a slot");
    }
}
