//! The identifiers a SITHS certificate can carry in its subject `serialNumber`: the HSA-id, the
//! personnummer and the samordningsnummer (docs/domain.md "Identifier formats").
//!
//! Parsing is strict because these values decide which certificate pair a user is shown and which
//! identity the CA certifies; error messages never repeat the input, since a personnummer is
//! personal data that must not end up in logs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::date::Date;

/// Longest HSA-id allowed by the HSA schema.
pub const HSA_ID_MAX_LEN: usize = 31;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "not a valid HSA-id ({0}); an HSA-id looks like SE2321000016-1003: SE (or TST for test \
         ids), the 10-digit organisation number, '-', then letters and digits, at most 31 \
         characters"
    )]
    HsaId(&'static str),
    #[error(
        "not a valid personnummer ({0}); write it as 12 digits YYYYMMDDNNNC, as YYYYMMDD-NNNC, \
         or as YYMMDD-NNNC (YYMMDD+NNNC from age 100)"
    )]
    PersonnummerShape(&'static str),
    #[error("the personnummer names a date that does not exist; check the birth date digits")]
    PersonnummerDate,
    #[error("the personnummer's check digit does not match; check for a mistyped digit")]
    PersonnummerCheckDigit,
}

/// An HSA-id, the identity of a person or function in the Swedish healthcare directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HsaId(String);

impl HsaId {
    /// Accepts `SE<10 digits>-<suffix>` and the test shape `TST<letters><10 digits>-<suffix>`
    /// (e.g. `TSTNMT2321000156-1019`); surrounding whitespace is ignored and the prefix letters
    /// are upper-cased, because people copy ids out of mails and directory listings.
    pub fn parse(input: &str) -> Result<HsaId, IdError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(IdError::HsaId("it is empty"));
        }
        if !s.is_ascii() {
            return Err(IdError::HsaId(
                "it contains characters outside A-Z, a-z, 0-9 and '-'",
            ));
        }
        if s.len() > HSA_ID_MAX_LEN {
            return Err(IdError::HsaId("it is longer than 31 characters"));
        }
        let Some((head, suffix)) = s.split_once('-') else {
            return Err(IdError::HsaId(
                "the '-' after the organisation number is missing",
            ));
        };
        if suffix.is_empty() {
            return Err(IdError::HsaId("nothing follows the '-'"));
        }
        if !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IdError::HsaId(
                "only letters and digits may follow the '-' after the organisation number",
            ));
        }
        let upper = head.to_ascii_uppercase();
        let org = if let Some(rest) = upper.strip_prefix("SE") {
            rest
        } else if let Some(rest) = upper.strip_prefix("TST") {
            // Test ids carry a short letter code for the test organisation before the number.
            let letters = rest.len().saturating_sub(10);
            let (code, org) = rest.split_at(letters);
            if !code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(IdError::HsaId(
                    "a test id has only letters between TST and the organisation number",
                ));
            }
            org
        } else {
            return Err(IdError::HsaId(
                "it does not start with SE (or TST for a test id)",
            ));
        };
        if org.len() != 10 || !org.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::HsaId(
                "the organisation number before the '-' is not 10 digits",
            ));
        }
        Ok(HsaId(format!("{upper}-{suffix}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 10-digit organisation number the id was issued under: it tells which employer's
    /// directory to ask about the holder.
    pub fn organisation_number(&self) -> &str {
        let head = self.0.split('-').next().unwrap_or("");
        head.get(head.len().saturating_sub(10)..).unwrap_or("")
    }

    /// Test ids (`TST…`) must never be sent to a production CA.
    pub fn is_test(&self) -> bool {
        self.0.starts_with("TST")
    }
}

impl fmt::Display for HsaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for HsaId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HsaId::parse(s)
    }
}

impl TryFrom<String> for HsaId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        HsaId::parse(&s)
    }
}

impl From<HsaId> for String {
    fn from(id: HsaId) -> String {
        id.0
    }
}

/// Legal sex as encoded in the ninth digit of a personnummer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    Female,
    Male,
}

/// A Swedish personnummer or samordningsnummer, always held in the 12-digit IT form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Personnummer {
    digits: String,
}

impl Personnummer {
    /// Parses any common written form. The 10-digit paper forms (`YYMMDD-NNNC`, `YYMMDD+NNNC`)
    /// need today's date to know the century, so this uses the system clock; use
    /// [`Personnummer::parse_at`] where the date must be fixed.
    pub fn parse(input: &str) -> Result<Personnummer, IdError> {
        Personnummer::parse_at(input, Date::today())
    }

