//! The one error of the PKCS#15 codecs, in a module of its own so that each codec can use it
//! without reaching into the module that re-exports the codecs.

/// Why a PKCS#15 structure could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pkcs15Error {
    /// The bytes read from the card are not the structure they should be.
    #[error(
        "could not read {what} from the card: {detail}. The file is damaged or was not written \
         as PKCS#15 (ISO/IEC 7816-15); read the card again, and if this persists have the card \
         checked at the service desk"
    )]
    Decode {
        /// Which structure was being read.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// A value cannot be represented in the card's format.
    #[error(
        "could not encode {what}: {detail}. Nothing was written to the card; this is a bug in \
         siths-upgrade, please report it"
    )]
    Encode {
        /// Which structure was being written.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
}

impl Pkcs15Error {
    pub(crate) fn decode(what: &'static str, detail: impl std::fmt::Display) -> Self {
        Pkcs15Error::Decode {
            what,
            detail: detail.to_string(),
        }
    }

    pub(crate) fn encode(what: &'static str, detail: impl std::fmt::Display) -> Self {
        Pkcs15Error::Encode {
            what,
            detail: detail.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_tell_the_user_what_to_do() {
        let e = Pkcs15Error::decode("the PrKDF", "unexpected tag");
        let msg = e.to_string();
        assert!(msg.contains("the PrKDF"));
        assert!(msg.contains("service desk"));
    }
}
