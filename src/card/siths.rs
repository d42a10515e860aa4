//! The apdu backend: a SITHS card through ISO 7816-4 APDUs, over PC/SC or in-process, in
//! either layout: our PKCS#15 application or an IDPrime card ([`Dialect`], recognised by the
//! answer to the application select).
//!
//! Every operation runs inside one transport transaction, which opens by selecting the
//! application (`SithsCard::run`), so it stands alone: another program may have used the card
//! in between, and an operation that meets a reset is redone once from the start.
//!
//! What the session read from or wrote to the card's files is kept ([`files::FileCache`]), so
//! an upgrade reads each directory and certificate file once rather than in every operation.
//! Any transport error (a reset by another program, a pulled card, another card in the reader)
//! forgets it all.

use crate::apdu::{Command, StatusWord};
use crate::card::dialect::Dialect;
use crate::card::files::FileCache;
use crate::card::idprime;
use crate::card::{
    Card, CardError, CardOverview, CardSource, KeySlot, PinKind, PinStatus, PublicKey, SecretCode,
    SignatureScheme, files, overview,
};
use crate::channel::{Channel, TransferStats};
use crate::pkcs15::iso7816::RsaPublicKeyTemplate;
use crate::transport::{Transport, TransportError};

pub struct SithsCard {
    transport: Box<dyn Transport>,
    /// The application the last transaction selected.
    dialect: Dialect,
    stats: TransferStats,
    /// Files read or written in this session (directory files and certificates), so each is
    /// read from the card once.
    files: FileCache,
}

impl SithsCard {
    /// Wrap a connected transport and check that the card holds the SITHS application.
    pub fn open(transport: Box<dyn Transport>) -> Result<SithsCard, CardError> {
        let mut card = SithsCard {
            transport,
            dialect: Dialect::Pkcs15,
            stats: TransferStats::default(),
            files: FileCache::new(true),
        };
        card.run(|_, _, _| Ok(()))?;
        Ok(card)
    }

    /// The layout the card answered in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// This card with no session cache: every file is read from the card each time an
    /// operation needs it. It exists so the benchmark can measure what the cache saves
    /// (`cargo bench --bench upgrade` runs the upgrade both ways); nothing else should use it.
    pub fn without_session_cache(mut self) -> SithsCard {
        self.files = FileCache::new(false);
        self
    }

    pub fn reader_name(&self) -> &str {
        self.transport.reader_name()
    }

    pub fn atr(&self) -> &[u8] {
        self.transport.atr()
    }

    /// Run `op` in one transaction that opens by selecting the application (another program
    /// may have selected another one in between), so no operation selects it itself; redo it
    /// once if another program reset the card meanwhile. After any transport error the session's files are forgotten: the card may have been
    /// reset and changed by another program, or be another card.
    fn run<R>(
        &mut self,
        mut op: impl FnMut(&mut Channel<'_>, &mut FileCache, Dialect) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        for attempt in 0..2 {
            let mut result: Option<Result<R, CardError>> = None;
            let stats = &mut self.stats;
            let files = &mut self.files;
            let dialect = &mut self.dialect;
            let outcome = self.transport.transaction(&mut |raw| {
                let mut ch = Channel::new(raw, stats);
                let was = *dialect;
                result = Some(Dialect::select(&mut ch, dialect).and_then(|()| {
                    if *dialect != was {
                        // Another kind of card: nothing read from the last one holds.
                        files.clear();
                    }
                    op(&mut ch, files, *dialect)
                }));
            });
            let result = match outcome {
                Err(e) => Err(CardError::Transport(e)),
                Ok(()) => result.unwrap_or(Err(CardError::Transport(TransportError::Other(
                    "the transaction ended before the operation ran".into(),
                )))),
            };
            if matches!(result, Err(CardError::Transport(_))) {
                self.files.clear();
            }
            match result {
                Err(CardError::Transport(TransportError::CardReset)) if attempt == 0 => continue,
                other => return other,
            }
        }
        Err(CardError::Transport(TransportError::CardReset))
    }
}

impl Card for SithsCard {
    fn source(&self) -> CardSource {
        CardSource::Reader {
            name: self.transport.reader_name().to_string(),
            atr: self.transport.atr().to_vec(),
        }
    }

