//! "Hämta befintliga certifikat": put certificates the CA already issued to the holder back on a
//! card, e.g. after a card was reset or onto a reserve card.
//!
//! A certificate is only useful on a card that holds its private key, and keys never leave a
//! card, so each certificate goes to the slot whose key matches it, or is reported as not fitting.

use crate::ca::Profile;
use crate::card::{CardError, KeySlot, SecretCode, SharedCard};
use crate::pki::CertInfo;
use crate::workflow::upgrade::{Timing, UpgradeError, log_in};

/// One certificate the CA has for the holder, and whether it can go onto this card.
#[derive(Debug, Clone)]
pub struct Existing {
    pub profile: Profile,
    pub info: CertInfo,
    pub fit: Fit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// The card holds the matching key in this slot; the certificate can be written there.
    Writable(KeySlot),
    /// The card already lists this certificate.
    AlreadyOnCard,
    /// No key on this card matches: it was made on another card.
    KeyNotOnCard,
    /// The certificate is no longer valid.
    Expired,
}

impl Fit {
    /// Plain words for why a certificate can or cannot go onto this card.
    pub fn explain(&self) -> String {
        match self {
            Fit::Writable(slot) => format!("can be written to this card ({slot})"),
            Fit::AlreadyOnCard => "already on this card".into(),
            Fit::KeyNotOnCard => {
                "cannot go onto this card: its private key is on another card, and keys never leave a card"
                    .into()
            }
            Fit::Expired => "has expired; it is of no use on a card".into(),
        }
    }
}

pub struct FetchRequest<'a> {
    pub ca_url: &'a str,
    pub ca_root_pem: &'a [u8],
    pub pin1: &'a SecretCode,
}

/// List what the CA holds for the card's holder and where each certificate would go.
pub fn list(
    shared: &SharedCard,
    request: &FetchRequest<'_>,
) -> Result<Vec<Existing>, UpgradeError> {
    let mut timing = Timing::default();
    let overview = crate::card::lock(shared).overview()?;
    let (client, _me) = log_in(
        shared,
        &overview,
        request.ca_url,
        request.ca_root_pem,
        request.pin1,
        &mut timing,
    )?;
    let issued = client.certificates()?;
    let mut keys = Vec::new();
    {
        let mut card = crate::card::lock(shared);
        for slot in KeySlot::ALL {
            if let Some(k) = card.read_public_key(slot)? {
                keys.push((slot, k));
            }
        }
    }
    let now = crate::pki::date::now_unix();
    let mut out = Vec::new();
    for cert in issued {
        let Ok(info) = CertInfo::from_der(&cert.der) else {
            continue;
        };
        let fit = if overview.certificates.iter().any(|c| c.der == info.der) {
            Fit::AlreadyOnCard
        } else if !info.is_valid_at(now) {
            Fit::Expired
        } else {
            keys.iter()
                .find(|(_, k)| info.matches_rsa_key(&k.modulus, &k.exponent))
                .map_or(Fit::KeyNotOnCard, |(slot, _)| Fit::Writable(*slot))
        };
        out.push(Existing {
            profile: cert.profile,
            info,
            fit,
        });
    }
    Ok(out)
}

/// Write one listed certificate to its slot. PIN1 is verified by [`list`] in the same session.
pub fn write(shared: &SharedCard, existing: &Existing) -> Result<(), UpgradeError> {
    let Fit::Writable(slot) = existing.fit else {
        return Err(UpgradeError::NotWritable(existing.fit.explain()));
    };
    let label = existing.profile.card_label();
    crate::card::lock(shared)
        .write_certificate(slot, label, &existing.info.der)
        .map_err(|e: CardError| e.into())
}