    /// Like [`Personnummer::parse`], with the date that decides the century of a 10-digit form:
    /// with `-` the holder is younger than 100 on `today`, with `+` 100 or older.
    pub fn parse_at(input: &str, today: Date) -> Result<Personnummer, IdError> {
        let s = input.trim();
        let b = s.as_bytes();
        let all_digits = |x: &[u8]| x.iter().all(u8::is_ascii_digit);
        let (twelve, ten, plus) = match b.len() {
            12 if all_digits(b) => (Some(s.to_string()), None, false),
            13 if b.get(8) == Some(&b'-') && all_digits(&b[..8]) && all_digits(&b[9..]) => {
                (Some(format!("{}{}", &s[..8], &s[9..])), None, false)
            }
            10 if all_digits(b) => (None, Some(s.to_string()), false),
            11 if matches!(b.get(6), Some(b'-' | b'+'))
                && all_digits(&b[..6])
                && all_digits(&b[7..]) =>
            {
                (None, Some(format!("{}{}", &s[..6], &s[7..])), b[6] == b'+')
            }
            _ => {
                return Err(IdError::PersonnummerShape(
                    "it is not 10 or 12 digits with an optional '-' or '+'",
                ));
            }
        };
        let digits = match (twelve, ten) {
            (Some(d), _) => d,
            (None, Some(d)) => with_century(&d, plus, today)?,
            (None, None) => return Err(IdError::PersonnummerShape("it is empty")),
        };
        Personnummer::from_twelve(digits)
    }

    /// Validates the 12-digit form: real date (day − 60 for a samordningsnummer) and check digit.
    fn from_twelve(digits: String) -> Result<Personnummer, IdError> {
        let d: Vec<u8> = digits.bytes().map(|b| b.wrapping_sub(b'0')).collect();
        if d.len() != 12 || d.iter().any(|&x| x > 9) {
            return Err(IdError::PersonnummerShape("it is not 12 digits"));
        }
        let pn = Personnummer { digits };
        if pn.birth_date_checked().is_none() {
            return Err(IdError::PersonnummerDate);
        }
        if luhn_check_digit(&d[2..11]) != d[11] {
            return Err(IdError::PersonnummerCheckDigit);
        }
        Ok(pn)
    }

    fn digit(&self, i: usize) -> u8 {
        self.digits
            .as_bytes()
            .get(i)
            .map_or(0, |b| b.wrapping_sub(b'0'))
    }

    fn number(&self, from: usize, len: usize) -> u32 {
        (from..from + len).fold(0, |acc, i| acc * 10 + u32::from(self.digit(i)))
    }

    fn birth_date_checked(&self) -> Option<Date> {
        let year = i32::try_from(self.number(0, 4)).ok()?;
        let month = u8::try_from(self.number(4, 2)).ok()?;
        let mut day = u8::try_from(self.number(6, 2)).ok()?;
        if day > 60 {
            day -= 60;
        }
        Date::new(year, month, day)
    }

    /// The 12 digits, as stored in certificates and sent to services.
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    /// `YYYYMMDD-NNNC`, the form people read most easily.
    pub fn formatted(&self) -> String {
        format!("{}-{}", &self.digits[..8], &self.digits[8..])
    }

    /// `YYYYMMDD-****`: enough for the holder to recognise, without exposing the full number on
    /// screens others may see or in service-desk records.
    pub fn masked(&self) -> String {
        format!("{}-****", &self.digits[..8])
    }

    /// Samordningsnummer (day + 60) are given to people not registered in Sweden; they give at
    /// most trust level 2.
    pub fn is_samordningsnummer(&self) -> bool {
        self.number(6, 2) > 60
    }

    /// The real birth date (day − 60 for a samordningsnummer).
    pub fn birth_date(&self) -> Date {
        // Validated on construction; the fallback is unreachable but keeps this panic-free.
        self.birth_date_checked().unwrap_or(Date {
            year: 1970,
            month: 1,
            day: 1,
        })
    }

    pub fn sex(&self) -> Sex {
        if self.digit(10) % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

/// Picks the century for a 10-digit form: the most recent year with that birthday not after
/// `today`, or a century earlier with `+`.
fn with_century(ten: &str, plus: bool, today: Date) -> Result<String, IdError> {
    let num = |r: std::ops::Range<usize>| ten.get(r).and_then(|x| x.parse::<u8>().ok());
    let (Some(yy), Some(mm), Some(dd)) = (num(0..2), num(2..4), num(4..6)) else {
        return Err(IdError::PersonnummerShape("it is not 10 digits"));
    };
    let day = if dd > 60 { dd - 60 } else { dd };
    let mut year = today.year - today.year.rem_euclid(100) + i32::from(yy);
    if (year, mm, day) > (today.year, today.month, today.day) {
        year -= 100;
    }
    if plus {
        year -= 100;
    }
    if year < 0 {
        return Err(IdError::PersonnummerDate);
    }
    Ok(format!("{:02}{ten}", year / 100))
}

/// Luhn check digit with weights 2,1,2,… from the left, as Skatteverket specifies.
fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let v = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl fmt::Display for Personnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits)
    }
}