    fn stats(&self) -> TransferStats {
        self.stats
    }

    /// Both PINs back to "not verified", so the card is not left logged in after a task.
    fn end_session(&mut self) -> Result<(), CardError> {
        self.run(|ch, _, dialect| {
            for kind in [PinKind::Pin1, PinKind::Pin2] {
                let r = ch.exchange(&Command::reset_verification(dialect.pin_reference(kind)))?;
                match r.sw {
                    StatusWord::Ok => {}
                    // A card that came with one code has no PIN2 to forget.
                    StatusWord::ReferenceNotFound if dialect == Dialect::Idprime => {}
                    sw => {
                        return Err(CardError::Refused {
                            operation: "VERIFY (reset)",
                            sw,
                        });
                    }
                }
            }
            Ok(())
        })
    }

    fn reset_stats(&mut self) {
        self.stats = TransferStats::default();
    }

    /// Everything the holder and the service desk want to see, without spending a PIN try.
    fn overview(&mut self) -> Result<CardOverview, CardError> {
        let source = self.source();
        self.run(|ch, files, dialect| match dialect {
            Dialect::Pkcs15 => overview::read(ch, files, &source),
            Dialect::Idprime => idprime::overview::read(ch, files, &source),
        })
    }

    /// Tries left for several codes in one transaction, e.g. before asking for a PIN.
    fn pin_statuses(&mut self, kinds: &[PinKind]) -> Result<Vec<PinStatus>, CardError> {
        self.run(|ch, _, dialect| {
            let mut statuses = Vec::with_capacity(kinds.len());
            for &kind in kinds {
                // A code the card does not have (PIN2 on a one-code card) is left out.
                if let Some(status) =
                    overview::pin_status_at(ch, kind, dialect.pin_reference(kind))?
                {
                    statuses.push(status);
                }
            }
            Ok(statuses)
        })
    }

    /// Verify a PIN (or test the PUK, which spends a PUK try when wrong).
    fn verify_pin(&mut self, kind: PinKind, code: &SecretCode) -> Result<(), CardError> {
        self.run(|ch, _, dialect| {
            let padded = dialect.padded(code);
            let r = ch.exchange(&Command::verify(dialect.pin_reference(kind), Some(&padded)))?;
            match r.sw {
                StatusWord::Ok => Ok(()),
                sw => Err(CardError::from_pin_status(kind, sw, "VERIFY")),
            }
        })
    }

