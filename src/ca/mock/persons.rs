//! The CA mock's directory of test persons (assets/test-persons.json, copied to DIR/persons.json):
//! who may enrol, under which identities, and each card's test codes.
//!
//! The directory plays the part of HSA, the national catalogue the real CA asks: the CA never
//! takes a name from a CSR, only from here.

use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::MockError;
use crate::ca::{IdentityKind, Profile};
use crate::pki::issue::{PersonCertRequest, PersonName};
use crate::pki::{HsaId, Identity};
use crate::provision::Codes;

/// The directory shipped with the program, so `ca-mock init` works from an installed binary.
pub const BUILTIN_PERSONS_JSON: &str = include_str!("../../../assets/test-persons.json");

/// A card's test codes as the directory (and the service desk) knows them.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PersonPins {
    pub pin1: String,
    pub pin2: String,
    pub puk: String,
}

impl std::fmt::Debug for PersonPins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonPins([elided])")
    }
}

fn yes() -> bool {
    true
}

/// Days from `init` to the end of a `renewal_due` holder's certificates: inside the 30-day
/// reminder, outside the 7-day urgent one, so `check-expiry` exits "due".
pub const RENEWAL_DUE_IN_DAYS: i64 = 20;

/// One holder in the directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Person {
    pub hsa_id: String,
    /// 12 digits; a samordningsnummer (day + 60) gives at most trust level 2.
    pub personnummer: String,
    pub given_name: String,
    pub surname: String,
    pub organisation: String,
    pub county: String,
    /// Windows login name; written as a UPN into authentication certificates.
    #[serde(default)]
    pub upn: Option<String>,
    pub card_serial: String,
    pub pins: PersonPins,
    #[serde(default = "yes")]
    pub upgrade_allowed: bool,
    /// The legacy pair on the pre-upgrade card expires this many days after `init`.
    #[serde(default)]
    pub legacy_expires_in_days: Option<i64>,
    /// `init` makes this person's card already upgraded (four new pairs, no legacy pair).
    #[serde(default)]
    pub already_upgraded: bool,
    /// With `already_upgraded`: the four certificates expire [`RENEWAL_DUE_IN_DAYS`] days after
    /// `init`, so the card is due for renewal (a test and training case for `renew`).
    #[serde(default)]
    pub renewal_due: bool,
    /// Service-centre staff: may look up other holders' PUKs.
    #[serde(default)]
    pub operator: bool,
}

impl Person {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }

    pub fn is_samordningsnummer(&self) -> bool {
        matches!(
            Identity::from_serial_number(&self.personnummer),
            Identity::Samordningsnummer(_)
        )
    }

    /// The identifier a profile's certificate carries in its subject serialNumber.
    pub fn identity_for(&self, profile: Profile) -> &str {
        match profile.identity() {
            IdentityKind::HsaId => &self.hsa_id,
            IdentityKind::Personnummer => &self.personnummer,
        }
    }

    /// The profiles this person can be given: level 3 personnummer certificates need a real
    /// personnummer.
    pub fn allowed_profiles(&self) -> Vec<Profile> {
        Profile::ALL
            .into_iter()
            .filter(|p| self.profile_allowed(*p))
            .collect()
    }

    pub fn profile_allowed(&self, profile: Profile) -> bool {
        profile.identity() == IdentityKind::HsaId || !self.is_samordningsnummer()
    }

    /// Subject attributes for a certificate naming `serial_number`.
    pub fn name_with(&self, serial_number: &str) -> PersonName {
        PersonName {
            serial_number: serial_number.to_string(),
            given_name: self.given_name.clone(),
            surname: self.surname.clone(),
            common_name: self.full_name(),
            organisation: self.organisation.clone(),
            locality: Some(self.county.clone()),
        }
    }

    /// What the CA certifies for `profile`: names from the directory, never from the CSR.
    pub fn cert_request(&self, profile: Profile) -> PersonCertRequest {
        let purpose = profile.purpose();
        PersonCertRequest {
            subject: self.name_with(self.identity_for(profile)),
            purpose,
            trust_level: Some(profile.trust_level()),
            upn: match purpose {
                crate::pki::Purpose::Authentication => self.upn.clone(),
                _ => None,
            },
            not_before: None,
            not_after: None,
        }
    }

    pub fn codes(&self) -> Codes {
        Codes {
            pin1: self.pins.pin1.clone(),
            pin2: self.pins.pin2.clone(),
            puk: self.pins.puk.clone(),
        }
    }
}

/// All persons, checked on load: valid and unique identifiers, so a lookup by certificate
/// serialNumber finds at most one person.
#[derive(Debug, Clone)]
pub struct Directory {
    persons: Vec<Person>,
}

