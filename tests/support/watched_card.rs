//! One wrapper around any [`Card`] for what a test watches or does to it from outside: the APDUs
//! and bytes each operation cost (the host's own counters), and pulling the card at a chosen
//! moment, after which every operation finds it gone as a card taken out of its reader, and
//! the inner card is dropped (the middleware's sessions close).
//!
//! Every operation of the trait is forwarded, so the wrapped card behaves as itself (its own
//! `delete_pairs`, `end_session`, counters) until it is pulled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use siths_upgrade::card::{
    Card, CardError, CardOverview, CardSource, KeySlot, PinKind, PinStatus, PublicKey, SecretCode,
    SignatureScheme,
};
use siths_upgrade::channel::TransferStats;
use siths_upgrade::transport::TransportError;

/// The operations a [`WatchedCard`] saw, in order, each with what it cost.
pub type OperationLog = Arc<Mutex<Vec<(&'static str, TransferStats)>>>;

pub struct WatchedCard<C: Card> {
    card: Option<C>,
    source: CardSource,
    pulled: Arc<AtomicBool>,
    operations: OperationLog,
}

impl<C: Card> WatchedCard<C> {
    pub fn new(card: C) -> WatchedCard<C> {
        WatchedCard {
            source: card.source(),
            card: Some(card),
            pulled: Arc::default(),
            operations: OperationLog::default(),
        }
    }

    /// Set the flag (from a progress callback, another thread) to pull the card: the next
    /// operation finds it gone.
    pub fn pull_switch(&self) -> Arc<AtomicBool> {
        self.pulled.clone()
    }

    /// What each operation cost, for reading after the card is handed to a workflow.
    pub fn operations(&self) -> OperationLog {
        self.operations.clone()
    }

    fn count<R>(
        &mut self,
        name: &'static str,
        op: impl FnOnce(&mut C) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        if self.pulled.load(Ordering::SeqCst) {
            self.card = None;
        }
        let card = self
            .card
            .as_mut()
            .ok_or(CardError::Transport(TransportError::CardRemoved))?;
        let before = card.stats();
        let result = op(card);
        let after = card.stats();
        let spent = TransferStats {
            apdus: after.apdus - before.apdus,
            bytes_sent: after.bytes_sent - before.bytes_sent,
            bytes_received: after.bytes_received - before.bytes_received,
        };
        if let Ok(mut operations) = self.operations.lock() {
            operations.push((name, spent));
        }
        result
    }
}

impl<C: Card> Card for WatchedCard<C> {
    fn source(&self) -> CardSource {
        self.source.clone()
    }
    fn overview(&mut self) -> Result<CardOverview, CardError> {
        self.count("overview", |c| c.overview())
    }
    fn pin_statuses(&mut self, kinds: &[PinKind]) -> Result<Vec<PinStatus>, CardError> {
        self.count("pin_statuses", |c| c.pin_statuses(kinds))
    }
    fn verify_pin(&mut self, kind: PinKind, code: &SecretCode) -> Result<(), CardError> {
        self.count("verify_pin", |c| c.verify_pin(kind, code))
    }
    fn authorize(&mut self, slot: KeySlot, code: &SecretCode) -> Result<(), CardError> {
        self.count("authorize", |c| c.authorize(slot, code))
    }
    fn change_pin(
        &mut self,
        kind: PinKind,
        old: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError> {
        self.count("change_pin", |c| c.change_pin(kind, old, new))
    }
    fn unblock_pin(
        &mut self,
        kind: PinKind,
        puk: &SecretCode,
        new: &SecretCode,
    ) -> Result<(), CardError> {
        self.count("unblock_pin", |c| c.unblock_pin(kind, puk, new))
    }
    fn read_public_key(&mut self, slot: KeySlot) -> Result<Option<PublicKey>, CardError> {
        self.count("read_public_key", |c| c.read_public_key(slot))
    }
    fn generate_key(&mut self, slot: KeySlot) -> Result<PublicKey, CardError> {
        self.count("generate_key", |c| c.generate_key(slot))
    }
    fn unfinished_key(
        &mut self,
        slot: KeySlot,
        labels: &[String],
    ) -> Result<Option<PublicKey>, CardError> {
        self.count("unfinished_key", |c| c.unfinished_key(slot, labels))
    }
    fn sign(
        &mut self,
        slot: KeySlot,
        sha256: &[u8; 32],
        scheme: SignatureScheme,
    ) -> Result<Vec<u8>, CardError> {
        self.count("sign", |c| c.sign(slot, sha256, scheme))
    }
    fn write_certificate(
        &mut self,
        slot: KeySlot,
        label: &str,
        cert_der: &[u8],
    ) -> Result<(), CardError> {
        self.count("write_certificate", |c| {
            c.write_certificate(slot, label, cert_der)
        })
    }
    fn delete_pair(&mut self, slot: KeySlot) -> Result<(), CardError> {
        self.count("delete_pair", |c| c.delete_pair(slot))
    }
    fn delete_pairs(&mut self, slots: &[KeySlot]) -> Result<(), CardError> {
        self.count("delete_pairs", |c| c.delete_pairs(slots))
    }
    fn end_session(&mut self) -> Result<(), CardError> {
        self.count("end_session", |c| c.end_session())
    }
    fn stats(&self) -> TransferStats {
        self.card.as_ref().map(|c| c.stats()).unwrap_or_default()
    }
    fn reset_stats(&mut self) {
        if let Some(card) = self.card.as_mut() {
            card.reset_stats();
        }
    }
}
