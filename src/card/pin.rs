//! PIN and PUK values, checked against the card's rules before the card ever sees them, so a typo
//! never costs a try.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::layout::{PIN_MAX_LEN, PIN_MIN_LEN, PIN_PAD, PIN_STORED_LEN, PUK_LEN};

/// Which secret on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinKind {
    /// Identification PIN (legitimeringskod), guards authentication keys.
    Pin1,
    /// Signing PIN (underskriftskod), guards signing keys.
    Pin2,
    /// Unblocks either PIN; cannot be changed.
    Puk,
}

impl PinKind {
    pub fn reference(self) -> u8 {
        match self {
            PinKind::Pin1 => crate::layout::PIN1_REF,
            PinKind::Pin2 => crate::layout::PIN2_REF,
            PinKind::Puk => crate::layout::PUK_REF,
        }
    }

    pub fn from_reference(reference: u8) -> Option<PinKind> {
        [PinKind::Pin1, PinKind::Pin2, PinKind::Puk]
            .into_iter()
            .find(|k| k.reference() == reference)
    }

    /// Stable key used in JSON output.
    pub fn key(self) -> &'static str {
        match self {
            PinKind::Pin1 => "pin1",
            PinKind::Pin2 => "pin2",
            PinKind::Puk => "puk",
        }
    }
}

impl fmt::Display for PinKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PinKind::Pin1 => "identification PIN (PIN1)",
            PinKind::Pin2 => "signing PIN (PIN2)",
            PinKind::Puk => "PUK",
        })
    }
}

/// Why a typed code is not acceptable; nothing was sent to the card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinRuleError {
    #[error("a PIN is digits only (0-9): type it again; no try was used")]
    NotDigits,
    #[error("a PIN has {min} to {max} digits, this one has {len}: type it again; no try was used")]
    PinLength { len: usize, min: usize, max: usize },
    #[error(
        "the PUK has exactly {expected} digits, this one has {len}: check your code letter; no try was used"
    )]
    PukLength { len: usize, expected: usize },
    #[error("the two new PINs differ: type the new PIN again")]
    Mismatch,
}

/// A PIN or PUK held in memory that is wiped when dropped and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretCode {
    digits: Zeroizing<String>,
}

impl fmt::Debug for SecretCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCode(***)")
    }
}

impl SecretCode {
    /// A PIN: 6-8 digits.
    pub fn pin(mut typed: String) -> Result<SecretCode, PinRuleError> {
        let code = Self::digits_only(&typed);
        typed.zeroize();
        let code = code?;
        let len = code.digits.len();
        if !(PIN_MIN_LEN..=PIN_MAX_LEN).contains(&len) {
            return Err(PinRuleError::PinLength {
                len,
                min: PIN_MIN_LEN,
                max: PIN_MAX_LEN,
            });
        }
        Ok(code)
    }

    /// A PUK: exactly 8 digits.
    pub fn puk(mut typed: String) -> Result<SecretCode, PinRuleError> {
        let code = Self::digits_only(&typed);
        typed.zeroize();
        let code = code?;
        let len = code.digits.len();
        if len != PUK_LEN {
            return Err(PinRuleError::PukLength {
                len,
                expected: PUK_LEN,
            });
        }
        Ok(code)
    }

    /// The rule for `kind`: a PUK for [`PinKind::Puk`], a PIN otherwise.
    pub fn for_kind(kind: PinKind, typed: String) -> Result<SecretCode, PinRuleError> {
        match kind {
            PinKind::Puk => Self::puk(typed),
            _ => Self::pin(typed),
        }
    }

    fn digits_only(typed: &str) -> Result<SecretCode, PinRuleError> {
        // Surrounding whitespace (a trailing newline from stdin) is not part of the code.
        let trimmed = typed.trim();
        if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PinRuleError::NotDigits);
        }
        Ok(SecretCode {
            digits: Zeroizing::new(trimmed.to_owned()),
        })
    }

    pub fn len(&self) -> usize {
        self.digits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digits.is_empty()
    }

    /// The digits as the card stores them: ASCII, padded with `FF` to the stored length.
    pub fn padded(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![PIN_PAD; PIN_STORED_LEN.max(self.digits.len())]);
        out[..self.digits.len()].copy_from_slice(self.digits.as_bytes());
        out
    }

    /// The digits as an IDPrime card takes them: ASCII, padded with `00` to 16 bytes
    /// [public: OpenSC card-idprime.c, an OSv4 card].
    pub fn padded_to(&self, len: usize, pad: u8) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![pad; len.max(self.digits.len())]);
        out[..self.digits.len()].copy_from_slice(self.digits.as_bytes());
        out
    }

    /// For rule checks that compare codes (not the same PIN twice, not a trivial sequence).
    pub fn expose_digits(&self) -> &str {
        &self.digits
    }
}

/// Two typed entries of a new PIN must agree; checked before anything is sent.
pub fn confirm_new_pin(first: String, second: String) -> Result<SecretCode, PinRuleError> {
    let first = SecretCode::pin(first)?;
    let second = SecretCode::pin(second)?;
    if first != second {
        return Err(PinRuleError::Mismatch);
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_rules() {
        assert!(SecretCode::pin("123456".into()).is_ok());
        assert!(SecretCode::pin("12345678\n".into()).is_ok());
        assert_eq!(
            SecretCode::pin("12345".into()),
            Err(PinRuleError::PinLength {
                len: 5,
                min: 6,
                max: 8
            })
        );
        assert!(matches!(
            SecretCode::pin("123456789".into()),
            Err(PinRuleError::PinLength { len: 9, .. })
        ));
        assert_eq!(
            SecretCode::pin("12a456".into()),
            Err(PinRuleError::NotDigits)
        );
        assert_eq!(SecretCode::pin("".into()), Err(PinRuleError::NotDigits));
        assert_eq!(
            SecretCode::pin("١٢٣٤٥٦".into()),
            Err(PinRuleError::NotDigits),
            "non-ASCII digits are not PIN digits"
        );
        assert!(matches!(
            SecretCode::puk("1234567".into()),
            Err(PinRuleError::PukLength { len: 7, .. })
        ));
        assert!(SecretCode::puk("12345678".into()).is_ok());
    }

    #[test]
    fn padded_to_stored_length() {
        let pin = SecretCode::pin("123456".into()).unwrap();
        assert_eq!(&pin.padded()[..], b"123456\xFF\xFF");
        let puk = SecretCode::puk("87654321".into()).unwrap();
        assert_eq!(&puk.padded()[..], b"87654321");
    }

    #[test]
    fn never_printed() {
        let pin = SecretCode::pin("246813".into()).unwrap();
        assert!(!format!("{pin:?}").contains("246813"));
    }

    #[test]
    fn confirmation_must_match() {
        assert_eq!(
            confirm_new_pin("135790".into(), "135791".into()),
            Err(PinRuleError::Mismatch)
        );
        assert!(confirm_new_pin("135790".into(), "135790".into()).is_ok());
    }
}