impl Directory {
    pub fn parse(json: &str, origin: &Path) -> Result<Directory, MockError> {
        let bad = |msg: String| MockError::Directory(origin.to_path_buf(), msg);
        let persons: Vec<Person> =
            serde_json::from_str(json).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let mut seen: Vec<&str> = Vec::new();
        for p in &persons {
            let id = HsaId::parse(&p.hsa_id).map_err(|e| bad(format!("{}: {e}", p.hsa_id)))?;
            if id.as_str() != p.hsa_id {
                return Err(bad(format!(
                    "write the HSA-id {} exactly as {}",
                    p.hsa_id,
                    id.as_str()
                )));
            }
            match Identity::from_serial_number(&p.personnummer) {
                Identity::Personnummer(_) | Identity::Samordningsnummer(_) => {}
                _ => {
                    return Err(bad(format!(
                        "{}: the personnummer is not 12 digits with a valid date and check digit",
                        p.hsa_id
                    )));
                }
            }
            for id in [p.hsa_id.as_str(), p.personnummer.as_str()] {
                if seen.contains(&id) {
                    return Err(bad(format!("{}: an identifier is used twice", p.hsa_id)));
                }
                seen.push(id);
            }
            if p.renewal_due && !p.already_upgraded {
                return Err(bad(format!(
                    "{}: renewal_due needs already_upgraded: only an upgraded card is renewed",
                    p.hsa_id
                )));
            }
            if p.already_upgraded && p.is_samordningsnummer() {
                return Err(bad(format!(
                    "{}: a samordningsnummer holder cannot have been upgraded to level 3",
                    p.hsa_id
                )));
            }
        }
        Ok(Directory { persons })
    }

    pub fn load(path: &Path) -> Result<Directory, MockError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| MockError::Io(path.to_path_buf(), e))?;
        Directory::parse(&text, path)
    }

    pub fn persons(&self) -> &[Person] {
        &self.persons
    }

    pub fn by_hsa_id(&self, hsa_id: &str) -> Option<&Person> {
        self.persons.iter().find(|p| p.hsa_id == hsa_id)
    }

    /// The person a certificate subject serialNumber names (HSA-id or personnummer).
    pub fn by_serial_number(&self, serial: &str) -> Option<&Person> {
        let s = serial.trim();
        self.persons
            .iter()
            .find(|p| p.hsa_id == s || p.personnummer == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_directory_has_every_kind_of_holder() {
        let d = Directory::parse(BUILTIN_PERSONS_JSON, Path::new("assets/test-persons.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        let ps = d.persons();
        assert!(ps.len() >= 10);
        assert!(ps.iter().any(Person::is_samordningsnummer));
        assert!(
            ps.iter()
                .any(|p| p.legacy_expires_in_days.is_some_and(|d| d < 30))
        );
        assert!(ps.iter().any(|p| p.already_upgraded));
        assert!(ps.iter().any(|p| p.renewal_due && p.upn.is_some()));
        assert!(ps.iter().any(|p| !p.upgrade_allowed));
        assert!(ps.iter().any(|p| p.upn.is_some()));
        assert!(ps.iter().any(|p| p.operator));
        assert!(
            ps.iter()
                .any(|p| p.full_name().contains(['å', 'ä', 'ö', 'Å', 'Ä', 'Ö']))
        );
        let samordning = ps.iter().find(|p| p.is_samordningsnummer()).unwrap();
        assert_eq!(samordning.allowed_profiles().len(), 2);
        assert_eq!(
            d.by_serial_number(&samordning.personnummer).unwrap().hsa_id,
            samordning.hsa_id
        );
    }

    #[test]
    fn bad_identifiers_and_duplicates_are_refused() {
        let one = |hsa: &str, pnr: &str| {
            format!(
                r#"{{"hsa_id":"{hsa}","personnummer":"{pnr}","given_name":"A","surname":"B",
                "organisation":"O","county":"C","card_serial":"1","pins":{{"pin1":"123456",
                "pin2":"123456","puk":"12345678"}}}}"#
            )
        };
        let p = Path::new("x.json");
        assert!(
            Directory::parse(&format!("[{}]", one("TST5565594230-1", "191212121212")), p).is_ok()
        );
        assert!(Directory::parse(&format!("[{}]", one("SE1-1", "191212121212")), p).is_err());
        assert!(
            Directory::parse(&format!("[{}]", one("TST5565594230-1", "191212121213")), p).is_err()
        );
        let dup = format!(
            "[{},{}]",
            one("TST5565594230-1", "191212121212"),
            one("TST5565594230-2", "191212121212")
        );
        assert!(Directory::parse(&dup, p).is_err());
        let pins_hidden = format!(
            "{:?}",
            Directory::parse(&format!("[{}]", one("TST5565594230-1", "191212121212")), p).unwrap()
        );
        assert!(!pins_hidden.contains("12345678"), "{pins_hidden}");
    }
}
