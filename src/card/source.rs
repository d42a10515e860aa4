//! Where a card was reached, for people and for `status`: a reader with its ATR, or a PKCS#11
//! module's token.

/// How the app reaches the card, as the window and `status` name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardSource {
    /// A PC/SC reader (or the in-process virtual card), with the card's ATR.
    Reader { name: String, atr: Vec<u8> },
    /// A token of a PKCS#11 module (the card's middleware).
    Pkcs11 {
        module: String,
        token: String,
        serial: String,
    },
}

impl CardSource {
    /// One line for people: "reader X" or "PKCS#11 module M, token T".
    pub fn describe(&self) -> String {
        match self {
            CardSource::Reader { name, .. } => format!("reader {name}"),
            CardSource::Pkcs11 { module, token, .. } => {
                format!("PKCS#11 module {module}, token {token}")
            }
        }
    }

    /// The card's ATR when a reader gives it (PKCS#11 hides it).
    pub fn atr(&self) -> &[u8] {
        match self {
            CardSource::Reader { atr, .. } => atr,
            CardSource::Pkcs11 { .. } => &[],
        }
    }
}
