//! The tokens a module shows, grouped into cards (a token, or the two tokens of a
//! one-token-per-PIN card), each told SITHS or not without writing anything.

use cryptoki::object::ObjectClass;
use cryptoki::slot::Slot;

use crate::card::{CardChoice, CardError, MiddlewareError, PinKind};
use crate::pki::{CertInfo, Purpose};

use super::error::card_error;
use super::module::Module;
use super::objects;

/// Label suffixes of the one-token-per-PIN model, as OpenSC and Net iD name SITHS tokens.
pub(super) const AUTH_SUFFIX: &str = "(Legitimering)";
pub(super) const SIGN_SUFFIX: &str = "(Underskrift)";
/// The signature PIN's token as OpenSC 0.24 and later show an IDPrime card: "<label> (Digital
/// Signature PIN)" beside "<label>" [public: OpenSC pkcs15-idprime.c `sig_pin_label`], cut to
/// PKCS#11's 32 characters.
pub(super) const IDPRIME_SIGN_SUFFIX: &str = "(Digital Signature PIN)";

#[derive(Clone)]
pub(super) struct Found {
    pub(super) slot: Slot,
    pub(super) label: String,
    pub(super) reader: String,
    pub(super) serial: String,
    pub(super) manufacturer: String,
}

/// One card as a PKCS#11 module shows it: a token, or the two tokens of a one-token-per-PIN card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCard {
    /// How the holder sees and names it.
    pub card: CardChoice,
    pub(super) tokens: Vec<usize>,
    pub(super) labels: Vec<String>,
}

impl TokenCard {
    pub(super) fn is_named(&self, wanted: &str) -> bool {
        self.card.serial == wanted
            || self.card.reader.contains(wanted)
            || self.labels.iter().any(|l| l.contains(wanted))
    }
}

/// Every initialised token of the module (an uninitialised one, SoftHSM2's free slot or a blank
/// card, is no card).
pub(super) fn tokens_of(module: &Module) -> Result<Vec<Found>, CardError> {
    let failed = |e| card_error(e, "list the cards", PinKind::Pin1);
    let mut found = Vec::new();
    for slot in module.context.get_slots_with_token().map_err(failed)? {
        let info = module.context.get_token_info(slot).map_err(failed)?;
        if !info.token_initialized() {
            continue;
        }
        let reader = module
            .context
            .get_slot_info(slot)
            .map(|s| s.slot_description().trim().to_string())
            .unwrap_or_default();
        found.push(Found {
            slot,
            label: info.label().trim().to_string(),
            reader,
            serial: info.serial_number().trim().to_string(),
            manufacturer: info.manufacturer_id().trim().to_string(),
        });
    }
    if found.is_empty() {
        return Err(MiddlewareError::NoToken(module.path.display().to_string()).into());
    }
    Ok(found)
}

/// The tokens grouped into cards (the pairs of a token per PIN first), each told SITHS or not
/// from a read-only look at its public certificates.
pub(super) fn group(module: &Module, found: &[Found]) -> Vec<TokenCard> {
    let mut left: Vec<usize> = (0..found.len()).collect();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    loop {
        let rest: Vec<Found> = left.iter().map(|&i| found[i].clone()).collect();
        let Some((a, s)) = pair(&rest) else { break };
        let (a, s) = (left[a], left[s]);
        groups.push(vec![a, s]);
        left.retain(|&i| i != a && i != s);
    }
    groups.extend(left.into_iter().map(|i| vec![i]));
    groups.sort();
    groups
        .into_iter()
        .map(|tokens| {
            let first = &found[tokens[0]];
            let label = first
                .label
                .strip_suffix(AUTH_SUFFIX)
                .map_or(first.label.clone(), |b| b.trim_end().to_string());
            let certificates: Vec<CertInfo> = tokens
                .iter()
                .flat_map(|&t| public_certificates(module, found[t].slot))
                .collect();
            let siths = if certificates.is_empty() {
                label.to_ascii_uppercase().contains("SITHS")
            } else {
                certificates.iter().any(siths_shaped)
            };
            TokenCard {
                labels: tokens.iter().map(|&t| found[t].label.clone()).collect(),
                card: CardChoice {
                    label,
                    serial: first.serial.clone(),
                    reader: first.reader.clone(),
                    siths,
                },
                tokens,
            }
        })
        .collect()
}

