//! The card interface that every workflow, the CLI, the window and the desk use, whichever
//! backend serves the card, and the key and signature types it speaks in.

use super::error::CardError;
use super::overview::{CardOverview, PinStatus};
use super::pin::{PinKind, SecretCode};
use super::slot::KeySlot;
use super::source::CardSource;
use crate::channel::TransferStats;
use crate::layout;

/// What every workflow needs from a card, whichever backend serves it.
///
/// Signing keys need PIN2 verified right before each signature ([`Card::verify_pin`] then
/// [`Card::sign`]); authentication keys need PIN1 once per session. A task ends with
/// [`Card::end_session`], so no card stays logged in after it.
pub trait Card: Send {
    /// How this card is reached.
    fn source(&self) -> CardSource;

    /// Everything the holder and the service desk want to see, without spending a PIN try.
    fn overview(&mut self) -> Result<CardOverview, CardError>;

    /// Tries left for several codes at once, e.g. before asking for a PIN.
    fn pin_statuses(&mut self, kinds: &[PinKind]) -> Result<Vec<PinStatus>, CardError>;

    /// Tries left for one PIN or the PUK, without spending one.
    fn pin_status(&mut self, kind: PinKind) -> Result<PinStatus, CardError> {
        self.pin_statuses(&[kind])?
            .into_iter()
            .next()
            .ok_or_else(|| CardError::Malformed(format!("the card does not list the {kind}")))
    }

    /// Verify a PIN (or test the PUK, which spends a PUK try when wrong).
    fn verify_pin(&mut self, kind: PinKind, code: &SecretCode) -> Result<(), CardError>;

    /// Give the PIN that the next use of `slot`'s key needs (PIN2 right before each signature
    /// with a signing key). The apdu card verifies it now; a PKCS#11 token logs in to the
    /// slot's token and keeps PIN2 for the context-specific login of a
    /// `CKA_ALWAYS_AUTHENTICATE` key, which is the only time such middleware checks it.
    fn authorize(&mut self, slot: KeySlot, code: &SecretCode) -> Result<(), CardError> {
        self.verify_pin(slot.pin(), code)
    }

    /// Change PIN1 or PIN2; a wrong old PIN spends a try.
    fn change_pin(
        &mut self,
        kind: PinKind,
        old: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError>;

    /// Unblock PIN1 or PIN2 with the PUK and set `new`; a wrong PUK spends a PUK try.
    fn unblock_pin(
        &mut self,
        kind: PinKind,
        puk: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError>;

    /// The public key in `slot`, or None when the slot holds no key.
    fn read_public_key(&mut self, slot: KeySlot) -> Result<Option<PublicKey>, CardError>;

    /// Whether keys can be made on this card the way it is reached, asked before a workflow
    /// asks for any code or changes anything: the apdu card always can; a PKCS#11 module that
    /// offers no key-pair generation (OpenSC on an IDPrime card) cannot, and says so
    /// ([`crate::card::MiddlewareError::NotSupported`]).
    fn can_generate_keys(&mut self) -> Result<(), CardError> {
        Ok(())
    }

    /// Generate an RSA-2048 key pair in `slot`; the private key never leaves the card.
    fn generate_key(&mut self, slot: KeySlot) -> Result<PublicKey, CardError>;

    /// The key in `slot` when this program made it and no certificate names it yet (a key
    /// generation, a certificate write or a removal cut short); None when the slot is empty or
    /// its key may be someone else's. Only such a key may be reused or removed without a
    /// certificate that proves whose it is. `labels` are the labels this program gives a key in
    /// `slot` (`workflow::pairs::own_key_labels`). The apdu card: a key that the PrKDF does not
    /// list (our GENERATE lists nothing; the certificate write lists the key) or lists only
    /// under those labels; PKCS#11: a key under the slot's own one-byte `CKA_ID` whose every
    /// object carries one of those labels.
    fn unfinished_key(
        &mut self,
        slot: KeySlot,
        labels: &[String],
    ) -> Result<Option<PublicKey>, CardError>;

    /// Sign a SHA-256 hash with the key in `slot`.
    fn sign(
        &mut self,
        slot: KeySlot,
        sha256: &[u8; 32],
        scheme: SignatureScheme,
    ) -> Result<Vec<u8>, CardError>;

    /// Write `cert_der` for the key in `slot` under `label`, in an order that leaves the card
    /// showing either the old or the new state if it is pulled midway.
    fn write_certificate(
        &mut self,
        slot: KeySlot,
        label: &str,
        cert_der: &[u8],
    ) -> Result<(), CardError>;

    /// Remove the certificate and key in `slot`, the certificate's listing first.
    fn delete_pair(&mut self, slot: KeySlot) -> Result<(), CardError>;

    /// Remove the pairs in `slots`, their listings first. The apdu card does it in one
    /// transaction that writes each directory file once (each APDU costs milliseconds on a
    /// real card); elsewhere it is one [`Card::delete_pair`] per slot. Each slot's PIN is
    /// given first, as for `delete_pair`.
    fn delete_pairs(&mut self, slots: &[KeySlot]) -> Result<(), CardError> {
        slots.iter().try_for_each(|&slot| self.delete_pair(slot))
    }

    /// Forget every verified PIN, so the card is not left logged in after a task.
    fn end_session(&mut self) -> Result<(), CardError> {
        Ok(())
    }

    /// APDUs and bytes exchanged (the apdu backend's benchmark figures; zero elsewhere).
    fn stats(&self) -> TransferStats {
        TransferStats::default()
    }

    fn reset_stats(&mut self) {}
}

/// RSA public key as the card gives it (big-endian, no leading zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

/// Signature padding; TLS 1.3 needs PSS, certificates and CSRs use PKCS#1 v1.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    Pkcs1Sha256,
    PssSha256,
}

impl SignatureScheme {
    pub(crate) fn algorithm_reference(self) -> u8 {
        match self {
            SignatureScheme::Pkcs1Sha256 => layout::ALG_RSA_PKCS1_SHA256,
            SignatureScheme::PssSha256 => layout::ALG_RSA_PSS_SHA256,
        }
    }
}

impl PublicKey {
    /// SubjectPublicKeyInfo DER, as certificates and CSRs carry it.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, String> {
        use rsa::pkcs8::EncodePublicKey;
        let key = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&self.modulus),
            rsa::BigUint::from_bytes_be(&self.exponent),
        )
        .map_err(|e| e.to_string())?;
        key.to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| e.to_string())
    }
}
