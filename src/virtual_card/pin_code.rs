//! The stored form of a PIN or PUK, in a module of its own so that personalisation and the PIN
//! commands agree on what a code is without depending on each other.

use zeroize::Zeroizing;

use crate::layout::{PIN_PAD, PIN_STORED_LEN};

/// Bring a code to its stored form: digits, then `FF` padding to 8 bytes. Accepts the code
/// padded or unpadded; `None` when it is not `min..=max` digits.
pub(crate) fn normalise(
    value: &[u8],
    min: usize,
    max: usize,
) -> Option<Zeroizing<[u8; PIN_STORED_LEN]>> {
    if value.len() > PIN_STORED_LEN {
        return None;
    }
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    let (code, pad) = value.split_at(digits);
    if !pad.iter().all(|&b| b == PIN_PAD) || digits < min || digits > max {
        return None;
    }
    let mut out = Zeroizing::new([PIN_PAD; PIN_STORED_LEN]);
    out[..digits].copy_from_slice(code);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_accepts_padded_and_unpadded() {
        let a = normalise(b"123456", 6, 8).unwrap();
        let b = normalise(b"123456\xFF\xFF", 6, 8).unwrap();
        assert_eq!(*a, *b);
        assert_eq!(*a, *b"123456\xFF\xFF");
        assert!(normalise(b"12345", 6, 8).is_none());
        assert!(normalise(b"123456789", 6, 8).is_none());
        assert!(normalise(b"12a456", 6, 8).is_none());
        assert!(normalise(b"123\xFF456", 6, 8).is_none());
        assert!(normalise(b"", 6, 8).is_none());
    }
}