    /// Change PIN1 or PIN2; the old PIN is checked by the card (a wrong one spends a try).
    fn change_pin(
        &mut self,
        kind: PinKind,
        old: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError> {
        if kind == PinKind::Puk {
            return Err(CardError::PukNotChangeable);
        }
        self.run(|ch, _, dialect| {
            let data = dialect.two_codes(old, new);
            let r = ch.exchange(&Command::change_reference_data(
                dialect.pin_reference(kind),
                &data,
            ))?;
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
    fn unblock_pin(
        &mut self,
        kind: PinKind,
        puk: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError> {
        if kind == PinKind::Puk {
            return Err(CardError::PukNotChangeable);
        }
        self.run(|ch, _, dialect| {
            let data = dialect.two_codes(puk, new);
            let r = ch.exchange(&Command::reset_retry_counter(
                dialect.pin_reference(kind),
                &data,
            ))?;
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
    fn generate_key(&mut self, slot: KeySlot) -> Result<PublicKey, CardError> {
        self.run(|ch, _, dialect| {
            let r = ch.exchange(&Command::generate_key(dialect.key_reference(slot)))?;
            match r.sw {
                StatusWord::Ok => parse_public_key(&r.data),
                StatusWord::ConditionsNotSatisfied => Err(CardError::SlotOccupied(slot)),
                sw => Err(CardError::from_key_status(
                    sw,
                    slot,
                    "GENERATE ASYMMETRIC KEY PAIR",
                )),
            }
        })
    }

    /// The public key in `slot`, or None when the slot is empty.
    fn read_public_key(&mut self, slot: KeySlot) -> Result<Option<PublicKey>, CardError> {
        self.run(|ch, _, dialect| read_public_key(ch, dialect, slot))
    }

    fn unfinished_key(
        &mut self,
        slot: KeySlot,
        labels: &[String],
    ) -> Result<Option<PublicKey>, CardError> {
        self.run(|ch, files, dialect| {
            let unclaimed = match dialect {
                Dialect::Pkcs15 => files::key_unclaimed(ch, files, slot, labels)?,
                Dialect::Idprime => idprime::pairs::key_unclaimed(ch, files, slot)?,
            };
            if unclaimed {
                read_public_key(ch, dialect, slot)
            } else {
                Ok(None)
            }
        })
    }

    /// Sign a SHA-256 hash with the key in `slot`. The key's PIN must be verified: PIN1 once per
    /// session for authentication keys, PIN2 right before each signature for signing keys.
    fn sign(
        &mut self,
        slot: KeySlot,
        sha256: &[u8; 32],
        scheme: SignatureScheme,
    ) -> Result<Vec<u8>, CardError> {
        self.run(|ch, _, dialect| {
            let r = ch.exchange(&Command::mse_set_signature(
                scheme.algorithm_reference(),
                dialect.key_reference(slot),
            ))?;
            if !r.sw.is_ok() {
                return Err(CardError::from_key_status(
                    r.sw,
                    slot,
                    "MANAGE SECURITY ENVIRONMENT",
                ));
            }
            if dialect == Dialect::Idprime {
                return idprime::sign_held_hash(ch, slot, sha256);
            }
            let r = ch.exchange(&Command::compute_signature(sha256))?;
            match r.sw {
                StatusWord::Ok => Ok(r.data),
                sw => Err(CardError::from_key_status(
                    sw,
                    slot,
                    "COMPUTE DIGITAL SIGNATURE",
                )),
            }
        })
    }

    /// Write `cert_der` for the key in `slot` and list both in the directory files. The
    /// certificate file is written first and the CDF last, so a card pulled before the CDF
    /// update still shows exactly what it showed before. Needs PIN1 verified.
    fn write_certificate(
        &mut self,
        slot: KeySlot,
        label: &str,
        cert_der: &[u8],
    ) -> Result<(), CardError> {
        self.run(|ch, files, dialect| match dialect {
            Dialect::Pkcs15 => files::write_certificate(ch, files, slot, label, cert_der),
            Dialect::Idprime => idprime::pairs::write_certificate(ch, files, slot, cert_der),
        })
    }

    /// Remove the certificate and key in `slot`: the CDF entry first (the pair disappears in one
    /// write), then the key entry, the certificate file and the key itself. Needs PIN1 verified.
    fn delete_pair(&mut self, slot: KeySlot) -> Result<(), CardError> {
        self.delete_pairs(&[slot])
    }

    /// Remove several pairs in one transaction, each directory file written once: the CDF
    /// first (all the pairs disappear in that one write), then the PrKDF, the certificate
    /// files and the keys. Needs PIN1 verified.
    fn delete_pairs(&mut self, slots: &[KeySlot]) -> Result<(), CardError> {
        self.run(|ch, files, dialect| match dialect {
            Dialect::Pkcs15 => files::delete_pairs(ch, files, slots),
            Dialect::Idprime => idprime::pairs::delete_pairs(ch, files, slots),
        })
    }
}

pub(crate) fn read_public_key(
    ch: &mut Channel<'_>,
    dialect: Dialect,
    slot: KeySlot,
) -> Result<Option<PublicKey>, CardError> {
    let r = ch.exchange(&Command::read_public_key(dialect.key_reference(slot)))?;
    match r.sw {
        StatusWord::Ok => parse_public_key(&r.data).map(Some),
        StatusWord::ReferenceNotFound => Ok(None),
        sw => Err(CardError::from_key_status(sw, slot, "READ PUBLIC KEY")),
    }
}

pub(crate) fn parse_public_key(data: &[u8]) -> Result<PublicKey, CardError> {
    let t = RsaPublicKeyTemplate::decode(data)
        .map_err(|e| CardError::Malformed(format!("public key: {e}")))?;
    Ok(PublicKey {
        modulus: t.modulus,
        exponent: t.exponent,
    })
}
