//! The SITHS card's PKCS#15 application as typed operations.
//!
//! Every operation runs inside one transport transaction and begins by selecting the application,
//! so it stands alone: another program may have used the card in between, and an operation that
//! meets a reset is redone once from the start.

pub mod error;
pub(crate) mod files;
pub mod new_pin;
pub mod overview;
pub mod pin;

use crate::apdu::{Command, StatusWord};
use crate::channel::{Channel, TransferStats};
use crate::layout;
use crate::pkcs15::iso7816::RsaPublicKeyTemplate;
use crate::transport::{Transport, TransportError};

pub use error::CardError;
pub(crate) use files::app_path;
pub use overview::{CardCertificate, CardOverview, KeyEntry, PinStatus};
pub use pin::{PinKind, PinRuleError, SecretCode};

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
    fn algorithm_reference(self) -> u8 {
        match self {
            SignatureScheme::Pkcs1Sha256 => layout::ALG_RSA_PKCS1_SHA256,
            SignatureScheme::PssSha256 => layout::ALG_RSA_PSS_SHA256,
        }
    }
}

pub struct SithsCard {
    transport: Box<dyn Transport>,
    stats: TransferStats,
}

impl SithsCard {
    /// Wrap a connected transport and check that the card holds the SITHS application.
    pub fn open(transport: Box<dyn Transport>) -> Result<SithsCard, CardError> {
        let mut card = SithsCard {
            transport,
            stats: TransferStats::default(),
        };
        card.run(select_application)?;
        Ok(card)
    }

    pub fn reader_name(&self) -> &str {
        self.transport.reader_name()
    }

    pub fn atr(&self) -> &[u8] {
        self.transport.atr()
    }

    /// APDUs and bytes exchanged since the card was opened (or the counters reset).
    pub fn stats(&self) -> TransferStats {
        self.stats
    }

    pub fn reset_stats(&mut self) {
        self.stats = TransferStats::default();
    }

    /// Run `op` in one transaction; redo it once if another program reset the card meanwhile.
    fn run<R>(
        &mut self,
        mut op: impl FnMut(&mut Channel<'_>) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        for attempt in 0..2 {
            let mut result: Option<Result<R, CardError>> = None;
            let stats = &mut self.stats;
            let outcome = self.transport.transaction(&mut |raw| {
                let mut ch = Channel::new(raw, stats);
                result = Some(op(&mut ch));
            });
            let result = match outcome {
                Err(e) => Err(CardError::Transport(e)),
                Ok(()) => result.unwrap_or(Err(CardError::Transport(TransportError::Other(
                    "the transaction ended before the operation ran".into(),
                )))),
            };
            match result {
                Err(CardError::Transport(TransportError::CardReset)) if attempt == 0 => continue,
                other => return other,
            }
        }
        Err(CardError::Transport(TransportError::CardReset))
    }

    /// Everything the holder and the service desk want to see, without spending a PIN try.
    pub fn overview(&mut self) -> Result<CardOverview, CardError> {
        let reader = self.transport.reader_name().to_string();
        self.run(|ch| overview::read(ch, &reader))
    }

    /// Tries left for one PIN or the PUK, without spending one.
    pub fn pin_status(&mut self, kind: PinKind) -> Result<PinStatus, CardError> {
        self.run(|ch| {
            select_application(ch)?;
            overview::pin_status(ch, kind)
        })
    }

    /// Tries left for several codes in one transaction, e.g. before asking for a PIN.
    pub fn pin_statuses(&mut self, kinds: &[PinKind]) -> Result<Vec<PinStatus>, CardError> {
        self.run(|ch| {
            select_application(ch)?;
            kinds.iter().map(|&k| overview::pin_status(ch, k)).collect()
        })
    }

    /// Verify a PIN (or test the PUK, which spends a PUK try when wrong).
    pub fn verify_pin(&mut self, kind: PinKind, code: &SecretCode) -> Result<(), CardError> {
        let padded = code.padded();
        self.run(|ch| {
            select_application(ch)?;
            let r = ch.exchange(&Command::verify(kind.reference(), Some(&padded)))?;
            match r.sw {
                StatusWord::Ok => Ok(()),
                sw => Err(CardError::from_pin_status(kind, sw, "VERIFY")),
            }
        })
    }

