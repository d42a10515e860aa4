//! Certificate requests (PKCS#10) signed by a card key.
//!
//! The CA checks that a request is signed by the key it carries, which proves the holder's card
//! holds that key. The subject is left empty: the CA fills it from its directory, so the card
//! never asks for a name it could get wrong.

use std::cell::RefCell;

use rcgen::{CertificateParams, DistinguishedName};
use sha2::{Digest, Sha256};

use crate::card::{CardError, KeySlot, PublicKey, SharedCard, SignatureScheme};
use crate::pki::keys::RsaSpki;

use super::client::CaError;

/// The card key in one slot as rcgen sees it: the public half from the card, signatures by the
/// card (sha256WithRSAEncryption, PKCS#1 v1.5).
struct CardCsrKey<'a> {
    card: &'a SharedCard,
    slot: KeySlot,
    public: RsaSpki,
    /// rcgen only carries "remote key error"; the card's own error is kept here.
    failure: RefCell<Option<CardError>>,
}

impl rcgen::PublicKeyData for CardCsrKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public.pkcs1_der
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl rcgen::SigningKey for CardCsrKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let hash: [u8; 32] = Sha256::digest(msg).into();
        let result =
            crate::card::lock(self.card).sign(self.slot, &hash, SignatureScheme::Pkcs1Sha256);
        result.map_err(|e| {
            *self.failure.borrow_mut() = Some(e);
            rcgen::Error::RemoteKeyError
        })
    }
}

/// A PKCS#10 request (DER) for the key in `slot`, whose public half is `public`, signed by the
/// card. The slot's PIN must be verified first (PIN2 right before this call for signing slots).
pub fn card_csr(card: &SharedCard, slot: KeySlot, public: &PublicKey) -> Result<Vec<u8>, CaError> {
    let spki = RsaSpki::from_parts(&public.modulus, &public.exponent)
        .map_err(|e| CaError::Csr(format!("the card's public key in {slot}: {e}")))?;
    let key = CardCsrKey {
        card,
        slot,
        public: spki,
        failure: RefCell::new(None),
    };
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    match params.serialize_request(&key) {
        Ok(csr) => Ok(csr.der().to_vec()),
        Err(e) => Err(match key.failure.into_inner() {
            Some(card_error) => CaError::CardSigning(card_error),
            None => CaError::Csr(e.to_string()),
        }),
    }
}
