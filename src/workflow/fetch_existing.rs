//! "Hämta befintliga certifikat": put certificates the CA already issued to the holder back on a
//! card, e.g. after a card was reset or onto a reserve card.
//!
//! A certificate is only useful on a card that holds its private key, and keys never leave a
//! card, so each certificate goes to the slot whose key matches it, or is reported as not fitting.

use crate::ca::check::{Expected, check_issued};
use crate::ca::{IdentityKind, Profile};
use crate::card::{CardError, KeySlot, SecretCode, SharedCard};
use crate::pki::CertInfo;
use crate::workflow::error::WorkflowError;
use crate::workflow::fit::Fit;
use crate::workflow::steps::{Login, Timing, log_in};

/// One certificate the CA has for the holder, and whether it can go onto this card.
#[derive(Debug, Clone)]
pub struct Existing {
    pub profile: Profile,
    pub info: CertInfo,
    pub fit: Fit,
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
) -> Result<Vec<Existing>, WorkflowError> {
    let mut timing = Timing::default();
    let overview = crate::card::lock(shared).overview()?;
    let Login {
        client,
        me,
        hsa_id: card_hsa_id,
        ..
    } = log_in(
        shared,
        &overview,
        request.ca_url,
        request.ca_root_pem,
        request.pin1,
        &mut timing,
    )?;
    // Certificates are checked against whom the card's login certificate names.
    if card_hsa_id != me.hsa_id {
        return Err(WorkflowError::CaTookAnother {
            card: card_hsa_id,
            ca: me.hsa_id,
        });
    }
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
    let roots = client.roots();
    let mut issuers: Vec<(Profile, Vec<Vec<u8>>)> = Vec::new();
    let mut out = Vec::new();
    for cert in issued {
        let Ok(info) = CertInfo::from_der(&cert.der) else {
            continue;
        };
        let key = keys
            .iter()
            .find(|(_, k)| info.matches_rsa_key(&k.modulus, &k.exponent));
        let fit = if overview.certificates.iter().any(|c| c.der == info.der) {
            Fit::AlreadyOnCard
        } else if !info.is_valid_at(now) {
            Fit::Expired
        } else {
            match key {
                None => Fit::KeyNotOnCard,
                // Its key must be in one of the profile's slots, and that slot must not hold
                // another certificate (the legacy pair's, in slot 1 or 5).
                Some((slot, _))
                    if !cert.profile.slots().contains(slot)
                        || overview.certificates.iter().any(|c| c.slot == Some(*slot)) =>
                {
                    Fit::WrongSlot(*slot)
                }
                Some((slot, key)) => {
                    let cas = match issuers.iter().find(|(p, _)| *p == cert.profile) {
                        Some((_, cas)) => cas.clone(),
                        None => {
                            let cas = client.cacerts(cert.profile)?;
                            issuers.push((cert.profile, cas.clone()));
                            cas
                        }
                    };
                    let identity = match cert.profile.identity() {
                        IdentityKind::HsaId => me.hsa_id.clone(),
                        IdentityKind::Personnummer => me.personnummer.clone(),
                    };
                    let expected = Expected {
                        identity,
                        purpose: cert.profile.purpose(),
                        modulus: key.modulus.clone(),
                        exponent: key.exponent.clone(),
                        trust_level: cert.profile.trust_level(),
                        profile: cert.profile,
                    };
                    match check_issued(&info.der, &cas, roots.der(), &expected, now) {
                        Ok(_) => Fit::Writable(*slot),
                        Err(e) => Fit::FailsChecks(e),
                    }
                }
            }
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
pub fn write(shared: &SharedCard, existing: &Existing) -> Result<(), WorkflowError> {
    let Fit::Writable(slot) = existing.fit else {
        return Err(WorkflowError::NotWritable(existing.fit.clone()));
    };
    let label = existing.profile.card_label();
    crate::card::lock(shared)
        .write_certificate(slot, label, &existing.info.der)
        .map_err(|e: CardError| e.into())
}