    /// Change PIN1 or PIN2; the old PIN is checked by the card (a wrong one spends a try).
    pub fn change_pin(
        &mut self,
        kind: PinKind,
        old: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError> {
        if kind == PinKind::Puk {
            return Err(CardError::PukNotChangeable);
        }
        let mut data = old.padded();
        data.extend_from_slice(&new.padded());
        self.run(|ch| {
            select_application(ch)?;
            let r = ch.exchange(&Command::change_reference_data(kind.reference(), &data))?;
            match r.sw {
                StatusWord::Ok => Ok(()),
                StatusWord::ConditionsNotSatisfied | StatusWord::CommandNotAllowed => {
                    Err(CardError::PukNotChangeable)
                }
                sw => Err(CardError::from_pin_status(
                    kind,
                    sw,
                    "CHANGE REFERENCE DATA",
                )),
            }
        })
    }

    /// Unblock PIN1 or PIN2 with the PUK, setting `new` as the PIN. A wrong PUK spends a PUK try.
    pub fn unblock_pin(
        &mut self,
        kind: PinKind,
        puk: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError> {
        if kind == PinKind::Puk {
            return Err(CardError::PukNotChangeable);
        }
        let mut data = puk.padded();
        data.extend_from_slice(&new.padded());
        self.run(|ch| {
            select_application(ch)?;
            let r = ch.exchange(&Command::reset_retry_counter(kind.reference(), &data))?;
            match r.sw {
                StatusWord::Ok => Ok(()),
                // The counters in these answers are the PUK's.
                sw => Err(CardError::from_pin_status(
                    PinKind::Puk,
                    sw,
                    "RESET RETRY COUNTER",
                )),
            }
        })
    }

    /// Generate an RSA-2048 key pair in `slot`; the private key never leaves the card.
    pub fn generate_key(&mut self, slot: u8) -> Result<PublicKey, CardError> {
        self.run(|ch| {
            select_application(ch)?;
            let r = ch.exchange(&Command::generate_key(slot))?;
            match r.sw {
                StatusWord::Ok => parse_public_key(&r.data),
                StatusWord::ConditionsNotSatisfied => Err(CardError::SlotOccupied(slot)),
                sw => Err(key_status(sw, slot, "GENERATE ASYMMETRIC KEY PAIR")),
            }
        })
    }

    /// The public key in `slot`, or None when the slot is empty.
    pub fn read_public_key(&mut self, slot: u8) -> Result<Option<PublicKey>, CardError> {
        self.run(|ch| {
            select_application(ch)?;
            read_public_key(ch, slot)
        })
    }

    /// Sign a SHA-256 hash with the key in `slot`. The key's PIN must be verified: PIN1 once per
    /// session for authentication keys, PIN2 right before each signature for signing keys.
    pub fn sign(
        &mut self,
        slot: u8,
        sha256: &[u8; 32],
        scheme: SignatureScheme,
    ) -> Result<Vec<u8>, CardError> {
        self.run(|ch| {
            select_application(ch)?;
            let r = ch.exchange(&Command::mse_set_signature(
                scheme.algorithm_reference(),
                slot,
            ))?;
            if !r.sw.is_ok() {
                return Err(key_status(r.sw, slot, "MANAGE SECURITY ENVIRONMENT"));
            }
            let r = ch.exchange(&Command::compute_signature(sha256))?;
            match r.sw {
                StatusWord::Ok => Ok(r.data),
                sw => Err(key_status(sw, slot, "COMPUTE DIGITAL SIGNATURE")),
            }
        })
    }

    /// Write `cert_der` for the key in `slot` and list both in the directory files. The
    /// certificate file is written first and the CDF last, so a card pulled before the CDF
    /// update still shows exactly what it showed before. Needs PIN1 verified.
    pub fn write_certificate(
        &mut self,
        slot: u8,
        label: &str,
        cert_der: &[u8],
    ) -> Result<(), CardError> {
        self.run(|ch| files::write_certificate(ch, slot, label, cert_der))
    }

    /// Remove the certificate and key in `slot`: the CDF entry first (the pair disappears in one
    /// write), then the key entry, the certificate file and the key itself. Needs PIN1 verified.
    pub fn delete_pair(&mut self, slot: u8) -> Result<(), CardError> {
        self.run(|ch| files::delete_pair(ch, slot))
    }
}

fn key_status(sw: StatusWord, slot: u8, operation: &'static str) -> CardError {
    match sw {
        StatusWord::ReferenceNotFound => CardError::SlotEmpty(slot),
        StatusWord::SecurityStatusNotSatisfied => CardError::NotVerified(
            PinKind::from_reference(layout::slot_pin(slot)).unwrap_or(PinKind::Pin1),
        ),
        StatusWord::ReferenceDataNotUsable => CardError::CardDead,
        StatusWord::NotEnoughMemory => CardError::CardFull,
        sw => CardError::Refused { operation, sw },
    }
}

pub(crate) fn select_application(ch: &mut Channel<'_>) -> Result<(), CardError> {
    let r = ch.exchange(&Command::select_aid(&layout::PKCS15_AID))?;
    match r.sw {
        StatusWord::Ok => Ok(()),
        StatusWord::FileNotFound
        | StatusWord::IncorrectP1P2
        | StatusWord::InsNotSupported
        | StatusWord::ClaNotSupported
        | StatusWord::WrongP1P2 => Err(CardError::NotSiths),
        sw => Err(CardError::Refused {
            operation: "SELECT",
            sw,
        }),
    }
}

pub(crate) fn read_public_key(
    ch: &mut Channel<'_>,
    slot: u8,
) -> Result<Option<PublicKey>, CardError> {
    let r = ch.exchange(&Command::read_public_key(slot))?;
    match r.sw {
        StatusWord::Ok => parse_public_key(&r.data).map(Some),
        StatusWord::ReferenceNotFound => Ok(None),
        sw => Err(key_status(sw, slot, "READ PUBLIC KEY")),
    }
}

fn parse_public_key(data: &[u8]) -> Result<PublicKey, CardError> {
    let t = RsaPublicKeyTemplate::decode(data)
        .map_err(|e| CardError::Malformed(format!("public key: {e}")))?;
    Ok(PublicKey {
        modulus: t.modulus,
        exponent: t.exponent,
    })
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