/// The certificates anyone may read on a token, through a read-only session (nothing is
/// written to a token before it is known to be a SITHS card).
pub(super) fn public_certificates(module: &Module, slot: Slot) -> Vec<CertInfo> {
    let Ok(session) = module.context.open_ro_session(slot) else {
        return Vec::new();
    };
    objects::find(&session, ObjectClass::CERTIFICATE, None)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| CertInfo::from_der(&c.value).ok())
        .collect()
}

/// A certificate a SITHS card carries: a person's (HSA-id, personnummer or samordningsnummer)
/// for authentication or signature.
pub(super) fn siths_shaped(info: &CertInfo) -> bool {
    use crate::pki::Identity;
    matches!(
        info.identity,
        Identity::HsaId(_) | Identity::Personnummer(_) | Identity::Samordningsnummer(_)
    ) && matches!(info.purpose, Purpose::Authentication | Purpose::Signature)
}

/// Indexes of the "(Legitimering)" and "(Underskrift)" tokens of one card, if the middleware
/// shows one token per PIN: the pair with one serial, else the one pair with one card label
/// (middleware truncates long labels to PKCS#11's 32 characters, so labels alone may differ).
pub(super) fn pair(found: &[Found]) -> Option<(usize, usize)> {
    let base = |f: &Found, suffix: &str| {
        f.label
            .strip_suffix(suffix)
            .map(|b| b.trim_end().to_string())
    };
    let with = |suffix: &str| -> Vec<usize> {
        (0..found.len())
            .filter(|&i| base(&found[i], suffix).is_some())
            .collect()
    };
    let (auths, signs) = (with(AUTH_SUFFIX), with(SIGN_SUFFIX));
    for &a in &auths {
        let serial = &found[a].serial;
        if let Some(&s) = signs
            .iter()
            .find(|&&s| !serial.is_empty() && &found[s].serial == serial)
        {
            return Some((a, s));
        }
        let name = base(&found[a], AUTH_SUFFIX);
        let named: Vec<usize> = signs
            .iter()
            .copied()
            .filter(|&s| base(&found[s], SIGN_SUFFIX) == name)
            .collect();
        if let [only] = named.as_slice() {
            return Some((a, *only));
        }
    }
    idprime_pair(found)
}

/// The two tokens OpenSC 0.24+ shows for an IDPrime card: one serial, the signature PIN's label
/// the other's followed by (as much of) " (Digital Signature PIN)" (as the 32 characters hold).
fn idprime_pair(found: &[Found]) -> Option<(usize, usize)> {
    for (a, auth) in found.iter().enumerate() {
        for (s, sign) in found.iter().enumerate() {
            if a == s || auth.serial.is_empty() || auth.serial != sign.serial {
                continue;
            }
            let Some(rest) = sign
                .label
                .strip_prefix(auth.label.as_str())
                .and_then(|r| r.strip_prefix(' '))
            else {
                continue;
            };
            if rest.len() >= 2 && IDPRIME_SIGN_SUFFIX.starts_with(rest) {
                return Some((a, s));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(label: &str, serial: &str) -> Found {
        Found {
            slot: Slot::try_from(0u64).unwrap(),
            label: label.into(),
            reader: "Virtual PCD 00 00".into(),
            serial: serial.into(),
            manufacturer: "Gemalto".into(),
        }
    }

    #[test]
    fn a_card_is_paired_as_opensc_and_net_id_name_its_pin_tokens() {
        let per_pin = [
            token("SITHS e-id kort (Underskrift)", "1"),
            token("SITHS e-id kort (Legitimering)", "1"),
        ];
        assert_eq!(pair(&per_pin), Some((1, 0)));
        // OpenSC 0.24+ on an IDPrime card, the second label cut to 32 characters.
        let idprime = [
            token("SITHS e-id kort", "0000000000000000"),
            token("SITHS e-id kort (Digital Signatu", "0000000000000000"),
        ];
        assert_eq!(pair(&idprime), Some((0, 1)));
        // Another card's signature PIN token, or a label that only starts alike, is no pair.
        let other_card = [
            token("SITHS e-id kort", "1"),
            token("SITHS e-id kort (Digital Signature PIN)", "2"),
        ];
        assert_eq!(pair(&other_card), None);
        let alike = [
            token("SITHS e-id kort", "1"),
            token("SITHS e-id kort (Reserv)", "1"),
        ];
        assert_eq!(pair(&alike), None);
        // OpenSC 0.23 shows one token: nothing to pair.
        assert_eq!(pair(&[token("SITHS e-id kort", "1")]), None);
    }
}
