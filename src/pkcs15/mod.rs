//! The PKCS#15 (ISO/IEC 7816-15) files of the card, as DER, both ways.
//!
//! The virtual card writes these files and the client reads them back; OpenSC's `pkcs15-tool`
//! must read them too, so every encoding here follows the ASN.1 templates OpenSC parses
//! (`dir.c`, `pkcs15.c`, `pkcs15-pin.c`, `pkcs15-prkey.c`, `pkcs15-cert.c`), tagging included.
//! Only the parts our card uses are modelled; decoders skip what they do not model instead of
//! failing, so a card written by other software still shows what we understand of it.
//!
//! Directory files (ODF, AODF, PrKDF, CDF, EF.DIR) are concatenations of DER objects. Our card
//! pads them with zero bytes so that they can be rewritten in one UPDATE BINARY without
//! shrinking; decoders stop at the first `00` or `FF` byte between objects, as OpenSC does.
//!
//! DER is produced and parsed with the `der` crate. The one structure `der` 0.7 cannot express,
//! the ISO 7816 public-key template `7F49` (tag number 73 > 30), uses `yasna` (see
//! [`iso7816`]).

mod common;
mod error;

pub mod aodf;
pub mod cdf;
pub mod dir;
pub mod iso7816;
pub mod odf;
pub mod prkdf;
pub mod token_info;

pub use aodf::{PinFlags, PinObject, PinType, decode_aodf, encode_aodf};
pub use cdf::{CertificateObject, decode_cdf, encode_cdf};
pub use common::ObjectFlags;
pub use dir::{DirRecord, decode_ef_dir, encode_ef_dir};
pub use error::Pkcs15Error;
pub use odf::{OdfEntry, OdfKind, decode_odf, encode_odf};
pub use prkdf::{KeyUsageFlags, PrivateKeyObject, decode_prkdf, encode_prkdf};
pub use token_info::{TokenFlags, TokenInfo};

/// Pads `bytes` with zeros to `len`, so that a directory file can be rewritten in place in one
/// write without leaving stale objects behind. Longer input is returned unchanged: the caller
/// must check that it fits the file.
pub fn pad_to(mut bytes: Vec<u8>, len: usize) -> Vec<u8> {
    if bytes.len() < len {
        bytes.resize(len, 0);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_to_fills_with_zeros_and_never_truncates() {
        assert_eq!(pad_to(vec![1, 2], 4), vec![1, 2, 0, 0]);
        assert_eq!(pad_to(vec![1, 2, 3], 2), vec![1, 2, 3]);
    }
}
