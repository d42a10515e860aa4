//! The configured CA root file, read once into [`Roots`].
//!
//! The TLS trust store (`tls::root_store`) and the checks of issued and card certificates
//! (`check::chain_to_root`) trust these same certificates, so a
//! certificate the TLS connection trusts is never refused on the card, nor the other way round.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::pki::CertInfo;

use super::error::CaError;

/// Every certificate of the root file, DER, each checked to be a CA certificate: a PEM file
/// with one or more `CERTIFICATE` blocks (a site moving to a new root ships both), or one DER
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    der: Vec<Vec<u8>>,
}

impl Roots {
    /// The roots in `file` (the root file's bytes). A file with no certificate, or with one that
    /// cannot be read or is not a CA's, is refused: trusting part of it would hide the mistake.
    pub fn read(file: &[u8]) -> Result<Roots, CaError> {
        let config = CaError::Config;
        let is_pem = std::str::from_utf8(file).is_ok_and(|t| t.contains("-----BEGIN"));
        let der: Vec<Vec<u8>> = if is_pem {
            CertificateDer::pem_slice_iter(file)
                .map(|c| c.map(|c| c.to_vec()))
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    config(format!(
                        "the CA root file is not PEM certificates ({e}); give the CA's root.pem"
                    ))
                })?
        } else {
            vec![file.to_vec()]
        };
        if der.is_empty() {
            return Err(config(
                "the CA root file holds no certificate; give the CA's root.pem".into(),
            ));
        }
        for cert in &der {
            let root = CertInfo::from_der(cert).map_err(|e| {
                config(format!(
                    "a certificate in the CA root file cannot be read ({e}); give the root PEM \
                     file the site uses"
                ))
            })?;
            if !root.is_ca {
                return Err(config(format!(
                    "`{}` in the CA root file is not a CA certificate; give the root PEM file \
                     the site uses",
                    root.subject_dn
                )));
            }
        }
        Ok(Roots { der })
    }

    /// The root certificates, DER, in the file's order.
    pub fn der(&self) -> &[Vec<u8>] {
        &self.der
    }
}
