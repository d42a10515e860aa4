//! Mutual TLS to the CA with the TLS client key on the card.
//!
//! The holder logs in to the CA with the card's authentication certificate, so the CA knows who
//! asks before it issues anything. The private key never leaves the card: rustls hands each
//! handshake signature to [`CardSigningKey`], which hashes on the host and asks the card to sign
//! the hash (RSA-PSS for TLS 1.3, PKCS#1 v1.5 where a TLS 1.2 server only accepts that).
//!
//! rustls carries only a string for a failed signature, so the card's own error is kept in a
//! [`HandshakeLog`] for the client to report (e.g. "verify PIN1 first").

use std::sync::{Arc, Mutex, MutexGuard};

use rustls::client::ResolvesClientCert;
use rustls::pki_types::CertificateDer;
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{ClientConfig, RootCertStore, SignatureAlgorithm};
use sha2::{Digest, Sha256};

use crate::card::{CardError, KeySlot, SharedCard, SignatureScheme};

use super::error::CaError;
use super::roots::Roots;

/// What the card did during TLS handshakes: signatures made and the last card error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeRecord {
    /// Signatures the card made with RSA-PSS (TLS 1.3, and TLS 1.2 servers that offer it).
    pub pss_signatures: u32,
    /// Signatures the card made with PKCS#1 v1.5 (TLS 1.2 servers that accept nothing else).
    pub pkcs1_signatures: u32,
    /// Why the card last refused to sign, until taken by [`HandshakeLog::take_error`].
    pub last_error: Option<CardError>,
}

/// Shared between the signer inside rustls and the client that reports errors.
#[derive(Debug, Clone, Default)]
pub struct HandshakeLog(Arc<Mutex<HandshakeRecord>>);

impl HandshakeLog {
    fn lock(&self) -> MutexGuard<'_, HandshakeRecord> {
        // The record is plain counters; a panic elsewhere cannot leave it inconsistent.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> HandshakeRecord {
        self.lock().clone()
    }

    /// The card error of the last failed handshake signature, cleared by taking it.
    pub fn take_error(&self) -> Option<CardError> {
        self.lock().last_error.take()
    }

    fn record(&self, scheme: SignatureScheme, result: &Result<Vec<u8>, CardError>) {
        let mut rec = self.lock();
        match result {
            Ok(_) => match scheme {
                SignatureScheme::PssSha256 => rec.pss_signatures += 1,
                SignatureScheme::Pkcs1Sha256 => rec.pkcs1_signatures += 1,
            },
            Err(e) => rec.last_error = Some(e.clone()),
        }
    }
}

/// The card's authentication key as rustls sees it.
pub struct CardSigningKey {
    card: SharedCard,
    slot: KeySlot,
    log: HandshakeLog,
}

impl CardSigningKey {
    pub fn new(card: SharedCard, slot: KeySlot, log: HandshakeLog) -> CardSigningKey {
        CardSigningKey { card, slot, log }
    }
}

impl std::fmt::Debug for CardSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigningKey")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl SigningKey for CardSigningKey {
    fn choose_scheme(&self, offered: &[rustls::SignatureScheme]) -> Option<Box<dyn Signer>> {
        // PSS first: TLS 1.3 allows nothing else for RSA, and TLS 1.2 servers may offer it too.
        let (tls, card) = if offered.contains(&rustls::SignatureScheme::RSA_PSS_SHA256) {
            (
                rustls::SignatureScheme::RSA_PSS_SHA256,
                SignatureScheme::PssSha256,
            )
        } else if offered.contains(&rustls::SignatureScheme::RSA_PKCS1_SHA256) {
            (
                rustls::SignatureScheme::RSA_PKCS1_SHA256,
                SignatureScheme::Pkcs1Sha256,
            )
        } else {
            return None;
        };
        Some(Box::new(CardSigner {
            card: self.card.clone(),
            slot: self.slot,
            tls,
            scheme: card,
            log: self.log.clone(),
        }))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

struct CardSigner {
    card: SharedCard,
    slot: KeySlot,
    tls: rustls::SignatureScheme,
    scheme: SignatureScheme,
    log: HandshakeLog,
}

impl std::fmt::Debug for CardSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigner")
            .field("slot", &self.slot)
            .field("scheme", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Signer for CardSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let hash: [u8; 32] = Sha256::digest(message).into();
        let result = crate::card::lock(&self.card).sign(self.slot, &hash, self.scheme);
        self.log.record(self.scheme, &result);
        result.map_err(|e| rustls::Error::General(format!("the card did not sign: {e}")))
    }

    fn scheme(&self) -> rustls::SignatureScheme {
        self.tls
    }
}

/// Always offers the card's certificate: the CA identifies the holder by it.
#[derive(Debug)]
struct CardCertResolver(Arc<CertifiedKey>);

impl ResolvesClientCert for CardCertResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        // Offer the certificate only if the card can make a signature the server accepts.
        self.0
            .key
            .choose_scheme(sigschemes)
            .map(|_| Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// rustls's clock, read from the program's one calendar ([`crate::pki::date::now_unix`]), so a
/// handshake judges certificate validity at the same "now" as the checks and screens do.
#[derive(Debug)]
pub struct CalendarTime;

impl rustls::time_provider::TimeProvider for CalendarTime {
    fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
        let secs = u64::try_from(crate::pki::date::now_unix()).ok()?;
        Some(rustls::pki_types::UnixTime::since_unix_epoch(
            std::time::Duration::from_secs(secs),
        ))
    }
}

/// The TLS client setup every connection to the CA starts from: rustls on ring, the program's
/// calendar.
pub fn client_builder() -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVersions> {
    ClientConfig::builder_with_details(
        Arc::new(rustls::crypto::ring::default_provider()),
        Arc::new(CalendarTime),
    )
}

/// The TLS trust store: every certificate of the root file, so TLS and the certificate checks
/// trust the same roots.
pub fn root_store(roots: &Roots) -> Result<RootCertStore, CaError> {
    let mut store = RootCertStore::empty();
    for der in roots.der() {
        store.add(CertificateDer::from(der.clone())).map_err(|e| {
            CaError::Config(format!(
                "a certificate in the CA root file cannot be used as a root ({e}); give the \
                 CA's root.pem"
            ))
        })?;
    }
    Ok(store)
}

/// A rustls client configuration that trusts `roots`, presents `auth_cert_der` and
/// signs with the card key in `auth_slot`. The key's PIN (PIN1) must already be verified.
pub fn card_client_config(
    roots: &Roots,
    card: SharedCard,
    auth_slot: KeySlot,
    auth_cert_der: Vec<u8>,
    log: HandshakeLog,
) -> Result<ClientConfig, CaError> {
    let roots = root_store(roots)?;
    let key = Arc::new(CardSigningKey::new(card, auth_slot, log));
    let certified = Arc::new(CertifiedKey::new(
        vec![CertificateDer::from(auth_cert_der)],
        key,
    ));
    let mut config = client_builder()
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| CaError::Config(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_client_cert_resolver(Arc::new(CardCertResolver(certified)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
