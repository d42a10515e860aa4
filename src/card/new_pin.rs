//! The rules a new PIN must meet, checked live while the holder types, so the form can show each
//! rule turning green before anything is sent to the card.

use crate::layout::{PIN_MAX_LEN, PIN_MIN_LEN};

/// Each rule for a new PIN and whether the typed entries meet it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewPinCheck {
    /// 6 to 8 characters.
    pub length_ok: bool,
    /// Only the digits 0-9.
    pub digits_only: bool,
    /// Not one digit repeated (111111) or a run up or down (123456, 876543): the first codes a
    /// stranger tries.
    pub not_trivial: bool,
    /// Not the same as the other code in the form (the old PIN, or the PUK).
    pub differs_from_other: bool,
    /// The second entry is the same as the first.
    pub entries_match: bool,
}

impl NewPinCheck {
    /// `other`: the code the new PIN must differ from, when the form has one.
    pub fn of(first: &str, second: &str, other: Option<&str>) -> NewPinCheck {
        let len = first.chars().count();
        let digits_only = !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit());
        NewPinCheck {
            length_ok: (PIN_MIN_LEN..=PIN_MAX_LEN).contains(&len),
            digits_only,
            not_trivial: digits_only && !is_trivial(first),
            differs_from_other: other.is_none_or(|o| o.is_empty() || o != first),
            entries_match: !first.is_empty() && first == second,
        }
    }

    pub fn all_ok(&self) -> bool {
        self.length_ok
            && self.digits_only
            && self.not_trivial
            && self.differs_from_other
            && self.entries_match
    }
}

/// One digit repeated, or every step +1 or every step -1.
pub fn is_trivial(digits: &str) -> bool {
    let d: Vec<i16> = digits
        .bytes()
        .map(|b| i16::from(b) - i16::from(b'0'))
        .collect();
    if d.len() < 2 {
        return false;
    }
    let steps: Vec<i16> = d.windows(2).map(|w| w[1] - w[0]).collect();
    [0, 1, -1].iter().any(|s| steps.iter().all(|x| x == s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial_sequences_are_refused() {
        for t in [
            "111111", "123456", "12345678", "987654", "00000000", "456789",
        ] {
            assert!(is_trivial(t), "{t}");
            assert!(!NewPinCheck::of(t, t, None).all_ok(), "{t}");
        }
        for ok in ["135790", "246802", "12345679", "112233"] {
            assert!(!is_trivial(ok), "{ok}");
            assert!(NewPinCheck::of(ok, ok, None).all_ok(), "{ok}");
        }
    }

    #[test]
    fn each_rule_is_reported_on_its_own() {
        let c = NewPinCheck::of("12a45", "12a45", None);
        assert!(!c.length_ok && !c.digits_only && c.entries_match);
        let c = NewPinCheck::of("135790", "135791", None);
        assert!(c.length_ok && c.digits_only && c.not_trivial && !c.entries_match);
        let c = NewPinCheck::of("135790", "135790", Some("135790"));
        assert!(!c.differs_from_other && !c.all_ok());
        let c = NewPinCheck::of("123456789", "123456789", None);
        assert!(!c.length_ok);
        let c = NewPinCheck::of("", "", None);
        assert!(!c.digits_only && !c.entries_match && !c.all_ok());
    }
}