impl FromStr for Personnummer {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Personnummer::parse(s)
    }
}

impl TryFrom<String> for Personnummer {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Personnummer::parse(&s)
    }
}

impl From<Personnummer> for String {
    fn from(p: Personnummer) -> String {
        p.digits
    }
}

/// Whose certificate this is, as read from the subject `serialNumber`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Identity {
    HsaId(HsaId),
    Personnummer(Personnummer),
    Samordningsnummer(Personnummer),
    /// A serialNumber that is neither (e.g. a function or an older card scheme).
    Other(String),
    /// No serialNumber in the subject (CA certificates).
    None,
}

impl Identity {
    /// Classifies a subject serialNumber. Only the exact 12-digit form counts as a personnummer:
    /// certificates never carry the paper forms, and guessing a century would be wrong here.
    pub fn from_serial_number(serial: &str) -> Identity {
        let s = serial.trim();
        if s.is_empty() {
            return Identity::None;
        }
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(pn) = Personnummer::from_twelve(s.to_string()) {
                return if pn.is_samordningsnummer() {
                    Identity::Samordningsnummer(pn)
                } else {
                    Identity::Personnummer(pn)
                };
            }
        }
        match HsaId::parse(s) {
            Ok(id) if id.as_str() == s => Identity::HsaId(id),
            _ => Identity::Other(s.to_string()),
        }
    }

    /// Name of the kind of identity, for labels ("HSA-id", "personnummer", …).
    pub fn kind(&self) -> &'static str {
        match self {
            Identity::HsaId(_) => "HSA-id",
            Identity::Personnummer(_) => "personnummer",
            Identity::Samordningsnummer(_) => "samordningsnummer",
            Identity::Other(_) => "other",
            Identity::None => "none",
        }
    }

    /// The identifier as a string (personnummer in full 12-digit form), if there is one.
    pub fn value(&self) -> Option<&str> {
        match self {
            Identity::HsaId(id) => Some(id.as_str()),
            Identity::Personnummer(p) | Identity::Samordningsnummer(p) => Some(p.as_str()),
            Identity::Other(s) => Some(s),
            Identity::None => None,
        }
    }

    /// What can be shown on screen: personnummer and samordningsnummer are masked.
    pub fn display_masked(&self) -> String {
        match self {
            Identity::Personnummer(p) | Identity::Samordningsnummer(p) => p.masked(),
            other => other.value().unwrap_or("").to_string(),
        }
    }

    /// The highest trust level this kind of identity can be certified at: a samordningsnummer
    /// gives at most level 2 (docs/domain.md "Trust levels"), so a CA must not issue it at level 3.
    pub fn max_trust_level(&self) -> u8 {
        match self {
            Identity::Samordningsnummer(_) => 2,
            _ => 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u8, d: u8) -> Date {
        Date::new(y, m, d).unwrap_or(Date {
            year: 0,
            month: 1,
            day: 1,
        })
    }

    #[test]
    fn hsa_ids_of_both_shapes_parse() {
        let id = HsaId::parse("SE2321000016-1003").unwrap();
        assert_eq!(id.as_str(), "SE2321000016-1003");
        assert_eq!(id.organisation_number(), "2321000016");
        assert!(!id.is_test());

        let test = HsaId::parse("TSTNMT2321000156-1019").unwrap();
        assert_eq!(test.organisation_number(), "2321000156");
        assert!(test.is_test());

        // Copied with whitespace and a lower-case prefix: normalised, suffix kept as typed.
        assert_eq!(
            HsaId::parse("  se2321000016-abC9 \n").unwrap().as_str(),
            "SE2321000016-abC9"
        );
    }

    #[test]
    fn malformed_hsa_ids_are_refused() {
        for bad in [
            "",
            "SE2321000016",                     // no suffix part
            "SE2321000016-",                    // empty suffix
            "SE232100001-1003",                 // 9-digit organisation number
            "SE23210000161-1003",               // 11 digits
            "NO2321000016-1003",                // wrong country
            "SE2321000016-10_03",               // bad character
            "SE2321000016-1003-2",              // second dash
            "TST1A2321000016-1",                // digit inside test letter code
            "SE2321000016-1234567890123456789", // 32 characters
            "SE2321000016-1ö",
        ] {
            assert!(HsaId::parse(bad).is_err(), "accepted {bad:?}");
        }
        // Exactly 31 characters is allowed.
        assert!(HsaId::parse("SE2321000016-123456789012345678").is_ok());
    }

    #[test]
    fn hsa_id_error_explains_the_format() {
        let msg = HsaId::parse("SE123-1").unwrap_err().to_string();
        assert!(msg.contains("SE2321000016-1003"), "{msg}");
    }

    #[test]
    fn twelve_digit_personnummer_parses_and_reads_out() {
        // Tolvan Tolvansson, the test person used throughout Swedish healthcare IT.
        let p = Personnummer::parse("191212121212").unwrap();
        assert_eq!(p.as_str(), "191212121212");
        assert_eq!(p.formatted(), "19121212-1212");
        assert_eq!(p.masked(), "19121212-****");
        assert_eq!(p.birth_date(), day(1912, 12, 12));
        assert_eq!(p.sex(), Sex::Male);
        assert!(!p.is_samordningsnummer());
        assert_eq!(Personnummer::parse("19121212-1212").unwrap(), p);

        // Skatteverket test series (serial 98x): even ninth digit is a woman.
        let f = Personnummer::parse("199001019802").unwrap();
        assert_eq!(f.sex(), Sex::Female);
        let m = Personnummer::parse("199001019810").unwrap();
        assert_eq!(m.sex(), Sex::Male);
    }

    #[test]
    fn samordningsnummer_has_day_plus_sixty() {
        let s = Personnummer::parse("199001619809").unwrap();
        assert!(s.is_samordningsnummer());
        assert_eq!(s.birth_date(), day(1990, 1, 1));
        assert_eq!(
            Identity::from_serial_number("199001619809").max_trust_level(),
            2
        );
    }

    #[test]
    fn paper_forms_get_their_century_from_the_reference_date() {
        let today = day(2025, 11, 25);
        let young = Personnummer::parse_at("121212-1212", today).unwrap();
        assert_eq!(young.as_str(), "201212121212");
        let old = Personnummer::parse_at("121212+1212", today).unwrap();
        assert_eq!(old.as_str(), "191212121212");
        let no_sep = Personnummer::parse_at("9001019802", today).unwrap();
        assert_eq!(no_sep.as_str(), "199001019802");
        // Birthday later in the year than today: not born yet this century, so 1925.
        let later = Personnummer::parse_at("251224-9802", today).unwrap();
        assert_eq!(later.as_str(), "192512249802");
        let born = Personnummer::parse_at("251224-9802", day(2025, 12, 24)).unwrap();
        assert_eq!(born.as_str(), "202512249802");
    }

    #[test]
    fn check_digit_and_date_are_enforced() {
        assert_eq!(
            Personnummer::parse("191212121213"),
            Err(IdError::PersonnummerCheckDigit)
        );
        assert_eq!(
            Personnummer::parse("199002309800"),
            Err(IdError::PersonnummerDate)
        );
        assert_eq!(
            Personnummer::parse("199013019800"),
            Err(IdError::PersonnummerDate)
        );
        for bad in [
            "",
            "1912121212",
            "19121212+1212",
            "19121212121",
            "1912121212121",
            "abcdefghijkl",
        ] {
            // ("1912121212" read as a paper form has the wrong check digit)
            let r = Personnummer::parse_at(bad, day(2025, 1, 1));
            assert!(r.is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn errors_do_not_repeat_the_number() {
        let e = Personnummer::parse("191212121213").unwrap_err().to_string();
        assert!(!e.contains("1912121212"), "{e}");
    }

    #[test]
    fn identity_is_classified_from_serial_number() {
        assert!(matches!(
            Identity::from_serial_number("TSTNMT2321000156-1019"),
            Identity::HsaId(_)
        ));
        assert!(matches!(
            Identity::from_serial_number("191212121212"),
            Identity::Personnummer(_)
        ));
        assert!(matches!(
            Identity::from_serial_number("199001619809"),
            Identity::Samordningsnummer(_)
        ));
        // Bad check digit: not silently treated as a personnummer.
        assert_eq!(
            Identity::from_serial_number("191212121213"),
            Identity::Other("191212121213".into())
        );
        assert_eq!(Identity::from_serial_number(""), Identity::None);
        assert_eq!(
            Identity::from_serial_number("191212121212").display_masked(),
            "19121212-****"
        );
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let p = Personnummer::parse("191212121212").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"191212121212\"");
        assert_eq!(serde_json::from_str::<Personnummer>(&json).unwrap(), p);
        assert!(serde_json::from_str::<Personnummer>("\"191212121213\"").is_err());
        assert!(serde_json::from_str::<HsaId>("\"SE1-1\"").is_err());
    }
}
