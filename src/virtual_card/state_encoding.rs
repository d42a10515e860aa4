//! How the state file writes bytes: key material as base64, file contents and PINs as hex (a
//! PIN's hex wiped after use), so the file stays readable JSON that a person can diff.

pub(super) mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("invalid base64"))
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

pub(super) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::virtual_card::state_encoding::{from_hex, to_hex};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        from_hex(&text).ok_or_else(|| serde::de::Error::custom("invalid hex"))
    }
}

pub(super) mod opt_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::virtual_card::state_encoding::{from_hex, to_hex};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&to_hex(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => from_hex(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("invalid hex")),
            None => Ok(None),
        }
    }
}

pub(super) mod pin_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    use zeroize::Zeroizing;

    use crate::layout::PIN_STORED_LEN;
    use crate::virtual_card::state_encoding::{from_hex, to_hex};

    pub fn serialize<S: Serializer>(value: &[u8; PIN_STORED_LEN], s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(to_hex(value));
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; PIN_STORED_LEN], D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        let bytes = Zeroizing::new(
            from_hex(&text).ok_or_else(|| serde::de::Error::custom("invalid PIN hex"))?,
        );
        let mut out = [0u8; PIN_STORED_LEN];
        if bytes.len() != PIN_STORED_LEN {
            return Err(serde::de::Error::custom("a stored PIN must be 8 bytes"));
        }
        out.copy_from_slice(&bytes);
        Ok(out)
    }
}
