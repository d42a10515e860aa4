//! The test persons of `ca-mock init`'s directory (assets/test-persons.json), named for the part
//! each plays in a test, so no test spells an HSA-id, a personnummer or a name itself.
//!
//! [`check_against`] holds these to the directory the CA mock (and so the virtual card made for
//! each person) uses; [`super::world::world`] runs it once per test binary.

/// A holder as the CA mock's directory and the virtual card made for them know them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    pub hsa_id: &'static str,
    /// 12 digits; a samordningsnummer for [`SAMORDNING`].
    pub personnummer: &'static str,
    /// Given name and surname, as the certificates' common name.
    pub name: &'static str,
}

impl Person {
    pub fn given_name(&self) -> &'static str {
        self.name.split(' ').next().unwrap_or(self.name)
    }
}

/// Karin: a pre-upgrade card, allowed to upgrade; the default holder.
pub const HOLDER: Person = Person {
    hsa_id: "TST5565594230-1001",
    personnummer: "198102179804",
    name: "Karin Åström",
};

/// Tolvan: another pre-upgrade holder, for "someone else's" card or PUK.
pub const OTHER_HOLDER: Person = Person {
    hsa_id: "TST5565594230-1002",
    personnummer: "191212121212",
    name: "Tolvan Tolvansson",
};

/// Mika: identified by a samordningsnummer, so no level 3 personnummer certificate.
pub const SAMORDNING: Person = Person {
    hsa_id: "TST5565594230-1003",
    personnummer: "199001619809",
    name: "Mika Järvinen",
};

/// Björn: the legacy pair on his pre-upgrade card expires 20 days after `init`.
pub const LEGACY_DUE: Person = Person {
    hsa_id: "TST5565594230-1004",
    personnummer: "197604239819",
    name: "Björn Öberg",
};

/// Göran: the CA refuses his upgrade.
pub const NOT_ALLOWED: Person = Person {
    hsa_id: "TST5565594230-1006",
    personnummer: "198510059838",
    name: "Göran Sjöqvist",
};

/// Märta: service-centre staff, may look up other holders' PUKs.
pub const OPERATOR: Person = Person {
    hsa_id: "TST5565594230-1007",
    personnummer: "199203149845",
    name: "Märta Ek",
};

/// Lars-Åke: a third pre-upgrade holder (a second concurrent client in the benches).
pub const THIRD_HOLDER: Person = Person {
    hsa_id: "TST5565594230-1008",
    personnummer: "197911309859",
    name: "Lars-Åke Nyström",
};

/// Lena: upgraded, with four certificates that expire 20 days after `init` (due for renewal).
pub const RENEWAL_DUE: Person = Person {
    hsa_id: "TST5565594230-1013",
    personnummer: "197503142387",
    name: "Lena Öberg",
};

/// Every named person, for [`check_against`].
pub const ALL: [Person; 8] = [
    HOLDER,
    OTHER_HOLDER,
    SAMORDNING,
    LEGACY_DUE,
    NOT_ALLOWED,
    OPERATOR,
    THIRD_HOLDER,
    RENEWAL_DUE,
];

/// Well-formed HSA-ids of nobody in the directory.
pub const UNKNOWN: &str = "TST5565594230-9999";
pub const UNKNOWN_2: &str = "TST5565594230-9998";

/// Panic unless every named person is in `persons_json` (the directory `ca-mock init` wrote) with
/// these identifiers and this name: a changed directory fails here, not as a puzzling assertion.
pub fn check_against(persons_json: &std::path::Path) {
    let text = std::fs::read_to_string(persons_json).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = json.as_array().unwrap();
    for person in ALL {
        let entry = list
            .iter()
            .find(|p| p["hsa_id"] == person.hsa_id)
            .unwrap_or_else(|| panic!("{} is not in {}", person.hsa_id, persons_json.display()));
        assert_eq!(entry["personnummer"], person.personnummer, "{person:?}");
        let name = format!(
            "{} {}",
            entry["given_name"].as_str().unwrap(),
            entry["surname"].as_str().unwrap()
        );
        assert_eq!(name, person.name, "{person:?}");
    }
    for nobody in [UNKNOWN, UNKNOWN_2] {
        assert!(list.iter().all(|p| p["hsa_id"] != nobody), "{nobody}");
    }
}
