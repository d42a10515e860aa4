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
        }
    }
}
